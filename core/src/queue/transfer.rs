//! Moving a queue to another store (a shop switching from its SQLite file
//! to its MySQL database): every row that still matters is copied, with
//! its state, counters, batch and ticket, so that no pending update and no
//! failed one is lost in the switch.
//!
//! Idempotent: a row already copied is recognised (same shop, order,
//! action, `date_add` and snapshot) and not added again, so the move can
//! be run twice, or again after an interruption. The source is only read:
//! it stays as it was, a backup until the operator deletes it.
//!
//! Run it with the crons stopped (or between two runs): a row leased in
//! the source is copied without its lease, and a cron still working on the
//! old queue would send it from there too.

use super::QueueStore;
use crate::error::Result;
use crate::model::State;

/// Rows read from the source per page.
pub const PAGE_ROWS: i64 = 500;

/// What a move did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Rows added to the target.
    pub copied: u64,
    /// Rows the target held already (an earlier run of the move).
    pub already_there: u64,
    /// Done rows not copied (history only; `include_done` copies them).
    pub done_left: u64,
}

/// Copies the rows of `from` into `to` (see the module comment).
pub fn import_all(from: &dyn QueueStore, to: &dyn QueueStore, include_done: bool) -> Result<Moved> {
    let mut moved = Moved::default();
    let mut after = 0;
    loop {
        let rows = from.page(after, PAGE_ROWS)?;
        let Some(last) = rows.last() else {
            return Ok(moved);
        };
        after = last.id;
        let wanted: Vec<_> = rows
            .into_iter()
            .filter(|row| {
                let keep = include_done || row.state != State::Done;
                if !keep {
                    moved.done_left += 1;
                }
                keep
            })
            .collect();
        // One transaction per page: a move of 100,000 rows is 200 commits.
        let added = to.import(&wanted)?;
        moved.copied += added;
        moved.already_there += wanted.len() as u64 - added;
    }
}
