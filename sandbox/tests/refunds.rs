//! Refunds checked against declared orders (`POST /_sandbox/orders`).

use serde_json::{json, Value};

mod common;
use common::*;

fn refund(id: Value, products: Value) -> Value {
    let mut el = json!({"refund": {"shipping": false, "products": products}});
    match id {
        Value::String(r) => {
            el["reference"] = json!(r);
            el["channelName"] = json!("amazon");
        }
        id => el["id"] = id,
    }
    el
}

fn one(reference: &str, quantity: i64) -> Value {
    json!([{"reference": reference, "quantity": quantity}])
}

/// Sends one refund; (state, message) of its ticket.
fn send(fx: &Fx, el: Value) -> (String, Option<String>) {
    let b = fx.op("refund", json!([el]));
    let t = &fx.tickets(&b)["_embedded"]["ticket"][0];
    (
        t["state"].as_str().unwrap().to_string(),
        t["result"]["message"].as_str().map(str::to_string),
    )
}

fn declare_123(fx: &Fx) -> Value {
    fx.ctl(
        "POST",
        "/_sandbox/orders",
        json!({"id": 123, "reference": "AMZ-1", "channelName": "amazon",
               "items": [{"reference": "REF-1-2", "quantity": 2}, {"reference": "REF-B", "quantity": 1}]}),
    )
}

#[test]
fn declared_orders_are_shown() {
    let fx = Fx::default();
    let v = declare_123(&fx);
    let want = json!({"store": 42, "id": 123, "reference": "AMZ-1", "channelName": "amazon",
        "items": [{"reference": "REF-1-2", "quantity": 2, "refunded": 0}, {"reference": "REF-B", "quantity": 1, "refunded": 0}]});
    assert_eq!(v, json!({"orders": [want.clone()]}));
    assert_eq!(fx.get_ctl("/_sandbox/orders"), json!({"orders": [want]}));
    // the order collection lists it before any operation, with its items
    let o = fx.get("/v1/store/42/order/123").json();
    assert_eq!(o["reference"], "AMZ-1");
    assert_eq!(o["_embedded"]["channel"]["name"], "amazon");
    assert_eq!(o["status"], Value::Null);
    assert_eq!(
        o["items"],
        json!([{"reference": "REF-1-2", "quantity": 2}, {"reference": "REF-B", "quantity": 1}])
    );
    assert_eq!(fx.get("/v1/store/42/order").json()["total"], 1);
    // several at once, by reference only
    let v = fx.ctl(
        "POST",
        "/_sandbox/orders",
        json!({"orders": [
            {"reference": "R-1", "channelName": "fnac", "items": [{"reference": "A", "quantity": 1}]},
            {"id": 9, "items": [{"reference": "A", "quantity": 1}]},
        ]}),
    );
    assert_eq!(v["orders"].as_array().unwrap().len(), 2);
    assert_eq!(
        fx.get_ctl("/_sandbox/orders")["orders"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // reset forgets them
    fx.ctl("POST", "/_sandbox/reset", json!({}));
    assert_eq!(fx.get_ctl("/_sandbox/orders"), json!({"orders": []}));
}

#[test]
fn bad_declarations_are_400() {
    let fx = Fx::default();
    let item = json!([{"reference": "A", "quantity": 1}]);
    let cases = [
        (json!({"items": item}), "needs an id"),
        (json!({"id": 1}), "items"),
        (
            json!({"id": 1, "items": [{"reference": "A", "quantity": 0}]}),
            "items[0]",
        ),
        (json!({"id": 1, "store": 1, "items": item}), "store 1"),
        (json!({"id": "x", "items": item}), "id must be"),
        (json!({"id": 1, "items": item, "colour": 1}), "unknown key"),
        (
            json!({"orders": [{"id": 1, "items": item}, {"id": 2}]}),
            "orders[1]",
        ),
    ];
    for (body, want) in cases {
        let r = raw_request(
            fx.addr,
            "POST",
            "/_sandbox/orders",
            None,
            Some(&body.to_string()),
        )
        .unwrap();
        assert_problem(&r, 400);
        assert!(r.detail().contains(want), "{body}: {}", r.detail());
    }
    // nothing of a refused list was kept
    assert_eq!(fx.get_ctl("/_sandbox/orders"), json!({"orders": []}));
}

#[test]
fn refunds_must_name_the_order_products() {
    let fx = Fx::default();
    declare_123(&fx);
    let (state, msg) = send(&fx, refund(json!(123), one("NOPE-9", 1)));
    assert_eq!(state, "failed");
    assert!(msg.unwrap().contains("NOPE-9"));
    let (state, msg) = send(&fx, refund(json!(123), one("REF-1-2", 3)));
    assert_eq!(state, "failed");
    let msg = msg.unwrap();
    assert!(msg.contains("REF-1-2") && msg.contains("2 left"), "{msg}");
    // the failed refunds took nothing
    let items = &fx.get_ctl("/_sandbox/orders")["orders"][0]["items"];
    assert_eq!(items[0]["refunded"], 0);
}

#[test]
fn partial_refunds_are_counted() {
    let fx = Fx::default();
    declare_123(&fx);
    assert_eq!(
        send(&fx, refund(json!(123), one("REF-1-2", 1))).0,
        "succeed"
    );
    assert_eq!(
        fx.get("/v1/store/42/order/123").json()["status"],
        "partially_refunded"
    );
    // by reference + channel it is the same order (not an ignored re-send)
    assert_eq!(
        send(&fx, refund(json!("AMZ-1"), one("REF-1-2", 1))).0,
        "succeed"
    );
    let (state, msg) = send(&fx, refund(json!(123), one("REF-1-2", 1)));
    assert_eq!(state, "failed");
    let msg = msg.unwrap();
    assert!(
        msg.contains("REF-1-2") && msg.contains("0 left") && msg.contains("2 already refunded"),
        "{msg}"
    );
    // the rest, as a full refund (no products), then nothing is left
    assert_eq!(send(&fx, refund(json!(123), json!([]))).0, "succeed");
    assert_eq!(
        fx.get("/v1/store/42/order/123").json()["status"],
        "refunded"
    );
    let (state, msg) = send(&fx, refund(json!(123), one("REF-B", 1)));
    assert_eq!(state, "failed");
    assert!(msg.unwrap().contains("REF-B"));
    let items = &fx.get_ctl("/_sandbox/orders")["orders"][0]["items"];
    assert_eq!(
        items,
        &json!([{"reference": "REF-1-2", "quantity": 2, "refunded": 2}, {"reference": "REF-B", "quantity": 1, "refunded": 1}])
    );
    // counted refunds are not duplicates of each other
    assert_eq!(fx.stats()["duplicates"], 0);
}

#[test]
fn undeclared_orders_keep_the_old_behaviour() {
    let fx = Fx::default();
    declare_123(&fx);
    assert_eq!(send(&fx, refund(json!(500), one("ANY", 99))).0, "succeed");
    // a re-send is ignored, as for every operation
    let b = fx.op("refund", json!([refund(json!(500), one("ANY", 1))]));
    assert_eq!(b["report"][0]["state"], "ignored");
    // the switches still win over the product check
    fx.config(json!({"fail_orders": {"123": "marketplace down"}}));
    assert_eq!(
        send(&fx, refund(json!(123), one("REF-1-2", 1))),
        ("failed".to_string(), Some("marketplace down".to_string()))
    );
    fx.config(json!({"fail_orders": null}));
    assert_eq!(
        fx.get_ctl("/_sandbox/orders")["orders"][0]["items"][0]["refunded"],
        0
    );
}
