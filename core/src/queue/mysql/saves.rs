//! Saving an update (`upsert_pending`): the hot path, in the merchant's
//! request. One autocommitted `INSERT ... ON DUPLICATE KEY UPDATE`: one
//! round trip, durable (InnoDB commit) when it returns.
//!
//! The unique key `sfsync_pending` (order, shop, action, `pending_slot`)
//! holds at most one unclaimed pending row per order and action, so a
//! second save of the same order (this request or another web server's, at
//! the same instant) updates that row: latest wins, still one pending row.
//! `LAST_INSERT_ID(id)` makes the update report the existing row's id.
//! Due time and dates come from the server's clock (`UNIX_TIMESTAMP()`),
//! the caller's clock only gives the delay (unless the store runs on the
//! caller's clock, for tests: then the base is the caller's `now`).

use super::errors::{Failure, Res};
use super::MysqlStore;
use mysql::prelude::Queryable;
use serde_json::Value;

pub(super) fn upsert_sql(table: &str) -> String {
    format!(
        "INSERT INTO `{table}` \
         (id_order, id_shop, action, state, payload, attempts, failures, update_at, date_add, date_upd, store_id) \
         VALUES (?, ?, ?, 'pending', ?, 0, 0, COALESCE(?, UNIX_TIMESTAMP()) + ?, COALESCE(?, UNIX_TIMESTAMP()), COALESCE(?, UNIX_TIMESTAMP()), ?) \
         ON DUPLICATE KEY UPDATE \
         id_shoppingfeed_order_sync_queue = LAST_INSERT_ID(id_shoppingfeed_order_sync_queue), \
         payload = VALUES(payload), update_at = VALUES(update_at), date_upd = VALUES(date_upd), \
         store_id = IF(VALUES(store_id) = 0, store_id, VALUES(store_id))"
    )
}

impl MysqlStore {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn save(
        &self,
        store_id: i64,
        id_shop: i64,
        id_order: i64,
        action: &str,
        payload: &Value,
        due_at: i64,
        now: i64,
    ) -> Res<i64> {
        let text = serde_json::to_string(payload)
            .map_err(|e| Failure::Data(format!("cannot encode the order snapshot: {e}")))?;
        let delay = due_at.saturating_sub(now);
        let sql = &self.sql.upsert;
        let base = self.clock.save_base(now);
        self.link.borrow_mut().run(|conn| {
            conn.exec_drop(
                sql,
                (
                    id_order, id_shop, action, &text, base, delay, base, base, store_id,
                ),
            )?;
            let id = conn.last_insert_id();
            if id == 0 {
                return Err(Failure::Data("the save returned no row id".to_string()));
            }
            Ok(id as i64)
        })
    }
}
