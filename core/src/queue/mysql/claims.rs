//! Claims: leasing due rows to one run, exclusive between processes on any
//! number of machines.
//!
//! # Why two runs never get the same row
//!
//! In one transaction (READ COMMITTED):
//!
//! 1. the candidates: the ids of the due, unleased rows of (shop, action),
//!    oldest first, `LIMIT n`, through the claim index, by a plain
//!    (consistent, lock-free) read;
//! 2. `SELECT ... WHERE id IN (...) AND <due> AND <unleased> ORDER BY id
//!    FOR UPDATE`: a locking read takes an exclusive lock on each row and
//!    reads its latest committed version (not a snapshot). A candidate that
//!    another claim is leasing at that moment is locked by it: the read
//!    waits for that transaction to end, then re-reads the row, now
//!    leased, and skips it (READ COMMITTED releases the lock of a row the
//!    conditions skip);
//! 3. `UPDATE ... SET locked_by, locked_until WHERE id IN (...)` of the
//!    rows read in 2: still locked by this transaction, nobody else can
//!    lease them. When 2 skipped candidates (taken meanwhile) and there is
//!    room left, 1 to 3 again: the new read sees those leases, and this
//!    claim's own;
//! 4. `COMMIT`.
//!
//! So a row is leased by at most one transaction, and once committed the
//! lease is what every later locking read sees. These are plain InnoDB
//! row locks and locking reads, the same on MySQL 5.7, 8.x and MariaDB
//! 10.3+ (no `SKIP LOCKED`, which 5.7 and MariaDB before 10.6 lack: claims
//! queue behind each other for the few milliseconds a claim lasts).
//!
//! Rows are locked by primary key, in id order, never through the claim
//! index: `apply` locks its rows the same way (by id, in id order) before
//! its `UPDATE` moves their claim-index entries. A claim locking claim-index
//! entries first (a `FOR UPDATE` scan of that index) would meet `apply` in
//! the opposite order, row by row: a deadlock each time a claim reaches a
//! row an `apply` holds, with `apply` the usual victim, again and again
//! under load.
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
use crate::queue::bounds::{MAX_DUE_AHEAD_SECS, MAX_LEASE_AHEAD_SECS};
use mysql::prelude::Queryable;
use mysql::{Transaction, TxOpts};

/// The candidates' ids (a plain read, no lock). `?`: shop, action, the due
/// bound, now (lease over), furthest believable lease end, the Shopping
/// Feed store twice (NULL: any; else rows of that store or untagged),
/// limit.
pub(super) fn claim_sql(table: &str, due_part: &str) -> String {
    format!(
        "SELECT id_shoppingfeed_order_sync_queue FROM `{table}` FORCE INDEX (sfsync_claim) \
         WHERE id_shop = ? AND action = ? AND live = 1 AND {due_part} \
           AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ? OR locked_until > ?) \
           AND (? IS NULL OR store_id IN (0, ?)) \
         ORDER BY update_at, id_shoppingfeed_order_sync_queue LIMIT ?"
    )
}

/// Locks the candidates that are still due and unleased, by primary key in
/// id order, and reads them.
#[allow(clippy::too_many_arguments)]
fn lock_sql(
    table: &str,
    ids: &[i64],
    id_shop: i64,
    action: &str,
    now: i64,
    due_bound: i64,
    lease_bound: i64,
    store: Option<i64>,
) -> String {
    // A save may tag an untagged row between the read and the lock.
    let store_part = store.map_or_else(String::new, |s| format!(" AND store_id IN (0, {s})"));
    format!(
        "SELECT {ROW_COLUMNS} FROM `{table}` FORCE INDEX (PRIMARY) \
         WHERE id_shoppingfeed_order_sync_queue IN ({}) AND id_shop = {id_shop} \
           AND action = {} AND live = 1 AND (update_at <= {now} OR update_at > {due_bound}) \
           AND (locked_by IS NULL OR IFNULL(locked_until, 0) < {now} OR locked_until > {lease_bound}){store_part} \
         ORDER BY id_shoppingfeed_order_sync_queue FOR UPDATE",
        id_list(ids),
        text_literal(action)
    )
}

