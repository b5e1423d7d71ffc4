//! Updates with a subject (`upsert_pending_keyed`): one row per credit
//! slip. Two slips of one order are two rows that never replace or
//! supersede each other; one slip saved again is one row, and once it is
//! being sent, sent or settled, saving it again queues nothing. Each test
//! runs on every store (`sqlite::` and `mysql::`, see queue_support).

#[macro_use]
mod queue_support;

use queue_support::*;
use serde_json::{json, Value};
use sfsync_core::model::State;
use sfsync_core::queue::{Change, QueueStore, RowKey};

const REFUND: &str = "SYNC_REFUND";
const CHECK_REFUND: &str = "CHECK_TICKET_SYNC_REFUND";

fn slip_snap(slip: i64, reference: &str) -> Value {
    json!({"id_internal_shoppingfeed": 77, "id_order_slip": slip,
           "refund": {"shipping": false, "products": [{"reference": reference, "quantity": 1}]}})
}

fn save_slip(store: &dyn QueueStore, id_order: i64, slip: i64, reference: &str, now: i64) -> i64 {
    let key = RowKey {
        store_id: 0,
        id_shop: SHOP,
        id_order,
        action: REFUND,
        subject: slip,
    };
    store
        .upsert_pending_keyed(&key, &slip_snap(slip, reference), now, now)
        .expect("upsert")
}

fn refs(store: &dyn QueueStore, id: i64) -> String {
    row(store, id).payload["refund"]["products"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string()
}

fn two_slips_of_one_order_are_two_rows(kind: Kind) {
    let store = fresh(kind);
    let a = save_slip(&*store, 5, 101, "A", T0);
    let b = save_slip(&*store, 5, 102, "B", T0);
    assert_ne!(a, b);
    assert_eq!(row(&*store, a).subject, 101);
    assert_eq!(row(&*store, b).subject, 102);
    // The status row of the order is a third, untouched by either.
    let status = save(&*store, 5, T0, T0);
    assert_eq!(row(&*store, status).subject, 0);
    assert_eq!(claim_all(&*store, REFUND, T0, "run"), vec![a, b]);
    // Both go back to pending (an outage): neither supersedes the other.
    let out = store
        .apply(
            &[(a, retry(T0, false, 5)), (b, retry(T0, false, 5))],
            Some("run"),
            T0,
        )
        .unwrap();
    assert!(out.iter().all(|x| x.state == State::Pending), "{out:?}");
}

fn one_slip_saved_twice_is_one_row_latest_snapshot(kind: Kind) {
    let store = fresh(kind);
    let a = save_slip(&*store, 5, 101, "A", T0);
    let again = save_slip(&*store, 5, 101, "A2", T0 + 1);
    assert_eq!(a, again);
    assert_eq!(refs(&*store, a), "A2");
    assert_eq!(store.find(5).unwrap().len(), 1);
}

fn a_slip_being_sent_sent_or_done_is_not_queued_again(kind: Kind) {
    let store = fresh(kind);
    let a = save_slip(&*store, 5, 101, "A", T0);
    // Claimed (being sent right now): saving it again queues nothing.
    assert_eq!(claim_all(&*store, REFUND, T0, "run"), vec![a]);
    assert_eq!(save_slip(&*store, 5, 101, "A", T0 + 1), a);
    apply1(
        &*store,
        a,
        Change::Sent {
            batch_id: "b1".into(),
        },
        Some("run"),
        T0 + 1,
    );
    assert_eq!(row(&*store, a).action, CHECK_REFUND);
    assert_eq!(save_slip(&*store, 5, 101, "A", T0 + 2), a);
    apply1(&*store, a, Change::Done { message: None }, None, T0 + 2);
    assert_eq!(save_slip(&*store, 5, 101, "A", T0 + 3), a);
    assert_eq!(store.find(5).unwrap().len(), 1, "one slip, one refund");
    assert!(claim_all(&*store, REFUND, T0 + 3, "next").is_empty());
    // Another slip of the order is its own refund.
    let b = save_slip(&*store, 5, 102, "B", T0 + 3);
    assert_ne!(a, b);
    assert_eq!(claim_all(&*store, REFUND, T0 + 3, "next"), vec![b]);
}

fn retrying_failed_slips_keeps_each(kind: Kind) {
    let store = fresh(kind);
    let a = save_slip(&*store, 5, 101, "A", T0);
    let b = save_slip(&*store, 5, 102, "B", T0);
    for id in [a, b] {
        apply1(
            &*store,
            id,
            Change::Failed {
                message: "refused".into(),
            },
            None,
            T0,
        );
    }
    assert_eq!(store.retry_failed(SHOP, None, T0 + 1).unwrap(), 2);
    assert_eq!(row(&*store, a).state, State::Pending);
    assert_eq!(row(&*store, b).state, State::Pending);
}

fn moving_a_queue_keeps_the_subjects(kind: Kind) {
    let from = fresh(kind);
    let a = save_slip(&*from, 5, 101, "A", T0);
    let b = save_slip(&*from, 5, 102, "B", T0);
    let to = fresh(kind);
    let rows = from.page(0, 100).unwrap();
    assert_eq!(to.import(&rows).unwrap(), 2, "two slips, two rows");
    assert_eq!(to.import(&rows).unwrap(), 0);
    let mut subjects: Vec<i64> = to.find(5).unwrap().iter().map(|r| r.subject).collect();
    subjects.sort_unstable();
    assert_eq!(subjects, vec![101, 102]);
    assert!(to
        .find(5)
        .unwrap()
        .iter()
        .all(|r| r.state == State::Pending));
    let _ = (a, b);
}

store_tests! {
    two_slips_of_one_order_are_two_rows,
    one_slip_saved_twice_is_one_row_latest_snapshot,
    a_slip_being_sent_sent_or_done_is_not_queued_again,
    retrying_failed_slips_keeps_each,
    moving_a_queue_keeps_the_subjects,
}
