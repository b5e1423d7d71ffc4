//! The background sender of real-time mode `background`
//! (`SHOPPINGFEED_REAL_TIME_MODE=background`): a thread of the PHP process
//! that sends real-time updates off the merchant's request.
//!
//! `saveOrder` makes the update durable, then hands the sender a [`Job`]
//! (where the queue is, the API, the token and store, the shop and action,
//! and every setting the send path reads, as the request saw them) and
//! returns: no network call in the request. The sender never calls PHP.
//!
//! - **Where it runs**: one thread per process, started by the first job
//!   (never at module startup: PHP-FPM forks its workers after it), with
//!   its own queue connection, HTTP client and tokio runtime, at nice +10
//!   (the worker's requests run first on a busy machine). A process
//!   forked after it started (pcntl_fork) starts its own.
//! - **What it does**: it gathers the jobs that follow a job until the
//!   end of the current [`SLOT`] of the wall clock (the updates of many
//!   requests of this process; every sender of the pool, and of the other
//!   web servers, ends its gathering at the same instant), then, per
//!   (queue, token,
//!   store, shop, action, settings), claims the due rows of that shop and
//!   action for that store (up to `MAX_ORDERS`: the rows of earlier
//!   requests and batch-mode rows that are due go with them) with a short
//!   lease ([`MAX_LEASE_SECS`]), prepares and sends them with the cron's
//!   own engine steps (the contract's rules: attempts, failures, 429
//!   pauses, outages, refused tokens), each round bounded by
//!   [`ROUND_LIMIT`]. Tickets are read by the cron's check chain.
//! - **What it leaves**: a row it could not send stays queued for the cron
//!   (as in batch mode); a row it claimed when the process died comes back
//!   when its short lease ends. Nothing is lost: the update was durable
//!   before the job existed.
//! - **Stopping**: [`shutdown`] (the binding's module shutdown: a CLI
//!   script's end, a PHP-FPM worker recycled or stopped gracefully) lets the
//!   round in flight finish and sends what is waiting within a bounded
//!   time, else leaves it for the cron.

mod worker;

use crate::api::ApiConfig;
use crate::queue::OpenOptions;
use serde_json::{Map, Value};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Rounds start at the multiples of `SLOT` of the wall clock (Unix time),
/// in every process: after a job, the sender waits for the end of the
/// current slot, then claims the shop's due rows.
///
/// Why slots rather than "until no job came for a while": each PHP-FPM
/// worker has its own sender and sees a quarter (with 4 workers) of the
/// shop's saves. Gathering per process, 200 saves a second over 4 workers
/// gave each sender one save at a time: one API request per order (and
/// per operation), which a rate limit of 10 requests per 2 s could never
/// carry. With every sender ending its gathering at the same instant, the
/// first claim takes the due rows saved by every worker (and every web
/// server on a shared MySQL queue) in that slot, and the others find
/// nothing left: one round per slot for the whole pool. The price is a
/// delivery delay of at most one slot, far within the contract's "about
/// a second"; the merchant's request waits for none of it.
pub const SLOT: Duration = Duration::from_millis(100);
/// The longest a sender gathers, whatever the wall clock says: a clock
/// stepped back must not hold a round (measured with the monotonic clock).
pub const GATHER_MAX: Duration = Duration::from_millis(150);
/// The longest one round of sending may take (its requests' deadline).
pub const ROUND_LIMIT: Duration = Duration::from_secs(15);
/// The lease of the sender's claims, at most: a process that dies while
/// sending leaves its rows to the cron this soon (the setting's lease
/// when shorter).
pub const MAX_LEASE_SECS: i64 = 60;
/// Jobs kept waiting at most; past it a job is dropped (its row waits for
/// the cron), so that memory stays bounded if the API is slow.
pub const MAX_WAITING: usize = 10_000;

/// One real-time update to send, with everything the sender needs.
#[derive(Debug, Clone)]
pub struct Job {
    /// `shoppingfeed_sync.database` as the request saw it, and how to open it.
    pub database: String,
    pub open: OpenOptions,
    pub api: ApiConfig,
    pub token: String,
    pub store_id: i64,
    pub id_shop: i64,
    pub action: String,
    /// The settings the send path reads, resolved by the request (the
    /// conveyor's, then PrestaShop's `Configuration`).
    pub settings: Map<String, Value>,
}

/// What the sender of this process has done, for `phpinfo()` and the
/// queue inspection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// A sender thread runs in this process.
    pub running: bool,
    /// Jobs handed to it since it started.
    pub accepted: u64,
    /// Jobs waiting for the next round.
    pub waiting: u64,
    /// Jobs dropped because too many were waiting (their rows wait for the cron).
    pub dropped: u64,
    /// Rounds run, and the rows they sent (accepted by the API), settled
    /// without a request (unmapped, ignored) and left for the cron.
    pub rounds: u64,
    pub sent: u64,
    pub settled: u64,
    pub left_for_cron: u64,
    /// The last error of a round (never the token), and when (Unix seconds).
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// When the last round ended (Unix seconds).
    pub last_round_at: Option<i64>,
}

