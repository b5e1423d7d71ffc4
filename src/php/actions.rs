//! `ShoppingfeedOrderSyncActions` (abstract) and
#![allow(non_snake_case)] // PHP parameter names are camelCase, as the contract writes them.
//! `ShoppingfeedOrderSyncStatusActions`: the classlib `Actions` protocol over
//! the core engine.
//!
//! A Rust class extending another Rust class cannot run the parent's Rust
//! methods on a child instance, so both classes get their own methods from
//! one macro, delegating to the generic functions below. PHP classes that
//! extend either class inherit those methods and work as they are: the
//! methods that chain steps call `$this->...` through PHP, so overrides
//! written in PHP are honoured.

use super::convert::{self, id, row_ids, rows_to_php, string};
use super::exceptions::{from_core, sync_error};
use super::settings::PhpSettings;
use super::{ini, store};
use ext_php_rs::boxed::ZBox;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendClassObject, ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::ExecutorGlobals;
use sfsync_core::api::{ApiConfig, Client};
use sfsync_core::engine::{self, Mode, Report, SaveRequest, Target};
use sfsync_core::fasthash::HashMap;
use sfsync_core::model::{self, Operation, Row, State};
use sfsync_core::queue::{Change, QueueStore, SqliteStore};
use sfsync_core::{settings, time, Error};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What an Actions object holds between calls.
#[derive(Default)]
pub struct ActionsState {
    /// The conveyor, owned (a copy of what `setConveyor` was given).
    conveyor: Option<ZBox<ZendHashTable>>,
    /// The model object of classlib (kept, unused).
    model: Option<Zval>,
    /// Set while `saveOrder` runs the real-time chain: `getBatch` then claims
    /// only this row and `sendBatch` makes one HTTP attempt.
    realtime_row: Option<i64>,
    /// The rows of this object's last claim (see [`ClaimCache`]).
    claimed: Option<ClaimCache>,
}

impl ActionsState {
    fn conveyor(&mut self) -> &mut ZendHashTable {
        self.conveyor.get_or_insert_with(ZendHashTable::new)
    }

    /// The conveyor and the claim cache, borrowed together.
    fn parts(&mut self) -> (&mut ZendHashTable, &mut Option<ClaimCache>) {
        (
            self.conveyor.get_or_insert_with(ZendHashTable::new),
            &mut self.claimed,
        )
    }
}

/// The rows `getBatch` claimed, by id, with their claim token: the steps
/// that follow in the chain (`prepareBatch`, `sendBatch`, `checkTickets`)
/// take them from here instead of reading and decoding them again. A row
/// leased to a claim changes only through the holder of that claim
/// (`saveOrder` replaces unclaimed rows only, `retryFailed` failed ones), so
/// these copies stay exact as long as every change made through this object
/// updates or drops them, which the steps do. Used only while the
/// conveyor's `claim` is this token; ids not found here are read from the
/// queue as before.
pub struct ClaimCache {
    token: String,
    rows: HashMap<i64, Row>,
}

impl ClaimCache {
    fn forget(cache: &mut Option<ClaimCache>, ids: impl IntoIterator<Item = i64>) {
        if let Some(c) = cache {
            for id in ids {
                c.rows.remove(&id);
            }
        }
    }
}

pub trait HasState {
    fn state(&mut self) -> &mut ActionsState;
}

/// Runs a method body: core errors become the contract's exceptions, and a
/// panic becomes a `ShoppingfeedSyncException` instead of crossing into PHP.
fn guard<T>(method: &str, body: impl FnOnce() -> Result<T, Error>) -> PhpResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(from_core(e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(sync_error(format!(
                "shoppingfeed_sync internal error in {method}: {msg}"
            )))
        }
    }
}

fn set(conveyor: &mut ZendHashTable, key: &str, value: impl ext_php_rs::convert::IntoZval) {
    let _ = conveyor.insert(key, value);
}

