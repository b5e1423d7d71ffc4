//! `getBatch`: lease the due rows of a shop and action to a new claim.

use crate::error::{Error, Result};
use crate::model::{self, Row};
use crate::queue::QueueStore;
use crate::settings::{self, SettingsSource};

/// Rows claimed by one `getBatch`, and the claim token they are leased to.
#[derive(Debug, Clone)]
pub struct Claim {
    pub token: String,
    pub rows: Vec<Row>,
}

/// A new claim token, unique across processes and hosts: the process id,
/// the time in nanoseconds and 64 random bits (`p1234-18c2f...-9a3b...`).
pub fn new_claim_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "p{}-{:x}-{:016x}",
        std::process::id(),
        nanos,
        fastrand::u64(..)
    )
}

/// Claims the due rows of a shop and action, up to `MAX_ORDERS`, leased for
/// `LEASE_TIME`; `only` restricts it to one row (real-time mode).
pub fn claim(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    id_shop: i64,
    action: &str,
    only: Option<i64>,
    now: i64,
) -> Result<Claim> {
    claim_at_most(store, settings, id_shop, action, only, now, None, None)
}

/// [`claim`], with at most `cap` rows whatever `MAX_ORDERS` says: the
/// binding passes what the PHP process's memory can hold, so that a large
/// `MAX_ORDERS` never makes `getBatch` claim rows it then dies converting
/// (the next run would claim and die again: a livelock). With `for_store`,
/// only rows of that Shopping Feed store or untagged ones (see
/// [`QueueStore::claim_in`]).
#[allow(clippy::too_many_arguments)]
pub fn claim_at_most(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    id_shop: i64,
    action: &str,
    only: Option<i64>,
    now: i64,
    cap: Option<i64>,
    for_store: Option<i64>,
) -> Result<Claim> {
    model::validate_action(action)?;
    if id_shop <= 0 {
        return Err(Error::input(format!(
            "id_shop must be a positive integer, got {id_shop}"
        )));
    }
    let mut limit = settings::max_orders(settings)?;
    if model::base_action(action) == model::ACTION_SYNC_INVOICE {
        limit = limit.min(crate::invoice::MAX_ROWS_PER_CLAIM);
    }
    let limit = cap.map_or(limit, |cap| limit.min(cap.max(1)));
    let lease = settings::lease_time(settings)?;
    let token = new_claim_token();
    let rows = store.claim_in(
        for_store,
        id_shop,
        action,
        limit,
        now,
        now.saturating_add(lease),
        &token,
        only,
    )?;
    Ok(Claim { token, rows })
}
