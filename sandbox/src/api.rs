//! Request handling: the /v1 API subset and the /_sandbox control API.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::body::SbBody;
use crate::catalog;
use crate::documents::{self, Upload};
use crate::hal;
use crate::rate_limit::{self, Verdict};
use crate::state::{
    FaultKind, Op, OrderKey, ParsedOrder, ReqClass, ReqOutcome, State, TState, TicketQuery,
};
use crate::switches;
use crate::util::{
    parse_query, percent_decode, push_json_str, query_encode, race, unix_ms, Either,
};
use crate::Config;

/// Most orders accepted in one order POST.
pub const MAX_ORDERS: usize = 100;
/// Largest request body read (upload-documents has its own, larger one).
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Longest a request waits while `hang` is on before answering 503.
const HANG_MAX: Duration = Duration::from_secs(600);
/// Largest page of a ticket collection.
pub(crate) const MAX_LIMIT: u64 = 200;

pub(crate) type Resp = Response<SbBody>;

pub(crate) struct Shared {
    state: Mutex<State>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    pub shutdown: watch::Sender<bool>,
    /// Mirror of the `hang` switch, so hanging requests wake when it clears.
    hang: watch::Sender<bool>,
}

impl Shared {
    pub fn new(cfg: Config) -> Self {
        Shared {
            state: Mutex::new(State::new(cfg)),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            shutdown: watch::Sender::new(false),
            hang: watch::Sender::new(false),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Returned by the service to make hyper close the connection without
/// writing any response (the `drop` fault).
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(s: &'a Shared) -> Self {
        let n = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(n, Ordering::SeqCst);
        InFlight(s)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---- responses --------------------------------------------------------------

fn respond(status: u16, ctype: &'static str, body: SbBody) -> Resp {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

pub(crate) fn json_resp(status: u16, body: impl Into<Bytes>) -> Resp {
    respond(status, "application/json", SbBody::full(body))
}

pub(crate) fn problem(status: u16, detail: &str) -> Resp {
    let title = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut b = String::with_capacity(128 + detail.len());
    b.push_str("{\"type\":\"https://httpstatus.es/");
    b.push_str(&status.to_string());
    b.push_str("\",\"title\":");
    push_json_str(&mut b, title);
    b.push_str(",\"detail\":");
    push_json_str(&mut b, detail);
    b.push_str(",\"status\":");
    b.push_str(&status.to_string());
    b.push('}');
    respond(status, "application/problem+json", SbBody::full(b))
}

// ---- entry point -------------------------------------------------------------

pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Resp, DropConnection> {
    let path = req.uri().path();
    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        return Ok(control(&shared, req).await);
    }
    if path.starts_with("/v1/") {
        return v1(&shared, req).await;
    }
    Ok(problem(404, "Not found"))
}

enum Route {
    Ping,
    Auth,
    Me,
    Store { store: Option<i64> },
    Order { store: Option<i64>, op: String },
    OrderList { store: Option<i64> },
    OrderOne { store: Option<i64>, id: String },
    TicketList { store: Option<i64> },
    TicketOne { store: Option<i64>, id: String },
    MethodNotAllowed,
    Unknown,
}

impl Route {
    /// The store the route names, if any.
    fn store(&self) -> Option<i64> {
        match self {
            Route::Store { store }
            | Route::Order { store, .. }
            | Route::OrderList { store }
            | Route::OrderOne { store, .. }
            | Route::TicketList { store }
            | Route::TicketOne { store, .. } => *store,
            _ => None,
        }
    }

    fn of(method: &Method, path: &str) -> Route {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let want = |m: Method, r: Route| {
            if *method == m {
                r
            } else {
                Route::MethodNotAllowed
            }
        };
        match segs.as_slice() {
            ["v1", "ping"] => want(Method::GET, Route::Ping),
            ["v1", "auth"] => want(Method::POST, Route::Auth),
            ["v1", "me"] => want(Method::GET, Route::Me),
            ["v1", "store", s] => want(
                Method::GET,
                Route::Store {
                    store: s.parse().ok(),
                },
            ),
            ["v1", "store", s, "order"] => want(
                Method::GET,
                Route::OrderList {
                    store: s.parse().ok(),
                },
            ),
            // `{operation}` of the store's `order` link expanded to nothing
            // (RFC 6570) leaves a trailing slash: still the collection
            ["v1", "store", s, "order", ""] if *method == Method::GET => Route::OrderList {
                store: s.parse().ok(),
            },
            ["v1", "store", s, "order", id] if *method == Method::GET => Route::OrderOne {
                store: s.parse().ok(),
                id: id.to_string(),
            },
            ["v1", "store", s, "order", op] => want(
                Method::POST,
                Route::Order {
                    store: s.parse().ok(),
                    op: op.to_string(),
                },
            ),
            ["v1", "store", s, "ticket"] => want(
                Method::GET,
                Route::TicketList {
                    store: s.parse().ok(),
                },
            ),
            ["v1", "store", s, "ticket", id] => want(
                Method::GET,
                Route::TicketOne {
                    store: s.parse().ok(),
                    id: id.to_string(),
                },
            ),
            _ => Route::Unknown,
        }
    }

    fn class(&self) -> ReqClass {
        match self {
            Route::Order { .. } => ReqClass::Order,
            Route::TicketList { .. } | Route::TicketOne { .. } => ReqClass::Ticket,
            _ => ReqClass::Other,
        }
    }
}

fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = h.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, tok) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| tok.trim())
}

/// Waits while the `hang` switch is on. False: answer 503 (hang lasted
/// `HANG_MAX`, or the sandbox is shutting down).
async fn wait_while_hanging(shared: &Shared) -> bool {
    if !*shared.hang.borrow() {
        return true;
    }
    let mut hang = shared.hang.subscribe();
    let mut down = shared.shutdown.subscribe();
    let cleared = async {
        let _ = hang.wait_for(|h| !*h).await;
    };
    let stopping = async {
        let _ = down.wait_for(|s| *s).await;
    };
    matches!(
        tokio::time::timeout(HANG_MAX, race(stopping, cleared)).await,
        Ok(Either::Right(()))
    )
}

async fn v1(shared: &Shared, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    let _guard = InFlight::enter(shared);
    let t0 = Instant::now();
    let at_ms = unix_ms();
    let method = req.method().as_str().to_string();
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let route = Route::of(req.method(), req.uri().path());
    let class = route.class();
    let token = bearer(req.headers()).unwrap_or_default().to_string();
    let (auth_ok, latency, rate) = {
        let mut st = shared.lock();
        st.count_request(class);
        let ok = !token.is_empty() && st.is_token(&token);
        // the bucket is asked on arrival; latency and hang delay the answer
        let rate = st
            .cfg
            .rate_limit
            .map(|rl| (rl, st.buckets.take(rl, &token, Instant::now())));
        (ok, st.cfg.latency_ms, rate)
    };
    let with_rate = |mut r: Resp| {
        if let Some((rl, v)) = rate {
            rate_limit::add_headers(&mut r, rl, v);
        }
        r
    };
    let finish = |status: Option<u16>, out: ReqOutcome| {
        shared
            .lock()
            .log_request(&method, &path_q, status, auth_ok, out, at_ms, t0.elapsed());
    };

    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if !wait_while_hanging(shared).await {
        let r = problem(503, "Sandbox is hanging (hang switch on)");
        finish(Some(503), ReqOutcome::default());
        return Ok(with_rate(r));
    }
    if let Some((_, Verdict::Limited { .. })) = rate {
        finish(Some(429), ReqOutcome::default());
        return Ok(with_rate(problem(429, "Too many requests")));
    }

    let mut out = ReqOutcome::default();
    let fault = shared.lock().take_fault(class);
    let mut resp = None;
    if let Some(kind) = fault {
        out.fault = Some(kind.name());
        match kind {
            FaultKind::Slow(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            FaultKind::Drop => {
                finish(None, out);
                return Err(DropConnection);
            }
            FaultKind::Status(s) => resp = Some(problem(s, "Injected fault: server error")),
            FaultKind::RateLimit(wait) => {
                let mut r = problem(429, "Too many requests");
                if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                    r.headers_mut().insert("x-ratelimit-wait", v);
                }
                resp = Some(r);
            }
            FaultKind::Malformed => {
                let status = if class == ReqClass::Order { 202 } else { 200 };
                resp = Some(json_resp(status, Bytes::from_static(b"{\"id\": ")));
            }
            FaultKind::Huge => resp = Some(respond(200, "application/json", SbBody::huge())),
        }
    }
    let resp = match resp {
        Some(r) => r,
        None => dispatch(shared, route, req, auth_ok, &token, &mut out).await,
    };
    finish(Some(resp.status().as_u16()), out);
    Ok(with_rate(resp))
}

async fn dispatch(
    shared: &Shared,
    route: Route,
    req: Request<Incoming>,
    auth_ok: bool,
    token: &str,
    out: &mut ReqOutcome,
) -> Resp {
    match route {
        Route::Ping => json_resp(200, format!("{{\"timestamp\":{}}}", unix_ms() / 1000)),
        Route::Auth => auth(shared, req).await,
        _ if !auth_ok => problem(403, "Service not authorized"),
        // An account sees only its own stores: another account's store is
        // not found for this token (as the API answers).
        _ if route
            .store()
            .is_some_and(|s| !shared.lock().token_has_store(token, s)) =>
        {
            let s = route.store().unwrap_or_default();
            problem(404, &format!("Store {s} not found"))
        }
        Route::Me => hal::me(shared, token),
        Route::Store { store } => hal::store(shared, store),
        Route::OrderList { store } => hal::order_list(shared, store, req.uri().query()),
        Route::OrderOne { store, id } => hal::order_one(shared, store, &id),
        Route::Order { store, op } => order(shared, store, &op, req, out).await,
        Route::TicketList { store } => {
            // `ticket_pages`: every page read is slow (quirks.rs)
            let page_ms = shared.lock().cfg.quirks.ticket_pages.map(|p| p.page_ms);
            if let Some(ms) = page_ms.filter(|&ms| ms > 0) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            ticket_list(shared, store, req.uri().query())
        }
        Route::TicketOne { store, id } => ticket_one(shared, store, &id),
        Route::MethodNotAllowed => problem(405, "Method not allowed"),
        Route::Unknown => problem(404, "Not found"),
    }
}

async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, Resp> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.is::<http_body_util::LengthLimitError>() {
                Err(problem(413, "Request body too large"))
            } else {
                Err(problem(400, "Could not read the request body"))
            }
        }
    }
}

