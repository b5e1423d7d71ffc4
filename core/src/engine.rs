//! The contract's rules, PHP-free: save, claim, prepare, send, check, settle.
//! The binding calls one function per PHP method.
//!
//! Every step commits the rows' new state as soon as it knows it (one
//! [`QueueStore::apply`] per order request's answer; ticket reads that
//! arrived together share one), so a kill loses at most the answers of the
//! requests in flight: those rows keep their lease and come back when it
//! ends. The next requests are started before those commits, so that the
//! store's work overlaps the network. HTTP runs on the process's current-thread runtime
//! ([`crate::runtime::block_on`]): requests of one step interleave on the PHP
//! thread, and the (synchronous) store is called between their awaits.

use crate::api::{Accepted, ApiError, Client, Ticket, MAX_IN_FLIGHT, MAX_ORDERS_PER_REQUEST};
use crate::error::{redact, Error, Result};
use crate::fasthash::{HashMap, HashSet};
use crate::model::{self, Identifier, Operation, Row, State, CHECK_TICKET_PREFIX};
use crate::queue::{Applied, Change, QueueStore};
use crate::settings::{self, SettingsSource, StateLists};
use futures_util::stream::{self, FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// How many times one request waits for a 429 and tries again (batch mode)
/// before the answer counts as an outage.
pub const MAX_RATE_LIMIT_RETRIES: u32 = 5;
/// Longest single wait for a 429, whatever `X-RateLimit-Wait` says.
pub const MAX_RATE_LIMIT_WAIT_SECS: f64 = 30.0;
/// Longest message kept in `last_error` / `errors`, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Most ticket pages read for one batch (a batch holds at most 100 tickets,
/// one page at the page size; this only bounds a misbehaving server).
const MAX_TICKET_PAGES: u32 = 100;

/// One `saveOrder` call, already converted from the conveyor.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    pub id_shop: i64,
    pub id_order: i64,
    pub action: String,
    pub snapshot: Value,
}

/// Validates and queues one update; returns the row id. Reads the state
/// lists and the time shift (for `SYNC_STATUS`): a shipped state is due
/// `TIME_SHIFT` minutes later, anything else at once. Refuses
/// `CHECK_TICKET_` actions (an internal stage).
pub fn save(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    req: &SaveRequest,
    now: i64,
) -> Result<i64> {
    model::validate_action(&req.action)?;
    if req.action.starts_with(CHECK_TICKET_PREFIX) {
        return Err(Error::input(format!(
            "order_action {} is an internal stage (ticket checking): save the base action instead",
            model::shorten(&req.action)
        )));
    }
    if req.id_order <= 0 {
        return Err(Error::input(format!(
            "id_order must be a positive integer, got {}",
            req.id_order
        )));
    }
    if req.id_shop <= 0 {
        return Err(Error::input(format!(
            "id_shop must be a positive integer, got {}",
            req.id_shop
        )));
    }
    model::validate_snapshot(&req.action, &req.snapshot)?;
    let size = serde_json::to_string(&req.snapshot)
        .map_err(|e| Error::input(format!("order cannot be encoded as JSON: {e}")))?
        .len();
    if size > model::MAX_SNAPSHOT_BYTES {
        return Err(Error::input(format!(
            "order (the snapshot) is {size} bytes of JSON, more than the limit of {}",
            model::MAX_SNAPSHOT_BYTES
        )));
    }
    let due_at = if req.action == model::ACTION_SYNC_STATUS {
        let lists = StateLists::read(settings)?;
        let shift = settings::time_shift_minutes(settings)?;
        let state = model::order_state(&req.snapshot)?;
        if lists.shipped.contains(&state) {
            now.saturating_add(shift.saturating_mul(60))
        } else {
            now
        }
    } else {
        now
    };
    store.upsert_pending(
        req.id_shop,
        req.id_order,
        &req.action,
        &req.snapshot,
        due_at,
        now,
    )
}

/// Rows claimed by one `getBatch`, and the claim token they are leased to.
#[derive(Debug, Clone)]
pub struct Claim {
    pub token: String,
    pub rows: Vec<Row>,
}

/// A new claim token, unique across processes and hosts: the process id,
/// the time in nanoseconds and 64 random bits (`p1234-18c2f...-9a3b...`).
pub fn new_claim_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "p{}-{:x}-{:016x}",
        std::process::id(),
        nanos,
        fastrand::u64(..)
    )
}

