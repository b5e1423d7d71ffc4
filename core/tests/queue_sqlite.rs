//! The SQLite queue store against the `QueueStore` contract.

use serde_json::{json, Value};
use sfsync_core::model::{Operation, State, ACTION_CHECK_TICKET_SYNC_STATUS, ACTION_SYNC_STATUS};
use sfsync_core::queue::sqlite::Options;
use sfsync_core::queue::{Applied, Change, QueueStore, SqliteStore};
use sfsync_core::Error;
use std::collections::HashSet;
use std::sync::{Arc, Barrier};

const SHOP: i64 = 1;
const T0: i64 = 1_700_000_000;
const SYNC: &str = ACTION_SYNC_STATUS;
const CHECK: &str = ACTION_CHECK_TICKET_SYNC_STATUS;

fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("queue.sqlite");
    let store = SqliteStore::open(path.to_str().expect("utf-8 path")).expect("open");
    (dir, store)
}

fn snap(state: i64) -> Value {
    json!({"id_internal_shoppingfeed": 77, "id_order_state": state, "extra": {"kept": [1, 2]}})
}

fn save(store: &SqliteStore, id_order: i64, due_at: i64, now: i64) -> i64 {
    store
        .upsert_pending(SHOP, id_order, SYNC, &snap(4), due_at, now)
        .expect("upsert")
}

fn row(store: &SqliteStore, id: i64) -> sfsync_core::model::Row {
    let mut rows = store.get(&[id]).expect("get");
    assert_eq!(rows.len(), 1, "row {id} exists");
    rows.remove(0)
}

fn claim_all(store: &SqliteStore, action: &str, now: i64, token: &str) -> Vec<i64> {
    store
        .claim(SHOP, action, 1000, now, now + 300, token, None)
        .expect("claim")
        .iter()
        .map(|r| r.id)
        .collect()
}

fn apply1(
    store: &SqliteStore,
    id: i64,
    change: Change,
    claim: Option<&str>,
    now: i64,
) -> Vec<Applied> {
    store.apply(&[(id, change)], claim, now).expect("apply")
}

fn retry(due_at: i64, order_failure: bool, max_failures: i64) -> Change {
    Change::Retry {
        due_at,
        message: "boom".into(),
        order_failure,
        max_failures,
    }
}

#[test]
fn store_is_send() {
    fn send<T: Send>() {}
    send::<SqliteStore>();
}

#[test]
fn upsert_inserts_then_replaces_the_pending_snapshot() {
    let (_dir, store) = fresh();
    let id = store
        .upsert_pending(SHOP, 12, SYNC, &snap(3), T0 + 300, T0)
        .unwrap();
    let r = row(&store, id);
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
    let r = row(&store, id);
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

#[test]
fn upsert_while_claimed_inserts_a_second_row() {
    let (_dir, store) = fresh();
    let first = save(&store, 12, T0, T0);
    assert_eq!(claim_all(&store, SYNC, T0, "run-a"), vec![first]);
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
        row(&store, first).payload,
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
    assert_eq!(row(&store, second).payload, snap(7));
    // Not a pending row (sent, done, failed): a new row too.
    apply1(
        &store,
        first,
        Change::Sent {
            batch_id: "b1".into(),
        },
        Some("run-a"),
        T0 + 3,
    );
    assert_eq!(store.find(12).unwrap().len(), 2);
}

#[test]
fn claim_takes_due_rows_oldest_first_up_to_the_limit() {
    let (_dir, store) = fresh();
    let late = save(&store, 1, T0 + 50, T0);
    let a = save(&store, 2, T0 + 10, T0);
    let b = save(&store, 3, T0 + 10, T0);
    let c = save(&store, 4, T0 + 5, T0);
    let future = save(&store, 5, T0 + 1000, T0);
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

#[test]
fn claim_only_one_row() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
    let b = save(&store, 2, T0, T0);
    let not_due = save(&store, 3, T0 + 60, T0);
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
    assert_eq!(claim_all(&store, SYNC, T0, "cron"), vec![a]);
}

#[test]
fn leases_are_exclusive_until_they_end() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
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
        &store,
        a,
        Change::Done { message: None },
        Some("run-1"),
        T0 + 302
    )
    .is_empty());
    assert_eq!(row(&store, a).state, State::Pending);
    let done = apply1(
        &store,
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

#[test]
fn concurrent_claims_on_one_file_never_share_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/queue.sqlite");
    let path = path.to_str().unwrap().to_string();
    let store = SqliteStore::open(&path).unwrap();
    let mut all = HashSet::new();
    for order in 1..=600 {
        all.insert(save(&store, order, T0 + order % 7, T0));
    }
    let threads = 3;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&path).expect("open in thread");
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

