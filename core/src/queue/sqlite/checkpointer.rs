//! Checkpoints off the merchant's request: a thread of this process, with a
//! connection of its own, copies the WAL back into the database file
//! (`PRAGMA wal_checkpoint(PASSIVE)`) whenever the request path tells it
//! the WAL has grown by [`Options::background_thread_pages`]
//! (super::Options) pages.
//!
//! Why: a checkpoint waits for two fsyncs (the WAL, then the database
//! file), tens of milliseconds for a large WAL; paid by the save that
//! crossed the bound, it stalled that merchant's request. PASSIVE never
//! takes the write lock, so saves go on while the thread works; small and
//! frequent, each copies only what was added since the last one. The WAL
//! restarts (and stays small) at the first save after a checkpoint that
//! copied everything; under a save rate that never leaves it a moment, the
//! request path's own bound ([`Options::request_checkpoint_pages`]) still
//! applies, and costs little then: most frames are copied already.
//!
//! Safe where PHP runs: the thread is started lazily, by the first save
//! that needs it (never at module startup: PHP-FPM forks after it), and is
//! used only by the process that started it (a forked child has no such
//! thread: it goes without, on the request path's bound, until its own
//! store is opened). It touches nothing but its own connection, holds no
//! lock between checkpoints, and ends when the store is dropped; a process
//! that exits mid-checkpoint loses nothing (the WAL stays valid).

use rusqlite::{Connection, OpenFlags};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Duration;

/// The handle the store keeps: waking the thread never blocks.
#[derive(Debug)]
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
    pid: u32,
}

impl Checkpointer {
    /// Starts the thread for the database at `path` (its connection is
    /// opened at the first wake). None when the system refuses a thread:
    /// the request path's bound then keeps the WAL in check alone.
    pub(super) fn spawn(path: &str, busy_timeout_ms: u32) -> Option<Checkpointer> {
        let (wake, rx) = sync_channel::<()>(1);
        let path = path.to_string();
        std::thread::Builder::new()
            .name("sfsync-ckpt".into()) // Linux shows 15 bytes of a thread name
            .stack_size(256 * 1024)
            .spawn(move || run(&path, busy_timeout_ms, &rx))
            .ok()?;
        Some(Checkpointer {
            wake,
            pid: std::process::id(),
        })
    }

    /// Asks for a checkpoint (one is pending at most); false when this
    /// handle cannot be used here (a forked child, or the thread ended).
    pub(super) fn wake(&self) -> bool {
        if std::process::id() != self.pid {
            return false;
        }
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => true,
            Err(TrySendError::Disconnected(())) => false,
        }
    }
}

fn run(path: &str, busy_timeout_ms: u32, rx: &Receiver<()>) {
    let mut conn: Option<Connection> = None;
    // Ends when the store drops its handle.
    while rx.recv().is_ok() {
        if conn.is_none() {
            conn = open(path, busy_timeout_ms);
        }
        if let Some(c) = &conn {
            // An error (the file moved by a deploy, a full disk) loses
            // nothing: the rows are in the WAL, and the next wake tries
            // again on a fresh connection.
            if c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .is_err()
            {
                conn = None;
            }
        }
    }
}

fn open(path: &str, busy_timeout_ms: u32) -> Option<Connection> {
    // Never creates the file: the store's own open did (a missing file
    // means it was moved, and there is nothing to checkpoint here).
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).ok()?;
    conn.busy_timeout(Duration::from_millis(u64::from(busy_timeout_ms)))
        .ok()?;
    Some(conn)
}
