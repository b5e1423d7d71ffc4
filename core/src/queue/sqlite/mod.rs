//! The SQLite store of the queue: one file (`shoppingfeed_sync.database`),
//! shared by the web workers that save updates and the cron runs that claim
//! and settle them.
//!
//! # Durability and concurrency
//!
//! - WAL journal, so readers never block the writer and the writer never
//!   blocks readers.
//! - `synchronous=NORMAL` by default: a committed transaction survives a
//!   killed or crashed process (the WAL is in the OS page cache); only a power
//!   loss or kernel crash may lose the last transactions. Use
//!   [`SqliteStore::open_with`] and [`Options::synchronous_full`] for
//!   `synchronous=FULL`, which also survives a power loss at the price of an
//!   fsync per commit.
//! - `busy_timeout` of 10 s (configurable), and every write transaction starts
//!   with `BEGIN IMMEDIATE`: it takes the write lock at once, so a transaction
//!   never has to upgrade from a read snapshot (the case where SQLite returns
//!   `SQLITE_BUSY` without waiting) and concurrent processes simply queue.
//! - Claims are one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`,
//!   inside the write lock: two runs can never take the same row.
//! - Checkpoints: see `checkpoints.rs`. Durability never depends on them: a
//!   commit is in the WAL.
//!
//! # Where things are
//!
//! - `connection.rs`: opening the file, the pragmas, write transactions.
//! - `schema.rs`: the numbered migrations (`core/migrations/sqlite/`), the
//!   indexes and why the statements name them, what an opened file must hold.
//! - `saves.rs`: `upsert_pending`, the hot path of the merchant's request.
//! - `claims.rs`: leasing due rows to a run; what a clock step can do to a
//!   lease or a due time, and the bounds beyond which neither is believed.
//! - `changes.rs`: `apply`, what each [`Change`] does to
//!   a row; `supersede.rs`: a returning row that a newer update replaces.
//! - `inspection.rs`: `get`, `find`, `counts`, `retry_failed`, `purge_done`.
//! - `overview.rs`: `overview` and `list`, what an operator's commands read.
//! - `checkpoints.rs`: the WAL hook, checkpoints, [`QueueStore::upkeep`].
//! - `rows.rs`: decoding a row; `errors.rs`: what a failure says (the path, and
//!   what to do for the causes a merchant can fix).
//!
//! The [`QueueStore`] implementation below only routes each call to its file
//! and names the queue's path in any error.

mod changes;
mod checkpointer;
mod checkpoints;
mod claims;
mod connection;
mod errors;
mod inspection;
mod overview;
mod rows;
mod saves;
mod schema;
mod supersede;
mod transfer;

pub use checkpoints::{Checkpoint, DEFAULT_AUTOCHECKPOINT_PAGES};
/// The claim statement, for tests of its query plan.
#[doc(hidden)]
pub use claims::CLAIM as CLAIM_SQL;
pub use claims::{CLOCK_MARGIN_SECS, MAX_DUE_AHEAD_SECS, MAX_LEASE_AHEAD_SECS};
pub use schema::{Migration, MIGRATIONS, SCHEMA_VERSION};

use crate::error::Result;
use crate::model::{Row, State};
use crate::queue::{Applied, Change, Overview, QueueStore, RowKey, Upkeep};
use checkpoints::WalState;
use rusqlite::Connection;
use serde_json::Value;

