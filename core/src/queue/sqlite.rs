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
//! - Checkpoints: a WAL hook records the WAL's size after every commit
//!   ([`SqliteStore::wal_frames`], free to read) and runs the automatic
//!   checkpoint (SQLite's default of 1000 pages, or [`Options`]). With
//!   `autocheckpoint_pages: Some(0)` nothing checkpoints inside a commit and
//!   the caller decides where the fsyncs of a checkpoint are paid
//!   ([`SqliteStore::checkpoint_if_over`]); the extension does so off the
//!   merchant's request (src/php/store.rs). Durability never depends on
//!   checkpoints: a commit is in the WAL.
//!
//! # Schema (`PRAGMA user_version = 1`)
//!
//! One table, `shoppingfeed_order`, dates in Unix seconds, `payload` as JSON
//! text, and three indexes:
//!
//! - `shoppingfeed_order_claim (id_shop, action, update_at) WHERE state IN
//!   ('pending', 'sent')`: a partial index holding only the live rows, in
//!   claim order (the rowid completes the key, so `ORDER BY update_at, id`
//!   needs no sort); done and failed rows, the bulk of an old queue, never
//!   slow a claim down.
//! - `shoppingfeed_order_order (id_order, id_shop, action)`: the upsert
//!   lookup, the supersede check and `find()`.
//! - `shoppingfeed_order_state (state, id_shop)`: `counts()` (a covering
//!   index), `retry_failed()` and `purge_done()`.
//!
//! The statements name their index (`INDEXED BY`): without `ANALYZE`
//! statistics SQLite may otherwise prefer `(state, id_shop)` for a lookup by
//! order, a full scan of the shop's rows. The hot statements also avoid
//! `ORDER BY` (with a bound parameter in the `WHERE`, the bundled SQLite
//! re-prepares such a statement at every new binding) and `RETURNING` (a
//! temporary b-tree per call): `upsert_pending` is a `BEGIN IMMEDIATE`, one
//! indexed `SELECT`, one `UPDATE` by rowid or one `INSERT`, and a `COMMIT`,
//! all cached statements.
//!
//! # What each change does
//!
//! As documented on [`Change`]; every change sets `date_upd`, a claim does
//! not. `Sent` also clears `ticket_id` (a ticket of an earlier batch is
//! stale). `Failed` keeps the action (`retry_failed` moves it back to its
//! base).
//!
//! # Superseded rows
//!
//! When a claimed row goes back to pending (`Retry`, or `Defer`/`Release` of
//! a pending row) while the same (shop, order, base action) has an unclaimed
//! pending row, or a newer (higher id) pending or sent row, the returning row
//! is settled `done` with `last_error = "superseded by a newer update (row
//! N)"`: its snapshot is older, and the newer one wins. Done and failed rows
//! never supersede anything.

use crate::error::{Error, Result};
use crate::fasthash::HashMap;
use crate::model::{self, Operation, Row, State};
use crate::queue::{Applied, Change, QueueStore};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde_json::Value;
use std::ffi::{c_char, c_int, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The version of the SQLite library this store runs on (the bundled one).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// The schema version this store writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// SQLite's own default for `wal_autocheckpoint`, in pages.
pub const DEFAULT_AUTOCHECKPOINT_PAGES: u32 = 1000;

/// Rows deleted per transaction by [`QueueStore::purge_done`], so that a
/// large purge never holds the write lock for long.
const PURGE_CHUNK: i64 = 2000;

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            synchronous_full: false,
            autocheckpoint_pages: None,
            busy_timeout_ms: 10_000,
            journal_size_limit_bytes: None,
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
    /// What the WAL hook records; boxed so that its address, handed to
    /// SQLite, stays put when the store moves.
    wal: Box<WalState>,
}

/// The WAL hook's state: the WAL's size after this connection's last
/// commit, and the automatic checkpoint threshold (0: none).
#[derive(Debug, Default)]
struct WalState {
    frames: AtomicU32,
    autocheckpoint: u32,
    /// [`SqliteStore::checkpoint_if_over`] waits for the WAL to reach this.
    retry_above: AtomicU32,
}

