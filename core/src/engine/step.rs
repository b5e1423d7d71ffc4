//! The bookkeeping of one step that talks to the API (`send`, `check`) or
//! settles rows (`settle`): apply the changes then record them in the
//! report, and release what is left when a refused token stops the run.

use super::report::Report;
use crate::error::Result;
use crate::fasthash::HashSet;
use crate::queue::{Applied, Change, QueueStore};
use crate::retry;

pub(super) struct Step<'a> {
    store: &'a dyn QueueStore,
    claim: Option<&'a str>,
    pub(super) report: Report,
    /// Every row the step took, in order, each once.
    taken: Vec<i64>,
    seen: HashSet<i64>,
    /// Rows a commit of this step named: the others are released if the
    /// run stops.
    settled: HashSet<i64>,
    /// Whether rows of a claimed commit that did not change are reported as
    /// taken over (not for `settle()`, whose ids are the caller's).
    report_takeovers: bool,
}

impl<'a> Step<'a> {
    pub(super) fn new(store: &'a dyn QueueStore, claim: Option<&'a str>) -> Step<'a> {
        Step {
            store,
            claim,
            report: Report::default(),
            taken: Vec::new(),
            seen: HashSet::default(),
            settled: HashSet::default(),
            report_takeovers: true,
        }
    }

    /// A step whose ids come from PHP (`settle()`): ids outside the claim
    /// are the caller's business, not a takeover to report.
    pub(super) fn for_caller_ids(store: &'a dyn QueueStore, claim: Option<&'a str>) -> Step<'a> {
        Step {
            report_takeovers: false,
            ..Step::new(store, claim)
        }
    }

    /// Takes a row into the step; false when it was already taken (a row
    /// listed twice by the caller is handled once).
    pub(super) fn take(&mut self, id: i64) -> bool {
        let new = self.seen.insert(id);
        if new {
            self.taken.push(id);
        }
        new
    }

    /// Applies `changes` in one transaction and records them in the report.
    /// Returns the rows that changed.
    pub(super) fn commit(&mut self, changes: &[(i64, Change)], now: i64) -> Result<Vec<Applied>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let applied = self.store.apply(changes, self.claim, now)?;
        if self.claim.is_some() && self.report_takeovers {
            self.report.note_taken_over(changes, &applied);
        }
        self.report.record(changes, &applied);
        self.settled.extend(changes.iter().map(|(id, _)| *id));
        Ok(applied)
    }

    /// The report, once the run is over. A run stopped by the API (a
    /// refused token, an unknown store: [`Error::is_api`]) first releases
    /// the rows it had not settled ([`retry::release`]), then returns the
    /// error.
    pub(super) fn finish(self, outcome: Result<()>) -> Result<Report> {
        match outcome {
            Ok(()) => Ok(self.report),
            Err(err) if err.is_api() => {
                let unsettled = self
                    .taken
                    .iter()
                    .copied()
                    .filter(|id| !self.settled.contains(id));
                let changes = retry::release(unsettled);
                if !changes.is_empty() {
                    self.store.apply(&changes, self.claim, crate::time::now())?;
                }
                Err(err)
            }
            Err(e) => Err(e),
        }
    }
}
