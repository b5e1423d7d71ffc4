//! Applying [`Change`]s to claimed rows (`apply`): one write transaction per
//! call, the changes in the given order.
//!
//! # What each change does
//!
//! As documented on [`Change`]; every change sets `date_upd`, a claim does
//! not. `Sent` also clears `ticket_id` (a ticket of an earlier batch is
//! stale). `Failed` keeps the action (`retry_failed` moves it back to its
//! base). A row going back to pending may be settled `done` instead: see
//! [`supersede`](super::supersede).
//!
//! With a claim, each change applies only to a row still leased to it (a
//! row whose lease ended and was taken by another run is left alone).

use super::connection::WriteTx;
use super::errors::Res;
use super::rows::{json_ids, parse_state, text_of};
use super::SqliteStore;
use crate::fasthash::HashMap;
use crate::model::{self, Operation, State};
use crate::queue::{Applied, Change};
use rusqlite::{params, Connection, OptionalExtension};

/// What `apply` reads of a row before changing it.
const APPLY_READ: &str = "
SELECT action, state, attempts, failures, id_shop, id_order, subject FROM shoppingfeed_order
WHERE id_shoppingfeed_order = ?1 AND (?2 IS NULL OR locked_by = ?2)";

/// The changes that need nothing of the row but its lease are one
/// statement each, applied only to a row still leased to the claim (the
/// last parameter; NULL: any row); `changes()` tells whether it applied (no
/// RETURNING: SQLite builds an ephemeral table for it at every execution).
const SET_TICKET_IF: &str = "
UPDATE shoppingfeed_order SET ticket_id = ?2, date_upd = ?3
WHERE id_shoppingfeed_order = ?1 AND (?4 IS NULL OR locked_by = ?4)";

/// The operation of many rows at once (a JSON array of ids), returning
/// those still leased to the claim, with their state.
const SET_OPERATIONS_IF: &str = "
UPDATE shoppingfeed_order SET operation = ?1, date_upd = ?2
WHERE id_shoppingfeed_order IN (SELECT value FROM json_each(?3))
  AND (?4 IS NULL OR locked_by = ?4)
RETURNING id_shoppingfeed_order, state";

/// Done or failed: final state, claim released.
const SETTLE_IF: &str = "
UPDATE shoppingfeed_order
SET state = ?2, last_error = ?3, locked_by = NULL, locked_until = NULL, date_upd = ?4
WHERE id_shoppingfeed_order = ?1 AND (?5 IS NULL OR locked_by = ?5)";

/// Accepted by the API: the action moves to its `CHECK_TICKET_` stage (as
/// [`model::check_action`]), due at once, claim released.
const SENT_IF: &str = "
UPDATE shoppingfeed_order
SET action = CASE WHEN substr(action, 1, 13) = 'CHECK_TICKET_' THEN action
                  ELSE 'CHECK_TICKET_' || action END,
    state = 'sent', batch_id = ?2, ticket_id = NULL, update_at = ?3,
    locked_by = NULL, locked_until = NULL, date_upd = ?3
WHERE id_shoppingfeed_order = ?1 AND (?4 IS NULL OR locked_by = ?4)";

/// A row's state.
const STATE_OF: &str = "
SELECT state FROM shoppingfeed_order WHERE id_shoppingfeed_order = ?1";

/// Retry, Defer and Wait: back in the queue (the counters as computed).
const REQUEUE: &str = "
UPDATE shoppingfeed_order
SET action = ?2, state = ?3, attempts = ?4, failures = ?5, last_error = ?6, update_at = ?7,
    locked_by = NULL, locked_until = NULL, date_upd = ?8
WHERE id_shoppingfeed_order = ?1";

const RELEASE: &str = "
UPDATE shoppingfeed_order SET locked_by = NULL, locked_until = NULL, date_upd = ?2
WHERE id_shoppingfeed_order = ?1";