/// What one checkpoint did (`PRAGMA wal_checkpoint`'s row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Another checkpointer held the lock, or a reader or writer kept it
    /// from finishing.
    pub busy: bool,
    /// Frames in the WAL.
    pub log_frames: i64,
    /// Frames copied back into the database file (all of them when
    /// `checkpointed == log_frames`: the next write restarts the WAL).
    pub checkpointed_frames: i64,
}

/// SQLite's WAL hook: runs after every commit of this connection, with the
/// WAL's size in frames (pages). Records it, and checkpoints past the
/// automatic threshold like SQLite's own hook (which this one replaces).
unsafe extern "C" fn wal_hook(
    ctx: *mut c_void,
    db: *mut rusqlite::ffi::sqlite3,
    name: *const c_char,
    frames: c_int,
) -> c_int {
    // SAFETY: `ctx` is the `WalState` boxed in the store that owns `db`; the
    // hook is only called while that connection is open.
    let wal = unsafe { &*(ctx as *const WalState) };
    let frames = u32::try_from(frames).unwrap_or(0);
    wal.frames.store(frames, Ordering::Relaxed);
    if wal.autocheckpoint > 0 && frames >= wal.autocheckpoint {
        // As sqlite3WalDefaultHook: a PASSIVE checkpoint, errors ignored.
        unsafe { rusqlite::ffi::sqlite3_wal_checkpoint(db, name) };
    }
    rusqlite::ffi::SQLITE_OK
}

/// The columns of a [`Row`], in the order [`row_from`] reads them.
macro_rules! row_columns {
    () => {
        "id_shoppingfeed_order, id_order, id_shop, action, state, operation, payload, \
         batch_id, ticket_id, attempts, failures, last_error, update_at, date_add, date_upd"
    };
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS shoppingfeed_order (
    id_shoppingfeed_order INTEGER PRIMARY KEY AUTOINCREMENT,
    id_order INTEGER NOT NULL,
    id_shop INTEGER NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    operation TEXT,
    payload TEXT NOT NULL,
    batch_id TEXT,
    ticket_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    update_at INTEGER NOT NULL,
    date_add INTEGER NOT NULL,
    date_upd INTEGER NOT NULL,
    locked_by TEXT,
    locked_until INTEGER
);
CREATE INDEX IF NOT EXISTS shoppingfeed_order_claim
    ON shoppingfeed_order (id_shop, action, update_at)
    WHERE state IN ('pending', 'sent');
CREATE INDEX IF NOT EXISTS shoppingfeed_order_order
    ON shoppingfeed_order (id_order, id_shop, action);
CREATE INDEX IF NOT EXISTS shoppingfeed_order_state
    ON shoppingfeed_order (state, id_shop);
PRAGMA user_version = 1;
";

/// The unclaimed pending row(s) of (shop, order, action): normally at most
/// one (see "Superseded rows"); should there be more, each gets the newest
/// snapshot.
const UPSERT_FIND: &str = "
SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?2 AND id_shop = ?1 AND action = ?3 AND state = 'pending' AND locked_by IS NULL";

const UPSERT_UPDATE: &str = "
UPDATE shoppingfeed_order SET payload = ?2, update_at = ?3, date_upd = ?4
WHERE id_shoppingfeed_order = ?1";

const UPSERT_INSERT: &str = "
INSERT INTO shoppingfeed_order
    (id_order, id_shop, action, state, payload, attempts, failures, update_at, date_add, date_upd)
VALUES (?2, ?1, ?3, 'pending', ?4, 0, 0, ?5, ?6, ?6)";

const CLAIM: &str = concat!(
    "UPDATE shoppingfeed_order SET locked_by = ?1, locked_until = ?2
WHERE id_shoppingfeed_order IN (
    SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_claim
    WHERE id_shop = ?3 AND action = ?4 AND state IN ('pending', 'sent') AND update_at <= ?5
      AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ?5)
    ORDER BY update_at, id_shoppingfeed_order LIMIT ?6)
RETURNING ",
    row_columns!()
);

const CLAIM_ONLY: &str = concat!(
    "UPDATE shoppingfeed_order SET locked_by = ?1, locked_until = ?2
WHERE id_shoppingfeed_order = ?6 AND id_shop = ?3 AND action = ?4
  AND state IN ('pending', 'sent') AND update_at <= ?5
  AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ?5)
RETURNING ",
    row_columns!()
);

