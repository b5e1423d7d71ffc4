//! The Shopping Feed HTTP client: one HTTP exchange per call, every status
//! checked, errors classified. Retry policy (429 waits, backoff, splitting a
//! rejected request) belongs to the engine, which knows the rows.
//!
//! The token is only ever put in the `Authorization` header: it is never part
//! of a URL, an error message or a log line.

mod client;
pub mod multipart;
pub mod pace;

pub use client::{current_deadline, with_deadline, Client};
pub use pace::{Admission, Pace};

use serde_json::Value;

/// How to reach the API. `base_url` is `https://...`, or `http://` for a
/// loopback host only (tests, the local sandbox).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiConfig {
    pub base_url: String,
    /// One HTTP request's time limit (connect + send + read), in ms.
    pub timeout_ms: u64,
}

/// What `POST /v1/store/{id}/order/{operation}` answered with a 202.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Accepted {
    pub batch_id: String,
    /// Elements of `report` with `state == "ignored"`, as sent back
    /// (`id` and/or `reference`, `channelName`, `message`).
    pub ignored: Vec<Value>,
}

/// One ticket of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: String,
    pub batch_id: String,
    /// scheduled | running | succeed | failed | canceled (anything else is
    /// treated as not final).
    pub state: String,
    /// The element sent, as the API echoes it (names the order by `id`
    /// and/or `reference`).
    pub payload: Value,
    /// `result.message` when the API gave one.
    pub message: Option<String>,
    /// `scheduledAt` in Unix seconds, when given as RFC 3339: of two
    /// tickets naming one order in one batch, the newest is the one that
    /// counts.
    pub scheduled_at: Option<i64>,
}

/// One page of `GET /v1/store/{id}/ticket?batchId=...`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    pub page: u32,
    pub pages: u32,
    /// `meta.processing`: some ticket of the batch is not final yet.
    pub processing: bool,
}

/// A failed exchange, classified for the engine's policy.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401/403: the token is refused. Stops the run. `status` 0: the token
    /// was not sent (empty, or bytes an HTTP header cannot carry).
    Unauthorized { status: u16 },
    /// 429, with `X-RateLimit-Wait` in seconds (1.0 when absent or unreadable).
    RateLimited { wait_secs: f64 },
    /// 400, 404, 409, 422 (and other 4xx): the request was refused; `detail`
    /// is the problem's detail (or title, or a bounded excerpt of the body).
    Rejected { status: u16, detail: String },
    /// A 404 whose detail names the store the request was for ("Store 999
    /// not found"): the account has no such store, a configuration error
    /// that stops the run (no order is to blame).
    UnknownStore { store_id: i64, detail: String },
    /// 5xx (and a 3xx: redirects are never followed): an outage.
    Server { status: u16, detail: String },
    /// Timeout, refused or dropped connection, TLS failure: an outage.
    Transport(String),
    /// A 2xx whose body is not what the API sends (malformed, truncated,
    /// larger than the limit): treated as an outage.
    Malformed(String),
}

impl ApiError {
    /// A message for `last_error` and exceptions (never holds the token).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthorized { status: 0 } => {
                "the Shopping Feed API token is empty or holds characters not allowed in an HTTP header".to_string()
            }
            ApiError::Unauthorized { status } => {
                format!("Shopping Feed refused the API token (HTTP {status})")
            }
            ApiError::RateLimited { wait_secs } => {
                format!("Shopping Feed rate limit (HTTP 429, wait {wait_secs}s)")
            }
            ApiError::Rejected { status, detail } => format!("HTTP {status}: {detail}"),
            ApiError::UnknownStore { store_id, detail } => format!(
                "Shopping Feed knows no store {store_id} for this token (HTTP 404: {detail}): \
                 check shoppingfeed_store_id (SHOPPINGFEED_STORE_ID)"
            ),
            ApiError::Server { status, detail } => format!("HTTP {status}: {detail}"),
            ApiError::Transport(m) => format!("network: {m}"),
            ApiError::Malformed(m) => format!("malformed response: {m}"),
        }
    }

    /// An outage: the rows wait and retry, never failing for it.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            ApiError::Server { .. } | ApiError::Transport(_) | ApiError::Malformed(_)
        )
    }
}

/// Largest response body read, in bytes; a larger one is `Malformed` (memory
/// stays bounded whatever the server sends).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The API's bulk size: orders per operation request.
pub const MAX_ORDERS_PER_REQUEST: usize = 100;
/// Requests in flight at once in a batch send.
pub const MAX_IN_FLIGHT: usize = 10;
/// Ticket page size.
pub const TICKET_PAGE_LIMIT: u32 = 200;
