//! The MySQL/MariaDB store of the queue: the table
//! `<prefix>shoppingfeed_order_sync_queue` in the shop's own database, so
//! that every web server of a shop and every cron share one queue.
//!
//! Same promises as the SQLite store, word for word (the same tests run on
//! both): durable before `saveOrder` returns (an InnoDB commit), claims
//! exclusive between processes on any number of machines, latest wins when
//! two web servers save one order at once, nothing lost when the server
//! restarts or drops the connection.
//!
//! # Where things are
//!
//! - `config.rs`: the `mysql://` URL and PrestaShop's `_DB_*` constants;
//!   how the queue is named in messages (never the password).
//! - `connection.rs`: the process's one connection, its session settings,
//!   reconnecting once, retrying deadlocks and lock waits.
//! - `schema.rs`: the numbered migrations (`core/migrations/mysql/`), the
//!   generated columns that stand in for SQLite's partial indexes.
//! - `saves.rs`: `upsert_pending`, one `INSERT ... ON DUPLICATE KEY UPDATE`.
//! - `claims.rs`: leasing due rows; why two runs never get the same row;
//!   the server's clock.
//! - `changes.rs`: `apply`, in memory then written back in few statements;
//!   supersedes.
//! - `inspection.rs`: `get`, `find`, `counts`, `retry_failed`, `purge_done`.
//! - `rows.rs`, `errors.rs`: decoding rows; what a failure says.
//!
//! # Clocks
//!
//! Every time the store compares or writes comes from the database
//! server's clock (`UNIX_TIMESTAMP()`); a caller's times only give
//! durations (due in N seconds, a lease of N seconds). Rows therefore show
//! the server's times.

mod changes;
mod claims;
pub mod config;
pub mod connection;
mod errors;
mod inspection;
mod overview;
mod rows;
mod saves;
pub mod schema;
mod transfer;

pub use config::{MysqlConfig, Tls, TABLE};

use crate::error::Result;
use crate::model::{Row, State};
use crate::queue::{Applied, Change, Overview, QueueStore, RowKey};
use connection::Link;
use errors::Failure;
use serde_json::Value;
use std::cell::RefCell;

/// Whose clock the store's times come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The database server's (`UNIX_TIMESTAMP()`): every web server agrees
    /// on it. The only choice in production.
    #[default]
    Server,
    /// The caller's `now`, as the SQLite store does: for tests that move
    /// time by hand (the same tests then run on both stores).
    Caller,
}

impl Clock {
    /// Now on this clock, inside the current transaction.
    fn now(self, conn: &mut impl mysql::prelude::Queryable, caller_now: i64) -> errors::Res<i64> {
        Ok(match self {
            Clock::Server => conn
                .query_first::<i64, _>("SELECT UNIX_TIMESTAMP()")?
                .unwrap_or(caller_now),
            Clock::Caller => caller_now,
        })
    }

    /// The base that saves add their delay to: NULL means the server's
    /// `UNIX_TIMESTAMP()` (see `saves.rs`).
    fn save_base(self, caller_now: i64) -> Option<i64> {
        match self {
            Clock::Server => None,
            Clock::Caller => Some(caller_now),
        }
    }
}

/// The statements whose text never changes, prepared once per connection
/// (the client caches them).
struct Sql {
    upsert: String,
    claim_due: String,
    claim_ahead: String,
    claim_only: String,
    find: String,
    counts: String,
}

impl Sql {
    fn for_table(table: &str) -> Sql {
        Sql {
            upsert: saves::upsert_sql(table),
            claim_due: claims::claim_sql(table, "update_at <= ?"),
            claim_ahead: claims::claim_sql(table, "update_at > ?"),
            claim_only: claims::claim_only_sql(table),
            find: format!(
                "SELECT {} FROM `{table}` WHERE id_order = ? \
                 ORDER BY date_add, id_shoppingfeed_order_sync_queue",
                rows::ROW_COLUMNS
            ),
            counts: format!(
                "SELECT state, COUNT(*) FROM `{table}` FORCE INDEX (sfsync_state) \
                 WHERE state IN ('pending', 'sent', 'done', 'failed') AND id_shop = ? GROUP BY state"
            ),
        }
    }
}

