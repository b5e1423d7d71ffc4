//! WAL checkpoints: copying the WAL back into the database file.
//!
//! A WAL hook records the WAL's size after every commit
//! ([`SqliteStore::wal_frames`], free to read) and runs the automatic
//! checkpoint (SQLite's default of 1000 pages, or [`Options`](super::Options)).
//! With `autocheckpoint_pages: Some(0)` nothing checkpoints inside a commit
//! and the caller decides where the fsyncs of a checkpoint are paid
//! ([`SqliteStore::checkpoint_if_over`], or
//! [`QueueStore::upkeep`](crate::queue::QueueStore::upkeep) with the
//! thresholds of the options); the extension does so off the merchant's
//! request (src/php/store.rs). Durability never depends on checkpoints: a
//! commit is in the WAL.

use super::errors::Res;
use super::SqliteStore;
use crate::queue::Upkeep;
use rusqlite::Connection;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU32, Ordering};

/// SQLite's own default for `wal_autocheckpoint`, in pages.
pub const DEFAULT_AUTOCHECKPOINT_PAGES: u32 = 1000;

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

/// The WAL hook's state: the WAL's size after this connection's last
/// commit, and the automatic checkpoint threshold (0: none).
#[derive(Debug, Default)]
pub(super) struct WalState {
    frames: AtomicU32,
    autocheckpoint: u32,
    /// [`SqliteStore::checkpoint_if_over`] waits for the WAL to reach this.
    retry_above: AtomicU32,
}

impl WalState {
    /// Installs the WAL hook on `conn`: automatic checkpoints and the WAL
    /// size go through it (it replaces SQLite's own hook, which
    /// `wal_autocheckpoint` installs). The returned box must outlive the
    /// connection's use of the hook: the store drops the connection first.
    pub(super) fn install(conn: &Connection, autocheckpoint_pages: Option<u32>) -> Box<WalState> {
        let wal = Box::new(WalState {
            frames: AtomicU32::new(0),
            autocheckpoint: autocheckpoint_pages.unwrap_or(DEFAULT_AUTOCHECKPOINT_PAGES),
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
        wal
    }

    pub(super) fn frames(&self) -> u32 {
        self.frames.load(Ordering::Relaxed)
    }
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

impl SqliteStore {
    pub(super) fn checkpoint_passive(&self) -> Res<Checkpoint> {
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

    pub(super) fn checkpoint_over(&self, threshold: u32) -> Res<Option<Checkpoint>> {
        let frames = self.wal_frames();
        if frames < threshold.max(1) {
            self.wal.retry_above.store(0, Ordering::Relaxed);
            return Ok(None);
        }
        if frames < self.wal.retry_above.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let done = self.checkpoint_passive();
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

    /// Wakes the checkpoint thread (started here the first time) once the
    /// WAL has grown by `background_thread_pages` since the last wake; a
    /// free check otherwise. A WAL that restarted (smaller than at the last
    /// wake) starts the count again.
    fn wake_checkpointer(&self) {
        let Some(step) = self.options.background_thread_pages.filter(|p| *p > 0) else {
            return;
        };
        let frames = self.wal_frames();
        let next = self.next_wake.get();
        if next > step && frames.saturating_add(step) < next {
            self.next_wake.set(step); // restarted since
        }
        if frames < self.next_wake.get().max(step) {
            return;
        }
        let thread = self.checkpointer.get_or_init(|| {
            super::checkpointer::Checkpointer::spawn(&self.path, self.options.busy_timeout_ms)
        });
        if let Some(thread) = thread {
            if thread.wake() {
                self.next_wake.set(frames.saturating_add(step));
            }
        }
    }

    /// [`QueueStore::upkeep`](crate::queue::QueueStore::upkeep): a bounded checkpoint at the thresholds of
    /// the options.
    pub(super) fn checkpoint_at(&self, moment: Upkeep) {
        if moment == Upkeep::AfterRequest {
            self.wake_checkpointer();
        }
        let threshold = match moment {
            Upkeep::AfterRequest => self.options.request_checkpoint_pages,
            Upkeep::AfterBackground => self.options.background_checkpoint_pages,
        };
        if let Some(pages) = threshold {
            // A failed checkpoint loses nothing: the rows are in the WAL and
            // the next moment past the threshold tries again.
            let _ = self.checkpoint_over(pages);
        }
    }
}