const GET: &str = concat!(
    "SELECT ",
    row_columns!(),
    " FROM shoppingfeed_order
WHERE id_shoppingfeed_order IN (SELECT value FROM json_each(?1))"
);

const FIND: &str = concat!(
    "SELECT ",
    row_columns!(),
    " FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?1 ORDER BY date_add, id_shoppingfeed_order"
);

const COUNTS: &str = "
SELECT state, COUNT(*) FROM shoppingfeed_order INDEXED BY shoppingfeed_order_state
WHERE state IN ('pending', 'sent', 'done', 'failed') AND id_shop = ?1
GROUP BY state";

/// What `apply` reads of a row before changing it.
const APPLY_READ: &str = "
SELECT action, state, attempts, failures, id_shop, id_order FROM shoppingfeed_order
WHERE id_shoppingfeed_order = ?1 AND (?2 IS NULL OR locked_by = ?2)";

/// The changes that need nothing of the row but its lease are one
/// statement each, applied only to a row still leased to the claim (the
/// last parameter; NULL: any row); `changes()` tells whether it applied (no
/// RETURNING: SQLite builds an ephemeral table for it at every execution).
const SET_TICKET_IF: &str = "
UPDATE shoppingfeed_order SET ticket_id = ?2, date_upd = ?3
WHERE id_shoppingfeed_order = ?1 AND (?4 IS NULL OR locked_by = ?4)";

/// The operation of many rows at once (a JSON array of ids), returning
/// those still leased to the claim, with their state.
const SET_OPERATIONS_IF: &str = "
UPDATE shoppingfeed_order SET operation = ?1, date_upd = ?2
WHERE id_shoppingfeed_order IN (SELECT value FROM json_each(?3))
  AND (?4 IS NULL OR locked_by = ?4)
RETURNING id_shoppingfeed_order, state";

/// Done or failed: final state, claim released.
const SETTLE_IF: &str = "
UPDATE shoppingfeed_order
SET state = ?2, last_error = ?3, locked_by = NULL, locked_until = NULL, date_upd = ?4
WHERE id_shoppingfeed_order = ?1 AND (?5 IS NULL OR locked_by = ?5)";

/// Accepted by the API: the action moves to its `CHECK_TICKET_` stage (as
/// [`model::check_action`]), due at once, claim released.
const SENT_IF: &str = "
UPDATE shoppingfeed_order
SET action = CASE WHEN substr(action, 1, 13) = 'CHECK_TICKET_' THEN action
                  ELSE 'CHECK_TICKET_' || action END,
    state = 'sent', batch_id = ?2, ticket_id = NULL, update_at = ?3,
    locked_by = NULL, locked_until = NULL, date_upd = ?3
WHERE id_shoppingfeed_order = ?1 AND (?4 IS NULL OR locked_by = ?4)";

/// A row's state.
const STATE_OF: &str = "
SELECT state FROM shoppingfeed_order WHERE id_shoppingfeed_order = ?1";

/// Retry and Defer: back in the queue with one more attempt.
const REQUEUE: &str = "
UPDATE shoppingfeed_order
SET action = ?2, state = ?3, attempts = ?4, failures = ?5, last_error = ?6, update_at = ?7,
    locked_by = NULL, locked_until = NULL, date_upd = ?8
WHERE id_shoppingfeed_order = ?1";

const RELEASE: &str = "
UPDATE shoppingfeed_order SET locked_by = NULL, locked_until = NULL, date_upd = ?2
WHERE id_shoppingfeed_order = ?1";

/// A row that supersedes row ?5 of (?2 shop, ?1 order, ?3 base action, ?4
/// its check action): an unclaimed pending row of the base action, or a
/// newer live row.
const SUPERSEDER: &str = "
SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?1 AND id_shop = ?2 AND action IN (?3, ?4) AND id_shoppingfeed_order <> ?5
  AND ((state = 'pending' AND action = ?3 AND locked_by IS NULL)
       OR (id_shoppingfeed_order > ?5 AND state IN ('pending', 'sent')))";

const SUPERSEDE: &str = "
UPDATE shoppingfeed_order SET state = 'done', last_error = ?2, date_upd = ?3
WHERE id_shoppingfeed_order = ?1";

