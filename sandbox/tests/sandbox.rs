//! Real HTTP against the sandbox (helpers in `common/`).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sfsandbox::{Config, Sandbox, HUGE_BODY_BYTES};

mod common;
use common::*;

// ---- auth, ping, me -------------------------------------------------------------

#[test]
fn auth_is_required_except_ping_and_auth() {
    let fx = Fx::default();
    for (path, token) in [("/v1/me", None), ("/v1/me", Some("wrong"))] {
        let r = raw_request(fx.addr, "GET", path, token, None).unwrap();
        assert_problem(&r, 403);
        assert_eq!(
            r.json(),
            json!({"type":"https://httpstatus.es/403","title":"Forbidden","detail":"Service not authorized","status":403})
        );
    }
    let r = raw_request(fx.addr, "POST", "/v1/store/42/order/ship", None, Some("{}")).unwrap();
    assert_problem(&r, 403);
    let r = raw_request(fx.addr, "GET", "/v1/store/42/ticket?batchId=x", None, None).unwrap();
    assert_problem(&r, 403);

    let r = raw_request(fx.addr, "GET", "/v1/ping", None, None).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.json()["timestamp"].as_u64().unwrap() > 1_600_000_000);

    let good =
        json!({"grant_type":"password","username":"sandbox","password":"sandbox"}).to_string();
    let r = raw_request(fx.addr, "POST", "/v1/auth", None, Some(&good)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"access_token": TOKEN, "token_type": "Bearer"})
    );
    let bad = json!({"grant_type":"password","username":"sandbox","password":"nope"}).to_string();
    assert_problem(
        &raw_request(fx.addr, "POST", "/v1/auth", None, Some(&bad)).unwrap(),
        401,
    );

    // the session carries a `token` (the real API's shape) but never the
    // caller's one unless `echo_token` is on (see hal_walk.rs)
    let me = fx.get("/v1/me").json();
    assert_eq!(me["token"], "redacted-by-sandbox");
    assert!(!me.to_string().contains(TOKEN));
    assert_eq!(
        me["_embedded"]["store"],
        json!([{"id": 42, "name": "Sandbox store 42", "status": "active", "_links": {
            "self": {"href": "/v1/store/42"},
            "order": {"href": "/v1/store/42/order/{operation}", "templated": true},
            "ticket": {"href": "/v1/store/42/ticket"}
        }}])
    );
}

// ---- operations -----------------------------------------------------------------

#[test]
fn main_operations_are_ticketed() {
    let fx = Fx::default();
    let cases = [
        ("ship", ship(1), "order.notify.shipment"),
        (
            "cancel",
            json!({"id": 2, "reason": "out of stock"}),
            "order.notify.cancellation",
        ),
        (
            "refund",
            json!({"id": 3, "refund": {"shipping": true, "products": [{"reference": "SKU1", "quantity": 1}]}}),
            "order.notify.refund",
        ),
        ("deliver", json!({"id": 4}), "order.notify.delivery"),
        ("accept", json!({"id": 5}), "order.notify.accept"),
        (
            "acknowledge",
            json!({"id": 6, "status": "success", "storeReference": "PS-6", "acknowledgedAt": "2024-01-01T00:00:00+00:00", "message": ""}),
            "order.notify.acknowledge",
        ),
    ];
    let mut batch_ids = Vec::new();
    for (op, el, ty) in cases {
        let b = fx.op(op, json!([el.clone()]));
        let id = b["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            b["_links"]["ticket"]["href"],
            format!("/v1/store/42/ticket?batchId={id}")
        );
        assert!(b.get("report").is_none());
        let list = fx.tickets(&b);
        assert_eq!(list["total"], 1);
        assert_eq!(list["meta"]["processing"], false);
        let t = &list["_embedded"]["ticket"][0];
        assert_eq!(t["type"], ty);
        assert_eq!(t["state"], "succeed");
        assert_eq!(t["batchId"], id.as_str());
        assert_eq!(t["payload"], el);
        assert_eq!(t["result"], Value::Null);
        for k in ["scheduledAt", "startedAt", "finishedAt"] {
            let s = t[k].as_str().unwrap();
            assert_eq!(s.len(), 25, "{s}");
            assert!(s.ends_with("+00:00") && s.as_bytes()[10] == b'T');
        }
        // the single-ticket endpoint answers the same ticket
        let one = fx.get(&format!(
            "/v1/store/42/ticket/{}",
            t["id"].as_str().unwrap()
        ));
        assert_eq!(one.status, 200);
        assert_eq!(&one.json(), t);
        batch_ids.push(id);
    }
    batch_ids.sort();
    batch_ids.dedup();
    assert_eq!(batch_ids.len(), 6);

    // the payload is the element byte for byte (key order, spacing)
    let raw = r#"{"order": [ {"trackingNumber": "T 1", "id": 77,  "carrier": "UPS", "trackingLink": ""} ]}"#;
    let b = fx.post_raw("/v1/store/42/order/ship", raw).json();
    let text = fx
        .get(&format!(
            "/v1/store/42/ticket?batchId={}",
            b["id"].as_str().unwrap()
        ))
        .body;
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(r#""payload":{"trackingNumber": "T 1", "id": 77,  "carrier": "UPS", "trackingLink": ""}"#),
        "{text}"
    );

    // an order named by reference + channel
    let b = fx.op(
        "ship",
        json!([{"reference": "ABC-12", "channelName": "amazon", "carrier": "", "trackingNumber": "X", "trackingLink": ""}]),
    );
    assert_eq!(fx.states(&b), ["succeed"]);
    let hist = fx.get_ctl("/_sandbox/orders/ABC-12");
    assert_eq!(hist[0]["operation"], "ship");
    assert_eq!(hist[0]["state"], "succeed");
    assert_eq!(fx.get_ctl("/_sandbox/orders/2")[0]["operation"], "cancel");
    assert_eq!(fx.get_ctl("/_sandbox/orders/999"), json!([]));
}

