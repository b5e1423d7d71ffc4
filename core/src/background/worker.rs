//! The sender thread: wait for jobs, gather, send each group with the
//! engine's own steps, count. Runs no PHP and holds no lock across a
//! round (a `saveOrder` hands its job over while a round runs).

use super::{InFlight, Job, Shared, GATHER_MAX, MAX_LEASE_SECS, ROUND_LIMIT, SLOT};
use crate::api::{self, Client};
use crate::engine::{self, Mode, Target};
use crate::queue::{self, QueueStore, Upkeep};
use crate::settings;
use crate::time;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

pub(super) fn run(shared: &Shared) {
    lower_priority();
    let mut stores: HashMap<String, Box<dyn QueueStore>> = HashMap::new();
    loop {
        let jobs = {
            let mut inner = shared.lock();
            while inner.jobs.is_empty() && !inner.stop {
                inner = shared.wake.wait(inner).unwrap_or_else(|p| p.into_inner());
            }
            if inner.jobs.is_empty() {
                inner.status.running = false;
                shared.wake.notify_all();
                return;
            }
            // The updates of the requests that follow, until the slot ends,
            // go in this round (a new job wakes the wait: it goes on).
            let until = Instant::now() + until_slot_end(std::time::SystemTime::now());
            while !inner.stop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                inner = shared
                    .wake
                    .wait_timeout(inner, left)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            inner.busy = true;
            inner.status.waiting = 0;
            std::mem::take(&mut inner.jobs)
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| round(shared, jobs, &mut stores)));
        let mut inner = shared.lock();
        inner.busy = false;
        inner.in_flight = None;
        let st = &mut inner.status;
        st.rounds += 1;
        st.last_round_at = Some(time::now());
        match outcome {
            Ok(r) => {
                st.sent += r.sent;
                st.settled += r.settled;
                st.left_for_cron += r.left;
                if let Some(e) = r.errors.last() {
                    st.last_error = Some(e.clone());
                    st.last_error_at = Some(time::now());
                }
            }
            Err(_) => {
                // A bug, not a fault of the API: the rows stay queued.
                stores.clear();
                st.last_error =
                    Some("a round of the background sender failed (internal error)".into());
                st.last_error_at = Some(time::now());
            }
        }
        shared.wake.notify_all();
    }
}

/// How long until the wall clock reaches the next multiple of [`SLOT`],
/// never more than [`GATHER_MAX`] (a clock before 1970 or a slot that a
/// stepped clock stretched gives the bound).
fn until_slot_end(now: std::time::SystemTime) -> std::time::Duration {
    let slot = SLOT.as_nanos();
    match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => {
            let into = since.as_nanos() % slot;
            let left = (slot - into) as u64;
            std::time::Duration::from_nanos(left).min(GATHER_MAX)
        }
        Err(_) => GATHER_MAX,
    }
}

#[derive(Default)]
struct Round {
    sent: u64,
    settled: u64,
    left: u64,
    errors: Vec<String>,
}

/// Jobs that share (queue, API, token, store, shop, action, settings) are
/// one claim: the due rows of that shop and action for that store.
fn group_key(job: &Job) -> String {
    format!(
        "{}\0{:?}\0{}\0{}\0{}\0{}\0{}\0{}\0{}",
        job.database,
        job.open,
        job.api.base_url,
        job.api.timeout_ms,
        job.token,
        job.store_id,
        job.id_shop,
        job.action,
        Value::Object(job.settings.clone())
    )
}

fn round(
    shared: &Shared,
    jobs: Vec<Job>,
    stores: &mut HashMap<String, Box<dyn QueueStore>>,
) -> Round {
    let mut out = Round::default();
    let mut groups: BTreeMap<String, Job> = BTreeMap::new();
    for job in jobs {
        groups.entry(group_key(&job)).or_insert(job);
    }
    for job in groups.into_values() {
        if let Err(e) = send_group(shared, &job, stores, &mut out) {
            out.errors.push(e.message().to_string());
        }
    }
    out
}

fn send_group(
    shared: &Shared,
    job: &Job,
    stores: &mut HashMap<String, Box<dyn QueueStore>>,
    out: &mut Round,
) -> crate::Result<()> {
    let key = format!("{}\0{:?}", job.database, job.open);
    if !stores.contains_key(&key) {
        stores.insert(key.clone(), queue::open(&job.database, &job.open)?);
    }
    let store = stores.get(&key).map(|s| &**s).expect("just inserted");
    let client = Client::shared(&job.api)?;
    // A short lease: a process that dies mid-round gives its rows back soon.
    let mut s = job.settings.clone();
    let lease = settings::lease_time(&s)?.min(MAX_LEASE_SECS);
    s.insert(settings::LEASE_TIME.to_string(), Value::from(lease));
    let now = time::now();
    let claim = engine::claim_at_most(
        store,
        &s,
        job.id_shop,
        &job.action,
        None,
        now,
        None,
        Some(job.store_id),
    )?;
    if claim.rows.is_empty() {
        return Ok(()); // not due yet (a ship's time shift), or a cron has them
    }
    shared.lock().in_flight = Some(InFlight {
        database: job.database.clone(),
        open: job.open.clone(),
        claim: claim.token.clone(),
        ids: claim.rows.iter().map(|r| r.id).collect(),
    });
    let prepared = engine::prepare_owned(store, &s, claim.rows, Some(&claim.token), now)?;
    out.settled += prepared.report.succeeded.len() as u64;
    out.left += prepared.report.pending.len() as u64;
    let target = Target {
        token: &job.token,
        store_id: job.store_id,
        mode: Mode::Batch,
    };
    let report = api::with_deadline(Instant::now() + ROUND_LIMIT, || {
        engine::send(
            store,
            &client,
            &s,
            target,
            &prepared.operations,
            Some(&claim.token),
        )
    });
    store.upkeep(Upkeep::AfterBackground);
    let report = report?;
    out.sent += report.sent.len() as u64;
    out.settled += report.succeeded.len() as u64;
    out.left += (report.pending.len() + report.failed.len()) as u64;
    out.errors.extend(report.errors);
    Ok(())
}

/// Gives this thread a lower CPU priority (nice +10) than the process's PHP
/// thread: on a busy machine the merchants' requests of this worker run
/// first, and the sender uses the CPU they leave. Linux's `setpriority`
/// with a thread id changes that thread only; elsewhere, or if refused,
/// nothing changes.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: two syscalls on this thread's own id, no memory passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_round_waits_for_the_end_of_the_wall_clock_slot() {
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(until_slot_end(at(1_000_000_030)), Duration::from_millis(70));
        assert_eq!(until_slot_end(at(1_000_000_099)), Duration::from_millis(1));
        // On a boundary: the whole next slot (a round just started there).
        assert_eq!(until_slot_end(at(1_000_000_000)), SLOT);
    }

    #[test]
    fn a_clock_before_1970_waits_the_bound_only() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(until_slot_end(before), GATHER_MAX);
    }
}
