//! The queue stores against the `QueueStore` contract: saves, claims,
//! inspection (counts, retry_failed, purge, find/get), damaged rows, and
//! many processes at once. Each test runs on every store (`sqlite::` and
//! `mysql::`, see queue_support). Changes: queue_store_changes.rs; clock
//! steps: queue_store_clock.rs; the SQLite file, schema and migrations:
//! queue_sqlite_schema.rs, queue_sqlite_migrations.rs; what only the MySQL
//! store has: queue_mysql.rs.

#[macro_use]
mod queue_support;

use queue_support::*;
use serde_json::json;
use serde_json::Value;
use sfsync_core::model::State;
use sfsync_core::queue::{Applied, Change, MysqlStore, SqliteStore};
use sfsync_core::Error;
use std::collections::HashSet;
use std::sync::{Arc, Barrier};

#[test]
fn stores_are_send() {
    fn send<T: Send>() {}
    send::<SqliteStore>();
    send::<MysqlStore>();
}

fn upsert_inserts_then_replaces_the_pending_snapshot(kind: Kind) {
    let store = fresh(kind);
    let id = store
        .upsert_pending(SHOP, 12, SYNC, &snap(3), T0 + 300, T0)
        .unwrap();
    let r = row(&*store, id);
    assert_eq!(r.state, State::Pending);
    assert_eq!((r.id_order, r.id_shop, r.action.as_str()), (12, SHOP, SYNC));
    assert_eq!((r.attempts, r.failures), (0, 0));
    assert_eq!((r.update_at, r.date_add, r.date_upd), (T0 + 300, T0, T0));
    assert_eq!(r.payload, snap(3));
    assert_eq!(r.operation, None);
    assert_eq!((r.batch_id, r.ticket_id, r.last_error), (None, None, None));

    let again = store
        .upsert_pending(SHOP, 12, SYNC, &snap(5), T0 + 10, T0 + 10)
        .unwrap();
    assert_eq!(again, id, "same row");
    let r = row(&*store, id);
    assert_eq!(r.payload, snap(5), "latest snapshot wins");
    assert_eq!(
        (r.update_at, r.date_add, r.date_upd),
        (T0 + 10, T0, T0 + 10)
    );
    assert_eq!(store.find(12).unwrap().len(), 1);

    // Another shop, order or action is another row.
    let other_shop = store.upsert_pending(2, 12, SYNC, &snap(5), T0, T0).unwrap();
    let other_order = store
        .upsert_pending(SHOP, 13, SYNC, &snap(5), T0, T0)
        .unwrap();
    let other_action = store
        .upsert_pending(SHOP, 12, "SYNC_CARRIER", &snap(5), T0, T0)
        .unwrap();
    let ids: HashSet<i64> = [id, other_shop, other_order, other_action].into();
    assert_eq!(ids.len(), 4);
}

fn upsert_while_claimed_inserts_a_second_row(kind: Kind) {
    let store = fresh(kind);
    let first = save(&*store, 12, T0, T0);
    assert_eq!(claim_all(&*store, SYNC, T0, "run-a"), vec![first]);
    let second = store
        .upsert_pending(SHOP, 12, SYNC, &snap(6), T0 + 1, T0 + 1)
        .unwrap();
    assert_ne!(second, first);
    let rows = store.find(12).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![first, second]
    );
    assert_eq!(
        row(&*store, first).payload,
        snap(4),
        "the claimed snapshot is untouched"
    );
    // A third save goes to the unclaimed second row.
    assert_eq!(
        store
            .upsert_pending(SHOP, 12, SYNC, &snap(7), T0 + 2, T0 + 2)
            .unwrap(),
        second
    );
    assert_eq!(row(&*store, second).payload, snap(7));
    // Not a pending row (sent, done, failed): a new row too.
    apply1(
        &*store,
        first,
        Change::Sent {
            batch_id: "b1".into(),
        },
        Some("run-a"),
        T0 + 3,
    );
    assert_eq!(store.find(12).unwrap().len(), 2);
}

