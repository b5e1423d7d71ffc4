//! Clock steps (issue 8, defect 9): the claim against leases and due times
//! written while the clock ran ahead, and the commit of a run whose lease
//! was taken over. Every `now` is explicit: no real clock changes (the
//! MySQL store runs on the caller's clock here; the server's clock, and web
//! servers whose clocks differ: queue_mysql.rs). Each test runs on every
//! store (`sqlite::` and `mysql::`, see queue_support), but the SQLite
//! claim's query plan.

#[macro_use]
mod queue_support;

use queue_support::*;
use serde_json::{json, Map, Value};
use sfsync_core::model::State;
use sfsync_core::queue::sqlite::{
    CLAIM_SQL, CLOCK_MARGIN_SECS, MAX_DUE_AHEAD_SECS, MAX_LEASE_AHEAD_SECS,
};
use sfsync_core::queue::{Change, QueueStore};
use sfsync_core::settings;

const DAY: i64 = 86_400;
const LEASE: i64 = 300;

fn claim(store: &dyn QueueStore, now: i64, token: &str) -> Vec<i64> {
    store
        .claim(SHOP, SYNC, 100, now, now + LEASE, token, None)
        .expect("claim")
        .iter()
        .map(|r| r.id)
        .collect()
}

fn settings_of(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn the_bounds_cover_every_setting() {
    // The largest lease and time shift the settings accept, and the first
    // they refuse: the bounds must hold the first, and be no larger than
    // needed.
    let lease = settings::lease_time(&settings_of(&[(settings::LEASE_TIME, json!(86_400))]));
    assert_eq!(lease.unwrap(), 86_400);
    assert!(settings::lease_time(&settings_of(&[(settings::LEASE_TIME, json!(86_401))])).is_err());
    assert_eq!(MAX_LEASE_AHEAD_SECS, 86_400 + CLOCK_MARGIN_SECS);

    let shift =
        settings::time_shift_minutes(&settings_of(&[(settings::TIME_SHIFT, json!(10_080))]));
    assert_eq!(shift.unwrap(), 10_080);
    assert!(
        settings::time_shift_minutes(&settings_of(&[(settings::TIME_SHIFT, json!(10_081))]))
            .is_err()
    );
    let longest_due = (10_080 * 60).max(sfsync_core::retry::MAX_RETRY_DELAY_SECS);
    assert_eq!(MAX_DUE_AHEAD_SECS, longest_due + CLOCK_MARGIN_SECS);
}

fn a_lease_taken_a_day_ahead_is_claimable_at_the_corrected_time(kind: Kind) {
    let store = fresh(kind);
    let id = save(&*store, 1, T0, T0);
    // The clock runs a day ahead: a run leases the row until T0 + DAY + LEASE.
    assert_eq!(claim(&*store, T0 + DAY, "ahead"), vec![id]);
    assert_eq!(store.lease_of(id).1, Some(T0 + DAY + LEASE));
    // Corrected: the lease is beyond any LEASE_TIME from now, so it is over.
    assert_eq!(claim(&*store, T0, "corrected"), vec![id]);
    assert_eq!(
        store.lease_of(id),
        (Some("corrected".to_string()), Some(T0 + LEASE))
    );
}

fn a_lease_within_the_bounds_is_still_exclusive(kind: Kind) {
    let store = fresh(kind);
    let id = save(&*store, 1, T0, T0);
    assert_eq!(claim(&*store, T0, "first"), vec![id]);
    assert!(claim(&*store, T0 + LEASE - 1, "second").is_empty());
    // A lease as long as the settings allow, seen from its start (and a
    // clock a margin behind): still held.
    let store2 = fresh(kind);
    let id2 = save(&*store2, 1, T0, T0);
    let got = store2
        .claim(SHOP, SYNC, 100, T0, T0 + 86_400, "longest", None)
        .unwrap();
    assert_eq!(got.len(), 1);
    assert!(claim(&*store2, T0, "second").is_empty());
    assert!(claim(&*store2, T0 - CLOCK_MARGIN_SECS, "behind").is_empty());
    assert!(claim(&*store2, T0 + 86_400 - 1, "late").is_empty());
    assert_eq!(claim(&*store2, T0 + 86_401, "after"), vec![id2]);
    // Real-time mode (one row) obeys the same rule.
    assert!(store
        .claim(
            SHOP,
            SYNC,
            1,
            T0 + LEASE - 1,
            T0 + 2 * LEASE,
            "rt",
            Some(id)
        )
        .unwrap()
        .is_empty());
}

fn a_row_saved_far_ahead_is_due_at_the_corrected_time(kind: Kind) {
    let store = fresh(kind);
    // Saved while the clock ran 8 days ahead (beyond the longest TIME_SHIFT,
    // 7 days), with a shipped state's shift.
    let ahead = T0 + 8 * DAY;
    let id = save(&*store, 1, ahead + 300, ahead);
    let normal = save(&*store, 2, T0 - 10, T0 - 10);
    // Corrected: due, after the rows really due.
    let got = store
        .claim(SHOP, SYNC, 100, T0, T0 + LEASE, "corrected", None)
        .unwrap();
    let ids: Vec<i64> = got.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![normal, id]);
    // The limit counts both kinds, the really due first.
    let store2 = fresh(kind);
    let far = save(&*store2, 1, ahead, ahead);
    let due = save(&*store2, 2, T0, T0);
    let one = store2
        .claim(SHOP, SYNC, 1, T0, T0 + LEASE, "one", None)
        .unwrap();
    assert_eq!(one.iter().map(|r| r.id).collect::<Vec<_>>(), vec![due]);
    assert_eq!(claim(&*store2, T0, "next"), vec![far]);
    // Real-time mode claims it too.
    let store3 = fresh(kind);
    let rt = save(&*store3, 1, ahead, ahead);
    let got = store3
        .claim(SHOP, SYNC, 1, T0, T0 + LEASE, "rt", Some(rt))
        .unwrap();
    assert_eq!(got.len(), 1);
}

