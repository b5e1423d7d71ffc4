//! The sandbox walked the way the official SDK walks the API: from
//! `/v1/me` by HAL links only (URI templates expanded), never building a
//! URL by hand.

use serde_json::{json, Value};
use sfsandbox::Config;

mod common;
use common::*;

/// RFC 6570 level-1 expansion: `{name}` becomes the percent-encoded value,
/// or nothing when the variable is undefined.
fn expand(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("unclosed {");
        let name = &rest[open + 1..close];
        if let Some((_, v)) = vars.iter().find(|(k, _)| *k == name) {
            for b in v.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The href of `links[rel]`, expanded when templated.
fn link(res: &Value, rel: &str, vars: &[(&str, &str)]) -> String {
    let l = &res["_links"][rel];
    let href = l["href"]
        .as_str()
        .unwrap_or_else(|| panic!("no _links.{rel} in {res}"));
    if l["templated"] == true {
        expand(href, vars)
    } else {
        assert!(!href.contains('{'), "{rel} is a template but not marked so");
        href.to_string()
    }
}

fn get_ok(fx: &Fx, href: &str) -> Value {
    let r = fx.get(href);
    assert_eq!(
        r.status,
        200,
        "GET {href}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

#[test]
fn sdk_walks_from_me_to_an_operation_and_its_tickets_by_links_only() {
    let fx = Fx::new(Config {
        store_ids: vec![42, 43],
        ..Config::default()
    });
    // the session: what SessionResource reads
    let me = get_ok(&fx, "/v1/me");
    assert_eq!(link(&me, "self", &[]), "/v1/me");
    assert_eq!(me["_embedded"]["account"]["id"], 1);
    assert_eq!(me["_embedded"]["account"]["login"], "sandbox");
    for k in ["token", "email", "language"] {
        assert!(me[k].is_string(), "{k}: {me}");
    }
    assert!(me["roles"].is_array());
    let stores = me["_embedded"]["store"].as_array().unwrap();
    assert_eq!(stores.len(), 2);
    let store = stores
        .iter()
        .find(|s| s["id"] == 43)
        .expect("store 43 listed");

    // the store's self link answers the store
    let again = get_ok(&fx, &link(store, "self", &[]));
    assert_eq!(&again, store);

    // an operation through the `order` template
    let href = link(store, "order", &[("operation", "ship")]);
    let orders = json!({"order": [ship(1), ship(2), ship(3)]});
    let r = fx.post(&href, &orders);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let batch = r.json();

    // its tickets, page after page through `next`
    let mut seen = Vec::new();
    let mut page_href = Some(link(&batch, "ticket", &[]));
    while let Some(h) = page_href {
        let page = get_ok(&fx, &h);
        for t in page["_embedded"]["ticket"].as_array().unwrap() {
            assert_eq!(t["batchId"], batch["id"]);
            // each ticket's self link answers that ticket
            assert_eq!(&get_ok(&fx, &link(t, "self", &[])), t);
            seen.push(t["payload"]["id"].as_i64().unwrap());
        }
        page_href = page["_links"].get("next").map(|_| link(&page, "next", &[]));
    }
    assert_eq!(seen, [1, 2, 3]);

    // the store-wide ticket collection
    let all = get_ok(&fx, &link(store, "ticket", &[]));
    assert_eq!(all["total"], 3);

    // the order collection: the template with no operation (RFC 6570
    // leaves the trailing slash), each order by its self link
    let list = get_ok(&fx, &link(store, "order", &[]));
    assert_eq!(list["total"], 3);
    for o in list["_embedded"]["order"].as_array().unwrap() {
        assert_eq!(o["status"], "shipped");
        assert_eq!(&get_ok(&fx, &link(o, "self", &[])), o);
    }
    // the other store saw nothing
    let s42 = stores.iter().find(|s| s["id"] == 42).unwrap();
    let empty = get_ok(&fx, &link(s42, "order", &[]));
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["_embedded"]["order"], json!([]));
}

#[test]
fn orders_show_what_operations_told() {
    let fx = Fx::default();
    fx.op(
        "accept",
        json!([{"id": 10}, {"reference": "R-1", "channelName": "amazon"}]),
    );
    fx.op(
        "acknowledge",
        json!([{"id": 10, "status": "success", "storeReference": "PS-10", "acknowledgedAt": "2024-01-01T00:00:00+00:00", "message": ""}]),
    );
    fx.config(json!({"fail_orders": {"R-1": "marketplace says no"}}));
    fx.op(
        "refuse",
        json!([{"reference": "R-1", "channelName": "amazon"}]),
    );
    fx.op(
        "refund",
        json!([{"id": 11, "reference": "M-11", "channelName": "cdiscount", "refund": {"shipping": false, "products": [{"reference": "SKU", "quantity": 1}]}}]),
    );

    let list = get_ok(&fx, "/v1/store/42/order?limit=2");
    assert_eq!(
        (list["total"].clone(), list["pages"].clone()),
        (json!(3), json!(2))
    );
    assert_eq!(
        list["_links"]["next"]["href"],
        "/v1/store/42/order?page=2&limit=2"
    );
    let o10 = &list["_embedded"]["order"][0];
    assert_eq!(o10["id"], 10);
    assert_eq!(o10["status"], "waiting_shipment");
    assert_eq!(o10["storeReference"], "PS-10");
    // named by reference only: no internal id, so no self link; the
    // failed refuse leaves the accepted status
    let r1 = &list["_embedded"]["order"][1];
    assert_eq!(r1["id"], Value::Null);
    assert_eq!(r1["reference"], "R-1");
    assert_eq!(r1["_embedded"]["channel"]["name"], "amazon");
    assert_eq!(r1["status"], "waiting_shipment");
    assert!(r1["_links"].get("self").is_none());

    let o11 = get_ok(&fx, "/v1/store/42/order/11");
    assert_eq!(o11["status"], "partially_refunded");
    assert_eq!(o11["reference"], "M-11");
    assert_eq!(o11["_embedded"]["channel"]["name"], "cdiscount");

    let r = fx.get("/v1/store/42/order/999");
    assert_problem(&r, 404);
    assert_eq!(r.detail(), "Order 999 not found");
    let r = fx.get("/v1/store/7/order");
    assert_problem(&r, 404);
    assert_eq!(r.detail(), "Store 7 not found");
    let r = fx.get("/v1/store/7");
    assert_problem(&r, 404);
    assert_eq!(r.detail(), "Store 7 not found");
    // reset forgets them
    fx.ctl("POST", "/_sandbox/reset", json!({}));
    assert_eq!(get_ok(&fx, "/v1/store/42/order")["total"], 0);
}

#[test]
fn me_echoes_the_token_only_when_asked() {
    let fx = Fx::default();
    let me = get_ok(&fx, "/v1/me");
    assert_ne!(me["token"], TOKEN);
    assert!(!me.to_string().contains(TOKEN));
    fx.config(json!({"echo_token": true}));
    assert_eq!(get_ok(&fx, "/v1/me")["token"], TOKEN);
    assert_eq!(fx.get_ctl("/_sandbox/config")["echo_token"], true);
    // the log still never holds it
    let log = fx.get_ctl("/_sandbox/log");
    assert!(!log.to_string().contains(TOKEN));
}

#[test]
fn uri_templates_expand() {
    assert_eq!(expand("/a/{x}/b", &[("x", "s h")]), "/a/s%20h/b");
    assert_eq!(expand("/a/{x}", &[]), "/a/");
}
