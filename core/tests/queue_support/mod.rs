//! Helpers shared by the queue store tests: `queue_store*.rs` (the
//! `QueueStore` contract, run on every store), `queue_sqlite*.rs` (the
//! SQLite file) and `queue_mysql.rs` (what only the server store has).
//!
//! # One test, every store
//!
//! A contract test is a function `fn name(kind: Kind)` that gets its queue
//! from [`fresh`]; `store_tests!` (`#[macro_use] mod queue_support;`) turns a list of them into one `#[test]`
//! per store: `sqlite::name` and `mysql::name`. A function left out of the
//! list is dead code, which clippy refuses.
//!
//! The MySQL variants need a server: `SHOPPINGFEED_TEST_MYSQL_URL`
//! (`bash scripts/mariadb.sh start`, then `. target/mariadb/env`). Without
//! it they print "skipped: ..." and pass, unless `SHOPPINGFEED_TEST_STORE`
//! is `mysql` or `both`: then they fail, saying how to start the server.
//! `SHOPPINGFEED_TEST_STORE=sqlite` skips them even when a server is set.
//! Each MySQL fixture has its own table (`?prefix=t<random hex>_`), dropped
//! when the test passes (kept for a look when it fails).
#![allow(dead_code)]

use mysql::prelude::Queryable;
use serde_json::{json, Value};
use sfsync_core::model::State;
pub use sfsync_core::model::{ACTION_CHECK_TICKET_SYNC_STATUS, ACTION_SYNC_STATUS};
use sfsync_core::queue::mysql::{Clock, MysqlConfig, MysqlStore};
use sfsync_core::queue::{Applied, Change, QueueStore, SqliteStore};
use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const SHOP: i64 = 1;
pub const T0: i64 = 1_700_000_000;
pub const SYNC: &str = ACTION_SYNC_STATUS;
pub const CHECK: &str = ACTION_CHECK_TICKET_SYNC_STATUS;

/// The server of the MySQL variants.
pub const URL_VAR: &str = "SHOPPINGFEED_TEST_MYSQL_URL";
/// Its password, to look for in every message.
pub const PASSWORD_VAR: &str = "SHOPPINGFEED_TEST_MYSQL_PASSWORD";
/// `sqlite`, `mysql` or `both`: which stores must be tested.
pub const STORE_VAR: &str = "SHOPPINGFEED_TEST_STORE";

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Mysql,
}

/// One `#[test]` per store for each contract test `fn name(kind: Kind)`:
/// `sqlite::name` and `mysql::name` (skipped without a server, see the
/// module comment). Attributes before a name (`#[ignore]`) go to both.
#[allow(unused_macros)] // binaries of SQLite-only tests share this module
macro_rules! store_tests {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    super::$name($crate::queue_support::Kind::Sqlite)
                }
            )*
        }
        mod mysql {
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    if $crate::queue_support::mysql_url(stringify!($name)).is_some() {
                        super::$name($crate::queue_support::Kind::Mysql)
                    }
                }
            )*
        }
    };
}

/// The server's URL, or None (the test is skipped, and says so) when
/// there is none and none is required.
pub fn mysql_url(test: &str) -> Option<String> {
    let wanted = std::env::var(STORE_VAR).unwrap_or_default();
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty());
    let why = match (url, wanted.as_str()) {
        (_, "sqlite") => format!("{STORE_VAR}=sqlite"),
        (Some(url), _) => return Some(url),
        (None, "mysql" | "both") => panic!(
            "{STORE_VAR}={wanted} asks for the MySQL store tests, but {URL_VAR} is unset: \
             start the private server with `bash scripts/mariadb.sh start` and load its \
             settings with `. target/mariadb/env` (or point {URL_VAR} at a server of yours)"
        ),
        (None, _) => format!(
            "{URL_VAR} is unset (`bash scripts/mariadb.sh start; . target/mariadb/env` \
             runs them; {STORE_VAR}=mysql or both makes this an error)"
        ),
    };
    eprintln!("skipped: {test} on MySQL: {why}");
    // Output of a passing test is captured: say it once per test binary
    // where it is seen.
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the MySQL tests of this binary: {why}"
        );
    }
    None
}

