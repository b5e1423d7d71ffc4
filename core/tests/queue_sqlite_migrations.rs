//! The SQLite queue's schema migrations, and the files that opening refuses
//! or completes: a queue made by the first release (the fixture
//! `fixtures/queue-v1.sqlite`), older tables, an unrelated database, a
//! damaged file, a directory that is not writable.

mod queue_support;

use queue_support::*;
use rusqlite::Connection;
use serde_json::{json, Value};
use sfsync_core::model::{Operation, Row, State};
use sfsync_core::queue::sqlite::SCHEMA_VERSION;
use sfsync_core::queue::{Change, QueueStore, SqliteStore};
use sfsync_core::Error;
use std::sync::{Arc, Barrier};

/// A queue file written by the first release (schema version 1, before
/// migrations existed): made with that release's `SqliteStore` (the code
/// of commit b4d6e77), rows in every state, checkpointed so the file holds
/// everything (no -wal). Opened on a copy: opening writes to the file.
const FIXTURE_V1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/queue-v1.sqlite"
);

fn copy_of_fixture() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    std::fs::copy(FIXTURE_V1, &path).unwrap();
    (dir, path.to_str().unwrap().to_string())
}

fn fixture_snapshot(id: i64, state: i64) -> Value {
    json!({"id_internal_shoppingfeed": id, "id_order_state": state,
           "tracking_number": format!("TN{id}"), "note": "é ünïcode"})
}

/// The fixture's rows as the first release wrote them.
fn fixture_rows() -> Vec<Row> {
    let row = |id, id_order, id_shop, action: &str, state, operation, attempts, failures| Row {
        id,
        id_order,
        id_shop,
        action: action.to_string(),
        state,
        operation,
        payload: Value::Null,
        batch_id: None,
        ticket_id: None,
        attempts,
        failures,
        last_error: None,
        update_at: T0,
        date_add: T0,
        date_upd: T0,
        store_id: 0,
        subject: 0,
    };
    let ship = Some(Operation::Ship);
    vec![
        Row {
            payload: fixture_snapshot(1001, 4),
            date_upd: T0 + 16,
            ..row(1, 101, 1, SYNC, State::Pending, None, 0, 0)
        },
        Row {
            payload: fixture_snapshot(1002, 4),
            last_error: Some("Order 102: missing carrier".into()),
            update_at: T0 + 900,
            date_upd: T0 + 12,
            ..row(2, 102, 1, SYNC, State::Pending, ship, 1, 1)
        },
        Row {
            payload: fixture_snapshot(1003, 5),
            batch_id: Some("batch-42".into()),
            ticket_id: Some("ticket-7".into()),
            last_error: Some("ticket still running".into()),
            update_at: T0 + 120,
            date_upd: T0 + 41,
            ..row(3, 103, 1, CHECK, State::Sent, ship, 1, 0)
        },
        Row {
            payload: fixture_snapshot(1004, 6),
            last_error: Some("ignored: already performed".into()),
            date_upd: T0 + 14,
            ..row(4, 104, 1, SYNC, State::Done, ship, 0, 0)
        },
        Row {
            payload: fixture_snapshot(1005, 7),
            last_error: Some("Order 105: refused".into()),
            update_at: T0 + 60,
            date_upd: T0 + 31,
            ..row(5, 105, 1, SYNC, State::Failed, ship, 2, 2)
        },
        Row {
            payload: fixture_snapshot(1006, 4),
            date_upd: T0 + 16,
            ..row(6, 106, 1, SYNC, State::Pending, None, 0, 0)
        },
        Row {
            payload: fixture_snapshot(2001, 4),
            update_at: T0 + 3600,
            ..row(7, 201, 2, SYNC, State::Pending, None, 0, 0)
        },
    ]
}

/// `(id, locked_by, locked_until)` of every row, read past the store.
fn leases(path: &str) -> Vec<(i64, Option<String>, Option<i64>)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT id_shoppingfeed_order, locked_by, locked_until FROM shoppingfeed_order ORDER BY 1")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    rows
}