async fn auth(shared: &Shared, req: Request<Incoming>) -> Resp {
    let body = match read_body(req, MAX_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return problem(400, "Malformed JSON body");
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    if s("grant_type") != Some("password") {
        return problem(400, "grant_type must be \"password\"");
    }
    if s("username") != Some("sandbox") || s("password") != Some("sandbox") {
        return problem(401, "Invalid credentials");
    }
    let token = shared
        .lock()
        .cfg
        .tokens
        .first()
        .cloned()
        .unwrap_or_default();
    let mut b = String::from("{\"access_token\":");
    push_json_str(&mut b, &token);
    b.push_str(",\"token_type\":\"Bearer\"}");
    json_resp(200, b)
}

/// The store id when the account has it, else the 404 to answer.
pub(crate) fn check_store(st: &State, store: Option<i64>) -> Result<i64, Box<Resp>> {
    match store {
        Some(s) if st.has_store(s) => Ok(s),
        Some(s) => Err(Box::new(problem(404, &format!("Store {s} not found")))),
        None => Err(Box::new(problem(404, "Store not found"))),
    }
}

// ---- order operations --------------------------------------------------------

async fn order(
    shared: &Shared,
    store: Option<i64>,
    op: &str,
    req: Request<Incoming>,
    out: &mut ReqOutcome,
) -> Resp {
    let store = match check_store(&shared.lock(), store) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(op) = Op::parse(op) else {
        return problem(404, &format!("Unknown order operation: {op}"));
    };
    out.operation = Some(op);
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let limit = if op == Op::UploadDocuments {
        documents::MAX_BODY
    } else {
        MAX_BODY
    };
    let body = match read_body(req, limit).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // upload-documents: the order list is the multipart `body` part; from
    // there on both kinds of request share the code below
    let upload = if op == Op::UploadDocuments {
        let up = match Upload::read(content_type.as_deref(), &body) {
            Ok(u) => u,
            Err(detail) => return problem(400, &detail),
        };
        // the log keeps names, sizes and hashes, never the bytes
        out.body = Some(up.summary().into());
        if let Some(detail) = up.too_large() {
            return problem(413, &detail);
        }
        Some(up)
    } else {
        None
    };
    let text = match &upload {
        Some(up) => match up.body() {
            Ok(t) => t,
            Err(detail) => return problem(400, &detail),
        },
        None => match std::str::from_utf8(&body) {
            Ok(t) => t,
            Err(_) => return problem(400, "Request body is not UTF-8"),
        },
    };
    // The elements are kept as raw JSON so ticket payloads are exactly what
    // the client sent; each one is also parsed for validation.
    let top: std::collections::HashMap<String, &RawValue> = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            return match serde_json::from_str::<Value>(text) {
                Ok(_) => problem(400, "Body must be a JSON object with an \"order\" array"),
                Err(_) => problem(400, &format!("Malformed JSON body: {e}")),
            };
        }
    };
    if upload.is_none() {
        out.body = Some(text.into());
    }
    let list: Vec<&RawValue> = match top.get("order").map(|r| serde_json::from_str(r.get())) {
        Some(Ok(l)) => l,
        _ => return problem(400, "Body must be a JSON object with an \"order\" array"),
    };
    out.orders = Some(list.len() as u32);
    if list.is_empty() {
        return problem(400, "No order given: send 1 to 100 orders");
    }
    if list.len() > MAX_ORDERS {
        return problem(
            400,
            &format!("Too many orders: {}, at most {MAX_ORDERS}", list.len()),
        );
    }
    let mut parsed = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        let el: Value = match serde_json::from_str(raw.get()) {
            Ok(v) => v,
            Err(e) => return problem(400, &format!("Malformed JSON body: {e}")),
        };
        match parse_order(op, i, &el, raw.get()) {
            Ok(p) => parsed.push(p),
            Err(detail) => return problem(400, &detail),
        }
    }
    if let Some(up) = &upload {
        if let Err(detail) = up.assign(&mut parsed) {
            return problem(400, &detail);
        }
    }
    let mut st = shared.lock();
    if let Some((key, status)) = st.rejected(&parsed) {
        st.note_rejected();
        return problem(status, &format!("Order {key}: rejected by the marketplace"));
    }
    let (bidx, report) = st.create_batch(store, op, parsed);
    let bid = st.batch_id(bidx);
    drop(st);
    let mut b = String::with_capacity(160);
    b.push_str("{\"id\":\"");
    b.push_str(&bid);
    b.push_str("\",\"_links\":{\"ticket\":{\"href\":\"/v1/store/");
    b.push_str(&store.to_string());
    b.push_str("/ticket?batchId=");
    b.push_str(&bid);
    b.push_str("\"}}");
    if !report.is_empty() {
        b.push_str(",\"report\":[");
        b.push_str(&report.join(","));
        b.push(']');
    }
    b.push('}');
    out.batch_id = Some(bid.into());
    json_resp(202, b)
}