impl SqliteStore {
    /// [`QueueStore::apply`](crate::queue::QueueStore::apply).
    pub(super) fn apply_changes(
        &self,
        changes: &[(i64, Change)],
        claim: Option<&str>,
        now: i64,
    ) -> Res<Vec<Applied>> {
        let mut applied = Vec::with_capacity(changes.len());
        if changes.is_empty() {
            return Ok(applied);
        }
        let tx = WriteTx::begin(&self.conn)?;
        // Each statement is looked up once per call, not once per change.
        let mut stmts = Statements::new(&self.conn);
        let mut at = 0;
        while at < changes.len() {
            let (id, change) = &changes[at];
            let id = *id;
            at += 1;
            // A run of the same operation for many rows (prepareBatch):
            // one statement.
            if let Change::SetOperation(op) = change {
                let mut ids = vec![id];
                while let Some((next, Change::SetOperation(next_op))) = changes.get(at) {
                    if next_op != op {
                        break;
                    }
                    ids.push(*next);
                    at += 1;
                }
                let stmt = stmts.get(0, SET_OPERATIONS_IF)?;
                let mut rows = stmt.query(params![
                    op.map(Operation::as_str),
                    now,
                    json_ids(&ids)?,
                    claim
                ])?;
                let mut done = Vec::with_capacity(ids.len());
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    done.push((id, parse_state(id, text_of(r.get_ref(1)?).unwrap_or(""))?));
                }
                drop(rows);
                // In the order given.
                let order: HashMap<i64, usize> =
                    ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
                done.sort_by_key(|(id, _)| order.get(id).copied());
                applied.extend(done.into_iter().map(|(id, state)| Applied { id, state }));
                continue;
            }
            // The simple changes: one guarded statement each (the row must
            // still be leased to `claim`).
            let simple = match change {
                Change::SetTicket(ticket) => {
                    let n = stmts
                        .get(1, SET_TICKET_IF)?
                        .execute(params![id, ticket, now, claim])?;
                    if n == 0 {
                        Some(None)
                    } else {
                        let state: String = stmts
                            .get(2, STATE_OF)?
                            .query_row(params![id], |r| r.get(0))?;
                        Some(Some(parse_state(id, &state)?))
                    }
                }
                Change::Done { message } => {
                    let n = stmts.get(3, SETTLE_IF)?.execute(params![
                        id,
                        State::Done.as_str(),
                        message,
                        now,
                        claim
                    ])?;
                    Some((n > 0).then_some(State::Done))
                }
                Change::Failed { message } => {
                    let n = stmts.get(3, SETTLE_IF)?.execute(params![
                        id,
                        State::Failed.as_str(),
                        message,
                        now,
                        claim
                    ])?;
                    Some((n > 0).then_some(State::Failed))
                }
                Change::Sent { batch_id } => {
                    let n = stmts
                        .get(4, SENT_IF)?
                        .execute(params![id, batch_id, now, claim])?;
                    Some((n > 0).then_some(State::Sent))
                }
                _ => None,
            };
            if let Some(state) = simple {
                if let Some(state) = state {
                    applied.push(Applied { id, state });
                }
                continue;
            }
            let live = stmts
                .get(5, APPLY_READ)?
                .query_row(params![id, claim], |r| {
                    Ok(Live {
                        action: r.get(0)?,
                        state: r.get(1)?,
                        attempts: r.get(2)?,
                        failures: r.get(3)?,
                        id_shop: r.get(4)?,
                        id_order: r.get(5)?,
                        subject: r.get(6)?,
                    })
                })
                .optional()?;
            let Some(live) = live else { continue };
            let state = match change {
                Change::Retry {
                    due_at,
                    message,
                    order_failure,
                    max_failures,
                } => {
                    // The policy decides the counters and the state (one
                    // home for the failure limit); the store only writes.
                    let next = crate::retry::requeue(
                        live.attempts,
                        live.failures,
                        *order_failure,
                        *max_failures,
                    );
                    let state = next.state;
                    stmts.get(6, REQUEUE)?.execute(params![
                        id,
                        model::base_action(&live.action),
                        state.as_str(),
                        next.attempts,
                        next.failures,
                        message,
                        due_at,
                        now
                    ])?;
                    self.requeue_or_supersede(id, &live, state, now)?
                }
                Change::Defer { due_at, message } => {
                    let state = parse_state(id, &live.state)?;
                    stmts.get(6, REQUEUE)?.execute(params![
                        id,
                        live.action,
                        live.state,
                        live.attempts.saturating_add(1),
                        live.failures,
                        message,
                        due_at,
                        now
                    ])?;
                    self.requeue_or_supersede(id, &live, state, now)?
                }
                Change::Wait { due_at, message } => {
                    let state = parse_state(id, &live.state)?;
                    stmts.get(6, REQUEUE)?.execute(params![
                        id,
                        live.action,
                        live.state,
                        live.attempts,
                        live.failures,
                        message,
                        due_at,
                        now
                    ])?;
                    self.requeue_or_supersede(id, &live, state, now)?
                }
                Change::Release => {
                    let state = parse_state(id, &live.state)?;
                    stmts.get(7, RELEASE)?.execute(params![id, now])?;
                    self.requeue_or_supersede(id, &live, state, now)?
                }
                // Handled above.
                Change::SetOperation(_)
                | Change::SetTicket(_)
                | Change::Done { .. }
                | Change::Failed { .. }
                | Change::Sent { .. } => continue,
            };
            applied.push(Applied { id, state });
        }
        tx.commit()?;
        Ok(applied)
    }
}

/// The statements of one `apply` call, each looked up in the connection's
/// cache once (a lookup hashes the SQL text).
struct Statements<'c> {
    conn: &'c Connection,
    slots: [Option<rusqlite::CachedStatement<'c>>; 8],
}

impl<'c> Statements<'c> {
    fn new(conn: &'c Connection) -> Self {
        Statements {
            conn,
            slots: Default::default(),
        }
    }

    fn get(&mut self, slot: usize, sql: &str) -> Res<&mut rusqlite::CachedStatement<'c>> {
        let conn = self.conn;
        match &mut self.slots[slot] {
            Some(stmt) => Ok(stmt),
            empty => Ok(empty.insert(conn.prepare_cached(sql)?)),
        }
    }
}

/// What `apply` needs to know of a row.
pub(super) struct Live {
    pub(super) action: String,
    pub(super) state: String,
    pub(super) attempts: i64,
    pub(super) failures: i64,
    pub(super) id_shop: i64,
    pub(super) id_order: i64,
    pub(super) subject: i64,
}