/// `sqlite_master` as (type, name, SQL text), ordered.
fn schema_text(path: &str) -> Vec<(String, String, Option<String>)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    rows
}

/// Every migration, as a fresh file applies them.
fn all() -> Vec<i64> {
    (1..=SCHEMA_VERSION).collect()
}

/// The migrations after the first release's.
fn later() -> Vec<i64> {
    (2..=SCHEMA_VERSION).collect()
}

fn user_version(path: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn storage_message(result: sfsync_core::Result<SqliteStore>) -> String {
    match result {
        Err(Error::Storage(m)) => {
            eprintln!("refused: {m}");
            m
        }
        Err(other) => panic!("expected a storage error, got {other:?}"),
        Ok(store) => panic!("expected a refusal, opened {}", store.path()),
    }
}

#[test]
fn a_queue_made_by_the_first_release_opens_with_every_row_intact() {
    let (_dir, path) = copy_of_fixture();
    assert_eq!(user_version(&path), 1);
    let store = SqliteStore::open(&path).expect("open the release's queue");
    assert_eq!(
        store.applied_migrations(),
        &later()[..],
        "a version-1 file is migration 1 applied: only the later ones run"
    );
    let expected = fixture_rows();
    let found = store.get(&[1, 2, 3, 4, 5, 6, 7]).unwrap();
    assert_eq!(found.len(), expected.len());
    for (got, want) in found.iter().zip(&expected) {
        let id = want.id;
        assert_eq!(got.id, want.id);
        assert_eq!(got.id_order, want.id_order, "row {id} id_order");
        assert_eq!(got.id_shop, want.id_shop, "row {id} id_shop");
        assert_eq!(got.action, want.action, "row {id} action");
        assert_eq!(got.state, want.state, "row {id} state");
        assert_eq!(got.operation, want.operation, "row {id} operation");
        assert_eq!(got.payload, want.payload, "row {id} payload");
        assert_eq!(got.batch_id, want.batch_id, "row {id} batch_id");
        assert_eq!(got.ticket_id, want.ticket_id, "row {id} ticket_id");
        assert_eq!(got.attempts, want.attempts, "row {id} attempts");
        assert_eq!(got.failures, want.failures, "row {id} failures");
        assert_eq!(got.last_error, want.last_error, "row {id} last_error");
        assert_eq!(got.update_at, want.update_at, "row {id} update_at");
        assert_eq!(got.date_add, want.date_add, "row {id} date_add");
        assert_eq!(got.date_upd, want.date_upd, "row {id} date_upd");
    }
    assert_eq!(found, expected);
    let mut leased = vec![(6, Some("cron-d".to_string()), Some(T0 + 600))];
    for id in [1, 2, 3, 4, 5, 7] {
        leased.push((id, None, None));
    }
    leased.sort();
    assert_eq!(leases(&path), leased, "the one live lease is kept");
    assert_eq!(store.counts(1).unwrap(), [3, 1, 1, 1]);
    assert_eq!(store.counts(2).unwrap(), [1, 0, 0, 0]);

    // The release's schema is the one migration 1 creates, text included.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = fresh_dir.path().join("fresh.sqlite");
    let fresh = fresh.to_str().unwrap();
    assert_eq!(
        SqliteStore::open(fresh).unwrap().applied_migrations(),
        &all()[..]
    );
    assert_eq!(schema_text(&path), schema_text(fresh));
    assert_eq!(user_version(fresh), SCHEMA_VERSION);

    // And the queue goes on working: the leased row waits for its lease,
    // the sent row's ticket is read, a new save gets the next id.
    let due: Vec<i64> = store
        .claim(1, SYNC, 100, T0 + 100, T0 + 1000, "next", None)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(due, vec![1]);
    let check = store
        .claim(1, CHECK, 100, T0 + 120, T0 + 420, "next", None)
        .unwrap();
    assert_eq!(check.len(), 1);
    assert_eq!(check[0].ticket_id.as_deref(), Some("ticket-7"));
    let after_lease: Vec<i64> = store
        .claim(1, SYNC, 100, T0 + 601, T0 + 900, "later", None)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(after_lease, vec![6], "row 1 still leased to 'next'");
    assert_eq!(
        store
            .upsert_pending(1, 300, SYNC, &snap(4), T0, T0)
            .unwrap(),
        8
    );
    drop(store);
    assert!(SqliteStore::open(&path)
        .unwrap()
        .applied_migrations()
        .is_empty());
}

/// Threads opening one path at the same moment; what each open applied.
fn open_at_once(path: &str, threads: usize) -> Vec<Vec<i64>> {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let path = path.to_string();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let store = SqliteStore::open(&path).expect("open");
                store.applied_migrations().to_vec()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn concurrent_opens_of_a_fresh_file_apply_migration_1_exactly_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/queue.sqlite");
        let applied = open_at_once(path.to_str().unwrap(), 8);
        assert_eq!(applied.concat(), all(), "{applied:?}");
        assert_eq!(user_version(path.to_str().unwrap()), SCHEMA_VERSION);
    }
}