#[test]
fn concurrent_opens_of_a_fresh_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("new/dir/queue.sqlite")
        .to_str()
        .unwrap()
        .to_string();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let store = SqliteStore::open(&path).expect("open");
                store
                    .upsert_pending(SHOP, i, SYNC, &snap(4), T0, T0)
                    .expect("upsert");
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.counts(SHOP).unwrap(), [4, 0, 0, 0]);
}

#[test]
fn set_operation_and_ticket_keep_the_claim() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
    claim_all(&store, SYNC, T0, "run");
    let out = store
        .apply(
            &[(a, Change::SetOperation(Some(Operation::Ship)))],
            Some("run"),
            T0 + 1,
        )
        .unwrap();
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Pending
        }]
    );
    let r = row(&store, a);
    assert_eq!((r.operation, r.date_upd), (Some(Operation::Ship), T0 + 1));
    // Still claimed by "run": nobody else can take it, and "run" can go on.
    assert!(claim_all(&store, SYNC, T0 + 1, "other").is_empty());
    let out = apply1(
        &store,
        a,
        Change::SetTicket("t-1".into()),
        Some("run"),
        T0 + 2,
    );
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Pending
        }]
    );
    assert_eq!(row(&store, a).ticket_id.as_deref(), Some("t-1"));
    assert!(claim_all(&store, SYNC, T0 + 2, "other").is_empty());
    apply1(&store, a, Change::SetOperation(None), Some("run"), T0 + 3);
    assert_eq!(row(&store, a).operation, None);
}

#[test]
fn sent_then_ticket_then_done() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
    claim_all(&store, SYNC, T0, "send");
    store
        .apply(
            &[
                (a, Change::SetOperation(Some(Operation::Cancel))),
                (
                    a,
                    Change::Sent {
                        batch_id: "batch-9".into(),
                    },
                ),
            ],
            Some("send"),
            T0 + 5,
        )
        .unwrap();
    let r = row(&store, a);
    assert_eq!(
        (r.state, r.action.as_str(), r.batch_id.as_deref()),
        (State::Sent, CHECK, Some("batch-9"))
    );
    assert_eq!((r.update_at, r.date_upd, r.attempts), (T0 + 5, T0 + 5, 0));
    assert_eq!(r.operation, Some(Operation::Cancel));
    assert!(
        claim_all(&store, SYNC, T0 + 100, "send2").is_empty(),
        "no longer a SYNC_STATUS row"
    );

    // Due at once for the check chain, claim released.
    let rows = store
        .claim(SHOP, CHECK, 10, T0 + 5, T0 + 305, "check", None)
        .unwrap();
    assert_eq!(rows.len(), 1);
    let out = store
        .apply(
            &[
                (a, Change::SetTicket("tk-1".into())),
                (
                    a,
                    Change::Done {
                        message: Some("ignored: already performed".into()),
                    },
                ),
            ],
            Some("check"),
            T0 + 6,
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            Applied {
                id: a,
                state: State::Sent
            },
            Applied {
                id: a,
                state: State::Done
            }
        ]
    );
    let r = row(&store, a);
    assert_eq!(r.state, State::Done);
    assert_eq!(r.ticket_id.as_deref(), Some("tk-1"));
    assert_eq!(
        r.batch_id.as_deref(),
        Some("batch-9"),
        "a done row keeps its batch"
    );
    assert_eq!(
        r.operation,
        Some(Operation::Cancel),
        "a done row keeps its operation"
    );
    assert_eq!(r.last_error.as_deref(), Some("ignored: already performed"));
    assert!(store
        .claim(SHOP, CHECK, 10, T0 + 1000, T0 + 1300, "x", None)
        .unwrap()
        .is_empty());
    // Done with None clears last_error.
    apply1(&store, a, Change::Done { message: None }, None, T0 + 7);
    assert_eq!(row(&store, a).last_error, None);
}

