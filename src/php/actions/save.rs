//! `saveOrder`: one order update saved in the queue, then (real-time mode)
//! the send chain for it within the request's time limit.

use super::super::convert::{self, id};
use super::super::settings::PhpSettings;
use super::super::{ini, store};
use super::conveyor::{credentials, has_credentials, order_action, set, store_if_given};
use super::guard::guard;
use super::php_calls::is_user_method;
use super::realtime::run_realtime_chain;
use super::state::HasState;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::types::ZendClassObject;
use ext_php_rs::zend::ClassEntry;
use sfsync_core::api::ApiConfig;
use sfsync_core::background::Job;
use sfsync_core::engine::{self, SaveRequest};
use sfsync_core::settings::{RealTimeMode, SettingsSource};
use sfsync_core::{settings, time, Error};
use std::time::{Duration, Instant};

pub(super) fn save_order<T: RegisteredClass + HasState>(
    self_: &mut ZendClassObject<T>,
) -> PhpResult<bool> {
    let started = Instant::now();
    // The object's class (its own allocation, not the object's): looked at
    // only for a background save, inside the closure that holds `self_`.
    let class: &ClassEntry = self_.get_mut_zend_obj().get_class_entry();
    let (row_id, realtime) = guard("saveOrder", || {
        let state = self_.state();
        let conveyor = state.conveyor();
        let id_order = id(conveyor, "id_order")?;
        let id_shop = id(conveyor, "id_shop")?;
        let action = order_action(conveyor)?;
        let store_id = store_if_given(conveyor)?.unwrap_or(0);
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
            store_id,
        };
        // Read before saving: a malformed setting must leave the queue untouched.
        let realtime = settings::real_time(&src)? && has_credentials(conveyor);
        let background = if realtime
            && settings::real_time_mode(&src)? == RealTimeMode::Background
            && !chain_in_php(class)
        {
            Some(background_job(conveyor, &src, id_shop, &req.action)?)
        } else {
            None
        };
        let row_id = engine::save(&*store, &src, &req, time::now())?;
        store::after_request_write(&*store);
        set(conveyor, "id_shoppingfeed_order", row_id);
        let realtime = match background {
            Some(job) => {
                // The sender claims the due rows of the shop (this one
                // among them), so the job names no row. Taken or not, the
                // update is durable: a job the sender cannot take waits
                // for the cron, as in batch mode.
                let taken = sfsync_core::background::submit(job);
                set(conveyor, "background", taken);
                false
            }
            None => realtime,
        };
        Ok((row_id, realtime))
    })?;
    if realtime {
        sfsync_core::api::with_deadline(realtime_deadline(started), || {
            run_realtime_chain(self_, row_id)
        });
    }
    Ok(true)
}

/// True when the object's class runs a step of the real-time chain in PHP
/// (a subclass's own `getBatch`, `prepareBatch` or `sendBatch`): it keeps
/// the inline chain, since the background sender never calls PHP.
fn chain_in_php(class: &ClassEntry) -> bool {
    ["getBatch", "prepareBatch", "sendBatch"]
        .iter()
        .any(|m| is_user_method(class, m))
}

/// The background sender's job for this save: where the queue is, the API,
/// the credentials, and the settings its steps read, resolved now (the
/// sender never calls PHP).
fn background_job(
    conveyor: &ext_php_rs::types::ZendHashTable,
    src: &PhpSettings<'_>,
    id_shop: i64,
    action: &str,
) -> Result<Job, Error> {
    let (token, store_id) = credentials(conveyor)?;
    let (database, open) = store::current_spec()?;
    let timeout_ms = ini::timeout_ms().map_err(Error::Input)?;
    let mut resolved = serde_json::Map::new();
    for name in settings::SEND_PATH {
        if let Some(v) = src.raw(name)? {
            resolved.insert(name.to_string(), v);
        }
    }
    Ok(Job {
        database,
        open,
        api: ApiConfig {
            base_url: ini::api_url(),
            timeout_ms,
        },
        token,
        store_id,
        id_shop,
        action: action.to_string(),
        settings: resolved,
    })
}

/// The merchant's request waits at most `timeout_ms` in all (the save, the
/// client's first build, connecting, the one attempt), not only for the
/// HTTP exchange: requests started in the chain get the time left. A
/// margin is kept for what follows a timed-out attempt (the row's retry
/// committed, the claim released; the timer's 1 ms grain).
fn realtime_deadline(started: Instant) -> Instant {
    let limit = ini::timeout_ms().unwrap_or(ini::DEFAULT_TIMEOUT_MS);
    let margin = (limit / 10).min(5);
    started + Duration::from_millis(limit - margin)
}
