//! The store's one connection: opened by [`MysqlStore::open`](super::MysqlStore)
//! (the binding opens a store when the first call needs it, never at module
//! startup), kept for the life of the process, reopened when the server
//! dropped it.
//!
//! # Running an operation
//!
//! [`Link::run`] runs one store operation (usually one transaction):
//!
//! - contention (deadlock, lock wait timeout, a concurrent save on the
//!   unique pending key) rolls the transaction back and runs it again, up to
//!   [`MAX_CONTENTION_TRIES`] times with a short randomized backoff (only
//!   [`MAX_LOCK_WAIT_TRIES`] for lock wait timeouts: each already waited
//!   [`LOCK_WAIT_TIMEOUT_SECS`]);
//! - a lost connection is reopened once and the operation run again. Every
//!   operation of the store may run twice: a save is an upsert (latest
//!   wins), a claim leaves at worst rows leased to a claim nobody uses
//!   until the lease ends, and a change is guarded by its claim, so a change
//!   that did commit before the connection broke is not applied again (the
//!   row is no longer leased to the claim).
//!
//! # Session settings
//!
//! `READ COMMITTED` (no gap locks: a claim never blocks the inserts of new
//! saves, and every locking read sees the latest committed row), a lock
//! wait timeout of [`LOCK_WAIT_TIMEOUT_SECS`] instead of InnoDB's 50 s (a
//! merchant's request must not hang on a stuck run), utf8mb4, and a known
//! `sql_mode` (strict; no `ANSI_QUOTES` or `NO_BACKSLASH_ESCAPES` surprise
//! from the server's own).

use super::config::{MysqlConfig, Tls};
use super::errors::{Failure, Res};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, SslOpts};
use std::time::Duration;

/// How long connecting may take before the operation fails: the TCP
/// connect, the server's greeting, the login and the session settings.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One statement's time limit on the wire (a server that stopped answering).
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// `innodb_lock_wait_timeout` of the store's sessions.
pub const LOCK_WAIT_TIMEOUT_SECS: u32 = 5;
/// Tries of one operation under contention.
pub const MAX_CONTENTION_TRIES: u32 = 10;
/// Tries of one operation whose lock waits timed out.
pub const MAX_LOCK_WAIT_TRIES: u32 = 3;
/// Operations after which the connection is closed and a new one opened.
/// The client library's connection grows by some 40 bytes per statement
/// (measured: +64 KiB per 5,000 saves, all of it freed when the connection
/// is dropped), which a PHP-FPM worker living for millions of saves would
/// keep; a reconnect (about a millisecond) every 5,000 operations bounds it
/// to some 200 KiB.
pub const RECYCLE_AFTER_OPERATIONS: u64 = 5_000;

pub(super) struct Link {
    opts: Opts,
    conn: Option<Conn>,
    /// The server's version string, read at the first connection.
    pub(super) version: String,
    /// Connections opened, for tests and `describe`.
    pub(super) connects: u64,
    /// Operations run on the current connection.
    operations: u64,
}

impl Link {
    pub(super) fn new(config: &MysqlConfig) -> Link {
        Link {
            opts: opts_of(config),
            conn: None,
            version: String::new(),
            connects: 0,
            operations: 0,
        }
    }

