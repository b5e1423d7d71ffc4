//! `prepareBatch`: map each claimed row's order state to an operation.

use super::bounded;
use super::report::{last_states, Report};
use crate::error::Result;
use crate::fasthash::{HashMap, HashSet};
use crate::model::{self, Operation, Row, State};
use crate::queue::{Change, QueueStore};
use crate::settings::{SettingsSource, StateLists};
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
    let lists = StateLists::read(settings)?;
    let (mut changes, mapped) = decide(&lists, &rows);
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

/// The change of each row (superseded, unmapped or unreadable rows settled;
/// the others get their operation), and the mapped rows.
fn decide(lists: &StateLists, rows: &[Row]) -> (Vec<(i64, Change)>, Mapped) {
    let mut changes: Vec<(i64, Change)> = Vec::new();
    let mut mapped: Mapped = Vec::new();
    // Two rows of one order in one batch (a dead run's row whose lease ended
    // beside the newer update saved since, or a failed row brought back by
    // retryFailed): only the newest is sent, or the marketplace could end on
    // the older status.
    let mut newest: HashMap<(i64, i64, &str), i64> = HashMap::default();
    for row in rows {
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
        let operation =
            model::order_state(&row.payload).map(|state| (state, lists.operation(state)));
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
                Ok(_) => {
                    mapped.push((op, index));
                    Change::SetOperation(Some(op))
                }
                Err(e) => Change::Failed {
                    message: bounded(e.message()),
                },
            },
        };
        changes.push((row.id, change));
    }
    (changes, mapped)
}