/// Appends a list of values to the conveyor list `key` (created if absent).
fn append(conveyor: &mut ZendHashTable, key: &str, items: Vec<Zval>) {
    let mut list = match conveyor.get(key).and_then(|zv| zv.dereference().array()) {
        Some(existing) => existing.to_owned(),
        None => ZendHashTable::new(),
    };
    for item in items {
        let _ = list.push(item);
    }
    let mut zv = Zval::new();
    zv.set_hashtable(list);
    let _ = conveyor.insert(key, zv);
}

fn long(v: i64) -> Zval {
    let mut zv = Zval::new();
    zv.set_long(v);
    zv
}

fn text(s: &str) -> Zval {
    let mut zv = Zval::new();
    let _ = zv.set_string(s, false);
    zv
}

/// Records a step's report in the conveyor (`sent`, `succeeded`, `pending`:
/// row ids; `failed`: the rows, for the merchant's mail; `errors`: lines).
fn record(conveyor: &mut ZendHashTable, store: &SqliteStore, report: &Report) -> Result<(), Error> {
    append(
        conveyor,
        "sent",
        report.sent.iter().map(|i| long(*i)).collect(),
    );
    append(
        conveyor,
        "succeeded",
        report.succeeded.iter().map(|i| long(*i)).collect(),
    );
    append(
        conveyor,
        "pending",
        report.pending.iter().map(|i| long(*i)).collect(),
    );
    let failed = if report.failed.is_empty() {
        Vec::new()
    } else {
        store.get(&report.failed)?
    };
    append(
        conveyor,
        "failed",
        failed.iter().map(convert::row_to_php).collect(),
    );
    append(
        conveyor,
        "errors",
        report.errors.iter().map(|e| text(e)).collect(),
    );
    Ok(())
}

fn claim_of(conveyor: &ZendHashTable) -> Result<Option<String>, Error> {
    match conveyor.get("claim").map(Zval::dereference) {
        None => Ok(None),
        Some(zv) if zv.is_null() => Ok(None),
        Some(_) => string(conveyor, "claim").map(Some),
    }
}

fn order_action(conveyor: &ZendHashTable) -> Result<String, Error> {
    let action = string(conveyor, "order_action")?;
    model::validate_action(&action)?;
    Ok(action)
}

/// The rows named by a conveyor list (`batch`, or one operation's list):
/// from the claim cache when the conveyor's claim is the cached one, else
/// (and for ids it does not hold) from the queue. Oldest first, each once.
/// With `take`, the cached rows are moved out (the step settles them all).
fn rows_of(
    store: &SqliteStore,
    cache: &mut Option<ClaimCache>,
    claim: Option<&str>,
    list: &Zval,
    key: &str,
    take: bool,
) -> Result<Vec<Row>, Error> {
    let ids = row_ids(list, key)?;
    let cache = cache.as_mut().filter(|c| claim == Some(c.token.as_str()));
    let mut rows = Vec::with_capacity(ids.len());
    let missing: Vec<i64> = match cache {
        Some(c) => ids
            .into_iter()
            .filter(|id| {
                let cached = if take {
                    c.rows.remove(id)
                } else {
                    c.rows.get(id).cloned()
                };
                match cached {
                    Some(row) => {
                        rows.push(row);
                        false
                    }
                    None => true,
                }
            })
            .collect(),
        None => ids,
    };
    if !missing.is_empty() {
        rows.extend(store.get(&missing)?);
    }
    rows.sort_by_key(|r| (r.update_at, r.id));
    rows.dedup_by_key(|r| r.id);
    Ok(rows)
}

fn api_client() -> Result<Client, Error> {
    let timeout_ms = ini::timeout_ms().map_err(Error::Input)?;
    Client::shared(&ApiConfig {
        base_url: ini::api_url(),
        timeout_ms,
    })
}

/// The API credentials from the conveyor (`token`, `shoppingfeed_store_id`).
fn credentials(conveyor: &ZendHashTable) -> Result<(String, i64), Error> {
    let token = string(conveyor, "token")?;
    if token.trim().is_empty() {
        return Err(Error::input("conveyor key 'token' is empty"));
    }
    let store_id = id(conveyor, "shoppingfeed_store_id")?;
    Ok((token, store_id))
}