/// Claims the due rows of a shop and action, up to `MAX_ORDERS`, leased for
/// `LEASE_TIME`; `only` restricts it to one row (real-time mode).
pub fn claim(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    id_shop: i64,
    action: &str,
    only: Option<i64>,
    now: i64,
) -> Result<Claim> {
    model::validate_action(action)?;
    if id_shop <= 0 {
        return Err(Error::input(format!(
            "id_shop must be a positive integer, got {id_shop}"
        )));
    }
    let limit = settings::max_orders(settings)?;
    let lease = settings::lease_time(settings)?;
    let token = new_claim_token();
    let rows = store.claim(
        id_shop,
        action,
        limit,
        now,
        now.saturating_add(lease),
        &token,
        only,
    )?;
    Ok(Claim { token, rows })
}

/// What happened in a step, for the conveyor (`sent`, `succeeded`,
/// `failed`, `pending`, `errors`): row ids, and messages for `errors`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Rows accepted by the API (now `sent`).
    pub sent: Vec<i64>,
    /// Rows settled `done`.
    pub succeeded: Vec<i64>,
    /// Rows that reached `failed` in this step (each listed once).
    pub failed: Vec<i64>,
    /// Rows put back to wait (pending again, or sent rows deferred).
    pub pending: Vec<i64>,
    /// What went wrong, one line each (never the token).
    pub errors: Vec<String>,
}

/// `prepareBatch`: maps each row's `id_order_state` to an operation through
/// the state lists, records it, settles rows with no operation as done.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub operations: BTreeMap<Operation, Vec<Row>>,
    pub report: Report,
}

pub fn prepare(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    rows: &[Row],
    claim: Option<&str>,
    now: i64,
) -> Result<Prepared> {
    prepare_owned(store, settings, rows.to_vec(), claim, now)
}

/// [`prepare`] taking the rows: those mapped to an operation are moved into
/// [`Prepared::operations`], not copied.
pub fn prepare_owned(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    rows: Vec<Row>,
    claim: Option<&str>,
    now: i64,
) -> Result<Prepared> {
    let lists = StateLists::read(settings)?;
    let mut changes: Vec<(i64, Change)> = Vec::new();
    // (operation, index in `rows`)
    let mut mapped: Vec<(Operation, usize)> = Vec::new();
    // Two rows of one order in one batch (a dead run's row whose lease ended
    // beside the newer update saved since, or a failed row brought back by
    // retryFailed): only the newest is sent, or the marketplace could end on
    // the older status.
    let mut newest: HashMap<(i64, i64, &str), i64> = HashMap::default();
    for row in &rows {
        let key = (row.id_shop, row.id_order, model::base_action(&row.action));
        let slot = newest.entry(key).or_insert(row.id);
        *slot = (*slot).max(row.id);
    }
    let mut seen = HashSet::default();
    for (index, row) in rows.iter().enumerate() {
        if !seen.insert(row.id) {
            continue;
        }
        let newer = newest[&(row.id_shop, row.id_order, model::base_action(&row.action))];
        if newer != row.id {
            changes.push((
                row.id,
                Change::Done {
                    message: Some(format!("superseded by a newer update (row {newer})")),
                },
            ));
            continue;
        }
        let state = match model::order_state(&row.payload) {
            Ok(s) => s,
            Err(e) => {
                changes.push((
                    row.id,
                    Change::Failed {
                        message: bounded(e.message()),
                    },
                ));
                continue;
            }
        };
        match lists.operation(state) {
            None => changes.push((
                row.id,
                Change::Done {
                    message: Some(format!(
                        "no Shopping Feed operation for order state {state}"
                    )),
                },
            )),
            Some(op) => match model::element(op, &row.payload) {
                Ok(_) => {
                    changes.push((row.id, Change::SetOperation(Some(op))));
                    mapped.push((op, index));
                }
                Err(e) => changes.push((
                    row.id,
                    Change::Failed {
                        message: bounded(e.message()),
                    },
                )),
            },
        }
    }
    let mut prepared = Prepared::default();
    if changes.is_empty() {
        return Ok(prepared);
    }
    // One change per row: the rows of one operation side by side let the
    // store record each operation in one statement (a stable sort: the other
    // changes keep their order, first).
    changes.sort_by_key(|(_, c)| match c {
        Change::SetOperation(op) => op.map_or(1, |op| 2 + op as u8),
        _ => 0,
    });
    let applied = store.apply(&changes, claim, now)?;
    let states = last_states(&applied);
    for (id, change) in &changes {
        match (change, states.get(id)) {
            (Change::Done { .. }, Some(State::Done)) => prepared.report.succeeded.push(*id),
            (Change::Failed { .. }, Some(State::Failed)) => prepared.report.failed.push(*id),
            _ => {}
        }
    }
    let mut rows: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    for (op, index) in mapped {
        let Some(mut row) = rows[index].take() else {
            continue;
        };
        // A row no longer leased to this claim (its lease ended and another
        // run took it) is left to that run.
        if claim.is_some() && !states.contains_key(&row.id) {
            continue;
        }
        row.operation = Some(op);
        prepared.operations.entry(op).or_default().push(row);
    }
    Ok(prepared)
}

