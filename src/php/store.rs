//! The process's queue connections, opened on first use (never at startup)
//! and kept for the life of the process, keyed by
//! `shoppingfeed_sync.database`: `saveOrder` then costs one short
//! transaction, not an open. A MySQL queue is one connection per process
//! and value (the store reconnects by itself when the server dropped it);
//! after a fork the child forgets its parent's connections without closing
//! them (closing would end the parent's session).
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
//! - between crons: each time the WAL has grown by
//!   [`CHECKPOINT_THREAD_FRAMES`] pages, `saveOrder` wakes a checkpoint
//!   thread of its process (started by the first save that needs it, its
//!   own connection: `sfsync_core::queue::sqlite`'s `checkpointer.rs`),
//!   which copies the WAL back with a PASSIVE checkpoint while saves go
//!   on; the WAL restarts at the first save after a complete one;
//! - the bound: should the WAL still reach [`WAL_BOUND_FRAMES`] pages
//!   (64 MiB of 4 KiB pages: saves so dense that the thread never sees the
//!   WAL complete), `saveOrder` itself checkpoints, which then costs only
//!   the frames the thread has not copied yet; the WAL never grows without
//!   limit. A checkpoint that a long reader keeps from finishing is tried
//!   again only after another quarter of the bound, not on every save.
//!
//! Durability does not depend on checkpoints: a commit is in the WAL when
//! `saveOrder` returns (`synchronous=NORMAL`: it survives a killed or crashed
//! process; see `sfsync_core::queue::sqlite` for power loss and FULL).

use super::ini;
use super::prestashop_db;
use super::store_path::{check_path, descriptor_limit_note, FileId};
use sfsync_core::queue::mysql::MysqlConfig;
use sfsync_core::queue::sqlite::Options;
use sfsync_core::queue::{self, OpenOptions, QueueStore, StoreKind, Upkeep};
use sfsync_core::Error;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A queue as the binding holds it: only through its trait.
pub type Store = Rc<dyn QueueStore>;

/// Open queues kept per process: each holds 3 descriptors (the file, its
/// WAL and SHM); a worker serving many shops' settings must not exhaust
/// `ulimit -n` (issue 8, defect 14). The least recently used is closed.
pub const MAX_OPEN_QUEUES: usize = 64;

struct Open {
    store: Store,
    /// Device and inode of the file when it was opened (SQLite paths only).
    file: Option<FileId>,
    last_used: u64,
}

#[derive(Default)]
struct Stores {
    pid: u32,
    tick: u64,
    open: HashMap<String, Open>,
}

thread_local! {
    static STORES: RefCell<Stores> = RefCell::new(Stores::default());
}

/// The store of the current `shoppingfeed_sync.database`.
pub fn current() -> Result<Store, Error> {
    let database = ini::database();
    let kind = StoreKind::of(&database);
    let sqlite = kind == StoreKind::Sqlite;
    if sqlite {
        check_path(&database)?;
    }
    STORES.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pid = process_id();
        if guard.pid != pid {
            // Connections opened before a fork belong to the parent: SQLite
            // forbids using them in the child, and closing them here could
            // release the parent's locks. Leave them alone. Every connection
            // left in the map below is therefore this process's own, which is
            // what makes closing them (LRU, a replaced file) safe.
            let stale = std::mem::take(&mut guard.open);
            std::mem::forget(stale);
            guard.pid = pid;
        }
        guard.tick += 1;
        let tick = guard.tick;
        let full = ini::synchronous_full();
        // One connection per queue and durability mode (a FULL connection
        // is keyed apart: `synchronous` is a property of the connection).
        // `prestashop`: the constants are read at every call (five hash
        // lookups), in the process that uses the queue, never at module
        // startup; their raw values are part of the key, because one
        // PHP-FPM pool may serve several shops, each with its own database.
        // They are parsed only when the queue is opened.
        let constants = match kind {
            StoreKind::PrestaShop => Some(prestashop_db::constants()?),
            _ => None,
        };
        let mut key = match &constants {
            Some(values) => format!("prestashop\0{}", values.join("\0")),
            None => database.clone(),
        };
        if full {
            key.push_str("\0full");
        }
        // The path may no longer name the open file (deleted, its directory
        // moved, a `current -> releases/N` symlink switched): one `stat`
        // tells, and the queue is reopened where the path points now, so
        // the update lands where the cron looks (issue 8, defect 1).
        let now_file = if sqlite { FileId::of(&database) } else { None };
        if let Some(open) = guard.open.get_mut(&key) {
            if !sqlite || (open.file.is_some() && open.file == now_file) {
                open.last_used = tick;
                return Ok(open.store.clone());
            }
            guard.open.remove(&key);
        }
        let excess = (guard.open.len() + 1).saturating_sub(MAX_OPEN_QUEUES);
        close_least_recent(&mut guard.open, excess);
        let prestashop = match &constants {
            Some(values) => Some(prestashop_db::config_of(values)?),
            None => None,
        };
        let opts = options(full, prestashop);
        let store: Store = match queue::open(&database, &opts) {
            Ok(s) => Rc::from(s),
            Err(e) if descriptor_limit_note().is_some() && !guard.open.is_empty() => {
                // Out of descriptors: close what this process keeps open
                // and try once more before giving up.
                drop(e);
                let n = guard.open.len();
                close_least_recent(&mut guard.open, n);
                Rc::from(queue::open(&database, &opts).map_err(explain)?)
            }
            Err(e) => return Err(explain(e)),
        };
        let file = if sqlite { FileId::of(&database) } else { None };
        guard.open.insert(
            key,
            Open {
                store: store.clone(),
                file,
                last_used: tick,
            },
        );
        Ok(store)
    })
}