const FAILED_ROWS: &str = "
SELECT id_shoppingfeed_order, action FROM shoppingfeed_order INDEXED BY shoppingfeed_order_state
WHERE state = 'failed' AND id_shop = ?1
  AND (?2 IS NULL OR id_order IN (SELECT value FROM json_each(?2)))";

const RETRY_FAILED: &str = "
UPDATE shoppingfeed_order
SET state = 'pending', action = ?2, attempts = 0, failures = 0, update_at = ?3,
    locked_by = NULL, locked_until = NULL, date_upd = ?3
WHERE id_shoppingfeed_order = ?1";

const PURGE: &str = "
DELETE FROM shoppingfeed_order WHERE id_shoppingfeed_order IN (
    SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_state
    WHERE state = 'done' AND date_upd < ?1 LIMIT ?2)";

impl SqliteStore {
    /// Opens (creating if needed) the queue at `path` with the default
    /// [`Options`]: WAL, `synchronous=NORMAL`, 10 s busy timeout.
    pub fn open(path: &str) -> Result<SqliteStore> {
        SqliteStore::open_with(path, Options::default())
    }

    /// Opens (creating if needed) the queue at `path`. The parent directory
    /// is created if missing; the schema is created if missing (safe when
    /// several processes open a fresh file at once). Errors are
    /// [`Error::Storage`] naming `shoppingfeed_sync.database` and the path.
    pub fn open_with(path: &str, options: Options) -> Result<SqliteStore> {
        if path.trim().is_empty() {
            return Err(Error::storage(
                "shoppingfeed_sync.database is empty: set it to a SQLite file path",
            ));
        }
        if path.contains("://") {
            return Err(Error::storage(format!(
                "shoppingfeed_sync.database: {path} is a URL; only a SQLite file path is supported"
            )));
        }
        let memory = path == ":memory:";
        if !memory {
            if let Some(dir) = Path::new(path).parent() {
                if !dir.as_os_str().is_empty() && !dir.is_dir() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::storage(format!(
                            "shoppingfeed_sync.database: cannot create {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
            }
        }
        let cannot_open = |e: rusqlite::Error| {
            Error::storage(format!(
                "shoppingfeed_sync.database: cannot open {path}: {e}"
            ))
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(cannot_open)?;
        let timeout_ms = options.busy_timeout_ms.min(i32::MAX as u32);
        conn.busy_timeout(Duration::from_millis(u64::from(timeout_ms)))
            .map_err(cannot_open)?;
        conn.set_prepared_statement_cache_capacity(32);
        let busy_wait = Duration::from_millis(u64::from(timeout_ms));

        // WAL is persistent in the file: switch only when needed (the switch
        // needs a lock that a concurrent opener may hold for a moment).
        let mode: String = retry_busy(busy_wait, || {
            conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
        })
        .map_err(cannot_open)?;
        if !mode.eq_ignore_ascii_case("wal") && !memory {
            let mode: String = retry_busy(busy_wait, || {
                conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            })
            .map_err(cannot_open)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::storage(format!(
                    "shoppingfeed_sync.database: cannot open {path}: WAL journal mode refused (got {mode})"
                )));
            }
        }
        let sync = if options.synchronous_full {
            "FULL"
        } else {
            "NORMAL"
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(cannot_open)?;
        // Automatic checkpoints and the WAL size go through our own WAL hook
        // (it replaces SQLite's, which `wal_autocheckpoint` installs).
        let wal = Box::new(WalState {
            frames: AtomicU32::new(0),
            autocheckpoint: options
                .autocheckpoint_pages
                .unwrap_or(DEFAULT_AUTOCHECKPOINT_PAGES),
            retry_above: AtomicU32::new(0),
        });
        // SAFETY: the context pointer is the boxed state, which the store
        // keeps (and drops after the connection).
        unsafe {
            rusqlite::ffi::sqlite3_wal_hook(
                conn.handle(),
                Some(wal_hook),
                &*wal as *const WalState as *mut c_void,
            );
        }
        if let Some(limit) = options.journal_size_limit_bytes {
            conn.query_row(&format!("PRAGMA journal_size_limit = {limit}"), [], |_| {
                Ok(())
            })
            .map_err(cannot_open)?;
        }

        let version: i64 = retry_busy(busy_wait, || {
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        })
        .map_err(cannot_open)?;
        if version > SCHEMA_VERSION {
            return Err(Error::storage(format!(
                "shoppingfeed_sync.database: {path} has schema version {version}, newer than this \
                 extension's {SCHEMA_VERSION}: upgrade the extension"
            )));
        }
        if version < SCHEMA_VERSION {
            retry_busy(busy_wait, || {
                conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
                    .inspect_err(|_| {
                        if !conn.is_autocommit() {
                            let _ = conn.execute_batch("ROLLBACK");
                        }
                    })
            })
            .map_err(cannot_open)?;
        }
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(cannot_open)? {
            return Err(Error::storage(format!(
                "shoppingfeed_sync.database: {path} is read-only"
            )));
        }
        Ok(SqliteStore {
            conn,
            path: path.to_string(),
            wal,
        })
    }

    /// The path this store was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Copies the WAL back into the database file as far as no reader
    /// prevents it (`PRAGMA wal_checkpoint(PASSIVE)`); never waits for a
    /// lock (it does wait for the fsyncs of the WAL and the database file).
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let done = self
            .conn
            .prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")?
            .query_row([], |r| {
                Ok(Checkpoint {
                    busy: r.get::<_, i64>(0)? != 0,
                    log_frames: r.get(1)?,
                    checkpointed_frames: r.get(2)?,
                })
            })?;
        Ok(done)
    }

    /// Checkpoints (PASSIVE) when the WAL held at least `threshold` frames
    /// after this connection's last commit; a free check below it. When a
    /// checkpoint could not copy every frame (a reader still uses older
    /// ones), the next try waits until the WAL has grown by another quarter
    /// of `threshold`, so that a blocked checkpoint is not repeated on every
    /// call. Returns what the checkpoint did, or `None` when none ran.
    pub fn checkpoint_if_over(&self, threshold: u32) -> Result<Option<Checkpoint>> {
        let frames = self.wal_frames();
        if frames < threshold.max(1) {
            self.wal.retry_above.store(0, Ordering::Relaxed);
            return Ok(None);
        }
        if frames < self.wal.retry_above.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let done = self.checkpoint();
        let complete = matches!(done, Ok(c) if !c.busy && c.checkpointed_frames >= c.log_frames);
        // Complete: nothing to do until a commit restarts the WAL (the
        // count then falls below the threshold). Incomplete or failed: wait
        // for more frames.
        let next = if complete {
            frames.saturating_add(1)
        } else {
            frames.saturating_add((threshold / 4).max(1))
        };
        self.wal.retry_above.store(next, Ordering::Relaxed);
        done.map(Some)
    }

    /// The WAL's size in frames (pages) after this connection's last
    /// commit: a free read (the WAL hook records it), for callers that
    /// decide when to [`checkpoint`](Self::checkpoint). 0 before the first
    /// commit; small again once a complete checkpoint let a commit restart
    /// the WAL.
    pub fn wal_frames(&self) -> u32 {
        self.wal.frames.load(Ordering::Relaxed)
    }

    fn requeue_or_supersede(
        &self,
        id: i64,
        live: &Live,
        new_state: State,
        now: i64,
    ) -> Result<State> {
        if new_state != State::Pending {
            return Ok(new_state);
        }
        let base = model::base_action(&live.action);
        let check = model::check_action(base);
        // The newest such row (no ORDER BY: with one, SQLite re-prepares the
        // statement at every new binding; there are only a few rows).
        let mut newer: Option<i64> = None;
        {
            let mut stmt = self.conn.prepare_cached(SUPERSEDER)?;
            let mut rows = stmt.query(params![live.id_order, live.id_shop, base, check, id])?;
            while let Some(r) = rows.next()? {
                newer = newer.max(Some(r.get(0)?));
            }
        }
        match newer {
            None => Ok(State::Pending),
            Some(n) => {
                let message = format!("superseded by a newer update (row {n})");
                self.conn
                    .prepare_cached(SUPERSEDE)?
                    .execute(params![id, message, now])?;
                Ok(State::Done)
            }
        }
    }
}

/// Retries `f` while SQLite reports the database busy or locked, for up to
/// `wait` (the busy handler covers most cases; this covers the few where
/// SQLite does not call it, e.g. a journal mode switch).
fn retry_busy<T>(
    wait: Duration,
    mut f: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let start = std::time::Instant::now();
    loop {
        match f() {
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && start.elapsed() < wait =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// A `BEGIN IMMEDIATE` transaction, rolled back on drop unless committed.
struct WriteTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> WriteTx<'c> {
    fn begin(conn: &'c Connection) -> Result<WriteTx<'c>> {
        if !conn.is_autocommit() {
            // A transaction left open by an earlier failure: never build on it.
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(WriteTx { conn, open: true })
    }

    fn commit(mut self) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The statements of one `apply` call, each looked up in the connection's
/// cache once (a lookup hashes the SQL text).
struct Statements<'c> {
    conn: &'c Connection,
    slots: [Option<rusqlite::CachedStatement<'c>>; 8],
}

impl<'c> Statements<'c> {
    fn new(conn: &'c Connection) -> Self {
        Statements {
            conn,
            slots: Default::default(),
        }
    }

    fn get(&mut self, slot: usize, sql: &str) -> Result<&mut rusqlite::CachedStatement<'c>> {
        let conn = self.conn;
        match &mut self.slots[slot] {
            Some(stmt) => Ok(stmt),
            empty => Ok(empty.insert(conn.prepare_cached(sql)?)),
        }
    }
}

/// What `apply` needs to know of a row.
struct Live {
    action: String,
    state: String,
    attempts: i64,
    failures: i64,
    id_shop: i64,
    id_order: i64,
}

fn parse_state(id: i64, text: &str) -> Result<State> {
    State::parse(text).ok_or_else(|| {
        let shown: String = text.chars().take(40).collect();
        Error::storage(format!(
            "shoppingfeed_sync queue: row {id} has an unknown state '{shown}'"
        ))
    })
}

fn text_of(v: ValueRef<'_>) -> Option<&str> {
    match v {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    }
}

/// Maps a row selected with [`row_columns!`]. A payload that is not valid
/// JSON reads as `null` (the engine then rejects that row alone), an unknown
/// operation as `None`; an unknown state is an error.
fn row_from(r: &rusqlite::Row<'_>) -> Result<Row> {
    let id: i64 = r.get(0)?;
    let state_text = text_of(r.get_ref(4)?).unwrap_or("");
    let state = parse_state(id, state_text)?;
    let operation = text_of(r.get_ref(5)?).and_then(Operation::parse);
    let payload = text_of(r.get_ref(6)?)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    Ok(Row {
        id,
        id_order: r.get(1)?,
        id_shop: r.get(2)?,
        action: r.get(3)?,
        state,
        operation,
        payload,
        batch_id: r.get(7)?,
        ticket_id: r.get(8)?,
        attempts: r.get(9)?,
        failures: r.get(10)?,
        last_error: r.get(11)?,
        update_at: r.get(12)?,
        date_add: r.get(13)?,
        date_upd: r.get(14)?,
    })
}

fn collect_rows(mut rows: rusqlite::Rows<'_>) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(row_from(r)?);
    }
    Ok(out)
}

fn json_ids(ids: &[i64]) -> Result<String> {
    serde_json::to_string(ids)
        .map_err(|e| Error::storage(format!("shoppingfeed_sync queue: cannot encode ids: {e}")))
}

impl QueueStore for SqliteStore {
    fn upsert_pending(
        &self,
        id_shop: i64,
        id_order: i64,
        action: &str,
        payload: &Value,
        due_at: i64,
        now: i64,
    ) -> Result<i64> {
        let text = serde_json::to_string(payload).map_err(|e| {
            Error::storage(format!(
                "shoppingfeed_sync queue: cannot encode the order snapshot: {e}"
            ))
        })?;
        let tx = WriteTx::begin(&self.conn)?;
        // A SELECT then an UPDATE by rowid rather than one UPDATE ...
        // RETURNING: RETURNING goes through a temporary b-tree whose page
        // cache is allocated and freed at every call, which costs more than
        // the second statement.
        let mut found: Option<i64> = None;
        let mut more: Vec<i64> = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(UPSERT_FIND)?;
            let mut rows = stmt.query(params![id_shop, id_order, action])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                match found {
                    None => found = Some(id),
                    Some(prev) => {
                        more.push(prev.min(id));
                        found = Some(prev.max(id));
                    }
                }
            }
        }
        let id = match found {
            Some(id) => {
                let mut stmt = self.conn.prepare_cached(UPSERT_UPDATE)?;
                for row in more.iter().copied().chain([id]) {
                    stmt.execute(params![row, text, due_at, now])?;
                }
                id
            }
            None => {
                self.conn
                    .prepare_cached(UPSERT_INSERT)?
                    .execute(params![id_shop, id_order, action, text, due_at, now])?;
                self.conn.last_insert_rowid()
            }
        };
        tx.commit()?;
        Ok(id)
    }

    fn claim(
        &self,
        id_shop: i64,
        action: &str,
        limit: i64,
        now: i64,
        lease_until: i64,
        claim: &str,
        only: Option<i64>,
    ) -> Result<Vec<Row>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let tx = WriteTx::begin(&self.conn)?;
        let mut rows = {
            let (sql, target) = match only {
                Some(id) => (CLAIM_ONLY, id),
                None => (CLAIM, limit),
            };
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query(params![claim, lease_until, id_shop, action, now, target])?;
            collect_rows(rows)?
        };
        tx.commit()?;
        rows.sort_by_key(|r| (r.update_at, r.id));
        Ok(rows)
    }

    fn get(&self, ids: &[i64]) -> Result<Vec<Row>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(GET)?;
        let rows = stmt.query(params![json_ids(ids)?])?;
        let mut rows = collect_rows(rows)?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    fn apply(
        &self,
        changes: &[(i64, Change)],
        claim: Option<&str>,
        now: i64,
    ) -> Result<Vec<Applied>> {
        let mut applied = Vec::with_capacity(changes.len());
        if changes.is_empty() {
            return Ok(applied);
        }
        let tx = WriteTx::begin(&self.conn)?;
        // Each statement is looked up once per call, not once per change.
        let mut stmts = Statements::new(&self.conn);
        let mut at = 0;
        while at < changes.len() {
            let (id, change) = &changes[at];
            let id = *id;
            at += 1;
            // A run of the same operation for many rows (prepareBatch):
            // one statement.
            if let Change::SetOperation(op) = change {
                let mut ids = vec![id];
                while let Some((next, Change::SetOperation(next_op))) = changes.get(at) {
                    if next_op != op {
                        break;
                    }
                    ids.push(*next);
                    at += 1;
                }
                let stmt = stmts.get(0, SET_OPERATIONS_IF)?;
                let mut rows = stmt.query(params![
                    op.map(Operation::as_str),
                    now,
                    json_ids(&ids)?,
                    claim
                ])?;
                let mut done = Vec::with_capacity(ids.len());
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    done.push((id, parse_state(id, text_of(r.get_ref(1)?).unwrap_or(""))?));
                }
                drop(rows);
                // In the order given.
                let order: HashMap<i64, usize> =
                    ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
                done.sort_by_key(|(id, _)| order.get(id).copied());
                applied.extend(done.into_iter().map(|(id, state)| Applied { id, state }));
                continue;
            }
            // The simple changes: one guarded statement each (the row must
            // still be leased to `claim`).
            let simple = match change {
                Change::SetTicket(ticket) => {
                    let n = stmts
                        .get(1, SET_TICKET_IF)?
                        .execute(params![id, ticket, now, claim])?;
                    if n == 0 {
                        Some(None)
                    } else {
                        let state: String = stmts
                            .get(2, STATE_OF)?
                            .query_row(params![id], |r| r.get(0))?;
                        Some(Some(parse_state(id, &state)?))
                    }
                }
                Change::Done { message } => {
                    let n = stmts.get(3, SETTLE_IF)?.execute(params![
                        id,
                        State::Done.as_str(),
                        message,
                        now,
                        claim
                    ])?;
                    Some((n > 0).then_some(State::Done))
                }
                Change::Failed { message } => {
                    let n = stmts.get(3, SETTLE_IF)?.execute(params![
                        id,
                        State::Failed.as_str(),
                        message,
                        now,
                        claim
                    ])?;
                    Some((n > 0).then_some(State::Failed))
                }
                Change::Sent { batch_id } => {
                    let n = stmts
                        .get(4, SENT_IF)?
                        .execute(params![id, batch_id, now, claim])?;
                    Some((n > 0).then_some(State::Sent))
                }
                _ => None,
            };
            if let Some(state) = simple {
                if let Some(state) = state {
                    applied.push(Applied { id, state });
                }
                continue;
            }
            let live = stmts
                .get(5, APPLY_READ)?
                .query_row(params![id, claim], |r| {
                    Ok(Live {
                        action: r.get(0)?,
                        state: r.get(1)?,
                        attempts: r.get(2)?,
                        failures: r.get(3)?,
                        id_shop: r.get(4)?,
                        id_order: r.get(5)?,
                    })
                })
                .optional()?;
            let Some(live) = live else { continue };
            let state = match change {
                Change::Retry {
                    due_at,
                    message,
                    order_failure,
                    max_failures,
                } => {
                    let failures = live.failures + i64::from(*order_failure);
                    let state = if *order_failure && failures >= *max_failures {
                        State::Failed
                    } else {
                        State::Pending
                    };
                    stmts.get(6, REQUEUE)?.execute(params![
                        id,
                        model::base_action(&live.action),
                        state.as_str(),
                        live.attempts.saturating_add(1),
                        failures,
                        message,
                        due_at,
                        now
                    ])?;
                    self.requeue_or_supersede(id, &live, state, now)?
                }
                Change::Defer { due_at, message } => {
                    let state = parse_state(id, &live.state)?;
                    stmts.get(6, REQUEUE)?.execute(params![
                        id,
                        live.action,
                        live.state,
                        live.attempts.saturating_add(1),
                        live.failures,
                        message,
                        due_at,
                        now
                    ])?;
                    self.requeue_or_supersede(id, &live, state, now)?
                }
                Change::Release => {
                    let state = parse_state(id, &live.state)?;
                    stmts.get(7, RELEASE)?.execute(params![id, now])?;
                    self.requeue_or_supersede(id, &live, state, now)?
                }
                // Handled above.
                Change::SetOperation(_)
                | Change::SetTicket(_)
                | Change::Done { .. }
                | Change::Failed { .. }
                | Change::Sent { .. } => continue,
            };
            applied.push(Applied { id, state });
        }
        tx.commit()?;
        Ok(applied)
    }