/// Batch (cron) or real-time (inside `saveOrder`: one HTTP attempt, no
/// 429 wait, nothing retried in the same call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Batch,
    RealTime,
}

/// The API credentials of one step.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub token: &'a str,
    pub store_id: i64,
    pub mode: Mode,
}

impl Target<'_> {
    fn validate(&self) -> Result<()> {
        if self.token.trim().is_empty() {
            return Err(Error::input(
                "token must be a non-empty string (the Shopping Feed API token)",
            ));
        }
        if self.store_id <= 0 {
            return Err(Error::input(format!(
                "shoppingfeed_store_id must be a positive integer, got {}",
                self.store_id
            )));
        }
        Ok(())
    }

    /// A message safe to store or show: the token removed, length bounded.
    fn clean(&self, msg: &str) -> String {
        bounded(&redact(msg, self.token))
    }
}

/// One row on its way to the API.
#[derive(Debug, Clone)]
struct Entry {
    id: i64,
    attempts: i64,
    /// The operation the row records (None when the caller built the
    /// operations without `prepare`).
    recorded: Option<Operation>,
    ident: Identifier,
    /// The snapshot's `reference` / `marketplace`, to match `ignored` reports.
    reference: Option<String>,
    channel: Option<String>,
    element: Value,
}

/// One operation request: up to 100 entries.
#[derive(Debug, Clone)]
struct Job {
    op: Operation,
    entries: Vec<Entry>,
}

/// What the step does with the rows of one answer.
struct Commit {
    changes: Vec<(i64, Change)>,
    /// Rows sent again in this run (the good orders of a rejected request).
    again: Vec<Job>,
}

