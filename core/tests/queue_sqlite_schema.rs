//! The SQLite queue's file: opening (fresh, concurrent, reopened, in
//! memory), bad places, the schema version and the indexes. Migrations and
//! the files opening refuses: queue_sqlite_migrations.rs; damaged rows
//! (every store): queue_store.rs.

mod queue_support;

use queue_support::*;
use sfsync_core::model::State;
use sfsync_core::queue::sqlite::Options;
use sfsync_core::queue::{QueueStore, SqliteStore};
use sfsync_core::Error;
use std::sync::{Arc, Barrier};

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
    assert_eq!(
        (version, mode.as_str()),
        (sfsync_core::queue::sqlite::SCHEMA_VERSION, "wal")
    );
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
    // The claim statement itself (two range scans of shoppingfeed_order_claim):
    // queue_store_clock.rs, the_claim_is_two_range_scans_of_the_claim_index.
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

#[test]
fn in_memory_store() {
    let store = SqliteStore::open(":memory:").unwrap();
    let id = save(&store, 1, T0, T0);
    assert_eq!(claim_all(&store, SYNC, T0, "run"), vec![id]);
    store.checkpoint().unwrap();
}