struct Inner {
    jobs: Vec<Job>,
    stop: bool,
    /// A round is running.
    busy: bool,
    /// The claim of the group being sent, if any: released by [`shutdown`]
    /// when the process must end before the round does.
    in_flight: Option<InFlight>,
    status: Status,
}

/// The rows a round holds leased, and where.
#[derive(Debug, Clone)]
struct InFlight {
    database: String,
    open: OpenOptions,
    claim: String,
    ids: Vec<i64>,
}

struct Shared {
    inner: Mutex<Inner>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in a round is caught there; a poisoned lock still holds
        // consistent counters.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Sender {
    pid: u32,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

static SENDER: Mutex<Option<Sender>> = Mutex::new(None);

fn sender_slot() -> MutexGuard<'static, Option<Sender>> {
    SENDER.lock().unwrap_or_else(|p| p.into_inner())
}

/// Hands a job to this process's sender, starting it if needed. Returns
/// false when it could not be taken (the thread could not start, the
/// sender is stopping, too many jobs wait): the row waits for the cron.
pub fn submit(job: Job) -> bool {
    let mut slot = sender_slot();
    let pid = std::process::id();
    if slot.as_ref().is_some_and(|s| s.pid != pid) {
        // Forked after the parent's sender started: that thread is not in
        // this process. Forget it without touching the parent's state.
        if let Some(s) = slot.take() {
            std::mem::forget(s);
        }
    }
    if slot.is_none() {
        match start(pid) {
            Some(s) => *slot = Some(s),
            None => return false,
        }
    }
    let Some(sender) = slot.as_ref() else {
        return false;
    };
    let mut inner = sender.shared.lock();
    if inner.stop {
        return false;
    }
    if inner.jobs.len() >= MAX_WAITING {
        inner.status.dropped += 1;
        return false;
    }
    inner.jobs.push(job);
    inner.status.accepted += 1;
    inner.status.waiting = inner.jobs.len() as u64;
    sender.shared.wake.notify_one();
    true
}

fn start(pid: u32) -> Option<Sender> {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            jobs: Vec::new(),
            stop: false,
            busy: false,
            in_flight: None,
            status: Status {
                running: true,
                ..Status::default()
            },
        }),
        wake: Condvar::new(),
    });
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
        .name("sfsync-send".into())
        .spawn(move || worker::run(&for_thread))
        .ok()?;
    Some(Sender {
        pid,
        shared,
        thread: Some(thread),
    })
}

/// The status of this process's sender; None when none was started here.
pub fn status() -> Option<Status> {
    let slot = sender_slot();
    let sender = slot.as_ref().filter(|s| s.pid == std::process::id())?;
    let inner = sender.shared.lock();
    let mut st = inner.status.clone();
    st.waiting = inner.jobs.len() as u64;
    Some(st)
}

/// Stops this process's sender: the round in flight and the jobs waiting
/// get until `grace` is over; whatever is not sent by then stays queued for
/// the cron. Returns true when the thread ended within `grace`.
pub fn shutdown(grace: Duration) -> bool {
    let mut slot = sender_slot();
    let Some(mut sender) = slot.take() else {
        return true;
    };
    if sender.pid != std::process::id() {
        std::mem::forget(sender);
        return true;
    }
    let deadline = Instant::now() + grace;
    {
        let mut inner = sender.shared.lock();
        inner.stop = true;
        sender.shared.wake.notify_all();
        while (inner.busy || !inner.jobs.is_empty()) && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            inner = sender
                .shared
                .wake
                .wait_timeout(inner, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        if inner.busy || !inner.jobs.is_empty() {
            // Out of time: the process ends anyway. The rows of the jobs
            // left wait for the cron; those of the round in flight are
            // released now rather than at the end of their lease (should
            // its request still reach the API, the cron's re-send is
            // answered "ignored": the answer-to-commit window).
            if let Some(f) = inner.in_flight.take() {
                drop(inner);
                release(&f);
            }
            return false;
        }
    }
    match sender.thread.take() {
        Some(t) => t.join().is_ok(),
        None => true,
    }
}

/// Releases the claim of a round that could not finish (its own
/// connection: the sender's is busy in the round).
fn release(f: &InFlight) {
    use crate::queue::Change;
    let Ok(store) = crate::queue::open(&f.database, &f.open) else {
        return;
    };
    let changes: Vec<(i64, Change)> = f.ids.iter().map(|id| (*id, Change::Release)).collect();
    let _ = store.apply(&changes, Some(&f.claim), crate::time::now());
}