#[test]
fn retry_moves_back_with_one_more_attempt() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
    claim_all(&store, SYNC, T0, "send");
    apply1(
        &store,
        a,
        Change::Sent {
            batch_id: "b".into(),
        },
        Some("send"),
        T0 + 1,
    );
    claim_all(&store, CHECK, T0 + 1, "check");
    let out = apply1(&store, a, retry(T0 + 60, false, 5), Some("check"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Pending
        }]
    );
    let r = row(&store, a);
    assert_eq!(
        (r.state, r.action.as_str()),
        (State::Pending, SYNC),
        "back to the base action"
    );
    assert_eq!((r.attempts, r.failures), (1, 0));
    assert_eq!((r.update_at, r.date_upd), (T0 + 60, T0 + 2));
    assert_eq!(r.last_error.as_deref(), Some("boom"));
    assert_eq!(r.id, a, "same row");
    assert!(
        claim_all(&store, SYNC, T0 + 59, "x").is_empty(),
        "not due before the delay"
    );
    assert_eq!(
        claim_all(&store, SYNC, T0 + 60, "x"),
        vec![a],
        "claim released"
    );
}

#[test]
fn order_failures_reach_the_limit() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
    let mut now = T0;
    for n in 1..=3 {
        assert_eq!(claim_all(&store, SYNC, now, "run"), vec![a]);
        let out = apply1(&store, a, retry(now, true, 3), Some("run"), now);
        let expected = if n < 3 { State::Pending } else { State::Failed };
        assert_eq!(
            out,
            vec![Applied {
                id: a,
                state: expected
            }],
            "failure {n}"
        );
        let r = row(&store, a);
        assert_eq!((r.attempts, r.failures, r.state), (n, n, expected));
        now += 1;
    }
    // An outage retry never fails a row, whatever the count.
    let b = save(&store, 2, now, now);
    for _ in 0..10 {
        claim_all(&store, SYNC, now, "run");
        apply1(&store, b, retry(now, false, 1), Some("run"), now);
    }
    let r = row(&store, b);
    assert_eq!((r.state, r.attempts, r.failures), (State::Pending, 10, 0));
    assert!(
        claim_all(&store, SYNC, now + 1000, "z") == vec![b],
        "the failed row is never claimed"
    );
}

#[test]
fn defer_keeps_state_and_action() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
    claim_all(&store, SYNC, T0, "send");
    apply1(
        &store,
        a,
        Change::Sent {
            batch_id: "b".into(),
        },
        Some("send"),
        T0,
    );
    claim_all(&store, CHECK, T0, "check");
    let out = apply1(
        &store,
        a,
        Change::Defer {
            due_at: T0 + 90,
            message: "timeout".into(),
        },
        Some("check"),
        T0 + 1,
    );
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Sent
        }]
    );
    let r = row(&store, a);
    assert_eq!(
        (r.state, r.action.as_str(), r.batch_id.as_deref()),
        (State::Sent, CHECK, Some("b"))
    );
    assert_eq!((r.attempts, r.failures, r.update_at), (1, 0, T0 + 90));
    assert_eq!(r.last_error.as_deref(), Some("timeout"));
    assert!(claim_all(&store, CHECK, T0 + 89, "x").is_empty());
    assert_eq!(claim_all(&store, CHECK, T0 + 90, "x"), vec![a]);
}

#[test]
fn failed_and_release() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
    let b = save(&store, 2, T0, T0);
    claim_all(&store, SYNC, T0, "run");
    let out = store
        .apply(
            &[
                (
                    a,
                    Change::Failed {
                        message: "rejected".into(),
                    },
                ),
                (b, Change::Release),
            ],
            Some("run"),
            T0 + 1,
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            Applied {
                id: a,
                state: State::Failed
            },
            Applied {
                id: b,
                state: State::Pending
            }
        ]
    );
    let ra = row(&store, a);
    assert_eq!(
        (ra.state, ra.last_error.as_deref(), ra.attempts),
        (State::Failed, Some("rejected"), 0)
    );
    let rb = row(&store, b);
    assert_eq!(
        (
            rb.state,
            rb.attempts,
            rb.failures,
            rb.update_at,
            rb.last_error
        ),
        (State::Pending, 0, 0, T0, None)
    );
    assert_eq!(rb.date_upd, T0 + 1);
    assert_eq!(
        claim_all(&store, SYNC, T0 + 1, "next"),
        vec![b],
        "released at once, failed row stays out"
    );
}

