//! The retry policy: the one place that decides what happens to a row when
//! an answer (or its absence) comes back. `docs/STATE-MACHINE.md` is the same
//! rule book as a table.
//!
//! - **Backoff.** The n-th retry of a row waits `RETRY_DELAY × 2^(n−1)`
//!   seconds, ±20 % jitter (so that rows failed together do not all come
//!   back together), at least 1 s and at most [`MAX_RETRY_DELAY_SECS`];
//!   `RETRY_DELAY = 0` makes every retry due at once ([`delay`]).
//! - **Two counters.** `attempts` counts every try that did not succeed and
//!   drives the delay; `failures` counts order-specific failures only (a 4xx
//!   naming the order, a failed ticket, `settle(..., order_failure)`) and
//!   makes the row `failed` once it reaches `MAX_ATTEMPTS`
//!   ([`settings::max_failures`], [`requeue`]). An outage (5xx, timeout,
//!   refused connection, malformed answer, a 429 that did not clear) adds an
//!   attempt, never a failure: a long outage never fails a row.
//! - **429.** In batch mode a request waits what `X-RateLimit-Wait` asks (at
//!   most [`MAX_RATE_LIMIT_WAIT_SECS`]) and tries again, up to
//!   [`MAX_RATE_LIMIT_RETRIES`] times; then it counts as an outage. Real-time
//!   mode never waits ([`rate_limit_wait`]).
//! - **A refused token** (401/403) stops the run: the rows not settled yet
//!   are released with no attempt lost ([`release`]).
//!
//! The decisions are pure functions from an answer to [`Change`] values;
//! the engine commits them through [`crate::queue::QueueStore::apply`], and
//! a store applies a `Retry` with [`requeue`].

use crate::api::{Accepted, ApiError, Ticket};
use crate::error::Result;
use crate::model::{Row, State};
use crate::queue::Change;
use crate::settings::{self, SettingsSource};
use serde_json::Value;
use std::time::Duration;

#[cfg(test)]
mod tests;

/// How many times one request waits for a 429 and tries again (batch mode)
/// before the answer counts as an outage.
pub const MAX_RATE_LIMIT_RETRIES: u32 = 5;
/// Longest single wait for a 429, whatever `X-RateLimit-Wait` says.
pub const MAX_RATE_LIMIT_WAIT_SECS: f64 = 30.0;
/// Wait for a 429 whose `X-RateLimit-Wait` is unusable (negative, not finite).
const DEFAULT_RATE_LIMIT_WAIT_SECS: f64 = 1.0;
/// Longest delay before a retry, whatever the number of attempts: a row
/// never waits more than an hour after the API is back.
pub const MAX_RETRY_DELAY_SECS: i64 = 3600;
/// Relative spread of a retry delay (±20 %).
pub const RETRY_JITTER: f64 = 0.2;
/// Doublings past this change nothing (2^20 × 1 s is far past the cap) and
/// would only risk overflow.
const MAX_DOUBLINGS: i64 = 20;

/// Batch (cron) or real-time (inside `saveOrder`: one HTTP attempt, no
/// 429 wait, nothing retried in the same call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Batch,
    RealTime,
}

/// The delay before the n-th retry (n >= 1; lower counts as 1), in seconds,
/// with a random jitter. See [`delay_with`].
pub fn delay(base: i64, n: i64) -> i64 {
    delay_with(base, n, fastrand::f64())
}

/// [`delay`] with the jitter given: `unit` in `[0, 1)` picks the factor in
/// `[0.8, 1.2)`. `base × 2^(n−1) × factor`, rounded, clamped to
/// `1..=MAX_RETRY_DELAY_SECS`; 0 when `base` is 0 (due at once).
pub fn delay_with(base: i64, n: i64, unit: f64) -> i64 {
    if base <= 0 {
        return 0;
    }
    let doublings = (n.max(1) - 1).min(MAX_DOUBLINGS) as u32;
    let raw = (base as f64) * f64::from(2u32.pow(doublings));
    let factor = 1.0 - RETRY_JITTER + unit.clamp(0.0, 1.0) * 2.0 * RETRY_JITTER;
    ((raw * factor).round() as i64).clamp(1, MAX_RETRY_DELAY_SECS)
}

