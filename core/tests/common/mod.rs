//! Helpers shared by the core's integration tests that drive the sandbox.

#![allow(dead_code)] // each test binary uses its own subset

use serde_json::{json, Map, Value};
use sfsync_core::settings;

pub const TOKEN: &str = "sandbox-token";
pub const STORE: i64 = 42;
pub const SHOP: i64 = 1;
pub const SYNC: &str = "SYNC_STATUS";
pub const CHECK: &str = "CHECK_TICKET_SYNC_STATUS";

/// The API client of a test: the sandbox's URL, 5 s per request.
pub fn client_for(url: &str) -> sfsync_core::api::Client {
    sfsync_core::api::Client::new(sfsync_core::api::ApiConfig {
        base_url: url.to_string(),
        timeout_ms: 5_000,
    })
    .expect("client")
}

/// A plain HTTP client for the sandbox's control API (no proxy).
pub fn control_http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest")
}

/// One call to the sandbox's control API (`/_sandbox/{path}`), JSON in and out.
pub fn sandbox_control(
    http: &reqwest::Client,
    base_url: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let url = format!("{base_url}/_sandbox/{path}");
    let http = http.clone();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    sfsync_core::runtime::block_on(async move {
        let mut req = http.request(method, url);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("control request");
        assert!(resp.status().is_success(), "control API: {}", resp.status());
        let bytes = resp.bytes().await.expect("control body");
        serde_json::from_slice(&bytes).expect("control JSON")
    })
}

/// The test shop's settings: states 4 ship, 6 cancel, 7 refund, 5 deliver,
/// retries and shipments due at once; `pairs` add or replace.
pub fn shop_settings(pairs: &[(&str, Value)]) -> Map<String, Value> {
    let mut m: Map<String, Value> = [
        (settings::SHIPPED, json!("[4]")),
        (settings::CANCELLED, json!("[6]")),
        (settings::REFUNDED, json!("[7]")),
        (settings::DELIVERED, json!("[5]")),
        (settings::RETRY_DELAY, json!("0")),
        (settings::TIME_SHIFT, json!("0")),
        // The tests that are not about it send a ship without tracking
        // number at once, as before the wait existed.
        (settings::TRACKING_WAIT, json!("0")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in pairs {
        m.insert(k.to_string(), v.clone());
    }
    m
}