fn require_str(o: &Map<String, Value>, k: &str, name: &str) -> Result<(), String> {
    match o.get(k) {
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(format!("Order {name}: {k} must be a string")),
        None => Err(format!("Order {name}: missing {k}")),
    }
}

/// Identifies and validates one order element; errors name the order (id
/// or reference), or the element index when it has no identifier.
fn parse_order(op: Op, i: usize, el: &Value, raw: &str) -> Result<ParsedOrder, String> {
    let Some(o) = el.as_object() else {
        return Err(format!("Order element {i}: must be a JSON object"));
    };
    let reference = match o.get("reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.as_str()),
        Some(_) => return Err(format!("Order element {i}: reference must be a string")),
    };
    let (key, display, alt_ref) = match o.get("id") {
        Some(v) if !v.is_null() => {
            let Some(id) = v.as_i64() else {
                return Err(format!("Order element {i}: id must be an integer"));
            };
            (OrderKey::Id(id), id.to_string(), reference.map(Box::from))
        }
        _ => {
            let Some(r) = reference else {
                return Err(format!(
                    "Order element {i}: names no order (needs \"id\", or \"reference\" and \"channelName\")"
                ));
            };
            let c = match o.get("channelName") {
                Some(Value::String(c)) => c,
                Some(_) => return Err(format!("Order {r}: channelName must be a string")),
                None => return Err(format!("Order {r}: missing channelName")),
            };
            (
                OrderKey::Ref(r.into(), c.as_str().into()),
                r.to_string(),
                None,
            )
        }
    };
    let name = display.as_str();
    let mut empty_tracking = false;
    let mut documents = 0;
    match op {
        Op::Ship => {
            for k in ["carrier", "trackingNumber", "trackingLink"] {
                require_str(o, k, name)?;
            }
            empty_tracking = o["trackingNumber"].as_str() == Some("");
            if let Some(items) = o.get("items") {
                let Some(items) = items.as_array() else {
                    return Err(format!("Order {name}: items must be an array"));
                };
                for (j, it) in items.iter().enumerate() {
                    let ok = it.get("id").is_some_and(|v| v.is_i64() || v.is_string())
                        && it.get("quantity").is_some_and(Value::is_i64);
                    if !ok {
                        return Err(format!(
                            "Order {name}: items[{j}] needs an id and an integer quantity"
                        ));
                    }
                }
            }
        }
        Op::Cancel => require_str(o, "reason", name)?,
        Op::Refund => {
            let Some(r) = o.get("refund") else {
                return Err(format!("Order {name}: missing refund"));
            };
            let Some(r) = r.as_object() else {
                return Err(format!("Order {name}: refund must be an object"));
            };
            match r.get("shipping") {
                Some(Value::Bool(_)) => {}
                Some(_) => return Err(format!("Order {name}: refund.shipping must be a boolean")),
                None => return Err(format!("Order {name}: missing refund.shipping")),
            }
            let products = match r.get("products") {
                Some(Value::Array(p)) => p,
                Some(_) => return Err(format!("Order {name}: refund.products must be an array")),
                None => return Err(format!("Order {name}: missing refund.products")),
            };
            for (j, p) in products.iter().enumerate() {
                if !p.get("reference").is_some_and(Value::is_string) {
                    return Err(format!(
                        "Order {name}: refund.products[{j}].reference must be a string"
                    ));
                }
                if !p.get("quantity").is_some_and(Value::is_i64) {
                    return Err(format!(
                        "Order {name}: refund.products[{j}].quantity must be an integer"
                    ));
                }
            }
        }
        Op::Acknowledge => {
            if let Some(s) = o.get("status") {
                if !matches!(s.as_str(), Some("success" | "error")) {
                    return Err(format!(
                        "Order {name}: status must be \"success\" or \"error\""
                    ));
                }
            }
        }
        Op::UploadDocuments => documents = documents::count_documents(o, name)?,
        Op::Accept | Op::Refuse | Op::Unacknowledge | Op::Deliver => {}
    }
    let mut report_keys = String::from("{");
    for k in ["id", "reference", "channelName"] {
        if let Some(v) = o.get(k) {
            if report_keys.len() > 1 {
                report_keys.push(',');
            }
            push_json_str(&mut report_keys, k);
            report_keys.push(':');
            report_keys.push_str(&v.to_string());
        }
    }
    Ok(ParsedOrder {
        key,
        display: display.into(),
        alt_ref,
        payload: raw.into(),
        report_keys,
        empty_tracking,
        channel: o.get("channelName").and_then(Value::as_str).map(Box::from),
        documents,
        failure: None,
    })
}