/// A table prefix no other test uses: `t<16 hex>_`.
pub fn unique_prefix() -> String {
    use std::hash::{BuildHasher, Hasher};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("t{:016x}_", h.finish())
}

/// `url` with a `prefix` option added.
pub fn with_prefix(url: &str, prefix: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}prefix={prefix}")
}

/// A new MySQL queue's config (its own prefix; no table yet).
pub fn fresh_mysql_config(url: &str) -> MysqlConfig {
    MysqlConfig::from_url(&with_prefix(url, &unique_prefix())).expect("the test URL parses")
}

/// A plain connection to the server of `config` (same user and database),
/// past the store: to look at or damage its table.
pub fn raw_conn(config: &MysqlConfig) -> mysql::Conn {
    let mut builder = mysql::OptsBuilder::new()
        .user(Some(config.user.clone()))
        .pass(Some(config.password.clone()))
        .db_name(Some(config.database.clone()))
        .prefer_socket(false)
        .tcp_connect_timeout(Some(std::time::Duration::from_secs(3)));
    builder = match &config.socket {
        Some(socket) => builder.socket(Some(socket.clone())),
        None => builder
            .ip_or_hostname(Some(config.host.clone()))
            .tcp_port(config.port),
    };
    let mut conn = mysql::Conn::new(builder).expect("a raw connection to the test server");
    conn.query_drop("SET NAMES utf8mb4 COLLATE utf8mb4_bin")
        .expect("SET NAMES");
    // A DROP behind a forgotten transaction must not hang a test.
    conn.query_drop("SET SESSION lock_wait_timeout = 10")
        .expect("lock_wait_timeout");
    conn
}

/// Where a fixture's queue is: enough to open more stores on it (one per
/// thread, as each PHP process has its own).
#[derive(Debug, Clone)]
pub enum Place {
    Sqlite(String),
    Mysql { config: MysqlConfig, clock: Clock },
}

impl Place {
    pub fn open(&self) -> Box<dyn QueueStore> {
        match self {
            Place::Sqlite(path) => {
                Box::new(SqliteStore::open(path).expect("open the SQLite queue"))
            }
            Place::Mysql { .. } => Box::new(self.open_mysql()),
        }
    }

    /// The MySQL store itself (connection counts, migrations).
    pub fn open_mysql(&self) -> MysqlStore {
        match self {
            Place::Mysql { config, clock } => {
                MysqlStore::open_with(config.clone(), *clock).expect("open the MySQL queue")
            }
            Place::Sqlite(_) => panic!("not a MySQL queue"),
        }
    }
}

/// A new, empty queue of one kind, and the means to look past the store.
/// Derefs to the store: `fixture.claim(...)`, `save(&fixture, ...)`.
pub struct Fixture {
    pub store: Box<dyn QueueStore>,
    pub place: Place,
    pub kind: Kind,
    raw: RefCell<Option<mysql::Conn>>,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for Fixture {
    type Target = dyn QueueStore;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// A new queue, on the caller's clock (tests move time by hand).
pub fn fresh(kind: Kind) -> Fixture {
    fresh_with(kind, Clock::Caller)
}

/// A new queue; `clock` is the MySQL store's (SQLite's is the caller's).
pub fn fresh_with(kind: Kind, clock: Clock) -> Fixture {
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("queue.sqlite");
            let place = Place::Sqlite(path.to_str().expect("utf-8 path").to_string());
            Fixture {
                store: place.open(),
                place,
                kind,
                raw: RefCell::new(None),
                _dir: Some(dir),
            }
        }
        Kind::Mysql => {
            let url = std::env::var(URL_VAR)
                .unwrap_or_else(|_| panic!("{URL_VAR} is unset (bash scripts/mariadb.sh start)"));
            let place = Place::Mysql {
                config: fresh_mysql_config(&url),
                clock,
            };
            Fixture {
                store: place.open(),
                place,
                kind,
                raw: RefCell::new(None),
                _dir: None,
            }
        }
    }
}

impl Fixture {
    /// Another store on the same queue.
    pub fn reopen(&self) -> Box<dyn QueueStore> {
        self.place.open()
    }

    /// The queue's table.
    pub fn table(&self) -> String {
        match &self.place {
            Place::Sqlite(_) => "shoppingfeed_order".to_string(),
            Place::Mysql { config, .. } => config.table(),
        }
    }

