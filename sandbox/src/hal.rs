//! HAL resources as the official SDK walks them: the session (`/v1/me`),
//! stores with their `self`/`order`/`ticket` links, the store's orders,
//! and the JSON of one ticket (with its `self` link).
//!
//! The SDK builds no URL itself: it follows `_links` from `/v1/me`, so a
//! store without links stops it before its first order call.

use serde_json::{json, Value};

use crate::api::{check_store, json_resp, problem, Resp, Shared, MAX_LIMIT};
use crate::orders::SeenOrder;
use crate::state::{Op, OrderKey, State, TState};
use crate::util::{push_json_str, rfc3339};

/// What `/v1/me` shows as `token` unless `echo_token` is on: the real API
/// returns the session's token there, the sandbox keeps it out of answers
/// (and so out of any log or test output that prints them).
pub const TOKEN_STAND_IN: &str = "redacted-by-sandbox";

fn store_json(id: i64) -> Value {
    json!({
        "id": id,
        "name": format!("Sandbox store {id}"),
        "status": "active",
        "_links": {
            "self": {"href": format!("/v1/store/{id}")},
            "order": {"href": format!("/v1/store/{id}/order/{{operation}}"), "templated": true},
            "ticket": {"href": format!("/v1/store/{id}/ticket")},
        }
    })
}

/// `GET /v1/me`: the session. `token` is the caller's bearer token only
/// with `echo_token` (see [`TOKEN_STAND_IN`]).
pub fn me(shared: &Shared, caller_token: &str) -> Resp {
    let st = shared.lock();
    let stores: Vec<Value> = st
        .cfg
        .store_ids
        .iter()
        .filter(|&&id| st.token_has_store(caller_token, id))
        .map(|&id| store_json(id))
        .collect();
    let token = if st.cfg.quirks.echo_token {
        caller_token
    } else {
        TOKEN_STAND_IN
    };
    let v = json!({
        "token": token,
        "login": "sandbox",
        "email": "sandbox@sandbox.invalid",
        "roles": ["user"],
        "language": "en_US",
        "_embedded": {
            "account": {"id": 1, "login": "sandbox"},
            "store": stores,
        },
        "_links": {"self": {"href": "/v1/me"}}
    });
    drop(st);
    json_resp(200, v.to_string())
}

/// `GET /v1/store/{id}`: the store, as listed in `/v1/me`.
pub fn store(shared: &Shared, store: Option<i64>) -> Resp {
    match check_store(&shared.lock(), store) {
        Ok(s) => json_resp(200, store_json(s).to_string()),
        Err(r) => *r,
    }
}

/// `page` and `limit` of a collection read (limit at most [`MAX_LIMIT`],
/// default [`MAX_LIMIT`]); the error is the 400's detail.
pub fn page_params(q: &[(String, String)]) -> Result<(u64, u64), &'static str> {
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let page = match get("page").map(str::parse::<u64>) {
        None => 1,
        Some(Ok(p)) => p.max(1),
        Some(Err(_)) => return Err("page must be a positive integer"),
    };
    let limit = match get("limit").map(str::parse::<u64>) {
        None => MAX_LIMIT,
        Some(Ok(l)) => l.clamp(1, MAX_LIMIT),
        Some(Err(_)) => return Err("limit must be a positive integer"),
    };
    Ok((page, limit))
}

/// `GET /v1/store/{id}/order`: a HAL page of the orders the sandbox saw
/// through operations (see `orders.rs`).
pub fn order_list(shared: &Shared, store: Option<i64>, query: Option<&str>) -> Resp {
    let (page, limit) = match page_params(&crate::util::parse_query(query)) {
        Ok(p) => p,
        Err(e) => return problem(400, e),
    };
    let st = shared.lock();
    let store = match check_store(&st, store) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let all: Vec<&SeenOrder> = st.orders.of_store(store).collect();
    let total = all.len() as u64;
    let pages = total.div_ceil(limit).max(1);
    let from = ((page - 1).saturating_mul(limit)).min(total) as usize;
    let to = (from as u64 + limit).min(total) as usize;
    let items: Vec<Value> = all[from..to].iter().map(|o| order_json(&st, o)).collect();
    drop(st);
    let href = |p: u64| format!("/v1/store/{store}/order?page={p}&limit={limit}");
    let mut links = json!({"self": {"href": href(page)}});
    if page < pages {
        links["next"] = json!({"href": href(page + 1)});
    }
    let v = json!({
        "_embedded": {"order": items},
        "total": total,
        "count": to - from,
        "page": page,
        "pages": pages,
        "limit": limit,
        "_links": links,
    });
    json_resp(200, v.to_string())
}

/// `GET /v1/store/{id}/order/{orderId}`: one seen order, by internal id.
pub fn order_one(shared: &Shared, store: Option<i64>, id: &str) -> Resp {
    let st = shared.lock();
    let store = match check_store(&st, store) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match id.parse().ok().and_then(|id| st.orders.by_id(store, id)) {
        Some(o) => json_resp(200, order_json(&st, o).to_string()),
        None => problem(404, &format!("Order {id} not found")),
    }
}

