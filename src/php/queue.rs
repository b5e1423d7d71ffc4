//! `final class ShoppingfeedOrderSyncQueue`: the constants and queue inspection.
//!
//! Named so in v2 (it was `ShoppingfeedOrder`): today's Shopping Feed module
//! declares a `ShoppingfeedOrder` model of its own, and the two must load in
//! the same process. No alias of the old name is declared, for that reason.
#![allow(non_snake_case)] // PHP parameter names are camelCase, as the contract writes them.

use super::convert::{self, rows_to_php};
use super::exceptions::{from_core, sync_error};
use super::store;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;
use ext_php_rs::types::Zval;
use sfsync_core::model::State;
use sfsync_core::queue::OverviewLine;
use sfsync_core::time::{self, format_datetime};
use sfsync_core::{text, Error};

/// Rows one `rows()` call may return: an operator's page, and a bound on
/// what one call builds in PHP memory (a row holds its whole snapshot).
const MAX_LIST_ROWS: i64 = 10_000;

#[php_class]
#[php(name = "ShoppingfeedOrderSyncQueue")]
#[php(flags = ClassFlags::Final)]
pub struct SyncQueue;

fn positive(value: i64, name: &str) -> Result<i64, Error> {
    if value > 0 {
        Ok(value)
    } else {
        Err(Error::input(format!(
            "{name} must be a positive integer, got {value}"
        )))
    }
}

/// A date of the overview as the rows show theirs (`Y-m-d H:i:s`, UTC), or null.
fn date_or_null(ts: Option<i64>) -> Zval {
    let mut zv = Zval::new();
    match ts {
        Some(ts) => {
            let _ = zv.set_string(&format_datetime(ts), false);
        }
        None => zv.set_null(),
    }
    zv
}

/// Seconds from `from` to `to`, or null. Never negative: a due time ahead
/// of `now` that a claim already treats as due (a clock step) has waited 0 s.
fn seconds_or_null(from: Option<i64>, to: Option<i64>) -> Zval {
    let mut zv = Zval::new();
    match (from, to) {
        (Some(a), Some(b)) => zv.set_long(b.saturating_sub(a).max(0)),
        _ => zv.set_null(),
    }
    zv
}

/// One overview line as PHP sees it; ages are counted from `now`, the time
/// the store was asked at, so that they agree with `due` and `claimed`.
fn line_to_php(line: &OverviewLine, now: i64) -> Zval {
    let mut ht = ZendHashTable::with_capacity(12);
    let _ = ht.insert("id_shop", line.id_shop);
    let _ = ht.insert("action", line.action.as_str());
    let _ = ht.insert("state", line.state.as_str());
    let _ = ht.insert("count", line.count);
    let _ = ht.insert("due", line.due);
    let _ = ht.insert("claimed", line.claimed);
    let _ = ht.insert("oldest_due_at", date_or_null(line.oldest_due_at));
    let _ = ht.insert(
        "oldest_due_age",
        seconds_or_null(line.oldest_due_at, Some(now)),
    );
    let _ = ht.insert("next_due_at", date_or_null(line.next_due_at));
    let _ = ht.insert("next_due_in", seconds_or_null(Some(now), line.next_due_at));
    let _ = ht.insert("last_change_at", date_or_null(Some(line.last_change_at)));
    let _ = ht.insert("now", format_datetime(now).as_str());
    let mut zv = Zval::new();
    zv.set_hashtable(ht);
    zv
}

fn run<T>(body: impl FnOnce() -> Result<T, Error>) -> PhpResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(r) => r.map_err(from_core),
        Err(_) => Err(sync_error(
            "shoppingfeed_sync internal error in ShoppingfeedOrderSyncQueue",
        )),
    }
}

