//! Reading and tidying the queue outside a run: rows by id or by order,
//! counts per state, failed rows back to pending, old done rows deleted.

use super::connection::WriteTx;
use super::errors::Res;
use super::rows::{collect_rows, json_ids, row_columns, text_of};
use super::SqliteStore;
use crate::model::{self, Row, State};
use rusqlite::{params, OptionalExtension};

/// Rows deleted per transaction by `purge_done`, so that a large purge never
/// holds the write lock for long.
const PURGE_CHUNK: i64 = 2000;

const GET: &str = concat!(
    "SELECT ",
    row_columns!(),
    " FROM shoppingfeed_order
WHERE id_shoppingfeed_order IN (SELECT value FROM json_each(?1))"
);

const FIND: &str = concat!(
    "SELECT ",
    row_columns!(),
    " FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?1 ORDER BY date_add, id_shoppingfeed_order"
);

const COUNTS: &str = "
SELECT state, COUNT(*) FROM shoppingfeed_order INDEXED BY shoppingfeed_order_state
WHERE state IN ('pending', 'sent', 'done', 'failed') AND id_shop = ?1
GROUP BY state";

/// Newest first: the newest failed row of an order is the one that goes
/// back to pending when several are retried at once.
const FAILED_ROWS: &str = "
SELECT id_shoppingfeed_order, action, id_order, subject FROM shoppingfeed_order INDEXED BY shoppingfeed_order_state
WHERE state = 'failed' AND id_shop = ?1
  AND (?2 IS NULL OR id_order IN (SELECT value FROM json_each(?2)))
ORDER BY id_shoppingfeed_order DESC";

/// The unclaimed pending row of (?1 order, ?2 shop, ?3 action, ?4
/// subject), if any.
const UNCLAIMED_PENDING: &str = "
SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?1 AND id_shop = ?2 AND action = ?3 AND state = 'pending' AND locked_by IS NULL
  AND subject = ?4
ORDER BY id_shoppingfeed_order DESC LIMIT 1";

const SUPERSEDE_FAILED: &str = "
UPDATE shoppingfeed_order SET state = 'done', last_error = ?2, date_upd = ?3
WHERE id_shoppingfeed_order = ?1";

const RETRY_FAILED: &str = "
UPDATE shoppingfeed_order
SET state = 'pending', action = ?2, attempts = 0, failures = 0, update_at = ?3,
    locked_by = NULL, locked_until = NULL, date_upd = ?3
WHERE id_shoppingfeed_order = ?1";

const PURGE: &str = "
DELETE FROM shoppingfeed_order WHERE id_shoppingfeed_order IN (
    SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_state
    WHERE state = 'done' AND date_upd < ?1 LIMIT ?2)";

impl SqliteStore {
    /// [`QueueStore::get`](crate::queue::QueueStore::get).
    pub(super) fn rows_by_id(&self, ids: &[i64]) -> Res<Vec<Row>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(GET)?;
        let rows = stmt.query(params![json_ids(ids)?])?;
        let mut rows = collect_rows(rows)?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// [`QueueStore::find`](crate::queue::QueueStore::find).
    pub(super) fn rows_of_order(&self, id_order: i64) -> Res<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(FIND)?;
        let rows = stmt.query(params![id_order])?;
        collect_rows(rows)
    }

    /// [`QueueStore::counts`](crate::queue::QueueStore::counts): rows of an
    /// unknown state are not counted.
    pub(super) fn state_counts(&self, id_shop: i64) -> Res<[i64; 4]> {
        let mut out = [0i64; 4];
        let mut stmt = self.conn.prepare_cached(COUNTS)?;
        let mut rows = stmt.query(params![id_shop])?;
        while let Some(r) = rows.next()? {
            let state = text_of(r.get_ref(0)?).and_then(State::parse);
            let n: i64 = r.get(1)?;
            if let Some(i) = state.and_then(|s| State::ALL.iter().position(|x| *x == s)) {
                out[i] = n;
            }
        }
        Ok(out)
    }

    /// [`QueueStore::retry_failed`](crate::queue::QueueStore::retry_failed).
    pub(super) fn requeue_failed(
        &self,
        id_shop: i64,
        orders: Option<&[i64]>,
        now: i64,
    ) -> Res<u64> {
        let filter = match orders {
            Some([]) => return Ok(0),
            Some(ids) => Some(json_ids(ids)?),
            None => None,
        };
        let tx = WriteTx::begin(&self.conn)?;
        let failed: Vec<(i64, String, i64, i64)> = {
            let mut stmt = self.conn.prepare_cached(FAILED_ROWS)?;
            let mut rows = stmt.query(params![id_shop, filter])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?));
            }
            out
        };
        // A failed row whose order already has an unclaimed pending row of
        // the same action (saved after it failed, or a newer failed row of
        // this call) is settled done as superseded: one unclaimed pending
        // row per order and action, the newer snapshot wins (the MySQL
        // store holds that rule by a unique key; docs/STATE-MACHINE.md).
        let mut n = 0u64;
        for (id, action, id_order, subject) in &failed {
            let base = model::base_action(action);
            let newer: Option<i64> = self
                .conn
                .prepare_cached(UNCLAIMED_PENDING)?
                .query_row(params![id_order, id_shop, base, subject], |r| r.get(0))
                .optional()?;
            match newer {
                Some(newer) => {
                    self.conn
                        .prepare_cached(SUPERSEDE_FAILED)?
                        .execute(params![
                            id,
                            format!("superseded by a newer update (row {newer})"),
                            now
                        ])?;
                }
                None => {
                    n += self
                        .conn
                        .prepare_cached(RETRY_FAILED)?
                        .execute(params![id, base, now])? as u64;
                }
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// [`QueueStore::purge_done`](crate::queue::QueueStore::purge_done), in
    /// chunks of [`PURGE_CHUNK`] rows.
    pub(super) fn delete_done(&self, before: i64) -> Res<u64> {
        let mut total = 0u64;
        loop {
            let tx = WriteTx::begin(&self.conn)?;
            let n = self
                .conn
                .prepare_cached(PURGE)?
                .execute(params![before, PURGE_CHUNK])?;
            tx.commit()?;
            total += n as u64;
            if (n as i64) < PURGE_CHUNK {
                return Ok(total);
            }
        }
    }
}
