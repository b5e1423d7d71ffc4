//! Helpers shared by the sandbox's integration tests: a tiny raw HTTP/1.1
//! client (one connection per request, `Connection: close`) and a sandbox
//! fixture with control-API shortcuts.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};
use sfsandbox::{Config, Sandbox};

pub const TOKEN: &str = "sandbox-token";

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn detail(&self) -> String {
        self.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> io::Result<Resp> {
    let ctype = (method != "GET").then_some("application/json");
    request_bytes(
        addr,
        method,
        path,
        token,
        ctype,
        body.unwrap_or("").as_bytes(),
    )
}

/// A request with any body and Content-Type (None: no Content-Type nor
/// Content-Length header, as for a GET).
pub fn request_bytes(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\nUser-Agent: sandbox-test\r\n"
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(ct) = content_type {
        req.push_str(&format!(
            "Content-Type: {ct}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("no response ({} bytes)", buf.len()),
        ));
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    })
}

/// A sandbox on its own multi-thread runtime (the test thread stays free
/// for blocking I/O).
pub struct Fx {
    sb: Option<Sandbox>,
    pub addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

impl Fx {
    pub fn new(cfg: Config) -> Fx {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sb = rt.block_on(Sandbox::start(cfg)).unwrap();
        Fx {
            addr: sb.addr,
            sb: Some(sb),
            _rt: rt,
        }
    }

    pub fn default() -> Fx {
        Fx::new(Config::default())
    }

    pub fn get(&self, path: &str) -> Resp {
        raw_request(self.addr, "GET", path, Some(TOKEN), None).unwrap()
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        raw_request(
            self.addr,
            "POST",
            path,
            Some(TOKEN),
            Some(&body.to_string()),
        )
        .unwrap()
    }

    pub fn post_raw(&self, path: &str, body: &str) -> Resp {
        raw_request(self.addr, "POST", path, Some(TOKEN), Some(body)).unwrap()
    }

    pub fn ctl(&self, method: &str, path: &str, body: Value) -> Value {
        let b = body.to_string();
        let r = raw_request(self.addr, method, path, None, Some(&b)).unwrap();
        assert_eq!(
            r.status,
            200,
            "{method} {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    pub fn config(&self, v: Value) {
        self.ctl("POST", "/_sandbox/config", v);
    }

    pub fn faults(&self, v: Value) {
        self.ctl("POST", "/_sandbox/faults", json!({ "faults": v }));
    }

    pub fn stats(&self) -> Value {
        self.get_ctl("/_sandbox/stats")
    }

    pub fn get_ctl(&self, path: &str) -> Value {
        let r = raw_request(self.addr, "GET", path, None, None).unwrap();
        assert_eq!(r.status, 200);
        r.json()
    }

    /// POSTs an operation, expects 202, returns the body.
    pub fn op(&self, op: &str, orders: Value) -> Value {
        let r = self.post(
            &format!("/v1/store/42/order/{op}"),
            &json!({ "order": orders }),
        );
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    pub fn tickets(&self, batch: &Value) -> Value {
        let r = self.get(&format!(
            "/v1/store/42/ticket?batchId={}",
            batch["id"].as_str().unwrap()
        ));
        assert_eq!(r.status, 200);
        r.json()
    }

    pub fn states(&self, batch: &Value) -> Vec<String> {
        self.tickets(batch)["_embedded"]["ticket"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["state"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for Fx {
    fn drop(&mut self) {
        if let Some(sb) = self.sb.take() {
            sb.shutdown();
        }
    }
}

pub fn ship(id: i64) -> Value {
    json!({"id": id, "carrier": "Colissimo", "trackingNumber": format!("TN{id}"), "trackingLink": "https://t.example/x"})
}

pub fn assert_problem(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let v = r.json();
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["detail", "status", "title", "type"]);
    assert_eq!(v["status"], status);
    assert_eq!(v["type"], format!("https://httpstatus.es/{status}"));
}