// ---- tickets -------------------------------------------------------------------

fn ticket_list(shared: &Shared, store: Option<i64>, query: Option<&str>) -> Resp {
    let q = parse_query(query);
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let (page, limit) = match hal::page_params(&q) {
        Ok(p) => p,
        Err(e) => return problem(400, e),
    };
    let mut states = Vec::new();
    if let Some(s) = get("state").filter(|s| !s.is_empty()) {
        for part in s.split(',') {
            match TState::parse(part.trim()) {
                Some(t) => states.push(t),
                None => return problem(400, &format!("Unknown ticket state: {part}")),
            }
        }
    }
    let ttype = get("type").filter(|s| !s.is_empty());
    let batch_id = get("batchId").filter(|s| !s.is_empty());

    let st = shared.lock();
    let store = match check_store(&st, store) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let batch = match batch_id {
        Some(b) => match st.find_batch(store, b) {
            Some(i) => Some(i),
            None => return problem(404, &format!("Batch {b} not found")),
        },
        None => None,
    };
    let now = Instant::now();
    let all = st.ticket_range(store, batch);
    let mut processing = false;
    let mut selected = Vec::new();
    for idx in all {
        let t = st.ticket(idx);
        let s = t.state_at(now);
        processing |= !s.is_final();
        if (states.is_empty() || states.contains(&s))
            && ttype.is_none_or(|ty| ty == t.op.ticket_type())
        {
            selected.push(idx);
        }
    }
    // quirks.rs may add made-up tickets around the real ones, and announce
    // more pages than there are
    let selected = st.shown_tickets(&selected, batch.is_some());
    let total = selected.len() as u64;
    let announced = st.cfg.quirks.ticket_pages.map_or(1, |p| p.pages);
    let pages = total.div_ceil(limit).max(announced);
    let from = ((page - 1).saturating_mul(limit)).min(total) as usize;
    let to = (from as u64 + limit).min(total) as usize;
    let items = &selected[from..to];

    let mut base = format!("/v1/store/{store}/ticket?");
    let mut params = Vec::new();
    if let Some(b) = batch_id {
        params.push(format!("batchId={}", query_encode(b)));
    }
    if let Some(s) = get("state").filter(|s| !s.is_empty()) {
        params.push(format!("state={}", query_encode(s)));
    }
    if let Some(t) = ttype {
        params.push(format!("type={}", query_encode(t)));
    }
    for p in &params {
        base.push_str(p);
        base.push('&');
    }
    let mut b = String::with_capacity(256 + items.len() * 400);
    b.push_str("{\"_embedded\":{\"ticket\":[");
    for (n, &item) in items.iter().enumerate() {
        if n > 0 {
            b.push(',');
        }
        st.write_shown(&mut b, item, now);
    }
    drop(st);
    b.push_str(&format!(
        "]}},\"total\":{total},\"count\":{},\"page\":{page},\"pages\":{pages},\"limit\":{limit},\"_links\":{{\"self\":{{\"href\":",
        items.len()
    ));
    push_json_str(&mut b, &format!("{base}page={page}&limit={limit}"));
    b.push('}');
    if page < pages {
        b.push_str(",\"next\":{\"href\":");
        push_json_str(&mut b, &format!("{base}page={}&limit={limit}", page + 1));
        b.push('}');
    }
    b.push_str(&format!("}},\"meta\":{{\"processing\":{processing}}}}}"));
    json_resp(200, b)
}