#[test]
fn changes_without_claim_and_missing_rows() {
    let (_dir, store) = fresh();
    let a = save(&store, 1, T0, T0);
    // Without a claim a change applies to any row.
    let out = apply1(&store, a, Change::Done { message: None }, None, T0);
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Done
        }]
    );
    // Unknown ids are skipped; an empty change list is fine.
    assert!(apply1(&store, 999, Change::Release, None, T0).is_empty());
    assert!(store.apply(&[], Some("x"), T0).unwrap().is_empty());
    // A claim token that does not hold the row changes nothing.
    let b = save(&store, 2, T0, T0);
    assert!(apply1(
        &store,
        b,
        Change::Failed {
            message: "x".into()
        },
        Some("nobody"),
        T0
    )
    .is_empty());
    assert_eq!(row(&store, b).state, State::Pending);
}

#[test]
fn a_row_coming_back_is_superseded_by_a_newer_pending_row() {
    let (_dir, store) = fresh();
    let old = save(&store, 12, T0, T0);
    claim_all(&store, SYNC, T0, "run");
    let newer = store
        .upsert_pending(SHOP, 12, SYNC, &snap(6), T0 + 1, T0 + 1)
        .unwrap();
    let out = apply1(&store, old, retry(T0 + 60, false, 5), Some("run"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: old,
            state: State::Done
        }]
    );
    let r = row(&store, old);
    assert_eq!(r.state, State::Done);
    assert_eq!(
        r.last_error,
        Some(format!("superseded by a newer update (row {newer})"))
    );
    assert_eq!(row(&store, newer).state, State::Pending);
    assert_eq!(claim_all(&store, SYNC, T0 + 100, "next"), vec![newer]);

    // A released claim (refused token) is superseded the same way.
    let first = save(&store, 13, T0, T0);
    claim_all(&store, SYNC, T0, "run2");
    let second = save(&store, 13, T0, T0 + 1);
    let out = apply1(&store, first, Change::Release, Some("run2"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: first,
            state: State::Done
        }]
    );
    assert_eq!(row(&store, second).state, State::Pending);

    // Without a newer row, a retry stays pending; other orders, shops and
    // actions never supersede.
    let lone = save(&store, 14, T0, T0);
    store.upsert_pending(2, 14, SYNC, &snap(4), T0, T0).unwrap();
    store
        .upsert_pending(SHOP, 14, "SYNC_CARRIER", &snap(4), T0, T0)
        .unwrap();
    save(&store, 15, T0, T0);
    store
        .claim(SHOP, SYNC, 1, T0, T0 + 300, "run3", Some(lone))
        .unwrap();
    let out = apply1(&store, lone, retry(T0, false, 5), Some("run3"), T0 + 1);
    assert_eq!(
        out,
        vec![Applied {
            id: lone,
            state: State::Pending
        }]
    );
}

#[test]
fn a_failing_ticket_is_superseded_by_a_newer_live_row() {
    let (_dir, store) = fresh();
    // Row A is sent; meanwhile the merchant changes the order again (row B),
    // and B is claimed by a send run when A's ticket fails.
    let a = save(&store, 12, T0, T0);
    claim_all(&store, SYNC, T0, "send");
    apply1(
        &store,
        a,
        Change::Sent {
            batch_id: "b1".into(),
        },
        Some("send"),
        T0,
    );
    let b = store
        .upsert_pending(SHOP, 12, SYNC, &snap(6), T0 + 1, T0 + 1)
        .unwrap();
    claim_all(&store, SYNC, T0 + 1, "send2");
    claim_all(&store, CHECK, T0 + 1, "check");
    let out = apply1(&store, a, retry(T0 + 60, true, 5), Some("check"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Done
        }]
    );
    assert_eq!(
        row(&store, a).last_error,
        Some(format!("superseded by a newer update (row {b})"))
    );

    // A row reaching the failure limit is kept failed for the merchant.
    let c = save(&store, 20, T0, T0);
    claim_all(&store, SYNC, T0, "s");
    save(&store, 20, T0, T0 + 1);
    let out = apply1(&store, c, retry(T0, true, 1), Some("s"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: c,
            state: State::Failed
        }]
    );
}