/// True when the conveyor has usable credentials (real-time mode needs them).
fn has_credentials(conveyor: &ZendHashTable) -> bool {
    credentials(conveyor).is_ok()
}

/// Calls `$this->$method()` through PHP. Returns its truthiness; a PHP
/// exception thrown by it stays pending and is reported as `Err`.
fn call_this(obj: *mut ZendObject, method: &str) -> Result<bool, Error> {
    // SAFETY: `obj` is the object whose method is running; PHP keeps it alive
    // for the whole call.
    let obj = unsafe { &*obj };
    match obj.try_call_method(method, vec![]) {
        Ok(ret) => {
            if ExecutorGlobals::has_exception() {
                return Err(Error::input(format!("{method}() threw")));
            }
            Ok(ret.coerce_to_bool())
        }
        Err(_) => Err(Error::input(format!("method {method}() is not callable"))),
    }
}

fn has_method(obj: *mut ZendObject, method: &str) -> bool {
    let obj = unsafe { &*obj };
    let ce = obj.get_class_entry();
    let lower = method.to_ascii_lowercase();
    // SAFETY: read-only lookup in the class's function table.
    unsafe {
        !ext_php_rs::ffi::zend_hash_str_find_ptr_lc(
            &raw const ce.function_table,
            lower.as_ptr().cast(),
            lower.len(),
        )
        .is_null()
    }
}

pub fn set_conveyor<'a, T: RegisteredClass + HasState>(
    self_: &'a mut ZendClassObject<T>,
    conveyor: &ZendHashTable,
) -> &'a mut ZendClassObject<T> {
    self_.state().conveyor = Some(conveyor.to_owned());
    self_
}

pub fn get_conveyor<T: HasState>(this: &mut T) -> ZBox<ZendHashTable> {
    this.state().conveyor().to_owned()
}

pub fn set_model_object<'a, T: RegisteredClass + HasState>(
    self_: &'a mut ZendClassObject<T>,
    model: &Zval,
) -> &'a mut ZendClassObject<T> {
    self_.state().model = Some(model.shallow_clone());
    self_
}

pub fn forward<T: RegisteredClass + HasState>(
    self_: &mut ZendClassObject<T>,
    action: &str,
) -> PhpResult<bool> {
    if action.is_empty()
        || !action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(sync_error(format!(
            "forward: action must be a method name, got {}",
            model::shorten(action)
        )));
    }
    let obj: *mut ZendObject = self_.get_mut_zend_obj();
    if !has_method(obj, action) {
        return Err(sync_error(format!(
            "forward: {}::{action}() does not exist",
            T::CLASS_NAME
        )));
    }
    match call_this(obj, action) {
        Ok(v) => Ok(v),
        // The PHP exception is pending and propagates as it is.
        Err(e) => Err(from_core(e)),
    }
}