/// `sendBatch`: see the contract's "After sending" and "API errors".
pub fn send(
    store: &dyn QueueStore,
    client: &Client,
    settings: &dyn SettingsSource,
    target: Target<'_>,
    operations: &BTreeMap<Operation, Vec<Row>>,
    claim: Option<&str>,
) -> Result<Report> {
    let mut report = Report::default();
    if operations.values().all(Vec::is_empty) {
        return Ok(report);
    }
    target.validate()?;
    let base_delay = settings::retry_delay(settings)?;
    let max_failures = settings::max_attempts(settings)?;

    // Elements first: a row whose snapshot cannot give one fails at once.
    let mut seen = HashSet::default();
    let mut all_ids = Vec::new();
    let mut bad: Vec<(i64, Change)> = Vec::new();
    let mut jobs: VecDeque<Job> = VecDeque::new();
    for (op, rows) in operations {
        let mut entries = Vec::new();
        for row in rows {
            if !seen.insert(row.id) {
                continue;
            }
            all_ids.push(row.id);
            let built = model::identifier(&row.payload)
                .and_then(|ident| Ok((ident, model::element(*op, &row.payload)?)));
            match built {
                Ok((ident, element)) => entries.push(Entry {
                    id: row.id,
                    attempts: row.attempts,
                    recorded: row.operation,
                    ident,
                    reference: str_field(&row.payload, "reference"),
                    channel: str_field(&row.payload, "marketplace"),
                    element,
                }),
                Err(e) => bad.push((
                    row.id,
                    Change::Failed {
                        message: bounded(e.message()),
                    },
                )),
            }
        }
        // Requests of at most 100, the entries moved (not copied) into them.
        while !entries.is_empty() {
            let rest = entries.split_off(entries.len().min(MAX_ORDERS_PER_REQUEST));
            jobs.push_back(Job {
                op: *op,
                entries: std::mem::replace(&mut entries, rest),
            });
        }
    }

    let mut settled: HashSet<i64> = HashSet::default();
    if !bad.is_empty() {
        let applied = store.apply(&bad, claim, crate::time::now())?;
        record(&mut report, &bad, &applied);
        settled.extend(bad.iter().map(|(id, _)| *id));
    }
    if jobs.is_empty() {
        return Ok(report);
    }

    let outcome: Result<()> = crate::runtime::block_on(async {
        let mut in_flight = FuturesUnordered::new();
        loop {
            refill(&mut in_flight, &mut jobs, |job| {
                post_job(client, target, job)
            });
            let Some(first) = in_flight.next().await else {
                return Ok(());
            };
            // The answers already there, the window refilled as each is
            // taken: the next requests are on the wire before these rows
            // are committed (the store is synchronous and runs on this
            // thread), so the commits overlap the network instead of
            // delaying it. Each answer is then committed on its own.
            let mut ready = vec![first];
            loop {
                refill(&mut in_flight, &mut jobs, |job| {
                    post_job(client, target, job)
                });
                match in_flight.next().now_or_never() {
                    Some(Some(answer)) => ready.push(answer),
                    _ => break,
                }
            }
            let_requests_leave().await;
            let now = crate::time::now();
            let mut refused = None;
            for (job, answer) in ready {
                let commit = match answer {
                    Ok(accepted) => accepted_changes(&job, &accepted, &target),
                    Err(ApiError::Unauthorized { status }) => {
                        refused = Some(status);
                        continue;
                    }
                    Err(err) => {
                        let msg = target.clean(&err.message());
                        report.errors.push(format!("{}: {msg}", job.op.as_str()));
                        failed_request(&job, &err, &msg, &target, base_delay, max_failures, now)
                    }
                };
                // Each answer in its own transaction, at once: a kill loses
                // at most the answers not committed yet, as before.
                if !commit.changes.is_empty() {
                    let applied = store.apply(&commit.changes, claim, now)?;
                    record(&mut report, &commit.changes, &applied);
                    settled.extend(commit.changes.iter().map(|(id, _)| *id));
                }
                jobs.extend(commit.again);
            }
            if let Some(status) = refused {
                let msg = ApiError::Unauthorized { status }.message();
                return Err(Error::Auth(target.clean(&msg)));
            }
        }
    });

    match outcome {
        Ok(()) => Ok(report),
        Err(Error::Auth(msg)) => {
            release_unsettled(store, &all_ids, &settled, claim)?;
            Err(Error::Auth(msg))
        }
        Err(e) => Err(e),
    }
}

/// Tops the window of requests in flight up to [`MAX_IN_FLIGHT`].
fn refill<F: std::future::Future>(
    in_flight: &mut FuturesUnordered<F>,
    jobs: &mut VecDeque<Job>,
    start: impl Fn(Job) -> F,
) {
    while in_flight.len() < MAX_IN_FLIGHT {
        match jobs.pop_front() {
            Some(job) => in_flight.push(start(job)),
            None => break,
        }
    }
}

/// Lets the runtime run its other tasks once (hyper's connection tasks:
/// they write the requests just started to their sockets) before this
/// thread turns to the store.
async fn let_requests_leave() {
    tokio::task::yield_now().await;
}

/// Sends one request; in batch mode a 429 waits what the API asks (at most
/// 30 s) and tries again, up to [`MAX_RATE_LIMIT_RETRIES`] times.
async fn post_job(
    client: &Client,
    target: Target<'_>,
    job: Job,
) -> (Job, std::result::Result<Accepted, ApiError>) {
    let answer = {
        let elements: Vec<&Value> = job.entries.iter().map(|e| &e.element).collect();
        let mut waits = 0;
        loop {
            let answer = client
                .post_operation(target.token, target.store_id, job.op, &elements)
                .await;
            match answer {
                Err(ApiError::RateLimited { wait_secs })
                    if target.mode == Mode::Batch && waits < MAX_RATE_LIMIT_RETRIES =>
                {
                    waits += 1;
                    tokio::time::sleep(rate_limit_wait(wait_secs)).await;
                }
                other => break other,
            }
        }
    };
    (job, answer)
}

fn rate_limit_wait(wait_secs: f64) -> Duration {
    let secs = if wait_secs.is_finite() && wait_secs >= 0.0 {
        wait_secs.min(MAX_RATE_LIMIT_WAIT_SECS)
    } else {
        1.0
    };
    Duration::from_secs_f64(secs)
}

