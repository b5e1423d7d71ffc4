//! What a step tells the conveyor, built from the changes it committed.

use crate::fasthash::{HashMap, HashSet};
use crate::model::State;
use crate::queue::{Applied, Change};

/// What happened in a step, for the conveyor (`sent`, `succeeded`,
/// `failed`, `pending`, `errors`): row ids, and messages for `errors`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Rows accepted by the API (now `sent`).
    pub sent: Vec<i64>,
    /// Rows settled `done`.
    pub succeeded: Vec<i64>,
    /// Rows that reached `failed` in this step (each listed once).
    pub failed: Vec<i64>,
    /// Rows put back to wait (pending again, or sent rows deferred).
    pub pending: Vec<i64>,
    /// What went wrong, one line each (never the token).
    pub errors: Vec<String>,
}

impl Report {
    /// Says so in `errors` when rows of a claimed commit did not change:
    /// their lease ended and another run took them (a clock step, a run
    /// slower than `LEASE_TIME`), so this run's answers for them were not
    /// recorded; the run that holds them now settles them. While a claim
    /// is held, a row's change always appears in `applied`: the count is
    /// exact.
    pub(super) fn note_taken_over(&mut self, changes: &[(i64, Change)], applied: &[Applied]) {
        let changed: HashSet<i64> = applied.iter().map(|a| a.id).collect();
        let mut seen = HashSet::default();
        let lost: Vec<String> = changes
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !changed.contains(id) && seen.insert(*id))
            .map(|id| id.to_string())
            .collect();
        if !lost.is_empty() {
            self.errors.push(format!(
                "{} row(s) were taken over by another run (their lease ended): this run's \
                 answers for them were not recorded (rows {})",
                lost.len(),
                lost.join(", ")
            ));
        }
    }

    /// Adds the rows of one commit to the report, by their new state and
    /// the change that led there. A released row is in no list; a deferred
    /// sent row counts as pending (it waits).
    pub(super) fn record(&mut self, changes: &[(i64, Change)], applied: &[Applied]) {
        let states = last_states(applied);
        // Ids already listed (a report grows over a step's commits: a linear
        // `contains` per row would make a large step quadratic).
        let mut listed: HashSet<i64> = self
            .sent
            .iter()
            .chain(&self.succeeded)
            .chain(&self.failed)
            .chain(&self.pending)
            .copied()
            .collect();
        for (id, change) in last_changes(changes) {
            let Some(state) = states.get(&id) else {
                continue;
            };
            let list = match (state, change) {
                (State::Failed, _) => Some(&mut self.failed),
                // Done, or superseded by a newer snapshot of the same order.
                (State::Done, _) => Some(&mut self.succeeded),
                (_, Change::Release) => None,
                (State::Pending, _) => Some(&mut self.pending),
                (State::Sent, Change::Sent { .. }) => Some(&mut self.sent),
                (State::Sent, Change::Defer { .. }) => Some(&mut self.pending),
                (State::Sent, _) => None,
            };
            if let Some(list) = list {
                if !listed.contains(&id) || !list.contains(&id) {
                    listed.insert(id);
                    list.push(id);
                }
            }
        }
    }
}

/// The last change of each row that moves it (not a recording such as
/// `SetTicket`), rows in the order they first appear.
fn last_changes(changes: &[(i64, Change)]) -> Vec<(i64, &Change)> {
    let mut last: Vec<(i64, &Change)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::default();
    for (id, change) in changes {
        if matches!(change, Change::SetTicket(_) | Change::SetOperation(_)) {
            continue;
        }
        match index.get(id) {
            Some(&i) => last[i].1 = change,
            None => {
                index.insert(*id, last.len());
                last.push((*id, change));
            }
        }
    }
    last
}

/// The state of each changed row after the last change that named it.
pub(super) fn last_states(applied: &[Applied]) -> HashMap<i64, State> {
    applied.iter().map(|a| (a.id, a.state)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_claimed_commit_that_did_not_change_are_reported_once() {
        let changes = vec![
            (1, Change::SetTicket("t1".into())),
            (1, Change::Done { message: None }),
            (2, Change::Done { message: None }),
            (3, Change::Release),
        ];
        let applied = vec![
            Applied {
                id: 1,
                state: State::Done,
            },
            Applied {
                id: 3,
                state: State::Sent,
            },
        ];
        let mut report = Report::default();
        report.note_taken_over(&changes, &applied);
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        assert!(report.errors[0].starts_with("1 row(s) were taken over"));
        assert!(report.errors[0].ends_with("(rows 2)"));

        let mut quiet = Report::default();
        quiet.note_taken_over(&changes[..2], &applied);
        assert!(quiet.errors.is_empty(), "every row changed: nothing to say");
    }
}
