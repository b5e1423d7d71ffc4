//! The two fields beside the status, through the engine, against a real
//! SQLite queue and the sandbox: partial refunds (`SYNC_REFUND`, one row
//! per credit slip) and invoices (`SYNC_INVOICE`, multipart
//! `upload-documents`), with the faults an upload meets.

use serde_json::{json, Map, Value};
use sfsandbox::{Config, Sandbox};
use sfsync_core::api::Client;
use sfsync_core::engine::{self, Mode, Report, SaveRequest, Target};
use sfsync_core::invoice;
use sfsync_core::model::State;
use sfsync_core::queue::{QueueStore, SqliteStore};
use sfsync_core::time;

mod common;
use common::{client_for, control_http, sandbox_control, shop_settings, SHOP, STORE, TOKEN};

const REFUND: &str = "SYNC_REFUND";
const INVOICE: &str = "SYNC_INVOICE";

struct Env {
    sb: Sandbox,
    store: SqliteStore,
    client: Client,
    http: reqwest::Client,
    settings: Map<String, Value>,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let sb = Sandbox::start_background(Config::default()).expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("queue.sqlite");
    let store = SqliteStore::open(path.to_str().expect("utf-8 path")).expect("store");
    let client = client_for(&sb.url());
    let http = control_http();
    Env {
        sb,
        store,
        client,
        http,
        settings: shop_settings(&[("SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS", json!(2))]),
        _dir: dir,
    }
}

/// A PDF of `size` bytes, binary past its header.
fn pdf(size: usize, tag: &str) -> Vec<u8> {
    let mut b = format!("%PDF-1.4\n% {tag}\n").into_bytes();
    let mut i = 0u8;
    while b.len() < size {
        b.push(i);
        i = i.wrapping_add(37);
    }
    b.truncate(size);
    b
}

fn sha256_hex(bytes: &[u8]) -> String {
    // The sandbox logs the SHA-256 of every file; the test compares with
    // the system's sha256sum rather than pulling in a hash crate.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, bytes).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(&f)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

fn invoice_snapshot(id: i64, docs: &[(&str, &[u8])]) -> Value {
    let documents: Vec<Value> = docs
        .iter()
        .map(|(name, bytes)| json!({"name": name, "content_base64": invoice::encode(bytes)}))
        .collect();
    json!({"id_internal_shoppingfeed": id, "documents": documents})
}

fn slip_snapshot(id: i64, slip: i64, products: Value) -> Value {
    json!({"id_internal_shoppingfeed": id, "id_order_slip": slip,
           "refund": {"shipping": false, "products": products}})
}

impl Env {
    fn ctl(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        sandbox_control(&self.http, &self.sb.url(), method, path, body)
    }

    fn save(&self, action: &str, id_order: i64, snapshot: Value) -> sfsync_core::Result<i64> {
        engine::save(
            &self.store,
            &self.settings,
            &SaveRequest {
                id_shop: SHOP,
                id_order,
                action: action.into(),
                snapshot,
                store_id: 0,
            },
            time::now(),
        )
    }

    fn target(&self) -> Target<'static> {
        Target {
            token: TOKEN,
            store_id: STORE,
            mode: Mode::Batch,
        }
    }

    fn send(&self, action: &str) -> Report {
        let s = &self.settings;
        let claim = engine::claim(&self.store, s, SHOP, action, None, time::now()).unwrap();
        let prepared =
            engine::prepare(&self.store, s, &claim.rows, Some(&claim.token), time::now()).unwrap();
        engine::send(
            &self.store,
            &self.client,
            s,
            self.target(),
            &prepared.operations,
            Some(&claim.token),
        )
        .unwrap()
    }

    fn check(&self, action: &str) -> Report {
        let s = &self.settings;
        let check = format!("CHECK_TICKET_{action}");
        let claim = engine::claim(&self.store, s, SHOP, &check, None, time::now()).unwrap();
        engine::check(
            &self.store,
            &self.client,
            s,
            self.target(),
            &claim.rows,
            Some(&claim.token),
        )
        .unwrap()
    }

    /// The upload requests logged: (status, body: the body part and the files' names, sizes, hashes).
    fn uploads(&self) -> Vec<(Option<u64>, Value)> {
        let log = self.ctl("GET", "log", None);
        log["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/upload-documents"))
            })
            .map(|r| {
                let body = match &r["body"] {
                    Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                    other => other.clone(),
                };
                (r["status"].as_u64(), body)
            })
            .collect()
    }

    fn state(&self, id: i64) -> State {
        self.store.get(&[id]).unwrap()[0].state
    }
}

#[test]
fn invoices_go_as_multipart_with_their_bytes_intact_and_their_tickets_are_read() {
    let e = env();
    let a = pdf(150_000, "A");
    let b = pdf(777, "B");
    let c = pdf(4_096, "C");
    let r1 = e
        .save(
            INVOICE,
            1,
            invoice_snapshot(701, &[("FA1.pdf", &a), ("FA2.pdf", &b)]),
        )
        .unwrap();
    let r2 = e
        .save(INVOICE, 2, invoice_snapshot(702, &[("FA3.pdf", &c)]))
        .unwrap();
    let report = e.send(INVOICE);
    assert_eq!(report.sent.len(), 2, "{report:?}");
    let uploads = e.uploads();
    assert_eq!(uploads.len(), 1);
    let (status, body) = &uploads[0];
    assert_eq!(*status, Some(202));
    assert_eq!(
        body["order"],
        json!([{"id": 701, "documents": [{"type": "invoice"}, {"type": "invoice"}]},
               {"id": 702, "documents": [{"type": "invoice"}]}])
    );
    let files = body["files"].as_array().unwrap();
    let seen: Vec<(String, u64, String)> = files
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
                f["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("FA1.pdf".into(), 150_000, sha256_hex(&a)),
            ("FA2.pdf".into(), 777, sha256_hex(&b)),
            ("FA3.pdf".into(), 4_096, sha256_hex(&c)),
        ]
    );
    let checked = e.check(INVOICE);
    assert_eq!(checked.succeeded.len(), 2, "{checked:?}");
    assert_eq!((e.state(r1), e.state(r2)), (State::Done, State::Done));
}

