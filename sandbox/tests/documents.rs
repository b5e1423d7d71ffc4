//! `POST /v1/store/{id}/order/upload-documents` (multipart) against the
//! sandbox: tickets, limits, malformed bodies, the no-documents switches,
//! what the log keeps, and the faults and rate limit of the JSON routes.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod common;
use common::*;

const PATH: &str = "/v1/store/42/order/upload-documents";
const BOUNDARY: &str = "sb-test-7f3a";
const MIB: usize = 1024 * 1024;

/// A multipart body built by hand: the `body` part, then one `files[]`
/// part per (name, bytes).
fn multipart(body_json: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"preamble, ignored\r\n");
    b.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"body\"\r\nContent-Type: application/json\r\n\r\n").as_bytes());
    b.extend_from_slice(body_json.as_bytes());
    for (name, data) in files {
        b.extend_from_slice(format!("\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files[]\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
        b.extend_from_slice(data);
    }
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

/// A PDF-looking file of `size` bytes whose content holds `--`, CR and LF.
fn pdf(size: usize, seed: u8) -> Vec<u8> {
    let mut v = b"%PDF-1.7\r\n--\r\n".to_vec();
    v.extend(
        (0..=255u8)
            .cycle()
            .skip(seed as usize)
            .take(size.saturating_sub(v.len())),
    );
    v.truncate(size);
    v
}

fn ctype() -> String {
    format!("multipart/form-data; boundary=\"{BOUNDARY}\"")
}

fn upload_raw(fx: &Fx, ct: Option<&str>, body: &[u8]) -> Resp {
    request_bytes(fx.addr, "POST", PATH, Some(TOKEN), ct, body).unwrap()
}

fn upload(fx: &Fx, orders: Value, files: &[(&str, &[u8])]) -> Resp {
    let body = json!({ "order": orders }).to_string();
    upload_raw(fx, Some(&ctype()), &multipart(&body, files))
}

fn invoices(n: usize) -> Value {
    json!(vec![json!({"type": "invoice"}); n])
}

fn by_id(id: i64, docs: usize) -> Value {
    json!({"id": id, "reference": null, "channelName": null, "documents": invoices(docs)})
}

fn tickets(fx: &Fx, r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    fx.tickets(&r.json())["_embedded"]["ticket"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn several_orders_and_files_get_one_ticket_each() {
    let fx = Fx::default();
    let orders = json!([
        by_id(1, 2),
        {"reference": "AMZ-2", "channelName": "amazon", "documents": invoices(1)},
        {"id": 3, "documents": invoices(1)},
    ]);
    let (a, b, c, d) = (pdf(3000, 0), pdf(10, 1), pdf(70_000, 2), pdf(5, 3));
    let r = upload(
        &fx,
        orders.clone(),
        &[("A.pdf", &a), ("B.pdf", &b), ("C.pdf", &c), ("D.pdf", &d)],
    );
    let batch = r.json();
    let id = batch["id"].as_str().unwrap();
    assert_eq!(
        batch["_links"]["ticket"]["href"],
        format!("/v1/store/42/ticket?batchId={id}")
    );
    let ts = tickets(&fx, &r);
    assert_eq!(ts.len(), 3);
    for (t, el) in ts.iter().zip(orders.as_array().unwrap()) {
        assert_eq!(t["type"], "order.upload.documents");
        assert_eq!(t["state"], "succeed", "{t}");
        assert_eq!(t["payload"], *el);
    }
    // the ticket type filter knows the new type
    let page = fx.get(&format!(
        "/v1/store/42/ticket?batchId={id}&type=order.upload.documents"
    ));
    assert_eq!(page.json()["total"], 3);
    let s = fx.stats();
    assert_eq!(s["orders_received"]["upload-documents"], 3);
    // the orders are listed like those of other operations
    assert_eq!(fx.get("/v1/store/42/order").json()["total"], 3);
}

#[test]
fn a_file_that_is_not_a_pdf_fails_its_order_only() {
    let fx = Fx::default();
    let ok = pdf(100, 0);
    // order 1 takes files 1 and 2, order 2 file 3
    let r = upload(
        &fx,
        json!([by_id(1, 2), by_id(2, 1)]),
        &[
            ("INV-1.pdf", &ok),
            ("INV-2.docx", b"PK\x03\x04 not a pdf"),
            ("INV-3.pdf", &ok),
        ],
    );
    let ts = tickets(&fx, &r);
    assert_eq!(ts[0]["state"], "failed");
    let msg = ts[0]["result"]["message"].as_str().unwrap();
    assert!(
        msg.contains("INV-2.docx") && msg.contains("not a PDF"),
        "{msg}"
    );
    assert_eq!(ts[1]["state"], "succeed");

    let r = upload(
        &fx,
        json!([by_id(3, 2), by_id(4, 1)]),
        &[("a.pdf", &ok), ("b.pdf", &ok), ("c.pdf", b"%PDF")],
    );
    let ts = tickets(&fx, &r);
    assert_eq!(ts[0]["state"], "succeed");
    assert_eq!(ts[1]["state"], "failed");
    assert!(ts[1]["result"]["message"]
        .as_str()
        .unwrap()
        .contains("c.pdf"));
}

#[test]
fn files_up_to_5_mib_and_bodies_beyond_the_json_limit() {
    let fx = Fx::default();
    let exact = pdf(5 * MIB, 0);
    let r = upload(&fx, json!([by_id(1, 1)]), &[("exact.pdf", &exact)]);
    assert_eq!(tickets(&fx, &r)[0]["state"], "succeed");

    let over = pdf(5 * MIB + 1, 0);
    let r = upload(
        &fx,
        json!([by_id(2, 2)]),
        &[("small.pdf", b"%PDF-1"), ("BIG-INVOICE.pdf", &over)],
    );
    assert_problem(&r, 413);
    assert!(r.detail().contains("BIG-INVOICE.pdf"), "{}", r.detail());
    assert!(r.detail().contains("5242881"), "{}", r.detail());

    // 7 files of 5 MiB: more than the 32 MiB a JSON operation may send
    let files: Vec<(String, Vec<u8>)> = (0..7)
        .map(|i| (format!("F{i}.pdf"), pdf(5 * MIB, i)))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let r = upload(&fx, json!([by_id(3, 4), by_id(4, 3)]), &refs);
    let ts = tickets(&fx, &r);
    assert_eq!(ts.len(), 2);
    assert!(ts.iter().all(|t| t["state"] == "succeed"));
}

#[test]
fn document_and_file_counts_must_match() {
    let fx = Fx::default();
    let f = pdf(20, 0);
    let r = upload(
        &fx,
        json!([by_id(1, 2), by_id(2, 1)]),
        &[("a.pdf", &f), ("b.pdf", &f)],
    );
    assert_problem(&r, 400);
    assert!(
        r.detail().contains("3 documents") && r.detail().contains("2 files"),
        "{}",
        r.detail()
    );
    let r = upload(&fx, json!([by_id(1, 1)]), &[("a.pdf", &f), ("b.pdf", &f)]);
    assert_problem(&r, 400);
    assert!(
        r.detail().contains("1 documents but 2 files"),
        "{}",
        r.detail()
    );
    // nothing was ticketed
    assert_eq!(fx.stats()["tickets_total"], 0);
}

#[test]
fn malformed_requests_are_400_saying_what_is_wrong() {
    let fx = Fx::default();
    let f = pdf(20, 0);
    let good_body = json!({"order": [by_id(1, 1)]}).to_string();
    let good = multipart(&good_body, &[("a.pdf", &f)]);
    let ct = ctype();
    let cut = &good[..good.len() - 8]; // no close delimiter
    let credit = json!({"order": [{"id": 1, "documents": [{"type": "credit_note"}]}]}).to_string();
    let cases: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
        (Some(ct.as_str()), cut.to_vec(), "Malformed multipart body"),
        (Some("application/json"), good_body.clone().into_bytes(), "multipart/form-data"),
        (None, good.clone(), "multipart/form-data"),
        (Some("multipart/form-data"), good.clone(), "no boundary"),
        (Some("multipart/form-data; boundary=other"), good.clone(), "Malformed multipart body"),
        (Some(ct.as_str()), multipart("{\"order\": [", &[("a.pdf", &f)]), "Malformed JSON"),
        (Some(ct.as_str()), multipart("{}", &[("a.pdf", &f)]), "\"order\" array"),
        (Some(ct.as_str()), multipart(&credit, &[("a.pdf", &f)]), "credit_note"),
        (
            Some(ct.as_str()),
            multipart(&json!({"order": [{"id": 1}]}).to_string(), &[]),
            "missing documents",
        ),
        (
            Some(ct.as_str()),
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files[]\"; filename=\"a.pdf\"\r\n\r\n%PDF-\r\n--{BOUNDARY}--").into_bytes(),
            "Missing the multipart part \"body\"",
        ),
        (
            Some(ct.as_str()),
            format!("--{BOUNDARY}\r\nContent-Type: application/pdf\r\n\r\n%PDF-\r\n--{BOUNDARY}--").into_bytes(),
            "has no name",
        ),
    ];
    for (ct, body, want) in cases {
        let r = upload_raw(&fx, ct, &body);
        assert_problem(&r, 400);
        assert!(
            r.detail().contains(want),
            "{ct:?}: {:?} lacks {want:?}",
            r.detail()
        );
    }
    assert_eq!(fx.stats()["tickets_total"], 0);
}

#[test]
fn no_documents_switches_fail_those_orders() {
    let fx = Fx::default();
    let f = pdf(50, 0);
    fx.config(json!({"no_documents_channels": ["CDiscount"], "no_documents_orders": ["5"]}));
    let cfg = fx.get_ctl("/_sandbox/config");
    assert_eq!(cfg["no_documents_channels"], json!(["cdiscount"]));
    assert_eq!(cfg["no_documents_orders"], json!(["5"]));
    // a declared order's channel counts too
    fx.ctl("POST", "/_sandbox/orders", json!({"id": 7, "reference": "CD-7", "channelName": "cdiscount", "items": [{"reference": "X", "quantity": 1}]}));
    let orders = json!([
        {"reference": "CD-1", "channelName": "cdiscount", "documents": invoices(1)},
        by_id(5, 1),
        by_id(6, 1),
        by_id(7, 1),
    ]);
    let files = [
        ("a.pdf", &f[..]),
        ("b.pdf", &f[..]),
        ("c.pdf", &f[..]),
        ("d.pdf", &f[..]),
    ];
    let ts = tickets(&fx, &upload(&fx, orders.clone(), &files));
    let states: Vec<&str> = ts.iter().map(|t| t["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["failed", "failed", "succeed", "failed"]);
    assert_eq!(
        ts[0]["result"]["message"],
        "The marketplace does not accept documents"
    );

    // off again: the failed ones can be sent anew (order 6 is ignored, it succeeded)
    fx.config(json!({"no_documents_channels": null, "no_documents_orders": []}));
    let r = upload(&fx, orders, &files);
    let ts = tickets(&fx, &r);
    assert_eq!(ts.len(), 3);
    assert!(ts.iter().all(|t| t["state"] == "succeed"));
    assert_eq!(r.json()["report"][0]["id"], 6);
    assert_eq!(r.json()["report"][0]["state"], "ignored");

    let bad = raw_request(
        fx.addr,
        "POST",
        "/_sandbox/config",
        None,
        Some(r#"{"no_documents_orders": "5"}"#),
    )
    .unwrap();
    assert_problem(&bad, 400);
}

#[test]
fn the_log_keeps_names_sizes_and_hashes_not_bytes() {
    let fx = Fx::default();
    let mut a = pdf(4000, 0);
    a.extend_from_slice(b"SECRET-PDF-CONTENT-1");
    let b = b"%PDF-1.4 SECRET-PDF-CONTENT-2".to_vec();
    let orders = json!([by_id(1, 1), by_id(2, 1)]);
    let r = upload(&fx, orders.clone(), &[("INV-1.pdf", &a), ("INV-2.pdf", &b)]);
    assert_eq!(r.status, 202);
    let log = raw_request(fx.addr, "GET", "/_sandbox/log", None, None).unwrap();
    let text = String::from_utf8_lossy(&log.body).to_string();
    assert!(!text.contains("SECRET-PDF-CONTENT"), "{text}");
    let e = &log.json()["requests"][0];
    assert_eq!(e["operation"], "upload-documents");
    assert_eq!(e["orders"], 2);
    assert_eq!(e["status"], 202);
    assert_eq!(e["body"]["order"], orders);
    let hex = |d: &[u8]| -> String {
        Sha256::digest(d)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    };
    assert_eq!(
        e["body"]["files"],
        json!([
            {"name": "INV-1.pdf", "size": a.len(), "sha256": hex(&a), "content_type": "application/pdf"},
            {"name": "INV-2.pdf", "size": b.len(), "sha256": hex(&b), "content_type": "application/pdf"},
        ])
    );
    // nor do the tickets hold them
    let ts = fx.get(&format!(
        "/v1/store/42/ticket?batchId={}",
        r.json()["id"].as_str().unwrap()
    ));
    assert!(!String::from_utf8_lossy(&ts.body).contains("SECRET"));
    // a request refused for its size is logged with its summary too
    let big = pdf(5 * MIB + 1, 0);
    assert_eq!(
        upload(&fx, json!([by_id(3, 1)]), &[("huge.pdf", &big)]).status,
        413
    );
    let log = fx.get_ctl("/_sandbox/log");
    let e = log["requests"].as_array().unwrap().last().unwrap();
    assert_eq!(e["status"], 413);
    assert_eq!(e["body"]["files"][0]["size"], 5 * MIB + 1);
}

#[test]
fn faults_switches_and_the_rate_limit_apply() {
    let fx = Fx::default();
    let f = pdf(30, 0);
    let one = |id: i64| upload(&fx, json!([by_id(id, 1)]), &[("a.pdf", &f)]);

    fx.faults(json!([{"kind": "status", "status": 503, "on": "order"}]));
    assert_problem(&one(1), 503);
    fx.faults(json!([{"kind": "drop", "on": "order"}]));
    let body = multipart(
        &json!({"order": [by_id(1, 1)]}).to_string(),
        &[("a.pdf", &f)],
    );
    assert!(request_bytes(fx.addr, "POST", PATH, Some(TOKEN), Some(&ctype()), &body).is_err());
    fx.faults(json!([{"kind": "malformed", "on": "order"}]));
    let r = one(1);
    assert_eq!((r.status, r.body.as_slice()), (202, &b"{\"id\": "[..]));
    fx.faults(json!([{"kind": "slow", "ms": 300, "on": "order"}]));
    let t0 = Instant::now();
    assert_eq!(one(1).status, 202);
    assert!(t0.elapsed() >= Duration::from_millis(300));

    // the order switches
    fx.config(json!({"reject_orders": {"9": 422}, "fail_orders": {"8": "no invoice wanted"}, "cancel_orders": {"10": "refused"}}));
    let r = one(9);
    assert_problem(&r, 422);
    assert!(r.detail().contains("Order 9"));
    assert_eq!(
        tickets(&fx, &one(8))[0]["result"]["message"],
        "no invoice wanted"
    );
    assert_eq!(tickets(&fx, &one(10))[0]["state"], "canceled");

    // token and store
    let r = request_bytes(fx.addr, "POST", PATH, Some("wrong"), Some(&ctype()), &body).unwrap();
    assert_problem(&r, 403);
    let r = request_bytes(
        fx.addr,
        "POST",
        "/v1/store/999/order/upload-documents",
        Some(TOKEN),
        Some(&ctype()),
        &body,
    )
    .unwrap();
    assert_problem(&r, 404);
    assert_eq!(r.detail(), "Store 999 not found");

    // the rate limit: one request per minute
    fx.config(json!({"rate_limit": {"requests": 1, "per_ms": 60000}}));
    let r = one(20);
    assert_eq!(r.status, 202);
    assert_eq!(r.header("x-ratelimit-limit"), Some("1/60"));
    let r = one(21);
    assert_problem(&r, 429);
    assert!(r.header("x-ratelimit-wait").is_some());
    assert_eq!(fx.stats()["rate_limited"], 1);
    // latency too
    fx.config(json!({"rate_limit": null, "latency_ms": 200}));
    let t0 = Instant::now();
    assert_eq!(one(22).status, 202);
    assert!(t0.elapsed() >= Duration::from_millis(200));
}
