//! Claims: leasing due rows to one run. One `UPDATE ... WHERE id IN (SELECT
//! ... LIMIT n) RETURNING` inside the write lock, so two runs never take the
//! same row; a lease whose `locked_until` has passed is free again.

use super::connection::WriteTx;
use super::errors::Res;
use super::rows::{collect_rows, row_columns};
use super::SqliteStore;
use crate::model::Row;
use rusqlite::params;

const CLAIM: &str = concat!(
    "UPDATE shoppingfeed_order SET locked_by = ?1, locked_until = ?2
WHERE id_shoppingfeed_order IN (
    SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_claim
    WHERE id_shop = ?3 AND action = ?4 AND state IN ('pending', 'sent') AND update_at <= ?5
      AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ?5)
    ORDER BY update_at, id_shoppingfeed_order LIMIT ?6)
RETURNING ",
    row_columns!()
);

/// Real-time mode: at most the one row just saved.
const CLAIM_ONLY: &str = concat!(
    "UPDATE shoppingfeed_order SET locked_by = ?1, locked_until = ?2
WHERE id_shoppingfeed_order = ?6 AND id_shop = ?3 AND action = ?4
  AND state IN ('pending', 'sent') AND update_at <= ?5
  AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ?5)
RETURNING ",
    row_columns!()
);

impl SqliteStore {
    /// [`QueueStore::claim`](crate::queue::QueueStore::claim).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn lease(
        &self,
        id_shop: i64,
        action: &str,
        limit: i64,
        now: i64,
        lease_until: i64,
        claim: &str,
        only: Option<i64>,
    ) -> Res<Vec<Row>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let tx = WriteTx::begin(&self.conn)?;
        let mut rows = {
            let (sql, target) = match only {
                Some(id) => (CLAIM_ONLY, id),
                None => (CLAIM, limit),
            };
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query(params![claim, lease_until, id_shop, action, now, target])?;
            collect_rows(rows)?
        };
        tx.commit()?;
        // RETURNING gives no order: the claim order, as documented.
        rows.sort_by_key(|r| (r.update_at, r.id));
        Ok(rows)
    }
}
