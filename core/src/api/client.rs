//! The reqwest-based implementation of the client.
//!
//! One call is one HTTP exchange: the status is always checked, the body is
//! read chunk by chunk under [`MAX_BODY_BYTES`], and every failure becomes an
//! [`ApiError`] whose text never holds the token (it only travels in the
//! `Authorization` header, marked sensitive, and every message is passed
//! through [`redact`] anyway).

use super::pace::{Pace, Paces};
use super::{Accepted, ApiConfig, ApiError, Ticket, TicketPage, MAX_BODY_BYTES, TICKET_PAGE_LIMIT};
use crate::error::{redact, Error, Result};
use crate::model::Operation;
use crate::text::{excerpt, shorten};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!(
    "shoppingfeed_sync/",
    env!("CARGO_PKG_VERSION"),
    " (PrestaShop order sync)"
);

/// Idle pooled connections per host.
const POOL_MAX_IDLE_PER_HOST: usize = 16;
/// An idle pooled connection older than this is not reused: servers and load
/// balancers close idle keep-alive connections after a minute or so, and a
/// connection closed while nobody drove the runtime would fail its next use.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest part of an error response read (for its problem `detail`); the
/// rest is not needed and not read.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Longest `detail` kept from an error response, in bytes.
const MAX_DETAIL_BYTES: usize = 300;
/// Cached clients kept before the cache is cleared (threads that ended leave
/// their entry behind; this keeps the map bounded).
const MAX_SHARED_CLIENTS: usize = 64;

/// A client for one base URL and timeout; cheap to clone, reused across
/// calls of one process (the connection pool stays warm).
///
/// Pooled connections belong to the tokio runtime that opened them: use one
/// client from one runtime (see [`Client::shared`], which keeps one client per
/// process, thread and config, matching [`crate::runtime`]).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    cfg: ApiConfig,
    /// The validated base URL, without a trailing slash.
    base: Arc<str>,
    /// The rate limit of each token, as the answers told it.
    paces: Arc<Paces>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base)
            .field("timeout_ms", &self.cfg.timeout_ms)
            .finish()
    }
}

type SharedKey = (ApiConfig, u32, ThreadId);