fn claim_takes_due_rows_oldest_first_up_to_the_limit(kind: Kind) {
    let store = fresh(kind);
    let late = save(&*store, 1, T0 + 50, T0);
    let a = save(&*store, 2, T0 + 10, T0);
    let b = save(&*store, 3, T0 + 10, T0);
    let c = save(&*store, 4, T0 + 5, T0);
    let future = save(&*store, 5, T0 + 1000, T0);
    store.upsert_pending(2, 6, SYNC, &snap(4), T0, T0).unwrap(); // another shop
    store
        .upsert_pending(SHOP, 7, "SYNC_CARRIER", &snap(4), T0, T0)
        .unwrap(); // another action

    assert!(store
        .claim(SHOP, SYNC, 10, T0 + 4, T0 + 400, "x", None)
        .unwrap()
        .is_empty());
    let rows = store
        .claim(SHOP, SYNC, 3, T0 + 100, T0 + 10_000, "run-1", None)
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![c, a, b]);
    assert!(rows.iter().all(|r| r.payload == snap(4)));
    let rows = store
        .claim(SHOP, SYNC, 3, T0 + 100, T0 + 10_000, "run-2", None)
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![late]);
    assert!(store
        .claim(SHOP, SYNC, 3, T0 + 100, T0 + 10_000, "run-3", None)
        .unwrap()
        .is_empty());
    assert!(store
        .claim(SHOP, SYNC, 0, T0 + 2000, T0 + 2400, "run-4", None)
        .unwrap()
        .is_empty());
    let rows = store
        .claim(SHOP, SYNC, 3, T0 + 1000, T0 + 1400, "run-5", None)
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![future]);
}

fn claim_only_one_row(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    let b = save(&*store, 2, T0, T0);
    let not_due = save(&*store, 3, T0 + 60, T0);
    let rows = store
        .claim(SHOP, SYNC, 100, T0, T0 + 300, "rt", Some(b))
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b]);
    assert!(store
        .claim(SHOP, SYNC, 100, T0, T0 + 300, "rt2", Some(b))
        .unwrap()
        .is_empty());
    assert!(store
        .claim(SHOP, SYNC, 100, T0, T0 + 300, "rt", Some(not_due))
        .unwrap()
        .is_empty());
    assert!(
        store
            .claim(2, SYNC, 100, T0, T0 + 300, "rt", Some(a))
            .unwrap()
            .is_empty(),
        "wrong shop"
    );
    assert!(
        store
            .claim(SHOP, CHECK, 100, T0, T0 + 300, "rt", Some(a))
            .unwrap()
            .is_empty(),
        "wrong action"
    );
    assert_eq!(claim_all(&*store, SYNC, T0, "cron"), vec![a]);
}

fn leases_are_exclusive_until_they_end(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    let rows = store
        .claim(SHOP, SYNC, 10, T0, T0 + 300, "run-1", None)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(store
        .claim(SHOP, SYNC, 10, T0 + 1, T0 + 301, "run-2", None)
        .unwrap()
        .is_empty());
    assert!(
        store
            .claim(SHOP, SYNC, 10, T0 + 300, T0 + 600, "run-2", None)
            .unwrap()
            .is_empty(),
        "lease still live at its last second"
    );
    let rows = store
        .claim(SHOP, SYNC, 10, T0 + 301, T0 + 601, "run-2", None)
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![a],
        "expired lease: taken over"
    );
    // The first run's changes no longer apply.
    assert!(apply1(
        &*store,
        a,
        Change::Done { message: None },
        Some("run-1"),
        T0 + 302
    )
    .is_empty());
    assert_eq!(row(&*store, a).state, State::Pending);
    let done = apply1(
        &*store,
        a,
        Change::Done { message: None },
        Some("run-2"),
        T0 + 302,
    );
    assert_eq!(
        done,
        vec![Applied {
            id: a,
            state: State::Done
        }]
    );
}

fn concurrent_claims_never_share_a_row(kind: Kind) {
    let store = fresh(kind);
    let mut all = HashSet::new();
    for order in 1..=600 {
        all.insert(save(&*store, order, T0 + order % 7, T0));
    }
    let threads = 3;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let place = store.place.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let store = place.open();
                let token = format!("run-{t}");
                let mut mine = Vec::new();
                barrier.wait();
                loop {
                    let rows = store
                        .claim(SHOP, SYNC, 7, T0 + 10, T0 + 300, &token, None)
                        .expect("claim never fails with 'database is locked'");
                    if rows.is_empty() {
                        break;
                    }
                    // Settle half of them at once, as a run would.
                    let changes: Vec<_> = rows
                        .iter()
                        .filter(|r| r.id % 2 == 0)
                        .map(|r| (r.id, Change::Done { message: None }))
                        .collect();
                    store.apply(&changes, Some(&token), T0 + 10).expect("apply");
                    mine.extend(rows.iter().map(|r| r.id));
                }
                mine
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for h in handles {
        let mine = h.join().expect("thread");
        total += mine.len();
        seen.extend(mine);
    }
    assert_eq!(total, all.len(), "no row claimed twice");
    assert_eq!(seen, all, "every row claimed once");
}