#[test]
fn validation_errors_name_the_order() {
    let fx = Fx::default();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "ship",
            json!([ship(1), {"id": 1234, "carrier": "c", "trackingLink": ""}]),
            "Order 1234: missing trackingNumber",
        ),
        (
            "ship",
            json!([{"reference": "ABC-12", "channelName": "cdiscount", "trackingNumber": "1", "trackingLink": ""}]),
            "Order ABC-12: missing carrier",
        ),
        (
            "ship",
            json!([{"id": 7, "carrier": 5, "trackingNumber": "1", "trackingLink": ""}]),
            "Order 7: carrier must be a string",
        ),
        ("cancel", json!([{"id": 55}]), "Order 55: missing reason"),
        ("refund", json!([{"id": 8}]), "Order 8: missing refund"),
        (
            "refund",
            json!([{"id": 8, "refund": {"products": []}}]),
            "Order 8: missing refund.shipping",
        ),
        (
            "refund",
            json!([{"id": 8, "refund": {"shipping": false}}]),
            "Order 8: missing refund.products",
        ),
        (
            "refund",
            json!([{"id": 8, "refund": {"shipping": false, "products": [{"reference": "A", "quantity": "2"}]}}]),
            "Order 8: refund.products[0].quantity must be an integer",
        ),
        (
            "deliver",
            json!([{"id": 1}, {"foo": 1}]),
            "Order element 1: names no order",
        ),
        (
            "deliver",
            json!([{"reference": "R-77"}]),
            "Order R-77: missing channelName",
        ),
        (
            "deliver",
            json!([{"id": "12"}]),
            "Order element 0: id must be an integer",
        ),
    ];
    for (op, orders, want) in cases {
        let r = fx.post(
            &format!("/v1/store/42/order/{op}"),
            &json!({ "order": orders }),
        );
        assert_problem(&r, 400);
        assert!(
            r.detail().starts_with(want),
            "{op}: got {:?}, want {want:?}",
            r.detail()
        );
    }
    // malformed JSON, wrong shape
    let r = fx.post_raw("/v1/store/42/order/ship", "{\"order\": [");
    assert_problem(&r, 400);
    assert!(r.detail().starts_with("Malformed JSON"));
    assert_problem(
        &fx.post("/v1/store/42/order/ship", &json!({"orders": []})),
        400,
    );
    // nothing was ticketed by the rejected requests
    assert_eq!(fx.stats()["tickets_total"], 0);
}