#[test]
fn counts_cover_every_action_of_a_shop() {
    let (_dir, store) = fresh();
    assert_eq!(store.counts(SHOP).unwrap(), [0, 0, 0, 0]);
    let a = save(&store, 1, T0, T0);
    let b = save(&store, 2, T0, T0);
    let c = save(&store, 3, T0, T0);
    save(&store, 4, T0, T0);
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

fn fail(store: &SqliteStore, id_order: i64, from_check: bool) -> i64 {
    let id = save(store, id_order, T0, T0);
    if from_check {
        // Failed at the ticket stage: the row keeps its CHECK_TICKET_ action.
        apply1(
            store,
            id,
            Change::Sent {
                batch_id: "b".into(),
            },
            None,
            T0,
        );
        apply1(
            store,
            id,
            Change::Failed {
                message: "boom".into(),
            },
            None,
            T0,
        );
        assert_eq!(row(store, id).action, CHECK);
    } else {
        apply1(store, id, retry(T0, true, 1), None, T0);
    }
    let r = row(store, id);
    assert_eq!(r.state, State::Failed);
    id
}

#[test]
fn retry_failed_puts_rows_back_to_pending() {
    let (_dir, store) = fresh();
    let a = fail(&store, 1, false);
    let b = fail(&store, 2, true);
    let c = fail(&store, 3, false);
    let other_shop = store.upsert_pending(2, 9, SYNC, &snap(4), T0, T0).unwrap();
    apply1(
        &store,
        other_shop,
        Change::Failed {
            message: "x".into(),
        },
        None,
        T0,
    );
    let pending = save(&store, 4, T0, T0);

    assert_eq!(store.retry_failed(SHOP, Some(&[]), T0 + 10).unwrap(), 0);
    assert_eq!(
        store
            .retry_failed(SHOP, Some(&[2, 3, 4, 99]), T0 + 10)
            .unwrap(),
        2
    );
    for id in [b, c] {
        let r = row(&store, id);
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
    assert_eq!(row(&store, a).state, State::Failed);
    assert_eq!(row(&store, pending).attempts, 0);
    assert_eq!(store.retry_failed(SHOP, None, T0 + 20).unwrap(), 1);
    assert_eq!(row(&store, a).state, State::Pending);
    assert_eq!(store.retry_failed(SHOP, None, T0 + 20).unwrap(), 0);
    assert_eq!(
        row(&store, other_shop).state,
        State::Failed,
        "other shops untouched"
    );
    assert_eq!(store.counts(SHOP).unwrap(), [4, 0, 0, 0]);
    let mut due = claim_all(&store, SYNC, T0 + 20, "run");
    due.sort();
    assert_eq!(due, vec![a, b, c, pending]);
}

#[test]
fn retry_failed_clears_a_stale_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    let store = SqliteStore::open(path).unwrap();
    let a = save(&store, 1, T0, T0);
    apply1(
        &store,
        a,
        Change::Failed {
            message: "x".into(),
        },
        None,
        T0,
    );
    // A failed row that still carries a lease (written by another tool).
    rusqlite::Connection::open(path)
        .unwrap()
        .execute(
            "UPDATE shoppingfeed_order SET locked_by = 'ghost', locked_until = ?1",
            [T0 + 10_000],
        )
        .unwrap();
    assert_eq!(store.retry_failed(SHOP, Some(&[1]), T0 + 1).unwrap(), 1);
    assert_eq!(claim_all(&store, SYNC, T0 + 1, "next"), vec![a]);
}

#[test]
fn purge_done_deletes_old_done_rows_only() {
    let (_dir, store) = fresh();
    let old_done = save(&store, 1, T0, T0);
    apply1(&store, old_done, Change::Done { message: None }, None, T0);
    let new_done = save(&store, 2, T0, T0);
    apply1(
        &store,
        new_done,
        Change::Done { message: None },
        None,
        T0 + 100,
    );
    let old_failed = save(&store, 3, T0, T0);
    apply1(
        &store,
        old_failed,
        Change::Failed {
            message: "x".into(),
        },
        None,
        T0,
    );
    let old_pending = save(&store, 4, T0, T0);
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
        let id = save(&store, order, T0, T0);
        apply1(&store, id, Change::Done { message: None }, None, T0);
    }
    assert_eq!(store.purge_done(T0 + 1).unwrap(), 2500);
    assert_eq!(store.counts(SHOP).unwrap(), [1, 0, 1, 1]);
    // Ids are never reused after a purge.
    let next = save(&store, 5000, T0, T0);
    assert_eq!(next, 2505);
}