fn shared_clients() -> &'static Mutex<HashMap<SharedKey, Client>> {
    static SHARED: OnceLock<Mutex<HashMap<SharedKey, Client>>> = OnceLock::new();
    SHARED.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Client {
    /// Validates the URL (`https://`, or `http://` for a loopback host) and
    /// builds the client. A bad URL is `Error::Input` naming
    /// `shoppingfeed_sync.api_url`; a zero timeout one naming
    /// `shoppingfeed_sync.timeout_ms`.
    pub fn new(cfg: ApiConfig) -> Result<Client> {
        let (base, loopback) = validate_base_url(&cfg.base_url)?;
        if cfg.timeout_ms == 0 {
            return Err(Error::input(
                "shoppingfeed_sync.timeout_ms must be a positive number of milliseconds, got 0",
            ));
        }
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .tcp_keepalive(Duration::from_secs(30))
            // The API never redirects; following one could replay a POST
            // elsewhere. A 3xx is reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .https_only(!loopback);
        if loopback {
            // The local sandbox: never through an HTTP(S)_PROXY of the environment.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| {
            Error::Api(format!(
                "shoppingfeed_sync: cannot build the HTTP client: {}",
                chain_text(&e)
            ))
        })?;
        Ok(Client {
            http,
            cfg,
            base: base.into(),
            paces: Arc::default(),
        })
    }

    /// The process-wide client for this config (built once per process and
    /// config, rebuilt after a fork).
    ///
    /// The cache is keyed by config, pid and thread: a client built before a
    /// fork is never used in the child, and each thread (which has its own
    /// runtime, see [`crate::runtime`]) keeps connections opened by its own
    /// runtime.
    pub fn shared(cfg: &ApiConfig) -> Result<Client> {
        let pid = std::process::id();
        let key = (cfg.clone(), pid, std::thread::current().id());
        let mut map = shared_clients()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = map.get(&key) {
            return Ok(client.clone());
        }
        if map.keys().any(|(_, owner, _)| *owner != pid) {
            // Inherited from the parent across a fork: their connections
            // belong to a runtime that does not exist here; leave them alone.
            for (k, stale) in std::mem::take(&mut *map) {
                if k.1 == pid {
                    map.insert(k, stale);
                } else {
                    std::mem::forget(stale);
                }
            }
        }
        if map.len() >= MAX_SHARED_CLIENTS {
            map.clear();
        }
        let client = Client::new(cfg.clone())?;
        map.insert(key, client.clone());
        Ok(client)
    }

    /// The rate limit of a token, shared by every request of this client
    /// (see [`super::pace`]): the engine asks it before each request.
    pub fn pace(&self, token: &str) -> Arc<Pace> {
        self.paces.of(token)
    }

    /// The config this client was built from.
    pub fn config(&self) -> &ApiConfig {
        &self.cfg
    }

    /// The validated base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// True when both are clones of one client (one connection pool).
    pub fn shares_pool_with(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.base, &other.base)
    }

    /// `POST /v1/store/{store_id}/order/{op}` with `{"order": elements}`
    /// (elements are `Value`s, or references to them: serialized as they
    /// are, never copied).
    pub async fn post_operation<E: serde::Serialize + Sync>(
        &self,
        token: &str,
        store_id: i64,
        op: Operation,
        elements: &[E],
    ) -> Result<Accepted, ApiError> {
        #[derive(serde::Serialize)]
        struct Body<'a, E> {
            order: &'a [E],
        }
        let url = self.url(&format!("/v1/store/{store_id}/order/{}", op.as_str()))?;
        let req = self.http.post(url).json(&Body { order: elements });
        let bytes = self
            .exchange(token, req)
            .await
            .map_err(|e| unknown_store(e, store_id))?;
        parse_accepted(&bytes).map_err(|e| self.scrub(e, token))
    }

    /// `POST /v1/store/{store_id}/order/upload-documents`, multipart (see
    /// [`super::multipart`]): `elements` name each order and its documents,
    /// `files` are the PDFs in the same order. The request may take longer
    /// than `timeout_ms` by one second per megabyte sent (an upload of
    /// 20 MB at 1 MB/s), never past a real-time deadline.
    pub async fn post_documents(
        &self,
        token: &str,
        store_id: i64,
        elements: &[&Value],
        files: &[&crate::invoice::Document],
    ) -> Result<Accepted, ApiError> {
        let body = serde_json::to_vec(&serde_json::json!({ "order": elements }))
            .map_err(|e| ApiError::Transport(format!("cannot encode the request: {e}")))?;
        let form = super::multipart::build(&body, files);
        let url = self.url(&format!(
            "/v1/store/{store_id}/order/{}",
            Operation::UploadDocuments.as_str()
        ))?;
        let extra = Duration::from_secs((form.bytes.len() / 1_000_000) as u64);
        let req = self
            .http
            .post(url)
            .header(CONTENT_TYPE, form.content_type)
            .timeout(Duration::from_millis(self.cfg.timeout_ms) + extra)
            .body(form.bytes);
        let bytes = self
            .exchange(token, req)
            .await
            .map_err(|e| unknown_store(e, store_id))?;
        parse_accepted(&bytes).map_err(|e| self.scrub(e, token))
    }

    /// `GET /v1/store/{store_id}/ticket?batchId=..&page=..&limit=200`.
    /// A 404 is `ApiError::Rejected { status: 404, .. }`.
    pub async fn ticket_page(
        &self,
        token: &str,
        store_id: i64,
        batch_id: &str,
        page: u32,
    ) -> Result<TicketPage, ApiError> {
        let mut url = self.url(&format!("/v1/store/{store_id}/ticket"))?;
        url.query_pairs_mut()
            .append_pair("batchId", batch_id)
            .append_pair("page", &page.to_string())
            .append_pair("limit", &TICKET_PAGE_LIMIT.to_string());
        let bytes = self
            .exchange(token, self.http.get(url))
            .await
            .map_err(|e| unknown_store(e, store_id))?;
        parse_ticket_page(&bytes, batch_id, page).map_err(|e| self.scrub(e, token))
    }

    /// `GET /v1/ping` with the token: a connectivity (and token) check.
    pub async fn ping(&self, token: &str) -> Result<(), ApiError> {
        let url = self.url("/v1/ping")?;
        self.exchange(token, self.http.get(url)).await.map(|_| ())
    }

    fn url(&self, path: &str) -> Result<Url, ApiError> {
        Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| ApiError::Transport(format!("cannot build the request URL: {e}")))
    }

    /// Sends one request and returns the body of a 2xx; any other outcome is
    /// classified.
    async fn exchange(
        &self,
        token: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, ApiError> {
        let auth = match HeaderValue::from_str(&format!("Bearer {token}")) {
            Ok(mut v) if !token.trim().is_empty() => {
                v.set_sensitive(true);
                v
            }
            // Empty, or holds bytes a header cannot carry (a newline...):
            // no server could accept it.
            _ => return Err(ApiError::Unauthorized { status: 0 }),
        };
        let req = match deadline_left() {
            Some(left) => req.timeout(left.min(Duration::from_millis(self.cfg.timeout_ms))),
            None => req,
        };
        let pace = self.pace(token);
        let result = async {
            let sent = req.header(AUTHORIZATION, auth).send().await;
            let mut resp = match sent {
                Ok(resp) => resp,
                Err(e) => {
                    pace.observe(None, None, None, std::time::Instant::now());
                    return Err(self.transport(&e, false));
                }
            };
            let status = resp.status();
            let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
            let wait = header("x-ratelimit-wait").map(parse_wait);
            pace.observe(
                header("x-ratelimit-limit"),
                header("x-ratelimit-remaining"),
                (status.as_u16() == 429).then(|| wait.unwrap_or(1.0)),
                std::time::Instant::now(),
            );
            if status.is_success() {
                return self.read_body(&mut resp).await;
            }
            let location = resp
                .headers()
                .get(LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let code = status.as_u16();
            // Read (a bounded part of) every error body: the detail needs it,
            // and a fully read response gives its connection back to the pool.
            let body = read_error_body(&mut resp).await;
            match code {
                401 | 403 => Err(ApiError::Unauthorized { status: code }),
                429 => Err(ApiError::RateLimited {
                    wait_secs: wait.unwrap_or(1.0),
                }),
                400..=499 => Err(ApiError::Rejected {
                    status: code,
                    detail: error_detail(status, &body),
                }),
                // Never followed (that could replay a POST elsewhere): a
                // configuration problem, kept as an outage so no row fails.
                300..=399 => Err(ApiError::Server {
                    status: code,
                    detail: format!(
                        "unexpected redirect to {} (check shoppingfeed_sync.api_url)",
                        excerpt(location.as_deref().unwrap_or("?"))
                    ),
                }),
                _ => Err(ApiError::Server {
                    status: code,
                    detail: error_detail(status, &body),
                }),
            }
        }
        .await;
        result.map_err(|e| self.scrub(e, token))
    }

    /// Reads a success body, chunk by chunk, refusing more than
    /// [`MAX_BODY_BYTES`].
    async fn read_body(&self, resp: &mut reqwest::Response) -> Result<Vec<u8>, ApiError> {
        let too_large = || ApiError::Malformed("response larger than 8 MiB".into());
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(
            resp.content_length()
                .map_or(8 * 1024, |n| n as usize)
                .min(MAX_BODY_BYTES),
        );
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(&e, true))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// A reqwest failure, as a short human message.
    fn transport(&self, err: &reqwest::Error, reading_body: bool) -> ApiError {
        if err.is_timeout() {
            return ApiError::Transport(format!("timed out after {} ms", self.cfg.timeout_ms));
        }
        let mut kind = None;
        let mut texts: Vec<String> = Vec::new();
        let mut source: Option<&(dyn StdError + 'static)> = err.source();
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<io::Error>() {
                kind.get_or_insert(io.kind());
            }
            texts.push(e.to_string());
            source = e.source();
        }
        let all = texts.join(": ").to_ascii_lowercase();
        let closed = if reading_body {
            "connection closed while reading the response"
        } else {
            "connection closed before a response"
        };
        let msg = match kind {
            Some(io::ErrorKind::ConnectionRefused) => "connection refused".to_string(),
            Some(io::ErrorKind::ConnectionReset) => "connection reset by the server".to_string(),
            Some(io::ErrorKind::ConnectionAborted)
            | Some(io::ErrorKind::UnexpectedEof)
            | Some(io::ErrorKind::BrokenPipe) => closed.to_string(),
            Some(io::ErrorKind::TimedOut) => {
                format!("timed out after {} ms", self.cfg.timeout_ms)
            }
            Some(io::ErrorKind::InvalidData) if reading_body => {
                return ApiError::Malformed("the compressed body could not be decoded".into());
            }
            _ if err.is_dns() => {
                let host = err
                    .url()
                    .and_then(|u| u.host_str())
                    .unwrap_or("the API host");
                format!("cannot resolve {host}")
            }
            _ if all.contains("certificate")
                || all.contains("tls")
                || all.contains("handshake") =>
            {
                format!("TLS failure: {}", texts.last().map_or("", String::as_str))
            }
            _ if all.contains("connection closed")
                || all.contains("incomplete message")
                || all.contains("end of file") =>
            {
                closed.to_string()
            }
            _ if all.contains("parsed") || all.contains("message head") => {
                format!("not an HTTP response ({})", last_or(&texts, err))
            }
            _ if err.is_connect() => format!("cannot connect: {}", last_or(&texts, err)),
            _ => last_or(&texts, err),
        };
        ApiError::Transport(shorten(&msg, MAX_DETAIL_BYTES))
    }

    /// The last guard: the token never leaves in a message.
    fn scrub(&self, err: ApiError, token: &str) -> ApiError {
        match err {
            ApiError::Rejected { status, detail } => ApiError::Rejected {
                status,
                detail: redact(&detail, token),
            },
            ApiError::Server { status, detail } => ApiError::Server {
                status,
                detail: redact(&detail, token),
            },
            ApiError::Transport(m) => ApiError::Transport(redact(&m, token)),
            ApiError::Malformed(m) => ApiError::Malformed(redact(&m, token)),
            other => other,
        }
    }
}

/// A 404 naming the store of the request is [`ApiError::UnknownStore`].
///
/// What is detected: the problem's detail holds the word `store` and the
/// store id as a whole number (the API's "Store 999 not found"). A 404
/// about an order ("Order 999 not found") or a batch does not say `store`,
/// and a detail naming another number is not about this store: both stay
/// `Rejected`, handled per order.
fn unknown_store(err: ApiError, store_id: i64) -> ApiError {
    match err {
        ApiError::Rejected {
            status: 404,
            detail,
        } if names_store(&detail, store_id) => ApiError::UnknownStore { store_id, detail },
        other => other,
    }
}

fn names_store(detail: &str, store_id: i64) -> bool {
    let lower = detail.to_ascii_lowercase();
    crate::model::contains_bounded(&lower, "store", char::is_alphanumeric)
        && crate::model::contains_bounded(detail, &store_id.to_string(), |c| c.is_ascii_digit())
}

thread_local! {
    static DEADLINE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with a deadline for every request this thread starts in it: a
/// request's time limit becomes the smaller of the client's timeout and the
/// time left (zero once the deadline has passed). Real-time mode bounds the
/// whole `saveOrder` this way, not only its HTTP attempt; a run's time
/// budget bounds `checkTickets` ([`crate::engine::check`] reads it). Nested
/// calls keep the earlier deadline: an inner step never outlives its run.
pub fn with_deadline<R>(deadline: std::time::Instant, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<std::time::Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEADLINE.with(|d| d.set(self.0));
        }
    }
    let outer = current_deadline();
    let earliest = outer.map_or(deadline, |o| o.min(deadline));
    let _restore = Restore(DEADLINE.with(|d| d.replace(Some(earliest))));
    f()
}