    fn find(&self, id_order: i64) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(FIND)?;
        let rows = stmt.query(params![id_order])?;
        collect_rows(rows)
    }

    fn counts(&self, id_shop: i64) -> Result<[i64; 4]> {
        let mut out = [0i64; 4];
        let mut stmt = self.conn.prepare_cached(COUNTS)?;
        let mut rows = stmt.query(params![id_shop])?;
        while let Some(r) = rows.next()? {
            let state = text_of(r.get_ref(0)?).and_then(State::parse);
            let n: i64 = r.get(1)?;
            if let Some(i) = state.and_then(|s| State::ALL.iter().position(|x| *x == s)) {
                out[i] = n;
            }
        }
        Ok(out)
    }

    fn retry_failed(&self, id_shop: i64, orders: Option<&[i64]>, now: i64) -> Result<u64> {
        let filter = match orders {
            Some([]) => return Ok(0),
            Some(ids) => Some(json_ids(ids)?),
            None => None,
        };
        let tx = WriteTx::begin(&self.conn)?;
        let failed: Vec<(i64, String)> = {
            let mut stmt = self.conn.prepare_cached(FAILED_ROWS)?;
            let mut rows = stmt.query(params![id_shop, filter])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((r.get(0)?, r.get(1)?));
            }
            out
        };
        let mut stmt = self.conn.prepare_cached(RETRY_FAILED)?;
        let mut n = 0u64;
        for (id, action) in &failed {
            n += stmt.execute(params![id, model::base_action(action), now])? as u64;
        }
        drop(stmt);
        tx.commit()?;
        Ok(n)
    }

    fn purge_done(&self, before: i64) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let tx = WriteTx::begin(&self.conn)?;
            let n = self
                .conn
                .prepare_cached(PURGE)?
                .execute(params![before, PURGE_CHUNK])?;
            tx.commit()?;
            total += n as u64;
            if (n as i64) < PURGE_CHUNK {
                return Ok(total);
            }
        }
    }
}