pub fn save_order<T: RegisteredClass + HasState>(
    self_: &mut ZendClassObject<T>,
) -> PhpResult<bool> {
    let started = std::time::Instant::now();
    let (row_id, realtime) = guard("saveOrder", || {
        let state = self_.state();
        let conveyor = state.conveyor();
        let id_order = id(conveyor, "id_order")?;
        let id_shop = id(conveyor, "id_shop")?;
        let action = order_action(conveyor)?;
        let snapshot_zv = conveyor
            .get("order")
            .ok_or_else(|| Error::input("conveyor key 'order' is missing (the order snapshot)"))?;
        if !snapshot_zv.dereference().is_array() {
            return Err(Error::input(format!(
                "conveyor key 'order' must be an array (the order snapshot), got {}",
                convert::describe(snapshot_zv.dereference())
            )));
        }
        let snapshot = convert::to_json(snapshot_zv, "order", 0)?;
        let src = PhpSettings::new(conveyor, Some(id_shop))?;
        let store = store::current()?;
        let req = SaveRequest {
            id_shop,
            id_order,
            action,
            snapshot,
        };
        // Read before saving: a malformed setting must leave the queue untouched.
        let realtime = settings::real_time(&src)? && has_credentials(conveyor);
        let row_id = engine::save(&*store, &src, &req, time::now())?;
        store::after_request_write(&store);
        set(conveyor, "id_shoppingfeed_order", row_id);
        Ok((row_id, realtime))
    })?;
    if realtime {
        // The merchant's request waits at most `timeout_ms` in all (the
        // save, the client's first build, connecting, the one attempt), not
        // only for the HTTP exchange: requests started in the chain get the
        // time left.
        // A margin is kept for what follows a timed-out attempt (the row's
        // retry committed, the claim released; the timer's 1 ms grain).
        let limit = ini::timeout_ms().unwrap_or(ini::DEFAULT_TIMEOUT_MS);
        let margin = (limit / 10).min(5);
        let deadline = started + std::time::Duration::from_millis(limit - margin);
        sfsync_core::api::with_deadline(deadline, || run_realtime_chain(self_, row_id));
    }
    Ok(true)
}

/// Real-time mode: `$this->getBatch()`, `prepareBatch()`, `sendBatch()` for
/// the saved row. The update is already durable: whatever happens here
/// (Shopping Feed down, slow, refusing the token, a PHP override throwing),
/// the merchant's request goes on and the row waits for the cron.
fn run_realtime_chain<T: RegisteredClass + HasState>(self_: &mut ZendClassObject<T>, row_id: i64) {
    self_.state().realtime_row = Some(row_id);
    let obj: *mut ZendObject = self_.get_mut_zend_obj();
    let mut error = None;
    for step in ["getBatch", "prepareBatch", "sendBatch"] {
        if !has_method(obj, step) {
            break;
        }
        match call_this(obj, step) {
            Ok(true) => continue,
            Ok(false) => break,
            Err(_) => {
                // `message` is a protected property: ask the exception itself.
                let msg = ExecutorGlobals::take_exception()
                    .and_then(|ex| ex.try_call_method("getMessage", vec![]).ok())
                    .and_then(|zv| zv.string())
                    .unwrap_or_else(|| format!("{step}() failed"));
                error = Some(format!("real-time {step}: {msg}"));
                break;
            }
        }
    }
    let state = self_.state();
    state.realtime_row = None;
    state.claimed = None;
    let conveyor = state.conveyor();
    if let Some(msg) = error {
        append(conveyor, "errors", vec![text(&msg)]);
    }
    // A row the chain claimed but did not settle (an override that threw)
    // is released at once rather than waiting for its lease to end.
    if let (Ok(Some(claim)), Ok(store)) = (claim_of(conveyor), store::current()) {
        let _ = store.apply(&[(row_id, Change::Release)], Some(&claim), time::now());
    }
}

pub fn get_batch<T: HasState>(this: &mut T) -> PhpResult<bool> {
    guard("getBatch", || {
        let state = this.state();
        let only = state.realtime_row;
        let (conveyor, cache) = state.parts();
        let id_shop = id(conveyor, "id_shop")?;
        let action = order_action(conveyor)?;
        let src = PhpSettings::new(conveyor, Some(id_shop))?;
        let store = store::current()?;
        let claim = engine::claim(&*store, &src, id_shop, &action, only, time::now())?;
        if only.is_none() {
            store::after_background_write(&store);
        }
        let found = !claim.rows.is_empty();
        let mut batch = Zval::new();
        batch.set_hashtable(rows_to_php(&claim.rows));
        set(conveyor, "batch", batch);
        if found {
            set(conveyor, "claim", claim.token.as_str());
        }
        *cache = found.then(|| ClaimCache {
            rows: claim.rows.into_iter().map(|r| (r.id, r)).collect(),
            token: claim.token,
        });
        Ok(found)
    })
}