    /// The open connection, connecting when there is none.
    fn conn(&mut self) -> Res<&mut Conn> {
        if self.conn.is_none() {
            let mut conn = connect_within(self.opts.clone(), CONNECT_TIMEOUT)?;
            self.connects += 1;
            if self.version.is_empty() {
                // MariaDB's full name ("10.11.6-MariaDB-...") for describe().
                let version: Option<String> = conn.query_first("SELECT VERSION()")?;
                self.version = version.unwrap_or_default();
            }
            self.conn = Some(conn);
            self.operations = 0;
        }
        self.operations += 1;
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// Connects now (the open): an unreachable server fails here.
    pub(super) fn connect(&mut self) -> Res<()> {
        self.conn().map(|_| ())
    }

    /// Runs `op` on the connection with the retries of the module comment.
    pub(super) fn run<T>(&mut self, mut op: impl FnMut(&mut Conn) -> Res<T>) -> Res<T> {
        if self.operations >= RECYCLE_AFTER_OPERATIONS {
            // Between two operations: no transaction is open.
            self.conn = None;
        }
        let mut reconnected = false;
        let mut tries = 0u32;
        let mut lock_waits = 0u32;
        loop {
            let result = match self.conn() {
                Ok(conn) => op(conn),
                // A connect failure after a lost connection is final.
                Err(e) => return Err(e),
            };
            let failure = match result {
                Ok(value) => return Ok(value),
                Err(f) => f,
            };
            if failure.is_connection_lost() {
                // Never reuse it: the next call opens a new one.
                self.conn = None;
                if !reconnected {
                    reconnected = true;
                    continue;
                }
                return Err(failure);
            }
            if failure.is_contention() {
                tries += 1;
                if failure.is_lock_wait_timeout() {
                    lock_waits += 1;
                }
                if tries < MAX_CONTENTION_TRIES && lock_waits < MAX_LOCK_WAIT_TRIES {
                    backoff(tries);
                    continue;
                }
            }
            return Err(failure);
        }
    }

    /// Forgets the connection without closing it: after a fork, the socket
    /// is the parent's (a COM_QUIT from the child would end the parent's
    /// session).
    pub(super) fn forget(&mut self) {
        if let Some(conn) = self.conn.take() {
            std::mem::forget(conn);
        }
    }
}

/// Connects, giving up after `limit` whatever the server does. The client's
/// own connect timeout covers only the TCP connect: a server that accepts
/// the connection and then says nothing (hung, overloaded, a proxy in front
/// of a dead server) would hold the merchant's request for the whole read
/// timeout ([`IO_TIMEOUT`]) while the client waits for its greeting. So the
/// connect runs on a thread of its own, started here (at first use, never
/// at module startup); a connect that gives up leaves that thread to end at
/// the read timeout, dropping what it got.
fn connect_within(opts: Opts, limit: Duration) -> Res<Conn> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sfsync-mysql-connect".to_string())
        .spawn(move || {
            let _ = sender.send(Conn::new(opts));
        })
        .map_err(|e| Failure::Data(format!("cannot start connecting: {e}")))?;
    match receiver.recv_timeout(limit) {
        Ok(result) => Ok(result?),
        Err(_) => Err(Failure::Data(format!(
            "the database server accepted the connection but did not complete the handshake \
             within {} s (is it overloaded or hung?)",
            limit.as_secs()
        ))),
    }
}

/// 1, 2, 4 ... 64 ms, each ±50 %: two colliding transactions do not meet
/// again in lockstep.
fn backoff(tries: u32) {
    let base = 1u64 << tries.min(6);
    let jitter = fastrand::u64(0..=base);
    std::thread::sleep(Duration::from_micros((base * 1000) / 2 + jitter * 1000));
}

fn opts_of(config: &MysqlConfig) -> Opts {
    let mut builder = OptsBuilder::new()
        .user(Some(config.user.clone()))
        .pass(Some(config.password.clone()))
        .db_name(Some(config.database.clone()))
        .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
        .read_timeout(Some(IO_TIMEOUT))
        .write_timeout(Some(IO_TIMEOUT))
        // The crate would otherwise ask a loopback server for its socket
        // and reconnect there: one address, the one configured.
        .prefer_socket(false)
        .tcp_nodelay(true)
        // Dead peers are found by the keepalive, not by a 30 s timeout.
        .tcp_keepalive_time_ms(Some(30_000))
        .stmt_cache_size(64)
        .init(vec![
            "SET NAMES utf8mb4 COLLATE utf8mb4_bin".to_string(),
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".to_string(),
            format!("SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_TIMEOUT_SECS}"),
            "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE'"
                .to_string(),
        ]);
    builder = match &config.socket {
        Some(socket) => builder.socket(Some(socket.clone())),
        None => builder
            .ip_or_hostname(Some(config.host.clone()))
            .tcp_port(config.port),
    };
    if config.tls == Tls::Required {
        let mut ssl = SslOpts::default();
        if let Some(ca) = &config.tls_ca {
            ssl = ssl.with_root_cert_path(Some(std::path::PathBuf::from(ca)));
        }
        builder = builder.ssl_opts(Some(ssl));
    }
    builder.into()
}
