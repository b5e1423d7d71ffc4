//! The store's WAL size and the checkpoints that the extension runs off the
//! merchant's request (see src/php/store.rs).

use serde_json::json;
use sfsync_core::queue::sqlite::{Options, DEFAULT_AUTOCHECKPOINT_PAGES};
use sfsync_core::queue::{self, OpenOptions, QueueStore, SqliteStore, Upkeep};

const T0: i64 = 1_700_000_000;

fn save(store: &SqliteStore, id_order: i64) {
    let snap = json!({"id_internal_shoppingfeed": id_order, "id_order_state": 4});
    store
        .upsert_pending(1, id_order, "SYNC_STATUS", &snap, T0, T0)
        .expect("upsert");
}

#[test]
fn without_automatic_checkpoints_the_wal_grows_until_a_bounded_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    let store = SqliteStore::open_with(
        path.to_str().unwrap(),
        Options {
            autocheckpoint_pages: Some(0),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(
        store.checkpoint_if_over(10).unwrap(),
        None,
        "nothing written"
    );
    for i in 1..=300 {
        save(&store, i);
    }
    let frames = store.wal_frames();
    assert!(frames >= 300, "no automatic checkpoint: {frames} frames");
    assert_eq!(
        store.checkpoint_if_over(frames + 1).unwrap(),
        None,
        "below the threshold: a free check, no checkpoint"
    );
    let done = store.checkpoint_if_over(100).unwrap().expect("over it");
    assert!(!done.busy);
    assert_eq!(done.checkpointed_frames, done.log_frames);
    assert_eq!(
        store.checkpoint_if_over(100).unwrap(),
        None,
        "complete: nothing more until the WAL restarts"
    );
    save(&store, 1000);
    assert!(
        store.wal_frames() < 20,
        "the next commit restarted the WAL: {} frames",
        store.wal_frames()
    );
    assert_eq!(store.counts(1).unwrap(), [301, 0, 0, 0]);
}

#[test]
fn a_checkpoint_kept_from_finishing_is_not_retried_on_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    let path = path.to_str().unwrap();
    let opts = Options {
        autocheckpoint_pages: Some(0),
        ..Options::default()
    };
    let store = SqliteStore::open_with(path, opts).unwrap();
    save(&store, 1);
    // A reader holding a snapshot: frames written after it cannot be copied.
    let reader = rusqlite::Connection::open(path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT COUNT(*) FROM shoppingfeed_order", [], |r| r.get(0))
        .unwrap();
    for i in 2..=200 {
        save(&store, i);
    }
    let first = store.checkpoint_if_over(100).unwrap().expect("tried");
    assert!(first.checkpointed_frames < first.log_frames, "{first:?}");
    assert_eq!(
        store.checkpoint_if_over(100).unwrap(),
        None,
        "not again at once"
    );
    let frames = store.wal_frames();
    let mut i = 1000;
    while store.wal_frames() < frames + 25 {
        save(&store, i);
        i += 1;
    }
    assert!(
        store.checkpoint_if_over(100).unwrap().is_some(),
        "tried again once the WAL grew by a quarter of the threshold"
    );
    reader.execute_batch("COMMIT").unwrap();
}

#[test]
fn by_default_sqlite_like_automatic_checkpoints_keep_the_wal_small() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("q.sqlite").to_str().unwrap()).unwrap();
    for i in 1..=1500 {
        save(&store, i);
        assert!(store.wal_frames() <= DEFAULT_AUTOCHECKPOINT_PAGES + 20);
    }
}