fn ticket_one(shared: &Shared, store: Option<i64>, id: &str) -> Resp {
    let st = shared.lock();
    let store = match check_store(&st, store) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match st.find_ticket(store, id) {
        TicketQuery::Found(idx) => {
            let mut b = String::with_capacity(512);
            st.write_ticket(&mut b, idx, Instant::now());
            drop(st);
            json_resp(200, b)
        }
        TicketQuery::NotFound => problem(404, &format!("Ticket {id} not found")),
    }
}

// ---- control API -----------------------------------------------------------------

async fn control(shared: &Shared, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let sub = path.trim_start_matches("/_sandbox").trim_start_matches('/');
    match (&method, sub) {
        (&Method::GET, "config") => json_resp(200, switches::config_json(&shared.lock().cfg)),
        (&Method::POST, "config") => {
            let v = match read_json(req).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            let mut st = shared.lock();
            match switches::merge_config(&st.cfg, &v) {
                Ok(c) => {
                    if c.rate_limit != st.cfg.rate_limit {
                        // a new limit starts every token with a full bucket
                        st.buckets.clear();
                    }
                    st.cfg = c;
                    shared.hang.send_replace(st.cfg.hang);
                    json_resp(200, switches::config_json(&st.cfg))
                }
                Err(e) => problem(400, &e),
            }
        }
        (&Method::GET, "faults") => json_resp(200, shared.lock().faults_json()),
        (&Method::POST, "faults") => {
            let v = match read_json(req).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            match switches::parse_faults(&v) {
                Ok(fs) => {
                    let mut st = shared.lock();
                    st.faults.extend(fs);
                    json_resp(200, st.faults_json())
                }
                Err(e) => problem(400, &e),
            }
        }
        (&Method::DELETE, "faults") => {
            let mut st = shared.lock();
            st.faults.clear();
            json_resp(200, st.faults_json())
        }
        (&Method::GET, "log") => {
            let q = parse_query(query.as_deref());
            let num = |k: &str| {
                q.iter()
                    .find(|(a, _)| a == k)
                    .and_then(|(_, v)| v.parse::<u64>().ok())
            };
            let since = num("since").unwrap_or(0);
            let limit = num("limit").map_or(usize::MAX, |l| l as usize);
            let b = shared.lock().log_json(since, limit);
            json_resp(200, b)
        }
        (&Method::DELETE, "log") => {
            shared.lock().clear_log();
            json_resp(200, "{\"requests\":[]}")
        }
        (&Method::GET, "stats") => {
            let q = parse_query(query.as_deref());
            let with_ticketed = !q
                .iter()
                .any(|(k, v)| k == "ticketed" && matches!(v.as_str(), "0" | "false"));
            let in_flight = shared.in_flight.load(Ordering::SeqCst);
            let max = shared.max_in_flight.load(Ordering::SeqCst);
            let b = shared.lock().stats_json(max, in_flight, with_ticketed);
            json_resp(200, b)
        }
        (&Method::POST, "reset") => {
            shared.lock().reset();
            shared.hang.send_replace(false);
            shared
                .max_in_flight
                .store(shared.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
            json_resp(200, "{\"reset\":true}")
        }
        (&Method::POST, "shutdown") => {
            shared.shutdown.send_replace(true);
            json_resp(200, "{\"shutdown\":true}")
        }
        (&Method::POST, "orders") => {
            let v = match read_json(req).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            match catalog::declare_all(&mut shared.lock(), &v) {
                Ok(b) => json_resp(200, b),
                Err(e) => problem(400, &e),
            }
        }
        (&Method::GET, "orders") => {
            let st = shared.lock();
            let all: Vec<Value> = st.catalog.all().map(catalog::Declared::json).collect();
            json_resp(200, serde_json::json!({ "orders": all }).to_string())
        }
        (&Method::GET, s) if s.starts_with("orders/") => {
            let key = percent_decode(&s["orders/".len()..], false);
            json_resp(200, shared.lock().order_history(&key))
        }
        (_, "config" | "faults" | "log" | "stats" | "reset" | "shutdown" | "orders") => {
            problem(405, "Method not allowed")
        }
        _ => problem(404, "Unknown sandbox control endpoint"),
    }
}

async fn read_json(req: Request<Incoming>) -> Result<Value, Resp> {
    let body = read_body(req, MAX_BODY).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(&body).map_err(|e| problem(400, &format!("Malformed JSON body: {e}")))
}
