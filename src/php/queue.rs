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
use sfsync_core::model::State;
use sfsync_core::time;
use sfsync_core::Error;

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