#[test]
fn find_and_get() {
    let (_dir, store) = fresh();
    let a = save(&store, 12, T0 + 5, T0 + 5);
    let b = store.upsert_pending(2, 12, SYNC, &snap(4), T0, T0).unwrap();
    claim_all(&store, SYNC, T0 + 5, "run");
    let c = save(&store, 12, T0 + 5, T0 + 5);
    save(&store, 13, T0, T0);
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

#[test]
fn payload_round_trips_any_json() {
    let (_dir, store) = fresh();
    let payload = json!({
        "id_internal_shoppingfeed": 9, "reference": "é\"'\\\u{0}", "id_order_state": 4,
        "refund": {"shipping": false, "products": [{"reference": "A", "quantity": 2}]},
        "big": 9_007_199_254_740_993_i64, "float": 1.5, "null": null, "nested": [[[]]]
    });
    let id = store
        .upsert_pending(SHOP, 1, SYNC, &payload, T0, T0)
        .unwrap();
    assert_eq!(row(&store, id).payload, payload);
}

#[test]
fn corrupt_rows_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    let store = SqliteStore::open(path).unwrap();
    let a = save(&store, 1, T0, T0);
    let b = save(&store, 2, T0, T0);
    drop(store);
    {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute(
            "UPDATE shoppingfeed_order SET payload = '{not json', operation = 'teleport' WHERE id_shoppingfeed_order = ?1",
            [a],
        )
        .unwrap();
        conn.execute(
            "UPDATE shoppingfeed_order SET state = 'zombie' WHERE id_shoppingfeed_order = ?1",
            [b],
        )
        .unwrap();
    }
    let store = SqliteStore::open(path).unwrap();
    let r = row(&store, a);
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

#[test]
fn unwritable_place_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let bad = file.join("sub/queue.sqlite");
    let err = SqliteStore::open(bad.to_str().unwrap()).unwrap_err();
    let Error::Storage(msg) = &err else {
        panic!("expected Storage, got {err:?}")
    };
    assert!(msg.contains("shoppingfeed_sync.database"), "{msg}");
    assert!(msg.contains(file.to_str().unwrap()), "{msg}");

    // The path itself is a directory.
    let err = SqliteStore::open(dir.path().to_str().unwrap()).unwrap_err();
    assert!(
        err.message().contains("shoppingfeed_sync.database"),
        "{err}"
    );
    assert!(
        err.message().contains(dir.path().to_str().unwrap()),
        "{err}"
    );

    // Not a SQLite file.
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![b'j'; 4096]).unwrap();
    let err = SqliteStore::open(junk.to_str().unwrap()).unwrap_err();
    assert!(
        err.message().contains("shoppingfeed_sync.database"),
        "{err}"
    );

    for bad in ["", "mysql://user@host/db"] {
        let err = SqliteStore::open(bad).unwrap_err();
        assert!(matches!(err, Error::Storage(_)));
        assert!(
            err.message().contains("shoppingfeed_sync.database"),
            "{err}"
        );
    }
}

