//! Superseded rows.
//!
//! When a claimed row goes back to pending (`Retry`, or `Defer`/`Release` of
//! a pending row) while the same (shop, order, base action) has an unclaimed
//! pending row, or a newer (higher id) pending or sent row (of the same
//! subject: one credit slip never supersedes another), the returning row
//! is settled `done` with `last_error = "superseded by a newer update (row
//! N)"`: its snapshot is older, and the newer one wins. Done and failed rows
//! never supersede anything.

use super::changes::Live;
use super::errors::Res;
use super::SqliteStore;
use crate::model::{self, State};
use rusqlite::params;

/// A row that supersedes row ?5 of (?2 shop, ?1 order, ?3 base action, ?4
/// its check action, ?6 subject): an unclaimed pending row of the base
/// action, or a newer live row.
const SUPERSEDER: &str = "
SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?1 AND id_shop = ?2 AND action IN (?3, ?4) AND id_shoppingfeed_order <> ?5
  AND subject = ?6
  AND ((state = 'pending' AND action = ?3 AND locked_by IS NULL)
       OR (id_shoppingfeed_order > ?5 AND state IN ('pending', 'sent')))";

const SUPERSEDE: &str = "
UPDATE shoppingfeed_order SET state = 'done', last_error = ?2, date_upd = ?3
WHERE id_shoppingfeed_order = ?1";

impl SqliteStore {
    /// The state of row `id`, just put back to `new_state`: `done` instead
    /// of pending when a newer update of the same order supersedes it.
    pub(super) fn requeue_or_supersede(
        &self,
        id: i64,
        live: &Live,
        new_state: State,
        now: i64,
    ) -> Res<State> {
        if new_state != State::Pending {
            return Ok(new_state);
        }
        let base = model::base_action(&live.action);
        let check = model::check_action(base);
        // The newest such row (no ORDER BY: with one, SQLite re-prepares the
        // statement at every new binding; there are only a few rows).
        let mut newer: Option<i64> = None;
        {
            let mut stmt = self.conn.prepare_cached(SUPERSEDER)?;
            let mut rows = stmt.query(params![
                live.id_order,
                live.id_shop,
                base,
                check,
                id,
                live.subject
            ])?;
            while let Some(r) = rows.next()? {
                newer = newer.max(Some(r.get(0)?));
            }
        }
        match newer {
            None => Ok(State::Pending),
            Some(n) => {
                let message = format!("superseded by a newer update (row {n})");
                self.conn
                    .prepare_cached(SUPERSEDE)?
                    .execute(params![id, message, now])?;
                Ok(State::Done)
            }
        }
    }
}