/// The MySQL/MariaDB queue store. Not `Sync`: one per thread (the binding
/// keeps one per PHP process).
pub struct MysqlStore {
    config: MysqlConfig,
    table: String,
    /// Where the queue is, for messages: never the password.
    shown: String,
    sql: Sql,
    link: RefCell<Link>,
    clock: Clock,
    applied_migrations: Vec<i64>,
}

impl std::fmt::Debug for MysqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl MysqlStore {
    /// Connects (within [`connection::CONNECT_TIMEOUT`]) and creates or
    /// migrates the table. Errors name the server, database and table.
    pub fn open(config: MysqlConfig) -> Result<MysqlStore> {
        MysqlStore::open_with(config, Clock::Server)
    }

    /// [`open`](Self::open) with the times taken from `clock`.
    pub fn open_with(config: MysqlConfig, clock: Clock) -> Result<MysqlStore> {
        let table = config.table();
        let shown = config.shown();
        let mut link = Link::new(&config);
        let database = config.database.clone();
        let opened = (|| -> errors::Res<Vec<i64>> {
            link.connect()?;
            link.run(|conn| schema::migrate(conn, &database, &table))
        })();
        let applied_migrations = match opened {
            Ok(v) => v,
            Err(failure) => {
                return Err(failure.named(&format!("{shown}: cannot open"), &config.password))
            }
        };
        Ok(MysqlStore {
            sql: Sql::for_table(&table),
            table,
            shown,
            config,
            link: RefCell::new(link),
            clock,
            applied_migrations,
        })
    }

    /// The migrations this open applied (empty: the table was current).
    pub fn applied_migrations(&self) -> &[i64] {
        &self.applied_migrations
    }

    /// The table's name (prefix included).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Connections opened so far (1 unless the server dropped one).
    pub fn connections_opened(&self) -> u64 {
        self.link.borrow().connects
    }

    /// Forgets the connection without closing it (a forked child must not
    /// end its parent's session); the next call connects anew.
    pub fn forget_connection(&self) {
        self.link.borrow_mut().forget();
    }

    fn named<T>(&self, result: errors::Res<T>) -> Result<T> {
        result.map_err(|f: Failure| f.named(&self.shown, &self.config.password))
    }
}

impl QueueStore for MysqlStore {
    fn upsert_pending_keyed(
        &self,
        key: &RowKey<'_>,
        payload: &Value,
        due_at: i64,
        now: i64,
    ) -> Result<i64> {
        self.named(self.save(key, payload, due_at, now))
    }

    fn claim_in(
        &self,
        store: Option<i64>,
        id_shop: i64,
        action: &str,
        limit: i64,
        now: i64,
        lease_until: i64,
        claim: &str,
        only: Option<i64>,
    ) -> Result<Vec<Row>> {
        self.named(self.lease(store, id_shop, action, limit, now, lease_until, claim, only))
    }

    fn get(&self, ids: &[i64]) -> Result<Vec<Row>> {
        self.named(self.rows_by_id(ids))
    }

    fn apply(
        &self,
        changes: &[(i64, Change)],
        claim: Option<&str>,
        now: i64,
    ) -> Result<Vec<Applied>> {
        self.named(self.apply_changes(changes, claim, now))
    }

    fn find(&self, id_order: i64) -> Result<Vec<Row>> {
        self.named(self.rows_of_order(id_order))
    }

    fn counts(&self, id_shop: i64) -> Result<[i64; 4]> {
        self.named(self.state_counts(id_shop))
    }

    fn retry_failed(&self, id_shop: i64, orders: Option<&[i64]>, now: i64) -> Result<u64> {
        self.named(self.requeue_failed(id_shop, orders, now))
    }

    fn purge_done(&self, before: i64) -> Result<u64> {
        self.named(self.delete_done(before))
    }

    fn page(&self, after_id: i64, limit: i64) -> Result<Vec<Row>> {
        self.named(self.rows_after(after_id, limit))
    }

    fn import(&self, rows: &[Row]) -> Result<u64> {
        self.named(self.import_rows(rows))
    }

    fn overview(&self, now: i64) -> Result<Overview> {
        self.named(self.overview_lines(now))
    }

    fn list(&self, state: State, id_shop: Option<i64>, limit: i64) -> Result<Vec<Row>> {
        self.named(self.rows_in_state(state, id_shop, limit))
    }

    fn describe(&self) -> String {
        let version = self.link.borrow().version.clone();
        format!("MySQL {version} {}", self.shown)
    }
}