/// The deadline set by [`with_deadline`] on this thread, if any.
pub fn current_deadline() -> Option<std::time::Instant> {
    DEADLINE.with(|d| d.get())
}

/// The time left before the current deadline, if one is set.
fn deadline_left() -> Option<Duration> {
    current_deadline().map(|d| d.saturating_duration_since(std::time::Instant::now()))
}

/// Validates `shoppingfeed_sync.api_url`; returns the base without a
/// trailing slash and whether its host is loopback.
fn validate_base_url(raw: &str) -> Result<(String, bool)> {
    let bad = |why: &str| {
        Error::input(format!(
            "shoppingfeed_sync.api_url must be https:// (http:// only for a loopback host), got {}{why}",
            excerpt(raw)
        ))
    };
    let url = Url::parse(raw.trim()).map_err(|e| bad(&format!(" ({e})")))?;
    if url.host().is_none() {
        return Err(bad(" (no host)"));
    }
    let loopback = is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(" (credentials are not allowed in the URL)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(" (no query string or fragment allowed)"));
    }
    Ok((url.as_str().trim_end_matches('/').to_string(), loopback))
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// `X-RateLimit-Wait`: seconds, maybe fractional; 1.0 when unreadable,
/// negative or not finite.
fn parse_wait(raw: &str) -> f64 {
    match raw.trim().parse::<f64>() {
        Ok(w) if w.is_finite() && w >= 0.0 => w,
        _ => 1.0,
    }
}

/// Reads at most [`MAX_ERROR_BODY_BYTES`] of an error response; a read
/// failure only shortens it (the status already tells what happened).
async fn read_error_body(resp: &mut reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_ERROR_BODY_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BODY_BYTES {
            break;
        }
    }
    body
}