/// The queue table without the lease columns (`locked_by`,
/// `locked_until`), two rows, and `user_version = stamp`.
fn lease_less_queue(path: &str, stamp: i64) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE shoppingfeed_order (
            id_shoppingfeed_order INTEGER PRIMARY KEY AUTOINCREMENT,
            id_order INTEGER NOT NULL, id_shop INTEGER NOT NULL, action TEXT NOT NULL,
            state TEXT NOT NULL, operation TEXT, payload TEXT NOT NULL, batch_id TEXT,
            ticket_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, update_at INTEGER NOT NULL,
            date_add INTEGER NOT NULL, date_upd INTEGER NOT NULL);
         INSERT INTO shoppingfeed_order
            (id_order, id_shop, action, state, payload, attempts, failures, last_error,
             update_at, date_add, date_upd)
         VALUES (7, 1, 'SYNC_STATUS', 'pending', '{{\"id_order_state\": 4}}', 2, 1, 'boom',
                 {T0}, {T0}, {T0}),
                (8, 1, 'CHECK_TICKET_SYNC_STATUS', 'sent', '{{\"id_order_state\": 5}}', 0, 0,
                 NULL, {T0}, {T0}, {T0});
         UPDATE shoppingfeed_order SET batch_id = 'b1', ticket_id = 't1' WHERE id_order = 8;
         PRAGMA user_version = {stamp};"
    ))
    .unwrap();
}

/// The two rows of [`lease_less_queue`] are intact and the queue works.
fn assert_lease_less_rows_work(store: &SqliteStore) {
    let rows = store.get(&[1, 2]).unwrap();
    assert_eq!(rows.len(), 2);
    let (a, b) = (&rows[0], &rows[1]);
    assert_eq!(
        (
            a.id_order,
            a.state,
            a.attempts,
            a.failures,
            a.last_error.as_deref()
        ),
        (7, State::Pending, 2, 1, Some("boom"))
    );
    assert_eq!(a.payload, json!({"id_order_state": 4}));
    assert_eq!(
        (
            b.id_order,
            b.state,
            b.action.as_str(),
            b.batch_id.as_deref(),
            b.ticket_id.as_deref()
        ),
        (8, State::Sent, CHECK, Some("b1"), Some("t1"))
    );
    // Before the fix: "no such column: locked_by".
    let claimed = store
        .claim(SHOP, SYNC, 10, T0, T0 + 300, "run", None)
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    store
        .apply(&[(a.id, Change::Done { message: None })], Some("run"), T0)
        .expect("apply");
    let id = store
        .upsert_pending(SHOP, 9, SYNC, &snap(4), T0, T0)
        .expect("save");
    assert_eq!(id, 3);
}

#[test]
fn an_unstamped_table_without_the_lease_columns_is_migrated_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    lease_less_queue(path, 0);
    let store = SqliteStore::open(path).expect("migrated");
    assert_eq!(store.applied_migrations(), &all()[..]);
    assert_eq!(user_version(path), SCHEMA_VERSION);
    assert_lease_less_rows_work(&store);
    let indexes = schema_text(path)
        .into_iter()
        .filter(|(kind, _, _)| kind == "index")
        .count();
    assert_eq!(indexes, 3, "migration 1 added the indexes");
}

