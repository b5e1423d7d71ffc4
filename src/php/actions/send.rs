//! `prepareBatch` (claimed rows to Shopping Feed operations) and
//! `sendBatch` (the operations to the API).

use super::super::convert::{self, id, rows_to_php};
use super::super::settings::PhpSettings;
use super::super::store;
use super::api::api_client;
use super::claim_cache::{rows_of, ClaimCache};
use super::conveyor::{claim_of, credentials, id_shop_if_given, record, set};
use super::guard::guard;
use super::state::HasState;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::types::{ZendHashTable, Zval};
use sfsync_core::engine::{self, Mode, Target};
use sfsync_core::model::{Operation, Row};
use sfsync_core::{text, time, Error};
use std::collections::BTreeMap;

pub(super) fn prepare_batch<T: HasState>(this: &mut T) -> PhpResult<bool> {
    guard("prepareBatch", || {
        let realtime = this.state().realtime_row.is_some();
        let (conveyor, cache) = this.state().parts();
        let id_shop = id(conveyor, "id_shop")?;
        let claim = claim_of(conveyor)?;
        let batch = conveyor
            .get("batch")
            .ok_or_else(|| Error::input("conveyor key 'batch' is missing: call getBatch first"))?;
        let store = store::current()?;
        // Taken out of the claim cache (moved through the engine, put back
        // below with their operation).
        let rows = rows_of(&*store, cache, claim.as_deref(), batch, "batch", true)?;
        let src = PhpSettings::new(conveyor, Some(id_shop))?;
        let prepared = engine::prepare_owned(&*store, &src, rows, claim.as_deref(), time::now());
        drop(src);
        // On an error the rows stay out of the cache: later steps read them.
        let mut prepared = prepared?;
        let mut ops = ZendHashTable::new();
        for (op, rows) in &prepared.operations {
            let mut list = Zval::new();
            list.set_hashtable(rows_to_php(rows));
            let _ = ops.insert(op.as_str(), list);
        }
        let operations = std::mem::take(&mut prepared.operations);
        let mapped = !operations.is_empty();
        // The rows sent next, as the queue now has them (settled ones are
        // gone from the cache already).
        ClaimCache::put_back(cache, claim.as_deref(), operations.into_values().flatten());
        let mut zv = Zval::new();
        zv.set_hashtable(ops);
        set(conveyor, "operations", zv);
        record(conveyor, &*store, &prepared.report)?;
        if !realtime {
            store::after_background_write(&*store);
        }
        Ok(mapped)
    })
}

pub(super) fn send_batch<T: HasState>(this: &mut T) -> PhpResult<bool> {
    guard("sendBatch", || {
        let state = this.state();
        let mode = if state.realtime_row.is_some() {
            Mode::RealTime
        } else {
            Mode::Batch
        };
        let (conveyor, cache) = state.parts();
        let (token, store_id) = credentials(conveyor)?;
        let claim = claim_of(conveyor)?;
        let ops_zv = conveyor.get("operations").ok_or_else(|| {
            Error::input("conveyor key 'operations' is missing: call prepareBatch first")
        })?;
        let ops_ht = ops_zv.dereference().array().ok_or_else(|| {
            Error::input("conveyor key 'operations' must be an array: operation => rows")
        })?;
        let store = store::current()?;
        let mut operations: BTreeMap<Operation, Vec<Row>> = BTreeMap::new();
        for (name, list) in convert::entries(ops_ht, "conveyor key 'operations'")? {
            let op = Operation::parse(&name).ok_or_else(|| {
                Error::input(format!(
                    "conveyor key 'operations' names an unknown operation {}",
                    text::excerpt(&name)
                ))
            })?;
            let rows = rows_of(&*store, cache, claim.as_deref(), list, "operations", true)?;
            if !rows.is_empty() {
                operations.insert(op, rows);
            }
        }
        let id_shop = id_shop_if_given(conveyor)?;
        let src = PhpSettings::new(conveyor, id_shop)?;
        let client = api_client()?;
        let target = Target {
            token: &token,
            store_id,
            mode,
        };
        let result = engine::send(
            &*store,
            &client,
            &src,
            target,
            &operations,
            claim.as_deref(),
        );
        drop(src);
        // Every row sent is settled, requeued or released now.
        ClaimCache::forget(cache, operations.values().flatten().map(|r| r.id));
        let report = result?;
        record(conveyor, &*store, &report)?;
        if mode == Mode::Batch {
            store::after_background_write(&*store);
        }
        Ok(true)
    })
}