    /// The table's id column.
    pub fn id_column(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "id_shoppingfeed_order",
            Kind::Mysql => "id_shoppingfeed_order_sync_queue",
        }
    }

    fn with_names(&self, sql: &str) -> String {
        sql.replace("{table}", &self.table())
            .replace("{id}", self.id_column())
    }

    /// Runs SQL past the store (`{table}` and `{id}` name the table and
    /// its id column); returns the rows changed.
    pub fn raw_exec(&self, sql: &str) -> u64 {
        let sql = self.with_names(sql);
        match &self.place {
            Place::Sqlite(path) => rusqlite::Connection::open(path)
                .expect("open the file")
                .execute(&sql, [])
                .unwrap_or_else(|e| panic!("{sql}: {e}")) as u64,
            Place::Mysql { config, .. } => {
                let mut raw = self.raw.borrow_mut();
                let conn = raw.get_or_insert_with(|| raw_conn(config));
                conn.query_drop(&sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                conn.affected_rows()
            }
        }
    }

    /// The lease of a row (`locked_by`, `locked_until`), read past the store.
    pub fn lease_of(&self, id: i64) -> (Option<String>, Option<i64>) {
        let sql = self.with_names("SELECT locked_by, locked_until FROM {table} WHERE {id} = ");
        let sql = format!("{sql}{id}");
        match &self.place {
            Place::Sqlite(path) => rusqlite::Connection::open(path)
                .expect("open the file")
                .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Place::Mysql { config, .. } => {
                let mut raw = self.raw.borrow_mut();
                let conn = raw.get_or_insert_with(|| raw_conn(config));
                conn.query_first(&sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .unwrap_or_else(|| panic!("row {id} exists"))
            }
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // A failed test keeps its table, to be looked at.
        if std::thread::panicking() {
            return;
        }
        if let Place::Mysql { config, .. } = &self.place {
            let sql = format!("DROP TABLE IF EXISTS `{}`", config.table());
            let mut raw = self.raw.borrow_mut();
            let conn = raw.get_or_insert_with(|| raw_conn(config));
            conn.query_drop(&sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}

pub fn snap(state: i64) -> Value {
    json!({"id_internal_shoppingfeed": 77, "id_order_state": state, "extra": {"kept": [1, 2]}})
}

pub fn save(store: &dyn QueueStore, id_order: i64, due_at: i64, now: i64) -> i64 {
    store
        .upsert_pending(SHOP, id_order, SYNC, &snap(4), due_at, now)
        .expect("upsert")
}

pub fn row(store: &dyn QueueStore, id: i64) -> sfsync_core::model::Row {
    let mut rows = store.get(&[id]).expect("get");
    assert_eq!(rows.len(), 1, "row {id} exists");
    rows.remove(0)
}

pub fn claim_all(store: &dyn QueueStore, action: &str, now: i64, token: &str) -> Vec<i64> {
    store
        .claim(SHOP, action, 1000, now, now + 300, token, None)
        .expect("claim")
        .iter()
        .map(|r| r.id)
        .collect()
}

pub fn apply1(
    store: &dyn QueueStore,
    id: i64,
    change: Change,
    claim: Option<&str>,
    now: i64,
) -> Vec<Applied> {
    store.apply(&[(id, change)], claim, now).expect("apply")
}

pub fn retry(due_at: i64, order_failure: bool, max_failures: i64) -> Change {
    Change::Retry {
        due_at,
        message: "boom".into(),
        order_failure,
        max_failures,
    }
}

pub fn fail(store: &dyn QueueStore, id_order: i64, from_check: bool) -> i64 {
    let id = save(store, id_order, T0, T0);
    if from_check {
        // Failed at the ticket stage: the row keeps its CHECK_TICKET_ action.
        apply1(
            store,
            id,
            Change::Sent {
                batch_id: "b".into(),
            },
            None,
            T0,
        );
        apply1(
            store,
            id,
            Change::Failed {
                message: "boom".into(),
            },
            None,
            T0,
        );
        assert_eq!(row(store, id).action, CHECK);
    } else {
        apply1(store, id, retry(T0, true, 1), None, T0);
    }
    let r = row(store, id);
    assert_eq!(r.state, State::Failed);
    id
}