/// How long to wait before trying a request again after `err`, or `None`
/// when it must not be tried again now: only a 429, only in batch mode, at
/// most [`MAX_RATE_LIMIT_RETRIES`] times (`waits` already made).
pub fn rate_limit_wait(mode: Mode, err: &ApiError, waits: u32) -> Option<Duration> {
    match err {
        ApiError::RateLimited { wait_secs }
            if mode == Mode::Batch && waits < MAX_RATE_LIMIT_RETRIES =>
        {
            let secs = if wait_secs.is_finite() && *wait_secs >= 0.0 {
                wait_secs.min(MAX_RATE_LIMIT_WAIT_SECS)
            } else {
                DEFAULT_RATE_LIMIT_WAIT_SECS
            };
            Some(Duration::from_secs_f64(secs))
        }
        _ => None,
    }
}

/// A row's counters after a [`Change::Retry`], and its new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requeued {
    pub attempts: i64,
    pub failures: i64,
    /// `Pending`, or `Failed` once failures reach the limit.
    pub state: State,
}

/// What a store does with a [`Change::Retry`]: `attempts + 1`; with
/// `order_failure` also `failures + 1`, and `failed` once failures reach
/// `max_failures`. An outage alone never fails a row.
pub fn requeue(attempts: i64, failures: i64, order_failure: bool, max_failures: i64) -> Requeued {
    let failures = failures.saturating_add(i64::from(order_failure));
    let state = if order_failure && failures >= max_failures {
        State::Failed
    } else {
        State::Pending
    };
    Requeued {
        attempts: attempts.saturating_add(1),
        failures,
        state,
    }
}

/// Claim released, nothing else changes, for every row given: a run
/// stopped by a refused token loses no attempt (the next run with a good
/// token sends the same rows).
pub fn release(ids: impl IntoIterator<Item = i64>) -> Vec<(i64, Change)> {
    ids.into_iter().map(|id| (id, Change::Release)).collect()
}

/// A row as the policy sees it: its id and how many tries it has had.
pub trait Attempted {
    fn id(&self) -> i64;
    fn attempts(&self) -> i64;
}

impl Attempted for Row {
    fn id(&self) -> i64 {
        self.id
    }
    fn attempts(&self) -> i64 {
        self.attempts
    }
}

/// An order inside an HTTP request, as the policy sees it.
pub trait SentOrder: Attempted {
    /// True when a problem's `detail` names this order.
    fn named_in(&self, detail: &str) -> bool;
    /// True when an element of a 202's `ignored` report names this order.
    fn ignored_in(&self, report: &Value) -> bool;
}

/// Makes a message safe to store: the token removed, the length bounded
/// (the engine's [`crate::engine::Target`] gives it).
pub type Clean<'a> = &'a dyn Fn(&str) -> String;

/// A 202: the order is done when the API reports it ignored (already
/// performed), else sent with the batch id (its ticket is read next).
pub fn accepted(order: &impl SentOrder, answer: &Accepted, clean: Clean<'_>) -> Change {
    match answer.ignored.iter().find(|rep| order.ignored_in(rep)) {
        Some(rep) => {
            let why = rep
                .get("message")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .unwrap_or("already performed");
            Change::Done {
                message: Some(clean(&format!("ignored by Shopping Feed: {why}"))),
            }
        }
        None => Change::Sent {
            batch_id: answer.batch_id.clone(),
        },
    }
}

/// The ticket states this client knows: anything else is reported, not
/// guessed (`"SUCCEED"` is not `succeed`: an API that changed its words
/// must be noticed, not read as "still running").
pub fn known_ticket_state(state: &str) -> bool {
    matches!(
        state,
        "scheduled" | "running" | "succeed" | "failed" | "canceled" | "cancelled"
    )
}

/// The message of a ticket whose state is not known.
pub fn unknown_state_message(ticket_id: &str, state: &str) -> String {
    format!(
        "ticket {ticket_id}: state {} unknown to this client (read again later)",
        crate::text::excerpt(state)
    )
}