fn a_retry_due_far_ahead_is_due_at_the_corrected_time(kind: Kind) {
    let store = fresh(kind);
    let id = save(&*store, 1, T0, T0);
    let ahead = T0 + 8 * DAY;
    assert_eq!(claim(&*store, ahead, "ahead"), vec![id]);
    apply1(
        &*store,
        id,
        retry(ahead + 60, false, 5),
        Some("ahead"),
        ahead,
    );
    assert_eq!(row(&*store, id).update_at, ahead + 60);
    assert_eq!(claim(&*store, T0, "corrected"), vec![id]);
}

fn a_due_time_within_the_bounds_still_waits(kind: Kind) {
    let store = fresh(kind);
    // The longest TIME_SHIFT (7 days) and the retry cap are believed.
    let shifted = save(&*store, 1, T0 + 10_080 * 60, T0);
    let id = save(&*store, 2, T0, T0);
    assert_eq!(claim(&*store, T0, "run"), vec![id]);
    apply1(&*store, id, retry(T0 + 3600, false, 5), Some("run"), T0);
    assert!(claim(&*store, T0, "early").is_empty());
    assert!(claim(&*store, T0 + 3599, "early").is_empty());
    assert_eq!(claim(&*store, T0 + 3600, "retry"), vec![id]);
    apply1(
        &*store,
        id,
        Change::Done { message: None },
        Some("retry"),
        T0 + 3600,
    );
    assert!(claim(&*store, T0 + 10_080 * 60 - 1, "early").is_empty());
    assert_eq!(claim(&*store, T0 + 10_080 * 60, "shift"), vec![shifted]);
    // What the bounds cannot tell: a row saved a day ahead (within the
    // longest TIME_SHIFT) waits that day.
    let store2 = fresh(kind);
    let day = save(&*store2, 1, T0 + DAY, T0 + DAY);
    assert!(claim(&*store2, T0, "corrected").is_empty());
    assert_eq!(claim(&*store2, T0 + DAY, "later"), vec![day]);
}

fn a_run_whose_lease_was_taken_over_changes_nothing(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    let b = save(&*store, 2, T0, T0);
    // Run A claims, then waits on the API while the clock steps forward by
    // more than the lease; run B claims the same rows and settles them.
    assert_eq!(claim(&*store, T0, "A"), vec![a, b]);
    let stepped = T0 + LEASE + 1000;
    assert_eq!(claim(&*store, stepped, "B"), vec![a, b]);
    let applied_b = store
        .apply(
            &[
                (
                    a,
                    Change::Sent {
                        batch_id: "batch-B".into(),
                    },
                ),
                (b, Change::Release),
            ],
            Some("B"),
            stepped,
        )
        .unwrap();
    assert_eq!(applied_b.len(), 2);
    // Run A's answers come back: nothing of them is recorded, and the list
    // it gets back lacks both rows (the engine can report the take-over).
    let applied_a = store
        .apply(
            &[
                (
                    a,
                    Change::Sent {
                        batch_id: "batch-A".into(),
                    },
                ),
                (b, retry(stepped + 60, true, 1)),
                (a, Change::Done { message: None }),
            ],
            Some("A"),
            stepped + 1,
        )
        .unwrap();
    assert!(applied_a.is_empty(), "{applied_a:?}");
    let ra = row(&*store, a);
    assert_eq!(ra.state, State::Sent);
    assert_eq!(ra.batch_id.as_deref(), Some("batch-B"));
    assert_eq!(ra.date_upd, stepped);
    let rb = row(&*store, b);
    assert_eq!(rb.state, State::Pending);
    assert_eq!((rb.attempts, rb.failures), (0, 0));
    assert_eq!(store.lease_of(b), (None, None));
    // A row still leased to B: A's change is skipped while B's lease holds.
    assert_eq!(claim(&*store, stepped + 2, "B2"), vec![b]);
    let applied_a = store
        .apply(&[(b, Change::Release)], Some("A"), stepped + 3)
        .unwrap();
    assert!(applied_a.is_empty());
    assert_eq!(store.lease_of(b).0.as_deref(), Some("B2"));
}

/// SQLite only: the query plan of its claim statement.
#[test]
fn the_claim_is_two_range_scans_of_the_claim_index() {
    let store = fresh(Kind::Sqlite);
    let Place::Sqlite(path) = &store.place else {
        unreachable!()
    };
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {CLAIM_SQL}"))
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map(
            rusqlite::params_from_iter(std::iter::repeat_n(rusqlite::types::Null, 9)),
            |r| r.get::<_, String>(3),
        )
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let text = plan.join(" | ");
    let ranges: Vec<&String> = plan
        .iter()
        .filter(|l| l.contains("USING INDEX shoppingfeed_order_claim"))
        .collect();
    assert_eq!(ranges.len(), 2, "{text}");
    assert!(
        ranges[0].contains("update_at<?") && ranges[1].contains("update_at>?"),
        "{text}"
    );
    assert!(
        !text.contains("SCAN shoppingfeed_order"),
        "no full scan: {text}"
    );
    eprintln!("{}", plan.join("\n"));
}

store_tests! {
    a_lease_taken_a_day_ahead_is_claimable_at_the_corrected_time,
    a_lease_within_the_bounds_is_still_exclusive,
    a_row_saved_far_ahead_is_due_at_the_corrected_time,
    a_retry_due_far_ahead_is_due_at_the_corrected_time,
    a_due_time_within_the_bounds_still_waits,
    a_run_whose_lease_was_taken_over_changes_nothing,
}