pub fn settle<T: HasState>(
    this: &mut T,
    ids: &ZendHashTable,
    state_name: &str,
    message: Option<String>,
    order_failure: bool,
) -> PhpResult<i64> {
    guard("settle", || {
        let mut list = Vec::with_capacity(ids.len());
        for zv in ids.values() {
            list.push(convert::id_value(zv.dereference(), "ids")?);
        }
        let state = State::parse(state_name).ok_or_else(|| {
            Error::input(format!(
                "settle: state must be one of done, pending, failed, got {}",
                model::shorten(state_name)
            ))
        })?;
        let realtime = this.state().realtime_row.is_some();
        let (conveyor, cache) = this.state().parts();
        ClaimCache::forget(cache, list.iter().copied());
        let claim = claim_of(conveyor)?;
        let id_shop = match conveyor.get("id_shop") {
            Some(_) => Some(id(conveyor, "id_shop")?),
            None => None,
        };
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
        record(conveyor, &store, &report)?;
        if !realtime {
            store::after_background_write(&store);
        }
        Ok(changed as i64)
    })
}

pub fn prepare_batch<T: HasState>(this: &mut T) -> PhpResult<bool> {
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
        let rows = rows_of(&store, cache, claim.as_deref(), batch, "batch", true)?;
        let src = PhpSettings::new(conveyor, Some(id_shop))?;
        let prepared = engine::prepare_owned(&*store, &src, rows, claim.as_deref(), time::now());
        drop(src);
        // On an error the rows stay out of the cache: later steps read them.
        let prepared = prepared?;
        let mut ops = ZendHashTable::new();
        for (op, rows) in &prepared.operations {
            let mut list = Zval::new();
            list.set_hashtable(rows_to_php(rows));
            let _ = ops.insert(op.as_str(), list);
        }
        let mut prepared = prepared;
        let operations = std::mem::take(&mut prepared.operations);
        let mapped = !operations.is_empty();
        // The rows sent next, as the queue now has them (settled ones are
        // gone from the cache already).
        if let Some(c) = cache
            .as_mut()
            .filter(|c| claim.as_deref() == Some(c.token.as_str()))
        {
            for row in operations.into_values().flatten() {
                c.rows.insert(row.id, row);
            }
        }
        let mut zv = Zval::new();
        zv.set_hashtable(ops);
        set(conveyor, "operations", zv);
        record(conveyor, &store, &prepared.report)?;
        if !realtime {
            store::after_background_write(&store);
        }
        Ok(mapped)
    })
}

pub fn send_batch<T: HasState>(this: &mut T) -> PhpResult<bool> {
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
        for (key, list) in ops_ht.iter() {
            let name = key.to_string();
            let op = Operation::parse(&name).ok_or_else(|| {
                Error::input(format!(
                    "conveyor key 'operations' names an unknown operation {}",
                    model::shorten(&name)
                ))
            })?;
            let rows = rows_of(&store, cache, claim.as_deref(), list, "operations", true)?;
            if !rows.is_empty() {
                operations.insert(op, rows);
            }
        }
        let id_shop = match conveyor.get("id_shop") {
            Some(_) => Some(id(conveyor, "id_shop")?),
            None => None,
        };
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
        record(conveyor, &store, &report)?;
        if mode == Mode::Batch {
            store::after_background_write(&store);
        }
        Ok(true)
    })
}

pub fn check_tickets<T: HasState>(this: &mut T) -> PhpResult<bool> {
    guard("checkTickets", || {
        let (conveyor, cache) = this.state().parts();
        let (token, store_id) = credentials(conveyor)?;
        let claim = claim_of(conveyor)?;
        let id_shop = id(conveyor, "id_shop")?;
        let batch = conveyor
            .get("batch")
            .ok_or_else(|| Error::input("conveyor key 'batch' is missing: call getBatch first"))?;
        let store = store::current()?;
        let rows = rows_of(&store, cache, claim.as_deref(), batch, "batch", true)?;
        let src = PhpSettings::new(conveyor, Some(id_shop))?;
        let client = api_client()?;
        let target = Target {
            token: &token,
            store_id,
            mode: Mode::Batch,
        };
        let result = engine::check(&*store, &client, &src, target, &rows, claim.as_deref());
        drop(src);
        ClaimCache::forget(cache, rows.iter().map(|r| r.id));
        let report = result?;
        record(conveyor, &store, &report)?;
        store::after_background_write(&store);
        Ok(true)
    })
}