#[test]
fn at_most_100_orders_per_request() {
    let fx = Fx::default();
    let hundred: Vec<Value> = (1..=100).map(|i| json!({"id": i})).collect();
    let b = fx.op("deliver", json!(hundred));
    assert_eq!(fx.tickets(&b)["total"], 100);
    let many: Vec<Value> = (1..=101).map(|i| json!({"id": 1000 + i})).collect();
    let r = fx.post("/v1/store/42/order/deliver", &json!({ "order": many }));
    assert_problem(&r, 400);
    assert_eq!(r.detail(), "Too many orders: 101, at most 100");
    assert_problem(
        &fx.post("/v1/store/42/order/deliver", &json!({"order": []})),
        400,
    );
}

#[test]
fn unknown_things_are_404() {
    let fx = Fx::default();
    assert_problem(
        &fx.post("/v1/store/7/order/ship", &json!({"order": [ship(1)]})),
        404,
    );
    assert_problem(
        &fx.post("/v1/store/42/order/explode", &json!({"order": [{"id": 1}]})),
        404,
    );
    assert_problem(
        &fx.get("/v1/store/42/ticket?batchId=0123456789abcdef0123456789abcdef"),
        404,
    );
    assert_problem(&fx.get("/v1/store/42/ticket?batchId=nope"), 404);
    assert_problem(
        &fx.get("/v1/store/42/ticket/0123456789abcdef0123456789abcdef"),
        404,
    );
    let b = fx.op("deliver", json!([{"id": 1}]));
    let bid = b["id"].as_str().unwrap();
    // a batch is only visible from its own store
    assert_problem(&fx.get(&format!("/v1/store/7/ticket?batchId={bid}")), 404);
    let tid = fx.tickets(&b)["_embedded"]["ticket"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_problem(&fx.get(&format!("/v1/store/7/ticket/{tid}")), 404);
    assert_problem(&fx.get("/v1/nowhere"), 404);
}

#[test]
fn each_token_sees_only_its_own_stores() {
    let fx = Fx::default();
    fx.config(json!({
        "tokens": [TOKEN, "token-of-7"],
        "store_ids": [42, 7],
        "token_stores": {"token-of-7": [7]}
    }));
    let post = |token: &str, store: i64| {
        raw_request(
            fx.addr,
            "POST",
            &format!("/v1/store/{store}/order/ship"),
            Some(token),
            Some(&json!({"order": [ship(1)]}).to_string()),
        )
        .unwrap()
    };
    // A token of one account never reaches another account's store.
    let r = post("token-of-7", 42);
    assert_problem(&r, 404);
    assert!(r.detail().contains("Store 42 not found"), "{}", r.detail());
    assert_eq!(post("token-of-7", 7).status, 202);
    // A token without an entry sees every store.
    assert_eq!(post(TOKEN, 7).status, 202);
    assert_eq!(post(TOKEN, 42).status, 202);
    let me = raw_request(fx.addr, "GET", "/v1/me", Some("token-of-7"), None).unwrap();
    let stores = me.json()["_embedded"]["store"].clone();
    assert_eq!(stores.as_array().map(Vec::len), Some(1), "{stores}");
    assert_eq!(stores[0]["id"], json!(7));
    let bad = raw_request(
        fx.addr,
        "POST",
        "/_sandbox/config",
        None,
        Some(&json!({"token_stores": {"t": "7"}}).to_string()),
    )
    .unwrap();
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("token_stores"));
}

// ---- tickets ----------------------------------------------------------------------

#[test]
fn ticket_state_progresses_with_time() {
    let fx = Fx::new(Config {
        ticket_delay_ms: 400,
        ..Config::default()
    });
    let t0 = Instant::now();
    let b = fx.op("ship", json!([ship(1), ship(2)]));
    let l = fx.tickets(&b);
    if t0.elapsed() < Duration::from_millis(190) {
        assert_eq!(fx.states(&b), ["scheduled", "scheduled"]);
        assert_eq!(l["meta"]["processing"], true);
        let t = &l["_embedded"]["ticket"][0];
        assert_eq!(t["startedAt"], Value::Null);
        assert_eq!(t["finishedAt"], Value::Null);
        assert_eq!(fx.stats()["tickets"]["scheduled"], 2);
    }
    thread::sleep(Duration::from_millis(250).saturating_sub(t0.elapsed()));
    if t0.elapsed() < Duration::from_millis(390) {
        assert_eq!(fx.states(&b), ["running", "running"]);
        let l = fx.tickets(&b);
        assert!(l["_embedded"]["ticket"][0]["startedAt"].is_string());
        assert_eq!(l["_embedded"]["ticket"][0]["finishedAt"], Value::Null);
        assert_eq!(fx.stats()["tickets"]["running"], 2);
    }
    thread::sleep(Duration::from_millis(450).saturating_sub(t0.elapsed()));
    assert_eq!(fx.states(&b), ["succeed", "succeed"]);
    let l = fx.tickets(&b);
    assert_eq!(l["meta"]["processing"], false);
    assert!(l["_embedded"]["ticket"][1]["finishedAt"].is_string());
    let s = fx.stats()["tickets"].clone();
    assert_eq!(
        s,
        json!({"scheduled": 0, "running": 0, "succeed": 2, "failed": 0, "canceled": 0})
    );
}