#[php_impl]
#[allow(non_snake_case)]
impl SyncQueue {
    const ACTION_SYNC_STATUS: &'static str = "SYNC_STATUS";
    const ACTION_CHECK_TICKET_SYNC_STATUS: &'static str = "CHECK_TICKET_SYNC_STATUS";
    const ACTION_SYNC_INVOICE: &'static str = "SYNC_INVOICE";
    const ACTION_CHECK_TICKET_SYNC_INVOICE: &'static str = "CHECK_TICKET_SYNC_INVOICE";
    const ACTION_SYNC_REFUND: &'static str = "SYNC_REFUND";
    const ACTION_CHECK_TICKET_SYNC_REFUND: &'static str = "CHECK_TICKET_SYNC_REFUND";
    const STATE_PENDING: &'static str = "pending";
    const STATE_SENT: &'static str = "sent";
    const STATE_DONE: &'static str = "done";
    const STATE_FAILED: &'static str = "failed";

    /// Every queue row of one PrestaShop order, oldest first.
    pub fn find(idOrder: i64) -> PhpResult<ZBox<ZendHashTable>> {
        run(|| {
            let id = positive(idOrder, "idOrder")?;
            let rows = store::current()?.find(id)?;
            Ok(rows_to_php(&rows))
        })
    }

    /// Row counts of one shop, keyed by STATE_* (zero included).
    pub fn counts(idShop: i64) -> PhpResult<ZBox<ZendHashTable>> {
        run(|| {
            let id = positive(idShop, "idShop")?;
            let counts = store::current()?.counts(id)?;
            let mut ht = ZendHashTable::new();
            for (state, n) in State::ALL.iter().zip(counts) {
                let _ = ht.insert(state.as_str(), n);
            }
            Ok(ht)
        })
    }

    /// Puts failed rows of a shop (all, or those of the given orders) back to
    /// pending; returns how many.
    #[php(optional = idOrders)]
    pub fn retry_failed(idShop: i64, idOrders: Option<&ZendHashTable>) -> PhpResult<i64> {
        run(|| {
            let id = positive(idShop, "idShop")?;
            let orders = match idOrders {
                None => None,
                Some(list) => {
                    let mut ids = Vec::with_capacity(list.len());
                    for zv in convert::values(list, "retryFailed: idOrders")? {
                        ids.push(convert::id_value(zv.dereference(), "idOrders")?);
                    }
                    Some(ids)
                }
            };
            let store = store::current()?;
            let n = store.retry_failed(id, orders.as_deref(), time::now())?;
            store::after_background_write(&*store);
            Ok(n as i64)
        })
    }

    /// The background sender of this process (an extension of the
    /// contract, `SHOPPINGFEED_REAL_TIME_MODE=background`): `running`,
    /// `accepted`, `waiting`, `dropped`, `rounds`, `sent`, `settled`,
    /// `left_for_cron` (ints), `last_error` (string or null), and
    /// `last_error_at`, `last_round_at` ('Y-m-d H:i:s' UTC or null). All
    /// zero when no sender was started in this process.
    pub fn background_sender() -> ZBox<ZendHashTable> {
        let st = sfsync_core::background::status().unwrap_or_default();
        let mut ht = ZendHashTable::with_capacity(11);
        let _ = ht.insert("running", st.running);
        for (key, n) in [
            ("accepted", st.accepted),
            ("waiting", st.waiting),
            ("dropped", st.dropped),
            ("rounds", st.rounds),
            ("sent", st.sent),
            ("settled", st.settled),
            ("left_for_cron", st.left_for_cron),
        ] {
            let _ = ht.insert(key, n as i64);
        }
        let mut last = Zval::new();
        match &st.last_error {
            Some(e) => {
                let _ = last.set_string(e, false);
            }
            None => last.set_null(),
        }
        let _ = ht.insert("last_error", last);
        for (key, at) in [
            ("last_error_at", st.last_error_at),
            ("last_round_at", st.last_round_at),
        ] {
            let mut zv = Zval::new();
            match at {
                Some(t) => {
                    let _ = zv.set_string(&format_datetime(t), false);
                }
                None => zv.set_null(),
            }
            let _ = ht.insert(key, zv);
        }
        ht
    }

