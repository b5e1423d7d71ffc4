//! `overview` and `list` on MySQL: the SQLite store's statements
//! (`queue/sqlite/overview.rs`), on the server's clock. One statement each:
//! a plain read, one consistent snapshot, no lock taken or waited for.

use super::errors::{Failure, Res};
use super::rows::{rows_from, ROW_COLUMNS};
use super::MysqlStore;
use crate::model::{Row, State};
use crate::queue::bounds::{MAX_DUE_AHEAD_SECS, MAX_LEASE_AHEAD_SECS};
use crate::queue::{Overview, OverviewLine};
use mysql::prelude::Queryable;

type Line = (
    i64,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
);

impl MysqlStore {
    pub(super) fn overview_lines(&self, now: i64) -> Res<Overview> {
        let table = &self.table;
        let clock = self.clock;
        let (server_now, found) = self.link.borrow_mut().run(|conn| {
            let server_now = clock.now(conn, now)?;
            let due_bound = server_now.saturating_add(MAX_DUE_AHEAD_SECS);
            let lease_bound = server_now.saturating_add(MAX_LEASE_AHEAD_SECS);
            // A full scan, as in SQLite: every row is counted. An
            // operator's command, not a hot path.
            let lines: Vec<Line> = conn.exec(
                format!(
                    "SELECT id_shop, action, state, COUNT(*), \
                     CAST(SUM(CASE WHEN live = 1 AND (update_at <= ? OR update_at > ?) THEN 1 ELSE 0 END) AS SIGNED), \
                     CAST(SUM(CASE WHEN locked_by IS NOT NULL AND locked_until >= ? AND locked_until <= ? THEN 1 ELSE 0 END) AS SIGNED), \
                     MIN(CASE WHEN live = 1 AND (update_at <= ? OR update_at > ?) THEN update_at END), \
                     MIN(CASE WHEN live = 1 AND update_at > ? AND update_at <= ? THEN update_at END), \
                     MAX(date_upd) \
                     FROM `{table}` WHERE state IN ('pending', 'sent', 'done', 'failed') \
                     GROUP BY id_shop, action, state"
                ),
                (
                    server_now,
                    due_bound,
                    server_now,
                    lease_bound,
                    server_now,
                    due_bound,
                    server_now,
                    due_bound,
                ),
            )?;
            Ok((server_now, lines))
        })?;
        let mut lines = Vec::with_capacity(found.len());
        for (id_shop, action, state, count, due, claimed, oldest, next, last) in found {
            let state = State::parse(&state).ok_or_else(|| {
                Failure::Data(format!(
                    "the overview read an unknown state {}",
                    crate::text::excerpt(&state)
                ))
            })?;
            lines.push(OverviewLine {
                id_shop,
                action,
                state,
                count,
                due,
                claimed,
                oldest_due_at: oldest,
                next_due_at: next,
                last_change_at: last,
            });
        }
        lines.sort_by(|a, b| (a.id_shop, &a.action, a.state).cmp(&(b.id_shop, &b.action, b.state)));
        Ok(Overview {
            now: server_now,
            lines,
        })
    }

    pub(super) fn rows_in_state(
        &self,
        state: State,
        id_shop: Option<i64>,
        limit: i64,
    ) -> Res<Vec<Row>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM `{}` FORCE INDEX (sfsync_state) \
             WHERE state = ? AND (? IS NULL OR id_shop = ?) \
             ORDER BY date_upd DESC, id_shoppingfeed_order_sync_queue DESC LIMIT ?",
            self.table
        );
        self.link
            .borrow_mut()
            .run(|conn| rows_from(conn.exec(&sql, (state.as_str(), id_shop, id_shop, limit))?))
    }
}
