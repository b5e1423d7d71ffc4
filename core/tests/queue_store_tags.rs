//! Rows tagged with their Shopping Feed store (`upsert_pending_in`,
//! `claim_in`), and `Change::Wait` (a ship held back for its tracking
//! number). Each test runs on every store (`sqlite::` and `mysql::`, see
//! queue_support).

#[macro_use]
mod queue_support;

use queue_support::*;
use sfsync_core::model::State;
use sfsync_core::queue::{Applied, Change, QueueStore};

fn save_in(store: &dyn QueueStore, store_id: i64, id_order: i64, now: i64) -> i64 {
    store
        .upsert_pending_in(store_id, SHOP, id_order, SYNC, &snap(4), now, now)
        .expect("upsert")
}

fn claim_for(store: &dyn QueueStore, sf_store: Option<i64>, now: i64, token: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = store
        .claim_in(sf_store, SHOP, SYNC, 1000, now, now + 300, token, None)
        .expect("claim")
        .iter()
        .map(|r| r.id)
        .collect();
    ids.sort_unstable();
    ids
}

fn a_claim_for_one_store_takes_its_rows_and_untagged_ones(kind: Kind) {
    let store = fresh(kind);
    let of_7 = save_in(&*store, 7, 1, T0);
    let of_8 = save_in(&*store, 8, 2, T0);
    let untagged = save_in(&*store, 0, 3, T0);
    assert_eq!(row(&*store, of_7).store_id, 7);
    assert_eq!(row(&*store, untagged).store_id, 0);
    assert_eq!(
        claim_for(&*store, Some(7), T0, "token-of-7"),
        vec![of_7, untagged]
    );
    // Store 8's token finds only its own row; the others are leased.
    assert_eq!(claim_for(&*store, Some(8), T0, "token-of-8"), vec![of_8]);
    // Real-time mode: the one row, and only when it is of that store.
    let rt = save_in(&*store, 8, 4, T0);
    let only = |sf: i64| {
        store
            .claim_in(Some(sf), SHOP, SYNC, 1, T0, T0 + 300, "rt", Some(rt))
            .expect("claim")
            .len()
    };
    assert_eq!(only(7), 0, "a row of store 8 is never claimed for store 7");
    assert_eq!(only(8), 1);
}

fn a_claim_for_no_store_takes_every_row(kind: Kind) {
    let store = fresh(kind);
    let a = save_in(&*store, 7, 1, T0);
    let b = save_in(&*store, 8, 2, T0);
    assert_eq!(claim_all(&*store, SYNC, T0, "any"), vec![a, b]);
}

fn a_save_without_a_store_keeps_the_rows_tag(kind: Kind) {
    let store = fresh(kind);
    let a = save_in(&*store, 7, 1, T0);
    // The legacy hook (no store known) saves the same order again.
    let b = save_in(&*store, 0, 1, T0 + 1);
    assert_eq!(a, b, "latest wins in the same row");
    assert_eq!(row(&*store, a).store_id, 7);
    // A save naming another store moves it there (the order's token changed).
    save_in(&*store, 9, 1, T0 + 2);
    assert_eq!(row(&*store, a).store_id, 9);
    assert!(claim_for(&*store, Some(7), T0 + 2, "seven").is_empty());
    assert_eq!(claim_for(&*store, Some(9), T0 + 2, "nine"), vec![a]);
}

fn moving_a_queue_keeps_the_tags(kind: Kind) {
    let from = fresh(kind);
    let to = fresh(Kind::Sqlite);
    save_in(&*from, 7, 1, T0);
    save_in(&*from, 0, 2, T0);
    let rows = from.page(0, 100).expect("page");
    assert_eq!(to.import(&rows).expect("import"), 2);
    let mut tags: Vec<(i64, i64)> = to
        .page(0, 100)
        .expect("page")
        .iter()
        .map(|r| (r.id_order, r.store_id))
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, vec![(1, 7), (2, 0)]);
}

fn wait_holds_the_row_back_without_an_attempt(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    claim_all(&*store, SYNC, T0, "run");
    let out = apply1(
        &*store,
        a,
        Change::Wait {
            due_at: T0 + 4 * 3600,
            message: "waiting for a tracking number".into(),
        },
        Some("run"),
        T0 + 1,
    );
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Pending
        }]
    );
    let r = row(&*store, a);
    assert_eq!((r.state, r.action.as_str()), (State::Pending, SYNC));
    assert_eq!((r.attempts, r.failures), (0, 0), "waiting costs no attempt");
    assert_eq!(r.update_at, T0 + 4 * 3600);
    assert_eq!(
        r.last_error.as_deref(),
        Some("waiting for a tracking number")
    );
    // Released, and not due before its time.
    assert!(claim_all(&*store, SYNC, T0 + 3600, "early").is_empty());
    assert_eq!(claim_all(&*store, SYNC, T0 + 4 * 3600, "then"), vec![a]);
}

fn a_newer_save_supersedes_a_row_sent_back_to_wait(kind: Kind) {
    let store = fresh(kind);
    let old = save(&*store, 5, T0, T0);
    claim_all(&*store, SYNC, T0, "run");
    // The tracking number is typed while the run holds the row.
    let newer = store
        .upsert_pending(SHOP, 5, SYNC, &snap(4), T0 + 1, T0 + 1)
        .unwrap();
    assert_ne!(old, newer);
    let out = apply1(
        &*store,
        old,
        Change::Wait {
            due_at: T0 + 3600,
            message: "waiting".into(),
        },
        Some("run"),
        T0 + 2,
    );
    assert_eq!(out[0].state, State::Done);
    assert_eq!(claim_all(&*store, SYNC, T0 + 2, "next"), vec![newer]);
}

store_tests! {
    a_claim_for_one_store_takes_its_rows_and_untagged_ones,
    a_claim_for_no_store_takes_every_row,
    a_save_without_a_store_keeps_the_rows_tag,
    moving_a_queue_keeps_the_tags,
    wait_holds_the_row_back_without_an_attempt,
    a_newer_save_supersedes_a_row_sent_back_to_wait,
}