#[test]
fn reopening_keeps_the_rows_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/queue.sqlite");
    let path = path.to_str().unwrap();
    let store = SqliteStore::open(path).unwrap();
    assert_eq!(store.path(), path);
    let a = save(&store, 1, T0, T0);
    claim_all(&store, SYNC, T0, "run");
    store.checkpoint().unwrap();
    drop(store);
    let store = SqliteStore::open_with(
        path,
        Options {
            synchronous_full: true,
            autocheckpoint_pages: Some(0),
            ..Options::default()
        },
    )
    .unwrap();
    let r = row(&store, a);
    assert_eq!((r.state, r.payload.clone()), (State::Pending, snap(4)));
    assert!(
        claim_all(&store, SYNC, T0 + 1, "other").is_empty(),
        "the lease survives a reopen"
    );
    assert!(
        store
            .upsert_pending(SHOP, 1, SYNC, &snap(5), T0, T0)
            .unwrap()
            > a
    );
    store.checkpoint().unwrap();

    let conn = rusqlite::Connection::open(path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, mode.as_str()), (1, "wal"));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    drop(SqliteStore::open(path).unwrap());
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 7")
        .unwrap();
    let err = SqliteStore::open(path).unwrap_err();
    assert!(err.message().contains("schema version 7"), "{err}");
}

#[test]
fn queries_use_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    drop(SqliteStore::open(path).unwrap());
    let conn = rusqlite::Connection::open(path).unwrap();
    let plan = |sql: &str| -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.join(" | ")
    };
    let claim = plan(
        "SELECT id_shoppingfeed_order FROM shoppingfeed_order
         WHERE id_shop = 1 AND action = 'SYNC_STATUS' AND state IN ('pending', 'sent') AND update_at <= 5
           AND (locked_by IS NULL OR IFNULL(locked_until, 0) < 5)
         ORDER BY update_at, id_shoppingfeed_order LIMIT 100",
    );
    assert!(
        claim.contains("shoppingfeed_order_claim") && !claim.contains("TEMP B-TREE"),
        "{claim}"
    );
    let upsert = plan(
        "SELECT id_shoppingfeed_order FROM shoppingfeed_order
         WHERE id_order = 1 AND id_shop = 1 AND action = 'SYNC_STATUS' AND state = 'pending' AND locked_by IS NULL
         ORDER BY id_shoppingfeed_order DESC LIMIT 1",
    );
    assert!(
        upsert.contains("shoppingfeed_order_order") && !upsert.contains("TEMP B-TREE"),
        "{upsert}"
    );
    let counts = plan(
        "SELECT state, COUNT(*) FROM shoppingfeed_order
         WHERE state IN ('pending', 'sent', 'done', 'failed') AND id_shop = 1 GROUP BY state",
    );
    assert!(
        counts.contains("COVERING INDEX shoppingfeed_order_state"),
        "{counts}"
    );
}

/// Rough latency of the hot path; run with
/// `cargo test -p shoppingfeed-sync-core --release --test queue_sqlite -- --ignored --nocapture`.
#[test]
#[ignore]
fn upsert_latency() {
    let (_dir, store) = fresh();
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

#[test]
fn writers_and_claimers_at_once_never_see_a_locked_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("queue.sqlite")
        .to_str()
        .unwrap()
        .to_string();
    drop(SqliteStore::open(&path).unwrap());
    let orders = 400;
    let barrier = Arc::new(Barrier::new(3));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&path).expect("open");
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
        let path = path.clone();
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            let store = SqliteStore::open(&path).expect("open");
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
    let store = SqliteStore::open(&path).unwrap();
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

#[test]
fn upsert_refreshes_every_unclaimed_pending_row() {
    // Two unclaimed pending rows of one order can only come from
    // retry_failed (which does not supersede): a save updates both, so
    // whichever is sent carries the latest snapshot.
    let (_dir, store) = fresh();
    let old = fail(&store, 12, false);
    let newer = save(&store, 12, T0, T0 + 1);
    assert_eq!(store.retry_failed(SHOP, None, T0 + 2).unwrap(), 1);
    let id = store
        .upsert_pending(SHOP, 12, SYNC, &snap(9), T0 + 3, T0 + 3)
        .unwrap();
    assert_eq!(id, newer, "the newest row's id is returned");
    for id in [old, newer] {
        let r = row(&store, id);
        assert_eq!((r.payload, r.update_at), (snap(9), T0 + 3));
    }
}

#[test]
fn in_memory_store() {
    let store = SqliteStore::open(":memory:").unwrap();
    let id = save(&store, 1, T0, T0);
    assert_eq!(claim_all(&store, SYNC, T0, "run"), vec![id]);
    store.checkpoint().unwrap();
}