/// A 202: ignored orders are done, the others sent with the batch id.
fn accepted_changes(job: &Job, accepted: &Accepted, target: &Target<'_>) -> Commit {
    let mut changes = Vec::with_capacity(job.entries.len());
    for entry in &job.entries {
        if entry.recorded != Some(job.op) {
            // A done or sent row keeps the operation it was sent with.
            changes.push((entry.id, Change::SetOperation(Some(job.op))));
        }
        let ignored = accepted
            .ignored
            .iter()
            .find(|rep| ignored_names(rep, entry));
        let change = match ignored {
            Some(rep) => {
                let why = rep
                    .get("message")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                    .unwrap_or("already performed");
                Change::Done {
                    message: Some(target.clean(&format!("ignored by Shopping Feed: {why}"))),
                }
            }
            None => Change::Sent {
                batch_id: accepted.batch_id.clone(),
            },
        };
        changes.push((entry.id, change));
    }
    Commit {
        changes,
        again: Vec::new(),
    }
}

/// True when an `ignored` report element names this entry's order: by
/// internal id, or by reference (and channel, when both sides give one).
fn ignored_names(rep: &Value, entry: &Entry) -> bool {
    if let (Some(id), Identifier::Internal(mine)) =
        (rep.get("id").and_then(model::positive_id), &entry.ident)
    {
        if id == *mine {
            return true;
        }
    }
    let Some(reference) = rep.get("reference").and_then(Value::as_str) else {
        return false;
    };
    if entry.reference.as_deref() != Some(reference) || reference.is_empty() {
        return false;
    }
    match (
        rep.get("channelName").and_then(Value::as_str),
        entry.channel.as_deref(),
    ) {
        (Some(theirs), Some(mine)) if !theirs.is_empty() => theirs.eq_ignore_ascii_case(mine),
        _ => true,
    }
}

/// A request that failed (other than a refused token).
fn failed_request(
    job: &Job,
    err: &ApiError,
    msg: &str,
    target: &Target<'_>,
    base_delay: i64,
    max_failures: i64,
    now: i64,
) -> Commit {
    let retry = |entry: &Entry, order_failure: bool| -> (i64, Change) {
        (
            entry.id,
            Change::Retry {
                due_at: now
                    .saturating_add(settings::retry_delay_for(base_delay, entry.attempts + 1)),
                message: msg.to_string(),
                order_failure,
                max_failures,
            },
        )
    };
    let detail = match err {
        ApiError::Rejected { detail, .. } => detail,
        // An outage, or a 429 that did not clear: wait, never fail for it.
        _ => {
            return Commit {
                changes: job.entries.iter().map(|e| retry(e, false)).collect(),
                again: Vec::new(),
            }
        }
    };
    let (named, rest): (Vec<&Entry>, Vec<&Entry>) =
        job.entries.iter().partition(|e| e.ident.named_in(detail));
    let batch = target.mode == Mode::Batch;
    let mut changes = Vec::new();
    let mut again = Vec::new();
    if !named.is_empty() {
        changes.extend(named.iter().map(|e| retry(e, true)));
        if !rest.is_empty() {
            if batch {
                again.push(Job {
                    op: job.op,
                    entries: rest.into_iter().cloned().collect(),
                });
            } else {
                changes.extend(rest.iter().map(|e| retry(e, false)));
            }
        }
    } else if job.entries.len() == 1 {
        changes.extend(job.entries.iter().map(|e| retry(e, true)));
    } else if batch {
        let mid = job.entries.len() / 2;
        let (a, b) = job.entries.split_at(mid);
        again.push(Job {
            op: job.op,
            entries: a.to_vec(),
        });
        again.push(Job {
            op: job.op,
            entries: b.to_vec(),
        });
    } else {
        // Real time: one attempt, no splitting; the cron finds the bad one.
        changes.extend(job.entries.iter().map(|e| retry(e, false)));
    }
    Commit { changes, again }
}

