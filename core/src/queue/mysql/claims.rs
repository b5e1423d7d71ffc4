//! Claims: leasing due rows to one run, exclusive between processes on any
//! number of machines.
//!
//! # Why two runs never get the same row
//!
//! In one transaction (READ COMMITTED):
//!
//! 1. `SELECT ... FOR UPDATE` of the due, unleased rows of (shop, action),
//!    oldest first, `LIMIT n`, through the claim index. A locking read
//!    takes an exclusive lock on each row it returns and reads the latest
//!    committed version of the row (not a snapshot). A row that another
//!    claim is leasing at that moment is locked by it: the read waits for
//!    that transaction to end, then re-reads the row, now leased, and skips
//!    it.
//! 2. `UPDATE ... SET locked_by, locked_until WHERE id IN (...)`: the rows
//!    are still locked by this transaction, nobody else can lease them.
//! 3. `COMMIT`.
//!
//! So a row is leased by at most one transaction, and once committed the
//! lease is what every later locking read sees. These are plain InnoDB
//! row locks and locking reads, the same on MySQL 5.7, 8.x and MariaDB
//! 10.3+ (no `SKIP LOCKED`, which 5.7 and MariaDB before 10.6 lack: claims
//! queue behind each other for the few milliseconds a claim lasts).
//!
//! # One clock
//!
//! Every time compared or written is the database server's
//! (`UNIX_TIMESTAMP()`, read once per transaction): web servers whose
//! clocks differ, or step, agree on which lease is live. The caller's
//! clock only gives durations (the lease length). A lease or due time
//! further ahead than any setting allows is not believed, as in SQLite
//! (the server's own clock may step): the same bounds.

use super::errors::Res;
use super::rows::{id_list, rows_from, text_literal, ROW_COLUMNS};
use super::MysqlStore;
use crate::model::Row;
use crate::queue::sqlite::{MAX_DUE_AHEAD_SECS, MAX_LEASE_AHEAD_SECS};
use mysql::prelude::Queryable;
use mysql::TxOpts;

/// `?` shop, action, now, now (lease over), furthest believable lease end,
/// then the due bound, limit.
pub(super) fn claim_sql(table: &str, due_part: &str) -> String {
    format!(
        "SELECT {ROW_COLUMNS} FROM `{table}` FORCE INDEX (sfsync_claim) \
         WHERE id_shop = ? AND action = ? AND live = 1 AND {due_part} \
           AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ? OR locked_until > ?) \
         ORDER BY update_at, id_shoppingfeed_order_sync_queue LIMIT ? FOR UPDATE"
    )
}

/// Real-time mode: at most the one row just saved.
pub(super) fn claim_only_sql(table: &str) -> String {
    format!(
        "SELECT {ROW_COLUMNS} FROM `{table}` \
         WHERE id_shoppingfeed_order_sync_queue = ? AND id_shop = ? AND action = ? AND live = 1 \
           AND (update_at <= ? OR update_at > ?) \
           AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ? OR locked_until > ?) \
         FOR UPDATE"
    )
}

impl MysqlStore {
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
        let lease_secs = lease_until.saturating_sub(now);
        let sql = &self.sql;
        let table = &self.table;
        let clock = self.clock;
        self.link.borrow_mut().run(|conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let server_now = clock.now(&mut tx, now)?;
            let lease_bound = server_now.saturating_add(MAX_LEASE_AHEAD_SECS);
            let due_bound = server_now.saturating_add(MAX_DUE_AHEAD_SECS);
            let mut found = match only {
                Some(id) => tx.exec(
                    &sql.claim_only,
                    (
                        id,
                        id_shop,
                        action,
                        server_now,
                        due_bound,
                        server_now,
                        lease_bound,
                    ),
                )?,
                None => {
                    let mut due = tx.exec(
                        &sql.claim_due,
                        (id_shop, action, server_now, server_now, lease_bound, limit),
                    )?;
                    // Rows due implausibly far ahead (saved while a clock
                    // ran ahead) come after the rows really due.
                    let room = limit - due.len() as i64;
                    if room > 0 {
                        due.extend(tx.exec(
                            &sql.claim_ahead,
                            (id_shop, action, due_bound, server_now, lease_bound, room),
                        )?);
                    }
                    due
                }
            };
            if found.is_empty() {
                tx.commit()?;
                return Ok(Vec::new());
            }
            let rows = rows_from(std::mem::take(&mut found))?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            // Text protocol, values written in: an id list has a new text
            // every time, and preparing it would cost a round trip more.
            tx.query_drop(format!(
                "UPDATE `{table}` SET locked_by = {}, locked_until = {} \
                 WHERE id_shoppingfeed_order_sync_queue IN ({})",
                text_literal(claim),
                server_now.saturating_add(lease_secs),
                id_list(&ids)
            ))?;
            tx.commit()?;
            Ok(rows)
        })
    }
}
