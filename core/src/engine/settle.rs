//! `settle()`: the caller's own verdict on rows it holds.

use super::bounded;
use super::step::Step;
use super::Report;
use crate::error::{Error, Result};
use crate::fasthash::HashSet;
use crate::model::State;
use crate::queue::{Change, QueueStore};
use crate::retry::RetryPolicy;
use crate::settings::SettingsSource;

/// `settle()`: `done`, `pending` (retry: attempts + 1, the retry delay; with
/// `order_failure` also failures + 1 and `failed` at the limit) or `failed`.
/// Returns how many rows changed, and the report (failed rows listed).
#[allow(clippy::too_many_arguments)]
pub fn settle(
    store: &dyn QueueStore,
    settings: &dyn SettingsSource,
    ids: &[i64],
    state: State,
    message: Option<&str>,
    order_failure: bool,
    claim: Option<&str>,
    now: i64,
) -> Result<(usize, Report)> {
    if let Some(bad) = ids.iter().find(|id| **id <= 0) {
        return Err(Error::input(format!(
            "settle: ids must be positive integers (row ids), got {bad}"
        )));
    }
    let message = message.map(bounded);
    let mut seen = HashSet::default();
    let ids: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    let each = |change: Change| -> Vec<(i64, Change)> {
        ids.iter().map(|id| (*id, change.clone())).collect()
    };
    let changes: Vec<(i64, Change)> = match state {
        State::Sent => {
            return Err(Error::input(
                "settle: state must be done, pending or failed, got sent",
            ))
        }
        State::Done => each(Change::Done { message }),
        State::Failed => each(Change::Failed {
            message: message.unwrap_or_else(|| "failed".into()),
        }),
        State::Pending => {
            let policy = RetryPolicy::read(settings)?;
            let message = message.unwrap_or_else(|| "retry requested".into());
            if ids.is_empty() {
                Vec::new()
            } else {
                store
                    .get(&ids)?
                    .iter()
                    .map(|row| policy.retry(row, now, message.clone(), order_failure))
                    .collect()
            }
        }
    };
    let mut step = Step::for_caller_ids(store, claim);
    let applied = step.commit(&changes, now)?;
    let changed: HashSet<i64> = applied.iter().map(|a| a.id).collect();
    Ok((changed.len(), step.report))
}
