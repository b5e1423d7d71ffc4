//! The process's queue connections, opened on first use (never at startup)
//! and kept for the life of the process, keyed by
//! `shoppingfeed_sync.database`: `saveOrder` then costs one short
//! transaction, not an open.
//!
//! # Checkpoints: never on the merchant's request
//!
//! SQLite's automatic WAL checkpoint runs inside the commit that crosses its
//! threshold (1000 pages) and makes that commit wait for two fsyncs (the WAL,
//! then the database file): about 16 ms on a VM disk, every ~250 saves: the
//! p99.9 of a plain PDO queue. The connections opened here switch it off and
//! checkpoint where nobody waits for them:
//!
//! - the cron's steps (`getBatch`, `prepareBatch`, `sendBatch`,
//!   `checkTickets`, `settle`, `retryFailed`, `purge`; not the real-time
//!   chain inside `saveOrder`) run a PASSIVE checkpoint once the WAL holds
//!   [`BACKGROUND_CHECKPOINT_FRAMES`] pages;
//! - the bound: should no cron run for a long time, `saveOrder` itself
//!   checkpoints once the WAL reaches [`WAL_BOUND_FRAMES`] pages (64 MiB of
//!   4 KiB pages, some 4,000 saves): one merchant request in thousands then
//!   pays the ~16 ms, and the WAL never grows without limit. A checkpoint
//!   that a long reader keeps from finishing is tried again only after
//!   another quarter of the bound, not on every save.
//!
//! Durability does not depend on checkpoints: a commit is in the WAL when
//! `saveOrder` returns (`synchronous=NORMAL`: it survives a killed or crashed
//! process; see `sfsync_core::queue::sqlite` for power loss and FULL).

use super::ini;
use sfsync_core::queue::sqlite::Options;
use sfsync_core::queue::{self, OpenOptions, QueueStore, Upkeep};
use sfsync_core::Error;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A queue as the binding holds it: only through its trait.
pub type Store = Rc<dyn QueueStore>;

thread_local! {
    static STORES: RefCell<(u32, HashMap<String, Store>)> = RefCell::new((0, HashMap::new()));
}

/// The store of the current `shoppingfeed_sync.database`.
pub fn current() -> Result<Store, Error> {
    let database = ini::database();
    STORES.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pid = process_id();
        if guard.0 != pid {
            // Connections opened before a fork belong to the parent: SQLite
            // forbids using them in the child, and closing them here could
            // release the parent's locks. Leave them alone.
            let stale = std::mem::take(&mut guard.1);
            std::mem::forget(stale);
            guard.0 = pid;
        }
        let full = ini::synchronous_full();
        // One connection per queue and durability mode (a FULL connection
        // is keyed apart: `synchronous` is a property of the connection).
        let key = if full {
            format!("{database}\0full")
        } else {
            database.clone()
        };
        if let Some(store) = guard.1.get(&key) {
            return Ok(store.clone());
        }
        let store: Store = Rc::from(queue::open(&database, &options(full))?);
        guard.1.insert(key, store.clone());
        Ok(store)
    })
}

/// WAL pages past which `saveOrder` checkpoints itself (the bound, when no
/// cron runs): 64 MiB of 4 KiB pages.
pub const WAL_BOUND_FRAMES: u32 = 16_384;
/// WAL pages past which a cron step checkpoints (PASSIVE) when it is done.
pub const BACKGROUND_CHECKPOINT_FRAMES: u32 = 4_096;
/// The WAL file is cut back to this size after a checkpoint lets it restart.
const JOURNAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// How the extension opens a queue: no automatic SQLite checkpoint (see the
/// module comment: upkeep runs at the moments below), the WAL file cut back
/// to 64 MiB after a restart.
fn options(synchronous_full: bool) -> OpenOptions {
    OpenOptions {
        sqlite: Options {
            synchronous_full,
            autocheckpoint_pages: Some(0),
            journal_size_limit_bytes: Some(JOURNAL_SIZE_LIMIT_BYTES),
            request_checkpoint_pages: Some(WAL_BOUND_FRAMES),
            background_checkpoint_pages: Some(BACKGROUND_CHECKPOINT_FRAMES),
            ..Options::default()
        },
    }
}

/// After `saveOrder`'s commit: the bound only (a free check below it).
pub fn after_request_write(store: &dyn QueueStore) {
    store.upkeep(Upkeep::AfterRequest);
}

/// After a cron step: checkpoints once the WAL holds enough pages.
pub fn after_background_write(store: &dyn QueueStore) {
    store.upkeep(Upkeep::AfterBackground);
}

/// This process's id, without a system call on every `saveOrder`: cached,
/// and forgotten in a forked child (PHP-FPM forks its workers; `pcntl_fork`
/// too) by a fork handler, so that a child never uses its parent's
/// connections.
fn process_id() -> u32 {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic. glibc
        // unregisters it if this library is unloaded (pthread_atfork is
        // linked from libc_nonshared with this object's handle).
        unsafe {
            pthread_atfork(None, None, Some(forget_pid));
        }
    });
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

static PID: AtomicU32 = AtomicU32::new(0);

extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

extern "C" {
    fn pthread_atfork(
        prepare: Option<extern "C" fn()>,
        parent: Option<extern "C" fn()>,
        child: Option<extern "C" fn()>,
    ) -> std::ffi::c_int;
}
