//! `page` and `import`: the SQLite side of moving a queue
//! (see [`crate::queue::transfer`]).

use super::connection::WriteTx;
use super::errors::{Failure, Res};
use super::rows::{collect_rows, row_columns};
use super::SqliteStore;
use crate::model::{Row, State};
use rusqlite::{params, OptionalExtension};

const PAGE: &str = concat!(
    "SELECT ",
    row_columns!(),
    " FROM shoppingfeed_order WHERE id_shoppingfeed_order > ?1
ORDER BY id_shoppingfeed_order LIMIT ?2"
);

const SAME_ROW: &str = "
SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?1 AND id_shop = ?2 AND action = ?3 AND date_add = ?4 AND payload = ?5
  AND subject = ?6 LIMIT 1";

const UNCLAIMED_PENDING: &str = "
SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?1 AND id_shop = ?2 AND action = ?3 AND state = 'pending' AND locked_by IS NULL
  AND subject = ?4 LIMIT 1";

const INSERT: &str = "
INSERT INTO shoppingfeed_order
    (id_order, id_shop, action, state, operation, payload, batch_id, ticket_id, attempts,
     failures, last_error, update_at, date_add, date_upd, store_id, subject)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

impl SqliteStore {
    pub(super) fn rows_after(&self, after_id: i64, limit: i64) -> Res<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(PAGE)?;
        let rows = stmt.query(params![after_id, limit.max(0)])?;
        collect_rows(rows)
    }

    pub(super) fn import_rows(&self, rows: &[Row]) -> Res<u64> {
        let tx = WriteTx::begin(&self.conn)?;
        let mut added = 0;
        for row in rows {
            added += u64::from(self.import_row(row)?);
        }
        tx.commit()?;
        Ok(added)
    }

    /// One row, inside the caller's transaction.
    fn import_row(&self, row: &Row) -> Res<bool> {
        let payload = serde_json::to_string(&row.payload)
            .map_err(|e| Failure::Data(format!("cannot encode the order snapshot: {e}")))?;
        let same: Option<i64> = self
            .conn
            .prepare_cached(SAME_ROW)?
            .query_row(
                params![
                    row.id_order,
                    row.id_shop,
                    row.action,
                    row.date_add,
                    payload,
                    row.subject
                ],
                |r| r.get(0),
            )
            .optional()?;
        if same.is_some() {
            return Ok(false);
        }
        let (state, last_error) = match row.state {
            State::Pending => {
                let newer: Option<i64> = self
                    .conn
                    .prepare_cached(UNCLAIMED_PENDING)?
                    .query_row(
                        params![row.id_order, row.id_shop, row.action, row.subject],
                        |r| r.get(0),
                    )
                    .optional()?;
                match newer {
                    Some(n) => (
                        State::Done,
                        Some(format!("superseded by a newer update (row {n})")),
                    ),
                    None => (State::Pending, row.last_error.clone()),
                }
            }
            other => (other, row.last_error.clone()),
        };
        self.conn.prepare_cached(INSERT)?.execute(params![
            row.id_order,
            row.id_shop,
            row.action,
            state.as_str(),
            row.operation.map(|o| o.as_str()),
            payload,
            row.batch_id,
            row.ticket_id,
            row.attempts,
            row.failures,
            last_error,
            row.update_at,
            row.date_add,
            row.date_upd,
            row.store_id,
            row.subject,
        ])?;
        Ok(true)
    }
}