#[test]
fn fail_and_cancel_lists_fail_tickets() {
    let fx = Fx::default();
    fx.config(json!({
        "fail_orders": {"7": "Carrier refused the parcel", "REF-9": "Unsupported by marketplace"},
        "cancel_orders": {"8": "Refused by the API"}
    }));
    let b = fx.op(
        "ship",
        json!([ship(7), ship(8), {"reference": "REF-9", "channelName": "fnac", "carrier": "c", "trackingNumber": "t", "trackingLink": ""}, ship(10)]),
    );
    let l = fx.tickets(&b);
    let t = l["_embedded"]["ticket"].as_array().unwrap();
    assert_eq!(t[0]["state"], "failed");
    assert_eq!(t[0]["result"]["message"], "Carrier refused the parcel");
    assert_eq!(t[1]["state"], "canceled");
    assert_eq!(t[1]["result"]["message"], "Refused by the API");
    assert_eq!(t[2]["state"], "failed");
    assert_eq!(t[2]["result"]["message"], "Unsupported by marketplace");
    assert_eq!(t[3]["state"], "succeed");
    let filtered = fx.get(&format!(
        "/v1/store/42/ticket?batchId={}&state=failed",
        b["id"].as_str().unwrap()
    ));
    assert_eq!(filtered.json()["total"], 2);
    let s = fx.stats();
    assert_eq!(s["tickets"]["failed"], 2);
    assert_eq!(s["tickets"]["canceled"], 1);
    assert_eq!(s["tickets"]["succeed"], 1);
}