/// Rounds of candidates one claim reads when rows are taken under it (each
/// round sees the leases committed meanwhile; one round when nobody else
/// claims).
const MAX_ROUNDS: usize = 8;

/// Real-time mode: at most the one row just saved, locked by its id.
pub(super) fn claim_only_sql(table: &str) -> String {
    format!(
        "SELECT {ROW_COLUMNS} FROM `{table}` FORCE INDEX (PRIMARY) \
         WHERE id_shoppingfeed_order_sync_queue = ? AND id_shop = ? AND action = ? AND live = 1 \
           AND (update_at <= ? OR update_at > ?) \
           AND (locked_by IS NULL OR IFNULL(locked_until, 0) < ? OR locked_until > ?) \
           AND (? IS NULL OR store_id IN (0, ?)) \
         FOR UPDATE"
    )
}

impl MysqlStore {
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
        let lease_secs = lease_until.saturating_sub(now);
        let sql = &self.sql;
        let table = &self.table;
        let clock = self.clock;
        self.link.borrow_mut().run(|conn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let server_now = clock.now(&mut tx, now)?;
            let lease_bound = server_now.saturating_add(MAX_LEASE_AHEAD_SECS);
            let due_bound = server_now.saturating_add(MAX_DUE_AHEAD_SECS);
            let lease_end = server_now.saturating_add(lease_secs);
            let lease = |tx: &mut Transaction<'_>, rows: &[Row]| -> Res<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                // Text protocol, values written in: an id list has a new
                // text every time, and preparing it would cost a round trip
                // more.
                tx.query_drop(format!(
                    "UPDATE `{table}` SET locked_by = {}, locked_until = {lease_end} \
                     WHERE id_shoppingfeed_order_sync_queue IN ({})",
                    text_literal(claim),
                    id_list(&ids)
                ))?;
                Ok(())
            };
            let mut rows: Vec<Row> = Vec::new();
            if let Some(id) = only {
                rows = rows_from(tx.exec(
                    &sql.claim_only,
                    (
                        id,
                        id_shop,
                        action,
                        server_now,
                        due_bound,
                        server_now,
                        lease_bound,
                        store,
                        store,
                    ),
                )?)?;
                lease(&mut tx, &rows)?;
            }
            for _ in 0..MAX_ROUNDS {
                let room = limit - rows.len() as i64;
                if only.is_some() || room <= 0 {
                    break;
                }
                let mut candidates: Vec<i64> = tx.exec(
                    &sql.claim_due,
                    (
                        id_shop,
                        action,
                        server_now,
                        server_now,
                        lease_bound,
                        store,
                        store,
                        room,
                    ),
                )?;
                // Rows due implausibly far ahead (saved while a clock ran
                // ahead) come after the rows really due.
                let more = room - candidates.len() as i64;
                if more > 0 {
                    candidates.extend(tx.exec::<i64, _, _>(
                        &sql.claim_ahead,
                        (
                            id_shop,
                            action,
                            due_bound,
                            server_now,
                            lease_bound,
                            store,
                            store,
                            more,
                        ),
                    )?);
                }
                // A lease this claim wrote that reads as over (a lease
                // ending before `now`, or beyond any setting) must not
                // give a row twice.
                candidates.retain(|id| !rows.iter().any(|r| r.id == *id));
                if candidates.is_empty() {
                    break;
                }
                let locked = rows_from(tx.query(lock_sql(
                    table,
                    &candidates,
                    id_shop,
                    action,
                    server_now,
                    due_bound,
                    lease_bound,
                    store,
                ))?)?;
                lease(&mut tx, &locked)?;
                let all_taken = locked.len() == candidates.len();
                rows.extend(locked);
                if all_taken {
                    break;
                }
            }
            tx.commit()?;
            // Oldest first, the rows really due before those due
            // implausibly far ahead.
            rows.sort_by_key(|r| (r.update_at > due_bound, r.update_at, r.id));
            Ok(rows)
        })
    }
}