/// `checkTickets`: see the contract's "Tickets".
pub fn check(
    store: &dyn QueueStore,
    client: &Client,
    settings: &dyn SettingsSource,
    target: Target<'_>,
    rows: &[Row],
    claim: Option<&str>,
) -> Result<Report> {
    let mut report = Report::default();
    if rows.is_empty() {
        return Ok(report);
    }
    target.validate()?;
    let base_delay = settings::retry_delay(settings)?;
    let max_failures = settings::max_attempts(settings)?;

    let mut seen = HashSet::default();
    let mut all_ids = Vec::new();
    let mut no_batch: Vec<(i64, Change)> = Vec::new();
    let mut batches: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    let now = crate::time::now();
    for row in rows {
        if !seen.insert(row.id) {
            continue;
        }
        all_ids.push(row.id);
        match row.batch_id.as_deref().filter(|b| !b.is_empty()) {
            Some(b) => batches.entry(b.to_string()).or_default().push(row),
            None => no_batch.push((
                row.id,
                Change::Retry {
                    due_at: now
                        .saturating_add(settings::retry_delay_for(base_delay, row.attempts + 1)),
                    message: "sent row without batch id".into(),
                    order_failure: false,
                    max_failures,
                },
            )),
        }
    }
    let mut settled: HashSet<i64> = HashSet::default();
    if !no_batch.is_empty() {
        let applied = store.apply(&no_batch, claim, now)?;
        record(&mut report, &no_batch, &applied);
        settled.extend(no_batch.iter().map(|(id, _)| *id));
    }
    if batches.is_empty() {
        return Ok(report);
    }

    let outcome: Result<()> = crate::runtime::block_on(async {
        let ids: Vec<String> = batches.keys().cloned().collect();
        let mut reads = stream::iter(ids)
            .map(|batch_id| read_batch(client, target, batch_id))
            .buffer_unordered(MAX_IN_FLIGHT);
        while let Some(first) = reads.next().await {
            // As in `send`: take the answers already there (polling the
            // stream starts the next reads) and let the new requests leave
            // first. Then one transaction for these answers: reading a
            // ticket changes nothing on the API, so an answer lost to a kill
            // costs only a second read.
            let mut ready = vec![first];
            while let Some(Some(answer)) = reads.next().now_or_never() {
                ready.push(answer);
            }
            let_requests_leave().await;
            let now = crate::time::now();
            let mut all_changes: Vec<(i64, Change)> = Vec::new();
            let mut refused = None;
            for (batch_id, answer) in ready {
                let rows = batches.get(&batch_id).map(Vec::as_slice).unwrap_or(&[]);
                let backoff = |row: &Row| {
                    now.saturating_add(settings::retry_delay_for(base_delay, row.attempts + 1))
                };
                let changes: Vec<(i64, Change)> = match answer {
                    Ok((tickets, processing)) => ticket_changes(
                        rows,
                        &tickets,
                        processing,
                        &batch_id,
                        &target,
                        max_failures,
                        &backoff,
                    ),
                    Err(ApiError::Unauthorized { status }) => {
                        refused = Some(status);
                        Vec::new()
                    }
                    Err(ApiError::Rejected { status: 404, .. }) => {
                        let msg = target.clean(&format!(
                            "ticket batch {batch_id} unknown to Shopping Feed (404)"
                        ));
                        report.errors.push(format!("tickets: {msg}"));
                        rows.iter()
                            .map(|row| {
                                (
                                    row.id,
                                    Change::Retry {
                                        due_at: backoff(row),
                                        message: msg.clone(),
                                        order_failure: false,
                                        max_failures,
                                    },
                                )
                            })
                            .collect()
                    }
                    Err(err) => {
                        // An outage (or another refusal of the read): the rows
                        // stay sent and their tickets are read again later.
                        let msg =
                            target.clean(&format!("ticket batch {batch_id}: {}", err.message()));
                        report.errors.push(format!("tickets: {msg}"));
                        rows.iter()
                            .map(|row| {
                                (
                                    row.id,
                                    Change::Defer {
                                        due_at: backoff(row),
                                        message: msg.clone(),
                                    },
                                )
                            })
                            .collect()
                    }
                };
                all_changes.extend(changes);
            }
            if !all_changes.is_empty() {
                let applied = store.apply(&all_changes, claim, now)?;
                record(&mut report, &all_changes, &applied);
                settled.extend(all_changes.iter().map(|(id, _)| *id));
            }
            if let Some(status) = refused {
                let msg = ApiError::Unauthorized { status }.message();
                return Err(Error::Auth(target.clean(&msg)));
            }
        }
        Ok(())
    });

    match outcome {
        Ok(()) => Ok(report),
        Err(Error::Auth(msg)) => {
            release_unsettled(store, &all_ids, &settled, claim)?;
            Err(Error::Auth(msg))
        }
        Err(e) => Err(e),
    }
}

