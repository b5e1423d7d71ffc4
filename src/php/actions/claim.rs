//! `getBatch` (claims due rows) and `settle` (ends rows of a claim: done,
//! pending for a retry, or failed).

use super::super::convert::{self, id, rows_to_php};
use super::super::memory_budget;
use super::super::settings::PhpSettings;
use super::super::store;
use super::claim_cache::ClaimCache;
use super::conveyor::{claim_of, id_shop_if_given, order_action, record, set, store_if_given};
use super::guard::guard;
use super::state::HasState;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::types::{ZendHashTable, Zval};
use sfsync_core::engine;
use sfsync_core::model::State;
use sfsync_core::{text, time, Error};

pub(super) fn get_batch<T: HasState>(this: &mut T) -> PhpResult<bool> {
    guard("getBatch", || {
        let state = this.state();
        let only = state.realtime_row;
        let (conveyor, cache) = state.parts();
        let id_shop = id(conveyor, "id_shop")?;
        let action = order_action(conveyor)?;
        let for_store = store_if_given(conveyor)?;
        let src = PhpSettings::new(conveyor, Some(id_shop))?;
        let store = store::current()?;
        // A batch never larger than this process's memory can take (see
        // memory_budget): a smaller claim makes progress where a larger one
        // would die after committing its lease.
        let cap = memory_budget::max_rows();
        let claim = engine::claim_at_most(
            &*store,
            &src,
            id_shop,
            &action,
            only,
            time::now(),
            cap,
            for_store,
        )?;
        if only.is_none() {
            store::after_background_write(&*store);
        }
        let found = !claim.rows.is_empty();
        let mut batch = Zval::new();
        batch.set_hashtable(rows_to_php(&claim.rows));
        set(conveyor, "batch", batch);
        if found {
            set(conveyor, "claim", claim.token.as_str());
        }
        *cache = ClaimCache::of(claim);
        Ok(found)
    })
}

pub(super) fn settle<T: HasState>(
    this: &mut T,
    ids: &ZendHashTable,
    state_name: &str,
    message: Option<String>,
    order_failure: bool,
) -> PhpResult<i64> {
    guard("settle", || {
        let mut list = Vec::with_capacity(ids.len());
        for zv in convert::values(ids, "settle: ids")? {
            list.push(convert::id_value(zv.dereference(), "ids")?);
        }
        let state = State::parse(state_name).ok_or_else(|| {
            Error::input(format!(
                "settle: state must be one of done, pending, failed, got {}",
                text::excerpt(state_name)
            ))
        })?;
        let realtime = this.state().realtime_row.is_some();
        let (conveyor, cache) = this.state().parts();
        ClaimCache::forget(cache, list.iter().copied());
        let claim = claim_of(conveyor)?;
        let id_shop = id_shop_if_given(conveyor)?;
        let src = PhpSettings::new(conveyor, id_shop)?;
        let store = store::current()?;
        let (changed, report) = engine::settle(
            &*store,
            &src,
            &list,
            state,
            message.as_deref(),
            order_failure,
            claim.as_deref(),
            time::now(),
        )?;
        drop(src);
        record(conveyor, &*store, &report)?;
        if !realtime {
            store::after_background_write(&*store);
        }
        Ok(changed as i64)
    })
}
