//! `prepareBatch`: map each claimed row's order state to an operation.

use super::bounded;
use super::report::{last_states, Report};
use crate::error::Result;
use crate::fasthash::{HashMap, HashSet};
use crate::model::{self, Operation, Row, State};
use crate::queue::{Change, QueueStore};
use crate::settings::{self, SettingsSource, StateLists};
use std::collections::BTreeMap;

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
    // Refunds and invoices have their operation; only other rows need the
    // state lists (a malformed list then stops only what needs it).
    let lists = if rows
        .iter()
        .any(|r| model::field_operation(&r.action).is_none())
    {
        StateLists::read(settings)?
    } else {
        StateLists::default()
    };
    let wait = TrackingWait {
        secs: settings::tracking_wait_hours(settings)?.saturating_mul(3600),
        now,
    };
    let (mut changes, mapped) = decide(&lists, wait, &rows);
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
    if claim.is_some() {
        prepared.report.note_taken_over(&changes, &applied);
    }
    let states = last_states(&applied);
    for (id, change) in &changes {
        match (change, states.get(id)) {
            (Change::Done { .. }, Some(State::Done)) => prepared.report.succeeded.push(*id),
            (Change::Failed { .. }, Some(State::Failed)) => prepared.report.failed.push(*id),
            // Waiting for its tracking number; or superseded meanwhile.
            (Change::Wait { .. }, Some(State::Pending)) => prepared.report.pending.push(*id),
            (Change::Wait { .. }, Some(State::Done)) => prepared.report.succeeded.push(*id),
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

/// The rows mapped to an operation: (operation, index in the claimed rows).
type Mapped = Vec<(Operation, usize)>;

/// `SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT`: how long a `ship` without a
/// tracking number waits for one, counted from the update's first save.
/// Marketplaces refuse or penalise shipments without one, and merchants
/// often type the number after the status change: the update then goes
/// with it (a later save replaces the waiting snapshot), and only a number
/// that never comes lets it go without.
#[derive(Debug, Clone, Copy)]
struct TrackingWait {
    secs: i64,
    now: i64,
}

impl TrackingWait {
    /// The change that holds the row back, or None to send it now. Waiting
    /// counts no attempt. A snapshot saying `tracking_expected: false` (a
    /// carrier with no tracking) never waits. `date_add` is on the store's
    /// clock and `now` on the caller's: with a database server whose clock
    /// differs, the wait is off by that difference, never endless (the
    /// due time is a fixed point after the first save).
    fn hold(&self, op: Operation, row: &Row) -> Option<Change> {
        if op != Operation::Ship || self.secs <= 0 {
            return None;
        }
        let payload = &row.payload;
        let has_number = payload
            .get("tracking_number")
            .and_then(|v| v.as_str())
            .is_some_and(|s| !s.trim().is_empty());
        if has_number || payload.get("tracking_expected") == Some(&serde_json::Value::Bool(false)) {
            return None;
        }
        let due_at = row.date_add.saturating_add(self.secs);
        if due_at <= self.now {
            return None;
        }
        Some(Change::Wait {
            due_at,
            message: format!(
                "waiting for a tracking number, at most until {} UTC (SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT)",
                crate::time::format_datetime(due_at)
            ),
        })
    }
}

/// The change of each row (superseded, unmapped or unreadable rows settled;
/// the others get their operation), and the mapped rows.
fn decide(lists: &StateLists, wait: TrackingWait, rows: &[Row]) -> (Vec<(i64, Change)>, Mapped) {
    let mut changes: Vec<(i64, Change)> = Vec::new();
    let mut mapped: Mapped = Vec::new();
    // Two rows of one order in one batch (a dead run's row whose lease ended
    // beside the newer update saved since, or a failed row brought back by
    // retryFailed): only the newest is sent, or the marketplace could end on
    // the older status.
    // Keyed by subject too: two credit slips are two refunds.
    let mut newest: HashMap<(i64, i64, &str, i64), i64> = HashMap::default();
    for row in rows {
        let key = (
            row.id_shop,
            row.id_order,
            model::base_action(&row.action),
            row.subject,
        );
        let slot = newest.entry(key).or_insert(row.id);
        *slot = (*slot).max(row.id);
    }
    let mut seen = HashSet::default();
    for (index, row) in rows.iter().enumerate() {
        if !seen.insert(row.id) {
            continue;
        }
        let newer = newest[&(
            row.id_shop,
            row.id_order,
            model::base_action(&row.action),
            row.subject,
        )];
        if newer != row.id {
            changes.push((
                row.id,
                Change::Done {
                    message: Some(format!("superseded by a newer update (row {newer})")),
                },
            ));
            continue;
        }
        let operation = match model::field_operation(&row.action) {
            Some(op) => Ok((0, Some(op))),
            None => model::order_state(&row.payload).map(|state| (state, lists.operation(state))),
        };
        let change = match operation {
            Err(e) => Change::Failed {
                message: bounded(e.message()),
            },
            Ok((state, None)) => Change::Done {
                message: Some(format!(
                    "no Shopping Feed operation for order state {state}"
                )),
            },
            Ok((_, Some(op))) => match model::element(op, &row.payload) {
                Ok(_) => match wait.hold(op, row) {
                    Some(hold) => hold,
                    None => {
                        mapped.push((op, index));
                        Change::SetOperation(Some(op))
                    }
                },
                Err(e) => Change::Failed {
                    message: bounded(e.message()),
                },
            },
        };
        changes.push((row.id, change));
    }
    (changes, mapped)
}