/// An order as far as its tickets tell: the ids it was named by, the
/// status its newest succeeded operation implies (null while none
/// succeeded), the `storeReference` of a succeeded acknowledge; a declared
/// order (catalog.rs) also shows its `items` and its declared names.
fn order_json(st: &State, o: &SeenOrder) -> Value {
    let declared = st.catalog.get(o.store, &o.key);
    let now = std::time::Instant::now();
    let (mut id, mut reference, mut channel) = (None, None, None);
    match &o.key {
        OrderKey::Id(i) => id = Some(*i),
        OrderKey::Ref(r, c) => {
            reference = Some(r.to_string());
            channel = Some(c.to_string());
        }
    }
    let (mut status, mut store_ref) = (None, None);
    for &t in &o.tickets {
        let t = st.ticket(t);
        let p: Value = serde_json::from_str(&t.payload).unwrap_or(Value::Null);
        let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        reference = reference.or_else(|| s("reference"));
        channel = channel.or_else(|| s("channelName"));
        if t.state_at(now) != TState::Succeed {
            continue;
        }
        let partial = |k: &str| {
            p.get(k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        status = match t.op {
            Op::Accept => Some("waiting_shipment"),
            Op::Refuse => Some("refused"),
            Op::Ship if partial("items") => Some("partially_shipped"),
            Op::Ship | Op::Deliver => Some("shipped"),
            Op::Cancel => Some("cancelled"),
            // a declared order knows whether anything is left to refund
            Op::Refund => match (declared, p.get("refund")) {
                (Some(d), _) if !d.fully_refunded() => Some("partially_refunded"),
                (Some(_), _) => Some("refunded"),
                (None, Some(r)) if partial_refund(r) => Some("partially_refunded"),
                (None, _) => Some("refunded"),
            },
            Op::Acknowledge | Op::Unacknowledge | Op::UploadDocuments => status,
        };
        match t.op {
            Op::Acknowledge => store_ref = s("storeReference").or(store_ref),
            Op::Unacknowledge => store_ref = None,
            _ => {}
        }
    }
    if let Some(d) = declared {
        id = id.or(d.id);
        reference = reference.or_else(|| d.reference.clone());
        channel = channel.or_else(|| d.channel.clone());
    }
    let mut v = json!({
        "id": id,
        "reference": reference,
        "storeReference": store_ref,
        "status": status,
        "_embedded": {"channel": {"name": channel}},
        "_links": {},
    });
    if let Some(d) = declared {
        let items: Vec<Value> = d
            .items
            .iter()
            .map(|i| json!({"reference": i.reference, "quantity": i.quantity}))
            .collect();
        v["items"] = Value::Array(items);
    }
    if let Some(i) = id {
        v["_links"]["self"] = json!({"href": format!("/v1/store/{}/order/{i}", o.store)});
    }
    v
}

fn partial_refund(r: &Value) -> bool {
    r.get("products")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// Everything one ticket's JSON shows.
pub struct TicketView<'a> {
    pub store: i64,
    pub id: &'a str,
    pub batch_id: &'a str,
    pub ticket_type: &'a str,
    pub state: &'a str,
    pub payload: &'a str,
    pub message: Option<&'a str>,
    pub scheduled_ms: u64,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
}

impl TicketView<'_> {
    /// Writes the ticket (built by hand: a page holds up to 200 of them and
    /// the payload must stay byte for byte what the client sent).
    pub fn write(&self, out: &mut String) {
        let date = |out: &mut String, ms: Option<u64>| match ms {
            Some(ms) => {
                out.push('"');
                out.push_str(&rfc3339(ms));
                out.push('"');
            }
            None => out.push_str("null"),
        };
        out.push_str("{\"id\":");
        push_json_str(out, self.id);
        out.push_str(",\"batchId\":");
        push_json_str(out, self.batch_id);
        out.push_str(",\"type\":\"");
        out.push_str(self.ticket_type);
        out.push_str("\",\"state\":");
        push_json_str(out, self.state);
        out.push_str(",\"payload\":");
        out.push_str(self.payload);
        out.push_str(",\"result\":");
        match self.message {
            Some(m) => {
                out.push_str("{\"message\":");
                push_json_str(out, m);
                out.push('}');
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"scheduledAt\":");
        date(out, Some(self.scheduled_ms));
        out.push_str(",\"startedAt\":");
        date(out, self.started_ms);
        out.push_str(",\"finishedAt\":");
        date(out, self.finished_ms);
        out.push_str(",\"_links\":{\"self\":{\"href\":\"/v1/store/");
        out.push_str(&self.store.to_string());
        out.push_str("/ticket/");
        out.push_str(self.id);
        out.push_str("\"}}}");
    }
}
