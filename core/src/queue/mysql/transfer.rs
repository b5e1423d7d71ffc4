//! `page` and `import`: the MySQL side of moving a queue
//! (see [`crate::queue::transfer`]). Times are copied as they are: both
//! stores count Unix seconds, and a move runs on the shop's own machines.

use super::errors::{Failure, Res};
use super::rows::{rows_from, ROW_COLUMNS};
use super::MysqlStore;
use crate::model::{Row, State};
use mysql::prelude::Queryable;
use mysql::TxOpts;

impl MysqlStore {
    pub(super) fn rows_after(&self, after_id: i64, limit: i64) -> Res<Vec<Row>> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM `{}` WHERE id_shoppingfeed_order_sync_queue > ? \
             ORDER BY id_shoppingfeed_order_sync_queue LIMIT ?",
            self.table
        );
        self.link
            .borrow_mut()
            .run(|conn| rows_from(conn.exec(&sql, (after_id, limit.max(0)))?))
    }

    pub(super) fn import_rows(&self, rows: &[Row]) -> Res<u64> {
        let table = &self.table;
        self.link.borrow_mut().run(|conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let mut added = 0;
            for row in rows {
                added += u64::from(import_row(&mut tx, table, row)?);
            }
            tx.commit()?;
            Ok(added)
        })
    }
}

/// One row, inside the caller's transaction.
fn import_row(tx: &mut mysql::Transaction<'_>, table: &str, row: &Row) -> Res<bool> {
    let payload = serde_json::to_string(&row.payload)
        .map_err(|e| Failure::Data(format!("cannot encode the order snapshot: {e}")))?;
    let same: Option<i64> = tx.exec_first(
        format!(
            "SELECT id_shoppingfeed_order_sync_queue FROM `{table}` WHERE id_order = ? \
             AND id_shop = ? AND action = ? AND subject = ? AND date_add = ? AND payload = ? \
             LIMIT 1 FOR UPDATE"
        ),
        (
            row.id_order,
            row.id_shop,
            &row.action,
            row.subject,
            row.date_add,
            &payload,
        ),
    )?;
    if same.is_some() {
        return Ok(false);
    }
    let (state, last_error) = match row.state {
        State::Pending => {
            let newer: Option<i64> = tx.exec_first(
                format!(
                    "SELECT id_shoppingfeed_order_sync_queue FROM `{table}` WHERE id_order = ? \
                     AND id_shop = ? AND action = ? AND subject = ? AND pending_slot = 1 FOR UPDATE"
                ),
                (row.id_order, row.id_shop, &row.action, row.subject),
            )?;
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
    let params: Vec<mysql::Value> = vec![
        row.id_order.into(),
        row.id_shop.into(),
        row.action.as_str().into(),
        state.as_str().into(),
        row.operation.map(|o| o.as_str()).into(),
        payload.as_str().into(),
        row.batch_id.as_deref().into(),
        row.ticket_id.as_deref().into(),
        row.attempts.into(),
        row.failures.into(),
        last_error.as_deref().into(),
        row.update_at.into(),
        row.date_add.into(),
        row.date_upd.into(),
        row.store_id.into(),
        row.subject.into(),
    ];
    tx.exec_drop(
        format!(
            "INSERT INTO `{table}` (id_order, id_shop, action, state, operation, payload, \
             batch_id, ticket_id, attempts, failures, last_error, update_at, date_add, date_upd, \
             store_id, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        params,
    )?;
    Ok(true)
}
