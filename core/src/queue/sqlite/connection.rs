//! Opening the queue file: the path checks, the connection and its pragmas
//! (WAL, `synchronous`, busy timeout, the WAL hook), then the schema
//! (`schema.rs`); and the write transaction every change
//! goes through.

use super::checkpoints::WalState;
use super::errors::{self, Failure, Res};
use super::schema;
use super::{Options, SqliteStore};
use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// Statements kept prepared per connection: every statement of the store
/// fits, so the hot path never parses SQL.
const STATEMENT_CACHE: usize = 32;

impl SqliteStore {
    /// Opens (creating if needed) the queue at `path`. The parent directory
    /// is created if missing; the schema is created or migrated if needed
    /// (safe when several processes open a fresh or older file at once). A
    /// file holding other tables than the queue's, or a queue table this
    /// code cannot vouch for, is refused untouched. Errors are
    /// [`Error::Storage`] naming `shoppingfeed_sync.database` and the path.
    pub fn open_with(path: &str, options: Options) -> Result<SqliteStore> {
        check_path(path)?;
        let memory = path == ":memory:";
        if !memory {
            create_parent(path)?;
        }
        let busy_wait =
            Duration::from_millis(u64::from(options.busy_timeout_ms.min(i32::MAX as u32)));
        let opened = (|| -> Res<SqliteStore> {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let mut conn = Connection::open_with_flags(path, flags)?;
            conn.busy_timeout(busy_wait)?;
            if options.busy_timeout_ms == FINE_BUSY_TIMEOUT_MS {
                // After busy_timeout, which it replaces (both set SQLite's one handler).
                conn.busy_handler(Some(fine_busy_wait))?;
            }
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            // Before anything is written (the journal mode is written into
            // the file): an unrelated database or a table from a newer or
            // unknown schema is refused untouched.
            schema::refuse_unusable(&conn, path, busy_wait)?;
            set_wal_mode(&conn, path, memory, busy_wait)?;
            let sync = if options.synchronous_full {
                "FULL"
            } else {
                "NORMAL"
            };
            conn.pragma_update(None, "synchronous", sync)?;
            let wal = WalState::install(&conn, options.autocheckpoint_pages);
            if let Some(limit) = options.journal_size_limit_bytes {
                conn.query_row(&format!("PRAGMA journal_size_limit = {limit}"), [], |_| {
                    Ok(())
                })?;
            }
            // A store from here on, so that whatever happens the connection
            // (and its WAL hook) is dropped before the hook's state.
            let mut store = SqliteStore {
                conn,
                path: path.to_string(),
                options,
                applied_migrations: Vec::new(),
                wal,
                checkpointer: std::cell::OnceCell::new(),
                next_wake: std::cell::Cell::new(0),
            };
            store.applied_migrations = schema::migrate(&store.conn, path, busy_wait)?;
            if store.conn.is_readonly(rusqlite::MAIN_DB)? {
                return Err(Failure::Refused(errors::read_only_file(path)));
            }
            Ok(store)
        })();
        opened.map_err(|failure| failure.opening(path))
    }
}

/// The values that can never name a queue file.
fn check_path(path: &str) -> Result<()> {
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
    Ok(())
}

/// Creates the directory of a new queue file.
fn create_parent(path: &str) -> Result<()> {
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
    Ok(())
}

/// WAL is persistent in the file: switch only when needed (the switch
/// needs a lock that a concurrent opener may hold for a moment).
fn set_wal_mode(conn: &Connection, path: &str, memory: bool, busy_wait: Duration) -> Res<()> {
    let mode: String = retry_busy(busy_wait, || {
        Ok(conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?)
    })?;
    if mode.eq_ignore_ascii_case("wal") || memory {
        return Ok(());
    }
    let mode: String = retry_busy(busy_wait, || {
        Ok(conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?)
    })?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Failure::Refused(Error::storage(format!(
            "shoppingfeed_sync.database: cannot open {path}: WAL journal mode refused (got {mode})"
        ))));
    }
    Ok(())
}

/// Retries `f` while SQLite reports the database busy or locked, for up to
/// `wait` (the busy handler covers most cases; this covers the few where
/// SQLite does not call it, e.g. a journal mode switch).
pub(super) fn retry_busy<T>(wait: Duration, mut f: impl FnMut() -> Res<T>) -> Res<T> {
    let start = std::time::Instant::now();
    loop {
        match f() {
            Err(e) if e.is_busy() && start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// A `BEGIN IMMEDIATE` transaction, rolled back on drop unless committed.
pub(super) struct WriteTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> WriteTx<'c> {
    pub(super) fn begin(conn: &'c Connection) -> Res<WriteTx<'c>> {
        if !conn.is_autocommit() {
            // A transaction left open by an earlier failure: never build on it.
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(WriteTx { conn, open: true })
    }

    pub(super) fn commit(mut self) -> Res<()> {
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

/// The lock wait the fine-grained handler gives up after (the default
/// `busy_timeout_ms`; another value uses SQLite's own handler).
const FINE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Waits for another connection's write lock in small steps: 50 µs,
/// doubling to 1 ms, until about [`FINE_BUSY_TIMEOUT_MS`]. SQLite's own
/// handler sleeps 1, 2, 5, 10 ms...: a save that meets a commit of under a
/// millisecond (the background sender's, another worker's) then waits 1 to
/// 8 ms; with this one it waits about as long as the commit.
fn fine_busy_wait(tries: i32) -> bool {
    let tries = tries.max(0) as u64;
    // 50, 100, 200, 400, 800 µs, then 1 ms each: 1.55 ms after 5 tries.
    let step_us = if tries < 5 { 50u64 << tries } else { 1000 };
    let waited_us = if tries < 5 {
        50 * ((1u64 << tries) - 1)
    } else {
        1550 + (tries - 5) * 1000
    };
    if waited_us >= u64::from(FINE_BUSY_TIMEOUT_MS) * 1000 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(step_us));
    true
}