/// The version of the SQLite library this store runs on (the bundled one).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// How a [`SqliteStore`] opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `synchronous=FULL` instead of `NORMAL`: commits also survive a power
    /// loss (an fsync of the WAL per commit). `NORMAL` already survives a
    /// killed process.
    pub synchronous_full: bool,
    /// `PRAGMA wal_autocheckpoint`: `None` keeps SQLite's default
    /// ([`DEFAULT_AUTOCHECKPOINT_PAGES`]), `Some(0)` disables automatic
    /// checkpoints (then call [`SqliteStore::checkpoint`] from a background
    /// path, e.g. the cron), `Some(n)` checkpoints when the WAL reaches `n`
    /// pages.
    pub autocheckpoint_pages: Option<u32>,
    /// How long a statement waits for another process's lock before failing.
    pub busy_timeout_ms: u32,
    /// `PRAGMA journal_size_limit`: after a checkpoint lets the WAL restart,
    /// its file is cut back to this size. `None`: SQLite's default (never cut).
    pub journal_size_limit_bytes: Option<i64>,
    /// [`QueueStore::upkeep`] after a write in the merchant's request
    /// checkpoints once the WAL holds this many pages (the bound when no
    /// cron runs). `None`: no upkeep there.
    pub request_checkpoint_pages: Option<u32>,
    /// [`QueueStore::upkeep`] after a cron step checkpoints once the WAL
    /// holds this many pages. `None`: no upkeep there.
    pub background_checkpoint_pages: Option<u32>,
    /// [`QueueStore::upkeep`] after a write in the merchant's request wakes
    /// a checkpoint thread of this process each time the WAL has grown by
    /// this many pages (see `checkpointer.rs`), so that the request path
    /// seldom reaches its own bound. `None`: no thread.
    pub background_thread_pages: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            synchronous_full: false,
            autocheckpoint_pages: None,
            busy_timeout_ms: 10_000,
            journal_size_limit_bytes: None,
            request_checkpoint_pages: None,
            background_checkpoint_pages: None,
            background_thread_pages: None,
        }
    }
}

/// The SQLite queue store. `Send` (not `Sync`): keep it behind a `Mutex` to
/// share it between threads, or open one per thread.
#[derive(Debug)]
pub struct SqliteStore {
    // Declared before `wal`: the connection (and its WAL hook) goes first.
    conn: Connection,
    path: String,
    options: Options,
    /// The migrations this open applied (empty: the file was current).
    applied_migrations: Vec<i64>,
    /// What the WAL hook records; boxed so that its address, handed to
    /// SQLite, stays put when the store moves.
    wal: Box<WalState>,
    /// The checkpoint thread, started by the first request write that
    /// needs it (`None` inside: it could not be started).
    checkpointer: std::cell::OnceCell<Option<checkpointer::Checkpointer>>,
    /// The WAL size at which the request path next wakes the thread.
    next_wake: std::cell::Cell<u32>,
}

impl SqliteStore {
    /// Opens (creating if needed) the queue at `path` with the default
    /// [`Options`]: WAL, `synchronous=NORMAL`, 10 s busy timeout.
    pub fn open(path: &str) -> Result<SqliteStore> {
        SqliteStore::open_with(path, Options::default())
    }

    /// The path this store was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The schema versions this open brought the file to, in order (empty
    /// when the file was already current, e.g. because another process
    /// migrated it a moment earlier).
    pub fn applied_migrations(&self) -> &[i64] {
        &self.applied_migrations
    }

    /// Copies the WAL back into the database file as far as no reader
    /// prevents it (`PRAGMA wal_checkpoint(PASSIVE)`); never waits for a
    /// lock (it does wait for the fsyncs of the WAL and the database file).
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        self.named(self.checkpoint_passive())
    }

    /// Checkpoints (PASSIVE) when the WAL held at least `threshold` frames
    /// after this connection's last commit; a free check below it. When a
    /// checkpoint could not copy every frame (a reader still uses older
    /// ones), the next try waits until the WAL has grown by another quarter
    /// of `threshold`, so that a blocked checkpoint is not repeated on every
    /// call. Returns what the checkpoint did, or `None` when none ran.
    pub fn checkpoint_if_over(&self, threshold: u32) -> Result<Option<Checkpoint>> {
        self.named(self.checkpoint_over(threshold))
    }

    /// The WAL's size in frames (pages) after this connection's last
    /// commit: a free read (the WAL hook records it), for callers that
    /// decide when to [`checkpoint`](Self::checkpoint). 0 before the first
    /// commit; small again once a complete checkpoint let a commit restart
    /// the WAL.
    pub fn wal_frames(&self) -> u32 {
        self.wal.frames()
    }

    /// An internal result as the caller sees it: a storage error naming
    /// this queue's path.
    fn named<T>(&self, result: errors::Res<T>) -> Result<T> {
        result.map_err(|failure| failure.in_queue(&self.path))
    }
}

impl QueueStore for SqliteStore {
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

    fn upkeep(&self, moment: Upkeep) {
        self.checkpoint_at(moment);
    }

    fn describe(&self) -> String {
        format!("SQLite {} file {}", sqlite_version(), self.path)
    }
}
