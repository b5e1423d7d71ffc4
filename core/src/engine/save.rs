//! `saveOrder`: validate one update and queue it.

use crate::error::{Error, Result};
use crate::model::{self, CHECK_TICKET_PREFIX};
use crate::queue::{QueueStore, RowKey};
use crate::settings::{self, SettingsSource, StateLists};
use crate::text;
use serde_json::Value;

/// One `saveOrder` call, already converted from the conveyor.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    pub id_shop: i64,
    pub id_order: i64,
    pub action: String,
    pub snapshot: Value,
    /// The Shopping Feed store the update belongs to (the conveyor's
    /// `shoppingfeed_store_id`), 0 when not given.
    pub store_id: i64,
}

/// Validates and queues one update; returns the row id. Reads the state
/// lists and the time shift (for `SYNC_STATUS`): a shipped state is due
/// `TIME_SHIFT` minutes later, anything else at once. Refuses
/// `CHECK_TICKET_` actions (an internal stage).
pub fn save(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    req: &SaveRequest,
    now: i64,
) -> Result<i64> {
    validate(req)?;
    let due_at = due_at(settings, req, now)?;
    let key = RowKey {
        store_id: req.store_id,
        id_shop: req.id_shop,
        id_order: req.id_order,
        action: &req.action,
        subject: model::subject_of(&req.action, &req.snapshot)?,
    };
    store.upsert_pending_keyed(&key, &req.snapshot, due_at, now)
}

/// Everything checked before the queue is touched.
fn validate(req: &SaveRequest) -> Result<()> {
    model::validate_action(&req.action)?;
    if req.action.starts_with(CHECK_TICKET_PREFIX) {
        return Err(Error::input(format!(
            "order_action {} is an internal stage (ticket checking): save the base action instead",
            text::excerpt(&req.action)
        )));
    }
    if req.id_order <= 0 {
        return Err(Error::input(format!(
            "id_order must be a positive integer, got {}",
            req.id_order
        )));
    }
    if req.store_id < 0 {
        return Err(Error::input(format!(
            "shoppingfeed_store_id must be a positive integer, got {}",
            req.store_id
        )));
    }
    if req.id_shop <= 0 {
        return Err(Error::input(format!(
            "id_shop must be a positive integer, got {}",
            req.id_shop
        )));
    }
    model::validate_snapshot(&req.action, &req.snapshot)?;
    let size = serde_json::to_string(&req.snapshot)
        .map_err(|e| Error::input(format!("order cannot be encoded as JSON: {e}")))?
        .len();
    let limit = model::max_snapshot_bytes(&req.action);
    if size > limit {
        return Err(Error::input(format!(
            "order (the snapshot) is {size} bytes of JSON, more than the limit of {limit}"
        )));
    }
    Ok(())
}

/// A shipped state waits `TIME_SHIFT` minutes for tracking data; anything
/// else is due at once.
fn due_at(settings: &dyn SettingsSource, req: &SaveRequest, now: i64) -> Result<i64> {
    if req.action != model::ACTION_SYNC_STATUS {
        return Ok(now);
    }
    let lists = StateLists::read(settings)?;
    let shift = settings::time_shift_minutes(settings)?;
    let state = model::order_state(&req.snapshot)?;
    Ok(if lists.shipped.contains(&state) {
        now.saturating_add(shift.saturating_mul(60))
    } else {
        now
    })
}