fn counts_cover_every_action_of_a_shop(kind: Kind) {
    let store = fresh(kind);
    assert_eq!(store.counts(SHOP).unwrap(), [0, 0, 0, 0]);
    let a = save(&*store, 1, T0, T0);
    let b = save(&*store, 2, T0, T0);
    let c = save(&*store, 3, T0, T0);
    save(&*store, 4, T0, T0);
    store
        .upsert_pending(SHOP, 5, "SYNC_CARRIER", &snap(4), T0, T0)
        .unwrap();
    store.upsert_pending(2, 5, SYNC, &snap(4), T0, T0).unwrap();
    store
        .apply(
            &[
                (
                    a,
                    Change::Sent {
                        batch_id: "x".into(),
                    },
                ),
                (b, Change::Done { message: None }),
                (
                    c,
                    Change::Failed {
                        message: "no".into(),
                    },
                ),
            ],
            None,
            T0,
        )
        .unwrap();
    assert_eq!(store.counts(SHOP).unwrap(), [2, 1, 1, 1]);
    assert_eq!(store.counts(2).unwrap(), [1, 0, 0, 0]);
    assert_eq!(store.counts(3).unwrap(), [0, 0, 0, 0]);
}

fn retry_failed_puts_rows_back_to_pending(kind: Kind) {
    let store = fresh(kind);
    let a = fail(&*store, 1, false);
    let b = fail(&*store, 2, true);
    let c = fail(&*store, 3, false);
    let other_shop = store.upsert_pending(2, 9, SYNC, &snap(4), T0, T0).unwrap();
    apply1(
        &*store,
        other_shop,
        Change::Failed {
            message: "x".into(),
        },
        None,
        T0,
    );
    let pending = save(&*store, 4, T0, T0);

    assert_eq!(store.retry_failed(SHOP, Some(&[]), T0 + 10).unwrap(), 0);
    assert_eq!(
        store
            .retry_failed(SHOP, Some(&[2, 3, 4, 99]), T0 + 10)
            .unwrap(),
        2
    );
    for id in [b, c] {
        let r = row(&*store, id);
        assert_eq!(
            (r.state, r.action.as_str(), r.attempts, r.failures),
            (State::Pending, SYNC, 0, 0)
        );
        assert_eq!((r.update_at, r.date_upd), (T0 + 10, T0 + 10));
        assert_eq!(
            r.last_error.as_deref(),
            Some("boom"),
            "last_error kept for the merchant"
        );
    }
    assert_eq!(row(&*store, a).state, State::Failed);
    assert_eq!(row(&*store, pending).attempts, 0);
    assert_eq!(store.retry_failed(SHOP, None, T0 + 20).unwrap(), 1);
    assert_eq!(row(&*store, a).state, State::Pending);
    assert_eq!(store.retry_failed(SHOP, None, T0 + 20).unwrap(), 0);
    assert_eq!(
        row(&*store, other_shop).state,
        State::Failed,
        "other shops untouched"
    );
    assert_eq!(store.counts(SHOP).unwrap(), [4, 0, 0, 0]);
    let mut due = claim_all(&*store, SYNC, T0 + 20, "run");
    due.sort();
    assert_eq!(due, vec![a, b, c, pending]);
}

fn retry_failed_clears_a_stale_lease(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    apply1(
        &*store,
        a,
        Change::Failed {
            message: "x".into(),
        },
        None,
        T0,
    );
    // A failed row that still carries a lease (written by another tool).
    let changed = store.raw_exec(&format!(
        "UPDATE {{table}} SET locked_by = 'ghost', locked_until = {}",
        T0 + 10_000
    ));
    assert_eq!(changed, 1);
    assert_eq!(store.retry_failed(SHOP, Some(&[1]), T0 + 1).unwrap(), 1);
    assert_eq!(claim_all(&*store, SYNC, T0 + 1, "next"), vec![a]);
}

