//! Conveyor access: the keys the steps read and write, and the report lists
//! (`sent`, `succeeded`, `pending`, `failed`, `errors`) they append to.

use super::super::convert::{self, id, string};
use ext_php_rs::convert::IntoZval;
use ext_php_rs::types::{ZendHashTable, Zval};
use sfsync_core::engine::Report;
use sfsync_core::model;
use sfsync_core::queue::QueueStore;
use sfsync_core::Error;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(super) fn set(conveyor: &mut ZendHashTable, key: &str, value: impl IntoZval) {
    let _ = conveyor.insert(key, value);
}

/// Appends a list of values to the conveyor list `key` (created if absent).
pub(super) fn append(conveyor: &mut ZendHashTable, key: &str, items: Vec<Zval>) {
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

pub(super) fn text(s: &str) -> Zval {
    let mut zv = Zval::new();
    let _ = zv.set_string(s, false);
    zv
}

/// Records a step's report in the conveyor (`sent`, `succeeded`, `pending`:
/// row ids; `failed`: the rows, for the merchant's mail; `errors`: lines).
pub(super) fn record(
    conveyor: &mut ZendHashTable,
    store: &dyn QueueStore,
    report: &Report,
) -> Result<(), Error> {
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
    // The rows as they ended, read once: the merchant's mail shows them.
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

/// The conveyor's `claim` (set by `getBatch`); none when absent or null.
pub(super) fn claim_of(conveyor: &ZendHashTable) -> Result<Option<String>, Error> {
    match conveyor.get("claim").map(Zval::dereference) {
        None => Ok(None),
        Some(zv) if zv.is_null() => Ok(None),
        Some(_) => string(conveyor, "claim").map(Some),
    }
}

/// The conveyor's `order_action`, checked against the contract's actions.
pub(super) fn order_action(conveyor: &ZendHashTable) -> Result<String, Error> {
    let action = string(conveyor, "order_action")?;
    model::validate_action(&action)?;
    Ok(action)
}

/// The conveyor's `id_shop` where a step can do without it (`settle`,
/// `sendBatch`): without it, settings are read with no shop id.
pub(super) fn id_shop_if_given(conveyor: &ZendHashTable) -> Result<Option<i64>, Error> {
    match conveyor.get("id_shop") {
        Some(_) => Some(id(conveyor, "id_shop")).transpose(),
        None => Ok(None),
    }
}

/// The conveyor's `shoppingfeed_store_id` where a step can do without it
/// (`saveOrder` tags the row with it, `getBatch` claims only that store's
/// rows and untagged ones): absent or null is None; anything else must be
/// a positive int.
pub(super) fn store_if_given(conveyor: &ZendHashTable) -> Result<Option<i64>, Error> {
    match conveyor.get("shoppingfeed_store_id") {
        Some(zv) if !zv.dereference().is_null() => {
            Some(id(conveyor, "shoppingfeed_store_id")).transpose()
        }
        _ => Ok(None),
    }
}

/// The API credentials from the conveyor (`token`, `shoppingfeed_store_id`).
pub(super) fn credentials(conveyor: &ZendHashTable) -> Result<(String, i64), Error> {
    let token = string(conveyor, "token")?;
    if token.trim().is_empty() {
        return Err(Error::input("conveyor key 'token' is empty"));
    }
    let store_id = id(conveyor, "shoppingfeed_store_id")?;
    Ok((token, store_id))
}

/// The conveyor's `deadline` (an extension): the Unix time, in seconds (int
/// or float, as `microtime(true)` gives), after which the step stops
/// reading from the API and releases what it has not read (the cron's time
/// budget). None when absent or null; a past deadline is "now".
pub(super) fn deadline_of(conveyor: &ZendHashTable) -> Result<Option<Instant>, Error> {
    let Some(zv) = conveyor.get("deadline").map(Zval::dereference) else {
        return Ok(None);
    };
    if zv.is_null() {
        return Ok(None);
    }
    let secs = match (zv.long(), zv.double()) {
        (Some(n), _) => n as f64,
        (None, Some(f)) => f,
        _ => {
            return Err(Error::input(
                "conveyor key 'deadline' must be a Unix time in seconds (int or float, as microtime(true))",
            ))
        }
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(Error::input(format!(
            "conveyor key 'deadline' must be a positive Unix time in seconds, got {secs}"
        )));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    // Far-future values are capped at a day: Duration::from_secs_f64 panics
    // past its range, and no cron run lasts that long.
    let left = (secs - now).clamp(0.0, 86_400.0);
    Ok(Some(Instant::now() + Duration::from_secs_f64(left)))
}

/// True when the conveyor has usable credentials (real-time mode needs them).
pub(super) fn has_credentials(conveyor: &ZendHashTable) -> bool {
    credentials(conveyor).is_ok()
}