#[test]
fn upkeep_through_the_trait_checkpoints_past_each_moment_s_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    let path = path.to_str().unwrap();
    let options = Options {
        autocheckpoint_pages: Some(0),
        request_checkpoint_pages: Some(100_000),
        background_checkpoint_pages: Some(50),
        ..Options::default()
    };
    // Opened as the binding opens it: a `dyn QueueStore`, nothing else.
    let queue: Box<dyn QueueStore> = queue::open(
        path,
        &OpenOptions {
            sqlite: options,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    assert!(queue.describe().contains(path), "{}", queue.describe());
    let snap = json!({"id_order_state": 4});
    for i in 1..=200 {
        queue
            .upsert_pending(1, i, "SYNC_STATUS", &snap, T0, T0)
            .unwrap();
    }
    // A checkpoint copies the WAL into the database file: it grows.
    let file_size = || std::fs::metadata(path).unwrap().len();
    let before = file_size();
    queue.upkeep(Upkeep::AfterRequest);
    assert_eq!(
        file_size(),
        before,
        "below the request threshold: no checkpoint"
    );
    queue.upkeep(Upkeep::AfterBackground);
    assert!(
        file_size() > before,
        "past the background threshold: checkpointed"
    );

    // The same through a `&dyn QueueStore` borrowed from the concrete store:
    // the next commit after a complete checkpoint restarts the WAL.
    let other = dir.path().join("other.sqlite");
    let store = SqliteStore::open_with(other.to_str().unwrap(), options).unwrap();
    for i in 1..=200 {
        save(&store, i);
    }
    let as_trait: &dyn QueueStore = &store;
    as_trait.upkeep(Upkeep::AfterRequest);
    let frames = store.wal_frames();
    save(&store, 1000);
    assert!(store.wal_frames() > frames, "no checkpoint: the WAL grew");
    as_trait.upkeep(Upkeep::AfterBackground);
    save(&store, 1001);
    assert!(store.wal_frames() < 20, "{} frames", store.wal_frames());

    // Without thresholds, upkeep does nothing.
    let idle = dir.path().join("idle.sqlite");
    let idle = SqliteStore::open_with(
        idle.to_str().unwrap(),
        Options {
            autocheckpoint_pages: Some(0),
            ..Options::default()
        },
    )
    .unwrap();
    for i in 1..=100 {
        save(&idle, i);
    }
    let frames = idle.wal_frames();
    let as_trait: &dyn QueueStore = &idle;
    as_trait.upkeep(Upkeep::AfterBackground);
    as_trait.upkeep(Upkeep::AfterRequest);
    save(&idle, 1000);
    assert!(idle.wal_frames() > frames);
}

/// The checkpoint thread (`background_thread_pages`): saves that pause now
/// and then (a shop's traffic) never reach the request path's bound, the
/// thread's checkpoints let the WAL restart, and every row is there.
#[test]
fn the_checkpoint_thread_keeps_the_wal_small_off_the_request_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    let bound = 4_000;
    let store = SqliteStore::open_with(
        path.to_str().unwrap(),
        Options {
            autocheckpoint_pages: Some(0),
            request_checkpoint_pages: Some(bound),
            background_thread_pages: Some(200),
            ..Options::default()
        },
    )
    .unwrap();
    let mut max_frames = 0;
    let mut restarts = 0;
    let mut last = 0;
    for i in 1..=6_000 {
        save(&store, i);
        store.upkeep(Upkeep::AfterRequest);
        let frames = store.wal_frames();
        if frames < last {
            restarts += 1;
        }
        last = frames;
        max_frames = max_frames.max(frames);
        if i % 100 == 0 {
            // A moment without saves, as between two merchants' requests.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    assert!(
        restarts >= 3,
        "the WAL restarted {restarts} times (max {max_frames} frames)"
    );
    assert!(
        max_frames < bound,
        "the request path's bound was never reached: max {max_frames} frames"
    );
    assert_eq!(store.counts(1).unwrap(), [6_000, 0, 0, 0]);
}

/// The thread lives as long as its store: dropping the store ends it (its
/// connection closed), and the next store of the same file starts its own;
/// no row is lost on the way.
#[test]
fn a_store_dropped_ends_its_checkpoint_thread_and_a_new_one_starts_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    let options = Options {
        autocheckpoint_pages: Some(0),
        background_thread_pages: Some(50),
        ..Options::default()
    };
    for round in 0..3 {
        let store = SqliteStore::open_with(path.to_str().unwrap(), options).unwrap();
        for i in 1..=500 {
            save(&store, round * 1000 + i);
            store.upkeep(Upkeep::AfterRequest);
        }
        drop(store);
    }
    let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
    assert_eq!(store.counts(1).unwrap(), [1_500, 0, 0, 0]);
}