/// What to do with the orders of a request that failed (other than a
/// refused token): the changes to commit, and the orders to send again in
/// this run, one request per group.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict<O> {
    pub changes: Vec<(i64, Change)>,
    pub again: Vec<Vec<O>>,
}

/// The ticket read of a batch that failed (other than a refused token).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadFailure {
    pub changes: Vec<(i64, Change)>,
    /// The line for the conveyor's `errors`.
    pub error: String,
}

/// The settings-driven half of the policy: the base delay and the failure
/// limit, read once per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `RETRY_DELAY`, seconds.
    pub base_delay: i64,
    /// `MAX_ATTEMPTS`: order-specific failures that make a row `failed`.
    pub max_failures: i64,
}

impl RetryPolicy {
    /// Reads `RETRY_DELAY` then `MAX_ATTEMPTS` (a malformed value fails the
    /// step that reads it, naming the setting).
    pub fn read(settings: &dyn SettingsSource) -> Result<RetryPolicy> {
        Ok(RetryPolicy {
            base_delay: settings::retry_delay(settings)?,
            max_failures: settings::max_failures(settings)?,
        })
    }

    /// When a row that has had `attempts` tries is due again.
    pub fn due_at(&self, now: i64, attempts: i64) -> i64 {
        now.saturating_add(delay(self.base_delay, attempts.saturating_add(1)))
    }

    /// Back to pending after the backoff; `order_failure` counts towards
    /// the failure limit (see [`requeue`]).
    pub fn retry(
        &self,
        row: &impl Attempted,
        now: i64,
        message: String,
        order_failure: bool,
    ) -> (i64, Change) {
        (
            row.id(),
            Change::Retry {
                due_at: self.due_at(now, row.attempts()),
                message,
                order_failure,
                max_failures: self.max_failures,
            },
        )
    }

    /// A sent row whose ticket cannot be read now: it stays sent, one more
    /// attempt, read again after the backoff.
    pub fn defer(&self, row: &impl Attempted, now: i64, message: String) -> (i64, Change) {
        (
            row.id(),
            Change::Defer {
                due_at: self.due_at(now, row.attempts()),
                message,
            },
        )
    }

    /// A request of `orders` failed with `err` (not a refused token); `msg`
    /// is the cleaned message for `last_error`.
    ///
    /// - An outage (or a 429 that did not clear): every order waits, none fails.
    /// - A 4xx naming some orders: those get an order failure; the others
    ///   are sent again in this run (batch) or wait (real time).
    /// - A 4xx naming none: a single order gets the order failure; a larger
    ///   request is split in two halves sent again (batch), so the bad
    ///   order is found in log2(n) steps; in real time every order waits
    ///   (one attempt only: the cron finds the bad one).
    pub fn request_failed<O: SentOrder>(
        &self,
        mode: Mode,
        mut orders: Vec<O>,
        err: &ApiError,
        msg: &str,
        now: i64,
    ) -> Verdict<O> {
        let retry =
            |order: &O, order_failure: bool| self.retry(order, now, msg.into(), order_failure);
        let all = |orders: &[O], order_failure: bool| -> Vec<(i64, Change)> {
            orders.iter().map(|o| retry(o, order_failure)).collect()
        };
        let ApiError::Rejected { detail, .. } = err else {
            return Verdict {
                changes: all(&orders, false),
                again: Vec::new(),
            };
        };
        let batch = mode == Mode::Batch;
        let (named, rest): (Vec<O>, Vec<O>) = orders.into_iter().partition(|o| o.named_in(detail));
        orders = rest;
        let mut verdict = Verdict {
            changes: all(&named, true),
            again: Vec::new(),
        };
        if !named.is_empty() {
            if !orders.is_empty() {
                if batch {
                    verdict.again.push(orders);
                } else {
                    verdict.changes.extend(all(&orders, false));
                }
            }
        } else if orders.len() <= 1 {
            verdict.changes = all(&orders, true);
        } else if batch {
            let second = orders.split_off(orders.len() / 2);
            verdict.again = vec![orders, second];
        } else {
            verdict.changes = all(&orders, false);
        }
        verdict
    }