/// Where the current queue is and how the extension opens it, for a thread
/// of this process that opens its own connection (the background sender):
/// the value of `shoppingfeed_sync.database` and the options (`prestashop`:
/// the constants read now, in this process).
pub fn current_spec() -> Result<(String, OpenOptions), Error> {
    let database = ini::database();
    let prestashop = match StoreKind::of(&database) {
        StoreKind::PrestaShop => Some(prestashop_db::config()?),
        _ => None,
    };
    Ok((database, options(ini::synchronous_full(), prestashop)))
}

/// A queue other than the current one (the source of a move), opened for
/// this call only. Refused when it names the current queue.
pub fn open_other(database: &str) -> Result<Store, Error> {
    let kind = StoreKind::of(database);
    let current = ini::database();
    if database.trim() == current.trim() {
        return Err(Error::input(format!(
            "the queue to import from is the current queue ({}): name the old one",
            ini::shown_database(database)
        )));
    }
    if kind == StoreKind::Sqlite {
        check_path(database)?;
        if FileId::of(database).is_none() {
            return Err(Error::storage(format!(
                "the queue to import from, {}, does not exist",
                sfsync_core::text::excerpt(database)
            )));
        }
    }
    let prestashop = match kind {
        StoreKind::PrestaShop => Some(prestashop_db::config()?),
        _ => None,
    };
    let store = queue::open(database, &options(ini::synchronous_full(), prestashop))?;
    Ok(Rc::from(store))
}

/// Closes the `n` least recently used queues (a step still holding one
/// keeps it alive until it is done: the map only drops its reference).
fn close_least_recent(open: &mut HashMap<String, Open>, n: usize) {
    for _ in 0..n {
        let oldest = open
            .iter()
            .min_by_key(|(_, o)| o.last_used)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => {
                open.remove(&k);
            }
            None => break,
        }
    }
}

/// An open error, with the cause named when the process is out of file
/// descriptors (SQLite says only "unable to open database file").
fn explain(e: Error) -> Error {
    match descriptor_limit_note() {
        Some(note) => Error::storage(format!("{}; {note}", e.message())),
        None => e,
    }
}

/// WAL pages past which `saveOrder` checkpoints itself (the bound, when no
/// cron runs): 64 MiB of 4 KiB pages.
pub const WAL_BOUND_FRAMES: u32 = 16_384;
/// WAL pages past which a cron step checkpoints (PASSIVE) when it is done.
pub const BACKGROUND_CHECKPOINT_FRAMES: u32 = 4_096;
/// WAL growth (pages) that wakes the checkpoint thread: 4 MiB, small and
/// frequent checkpoints, each a few milliseconds of the thread's time.
pub const CHECKPOINT_THREAD_FRAMES: u32 = 1_024;
/// The WAL file is cut back to this size after a checkpoint lets it restart.
const JOURNAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// How the extension opens a queue: no automatic SQLite checkpoint (see the
/// module comment: upkeep runs at the moments below), the WAL file cut back
/// to 64 MiB after a restart.
fn options(synchronous_full: bool, prestashop: Option<MysqlConfig>) -> OpenOptions {
    OpenOptions {
        prestashop,
        sqlite: Options {
            synchronous_full,
            autocheckpoint_pages: Some(0),
            journal_size_limit_bytes: Some(JOURNAL_SIZE_LIMIT_BYTES),
            request_checkpoint_pages: Some(WAL_BOUND_FRAMES),
            background_checkpoint_pages: Some(BACKGROUND_CHECKPOINT_FRAMES),
            background_thread_pages: Some(CHECKPOINT_THREAD_FRAMES),
            ..Options::default()
        },
    }
}

/// After `saveOrder`'s commit: the checkpoint thread woken every
/// [`CHECKPOINT_THREAD_FRAMES`] pages, and the bound (free checks below them).
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