/// Reads every page of a batch's tickets. Returns the tickets and whether
/// the API still processes some of them.
async fn read_batch(
    client: &Client,
    target: Target<'_>,
    batch_id: String,
) -> (String, std::result::Result<(Vec<Ticket>, bool), ApiError>) {
    let mut tickets = Vec::new();
    let mut processing = false;
    let mut page = 1u32;
    loop {
        match read_page(client, target, &batch_id, page).await {
            Ok(p) => {
                processing |= p.processing;
                let last = p.pages.clamp(1, MAX_TICKET_PAGES);
                tickets.extend(p.tickets);
                if page >= last {
                    return (batch_id, Ok((tickets, processing)));
                }
                page += 1;
            }
            Err(e) => return (batch_id, Err(e)),
        }
    }
}

async fn read_page(
    client: &Client,
    target: Target<'_>,
    batch_id: &str,
    page: u32,
) -> std::result::Result<crate::api::TicketPage, ApiError> {
    let mut waits = 0;
    loop {
        match client
            .ticket_page(target.token, target.store_id, batch_id, page)
            .await
        {
            Err(ApiError::RateLimited { wait_secs })
                if target.mode == Mode::Batch && waits < MAX_RATE_LIMIT_RETRIES =>
            {
                waits += 1;
                tokio::time::sleep(rate_limit_wait(wait_secs)).await;
            }
            other => return other,
        }
    }
}

/// The changes of the rows of one batch whose tickets were read.
fn ticket_changes(
    rows: &[&Row],
    tickets: &[Ticket],
    processing: bool,
    batch_id: &str,
    target: &Target<'_>,
    max_failures: i64,
    backoff: &dyn Fn(&Row) -> i64,
) -> Vec<(i64, Change)> {
    let mut by_id: HashMap<i64, &Ticket> = HashMap::default();
    let mut by_ref: HashMap<&str, &Ticket> = HashMap::default();
    for t in tickets {
        if let Some(id) = t.payload.get("id").and_then(model::positive_id) {
            by_id.entry(id).or_insert(t);
        }
        if let Some(r) = t.payload.get("reference").and_then(Value::as_str) {
            if !r.is_empty() {
                by_ref.entry(r).or_insert(t);
            }
        }
    }
    let mut changes = Vec::new();
    for row in rows {
        let internal = row
            .payload
            .get("id_internal_shoppingfeed")
            .and_then(model::positive_id);
        let reference = row.payload.get("reference").and_then(Value::as_str);
        let ticket = internal
            .and_then(|id| by_id.get(&id))
            .or_else(|| reference.and_then(|r| by_ref.get(r)))
            .copied();
        let Some(ticket) = ticket else {
            if processing {
                changes.push((row.id, Change::Release));
            } else {
                changes.push((
                    row.id,
                    Change::Retry {
                        due_at: backoff(row),
                        message: target
                            .clean(&format!("no ticket for this order in batch {batch_id}")),
                        order_failure: false,
                        max_failures,
                    },
                ));
            }
            continue;
        };
        if !ticket.id.is_empty() {
            changes.push((row.id, Change::SetTicket(ticket.id.clone())));
        }
        let message = ticket.message.as_deref().filter(|m| !m.is_empty());
        let change = match ticket.state.as_str() {
            "succeed" => Change::Done { message: None },
            "canceled" | "cancelled" => Change::Done {
                message: Some(target.clean(&format!(
                    "canceled by Shopping Feed: {}",
                    message.unwrap_or("no reason given")
                ))),
            },
            "failed" => Change::Retry {
                due_at: backoff(row),
                message: target.clean(message.unwrap_or("ticket failed")),
                order_failure: true,
                max_failures,
            },
            // scheduled, running, or a state this client does not know.
            _ => Change::Release,
        };
        changes.push((row.id, change));
    }
    changes
}