    /// A sent row whose ticket answer cannot be trusted (a state this
    /// client does not know, a read the API refuses with a 4xx): it stays
    /// sent and is read again after the backoff (attempts + 1), like an
    /// outage; but it is not an outage (the same answer comes back each
    /// time), so once the row has had `MAX_ATTEMPTS` tries it ends `failed`
    /// with the message instead of waiting forever unseen.
    pub fn defer_or_give_up(&self, row: &impl Attempted, now: i64, message: String) -> Change {
        let tries = row.attempts().saturating_add(1);
        if tries >= self.max_failures {
            return Change::Failed {
                message: format!("{message} (gave up after {tries} tries)"),
            };
        }
        self.defer(row, now, message).1
    }

    /// The ticket of a sent row, once its batch was read: `ticket` is the
    /// one naming the row's order (None: the API listed none), `processing`
    /// whether the API still works on the batch.
    ///
    /// `succeed` and `canceled` settle it done; `failed` is an order
    /// failure; `scheduled` and `running` release it to be read again. A
    /// state this client does not know ([`known_ticket_state`]) is reported
    /// and deferred ([`defer_or_give_up`](Self::defer_or_give_up)). No
    /// ticket: released while the batch is processing, else a retry (not
    /// an order failure).
    pub fn ticket_change(
        &self,
        row: &impl Attempted,
        ticket: Option<&Ticket>,
        processing: bool,
        batch_id: &str,
        now: i64,
        clean: Clean<'_>,
    ) -> Change {
        let Some(ticket) = ticket else {
            if processing {
                return Change::Release;
            }
            let msg = clean(&format!("no ticket for this order in batch {batch_id}"));
            return self.retry(row, now, msg, false).1;
        };
        let message = ticket.message.as_deref().filter(|m| !m.is_empty());
        match ticket.state.as_str() {
            "succeed" => Change::Done { message: None },
            "canceled" | "cancelled" => Change::Done {
                message: Some(clean(&format!(
                    "canceled by Shopping Feed: {}",
                    message.unwrap_or("no reason given")
                ))),
            },
            "failed" => {
                let msg = clean(message.unwrap_or("ticket failed"));
                self.retry(row, now, msg, true).1
            }
            "scheduled" | "running" => Change::Release,
            unknown => {
                let msg = clean(&unknown_state_message(&ticket.id, unknown));
                self.defer_or_give_up(row, now, msg)
            }
        }
    }

    /// The tickets of a batch could not be read (other than a refused
    /// token or an unknown store, which stop the run). A 404 (the API no
    /// longer knows the batch): the rows go back to pending to be sent
    /// again (an attempt, not an order failure). Another 4xx (400, 409,
    /// 422...) refuses the read itself, every time: the rows stay sent,
    /// deferred, and end `failed` after `MAX_ATTEMPTS` tries
    /// ([`defer_or_give_up`](Self::defer_or_give_up)). Anything else is an
    /// outage: the rows stay sent, read again later, never failed.
    pub fn read_failed<R: Attempted>(
        &self,
        rows: &[&R],
        err: &ApiError,
        batch_id: &str,
        now: i64,
        clean: Clean<'_>,
    ) -> ReadFailure {
        if let ApiError::Rejected { status: 404, .. } = err {
            let error = clean(&format!(
                "ticket batch {batch_id} unknown to Shopping Feed (404)"
            ));
            return ReadFailure {
                changes: rows
                    .iter()
                    .map(|row| self.retry(*row, now, error.clone(), false))
                    .collect(),
                error,
            };
        }
        let error = clean(&format!("ticket batch {batch_id}: {}", err.message()));
        if let ApiError::Rejected { .. } = err {
            return ReadFailure {
                changes: rows
                    .iter()
                    .map(|row| (row.id(), self.defer_or_give_up(*row, now, error.clone())))
                    .collect(),
                error,
            };
        }
        ReadFailure {
            changes: rows
                .iter()
                .map(|row| self.defer(*row, now, error.clone()))
                .collect(),
            error,
        }
    }
}
