//! Claims: leasing due rows to one run. One `UPDATE ... WHERE id IN (SELECT
//! ... LIMIT n) RETURNING` inside the write lock, so two runs never take the
//! same row; a lease whose `locked_until` has passed is free again.
//!
//! # Clock steps
//!
//! Every time here is the caller's `now`. A row leased or saved while the
//! clock ran ahead carries a `locked_until` or `update_at` in what is, once
//! the clock is corrected, the future. A time further ahead than any setting
//! can put it is not believed:
//!
//! - a lease ending after `now + MAX_LEASE_AHEAD_SECS` is treated as ended
//!   (a lease is at most `LEASE_TIME`'s maximum, 86 400 s, from its claim);
//! - a row due after `now + MAX_DUE_AHEAD_SECS` is treated as due (a save
//!   is due at most `TIME_SHIFT`'s maximum, 10 080 min, ahead; a retry at
//!   most `retry::MAX_RETRY_DELAY_SECS`, 3600 s, ahead). Such rows come after
//!   the rows really due (the claim order is `update_at`, id).
//!
//! A step smaller than these bounds is not detectable from the row: a lease
//! still holds, a due time still waits, for as long as the step.
//!
//! The due bound needs a second range of the claim index, not an `OR` (an
//! `OR` on `update_at` makes SQLite read the whole (shop, action) part of
//! the index): the subquery is a `UNION ALL` of two range scans, each at
//! most `n` rows, merged and cut to `n`.

use super::connection::WriteTx;
use super::errors::Res;
use super::rows::{collect_rows, row_columns};
use super::SqliteStore;
use crate::model::Row;
use rusqlite::params;

// The bounds are the store-neutral ones (`queue::bounds`), re-exported
// here where the SQLite claim uses them.
pub use crate::queue::bounds::{CLOCK_MARGIN_SECS, MAX_DUE_AHEAD_SECS, MAX_LEASE_AHEAD_SECS};

/// `?1` claim token, `?2` lease end, `?3` shop, `?4` action, `?5` now,
/// `?6` limit, `?7` the furthest believable lease end, `?8` the furthest
/// believable due time, `?9` the Shopping Feed store (NULL: any; else rows
/// of that store or untagged: a filter on the index's rows, the claim
/// index needs no store column for it).
pub const CLAIM: &str = concat!(
    "UPDATE shoppingfeed_order SET locked_by = ?1, locked_until = ?2
WHERE id_shoppingfeed_order IN (
    SELECT id_shoppingfeed_order FROM (
        SELECT id_shoppingfeed_order, update_at FROM (
            SELECT id_shoppingfeed_order, update_at
            FROM shoppingfeed_order INDEXED BY shoppingfeed_order_claim
            WHERE id_shop = ?3 AND action = ?4 AND state IN ('pending', 'sent') AND update_at <= ?5
              AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ?5 OR locked_until > ?7)
              AND (?9 IS NULL OR store_id IN (0, ?9))
            ORDER BY update_at, id_shoppingfeed_order LIMIT ?6)
        UNION ALL
        SELECT id_shoppingfeed_order, update_at FROM (
            SELECT id_shoppingfeed_order, update_at
            FROM shoppingfeed_order INDEXED BY shoppingfeed_order_claim
            WHERE id_shop = ?3 AND action = ?4 AND state IN ('pending', 'sent') AND update_at > ?8
              AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ?5 OR locked_until > ?7)
              AND (?9 IS NULL OR store_id IN (0, ?9))
            ORDER BY update_at, id_shoppingfeed_order LIMIT ?6))
    ORDER BY update_at, id_shoppingfeed_order LIMIT ?6)
RETURNING ",
    row_columns!()
);

/// Real-time mode: at most the one row just saved (`?6` its id; the other
/// parameters as for [`CLAIM`]).
const CLAIM_ONLY: &str = concat!(
    "UPDATE shoppingfeed_order SET locked_by = ?1, locked_until = ?2
WHERE id_shoppingfeed_order = ?6 AND id_shop = ?3 AND action = ?4
  AND state IN ('pending', 'sent') AND (update_at <= ?5 OR update_at > ?8)
  AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ?5 OR locked_until > ?7)
  AND (?9 IS NULL OR store_id IN (0, ?9))
RETURNING ",
    row_columns!()
);

impl SqliteStore {
    /// [`QueueStore::claim`](crate::queue::QueueStore::claim).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn lease(
        &self,
        store: Option<i64>,
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
            let rows = stmt.query(params![
                claim,
                lease_until,
                id_shop,
                action,
                now,
                target,
                now.saturating_add(MAX_LEASE_AHEAD_SECS),
                now.saturating_add(MAX_DUE_AHEAD_SECS),
                store,
            ])?;
            collect_rows(rows)?
        };
        tx.commit()?;
        // RETURNING gives no order: the claim order, as documented.
        rows.sort_by_key(|r| (r.update_at, r.id));
        Ok(rows)
    }
}
