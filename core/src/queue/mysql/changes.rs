//! Applying [`Change`]s to claimed rows (`apply`): one transaction per call,
//! the same rules as the SQLite store (see `queue/sqlite/changes.rs` and
//! docs/STATE-MACHINE.md), in few round trips whatever the number of rows:
//!
//! 1. the server's time, and every named row, locked (`FOR UPDATE`, in id
//!    order so that two runs lock in the same order);
//! 2. the changes applied in memory, in the given order (a change applies
//!    only to a row still leased to the claim);
//! 3. for rows going back to pending, the other rows of their orders (one
//!    read), to settle a row that a newer update supersedes;
//! 4. the rows written back in few statements (rows with identical new
//!    values: one `UPDATE ... WHERE id IN (...)`; rows with values of their
//!    own, such as ticket ids: an `UPDATE ... JOIN` on the new values);
//!    rows leaving the unique pending slot first, rows taking it last, so
//!    the key never sees two at once;
//! 5. `COMMIT`.
//!
//! A concurrent save that inserts a pending row of the same order between
//! 3 and 4 meets the unique key: the transaction is rolled back and run
//! again (contention, see `connection.rs`), and then sees that row.

use super::errors::Res;
use super::rows::{id_list, opt_text_literal, parse_state, take, text_literal};
use super::MysqlStore;
use crate::model::{self, Operation, State};
use crate::queue::{Applied, Change};
use mysql::prelude::Queryable;
use mysql::{Row as MyRow, Transaction, TxOpts};
use std::collections::BTreeMap;

/// What `apply` reads and writes of a row.
#[derive(Debug, Clone, PartialEq)]
struct Live {
    id_shop: i64,
    id_order: i64,
    action: String,
    state: State,
    operation: Option<String>,
    batch_id: Option<String>,
    ticket_id: Option<String>,
    attempts: i64,
    failures: i64,
    last_error: Option<String>,
    update_at: i64,
    locked_by: Option<String>,
    locked_until: Option<i64>,
    date_upd: i64,
    /// Never changed by `apply`: read to decide supersedes.
    subject: i64,
}

const LIVE_COLUMNS: &str = "id_shoppingfeed_order_sync_queue, id_shop, id_order, action, state, \
    operation, batch_id, ticket_id, attempts, failures, last_error, update_at, locked_by, \
    locked_until, date_upd, subject";

fn live_from(mut r: MyRow) -> Res<(i64, Live)> {
    let id: i64 = take(&mut r, 0)?;
    let state: String = take(&mut r, 4)?;
    Ok((
        id,
        Live {
            id_shop: take(&mut r, 1)?,
            id_order: take(&mut r, 2)?,
            action: take(&mut r, 3)?,
            state: parse_state(id, &state)?,
            operation: take(&mut r, 5)?,
            batch_id: take(&mut r, 6)?,
            ticket_id: take(&mut r, 7)?,
            attempts: take(&mut r, 8)?,
            failures: take(&mut r, 9)?,
            last_error: take(&mut r, 10)?,
            update_at: take(&mut r, 11)?,
            locked_by: take(&mut r, 12)?,
            locked_until: take(&mut r, 13)?,
            date_upd: take(&mut r, 14)?,
            subject: take(&mut r, 15)?,
        },
    ))
}

impl Live {
    fn release(&mut self) {
        self.locked_by = None;
        self.locked_until = None;
    }

    /// Holds the unique pending slot (an unclaimed pending row).
    fn takes_slot(&self) -> bool {
        self.state == State::Pending && self.locked_by.is_none()
    }

