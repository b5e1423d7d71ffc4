//! The Shopping Feed client against tiny raw HTTP servers (exotic answers:
//! dropped connections, truncated or huge bodies, hanging peers) and against
//! the in-process sandbox.

use serde_json::{json, Value};
use sfsync_core::api::{ApiConfig, ApiError, Client, MAX_BODY_BYTES};
use sfsync_core::model::Operation;
use sfsync_core::Error;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cr3t-t0ken-do-not-leak";

fn cfg(base: &str, timeout_ms: u64) -> ApiConfig {
    ApiConfig {
        base_url: base.to_string(),
        timeout_ms,
    }
}

fn client(base: &str) -> Client {
    Client::new(cfg(base, 3000)).expect("client")
}

/// Every message an error can produce: none may hold the token.
fn assert_no_token(err: &ApiError) {
    let text = format!("{} {:?}", err.message(), err);
    assert!(!text.contains(TOKEN), "token leaked in {text}");
}

// ---------------------------------------------------------------- raw server

/// One request as the raw server read it.
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

type Handler = Arc<dyn Fn(&mut TcpStream, &Request) + Send + Sync>;

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut req = Request {
        head,
        body: buf[end..].to_vec(),
    };
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while req.body.len() < len {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        req.body.extend_from_slice(&chunk[..n]);
    }
    Some(req)
}

/// Serves every connection on its own thread with `handler`; requests are
/// reported on the channel. Returns the base URL.
fn serve(handler: Handler) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let handler = handler.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                if let Some(req) = read_request(&mut stream) {
                    handler(&mut stream, &req);
                    let _ = tx.send(req);
                }
            });
        }
    });
    (base, rx)
}

/// A complete response with `Content-Length`, then the connection closes.
fn reply(status: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Handler {
    let status = status.to_string();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let body = body.into();
    Arc::new(move |stream, _req| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in &headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let _ = stream.write_all(out.as_bytes());
        let _ = stream.write_all(&body);
        let _ = stream.flush();
    })
}

fn json_reply(status: &str, body: Value) -> Handler {
    reply(
        status,
        &[("Content-Type", "application/json")],
        body.to_string(),
    )
}

fn problem(status: u16, title: &str, detail: &str) -> Handler {
    let line = format!("{status} Whatever");
    reply(
        &line,
        &[("Content-Type", "application/problem+json")],
        json!({"type": "about:blank", "title": title, "detail": detail, "status": status})
            .to_string(),
    )
}

async fn post(base: &str) -> Result<sfsync_core::api::Accepted, ApiError> {
    client(base)
        .post_operation(TOKEN, 42, Operation::Ship, &[json!({"id": 1})])
        .await
}

// ------------------------------------------------------------------- config

#[test]
fn base_url_is_validated() {
    for bad in [
        "http://api.shopping-feed.com",
        "http://example.com:8080/",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://10.0.0.1",
        "ftp://localhost",
        "api.shopping-feed.com",
        "",
        "https://user:pw@api.shopping-feed.com",
        "https://api.shopping-feed.com/?x=1",
    ] {
        match Client::new(cfg(bad, 1000)) {
            Err(Error::Input(msg)) => {
                assert!(msg.contains("shoppingfeed_sync.api_url"), "{msg}");
                assert!(msg.contains("https://"), "{msg}");
            }
            other => panic!("{bad:?} accepted: {other:?}"),
        }
    }
    let c = Client::new(cfg("https://api.shopping-feed.com/", 1000)).unwrap();
    assert_eq!(c.base_url(), "https://api.shopping-feed.com");
    let c = Client::new(cfg("https://proxy.example.com/shoppingfeed/", 1000)).unwrap();
    assert_eq!(c.base_url(), "https://proxy.example.com/shoppingfeed");
    for good in [
        "http://localhost:8080/",
        "http://LOCALHOST",
        "http://127.0.0.1:9",
        "http://127.5.6.7",
        "http://[::1]:8000",
        "https://localhost",
    ] {
        let c = Client::new(cfg(good, 1000)).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(!c.base_url().ends_with('/'));
    }
    match Client::new(cfg("https://api.shopping-feed.com", 0)) {
        Err(Error::Input(msg)) => assert!(msg.contains("shoppingfeed_sync.timeout_ms"), "{msg}"),
        other => panic!("timeout 0 accepted: {other:?}"),
    }
}

