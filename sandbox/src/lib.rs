//! A local, in-memory sandbox of the Shopping Feed API subset that order
//! sync uses (auth, order operations, tickets), with a control API under
//! `/_sandbox` to inject faults and inspect what clients sent.
//!
//! It listens on 127.0.0.1 only. See `README.md` for the HTTP surface.
//!
//! ```no_run
//! let sb = sfsandbox::Sandbox::start_background(sfsandbox::Config::default()).unwrap();
//! println!("{}", sb.url()); // http://127.0.0.1:PORT
//! sb.shutdown();
//! ```

mod api;
mod body;
mod catalog;
mod documents;
mod hal;
mod multipart;
mod orders;
mod quirks;
mod rate_limit;
mod state;
mod switches;
mod util;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use api::Shared;
use util::{race, Either};

pub use api::MAX_ORDERS;
pub use body::HUGE_BODY_BYTES;
pub use state::{LOG_BODY_CAPACITY, LOG_CAPACITY};

/// Start values of the sandbox (`POST /_sandbox/reset` returns to them).
#[derive(Clone, Debug)]
pub struct Config {
    /// Bearer tokens accepted by /v1 (the first is returned by /v1/auth).
    pub tokens: Vec<String>,
    /// Stores of the account; orders and tickets of other stores are 404.
    pub store_ids: Vec<i64>,
    /// Delay before answering every /v1 request.
    pub latency_ms: u64,
    /// Time for a ticket to become final (scheduled for the first half,
    /// running for the second); 0 = final at once.
    pub ticket_delay_ms: u64,
    /// Port on 127.0.0.1; 0 = any free port.
    pub port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tokens: vec!["sandbox-token".to_string()],
            store_ids: vec![42],
            latency_ms: 0,
            ticket_delay_ms: 0,
            port: 0,
        }
    }
}

/// A running sandbox. Dropping it stops it too.
pub struct Sandbox {
    /// The bound address (always 127.0.0.1).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn bind(cfg: Config) -> io::Result<(SocketAddr, Arc<Shared>, TcpListener)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, cfg.port)).await?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the sandbox listens on 127.0.0.1 only",
        ));
    }
    Ok((addr, Arc::new(Shared::new(cfg)), listener))
}

impl Sandbox {
    /// Binds 127.0.0.1:`cfg.port` and serves on the current tokio runtime.
    pub async fn start(cfg: Config) -> io::Result<Sandbox> {
        let (addr, shared, listener) = bind(cfg).await?;
        let server = tokio::spawn(serve(listener, shared.clone()));
        Ok(Sandbox {
            addr,
            shared,
            server: Some(server),
            thread: None,
        })
    }

    /// Starts the sandbox on its own thread with its own runtime, for
    /// synchronous tests. `shutdown` (or drop) stops and joins it.
    pub fn start_background(cfg: Config) -> io::Result<Sandbox> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sf-sandbox".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("sf-sandbox-rt")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match bind(cfg).await {
                        Ok((addr, shared, listener)) => {
                            let _ = tx.send(Ok((addr, shared.clone())));
                            serve(listener, shared).await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        match rx.recv() {
            Ok(Ok((addr, shared))) => Ok(Sandbox {
                addr,
                shared,
                server: None,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other("sandbox thread died while starting"))
            }
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// True once a shutdown was asked (by `POST /_sandbox/shutdown` or here).
    pub fn is_shutting_down(&self) -> bool {
        *self.shared.shutdown.borrow()
    }

    /// Resolves once a shutdown is asked (e.g. `POST /_sandbox/shutdown`).
    pub async fn shutdown_requested(&self) {
        let mut rx = self.shared.shutdown.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Stops accepting, lets open connections finish (a few seconds at
    /// most) and waits for the server to end.
    pub async fn stop(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }

    /// Asks the server to stop; joins the thread of `start_background`.
    pub fn shutdown(self) {
        drop(self)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut rx = shared.shutdown.subscribe();
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let accepted = match race(
            async {
                let _ = rx.wait_for(|v| *v).await;
            },
            listener.accept(),
        )
        .await
        {
            Either::Left(_) => break,
            Either::Right(r) => r,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                conns.spawn(serve_conn(stream, shared.clone()));
            }
            // e.g. out of file descriptors: back off instead of spinning
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

async fn serve_conn(stream: TcpStream, shared: Arc<Shared>) {
    let mut rx = shared.shutdown.subscribe();
    let svc = service_fn(move |req| api::handle(shared.clone(), req));
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    let mut conn = pin!(conn);
    if let Either::Right(_) = race(conn.as_mut(), async {
        let _ = rx.wait_for(|v| *v).await;
    })
    .await
    {
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
    }
}