/// The problem's `detail`, else its `title`, else the start of the body,
/// else the status's reason phrase.
fn error_detail(status: StatusCode, body: &[u8]) -> String {
    if let Ok(Value::Object(problem)) = serde_json::from_slice::<Value>(body) {
        for key in ["detail", "title"] {
            if let Some(Value::String(s)) = problem.get(key) {
                let s = clean(s);
                if !s.is_empty() {
                    return shorten(&s, MAX_DETAIL_BYTES);
                }
            }
        }
    }
    let head = clean(&String::from_utf8_lossy(
        &body[..body.len().min(MAX_DETAIL_BYTES)],
    ));
    if !head.is_empty() {
        return head;
    }
    status
        .canonical_reason()
        .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_string)
}

/// Whitespace and control characters collapsed to single spaces.
fn clean(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An error and its sources, without the URL.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    parts.join(": ")
}

fn last_or(texts: &[String], err: &reqwest::Error) -> String {
    match texts.last() {
        Some(t) => t.clone(),
        None if err.is_builder() => "the request could not be built".to_string(),
        None if err.is_body() || err.is_decode() => {
            "the response body could not be read".to_string()
        }
        None => "the request failed".to_string(),
    }
}

/// The body of a 2xx to an operation: `{"id": "<batchId>", "report": [...]}`.
fn parse_accepted(body: &[u8]) -> Result<Accepted, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::Malformed(format!("the operation's answer is not JSON ({e})")))?;
    let batch_id = match value.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => {
            return Err(ApiError::Malformed(
                "the operation's answer has no batch id".into(),
            ))
        }
    };
    let ignored = match value.get("report") {
        Some(Value::Array(items)) => items
            .iter()
            .filter(|item| item.get("state").and_then(Value::as_str) == Some("ignored"))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    Ok(Accepted { batch_id, ignored })
}