#[test]
fn shared_client_is_reused_per_config() {
    let a = Client::shared(&cfg("http://127.0.0.1:1", 1000)).unwrap();
    let b = Client::shared(&cfg("http://127.0.0.1:1", 1000)).unwrap();
    let c = Client::shared(&cfg("http://127.0.0.1:1", 2000)).unwrap();
    assert!(a.shares_pool_with(&b));
    assert!(!a.shares_pool_with(&c));
    assert!(Client::shared(&cfg("http://example.com", 1000)).is_err());
    // Another thread has its own runtime, so its own client.
    let d = thread::spawn(|| Client::shared(&cfg("http://127.0.0.1:1", 1000)).unwrap())
        .join()
        .unwrap();
    assert!(!a.shares_pool_with(&d));
}

// --------------------------------------------------------------- operations

#[tokio::test]
async fn accepted_with_ignored_report_and_request_shape() {
    let (base, rx) = serve(json_reply(
        "202 Accepted",
        json!({
            "id": "batch-7",
            "_links": {"ticket": {"href": "/v1/store/42/ticket?batchId=batch-7"}},
            "report": [
                {"id": 2, "reference": "R2", "channelName": "amazon", "state": "ignored", "message": "already shipped"},
                {"id": 3, "state": "accepted"}
            ]
        }),
    ));
    let elements = [json!({"id": 1, "carrier": "UPS"}), json!({"id": 2})];
    let accepted = client(&format!("{base}/"))
        .post_operation(TOKEN, 42, Operation::Ship, &elements)
        .await
        .unwrap();
    assert_eq!(accepted.batch_id, "batch-7");
    assert_eq!(accepted.ignored.len(), 1);
    assert_eq!(accepted.ignored[0]["id"], 2);
    assert_eq!(accepted.ignored[0]["message"], "already shipped");

    let req = rx.recv_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(req.request_line(), "POST /v1/store/42/order/ship HTTP/1.1");
    assert_eq!(
        req.header("authorization").unwrap(),
        format!("Bearer {TOKEN}")
    );
    assert_eq!(req.header("accept").unwrap(), "application/json");
    assert!(req.header("accept-encoding").unwrap().contains("gzip"));
    assert!(req
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let ua = req.header("user-agent").unwrap();
    assert!(ua.starts_with("shoppingfeed_sync/"), "{ua}");
    assert!(ua.contains("PrestaShop"), "{ua}");
    assert_eq!(req.json(), json!({"order": elements}));

    // Any 2xx with an id will do; no report means nothing ignored.
    let (base, rx) = serve(json_reply("200 OK", json!({"id": "b8"})));
    let accepted = client(&base)
        .post_operation(TOKEN, 7, Operation::Refund, &[json!({"id": 5})])
        .await
        .unwrap();
    assert_eq!(accepted.batch_id, "b8");
    assert!(accepted.ignored.is_empty());
    let req = rx.recv_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(req.request_line(), "POST /v1/store/7/order/refund HTTP/1.1");
}

#[tokio::test]
async fn success_without_a_batch_id_is_malformed() {
    for body in [
        json!({"report": []}).to_string(),
        json!({"id": ""}).to_string(),
        json!({"id": {"x": 1}}).to_string(),
        "[]".to_string(),
        "<html>ok</html>".to_string(),
        String::new(),
    ] {
        let (base, _rx) = serve(reply("202 Accepted", &[], body.clone()));
        match post(&base).await {
            Err(e @ ApiError::Malformed(_)) => {
                assert!(e.is_outage());
                assert_no_token(&e);
            }
            other => panic!("{body:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn refused_token_is_unauthorized() {
    let (base, _rx) = serve(problem(403, "Forbidden", "Service not authorized"));
    assert_eq!(
        post(&base).await,
        Err(ApiError::Unauthorized { status: 403 })
    );
    let (base, _rx) = serve(reply("401 Unauthorized", &[], ""));
    let err = post(&base).await.unwrap_err();
    assert_eq!(err, ApiError::Unauthorized { status: 401 });
    assert!(!err.is_outage());
    // A token no header can carry never leaves the process.
    let (base, rx) = serve(json_reply("202 Accepted", json!({"id": "x"})));
    for bad in ["", "   ", "tok\nen"] {
        let err = client(&base)
            .post_operation(bad, 42, Operation::Ship, &[json!({"id": 1})])
            .await
            .unwrap_err();
        assert_eq!(err, ApiError::Unauthorized { status: 0 });
        assert!(
            err.message().contains("token is empty"),
            "{}",
            err.message()
        );
    }
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}

#[tokio::test]
async fn rate_limit_wait_is_parsed() {
    for (header, wait) in [
        (Some("0.25"), 0.25),
        (Some(" 3 "), 3.0),
        (Some("0"), 0.0),
        (None, 1.0),
        (Some("-2"), 1.0),
        (Some("NaN"), 1.0),
        (Some("inf"), 1.0),
        (Some("soon"), 1.0),
    ] {
        let headers: Vec<(&str, &str)> = header
            .map(|h| ("X-RateLimit-Wait", h))
            .into_iter()
            .collect();
        let (base, _rx) = serve(reply("429 Too Many Requests", &headers, "{}"));
        assert_eq!(
            post(&base).await,
            Err(ApiError::RateLimited { wait_secs: wait }),
            "{header:?}"
        );
    }
}

#[tokio::test]
async fn client_errors_carry_the_problem_detail() {
    let (base, _rx) = serve(problem(422, "Unprocessable", "Order 123: missing carrier"));
    assert_eq!(
        post(&base).await,
        Err(ApiError::Rejected {
            status: 422,
            detail: "Order 123: missing carrier".into()
        })
    );
    // No detail: the title.
    let (base, _rx) = serve(reply(
        "400 Bad Request",
        &[("Content-Type", "application/problem+json")],
        json!({"title": "Invalid body", "status": 400}).to_string(),
    ));
    assert_eq!(
        post(&base).await,
        Err(ApiError::Rejected {
            status: 400,
            detail: "Invalid body".into()
        })
    );
    // Not JSON: the start of the body, bounded.
    let long = format!("conflict {}", "x".repeat(5000));
    let (base, _rx) = serve(reply("409 Conflict", &[], long));
    match post(&base).await {
        Err(ApiError::Rejected {
            status: 409,
            detail,
        }) => {
            assert!(detail.starts_with("conflict xxx"), "{detail}");
            assert!(detail.len() <= 300, "{}", detail.len());
        }
        other => panic!("{other:?}"),
    }
    // Invalid UTF-8 is replaced, not refused.
    let (base, _rx) = serve(reply("400 Bad Request", &[], b"bad \xff\xfe body".to_vec()));
    match post(&base).await {
        Err(ApiError::Rejected {
            status: 400,
            detail,
        }) => assert!(detail.starts_with("bad "), "{detail}"),
        other => panic!("{other:?}"),
    }
    // Empty body: the reason phrase.
    let (base, _rx) = serve(reply("404 Not Found", &[], ""));
    let err = post(&base).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Rejected {
            status: 404,
            detail: "Not Found".into()
        }
    );
    assert!(!err.is_outage());
}

#[tokio::test]
async fn server_errors_and_redirects_are_outages() {
    let (base, _rx) = serve(problem(503, "Service Unavailable", "maintenance"));
    let err = post(&base).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Server {
            status: 503,
            detail: "maintenance".into()
        }
    );
    assert!(err.is_outage());
    let (base, _rx) = serve(reply("500 Internal Server Error", &[], ""));
    assert_eq!(
        post(&base).await,
        Err(ApiError::Server {
            status: 500,
            detail: "Internal Server Error".into()
        })
    );
    // A redirect is never followed (it would replay the POST elsewhere).
    let (base, rx) = serve(reply(
        "301 Moved Permanently",
        &[("Location", "https://elsewhere.example/v1")],
        "",
    ));
    match post(&base).await {
        Err(e @ ApiError::Server { status: 301, .. }) => {
            assert!(e.is_outage());
            assert!(
                e.message().contains("shoppingfeed_sync.api_url"),
                "{}",
                e.message()
            );
        }
        other => panic!("{other:?}"),
    }
    rx.recv_timeout(Duration::from_secs(1)).unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
}

#[tokio::test]
async fn the_token_never_reaches_a_message() {
    // A server that echoes the Authorization header in every answer.
    let echo: Handler = Arc::new(|stream, req| {
        let auth = req.header("authorization").unwrap_or_default();
        let (status, body) = match req.request_line().split(' ').nth(1).unwrap_or("") {
            p if p.contains("/order/ship") => (
                "422 X",
                json!({"detail": format!("bad {auth}")}).to_string(),
            ),
            p if p.contains("/order/cancel") => ("502 X", format!("upstream said {auth}")),
            p if p.contains("/order/refund") => ("200 OK", format!("{{\"oops\": \"{auth}\"")),
            _ => ("404 X", json!({"title": auth}).to_string()),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let (base, _rx) = serve(echo);
    let c = client(&base);
    let mut errors = Vec::new();
    for op in [Operation::Ship, Operation::Cancel, Operation::Refund] {
        errors.push(
            c.post_operation(TOKEN, 42, op, &[json!({"id": 1})])
                .await
                .unwrap_err(),
        );
    }
    errors.push(c.ticket_page(TOKEN, 42, "b", 1).await.unwrap_err());
    for e in &errors {
        assert_no_token(e);
    }
    match &errors[0] {
        ApiError::Rejected { detail, .. } => {
            assert!(detail.contains("[token redacted]"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- transport

#[tokio::test]
async fn a_silent_server_times_out() {
    let hang: Handler = Arc::new(|_stream, _req| thread::sleep(Duration::from_secs(5)));
    let (base, _rx) = serve(hang);
    let c = Client::new(cfg(&base, 200)).unwrap();
    let start = Instant::now();
    let err = c
        .post_operation(TOKEN, 42, Operation::Ship, &[json!({"id": 1})])
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(err, ApiError::Transport("timed out after 200 ms".into()));
    assert!(err.is_outage());
    assert_no_token(&err);

    // A body that stalls half way is bounded by the same limit.
    let stall: Handler = Arc::new(|stream, _req| {
        let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\n{\"id\":");
        thread::sleep(Duration::from_secs(5));
    });
    let (base, _rx) = serve(stall);
    let c = Client::new(cfg(&base, 300)).unwrap();
    let start = Instant::now();
    let err = c.ticket_page(TOKEN, 42, "b", 1).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(err, ApiError::Transport("timed out after 300 ms".into()));
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = post(&format!("http://127.0.0.1:{port}")).await.unwrap_err();
    assert_eq!(err, ApiError::Transport("connection refused".into()));
    assert!(err.is_outage());
    assert_eq!(err.message(), "network: connection refused");
}

#[tokio::test]
async fn a_dropped_connection_is_transport() {
    let drop: Handler = Arc::new(|stream, _req| {
        let _ = stream.shutdown(Shutdown::Both);
    });
    let (base, _rx) = serve(drop);
    let err = post(&base).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Transport("connection closed before a response".into())
    );
    assert!(err.is_outage());

    // Closed in the middle of the body.
    let truncated: Handler = Arc::new(|stream, _req| {
        let _ =
            stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 500\r\n\r\n{\"id\": \"b");
        let _ = stream.shutdown(Shutdown::Both);
    });
    let (base, _rx) = serve(truncated);
    match post(&base).await {
        Err(ApiError::Transport(m)) => assert!(m.contains("closed"), "{m}"),
        other => panic!("{other:?}"),
    }

    // Garbage instead of HTTP.
    let garbage: Handler = Arc::new(|stream, _req| {
        let _ = stream.write_all(b"SSH-2.0-OpenSSH\r\n\r\n");
    });
    let (base, _rx) = serve(garbage);
    let err = post(&base).await.unwrap_err();
    assert!(matches!(err, ApiError::Transport(_)), "{err:?}");
    assert_no_token(&err);
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_buffering_it() {
    // Announced size: refused before reading.
    let announced: Handler = Arc::new(|stream, _req| {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{{\"id\":\"",
            MAX_BODY_BYTES + 1
        );
        thread::sleep(Duration::from_secs(2));
    });
    let (base, _rx) = serve(announced);
    let start = Instant::now();
    assert_eq!(
        post(&base).await,
        Err(ApiError::Malformed("response larger than 8 MiB".into()))
    );
    assert!(start.elapsed() < Duration::from_secs(1));

    // Unannounced (chunked, endless): stops past the limit.
    let endless: Handler = Arc::new(|stream, _req| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let piece = vec![b' '; 64 * 1024];
        let chunk = [
            format!("{:x}\r\n", piece.len()).into_bytes(),
            piece,
            b"\r\n".to_vec(),
        ]
        .concat();
        // 64 MiB at most, well past the limit; the client hangs up first.
        for _ in 0..1024 {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let (base, _rx) = serve(endless);
    let err = client(&base)
        .ticket_page(TOKEN, 42, "b", 1)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ApiError::Malformed("response larger than 8 MiB".into())
    );
    assert!(err.is_outage());
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused() {
    let Some(server) = OpensslServer::start() else {
        eprintln!("openssl not available: skipped");
        return;
    };
    let c = Client::new(cfg(&format!("https://localhost:{}", server.port), 2000)).unwrap();
    let err = c.ping(TOKEN).await.unwrap_err();
    match &err {
        ApiError::Transport(m) => assert!(m.starts_with("TLS failure"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(err.is_outage());
}

/// `openssl s_server` with a fresh self-signed certificate for localhost.
struct OpensslServer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl OpensslServer {
    fn start() -> Option<OpensslServer> {
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().ok()?;
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let ok = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "1",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = OpensslServer {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ tickets

#[tokio::test]
async fn ticket_pages_are_parsed() {
    let (base, rx) = serve(json_reply(
        "200 OK",
        json!({
            "total": 3, "count": 3, "page": 2, "pages": 3, "limit": 200,
            "_embedded": {"ticket": [
                {"id": "t1", "batchId": "b/1 x", "type": "order.notify.shipment", "state": "succeed",
                 "payload": {"id": 1}, "result": {"message": null}},
                {"id": 77, "batchId": "b/1 x", "state": "failed",
                 "payload": {"reference": "R2"}, "result": {"message": "Missing tracking number"}},
                {"id": "t3", "state": "running"}
            ]},
            "_links": {"next": {"href": "..."}},
            "meta": {"processing": true}
        }),
    ));
    let page = client(&base)
        .ticket_page(TOKEN, 42, "b/1 x", 2)
        .await
        .unwrap();
    let req = rx.recv_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(
        req.request_line(),
        "GET /v1/store/42/ticket?batchId=b%2F1+x&page=2&limit=200 HTTP/1.1"
    );
    assert_eq!(
        req.header("authorization").unwrap(),
        format!("Bearer {TOKEN}")
    );
    assert_eq!((page.page, page.pages, page.processing), (2, 3, true));
    assert_eq!(page.tickets.len(), 3);
    let t = &page.tickets;
    assert_eq!(
        (
            t[0].id.as_str(),
            t[0].state.as_str(),
            t[0].message.as_deref()
        ),
        ("t1", "succeed", None)
    );
    assert_eq!(t[0].payload, json!({"id": 1}));
    assert_eq!(t[1].id, "77");
    assert_eq!(t[1].batch_id, "b/1 x");
    assert_eq!(t[1].message.as_deref(), Some("Missing tracking number"));
    assert_eq!(t[2].batch_id, "b/1 x", "defaults to the batch asked for");
    assert_eq!(t[2].payload, Value::Null);

    // Defaults: one page, not processing; an empty collection may omit _embedded.
    let (base, _rx) = serve(json_reply("200 OK", json!({"total": 0})));
    let page = client(&base).ticket_page(TOKEN, 42, "b", 1).await.unwrap();
    assert_eq!(
        (page.page, page.pages, page.processing, page.tickets.len()),
        (1, 1, false, 0)
    );

    // A ticket without an id or state is not a ticket.
    let (base, _rx) = serve(json_reply(
        "200 OK",
        json!({"_embedded": {"ticket": [{"state": "failed"}]}}),
    ));
    assert!(matches!(
        client(&base).ticket_page(TOKEN, 42, "b", 1).await,
        Err(ApiError::Malformed(_))
    ));
    let (base, _rx) = serve(reply("200 OK", &[], "{\"_embedded\": "));
    assert!(matches!(
        client(&base).ticket_page(TOKEN, 42, "b", 1).await,
        Err(ApiError::Malformed(_))
    ));
}

#[tokio::test]
async fn an_unknown_batch_is_a_404() {
    let (base, _rx) = serve(problem(404, "Not Found", "Batch not found"));
    assert_eq!(
        client(&base).ticket_page(TOKEN, 42, "nope", 1).await,
        Err(ApiError::Rejected {
            status: 404,
            detail: "Batch not found".into()
        })
    );
}

#[tokio::test]
async fn ping_checks_the_status() {
    let (base, rx) = serve(json_reply(
        "200 OK",
        json!({"timestamp": "2024-01-01T00:00:00+00:00"}),
    ));
    client(&base).ping(TOKEN).await.unwrap();
    let req = rx.recv_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(req.request_line(), "GET /v1/ping HTTP/1.1");
    let (base, _rx) = serve(problem(403, "Forbidden", "Service not authorized"));
    assert_eq!(
        client(&base).ping(TOKEN).await,
        Err(ApiError::Unauthorized { status: 403 })
    );
}

#[tokio::test]
async fn one_client_reuses_its_connection() {
    // Keep-alive: two calls, one connection.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let tx = tx.clone();
            thread::spawn(move || {
                tx.send("connection").unwrap();
                while read_request(&mut stream).is_some() {
                    let body = json!({"id": "b"}).to_string();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 202 Accepted\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
    });
    let c = client(&base);
    for _ in 0..3 {
        c.post_operation(TOKEN, 42, Operation::Deliver, &[json!({"id": 1})])
            .await
            .unwrap();
    }
    assert_eq!(rx.try_iter().count(), 1);
}

// ------------------------------------------------------------------ sandbox

mod sandbox {
    use super::*;
    use sfsandbox::{Config, Sandbox};

    const SB_TOKEN: &str = "sandbox-token";

    async fn control(
        sb: &Sandbox,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut req = http.request(method, format!("{}/_sandbox/{path}", sb.url()));
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
    }

    async fn faults(sb: &Sandbox, list: Value) {
        control(
            sb,
            reqwest::Method::POST,
            "faults",
            Some(json!({ "faults": list })),
        )
        .await;
    }

    async fn config(sb: &Sandbox, cfg: Value) {
        control(sb, reqwest::Method::POST, "config", Some(cfg)).await;
    }

    fn ship(id: i64, tracking: &str) -> Value {
        json!({"id": id, "carrier": "UPS", "trackingNumber": tracking, "trackingLink": ""})
    }

    #[tokio::test]
    async fn operations_and_tickets() {
        let sb = Sandbox::start(Config::default()).await.unwrap();
        let c = client(&sb.url());
        let accepted = c
            .post_operation(
                SB_TOKEN,
                42,
                Operation::Ship,
                &[ship(1, "1Z1"), ship(2, "")],
            )
            .await
            .unwrap();
        assert!(!accepted.batch_id.is_empty());
        assert!(accepted.ignored.is_empty());

        let page = c
            .ticket_page(SB_TOKEN, 42, &accepted.batch_id, 1)
            .await
            .unwrap();
        assert_eq!((page.page, page.pages, page.processing), (1, 1, false));
        assert_eq!(page.tickets.len(), 2);
        let by_order = |id: i64| {
            page.tickets
                .iter()
                .find(|t| t.payload["id"] == id)
                .unwrap_or_else(|| panic!("no ticket for order {id}: {page:?}"))
        };
        assert_eq!(by_order(1).state, "succeed");
        assert_eq!(by_order(2).state, "failed");
        assert!(by_order(2)
            .message
            .as_deref()
            .unwrap_or("")
            .contains("tracking"));
        assert!(page.tickets.iter().all(|t| t.batch_id == accepted.batch_id));

        // The same operation again: the order comes back ignored.
        let again = c
            .post_operation(SB_TOKEN, 42, Operation::Ship, &[ship(1, "1Z1")])
            .await
            .unwrap();
        assert_eq!(again.ignored.len(), 1, "{again:?}");
        assert_eq!(again.ignored[0]["id"], 1);

        // A wrong token, an unknown batch, another store.
        let err = c
            .post_operation(TOKEN, 42, Operation::Deliver, &[json!({"id": 1})])
            .await
            .unwrap_err();
        assert_eq!(err, ApiError::Unauthorized { status: 403 });
        assert_no_token(&err);
        assert!(matches!(
            c.ticket_page(SB_TOKEN, 42, "no-such-batch", 1).await,
            Err(ApiError::Rejected { status: 404, .. })
        ));
        // Another store: its 404 names the store, a configuration error.
        let err = c
            .post_operation(SB_TOKEN, 7, Operation::Deliver, &[json!({"id": 1})])
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApiError::UnknownStore { store_id: 7, .. }),
            "{err:?}"
        );
        assert!(err.message().contains("shoppingfeed_store_id"), "{err:?}");
        assert!(matches!(
            c.ticket_page(SB_TOKEN, 7, "no-such-batch", 1).await,
            Err(ApiError::UnknownStore { store_id: 7, .. })
        ));
        c.ping(SB_TOKEN).await.unwrap();

        // What the sandbox saw.
        let log = control(&sb, reqwest::Method::GET, "log", None).await;
        let requests = log["requests"].as_array().unwrap();
        assert!(requests.len() >= 6, "{log}");
        assert!(!log.to_string().contains(TOKEN));
        assert_eq!(requests[0]["method"], "POST");
        assert_eq!(requests[0]["path"], "/v1/store/42/order/ship");
        assert_eq!(requests[0]["auth_ok"], true);
        sb.stop().await;
    }

    #[tokio::test]
    async fn rejected_orders_name_the_order() {
        let sb = Sandbox::start(Config::default()).await.unwrap();
        config(&sb, json!({"reject_orders": {"123": 422}})).await;
        let c = client(&sb.url());
        match c
            .post_operation(
                SB_TOKEN,
                42,
                Operation::Cancel,
                &[
                    json!({"id": 5, "reason": ""}),
                    json!({"id": 123, "reason": ""}),
                ],
            )
            .await
        {
            Err(e @ ApiError::Rejected { status: 422, .. }) => {
                let ApiError::Rejected { detail, .. } = &e else {
                    unreachable!()
                };
                assert!(detail.contains("123"), "{detail}");
                assert!(!e.is_outage());
            }
            other => panic!("{other:?}"),
        }
        sb.stop().await;
    }

    #[tokio::test]
    async fn injected_faults_are_classified() {
        let sb = Sandbox::start(Config::default()).await.unwrap();
        faults(
            &sb,
            json!([
                {"kind": "status", "status": 503, "count": 1, "on": "order"},
                {"kind": "rate_limit", "wait": 0.2},
                {"kind": "drop"},
                {"kind": "malformed"},
                {"kind": "huge"},
                {"kind": "status", "status": 502, "on": "ticket"},
                {"kind": "slow", "ms": 500}
            ]),
        )
        .await;
        let c = Client::new(cfg(&sb.url(), 3000)).unwrap();
        let order = [json!({"id": 9})];
        let send = || c.post_operation(SB_TOKEN, 42, Operation::Deliver, &order);
        let mut errors = vec![];
        match send().await {
            Err(e @ ApiError::Server { status: 503, .. }) => errors.push(e),
            other => panic!("503: {other:?}"),
        }
        match send().await {
            Err(e @ ApiError::RateLimited { .. }) => {
                assert_eq!(e, ApiError::RateLimited { wait_secs: 0.2 });
                errors.push(e);
            }
            other => panic!("429: {other:?}"),
        }
        match send().await {
            Err(e @ ApiError::Transport(_)) => errors.push(e),
            other => panic!("drop: {other:?}"),
        }
        match send().await {
            Err(e @ ApiError::Malformed(_)) => errors.push(e),
            other => panic!("malformed: {other:?}"),
        }
        match send().await {
            Err(e) => {
                assert_eq!(e, ApiError::Malformed("response larger than 8 MiB".into()));
                errors.push(e);
            }
            other => panic!("huge: {other:?}"),
        }
        match c.ticket_page(SB_TOKEN, 42, "whatever", 1).await {
            Err(e @ ApiError::Server { status: 502, .. }) => errors.push(e),
            other => panic!("502 on ticket: {other:?}"),
        }
        let fast = Client::new(cfg(&sb.url(), 200)).unwrap();
        let start = Instant::now();
        match fast
            .post_operation(SB_TOKEN, 42, Operation::Deliver, &[json!({"id": 9})])
            .await
        {
            Err(e) => {
                assert_eq!(e, ApiError::Transport("timed out after 200 ms".into()));
                errors.push(e);
            }
            other => panic!("slow: {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(1));
        for e in &errors {
            assert!(
                e.is_outage() || matches!(e, ApiError::RateLimited { .. }),
                "{e:?}"
            );
            assert_no_token(e);
            assert!(!e.message().contains(SB_TOKEN), "{e:?}");
        }
        // Faults used up: back to normal, on the same client.
        send().await.unwrap();
        sb.stop().await;
    }

    #[tokio::test]
    async fn a_hanging_sandbox_times_out() {
        let sb = Sandbox::start(Config::default()).await.unwrap();
        config(&sb, json!({"hang": true})).await;
        let c = Client::new(cfg(&sb.url(), 200)).unwrap();
        let start = Instant::now();
        let err = c.ticket_page(SB_TOKEN, 42, "b", 1).await.unwrap_err();
        assert_eq!(err, ApiError::Transport("timed out after 200 ms".into()));
        assert!(start.elapsed() < Duration::from_secs(1));
        config(&sb, json!({"hang": false, "latency_ms": 50})).await;
        let start = Instant::now();
        c.ping(SB_TOKEN).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(50));
        sb.stop().await;
    }
}