/// The methods both classes export (see the module comment for why they are
/// generated per class).
macro_rules! actions_methods {
    ($ty:ident, { $($extra:tt)* }) => {
        #[php_impl]
        #[allow(non_snake_case)]
        impl $ty {
            pub fn __construct() -> Self {
                Self::default()
            }

            /// Replaces the conveyor (classlib's DefaultActions); returns $this.
            pub fn set_conveyor<'a>(
                self_: &'a mut ZendClassObject<$ty>,
                conveyor: &ZendHashTable,
            ) -> &'a mut ZendClassObject<$ty> {
                set_conveyor(self_, conveyor)
            }

            /// The conveyor, with what the steps added.
            pub fn get_conveyor(&mut self) -> ZBox<ZendHashTable> {
                get_conveyor(self)
            }

            /// classlib compatibility (the model is often null); returns $this.
            pub fn set_model_object<'a>(
                self_: &'a mut ZendClassObject<$ty>,
                model: &Zval,
            ) -> &'a mut ZendClassObject<$ty> {
                set_model_object(self_, model)
            }

            /// Calls `$this->$action()`.
            pub fn forward(self_: &mut ZendClassObject<$ty>, action: &str) -> PhpResult<bool> {
                forward(self_, action)
            }

            /// Saves one order update in the queue (durable when it returns);
            /// in real-time mode also runs the send chain for it.
            pub fn save_order(self_: &mut ZendClassObject<$ty>) -> PhpResult<bool> {
                save_order(self_)
            }

            /// Claims the due rows of a shop and action, up to the batch size.
            pub fn get_batch(&mut self) -> PhpResult<bool> {
                get_batch(self)
            }

            /// Settles claimed rows: done, pending (retry) or failed. Returns how many changed.
            #[php(defaults(message = None, orderFailure = false))]
            pub fn settle(
                &mut self,
                ids: &ZendHashTable,
                state: &str,
                message: Option<String>,
                orderFailure: bool,
            ) -> PhpResult<i64> {
                settle(self, ids, state, message, orderFailure)
            }

            $($extra)*
        }
    };
}

/// `abstract class ShoppingfeedOrderSyncActions`.
#[php_class]
#[php(name = "ShoppingfeedOrderSyncActions")]
#[php(flags = ClassFlags::Abstract)]
#[derive(Default)]
pub struct SyncActions {
    state: ActionsState,
}

impl HasState for SyncActions {
    fn state(&mut self) -> &mut ActionsState {
        &mut self.state
    }
}

actions_methods!(SyncActions, {});

/// `class ShoppingfeedOrderSyncStatusActions extends ShoppingfeedOrderSyncActions`.
#[php_class]
#[php(name = "ShoppingfeedOrderSyncStatusActions")]
#[php(extends(SyncActions))]
#[derive(Default)]
pub struct StatusActions {
    state: ActionsState,
}

impl HasState for StatusActions {
    fn state(&mut self) -> &mut ActionsState {
        &mut self.state
    }
}

actions_methods!(StatusActions, {
    /// Maps each claimed order's state to a Shopping Feed operation.
    pub fn prepare_batch(&mut self) -> PhpResult<bool> {
        prepare_batch(self)
    }

    /// Sends the operations to the API (grouped, chunked) and records the batch ids.
    pub fn send_batch(&mut self) -> PhpResult<bool> {
        send_batch(self)
    }

    /// Reads the tickets of claimed CHECK_TICKET rows and settles each row.
    pub fn check_tickets(&mut self) -> PhpResult<bool> {
        check_tickets(self)
    }
});