/// A ticket page as the API sends it: only the fields read are decoded (a
/// page holds up to 200 tickets with links and dates nobody needs).
#[derive(serde::Deserialize)]
struct RawPage {
    #[serde(rename = "_embedded", default)]
    embedded: Option<RawEmbedded>,
    #[serde(default)]
    page: Option<Value>,
    #[serde(default)]
    pages: Option<Value>,
    #[serde(default)]
    meta: Option<RawMeta>,
}

#[derive(serde::Deserialize)]
struct RawEmbedded {
    #[serde(default)]
    ticket: Option<Vec<RawTicket>>,
}

#[derive(serde::Deserialize)]
struct RawMeta {
    #[serde(default)]
    processing: Option<Value>,
}

#[derive(serde::Deserialize)]
struct RawTicket {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    state: Option<Value>,
    #[serde(rename = "batchId", default)]
    batch_id: Option<Value>,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(rename = "scheduledAt", default)]
    scheduled_at: Option<Value>,
}

/// The body of a ticket page (a HAL collection).
fn parse_ticket_page(body: &[u8], batch_id: &str, page: u32) -> Result<TicketPage, ApiError> {
    // The usual shape, decoded straight into what is read; anything else
    // (and every error message) goes through the generic reading below.
    if let Ok(raw) = serde_json::from_slice::<RawPage>(body) {
        return typed_ticket_page(raw, batch_id, page);
    }
    generic_ticket_page(body, batch_id, page)
}