#[test]
fn a_document_over_the_limit_that_reached_the_queue_fails_alone_before_any_request() {
    let e = env();
    // Past saveOrder's check (written straight into the queue, as an older
    // build or a hand edit could have left it): prepareBatch checks again,
    // fails that row with the reason, and the others go.
    let big = pdf(invoice::MAX_DOCUMENT_BYTES + 1, "BIG");
    let over = e
        .store
        .upsert_pending(
            SHOP,
            1,
            INVOICE,
            &invoice_snapshot(711, &[("BIG.pdf", &big)]),
            0,
            time::now(),
        )
        .unwrap();
    let fine = e
        .save(
            INVOICE,
            2,
            invoice_snapshot(712, &[("OK.pdf", &pdf(100, "OK"))]),
        )
        .unwrap();
    let report = e.send(INVOICE);
    assert_eq!(report.sent, vec![fine], "{report:?}");
    let row = &e.store.get(&[over]).unwrap()[0];
    assert_eq!(row.state, State::Failed);
    let message = row.last_error.as_deref().unwrap_or("");
    assert!(
        message.contains("BIG.pdf") && message.contains("5000001"),
        "{message}"
    );
    let uploads = e.uploads();
    assert_eq!(uploads.len(), 1, "the bad row never reached the API");
    assert_eq!(uploads[0].1["files"][0]["name"], "OK.pdf");
}

#[test]
fn uploads_meet_outages_and_rate_limits_like_any_request() {
    let e = env();
    let id = e
        .save(
            INVOICE,
            1,
            invoice_snapshot(721, &[("F.pdf", &pdf(2_000, "F"))]),
        )
        .unwrap();
    for (fault, after) in [
        (
            json!({"kind": "status", "status": 503, "count": 1, "on": "order"}),
            State::Pending,
        ),
        (
            json!({"kind": "drop", "count": 1, "on": "order"}),
            State::Pending,
        ),
    ] {
        e.ctl("POST", "faults", Some(json!({ "faults": [fault] })));
        let report = e.send(INVOICE);
        assert!(report.sent.is_empty(), "{report:?}");
        let row = &e.store.get(&[id]).unwrap()[0];
        assert_eq!(row.state, after);
        assert_eq!(row.failures, 0, "an outage is no failure of the order");
        // Due again at once (RETRY_DELAY 0).
    }
    e.ctl(
        "POST",
        "faults",
        Some(json!({"faults": [{"kind": "rate_limit", "wait": 0.2, "count": 1, "on": "order"}]})),
    );
    let report = e.send(INVOICE);
    assert_eq!(
        report.sent,
        vec![id],
        "waited out the 429 and sent: {report:?}"
    );
    assert_eq!(
        e.store.get(&[id]).unwrap()[0].attempts,
        2,
        "two outages counted, the 429 not"
    );
}

#[test]
fn two_slips_of_one_order_are_two_requests_each_sent_once() {
    let e = env();
    let a = e
        .save(
            REFUND,
            1,
            slip_snapshot(731, 11, json!([{"reference": "10", "quantity": 1}])),
        )
        .unwrap();
    let b = e
        .save(
            REFUND,
            1,
            slip_snapshot(731, 12, json!([{"reference": "11_5", "quantity": 1}])),
        )
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(
        e.save(
            REFUND,
            1,
            slip_snapshot(731, 11, json!([{"reference": "10", "quantity": 1}]))
        )
        .unwrap(),
        a
    );
    // The sandbox knows the order: a refund beyond it would fail its ticket.
    e.ctl(
        "POST",
        "orders",
        Some(json!({"store": STORE, "id": 731, "items": [{"reference": "10", "quantity": 1}, {"reference": "11_5", "quantity": 1}]})),
    );
    let report = e.send(REFUND);
    assert_eq!(report.sent.len(), 2, "{report:?}");
    let checked = e.check(REFUND);
    assert_eq!(checked.succeeded.len(), 2, "{checked:?}");
    assert_eq!((e.state(a), e.state(b)), (State::Done, State::Done));
    // Saved again after it was done: nothing new, nothing sent.
    assert_eq!(
        e.save(
            REFUND,
            1,
            slip_snapshot(731, 12, json!([{"reference": "11_5", "quantity": 1}]))
        )
        .unwrap(),
        b
    );
    let claim = engine::claim(&e.store, &e.settings, SHOP, REFUND, None, time::now()).unwrap();
    assert!(claim.rows.is_empty());
}

#[test]
fn a_refund_the_marketplace_refuses_fails_after_the_attempts() {
    let e = env();
    e.ctl(
        "POST",
        "orders",
        Some(json!({"store": STORE, "id": 741, "items": [{"reference": "10", "quantity": 1}]})),
    );
    let id = e
        .save(
            REFUND,
            1,
            slip_snapshot(741, 21, json!([{"reference": "10", "quantity": 2}])),
        )
        .unwrap();
    let mut failed = Vec::new();
    for _ in 0..2 {
        e.send(REFUND);
        failed.extend(e.check(REFUND).failed);
    }
    let row = &e.store.get(&[id]).unwrap()[0];
    assert_eq!(row.state, State::Failed);
    assert_eq!(failed, vec![id]);
    assert!(
        row.last_error.as_deref().unwrap_or("").contains("10"),
        "{:?}",
        row.last_error
    );
}