    /// The row's new values as one `SELECT` of a derived table (`named`:
    /// with the column names, for the first row).
    fn values(&self, id: i64, named: bool) -> String {
        let v = [
            id.to_string(),
            text_literal(&self.action),
            format!("'{}'", self.state.as_str()),
            opt_text_literal(self.operation.as_deref()),
            opt_text_literal(self.batch_id.as_deref()),
            opt_text_literal(self.ticket_id.as_deref()),
            self.attempts.to_string(),
            self.failures.to_string(),
            opt_text_literal(self.last_error.as_deref()),
            self.update_at.to_string(),
            self.date_upd.to_string(),
            opt_text_literal(self.locked_by.as_deref()),
            self.locked_until
                .map_or_else(|| "NULL".to_string(), |t| t.to_string()),
        ];
        if !named {
            return v.join(", ");
        }
        const NAMES: [&str; 13] = [
            "id",
            "action",
            "state",
            "operation",
            "batch_id",
            "ticket_id",
            "attempts",
            "failures",
            "last_error",
            "update_at",
            "date_upd",
            "locked_by",
            "locked_until",
        ];
        v.iter()
            .zip(NAMES)
            .map(|(value, name)| format!("{value} AS {name}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The SET clause that writes this row back.
    fn set_clause(&self) -> String {
        format!(
            "action = {}, state = '{}', operation = {}, batch_id = {}, ticket_id = {}, \
             attempts = {}, failures = {}, last_error = {}, update_at = {}, date_upd = {}, \
             locked_by = {}, locked_until = {}",
            text_literal(&self.action),
            self.state.as_str(),
            opt_text_literal(self.operation.as_deref()),
            opt_text_literal(self.batch_id.as_deref()),
            opt_text_literal(self.ticket_id.as_deref()),
            self.attempts,
            self.failures,
            opt_text_literal(self.last_error.as_deref()),
            self.update_at,
            self.date_upd,
            opt_text_literal(self.locked_by.as_deref()),
            self.locked_until
                .map_or_else(|| "NULL".to_string(), |t| t.to_string()),
        )
    }
}

/// A row of the same orders, read to decide supersedes.
struct Other {
    id: i64,
    id_shop: i64,
    id_order: i64,
    action: String,
    state: State,
    unclaimed: bool,
    subject: i64,
}

impl MysqlStore {
    pub(super) fn apply_changes(
        &self,
        changes: &[(i64, Change)],
        claim: Option<&str>,
        now: i64,
    ) -> Res<Vec<Applied>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let table = &self.table;
        let clock = self.clock;
        self.link.borrow_mut().run(|conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let server_now = clock.now(&mut tx, now)?;
            let applied = apply_in(&mut tx, table, changes, claim, now, server_now)?;
            tx.commit()?;
            Ok(applied)
        })
    }
}

fn apply_in(
    tx: &mut Transaction<'_>,
    table: &str,
    changes: &[(i64, Change)],
    claim: Option<&str>,
    now: i64,
    server_now: i64,
) -> Res<Vec<Applied>> {
    let mut ids: Vec<i64> = changes.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let read: Vec<MyRow> = tx.query(format!(
        "SELECT {LIVE_COLUMNS} FROM `{table}` WHERE id_shoppingfeed_order_sync_queue IN ({}) \
         ORDER BY id_shoppingfeed_order_sync_queue FOR UPDATE",
        id_list(&ids)
    ))?;
    let mut rows: BTreeMap<i64, Live> = BTreeMap::new();
    for r in read {
        let (id, live) = live_from(r)?;
        rows.insert(id, live);
    }
    let before = rows.clone();
    let mut others: Option<Vec<Other>> = None;
    let mut applied = Vec::with_capacity(changes.len());
    for (id, change) in changes {
        let id = *id;
        let Some(row) = rows.get_mut(&id) else {
            continue;
        };
        if let Some(claim) = claim {
            if row.locked_by.as_deref() != Some(claim) {
                continue;
            }
        }
        row.date_upd = server_now;
        let back_to_pending = match change {
            Change::SetOperation(op) => {
                row.operation = op.map(|o| Operation::as_str(o).to_string());
                false
            }
            Change::SetTicket(ticket) => {
                row.ticket_id = Some(ticket.clone());
                false
            }
            Change::Done { message } => {
                row.state = State::Done;
                row.last_error = message.clone();
                row.release();
                false
            }
            Change::Failed { message } => {
                row.state = State::Failed;
                row.last_error = Some(message.clone());
                row.release();
                false
            }
            Change::Sent { batch_id } => {
                row.action = model::check_action(&row.action);
                row.state = State::Sent;
                row.batch_id = Some(batch_id.clone());
                row.ticket_id = None;
                row.update_at = server_now;
                row.release();
                false
            }
            Change::Retry {
                due_at,
                message,
                order_failure,
                max_failures,
            } => {
                // The policy decides the counters and the state.
                let next = crate::retry::requeue(
                    row.attempts,
                    row.failures,
                    *order_failure,
                    *max_failures,
                );
                row.action = model::base_action(&row.action).to_string();
                row.state = next.state;
                row.attempts = next.attempts;
                row.failures = next.failures;
                row.last_error = Some(message.clone());
                row.update_at = super::rows::on_server(*due_at, now, server_now);
                row.release();
                row.state == State::Pending
            }
            Change::Defer { due_at, message } => {
                row.attempts = row.attempts.saturating_add(1);
                row.last_error = Some(message.clone());
                row.update_at = super::rows::on_server(*due_at, now, server_now);
                row.release();
                row.state == State::Pending
            }
            Change::Wait { due_at, message } => {
                row.last_error = Some(message.clone());
                // Already on the server's clock (from the row's date_add).
                row.update_at = *due_at;
                row.release();
                row.state == State::Pending
            }
            Change::Release => {
                row.release();
                row.state == State::Pending
            }
        };
        if back_to_pending {
            if others.is_none() {
                others = Some(read_others(tx, table, &rows)?);
            }
            let newer = superseder(id, &rows, others.as_deref().unwrap_or(&[]));
            if let (Some(n), Some(row)) = (newer, rows.get_mut(&id)) {
                row.state = State::Done;
                row.last_error = Some(format!("superseded by a newer update (row {n})"));
            }
        }
        let state = rows.get(&id).map(|r| r.state).unwrap_or(State::Done);
        applied.push(Applied { id, state });
    }
    write_back(tx, table, &before, &rows)?;
    Ok(applied)
}

/// The other live rows of the orders in `rows` (one read through the
/// `sfsync_pending` index, led by `id_order`).
fn read_others(
    tx: &mut Transaction<'_>,
    table: &str,
    rows: &BTreeMap<i64, Live>,
) -> Res<Vec<Other>> {
    let mut orders: Vec<i64> = rows.values().map(|r| r.id_order).collect();
    orders.sort_unstable();
    orders.dedup();
    type Found = (i64, i64, i64, String, String, Option<String>, i64);
    let found: Vec<Found> = tx.query(format!(
        "SELECT id_shoppingfeed_order_sync_queue, id_shop, id_order, action, state, locked_by, \
         subject FROM `{table}` WHERE id_order IN ({}) AND live = 1",
        id_list(&orders)
    ))?;
    let mut out = Vec::with_capacity(found.len());
    for (id, id_shop, id_order, action, state, locked_by, subject) in found {
        if rows.contains_key(&id) {
            continue; // the in-memory version is the truth
        }
        out.push(Other {
            id,
            id_shop,
            id_order,
            action,
            state: parse_state(id, &state)?,
            unclaimed: locked_by.is_none(),
            subject,
        });
    }
    Ok(out)
}

/// The newest row that supersedes row `id` (same shop, order, base action
/// and subject): an unclaimed pending row of the base action, or a newer
/// live row. The SQLite store's rule (`queue/sqlite/supersede.rs`).
fn superseder(id: i64, rows: &BTreeMap<i64, Live>, others: &[Other]) -> Option<i64> {
    let me = rows.get(&id)?;
    let base = model::base_action(&me.action);
    let check = model::check_action(base);
    let check = check.as_str();
    let supersedes =
        |other_id: i64, key: (i64, i64, i64), action: &str, state: State, unclaimed: bool| {
            other_id != id
                && key == (me.id_shop, me.id_order, me.subject)
                && (action == base || action == check)
                && ((state == State::Pending && action == base && unclaimed)
                    || (other_id > id && matches!(state, State::Pending | State::Sent)))
        };
    let in_memory = rows.iter().filter_map(|(oid, r)| {
        supersedes(
            *oid,
            (r.id_shop, r.id_order, r.subject),
            &r.action,
            r.state,
            r.locked_by.is_none(),
        )
        .then_some(*oid)
    });
    let stored = others
        .iter()
        .filter(|o| {
            supersedes(
                o.id,
                (o.id_shop, o.id_order, o.subject),
                &o.action,
                o.state,
                o.unclaimed,
            )
        })
        .map(|o| o.id);
    in_memory.chain(stored).max()
}

/// Rows per statement when rows with different values are written together.
const ROWS_PER_STATEMENT: usize = 500;

/// Writes the rows that changed, rows leaving (or never holding) the unique
/// pending slot before rows taking it, so that the key never sees two at
/// once. Rows that all get the same values: one `UPDATE ... WHERE id IN`;
/// rows with values of their own (each row's ticket id, say): one
/// `UPDATE ... JOIN` on a derived table of the new values per
/// [`ROWS_PER_STATEMENT`] rows, not one statement per row.
fn write_back(
    tx: &mut Transaction<'_>,
    table: &str,
    before: &BTreeMap<i64, Live>,
    after: &BTreeMap<i64, Live>,
) -> Res<()> {
    let changed: Vec<(i64, &Live)> = after
        .iter()
        .filter(|(id, row)| before.get(id) != Some(*row))
        .map(|(id, row)| (*id, row))
        .collect();
    for taking in [false, true] {
        let part: Vec<(i64, &Live)> = changed
            .iter()
            .filter(|(_, row)| row.takes_slot() == taking)
            .copied()
            .collect();
        write_part(tx, table, &part)?;
    }
    Ok(())
}

fn write_part(tx: &mut Transaction<'_>, table: &str, rows: &[(i64, &Live)]) -> Res<()> {
    let Some((_, first)) = rows.first() else {
        return Ok(());
    };
    let same = first.set_clause();
    if rows.iter().all(|(_, row)| row.set_clause() == same) {
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        tx.query_drop(format!(
            "UPDATE `{table}` SET {same} WHERE id_shoppingfeed_order_sync_queue IN ({})",
            id_list(&ids)
        ))?;
        return Ok(());
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut values = String::with_capacity(chunk.len() * 320);
        for (i, (id, row)) in chunk.iter().enumerate() {
            values.push_str(if i == 0 {
                "SELECT "
            } else {
                " UNION ALL SELECT "
            });
            values.push_str(&row.values(*id, i == 0));
        }
        tx.query_drop(format!(
            "UPDATE `{table}` AS q JOIN ({values}) AS v \
             ON q.id_shoppingfeed_order_sync_queue = v.id \
             SET q.action = v.action, q.state = v.state, q.operation = v.operation, \
                 q.batch_id = v.batch_id, q.ticket_id = v.ticket_id, q.attempts = v.attempts, \
                 q.failures = v.failures, q.last_error = v.last_error, q.update_at = v.update_at, \
                 q.date_upd = v.date_upd, q.locked_by = v.locked_by, q.locked_until = v.locked_until"
        ))?;
    }
    Ok(())
}