#[test]
fn a_table_stamped_1_without_the_lease_columns_is_completed() {
    // What the previous release did to such a table: stamped it 1 as it was.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    lease_less_queue(path, 0);
    Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE INDEX shoppingfeed_order_claim ON shoppingfeed_order (id_shop, action, update_at)
                 WHERE state IN ('pending', 'sent');
             CREATE INDEX shoppingfeed_order_order ON shoppingfeed_order (id_order, id_shop, action);
             CREATE INDEX shoppingfeed_order_state ON shoppingfeed_order (state, id_shop);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    let store = SqliteStore::open(path).expect("completed");
    assert_lease_less_rows_work(&store);
}

#[test]
fn concurrent_opens_of_an_old_table_migrate_it_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    lease_less_queue(path, 0);
    // Adding a column twice would fail ("duplicate column name").
    let applied = open_at_once(path, 8);
    assert_eq!(applied.concat(), all(), "{applied:?}");
    assert_lease_less_rows_work(&SqliteStore::open(path).unwrap());
}

#[test]
fn a_table_lacking_other_columns_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for stamp in [0, 1] {
        let path = dir.path().join(format!("q{stamp}.sqlite"));
        let path = path.to_str().unwrap();
        Connection::open(path)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TABLE shoppingfeed_order (
                    id_shoppingfeed_order INTEGER PRIMARY KEY, id_order INTEGER, id_shop INTEGER,
                    action TEXT, state TEXT, update_at INTEGER);
                 INSERT INTO shoppingfeed_order VALUES (1, 7, 1, 'SYNC_STATUS', 'pending', 0);
                 PRAGMA user_version = {stamp};"
            ))
            .unwrap();
        let before = std::fs::read(path).unwrap();
        let msg = storage_message(SqliteStore::open(path));
        assert!(msg.contains("shoppingfeed_sync.database"), "{msg}");
        assert!(msg.contains(path), "{msg}");
        for column in ["payload", "attempts", "failures", "date_add"] {
            assert!(msg.contains(column), "{msg}");
        }
        assert!(
            !msg.contains("locked_by"),
            "the lease columns could be added: {msg}"
        );
        assert_eq!(std::fs::read(path).unwrap(), before, "file untouched");
        assert_eq!(user_version(path), stamp, "never stamped");
    }
}

#[test]
fn an_unrelated_sqlite_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.sqlite");
    let path = path.to_str().unwrap();
    Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);
             CREATE TABLE carts (id INTEGER PRIMARY KEY);
             INSERT INTO customers VALUES (1, 'a@example.com');",
        )
        .unwrap();
    let before = std::fs::read(path).unwrap();
    let msg = storage_message(SqliteStore::open(path));
    assert!(msg.contains("shoppingfeed_sync.database"), "{msg}");
    assert!(msg.contains(path), "{msg}");
    assert!(msg.contains("carts, customers"), "{msg}");
    assert!(msg.contains("not a shoppingfeed_sync queue"), "{msg}");
    assert_eq!(std::fs::read(path).unwrap(), before, "nothing added");

    // Another application's tables next to a table of our name: refused
    // too (nothing says that table is a queue).
    Connection::open(path)
        .unwrap()
        .execute_batch("CREATE TABLE shoppingfeed_order (id INTEGER)")
        .unwrap();
    let msg = storage_message(SqliteStore::open(path));
    assert!(msg.contains("customers"), "{msg}");

    // A file that says version 1 (applications use user_version too)
    // without the queue's table.
    let other = dir.path().join("app.sqlite");
    let other = other.to_str().unwrap();
    Connection::open(other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (id INTEGER); PRAGMA user_version = 1;")
        .unwrap();
    let msg = storage_message(SqliteStore::open(other));
    assert!(msg.contains(other) && msg.contains("notes"), "{msg}");

    // An empty SQLite file is a new queue.
    let empty = dir.path().join("empty.sqlite");
    let empty = empty.to_str().unwrap();
    Connection::open(empty)
        .unwrap()
        .execute_batch("PRAGMA user_version = 0; VACUUM;")
        .unwrap();
    assert_eq!(
        SqliteStore::open(empty).unwrap().applied_migrations(),
        &all()[..]
    );
}