fn purge_done_deletes_old_done_rows_only(kind: Kind) {
    let store = fresh(kind);
    let old_done = save(&*store, 1, T0, T0);
    apply1(&*store, old_done, Change::Done { message: None }, None, T0);
    let new_done = save(&*store, 2, T0, T0);
    apply1(
        &*store,
        new_done,
        Change::Done { message: None },
        None,
        T0 + 100,
    );
    let old_failed = save(&*store, 3, T0, T0);
    apply1(
        &*store,
        old_failed,
        Change::Failed {
            message: "x".into(),
        },
        None,
        T0,
    );
    let old_pending = save(&*store, 4, T0, T0);
    assert_eq!(store.purge_done(T0 + 50).unwrap(), 1);
    assert!(store.get(&[old_done]).unwrap().is_empty());
    let left: Vec<i64> = store
        .get(&[old_done, new_done, old_failed, old_pending])
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, vec![new_done, old_failed, old_pending]);
    assert_eq!(store.purge_done(T0 + 50).unwrap(), 0);

    // More than one chunk.
    for order in 100..2600 {
        let id = save(&*store, order, T0, T0);
        apply1(&*store, id, Change::Done { message: None }, None, T0);
    }
    assert_eq!(store.purge_done(T0 + 1).unwrap(), 2500);
    assert_eq!(store.counts(SHOP).unwrap(), [1, 0, 1, 1]);
    // Ids are never reused after a purge.
    let next = save(&*store, 5000, T0, T0);
    assert_eq!(next, 2505);
}

fn find_and_get(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 12, T0 + 5, T0 + 5);
    let b = store.upsert_pending(2, 12, SYNC, &snap(4), T0, T0).unwrap();
    claim_all(&*store, SYNC, T0 + 5, "run");
    let c = save(&*store, 12, T0 + 5, T0 + 5);
    save(&*store, 13, T0, T0);
    let ids: Vec<i64> = store.find(12).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        vec![b, a, c],
        "all shops, oldest first (date_add, then id)"
    );
    assert!(store.find(999).unwrap().is_empty());
    let got: Vec<i64> = store
        .get(&[c, a, c, 12345])
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(got, vec![a, c]);
    assert!(store.get(&[]).unwrap().is_empty());
}

fn payload_round_trips_any_json(kind: Kind) {
    let store = fresh(kind);
    let payload = json!({
        "id_internal_shoppingfeed": 9, "reference": "é\"'\\\u{0}", "id_order_state": 4,
        "refund": {"shipping": false, "products": [{"reference": "A", "quantity": 2}]},
        "big": 9_007_199_254_740_993_i64, "float": 1.5, "null": null, "nested": [[[]]]
    });
    let id = store
        .upsert_pending(SHOP, 1, SYNC, &payload, T0, T0)
        .unwrap();
    assert_eq!(row(&*store, id).payload, payload);
}

/// Rough latency of the hot path; run with
/// `cargo test -p shoppingfeed-sync-core --release --test queue_store -- --ignored --nocapture`
/// (with the MySQL server's env for the `mysql::` variant).
fn upsert_latency(kind: Kind) {
    let store = fresh(kind);
    let payload = json!({"id_internal_shoppingfeed": 123456, "id_order_state": 4, "carrier": "UPS",
                         "tracking_number": "1Z999", "tracking_url": "https://t/1Z999"});
    for order in 0..20_000 {
        store
            .upsert_pending(SHOP, order, SYNC, &payload, T0, T0)
            .unwrap();
    }
    let mut times = Vec::new();
    for i in 0..20_000 {
        let start = std::time::Instant::now();
        store
            .upsert_pending(SHOP, i % 40_000 + 10_000, SYNC, &payload, T0, T0)
            .unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "upsert: median {:?}, p99 {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() - 1]
    );
}