#[test]
fn refused_transitions_fail() {
    let fx = Fx::default();
    fx.op("ship", json!([ship(5)]));
    let b = fx.op(
        "cancel",
        json!([{"id": 5, "reason": "late"}, {"id": 6, "reason": "late"}]),
    );
    let l = fx.tickets(&b);
    let t = l["_embedded"]["ticket"].as_array().unwrap();
    assert_eq!(t[0]["state"], "failed");
    assert_eq!(
        t[0]["result"]["message"],
        "Order already shipped, cannot cancel"
    );
    assert_eq!(t[1]["state"], "succeed");
    let b = fx.op(
        "ship",
        json!([{"id": 11, "carrier": "c", "trackingNumber": "", "trackingLink": ""}]),
    );
    let t = fx.tickets(&b)["_embedded"]["ticket"][0].clone();
    assert_eq!(t["state"], "failed");
    assert_eq!(t["result"]["message"], "Missing tracking number");
    let h = fx.get_ctl("/_sandbox/orders/5");
    assert_eq!(
        h.as_array()
            .unwrap()
            .iter()
            .map(|e| (
                e["operation"].as_str().unwrap(),
                e["state"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("ship", "succeed"), ("cancel", "failed")]
    );
}

#[test]
fn resent_operations_are_ignored() {
    let fx = Fx::new(Config {
        ticket_delay_ms: 5_000,
        ..Config::default()
    });
    fx.config(json!({"fail_orders": {"3": "boom"}, "ticket_delay_ms": 0}));
    fx.op("ship", json!([ship(3)])); // fails at once
    fx.config(json!({"fail_orders": {}, "ticket_delay_ms": 5000}));
    fx.op("ship", json!([ship(1)])); // still scheduled
    fx.config(json!({"ticket_delay_ms": 0}));
    fx.op(
        "ship",
        json!([{"reference": "R-2", "channelName": "amazon", "carrier": "c", "trackingNumber": "t", "trackingLink": ""}]),
    ); // succeeded

    let b = fx.op(
        "ship",
        json!([ship(1), {"reference": "R-2", "channelName": "amazon", "carrier": "c", "trackingNumber": "t", "trackingLink": ""}, ship(3), ship(4)]),
    );
    assert_eq!(
        b["report"],
        json!([
            {"id": 1, "state": "ignored", "message": "Operation already performed"},
            {"reference": "R-2", "channelName": "amazon", "state": "ignored", "message": "Operation already performed"}
        ])
    );
    let l = fx.tickets(&b);
    let ids: Vec<i64> = l["_embedded"]["ticket"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["payload"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [3, 4], "the failed order 3 is ticketed again");

    // everything ignored: still 202 with an id, an empty batch
    let b = fx.op("ship", json!([ship(4)]));
    assert_eq!(b["report"].as_array().unwrap().len(), 1);
    assert!(b["id"].is_string());
    assert_eq!(fx.tickets(&b)["total"], 0);

    // another operation on the same order is not a re-send
    let b = fx.op("deliver", json!([{"id": 4}]));
    assert!(b.get("report").is_none());

    let s = fx.stats();
    assert_eq!(s["ignored"], 3);
    assert_eq!(s["ticketed"]["ship:3"], 2);
    assert_eq!(s["ticketed"]["ship:4"], 1);
    assert_eq!(
        s["duplicates"], 0,
        "a re-send after a failure is no duplicate"
    );
}

#[test]
fn duplicates_counts_orders_ticketed_twice() {
    let fx = Fx::new(Config {
        store_ids: vec![42, 43],
        ..Config::default()
    });
    fx.op("ship", json!([ship(1)]));
    let r = fx.post("/v1/store/43/order/ship", &json!({"order": [ship(1)]}));
    assert_eq!(r.status, 202);
    let s = fx.stats();
    assert_eq!(s["ticketed"]["ship:1"], 2);
    assert_eq!(s["duplicates"], 1);
    assert_eq!(s["orders_received"]["ship"], 2);
}

#[test]
fn ticket_collections_paginate() {
    let fx = Fx::default();
    let orders: Vec<Value> = (1..=5).map(ship).collect();
    let b = fx.op("ship", json!(orders));
    let bid = b["id"].as_str().unwrap();
    let base = format!("/v1/store/42/ticket?batchId={bid}");
    let p1 = fx.get(&format!("{base}&limit=2")).json();
    assert_eq!(
        (
            p1["total"].clone(),
            p1["count"].clone(),
            p1["pages"].clone()
        ),
        (json!(5), json!(2), json!(3))
    );
    assert_eq!(p1["page"], 1);
    assert_eq!(p1["limit"], 2);
    assert_eq!(
        p1["_links"]["next"]["href"],
        format!("{base}&page=2&limit=2")
    );
    let p2 = fx
        .get(p1["_links"]["next"]["href"].as_str().unwrap())
        .json();
    assert_eq!(p2["page"], 2);
    assert_eq!(p2["_embedded"]["ticket"][0]["payload"]["id"], 3);
    let p3 = fx
        .get(p2["_links"]["next"]["href"].as_str().unwrap())
        .json();
    assert_eq!(p3["count"], 1);
    assert!(p3["_links"].get("next").is_none());
    assert!(p3["_links"]["self"]["href"].is_string());
    let beyond = fx.get(&format!("{base}&page=9&limit=2")).json();
    assert_eq!(beyond["count"], 0);
    let all = fx.get(&format!("{base}&limit=5000")).json();
    assert_eq!(all["limit"], 200);
    assert_eq!(all["count"], 5);
    assert_eq!(all["pages"], 1);
    // store-wide listing and type filter
    let typed = fx
        .get("/v1/store/42/ticket?type=order.notify.refund")
        .json();
    assert_eq!(typed["total"], 0);
}

// ---- control switches ---------------------------------------------------------------

#[test]
fn reject_orders_answers_the_status() {
    let fx = Fx::default();
    fx.config(json!({"reject_orders": {"1234": 409, "REF-1": 422}}));
    let r = fx.post(
        "/v1/store/42/order/ship",
        &json!({"order": [ship(1), ship(1234)]}),
    );
    assert_problem(&r, 409);
    assert_eq!(r.detail(), "Order 1234: rejected by the marketplace");
    let r = fx.post(
        "/v1/store/42/order/deliver",
        &json!({"order": [{"reference": "REF-1", "channelName": "x"}]}),
    );
    assert_problem(&r, 422);
    assert_eq!(r.detail(), "Order REF-1: rejected by the marketplace");
    assert_eq!(fx.stats()["tickets_total"], 0);
    let bad = raw_request(
        fx.addr,
        "POST",
        "/_sandbox/config",
        None,
        Some(r#"{"reject_orders": {"1": 500}}"#),
    )
    .unwrap();
    assert_problem(&bad, 400);
}

#[test]
fn forgotten_and_unknown_batches() {
    let fx = Fx::default();
    let b1 = fx.op("deliver", json!([{"id": 1}]));
    let b2 = fx.op("deliver", json!([{"id": 2}]));
    let path = |b: &Value| format!("/v1/store/42/ticket?batchId={}", b["id"].as_str().unwrap());
    fx.config(json!({"forget_batches": true}));
    assert_problem(&fx.get(&path(&b1)), 404);
    fx.config(json!({"forget_batches": false, "unknown_batches": [b2["id"].clone()]}));
    assert_eq!(fx.get(&path(&b1)).status, 200);
    assert_problem(&fx.get(&path(&b2)), 404);
    fx.config(json!({"unknown_batches": []}));
    assert_eq!(fx.get(&path(&b2)).status, 200);
}

#[test]
fn latency_and_hang() {
    let fx = Fx::default();
    fx.config(json!({"latency_ms": 150}));
    let t = Instant::now();
    assert_eq!(fx.get("/v1/ping").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    fx.config(json!({"latency_ms": 0, "hang": true}));
    let addr = fx.addr;
    let t = Instant::now();
    let h = thread::spawn(move || raw_request(addr, "GET", "/v1/me", Some(TOKEN), None));
    thread::sleep(Duration::from_millis(300));
    assert!(!h.is_finished(), "answered while hanging");
    fx.config(json!({"hang": false}));
    let r = h.join().unwrap().unwrap();
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

// ---- faults ---------------------------------------------------------------------------

#[test]
fn status_and_rate_limit_faults() {
    let fx = Fx::default();
    fx.faults(json!([
        {"kind": "status", "status": 503, "count": 2, "on": "order"},
        {"kind": "rate_limit", "wait": 0.25, "on": "ticket"}
    ]));
    // pings match neither fault
    assert_eq!(fx.get("/v1/ping").status, 200);
    for _ in 0..2 {
        assert_problem(
            &fx.post("/v1/store/42/order/deliver", &json!({"order": [{"id": 1}]})),
            503,
        );
    }
    let b = fx.op("deliver", json!([{"id": 1}]));
    let r = fx.get(&format!(
        "/v1/store/42/ticket?batchId={}",
        b["id"].as_str().unwrap()
    ));
    assert_problem(&r, 429);
    assert_eq!(r.header("x-ratelimit-wait"), Some("0.25"));
    assert_eq!(fx.tickets(&b)["total"], 1);
    assert_eq!(fx.get_ctl("/_sandbox/faults")["faults"], json!([]));

    // `any` faults hit every /v1 request, DELETE clears the queue
    fx.faults(json!([{"kind": "status", "status": 500, "count": 5}]));
    assert_problem(&fx.get("/v1/ping"), 500);
    assert_eq!(fx.get_ctl("/_sandbox/faults")["faults"][0]["count"], 4);
    fx.ctl("DELETE", "/_sandbox/faults", json!({}));
    assert_eq!(fx.get("/v1/ping").status, 200);
    assert_eq!(fx.stats()["faults_injected"], 4);
}

#[test]
fn drop_malformed_huge_and_slow_faults() {
    let fx = Fx::default();
    fx.faults(json!([{"kind": "drop"}]));
    let r = raw_request(
        fx.addr,
        "POST",
        "/v1/store/42/order/deliver",
        Some(TOKEN),
        Some(r#"{"order":[{"id":1}]}"#),
    );
    assert!(r.is_err(), "a dropped connection must give no response");
    // ... and nothing was ticketed
    assert_eq!(fx.stats()["tickets_total"], 0);

    fx.faults(json!([{"kind": "malformed", "on": "order"}, {"kind": "malformed", "on": "ticket"}]));
    let r = fx.post("/v1/store/42/order/deliver", &json!({"order": [{"id": 1}]}));
    assert_eq!(r.status, 202);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, b"{\"id\": ");
    let r = fx.get("/v1/store/42/ticket?batchId=x");
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());

    fx.faults(json!([{"kind": "huge"}]));
    let r = fx.get("/v1/me");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len() as u64, HUGE_BODY_BYTES);
    assert!(r.body.starts_with(b"{\"id\":\"huge\",\"padding\":\"xxx"));
    assert!(r.body.ends_with(b"xx\"}"));

    fx.faults(json!([{"kind": "slow", "ms": 250}]));
    let t = Instant::now();
    let b = fx.op("deliver", json!([{"id": 9}]));
    assert!(t.elapsed() >= Duration::from_millis(250));
    assert!(
        b["id"].is_string(),
        "a slow request is still answered normally"
    );

    let log = fx.get_ctl("/_sandbox/log");
    let faults: Vec<Value> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fault"].clone())
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(
        faults,
        [
            json!("drop"),
            json!("malformed"),
            json!("malformed"),
            json!("huge"),
            json!("slow")
        ]
    );
    assert_eq!(log["requests"][0]["status"], Value::Null);
}

#[test]
fn bad_fault_specs_are_rejected() {
    let fx = Fx::default();
    for spec in [
        r#"{"faults":[{"kind":"explode"}]}"#,
        r#"{"faults":[{"kind":"status","status":200}]}"#,
        r#"{"faults":[{"kind":"drop","on":"everything"}]}"#,
        r#"{"faults":[{"kind":"drop","count":0}]}"#,
    ] {
        let r = raw_request(fx.addr, "POST", "/_sandbox/faults", None, Some(spec)).unwrap();
        assert_problem(&r, 400);
    }
    assert_eq!(fx.get_ctl("/_sandbox/faults")["faults"], json!([]));
}

// ---- log, stats, reset, concurrency ------------------------------------------------------

#[test]
fn log_never_holds_the_token() {
    let fx = Fx::new(Config {
        tokens: vec!["s3cr3t-t0ken-value".into()],
        ..Config::default()
    });
    raw_request(fx.addr, "GET", "/v1/me", Some("s3cr3t-t0ken-value"), None).unwrap();
    raw_request(fx.addr, "GET", "/v1/me", Some("wrong-token"), None).unwrap();
    let body = r#"{"order":[{"id":1,"reason":"x"},{"id":2,"reason":"y"}]}"#;
    let r = raw_request(
        fx.addr,
        "POST",
        "/v1/store/42/order/cancel",
        Some("s3cr3t-t0ken-value"),
        Some(body),
    )
    .unwrap();
    assert_eq!(r.status, 202);
    let batch = r.json()["id"].clone();
    let raw = raw_request(fx.addr, "GET", "/_sandbox/log", None, None).unwrap();
    let text = String::from_utf8(raw.body.clone()).unwrap();
    assert!(!text.contains("s3cr3t"));
    assert!(!text.contains("wrong-token"));
    assert!(!text.to_ascii_lowercase().contains("authorization"));
    let log = raw.json();
    let e = log["requests"].as_array().unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(e[0]["auth_ok"], true);
    assert_eq!(e[1]["auth_ok"], false);
    assert_eq!(e[1]["status"], 403);
    assert_eq!(e[2]["seq"], 3);
    assert_eq!(e[2]["method"], "POST");
    assert_eq!(e[2]["path"], "/v1/store/42/order/cancel");
    assert_eq!(e[2]["orders"], 2);
    assert_eq!(e[2]["operation"], "cancel");
    assert_eq!(e[2]["batch_id"], batch);
    assert_eq!(e[2]["body"], serde_json::from_str::<Value>(body).unwrap());
    assert!(e[2]["at_ms"].as_u64().unwrap() > 0);
    assert_eq!(e[0]["orders"], Value::Null);
    assert_eq!(
        fx.get_ctl("/_sandbox/log?since=2")["requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    fx.ctl("DELETE", "/_sandbox/log", json!({}));
    assert_eq!(fx.get_ctl("/_sandbox/log")["requests"], json!([]));
}

#[test]
fn stats_count_requests_and_concurrency() {
    let fx = Fx::default();
    fx.config(json!({"latency_ms": 200}));
    let addr = fx.addr;
    let handles: Vec<_> = (0..10)
        .map(|i| {
            thread::spawn(move || {
                let body = json!({"order": [ship(100 + i), ship(200 + i)]}).to_string();
                raw_request(
                    addr,
                    "POST",
                    "/v1/store/42/order/ship",
                    Some(TOKEN),
                    Some(&body),
                )
                .unwrap()
                .status
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 202);
    }
    fx.config(json!({"latency_ms": 0}));
    let b = fx.op("cancel", json!([{"id": 1, "reason": "r"}]));
    fx.tickets(&b);
    fx.op("ship", json!([ship(100)])); // ignored
    let s = fx.stats();
    assert_eq!(s["requests"], 13);
    assert_eq!(s["order_requests"], 12);
    assert_eq!(s["ticket_requests"], 1);
    assert_eq!(s["orders_received"]["ship"], 21);
    assert_eq!(s["orders_received"]["cancel"], 1);
    assert_eq!(s["orders_received"]["refund"], 0);
    assert_eq!(s["tickets"]["succeed"], 21);
    assert_eq!(s["ignored"], 1);
    assert_eq!(s["duplicates"], 0);
    assert_eq!(s["ticketed"].as_object().unwrap().len(), 21);
    assert_eq!(s["ticketed"]["ship:105"], 1);
    assert!(s["max_in_flight"].as_u64().unwrap() >= 5, "{s}");
    assert_eq!(
        fx.get_ctl("/_sandbox/stats?ticketed=0")["ticketed"],
        json!({})
    );

    // reset: everything back to the start
    fx.config(json!({"fail_orders": {"1": "x"}}));
    fx.faults(json!([{"kind": "drop"}]));
    fx.ctl("POST", "/_sandbox/reset", json!({}));
    let s = fx.stats();
    assert_eq!(s["requests"], 0);
    assert_eq!(s["tickets_total"], 0);
    assert_eq!(fx.get_ctl("/_sandbox/log")["requests"], json!([]));
    assert_eq!(fx.get_ctl("/_sandbox/faults")["faults"], json!([]));
    assert_eq!(fx.get_ctl("/_sandbox/config")["fail_orders"], json!({}));
    assert_problem(
        &fx.get(&format!(
            "/v1/store/42/ticket?batchId={}",
            b["id"].as_str().unwrap()
        )),
        404,
    );
    assert_eq!(fx.get_ctl("/_sandbox/orders/100"), json!([]));
}

// ---- lifecycle ---------------------------------------------------------------------------

#[test]
fn background_sandbox_and_control_shutdown() {
    let sb = Sandbox::start_background(Config::default()).unwrap();
    assert!(sb.url().starts_with("http://127.0.0.1:"));
    assert_eq!(sb.addr.ip().to_string(), "127.0.0.1");
    let addr = sb.addr;
    assert_eq!(
        raw_request(addr, "GET", "/v1/ping", None, None)
            .unwrap()
            .status,
        200
    );
    sb.shutdown();
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after shutdown"
    );

    let fx = Fx::default();
    let r = raw_request(fx.addr, "POST", "/_sandbox/shutdown", None, Some("")).unwrap();
    assert_eq!(r.status, 200);
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect(fx.addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "POST /_sandbox/shutdown did not stop it"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn spawn_binary(args: &[&str]) -> (std::process::Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sf-sandbox"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, url.parse().unwrap())
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sf-sandbox did not exit");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn binary_serves_until_shutdown_or_sigterm() {
    let (mut child, addr) = spawn_binary(&[
        "--port",
        "0",
        "--token",
        "tok-a",
        "--store",
        "7",
        "--ticket-delay-ms",
        "0",
    ]);
    assert!(addr.ip().is_loopback());
    let r = raw_request(addr, "GET", "/v1/me", Some("tok-a"), None).unwrap();
    assert_eq!(r.json()["_embedded"]["store"][0]["id"], 7);
    raw_request(addr, "POST", "/_sandbox/shutdown", None, Some("")).unwrap();
    assert!(wait_exit(&mut child).success());

    let (mut child, addr) = spawn_binary(&[]);
    assert_eq!(
        raw_request(addr, "GET", "/v1/ping", None, None)
            .unwrap()
            .status,
        200
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(wait_exit(&mut child).success());

    let out = Command::new(env!("CARGO_BIN_EXE_sf-sandbox"))
        .args(["--host", "0.0.0.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