    /// What the queue holds, for an operator (an extension of the contract):
    /// one array per (shop, action, state) that has rows, ordered by shop,
    /// action, then state (pending, sent, done, failed).
    pub fn overview() -> PhpResult<ZBox<ZendHashTable>> {
        run(|| {
            // Ages are counted on the store's clock (a MySQL server's may
            // differ from this web server's): the time it says it read at.
            let overview = store::current()?.overview(time::now())?;
            let mut ht = ZendHashTable::with_capacity(overview.lines.len() as u32);
            for line in &overview.lines {
                let _ = ht.push(line_to_php(line, overview.now));
            }
            Ok(ht)
        })
    }

    /// Rows of one state (of one shop, or of every shop), the most recently
    /// changed first, at most `$limit` (an extension of the contract).
    #[php(optional = idShop, defaults(limit = 100))]
    pub fn rows(state: &str, idShop: Option<i64>, limit: i64) -> PhpResult<ZBox<ZendHashTable>> {
        run(|| {
            let state = State::parse(state).ok_or_else(|| {
                Error::input(format!(
                    "state must be one of pending, sent, done, failed (the STATE_* constants), got {}",
                    text::excerpt(state)
                ))
            })?;
            let shop = match idShop {
                Some(id) => Some(positive(id, "idShop")?),
                None => None,
            };
            if !(1..=MAX_LIST_ROWS).contains(&limit) {
                return Err(Error::input(format!(
                    "limit must be from 1 to {MAX_LIST_ROWS}, got {limit}"
                )));
            }
            let rows = store::current()?.list(state, shop, limit)?;
            Ok(rows_to_php(&rows))
        })
    }

    /// Deletes done rows not changed for `$days` days; returns how many.
    /// (An extension of the contract, for the cron's housekeeping.)
    pub fn purge(days: i64) -> PhpResult<i64> {
        run(|| {
            if !(0..=36_500).contains(&days) {
                return Err(Error::input(format!(
                    "days must be from 0 to 36500, got {days}"
                )));
            }
            let store = store::current()?;
            let n = store.purge_done(time::now() - days * 86_400)?;
            store::after_background_write(&*store);
            Ok(n as i64)
        })
    }

    /// Copies every row of another queue (`$database`: a SQLite path, a
    /// mysql:// URL or `prestashop`, as `shoppingfeed_sync.database` takes)
    /// into the current one, keeping states, counters, batches and tickets:
    /// a shop switching stores loses no pending or failed update. Done rows
    /// only with `$includeDone`. Idempotent (rows copied before are
    /// recognised). Returns `['copied' => n, 'already_there' => n,
    /// 'done_left' => n]`. (An extension of the contract; the CLI runner's
    /// `move` command.)
    #[php(optional = includeDone)]
    pub fn import_from(
        database: String,
        includeDone: Option<bool>,
    ) -> PhpResult<ZBox<ZendHashTable>> {
        run(|| {
            let target = store::current()?;
            let source = store::open_other(&database)?;
            let moved = sfsync_core::queue::transfer::import_all(
                &*source,
                &*target,
                includeDone.unwrap_or(false),
            )?;
            store::after_background_write(&*target);
            let mut ht = ZendHashTable::new();
            let _ = ht.insert("copied", moved.copied as i64);
            let _ = ht.insert("already_there", moved.already_there as i64);
            let _ = ht.insert("done_left", moved.done_left as i64);
            Ok(ht)
        })
    }
}

/// The `phpinfo()` line of the background sender of this process.
pub fn sender_line() -> String {
    match sfsync_core::background::status() {
        None => "not started in this process (SHOPPINGFEED_REAL_TIME_MODE=background starts it)"
            .to_string(),
        Some(st) => format!(
            "{}: {} accepted, {} waiting, {} sent, {} settled, {} left for the cron, {} rounds{}",
            if st.running { "running" } else { "stopped" },
            st.accepted,
            st.waiting,
            st.sent,
            st.settled,
            st.left_for_cron,
            st.rounds,
            st.last_error
                .as_deref()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default()
        ),
    }
}