fn writers_and_claimers_at_once_never_see_a_locked_database(kind: Kind) {
    let fixture = fresh(kind);
    let orders = 400;
    let barrier = Arc::new(Barrier::new(3));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let place = fixture.place.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let store = place.open();
                barrier.wait();
                for order in 0..orders {
                    // Both writers save every order: the second save of an
                    // unclaimed row replaces its snapshot.
                    store
                        .upsert_pending(SHOP, order, SYNC, &snap(w + 1), T0, T0)
                        .expect("upsert never fails with 'database is locked'");
                }
            })
        })
        .collect();
    let claimer = {
        let place = fixture.place.clone();
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            let store = place.open();
            barrier.wait();
            let mut claimed = Vec::new();
            for _ in 0..200 {
                let rows = store
                    .claim(SHOP, SYNC, 5, T0, T0 + 300, "cron", None)
                    .expect("claim");
                let changes: Vec<_> = rows
                    .iter()
                    .map(|r| (r.id, Change::Done { message: None }))
                    .collect();
                store.apply(&changes, Some("cron"), T0).expect("apply");
                claimed.extend(rows.iter().map(|r| r.id));
            }
            claimed
        })
    };
    for w in writers {
        w.join().expect("writer");
    }
    let claimed = claimer.join().expect("claimer");
    let unique: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "no row claimed twice");
    let store = fixture.reopen();
    let [pending, sent, done, failed] = store.counts(SHOP).unwrap();
    assert_eq!((sent, failed), (0, 0));
    assert_eq!(done as usize, claimed.len());
    // Every order has exactly one row still to send, or none if its last
    // save was claimed; nothing is lost: each order has at least one row.
    for order in 0..orders {
        let rows = store.find(order).unwrap();
        assert!(!rows.is_empty(), "order {order} lost");
        assert!(
            rows.iter().filter(|r| r.state == State::Pending).count() <= 1,
            "order {order}"
        );
    }
    assert!(pending <= orders);
}

fn upsert_refreshes_every_unclaimed_pending_row(kind: Kind) {
    // A failed row sent back by retry_failed while its order has a newer
    // pending row: whichever row is sent next carries the latest snapshot.
    let store = fresh(kind);
    let old = fail(&*store, 12, false);
    let newer = save(&*store, 12, T0, T0 + 1);
    let requeued = store.retry_failed(SHOP, None, T0 + 2).unwrap();
    // Both stores: one unclaimed pending row per (order, shop, action), so
    // the older row is settled done as superseded (apply's rule for a row
    // coming back to pending).
    assert_eq!(requeued, 0);
    let r = row(&*store, old);
    assert_eq!(r.state, State::Done);
    assert_eq!(
        r.last_error,
        Some(format!("superseded by a newer update (row {newer})"))
    );
    let id = store
        .upsert_pending(SHOP, 12, SYNC, &snap(9), T0 + 3, T0 + 3)
        .unwrap();
    assert_eq!(id, newer, "the newest row's id is returned");
    let pending: Vec<_> = store
        .find(12)
        .unwrap()
        .into_iter()
        .filter(|r| r.state == State::Pending)
        .collect();
    assert!(pending.iter().any(|r| r.id == newer));
    for r in pending {
        assert_eq!((r.payload, r.update_at), (snap(9), T0 + 3), "row {}", r.id);
    }
    let claimed = store
        .claim(SHOP, SYNC, 10, T0 + 3, T0 + 300, "run", None)
        .unwrap();
    assert!(!claimed.is_empty());
    assert!(claimed.iter().all(|r| r.payload == snap(9)));
}

fn corrupt_rows_do_not_panic(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    let b = save(&*store, 2, T0, T0);
    // Written past the store (another tool, a hand edit).
    store.raw_exec(&format!(
        "UPDATE {{table}} SET payload = '{{not json', operation = 'teleport' WHERE {{id}} = {a}"
    ));
    store.raw_exec(&format!(
        "UPDATE {{table}} SET state = 'zombie' WHERE {{id}} = {b}"
    ));
    let store2 = store.reopen();
    for store in [&*store.store, &*store2] {
        let r = row(store, a);
        assert_eq!((r.payload, r.operation), (Value::Null, None));
        match store.get(&[b]) {
            Err(Error::Storage(m)) => {
                assert!(m.contains("zombie") && m.contains(&b.to_string()), "{m}")
            }
            other => panic!("expected a storage error, got {other:?}"),
        }
        assert_eq!(
            store.counts(SHOP).unwrap(),
            [1, 0, 0, 0],
            "unknown states are not counted"
        );
    }
}

store_tests! {
    upsert_inserts_then_replaces_the_pending_snapshot,
    upsert_while_claimed_inserts_a_second_row,
    claim_takes_due_rows_oldest_first_up_to_the_limit,
    claim_only_one_row,
    leases_are_exclusive_until_they_end,
    concurrent_claims_never_share_a_row,
    counts_cover_every_action_of_a_shop,
    retry_failed_puts_rows_back_to_pending,
    retry_failed_clears_a_stale_lease,
    purge_done_deletes_old_done_rows_only,
    find_and_get,
    payload_round_trips_any_json,
    #[ignore]
    upsert_latency,
    writers_and_claimers_at_once_never_see_a_locked_database,
    upsert_refreshes_every_unclaimed_pending_row,
    corrupt_rows_do_not_panic,
}