/// `settle()`: `done`, `pending` (retry: attempts + 1, the retry delay; with
/// `order_failure` also failures + 1 and `failed` at the limit) or `failed`.
/// Returns how many rows changed, and the report (failed rows listed).
#[allow(clippy::too_many_arguments)]
pub fn settle(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    ids: &[i64],
    state: State,
    message: Option<&str>,
    order_failure: bool,
    claim: Option<&str>,
    now: i64,
) -> Result<(usize, Report)> {
    if let Some(bad) = ids.iter().find(|id| **id <= 0) {
        return Err(Error::input(format!(
            "settle: ids must be positive integers (row ids), got {bad}"
        )));
    }
    let message = message.map(bounded);
    let mut seen = HashSet::default();
    let ids: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    let changes: Vec<(i64, Change)> = match state {
        State::Sent => {
            return Err(Error::input(
                "settle: state must be done, pending or failed, got sent",
            ))
        }
        State::Done => ids
            .iter()
            .map(|id| {
                (
                    *id,
                    Change::Done {
                        message: message.clone(),
                    },
                )
            })
            .collect(),
        State::Failed => {
            let message = message.unwrap_or_else(|| "failed".into());
            ids.iter()
                .map(|id| {
                    (
                        *id,
                        Change::Failed {
                            message: message.clone(),
                        },
                    )
                })
                .collect()
        }
        State::Pending => {
            let base = settings::retry_delay(settings)?;
            let max_failures = settings::max_attempts(settings)?;
            let message = message.unwrap_or_else(|| "retry requested".into());
            if ids.is_empty() {
                Vec::new()
            } else {
                store
                    .get(&ids)?
                    .into_iter()
                    .map(|row| {
                        (
                            row.id,
                            Change::Retry {
                                due_at: now.saturating_add(settings::retry_delay_for(
                                    base,
                                    row.attempts + 1,
                                )),
                                message: message.clone(),
                                order_failure,
                                max_failures,
                            },
                        )
                    })
                    .collect()
            }
        }
    };
    let mut report = Report::default();
    if changes.is_empty() {
        return Ok((0, report));
    }
    let applied = store.apply(&changes, claim, now)?;
    record(&mut report, &changes, &applied);
    let changed: HashSet<i64> = applied.iter().map(|a| a.id).collect();
    Ok((changed.len(), report))
}

/// Releases the claim of the step's rows that were not settled (a refused
/// token stops the run: no attempt is lost, the next run sends them).
fn release_unsettled(
    store: &dyn QueueStore,
    ids: &[i64],
    settled: &HashSet<i64>,
    claim: Option<&str>,
) -> Result<()> {
    let changes: Vec<(i64, Change)> = ids
        .iter()
        .filter(|id| !settled.contains(id))
        .map(|id| (*id, Change::Release))
        .collect();
    if !changes.is_empty() {
        store.apply(&changes, claim, crate::time::now())?;
    }
    Ok(())
}

/// The state of each changed row after the last change that named it.
fn last_states(applied: &[Applied]) -> HashMap<i64, State> {
    applied.iter().map(|a| (a.id, a.state)).collect()
}

/// Adds the rows of one commit to the report, by their new state and the
/// change that led there. A released row is in no list; a deferred sent row
/// counts as pending (it waits).
fn record(report: &mut Report, changes: &[(i64, Change)], applied: &[Applied]) {
    let states = last_states(applied);
    let mut last_change: Vec<(i64, &Change)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::default();
    for (id, change) in changes {
        if matches!(change, Change::SetTicket(_) | Change::SetOperation(_)) {
            continue;
        }
        match index.get(id) {
            Some(&i) => last_change[i].1 = change,
            None => {
                index.insert(*id, last_change.len());
                last_change.push((*id, change));
            }
        }
    }
    // Ids already listed (a report grows over a step's commits: a linear
    // `contains` per row would make a large step quadratic).
    let mut listed: HashSet<i64> = report
        .sent
        .iter()
        .chain(&report.succeeded)
        .chain(&report.failed)
        .chain(&report.pending)
        .copied()
        .collect();
    for (id, change) in last_change {
        let Some(state) = states.get(&id) else {
            continue;
        };
        let list = match (state, change) {
            (State::Failed, _) => Some(&mut report.failed),
            // Done, or superseded by a newer snapshot of the same order.
            (State::Done, _) => Some(&mut report.succeeded),
            (_, Change::Release) => None,
            (State::Pending, _) => Some(&mut report.pending),
            (State::Sent, Change::Sent { .. }) => Some(&mut report.sent),
            (State::Sent, Change::Defer { .. }) => Some(&mut report.pending),
            (State::Sent, _) => None,
        };
        if let Some(list) = list {
            if !listed.contains(&id) || !list.contains(&id) {
                listed.insert(id);
                list.push(id);
            }
        }
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A message cut to [`MAX_MESSAGE_BYTES`] on a character boundary.
fn bounded(msg: &str) -> String {
    if msg.len() <= MAX_MESSAGE_BYTES {
        return msg.to_string();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &msg[..end])
}