fn typed_ticket_page(raw: RawPage, batch_id: &str, page: u32) -> Result<TicketPage, ApiError> {
    let malformed = |what: &str| ApiError::Malformed(format!("ticket page: {what}"));
    let items = raw.embedded.and_then(|e| e.ticket).unwrap_or_default();
    let mut tickets = Vec::with_capacity(items.len());
    for item in items {
        let id = match item.id {
            Some(Value::String(s)) if !s.is_empty() => s,
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(malformed("a ticket has no id")),
        };
        let state = match item.state {
            Some(Value::String(s)) => s,
            _ => return Err(malformed("a ticket has no state")),
        };
        let message = match item.result.as_ref().and_then(|r| r.get("message")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        tickets.push(Ticket {
            id,
            batch_id: match item.batch_id {
                Some(Value::String(s)) => s,
                _ => batch_id.to_string(),
            },
            state,
            payload: item.payload.unwrap_or(Value::Null),
            message,
            scheduled_at: item.scheduled_at.as_ref().and_then(unix_seconds),
        });
    }
    let number = |v: Option<Value>, default: u32| {
        v.as_ref()
            .and_then(Value::as_u64)
            .map_or(default, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    Ok(TicketPage {
        tickets,
        page: number(raw.page, page),
        pages: number(raw.pages, 1),
        processing: raw
            .meta
            .and_then(|m| m.processing)
            .and_then(|p| p.as_bool())
            .unwrap_or(false),
    })
}

fn generic_ticket_page(body: &[u8], batch_id: &str, page: u32) -> Result<TicketPage, ApiError> {
    let malformed = |what: &str| ApiError::Malformed(format!("ticket page: {what}"));
    let value: Value =
        serde_json::from_slice(body).map_err(|e| malformed(&format!("not JSON ({e})")))?;
    if !value.is_object() {
        return Err(malformed("not a JSON object"));
    }
    let items = match value.get("_embedded").and_then(|e| e.get("ticket")) {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(malformed("_embedded.ticket is not a list")),
    };
    let mut tickets = Vec::with_capacity(items.len());
    for item in items {
        let id = match item.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(malformed("a ticket has no id")),
        };
        let state = match item.get("state") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(malformed("a ticket has no state")),
        };
        let message = match item.get("result").and_then(|r| r.get("message")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        tickets.push(Ticket {
            id,
            batch_id: item
                .get("batchId")
                .and_then(Value::as_str)
                .unwrap_or(batch_id)
                .to_string(),
            state,
            payload: item.get("payload").cloned().unwrap_or(Value::Null),
            message,
            scheduled_at: item.get("scheduledAt").and_then(unix_seconds),
        });
    }
    let number = |key: &str, default: u32| {
        value
            .get(key)
            .and_then(Value::as_u64)
            .map_or(default, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    Ok(TicketPage {
        tickets,
        page: number("page", page),
        pages: number("pages", 1),
        processing: value
            .get("meta")
            .and_then(|m| m.get("processing"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A ticket date (`"2023-11-14T22:13:20+00:00"`, `Z`, fractional seconds
/// allowed) in Unix seconds; None for anything else (the date only orders
/// duplicates, so an unreadable one is simply not used).
fn unix_seconds(v: &Value) -> Option<i64> {
    let s = v.as_str()?.trim();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let fixed = s.as_bytes();
    if fixed.get(4) != Some(&b'-') || fixed.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(fixed.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let (h, m) = rest[1..].split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days from 1970-01-01 to a proleptic Gregorian date: whole 400-year eras
/// of 146,097 days, the year counted from March so that the leap day ends it.
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ticket_dates() {
        // (text, Unix seconds)
        let cases = [
            ("1970-01-01T00:00:00+00:00", Some(0)),
            ("2000-02-29T00:00:00+00:00", Some(951_782_400)),
            ("2023-11-14T22:13:20+00:00", Some(1_700_000_000)),
            ("2023-11-14T22:13:20Z", Some(1_700_000_000)),
            ("2023-11-14T22:13:20.123Z", Some(1_700_000_000)),
            ("2023-11-14T23:13:20+01:00", Some(1_700_000_000)),
            ("2023-11-14T21:13:20-01:00", Some(1_700_000_000)),
            ("2023-11-14", None),
            ("2023-13-14T22:13:20Z", None),
            ("2023-11-14T22:13:20", None),
            ("yesterday", None),
            ("2023-11-14T22:13:20+0100", None),
            ("é023-11-14T22:13:20Z", None),
        ];
        for (text, expected) in cases {
            assert_eq!(unix_seconds(&json!(text)), expected, "{text}");
        }
        assert_eq!(unix_seconds(&json!(12)), None);
    }

    #[test]
    fn a_404_naming_the_store_is_an_unknown_store() {
        let rejected = |detail: &str| ApiError::Rejected {
            status: 404,
            detail: detail.into(),
        };
        // (detail, store id, unknown store)
        let cases = [
            ("Store 999 not found", 999, true),
            ("store 999 does not exist", 999, true),
            ("Store 9990 not found", 999, false),
            ("Order 999 not found", 999, false),
            ("Batch 999 not found", 999, false),
            ("Store not found", 999, false),
            ("Storefront 999 not found", 999, false),
        ];
        for (detail, store_id, expected) in cases {
            let got = unknown_store(rejected(detail), store_id);
            assert_eq!(
                matches!(got, ApiError::UnknownStore { .. }),
                expected,
                "{detail}"
            );
        }
        let other = ApiError::Rejected {
            status: 400,
            detail: "Store 999 not found".into(),
        };
        assert_eq!(unknown_store(other.clone(), 999), other);
    }

    #[test]
    fn nested_deadlines_keep_the_earliest() {
        let now = std::time::Instant::now();
        let soon = now + Duration::from_secs(1);
        let later = now + Duration::from_secs(60);
        assert_eq!(current_deadline(), None);
        with_deadline(soon, || {
            with_deadline(later, || assert_eq!(current_deadline(), Some(soon)));
            assert_eq!(current_deadline(), Some(soon));
        });
        with_deadline(later, || {
            with_deadline(soon, || assert_eq!(current_deadline(), Some(soon)));
            assert_eq!(current_deadline(), Some(later));
        });
        assert_eq!(current_deadline(), None);
    }
}