#[test]
fn a_stamped_file_without_the_queue_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    Connection::open(path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 1")
        .unwrap();
    let msg = storage_message(SqliteStore::open(path));
    assert!(
        msg.contains(path) && msg.contains("no shoppingfeed_order"),
        "{msg}"
    );
}

#[test]
fn a_damaged_file_found_after_open_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let path = path.to_str().unwrap();
    {
        let store = SqliteStore::open(path).unwrap();
        let big = json!({"id_order_state": 4, "pad": "x".repeat(2000)});
        for order in 0..200 {
            store
                .upsert_pending(SHOP, order, SYNC, &big, T0, T0)
                .unwrap();
        }
        store.checkpoint().unwrap();
    }
    assert!(!std::path::Path::new(&format!("{path}-wal")).exists());
    // Every page but the first (the header and the schema) overwritten:
    // the file opens, and the damage shows at the first read of a row.
    let mut bytes = std::fs::read(path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 10 * page);
    bytes[page..].fill(0xA5);
    std::fs::write(path, &bytes).unwrap();
    let store = SqliteStore::open(path).expect("the damage is past the schema");
    let err = store.counts(SHOP).unwrap_err();
    let Error::Storage(msg) = &err else {
        panic!("expected Storage, got {err:?}")
    };
    assert!(msg.contains("malformed"), "{msg}");
    assert!(msg.contains(path), "names the file: {msg}");
    assert!(msg.contains("backup"), "says what to do: {msg}");
    eprintln!("{msg}");
    let err = store.find(3).unwrap_err();
    assert!(err.message().contains(path), "{err}");
}

/// Set to the queue path when the test re-runs itself as another user.
const READONLY_CHILD: &str = "SFSYNC_TEST_READONLY_DIR_QUEUE";

fn assert_directory_named(path: &str) {
    let msg = storage_message(SqliteStore::open(path));
    let dir = std::path::Path::new(path).parent().unwrap();
    assert!(msg.contains(path), "{msg}");
    assert!(
        msg.contains(&format!("directory {} must be writable", dir.display())),
        "{msg}"
    );
    assert!(msg.contains("-wal"), "{msg}");
}

#[test]
fn a_directory_that_is_not_writable_is_named_as_the_cause() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if let Ok(path) = std::env::var(READONLY_CHILD) {
        assert_directory_named(&path);
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("queue-dir");
    let path = dir.join("queue.sqlite");
    let path_text = path.to_str().unwrap().to_string();
    {
        let store = SqliteStore::open(&path_text).unwrap();
        store
            .upsert_pending(SHOP, 1, SYNC, &snap(4), T0, T0)
            .unwrap();
    }
    assert!(
        !dir.join("queue.sqlite-wal").exists(),
        "closed cleanly: no -wal"
    );
    let chmod = |p: &std::path::Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let root_user = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if root_user {
        // Root writes anywhere: run this test again as `nobody`, owner of
        // the file, in a directory it may only read.
        const NOBODY: u32 = 65534;
        chmod(root.path(), 0o755);
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
        chmod(&dir, 0o555);
        let exe = std::env::current_exe().unwrap();
        let run = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .args([
                "a_directory_that_is_not_writable_is_named_as_the_cause",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(READONLY_CHILD, &path_text)
            .output();
        chmod(&dir, 0o755);
        match run {
            Err(e) => eprintln!("skipped: setpriv unavailable to drop root ({e})"),
            Ok(out) => {
                let stdout = String::from_utf8_lossy(&out.stdout);
                eprintln!(
                    "as nobody: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    out.status.success() && stdout.contains("1 passed"),
                    "as nobody: {stdout}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    } else {
        chmod(&dir, 0o555);
        let outcome = std::panic::catch_unwind(|| assert_directory_named(&path_text));
        chmod(&dir, 0o755);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}
