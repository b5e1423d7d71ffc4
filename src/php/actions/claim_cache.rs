//! The claim cache: the rows `getBatch` claimed, kept by the object so that
//! the steps after it do not read and decode them again.

use super::super::convert::row_ids;
use ext_php_rs::types::Zval;
use sfsync_core::engine::Claim;
use sfsync_core::fasthash::HashMap;
use sfsync_core::model::Row;
use sfsync_core::queue::QueueStore;
use sfsync_core::Error;

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
    /// The cache of a fresh claim; none when it claimed nothing.
    pub(super) fn of(claim: Claim) -> Option<ClaimCache> {
        (!claim.rows.is_empty()).then(|| ClaimCache {
            rows: claim.rows.into_iter().map(|r| (r.id, r)).collect(),
            token: claim.token,
        })
    }

    /// Drops rows that changed in the queue (settled, requeued, released).
    pub(super) fn forget(cache: &mut Option<ClaimCache>, ids: impl IntoIterator<Item = i64>) {
        if let Some(c) = cache {
            for id in ids {
                c.rows.remove(&id);
            }
        }
    }

    /// Puts rows back as the queue now has them, if the cache is still the
    /// one of `claim`.
    pub(super) fn put_back(
        cache: &mut Option<ClaimCache>,
        claim: Option<&str>,
        rows: impl IntoIterator<Item = Row>,
    ) {
        if let Some(c) = cache.as_mut().filter(|c| claim == Some(c.token.as_str())) {
            for row in rows {
                c.rows.insert(row.id, row);
            }
        }
    }
}

/// The rows named by a conveyor list (`batch`, or one operation's list):
/// from the claim cache when the conveyor's claim is the cached one, else
/// (and for ids it does not hold) from the queue. Oldest first, each once.
/// With `take`, the cached rows are moved out (the step settles them all).
pub(super) fn rows_of(
    store: &dyn QueueStore,
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
