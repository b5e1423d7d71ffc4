//! Answers a client must survive, each behind its own switch: a wrong
//! store, the rate-limit mode, unknown ticket states, tickets of another
//! batch, duplicate tickets, a permanent 400 on ticket reads, many slow
//! ticket pages.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sfsandbox::Config;

mod common;
use common::*;

fn batch_path(b: &Value) -> String {
    format!("/v1/store/42/ticket?batchId={}", b["id"].as_str().unwrap())
}

fn listed(fx: &Fx, path: &str) -> Vec<Value> {
    let r = fx.get(path);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["_embedded"]["ticket"].as_array().unwrap().clone()
}

// ---- a wrong store id --------------------------------------------------------

#[test]
fn a_store_the_account_lacks_is_a_404_naming_it() {
    let fx = Fx::default();
    let b = fx.op("deliver", json!([{"id": 1}]));
    let tid = fx.tickets(&b)["_embedded"]["ticket"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bid = b["id"].as_str().unwrap();
    let cases = [
        fx.post("/v1/store/999/order/ship", &json!({"order": [ship(1)]})),
        // checked before the operation and the body
        fx.post("/v1/store/999/order/explode", &json!({"order": []})),
        fx.post_raw("/v1/store/999/order/ship", "not json"),
        fx.get(&format!("/v1/store/999/ticket?batchId={bid}")),
        fx.get("/v1/store/999/ticket"),
        fx.get(&format!("/v1/store/999/ticket/{tid}")),
        fx.get("/v1/store/999"),
        fx.get("/v1/store/999/order"),
        fx.get("/v1/store/999/order/1"),
    ];
    for r in &cases {
        assert_problem(r, 404);
        assert_eq!(r.detail(), "Store 999 not found");
    }
    // every order of a 100-order POST is answered alike: one 404 for all
    let many: Vec<Value> = (1..=100).map(ship).collect();
    let r = fx.post("/v1/store/999/order/ship", &json!({ "order": many }));
    assert_eq!(
        (r.status, r.detail()),
        (404, "Store 999 not found".to_string())
    );
    // `store_ids` takes a store away from the account
    fx.config(json!({"store_ids": [7]}));
    let r = fx.post("/v1/store/42/order/deliver", &json!({"order": [{"id": 1}]}));
    assert_eq!(
        (r.status, r.detail()),
        (404, "Store 42 not found".to_string())
    );
    assert_eq!(fx.stats()["tickets_total"], 1);
}

// ---- rate limit -----------------------------------------------------------------

#[test]
fn rate_limit_mode_is_a_token_bucket_per_token() {
    let fx = Fx::new(Config {
        tokens: vec![TOKEN.into(), "other-token".into()],
        ..Config::default()
    });
    // off: no rate-limit headers
    assert!(fx.get("/v1/ping").header("x-ratelimit-limit").is_none());

    fx.config(json!({"rate_limit": {"requests": 3, "per_ms": 3000}}));
    assert_eq!(
        fx.get_ctl("/_sandbox/config")["rate_limit"],
        json!({"requests": 3, "per_ms": 3000})
    );
    let t0 = Instant::now();
    let mut remaining = Vec::new();
    for path in ["/v1/ping", "/v1/me", "/v1/store/42/ticket"] {
        let r = fx.get(path);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit"), Some("3/3"));
        assert!(r.header("x-ratelimit-wait").is_none());
        remaining.push(r.header("x-ratelimit-remaining").unwrap().to_string());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    // beyond it: 429 with the wait until one request is allowed again
    let r = fx.post("/v1/store/42/order/deliver", &json!({"order": [{"id": 1}]}));
    assert_problem(&r, 429);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("x-ratelimit-limit"), Some("3/3"));
    let wait: f64 = r.header("x-ratelimit-wait").unwrap().parse().unwrap();
    assert!(wait > 0.0 && wait <= 1.0, "{wait}");
    if t0.elapsed() < Duration::from_millis(900) {
        // still within the same second: refused again, nothing ticketed
        assert_eq!(fx.get("/v1/ping").status, 429);
    }
    assert_eq!(fx.stats()["tickets_total"], 0);

    // the limit is the token's: another token has its own bucket
    let r = raw_request(fx.addr, "GET", "/v1/me", Some("other-token"), None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("2"));

    // after the wait a request is allowed
    let r = loop {
        let r = fx.get("/v1/ping");
        if r.status == 200 {
            break r;
        }
        let w: f64 = r.header("x-ratelimit-wait").unwrap().parse().unwrap();
        thread::sleep(Duration::from_secs_f64(w + 0.005));
    };
    assert!(r.header("x-ratelimit-remaining").is_some());
    let limited = fx.stats()["rate_limited"].as_u64().unwrap();
    assert!(limited >= 1, "{limited}");
    // injected faults are answered with the headers too, and still count
    fx.config(json!({"rate_limit": {"requests": 100, "per_ms": 1000}}));
    fx.faults(json!([{"kind": "status", "status": 503}]));
    let r = fx.get("/v1/ping");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("99"));
    // null turns it off; a bad spec is refused
    fx.config(json!({"rate_limit": null}));
    assert!(fx.get("/v1/ping").header("x-ratelimit-limit").is_none());
    let bad = raw_request(
        fx.addr,
        "POST",
        "/_sandbox/config",
        None,
        Some(r#"{"rate_limit": {"requests": 0, "per_ms": 10}}"#),
    )
    .unwrap();
    assert_problem(&bad, 400);
    fx.ctl("POST", "/_sandbox/reset", json!({}));
    assert_eq!(fx.stats()["rate_limited"], 0);
}

// ---- tickets ------------------------------------------------------------------------

#[test]
fn ticket_state_override_shows_an_unknown_state() {
    let fx = Fx::default();
    let b = fx.op(
        "deliver",
        json!([{"id": 1}, {"id": 2}, {"reference": "R-3", "channelName": "x"}]),
    );
    fx.config(json!({"ticket_state_override": {"1": "SUCCEED", "R-3": "done"}}));
    let states: Vec<Value> = listed(&fx, &batch_path(&b))
        .iter()
        .map(|t| t["state"].clone())
        .collect();
    assert_eq!(states, ["SUCCEED", "succeed", "done"]);
    let t1 = &listed(&fx, &batch_path(&b))[0];
    assert_eq!(
        get_json(&fx, t1["_links"]["self"]["href"].as_str().unwrap())["state"],
        "SUCCEED"
    );
    // the sandbox's own bookkeeping follows the real state
    assert_eq!(
        listed(&fx, &format!("{}&state=succeed", batch_path(&b))).len(),
        3
    );
    assert_eq!(fx.stats()["tickets"]["succeed"], 3);
    assert_eq!(fx.get_ctl("/_sandbox/orders/1")[0]["state"], "succeed");
    fx.config(json!({"ticket_state_override": null}));
    assert_eq!(fx.states(&b), ["succeed", "succeed", "succeed"]);
}

fn get_json(fx: &Fx, path: &str) -> Value {
    let r = fx.get(path);
    assert_eq!(r.status, 200, "{path}");
    r.json()
}

#[test]
fn foreign_tickets_name_another_batch() {
    let fx = Fx::default();
    fx.config(json!({"fail_orders": {"2": "refused"}}));
    let b = fx.op("deliver", json!([{"id": 1}, {"id": 2}]));
    fx.config(json!({"foreign_tickets": true}));
    let page = get_json(&fx, &batch_path(&b));
    assert_eq!(page["total"], 4);
    let list = page["_embedded"]["ticket"].as_array().unwrap();
    let shape: Vec<(Value, bool, Value)> = list
        .iter()
        .map(|t| {
            (
                t["payload"]["id"].clone(),
                t["batchId"] == b["id"],
                t["state"].clone(),
            )
        })
        .collect();
    // each real ticket comes after a twin of another batch with the
    // opposite outcome, so trusting the first ticket of an order is wrong
    assert_eq!(
        shape,
        [
            (json!(1), false, json!("failed")),
            (json!(1), true, json!("succeed")),
            (json!(2), false, json!("succeed")),
            (json!(2), true, json!("failed")),
        ]
    );
    assert_eq!(
        list[0]["result"]["message"],
        "Ticket of another batch (sandbox foreign_tickets)"
    );
    // the twins resolve to nothing
    assert_problem(
        &fx.get(list[0]["_links"]["self"]["href"].as_str().unwrap()),
        404,
    );
    let other = list[0]["batchId"].as_str().unwrap();
    assert_problem(
        &fx.get(&format!("/v1/store/42/ticket?batchId={other}")),
        404,
    );
    // only batch reads get them
    assert_eq!(get_json(&fx, "/v1/store/42/ticket")["total"], 2);
    fx.config(json!({"foreign_tickets": false}));
    assert_eq!(get_json(&fx, &batch_path(&b))["total"], 2);
}

#[test]
fn duplicate_tickets_list_the_newest_last() {
    let fx = Fx::default();
    let b = fx.op("deliver", json!([{"id": 1}, {"id": 2}]));
    fx.config(json!({"duplicate_tickets": {"1": ["failed", "succeed"], "2": ["succeed", "running", "failed"]}}));
    let list = listed(&fx, &batch_path(&b));
    let shape: Vec<(Value, Value)> = list
        .iter()
        .map(|t| (t["payload"]["id"].clone(), t["state"].clone()))
        .collect();
    assert_eq!(
        shape,
        [
            (json!(1), json!("failed")),
            (json!(1), json!("succeed")),
            (json!(2), json!("succeed")),
            (json!(2), json!("running")),
            (json!(2), json!("failed")),
        ]
    );
    for t in &list {
        assert_eq!(t["batchId"], b["id"]);
    }
    // the older one is dated earlier; the newest is the real ticket
    assert!(list[0]["scheduledAt"].as_str() < list[1]["scheduledAt"].as_str());
    assert!(list[2]["finishedAt"].as_str() < list[4]["finishedAt"].as_str());
    assert_eq!(list[3]["finishedAt"], Value::Null);
    assert_eq!(
        list[0]["result"]["message"],
        "Duplicate ticket (sandbox duplicate_tickets)"
    );
    assert_eq!(list[1]["result"], Value::Null);
    assert_eq!(
        list[4]["result"]["message"],
        "Duplicate ticket (sandbox duplicate_tickets)"
    );
    let newest = get_json(&fx, list[4]["_links"]["self"]["href"].as_str().unwrap());
    assert_eq!(newest, list[4]);
    assert_problem(
        &fx.get(list[0]["_links"]["self"]["href"].as_str().unwrap()),
        404,
    );
    // bad lists are refused
    let bad = raw_request(
        fx.addr,
        "POST",
        "/_sandbox/config",
        None,
        Some(r#"{"duplicate_tickets": {"1": ["succeed"]}}"#),
    )
    .unwrap();
    assert_problem(&bad, 400);
    fx.config(json!({"duplicate_tickets": null}));
    assert_eq!(fx.states(&b), ["succeed", "succeed"]);
}

#[test]
fn a_permanent_400_on_ticket_reads_is_a_ticket_fault_with_a_large_count() {
    let fx = Fx::default();
    fx.faults(
        json!([{"kind": "status", "status": 400, "on": "ticket", "count": 1_000_000_000u64}]),
    );
    let b = fx.op("deliver", json!([{"id": 1}]));
    for _ in 0..20 {
        assert_problem(&fx.get(&batch_path(&b)), 400);
    }
    // order POSTs and other calls are not touched
    fx.op("deliver", json!([{"id": 2}]));
    assert_eq!(fx.get("/v1/me").status, 200);
    assert_eq!(
        fx.get_ctl("/_sandbox/faults")["faults"][0]["count"],
        1_000_000_000u64 - 20
    );
    fx.ctl("DELETE", "/_sandbox/faults", json!({}));
    assert_eq!(fx.states(&b), ["succeed"]);
}

#[test]
fn ticket_pages_announces_many_slow_pages() {
    let fx = Fx::default();
    let b = fx.op("deliver", json!([{"id": 1}, {"id": 2}]));
    fx.config(json!({"ticket_pages": {"pages": 5, "page_ms": 100}}));
    let t0 = Instant::now();
    let mut href = Some(batch_path(&b));
    let (mut reads, mut tickets) = (0, 0);
    while let Some(h) = href {
        let t = Instant::now();
        let page = get_json(&fx, &h);
        assert!(t.elapsed() >= Duration::from_millis(100));
        reads += 1;
        assert_eq!(page["pages"], 5);
        assert_eq!(page["page"], reads);
        tickets += page["count"].as_u64().unwrap();
        href = page["_links"]["next"]["href"].as_str().map(str::to_string);
    }
    assert_eq!((reads, tickets), (5, 2));
    assert!(t0.elapsed() >= Duration::from_millis(500));
    assert_eq!(
        fx.get_ctl("/_sandbox/config")["ticket_pages"],
        json!({"pages": 5, "page_ms": 100})
    );
    // more real pages than announced: the real count wins
    fx.config(json!({"ticket_pages": {"pages": 1, "page_ms": 0}}));
    assert_eq!(
        get_json(&fx, &format!("{}&limit=1", batch_path(&b)))["pages"],
        2
    );
    fx.config(json!({"ticket_pages": null}));
    assert_eq!(get_json(&fx, &batch_path(&b))["pages"], 1);
}
