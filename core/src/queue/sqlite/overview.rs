//! What an operator asks of the queue: how many rows each shop, action and
//! state holds, what is due and how old it is, and the rows of one state
//! (`sync-orders.php status`, `failed`). Reads only: one statement each, so
//! each answer is one consistent snapshot (WAL: it never waits for a
//! writer, and no writer waits for it).

use super::claims::{MAX_DUE_AHEAD_SECS, MAX_LEASE_AHEAD_SECS};
use super::errors::{Failure, Res};
use super::rows::{collect_rows, row_columns, text_of};
use super::SqliteStore;
use crate::model::{Row, State};
use crate::queue::{Overview, OverviewLine};
use rusqlite::params;

/// `?1` now, `?2` the furthest believable due time, `?3` the furthest
/// believable lease end: the claims' own bounds (claims.rs), so that
/// "due" and "claimed" here mean what a claim would do now.
///
/// A full scan, on purpose: every row is counted, and no index holds all
/// of (shop, action, state, update_at, date_upd, lease). An operator's
/// command, not a hot path: a few milliseconds per 100,000 rows.
const OVERVIEW: &str = "
SELECT id_shop, action, state, COUNT(*),
    SUM(CASE WHEN state IN ('pending', 'sent') AND (update_at <= ?1 OR update_at > ?2)
        THEN 1 ELSE 0 END),
    SUM(CASE WHEN locked_by IS NOT NULL AND locked_until >= ?1 AND locked_until <= ?3
        THEN 1 ELSE 0 END),
    MIN(CASE WHEN state IN ('pending', 'sent') AND (update_at <= ?1 OR update_at > ?2)
        THEN update_at END),
    MIN(CASE WHEN state IN ('pending', 'sent') AND update_at > ?1 AND update_at <= ?2
        THEN update_at END),
    MAX(date_upd)
FROM shoppingfeed_order
WHERE state IN ('pending', 'sent', 'done', 'failed')
GROUP BY id_shop, action, state";

/// `?1` state, `?2` shop or NULL for every shop, `?3` limit. The state
/// index narrows the rows to one state; the order needs a sort, bounded by
/// the limit.
const LIST: &str = concat!(
    "SELECT ",
    row_columns!(),
    " FROM shoppingfeed_order INDEXED BY shoppingfeed_order_state
WHERE state = ?1 AND (?2 IS NULL OR id_shop = ?2)
ORDER BY date_upd DESC, id_shoppingfeed_order DESC LIMIT ?3"
);

impl SqliteStore {
    /// [`QueueStore::overview`](crate::queue::QueueStore::overview).
    pub(super) fn overview_lines(&self, now: i64) -> Res<Overview> {
        let mut stmt = self.conn.prepare_cached(OVERVIEW)?;
        let mut rows = stmt.query(params![
            now,
            now.saturating_add(MAX_DUE_AHEAD_SECS),
            now.saturating_add(MAX_LEASE_AHEAD_SECS),
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id_shop: i64 = r.get(0)?;
            let state_text = text_of(r.get_ref(2)?).unwrap_or("");
            // The WHERE admits only the four states: another text here would
            // be a fault of this statement, said as such.
            let state = State::parse(state_text).ok_or_else(|| {
                Failure::Data(format!(
                    "the overview read an unknown state {}",
                    crate::text::excerpt(state_text)
                ))
            })?;
            out.push(OverviewLine {
                id_shop,
                action: r.get(1)?,
                state,
                count: r.get(3)?,
                due: r.get(4)?,
                claimed: r.get(5)?,
                oldest_due_at: r.get(6)?,
                next_due_at: r.get(7)?,
                last_change_at: r.get(8)?,
            });
        }
        // The trait's order (shop, action, then State::ALL): GROUP BY gives
        // no order, and the states sort alphabetically in SQL.
        out.sort_by(|a, b| (a.id_shop, &a.action, a.state).cmp(&(b.id_shop, &b.action, b.state)));
        // SQLite keeps the caller's clock.
        Ok(Overview { now, lines: out })
    }

    /// [`QueueStore::list`](crate::queue::QueueStore::list).
    pub(super) fn rows_in_state(
        &self,
        state: State,
        id_shop: Option<i64>,
        limit: i64,
    ) -> Res<Vec<Row>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(LIST)?;
        let rows = stmt.query(params![state.as_str(), id_shop, limit])?;
        collect_rows(rows)
    }
}
