//! Saving an update (`upsert_pending`): the hot path, in the merchant's
//! request. One autocommitted `INSERT ... ON DUPLICATE KEY UPDATE`: one
//! round trip, durable (InnoDB commit) when it returns.
//!
//! The unique key `sfsync_pending` (order, shop, action, subject,
//! `pending_slot`) holds at most one unclaimed pending row per order,
//! action and subject (see [`RowKey`]), so a
//! second save of the same order (this request or another web server's, at
//! the same instant) updates that row: latest wins, still one pending row.
//! `LAST_INSERT_ID(id)` makes the update report the existing row's id.
//! Due time and dates come from the server's clock (`UNIX_TIMESTAMP()`),
//! the caller's clock only gives the delay (unless the store runs on the
//! caller's clock, for tests: then the base is the caller's `now`).

use super::errors::{Failure, Res};
use super::MysqlStore;
use crate::model;
use crate::queue::RowKey;
use mysql::prelude::Queryable;
use mysql::TxOpts;
use serde_json::Value;

pub(super) fn upsert_sql(table: &str) -> String {
    format!(
        "INSERT INTO `{table}` \
         (id_order, id_shop, action, state, payload, attempts, failures, update_at, date_add, date_upd, store_id, subject) \
         VALUES (?, ?, ?, 'pending', ?, 0, 0, COALESCE(?, UNIX_TIMESTAMP()) + ?, COALESCE(?, UNIX_TIMESTAMP()), COALESCE(?, UNIX_TIMESTAMP()), ?, ?) \
         ON DUPLICATE KEY UPDATE \
         id_shoppingfeed_order_sync_queue = LAST_INSERT_ID(id_shoppingfeed_order_sync_queue), \
         payload = VALUES(payload), update_at = VALUES(update_at), date_upd = VALUES(date_upd), \
         store_id = IF(VALUES(store_id) = 0, store_id, VALUES(store_id))"
    )
}

/// A row of the same (order, shop, base action or its ticket stage,
/// subject) that is not an unclaimed pending row (see
/// [`QueueStore::upsert_pending_keyed`](crate::queue::QueueStore::upsert_pending_keyed)),
/// read with a lock: a claim locks the rows it leases by primary key in
/// its own transaction, so this read waits for it and sees the lease.
fn keyed_settled_sql(table: &str) -> String {
    format!(
        "SELECT id_shoppingfeed_order_sync_queue FROM `{table}` \
         WHERE id_order = ? AND id_shop = ? AND action IN (?, ?) AND subject = ? \
         AND NOT (state = 'pending' AND locked_by IS NULL) \
         ORDER BY id_shoppingfeed_order_sync_queue LIMIT 1 FOR UPDATE"
    )
}

impl MysqlStore {
    pub(super) fn save(
        &self,
        key: &RowKey<'_>,
        payload: &Value,
        due_at: i64,
        now: i64,
    ) -> Res<i64> {
        let text = serde_json::to_string(payload)
            .map_err(|e| Failure::Data(format!("cannot encode the order snapshot: {e}")))?;
        let delay = due_at.saturating_sub(now);
        let sql = &self.sql.upsert;
        let base = self.clock.save_base(now);
        let RowKey {
            store_id,
            id_shop,
            id_order,
            action,
            subject,
        } = *key;
        let params = (
            id_order, id_shop, action, &text, base, delay, base, base, store_id, subject,
        );
        let inserted_id = |id: u64| -> Res<i64> {
            if id == 0 {
                return Err(Failure::Data("the save returned no row id".to_string()));
            }
            Ok(id as i64)
        };
        if subject == 0 {
            return self.link.borrow_mut().run(|conn| {
                conn.exec_drop(sql, params)?;
                inserted_id(conn.last_insert_id())
            });
        }
        // An update with a subject (a credit slip) is sent once: looked up
        // first, in one transaction with the upsert.
        let check = model::check_action(action);
        let find = keyed_settled_sql(&self.table);
        self.link.borrow_mut().run(|conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let settled: Option<i64> =
                tx.exec_first(&find, (id_order, id_shop, action, &check, subject))?;
            if let Some(id) = settled {
                tx.commit()?;
                return Ok(id);
            }
            tx.exec_drop(sql, params)?;
            let id = inserted_id(tx.last_insert_id().unwrap_or(0))?;
            tx.commit()?;
            Ok(id)
        })
    }
}
