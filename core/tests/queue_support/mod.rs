//! Helpers shared by the SQLite queue tests (`queue_sqlite*.rs`).
#![allow(dead_code)]

use serde_json::{json, Value};
use sfsync_core::model::State;
pub use sfsync_core::model::{ACTION_CHECK_TICKET_SYNC_STATUS, ACTION_SYNC_STATUS};
use sfsync_core::queue::{Applied, Change, QueueStore, SqliteStore};

pub const SHOP: i64 = 1;
pub const T0: i64 = 1_700_000_000;
pub const SYNC: &str = ACTION_SYNC_STATUS;
pub const CHECK: &str = ACTION_CHECK_TICKET_SYNC_STATUS;

pub fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("queue.sqlite");
    let store = SqliteStore::open(path.to_str().expect("utf-8 path")).expect("open");
    (dir, store)
}

pub fn snap(state: i64) -> Value {
    json!({"id_internal_shoppingfeed": 77, "id_order_state": state, "extra": {"kept": [1, 2]}})
}

pub fn save(store: &SqliteStore, id_order: i64, due_at: i64, now: i64) -> i64 {
    store
        .upsert_pending(SHOP, id_order, SYNC, &snap(4), due_at, now)
        .expect("upsert")
}

pub fn row(store: &SqliteStore, id: i64) -> sfsync_core::model::Row {
    let mut rows = store.get(&[id]).expect("get");
    assert_eq!(rows.len(), 1, "row {id} exists");
    rows.remove(0)
}

pub fn claim_all(store: &SqliteStore, action: &str, now: i64, token: &str) -> Vec<i64> {
    store
        .claim(SHOP, action, 1000, now, now + 300, token, None)
        .expect("claim")
        .iter()
        .map(|r| r.id)
        .collect()
}

pub fn apply1(
    store: &SqliteStore,
    id: i64,
    change: Change,
    claim: Option<&str>,
    now: i64,
) -> Vec<Applied> {
    store.apply(&[(id, change)], claim, now).expect("apply")
}

pub fn retry(due_at: i64, order_failure: bool, max_failures: i64) -> Change {
    Change::Retry {
        due_at,
        message: "boom".into(),
        order_failure,
        max_failures,
    }
}

pub fn fail(store: &SqliteStore, id_order: i64, from_check: bool) -> i64 {
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
