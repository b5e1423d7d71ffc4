//! Reading and tidying the queue outside a run: rows by id or by order,
//! counts per state, failed rows back to pending, old done rows deleted.

use super::errors::Res;
use super::rows::{id_list, on_server, rows_from, ROW_COLUMNS};
use super::MysqlStore;
use crate::model::{self, Row, State};
use mysql::prelude::Queryable;
use mysql::TxOpts;

/// Rows deleted per statement by `purge_done`, so that a large purge never
/// holds its locks for long.
const PURGE_CHUNK: i64 = 2000;

impl MysqlStore {
    pub(super) fn rows_by_id(&self, ids: &[i64]) -> Res<Vec<Row>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM `{}` WHERE id_shoppingfeed_order_sync_queue IN ({}) \
             ORDER BY id_shoppingfeed_order_sync_queue",
            self.table,
            id_list(ids)
        );
        self.link
            .borrow_mut()
            .run(|conn| rows_from(conn.query(&sql)?))
    }

    pub(super) fn rows_of_order(&self, id_order: i64) -> Res<Vec<Row>> {
        let sql = &self.sql.find;
        self.link
            .borrow_mut()
            .run(|conn| rows_from(conn.exec(sql, (id_order,))?))
    }

    /// Rows of an unknown state are not counted.
    pub(super) fn state_counts(&self, id_shop: i64) -> Res<[i64; 4]> {
        let sql = &self.sql.counts;
        let found: Vec<(String, i64)> = self
            .link
            .borrow_mut()
            .run(|conn| Ok(conn.exec(sql, (id_shop,))?))?;
        let mut out = [0i64; 4];
        for (state, n) in found {
            if let Some(i) =
                State::parse(&state).and_then(|s| State::ALL.iter().position(|x| *x == s))
            {
                out[i] = n;
            }
        }
        Ok(out)
    }

    /// Failed rows back to pending, newest first. A row whose order already
    /// has an unclaimed pending row of the same action (or gets one from a
    /// newer failed row of this call) is settled done as superseded
    /// instead: the unique key allows one such row, and the newer snapshot
    /// wins anyway. Returns how many rows went back to pending.
    pub(super) fn requeue_failed(
        &self,
        id_shop: i64,
        orders: Option<&[i64]>,
        now: i64,
    ) -> Res<u64> {
        let filter = match orders {
            Some([]) => return Ok(0),
            Some(ids) => format!(" AND id_order IN ({})", id_list(ids)),
            None => String::new(),
        };
        let table = &self.table;
        let clock = self.clock;
        self.link.borrow_mut().run(|conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let server_now = clock.now(&mut tx, now)?;
            let failed: Vec<(i64, i64, String, i64)> = tx.exec(
                format!(
                    "SELECT id_shoppingfeed_order_sync_queue, id_order, action, subject FROM `{table}` \
                     FORCE INDEX (sfsync_state) WHERE state = 'failed' AND id_shop = ?{filter} \
                     ORDER BY id_shoppingfeed_order_sync_queue DESC FOR UPDATE"
                ),
                (id_shop,),
            )?;
            let mut requeued = 0u64;
            // (order, base action, subject) given a pending row by this call.
            let mut taken: Vec<(i64, String, i64)> = Vec::new();
            for (id, id_order, action, subject) in failed {
                let base = model::base_action(&action).to_string();
                let pending: Option<i64> = if taken.contains(&(id_order, base.clone(), subject)) {
                    Some(0)
                } else {
                    tx.exec_first(
                        format!(
                            "SELECT id_shoppingfeed_order_sync_queue FROM `{table}` \
                             WHERE id_order = ? AND id_shop = ? AND action = ? AND subject = ? \
                             AND pending_slot = 1 FOR UPDATE"
                        ),
                        (id_order, id_shop, &base, subject),
                    )?
                };
                match pending {
                    Some(newer) => {
                        let message = if newer > 0 {
                            format!("superseded by a newer update (row {newer})")
                        } else {
                            "superseded by a newer update".to_string()
                        };
                        tx.exec_drop(
                            format!(
                                "UPDATE `{table}` SET state = 'done', last_error = ?, date_upd = ? \
                                 WHERE id_shoppingfeed_order_sync_queue = ?"
                            ),
                            (message, server_now, id),
                        )?;
                    }
                    None => {
                        tx.exec_drop(
                            format!(
                                "UPDATE `{table}` SET state = 'pending', action = ?, attempts = 0, \
                                 failures = 0, update_at = ?, locked_by = NULL, locked_until = NULL, \
                                 date_upd = ? WHERE id_shoppingfeed_order_sync_queue = ?"
                            ),
                            (&base, server_now, server_now, id),
                        )?;
                        taken.push((id_order, base, subject));
                        requeued += 1;
                    }
                }
            }
            tx.commit()?;
            Ok(requeued)
        })
    }

    /// Deletes done rows last changed before `before` (the caller's clock,
    /// moved to the server's), in chunks of [`PURGE_CHUNK`].
    pub(super) fn delete_done(&self, before: i64) -> Res<u64> {
        let caller_now = crate::time::now();
        let table = &self.table;
        let clock = self.clock;
        let mut total = 0u64;
        loop {
            let n = self.link.borrow_mut().run(|conn| {
                let server_now = clock.now(conn, caller_now)?;
                conn.exec_drop(
                    format!(
                        "DELETE FROM `{table}` WHERE state = 'done' AND date_upd < ? LIMIT {PURGE_CHUNK}"
                    ),
                    (on_server(before, caller_now, server_now),),
                )?;
                Ok(conn.affected_rows())
            })?;
            total += n;
            if (n as i64) < PURGE_CHUNK {
                return Ok(total);
            }
        }
    }
}
