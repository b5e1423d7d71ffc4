//! What only the MySQL/MariaDB store has: the server's clock shared by web
//! servers whose own clocks differ, migrations raced by many processes and
//! tables it must not touch, connections the server drops, contention
//! between many processes (deadlocks, lock waits, the unique pending key),
//! errors that never show the password, utf8mb4, and `describe()`.
//!
//! The contract shared with the SQLite store is proven by the same tests on
//! both: queue_store*.rs. These tests need a server
//! (`SHOPPINGFEED_TEST_MYSQL_URL`, `bash scripts/mariadb.sh start` then
//! `. target/mariadb/env`); without one they say "skipped: ..." and pass,
//! unless `SHOPPINGFEED_TEST_STORE` is `mysql` or `both`.

#[macro_use]
mod queue_support;

use mysql::prelude::Queryable;
use queue_support::*;
use serde_json::{json, Value};
use sfsync_core::model::{Row, State};
use sfsync_core::queue::mysql::schema::SCHEMA_VERSION;
use sfsync_core::queue::mysql::{Clock, MysqlConfig, MysqlStore};
use sfsync_core::queue::{Change, QueueStore};
use sfsync_core::Error;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const HOUR: i64 = 3600;
const ID: &str = "id_shoppingfeed_order_sync_queue";

/// The caller's clock (this machine's).
fn machine_now() -> i64 {
    sfsync_core::time::now()
}

/// The database server's clock.
fn server_now(conn: &mut mysql::Conn) -> i64 {
    conn.query_first("SELECT UNIX_TIMESTAMP()")
        .expect("UNIX_TIMESTAMP()")
        .expect("a row")
}

/// `actual` is `expected` give or take the few seconds a test takes.
fn near(actual: i64, expected: i64, what: &str) {
    assert!(
        (actual - expected).abs() <= 3,
        "{what}: {actual} is not the server's {expected} (off by {})",
        actual - expected
    );
}

/// The password of the test server: in no message, ever.
fn password(config: &MysqlConfig) -> String {
    std::env::var(PASSWORD_VAR)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| config.password.clone())
}

/// Drops a test's table when the test passes (kept when it fails).
struct Cleanup(MysqlConfig);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            raw_conn(&self.0)
                .query_drop(format!("DROP TABLE IF EXISTS `{}`", self.0.table()))
                .expect("drop the test table");
        }
    }
}

/// A new queue's config (nothing created yet), and its cleanup.
fn fresh_config(url: &str) -> (MysqlConfig, Cleanup) {
    let config = fresh_mysql_config(url);
    (config.clone(), Cleanup(config))
}

fn table_comment(conn: &mut mysql::Conn, table: &str) -> Option<String> {
    conn.exec_first(
        "SELECT TABLE_COMMENT FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        (table,),
    )
    .expect("information_schema")
}

fn show_create(conn: &mut mysql::Conn, table: &str) -> String {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE `{table}`"))
        .expect("SHOW CREATE TABLE");
    row.expect("the table exists").1
}

fn storage_message(result: sfsync_core::Result<MysqlStore>) -> String {
    match result {
        Err(Error::Storage(m)) => m,
        Err(other) => panic!("expected a storage error, got {other:?}"),
        Ok(store) => panic!("expected a refusal, the store opened: {store:?}"),
    }
}

/// The message names the queue's server and database, never the password.
fn assert_names_the_queue(message: &str, config: &MysqlConfig, password: &str) {
    assert!(!message.contains(password), "the password leaks: {message}");
    assert!(
        !message.contains(&config.password) || config.password.len() < 4,
        "the configured password leaks: {message}"
    );
    let server = match &config.socket {
        Some(socket) => socket.clone(),
        None => format!("{}:{}", config.host, config.port),
    };
    assert!(message.contains(&server), "names {server}: {message}");
    assert!(
        message.contains(&format!("/{}", config.database)),
        "names the database {}: {message}",
        config.database
    );
}

// ---------------------------------------------------------------------------
// (a) The server's clock: web servers whose clocks differ by hours.

#[test]
fn web_servers_with_skewed_clocks_agree_on_due_times_and_never_share_a_lease() {
    let Some(url) = mysql_url("web_servers_with_skewed_clocks...") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    // Three web servers of one shop: on time, 3 hours ahead, 5 hours behind.
    let skews = [0, 3 * HOUR, -5 * HOUR];
    let names = ["on-time", "ahead", "behind"];
    let stores: Vec<MysqlStore> = skews
        .iter()
        .map(|_| MysqlStore::open_with(config.clone(), Clock::Server).unwrap())
        .collect();
    let now = |i: usize| machine_now() + skews[i];
    let mut raw = raw_conn(&config);

    // Each saves orders due at once and orders due in 10 minutes, by its
    // own clock.
    let mut due_now = HashSet::new();
    let mut due_later = HashSet::new();
    for (i, store) in stores.iter().enumerate() {
        for k in 0..10 {
            let t = now(i);
            let delay = if k % 2 == 0 { 0 } else { 600 };
            let id = store
                .upsert_pending(SHOP, (i * 100 + k) as i64, SYNC, &snap(4), t + delay, t)
                .unwrap();
            if delay == 0 {
                due_now.insert(id);
            } else {
                due_later.insert(id);
            }
        }
    }
    // Every row's times are the server's, whoever saved it.
    let server = server_now(&mut raw);
    for (i, store) in stores.iter().enumerate() {
        for k in 0..10 {
            let rows = store.find((i * 100 + k) as i64).unwrap();
            assert_eq!(rows.len(), 1);
            let r = &rows[0];
            let delay = if k % 2 == 0 { 0 } else { 600 };
            near(
                r.update_at,
                server + delay,
                &format!("due time saved by {}", names[i]),
            );
            near(r.date_add, server, "date_add");
            near(r.date_upd, server, "date_upd");
        }
    }

    // They claim in turn, each with its own clock: every row due is claimed
    // once, none due later is (the server ahead would think them due), and
    // a live lease is never taken (by its clock, the server ahead would
    // think every other lease over).
    let mut holder: HashMap<i64, usize> = HashMap::new();
    for round in 0.. {
        let mut any = false;
        for (i, store) in stores.iter().enumerate() {
            let t = now(i);
            let rows = store
                .claim(
                    SHOP,
                    SYNC,
                    2,
                    t,
                    t + 300,
                    &format!("{}-{round}", names[i]),
                    None,
                )
                .unwrap();
            for r in &rows {
                assert!(
                    due_now.contains(&r.id),
                    "{} claimed row {} not due",
                    names[i],
                    r.id
                );
                if let Some(other) = holder.insert(r.id, i) {
                    panic!(
                        "row {} leased to {} then to {}",
                        r.id, names[other], names[i]
                    );
                }
            }
            any |= !rows.is_empty();
        }
        if !any {
            break;
        }
    }
    assert_eq!(holder.len(), due_now.len(), "every due row claimed");
    let server = server_now(&mut raw);
    for id in holder.keys() {
        let (_, until): (Option<String>, Option<i64>) = raw
            .query_first(format!(
                "SELECT locked_by, locked_until FROM `{}` WHERE {ID} = {id}",
                config.table()
            ))
            .unwrap()
            .unwrap();
        near(until.unwrap(), server + 300, "lease end");
    }
    // The one ahead, later still by its clock, finds nothing to take.
    let t = now(1) + 400;
    assert!(stores[1]
        .claim(SHOP, SYNC, 100, t, t + 300, "ahead-late", None)
        .unwrap()
        .is_empty());

    // Each settles its own rows: the one ahead retries in 60 s, the one
    // behind defers by 120 s, the one on time sends. Due times: the server's.
    for (i, store) in stores.iter().enumerate() {
        let t = now(i);
        let mine: Vec<i64> = holder
            .iter()
            .filter(|(_, h)| **h == i)
            .map(|(id, _)| *id)
            .collect();
        assert!(!mine.is_empty(), "{} claimed some", names[i]);
        let change = |_: i64| match i {
            0 => Change::Sent {
                batch_id: "b".into(),
            },
            1 => retry(t + 60, false, 5),
            _ => Change::Defer {
                due_at: t + 120,
                message: "later".into(),
            },
        };
        // The token is the round's: apply without the claim guard here.
        let changes: Vec<(i64, Change)> = mine.iter().map(|id| (*id, change(*id))).collect();
        let applied = store.apply(&changes, None, t).unwrap();
        assert_eq!(applied.len(), mine.len());
        let server = server_now(&mut raw);
        for r in store.get(&mine).unwrap() {
            let expected = [0, 60, 120][i];
            near(
                r.update_at,
                server + expected,
                &format!("due time set by {}", names[i]),
            );
            near(r.date_upd, server, "date_upd");
        }
    }
    // Nothing is due yet for anyone (the one ahead would think its retries
    // and the later rows long due), but the sent rows' ticket checks.
    for (i, store) in stores.iter().enumerate() {
        let t = now(i);
        assert!(
            store
                .claim(SHOP, SYNC, 100, t, t + 300, "again", None)
                .unwrap()
                .is_empty(),
            "{} found a row due",
            names[i]
        );
    }
    let t = now(2);
    let checks = stores[2]
        .claim(SHOP, CHECK, 100, t, t + 300, "behind-check", None)
        .unwrap();
    assert_eq!(
        checks.len(),
        holder.values().filter(|h| **h == 0).count(),
        "the sent rows are due at once, even for the one behind"
    );
}

#[test]
fn web_servers_with_skewed_clocks_claiming_at_once_never_share_a_row() {
    let Some(url) = mysql_url("web_servers_with_skewed_clocks_claiming_at_once...") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let setup = MysqlStore::open_with(config.clone(), Clock::Server).unwrap();
    let mut all = HashSet::new();
    for order in 0..300 {
        let t = machine_now();
        all.insert(
            setup
                .upsert_pending(SHOP, order, SYNC, &snap(4), t, t)
                .unwrap(),
        );
    }
    let skews = [0, 3 * HOUR, -5 * HOUR, 11 * HOUR];
    let barrier = Arc::new(Barrier::new(skews.len()));
    let handles: Vec<_> = skews
        .iter()
        .enumerate()
        .map(|(i, skew)| {
            let config = config.clone();
            let barrier = barrier.clone();
            let skew = *skew;
            std::thread::spawn(move || {
                let store = MysqlStore::open_with(config, Clock::Server).unwrap();
                let mut mine = Vec::new();
                barrier.wait();
                for round in 0.. {
                    let t = machine_now() + skew;
                    let token = format!("web{i}-{round}");
                    let rows = store
                        .claim(SHOP, SYNC, 7, t, t + 300, &token, None)
                        .expect("claim");
                    if rows.is_empty() {
                        break;
                    }
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

// ---------------------------------------------------------------------------
// (b) Migrations.

#[test]
fn eight_processes_opening_a_fresh_prefix_apply_each_migration_exactly_once() {
    let Some(url) = mysql_url("eight_processes_opening_a_fresh_prefix...") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let config = config.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let store = MysqlStore::open_with(config, Clock::Server).expect("open");
                let t = machine_now();
                store
                    .upsert_pending(SHOP, i, SYNC, &snap(4), t, t)
                    .expect("save");
                store.applied_migrations().to_vec()
            })
        })
        .collect();
    let mut applied: Vec<Vec<i64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    applied.sort();
    let mut expected = vec![Vec::new(); 7];
    expected.push((1..=SCHEMA_VERSION).collect::<Vec<i64>>());
    assert_eq!(applied, expected);
    let again = MysqlStore::open_with(config.clone(), Clock::Server).unwrap();
    assert!(again.applied_migrations().is_empty());
    assert_eq!(again.table(), config.table());
    assert_eq!(again.counts(SHOP).unwrap(), [8, 0, 0, 0]);
    let mut raw = raw_conn(&config);
    assert_eq!(
        table_comment(&mut raw, &config.table()).as_deref(),
        Some(format!("shoppingfeed_sync schema {SCHEMA_VERSION}").as_str())
    );
}

#[test]
fn a_foreign_table_of_that_name_is_refused_untouched() {
    let Some(url) = mysql_url("a_foreign_table_of_that_name_is_refused_untouched") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let table = config.table();
    let mut raw = raw_conn(&config);
    raw.query_drop(format!(
        "CREATE TABLE `{table}` (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB"
    ))
    .unwrap();
    raw.query_drop(format!("INSERT INTO `{table}` VALUES (1, 'mine')"))
        .unwrap();
    for comment in ["", "orders of the warehouse"] {
        raw.query_drop(format!("ALTER TABLE `{table}` COMMENT = '{comment}'"))
            .unwrap();
        let before = show_create(&mut raw, &table);
        let message = storage_message(MysqlStore::open_with(config.clone(), Clock::Server));
        assert!(message.contains("did not create"), "{message}");
        assert!(message.contains(&format!("`{table}`")), "{message}");
        assert!(message.contains("choose another prefix"), "{message}");
        if !comment.is_empty() {
            assert!(message.contains(comment), "quotes the comment: {message}");
        }
        assert_names_the_queue(&message, &config, &password(&config));
        assert_eq!(
            show_create(&mut raw, &table),
            before,
            "the table is untouched"
        );
        let rows: Vec<(i64, String)> = raw
            .query(format!("SELECT id, note FROM `{table}`"))
            .unwrap();
        assert_eq!(rows, vec![(1, "mine".to_string())]);
    }
}

#[test]
fn a_table_of_a_newer_schema_is_refused_untouched() {
    let Some(url) = mysql_url("a_table_of_a_newer_schema_is_refused_untouched") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let table = config.table();
    let store = MysqlStore::open_with(config.clone(), Clock::Caller).unwrap();
    let id = save(&store, 1, T0, T0);
    drop(store);
    let mut raw = raw_conn(&config);
    let newer = SCHEMA_VERSION + 6;
    raw.query_drop(format!(
        "ALTER TABLE `{table}` COMMENT = 'shoppingfeed_sync schema {newer}'"
    ))
    .unwrap();
    let before = show_create(&mut raw, &table);
    let message = storage_message(MysqlStore::open_with(config.clone(), Clock::Server));
    assert!(
        message.contains(&format!("schema version {newer}")) && message.contains("newer"),
        "{message}"
    );
    assert_names_the_queue(&message, &config, &password(&config));
    assert_eq!(
        show_create(&mut raw, &table),
        before,
        "the table is untouched"
    );
    let ids: Vec<i64> = raw.query(format!("SELECT {ID} FROM `{table}`")).unwrap();
    assert_eq!(ids, vec![id]);
}

#[test]
fn a_version_1_queue_gets_the_store_column_and_keeps_its_rows() {
    let Some(url) = mysql_url("a_version_1_queue_gets_the_store_column_and_keeps_its_rows") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let table = config.table();
    let mut raw = raw_conn(&config);
    // The table as the first release left it, with one pending row.
    let v1 = &sfsync_core::queue::mysql::schema::MIGRATIONS[0];
    for statement in sfsync_core::queue::mysql::schema::statements(v1.sql) {
        raw.query_drop(statement.replace("{table}", &table))
            .unwrap();
    }
    raw.query_drop(format!(
        "ALTER TABLE `{table}` COMMENT = 'shoppingfeed_sync schema 1'"
    ))
    .unwrap();
    raw.query_drop(format!(
        "INSERT INTO `{table}` (id_order, id_shop, action, state, payload, update_at, date_add, date_upd) \
         VALUES (9, {SHOP}, '{SYNC}', 'pending', '{{\"id_order_state\": 4}}', {T0}, {T0}, {T0})"
    ))
    .unwrap();
    let store = MysqlStore::open_with(config.clone(), Clock::Caller).unwrap();
    assert_eq!(store.applied_migrations(), &[2, 3]);
    let rows = store.find(9).unwrap();
    assert_eq!((rows.len(), rows[0].store_id), (1, 0), "untagged");
    assert_eq!(
        rows[0].subject, 0,
        "no subject: one row per order and action"
    );
    // Untagged: any store's claim takes it.
    let claimed = store
        .claim_in(Some(5), SHOP, SYNC, 10, T0, T0 + 300, "five", None)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        table_comment(&mut raw, &table).as_deref(),
        Some(format!("shoppingfeed_sync schema {SCHEMA_VERSION}").as_str())
    );
}

#[test]
fn a_table_whose_stamp_was_never_written_is_completed() {
    // A crash between migration 1's CREATE TABLE and its stamp.
    let Some(url) = mysql_url("a_table_whose_stamp_was_never_written_is_completed") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let table = config.table();
    let store = MysqlStore::open_with(config.clone(), Clock::Caller).unwrap();
    assert_eq!(store.applied_migrations(), &[1, 2, 3]);
    let id = save(&store, 1, T0, T0);
    drop(store);
    let mut raw = raw_conn(&config);
    raw.query_drop(format!("ALTER TABLE `{table}` COMMENT = ''"))
        .unwrap();
    // Every migration runs again: 1 is idempotent, 2's and 3's ADD COLUMN
    // meet "Duplicate column name", which the runner takes as done (3 is
    // one statement: its key change was made with its column).
    let store = MysqlStore::open_with(config.clone(), Clock::Caller).unwrap();
    assert_eq!(store.applied_migrations(), &[1, 2, 3]);
    assert_eq!(row(&store, id).payload, snap(4));
    assert_eq!(
        table_comment(&mut raw, &table).as_deref(),
        Some(format!("shoppingfeed_sync schema {SCHEMA_VERSION}").as_str())
    );
}

// ---------------------------------------------------------------------------
// (c) Connections the server drops.

/// Runs `op` on `store` (in a thread, which hands the store back) while
/// `raw` holds a lock on `locked_row`, and `meanwhile` once the store's
/// statement waits on it; returns the server's id of the store's
/// connection, found by that statement (it names the table).
fn while_waiting_on_a_lock<T: Send + 'static>(
    store: MysqlStore,
    raw: &mut mysql::Conn,
    locked_row: i64,
    op: impl FnOnce(&MysqlStore) -> T + Send + 'static,
    meanwhile: impl FnOnce(&mut mysql::Conn, u64),
) -> (MysqlStore, T, u64) {
    let table = store.table().to_string();
    raw.query_drop("START TRANSACTION").unwrap();
    raw.query_drop(format!(
        "SELECT {ID} FROM `{table}` WHERE {ID} = {locked_row} FOR UPDATE"
    ))
    .unwrap();
    let handle = std::thread::spawn(move || {
        let out = op(&store);
        (store, out)
    });
    let start = Instant::now();
    let id = loop {
        let found: Option<u64> = raw
            .exec_first(
                "SELECT ID FROM information_schema.PROCESSLIST \
                 WHERE ID <> CONNECTION_ID() AND INFO LIKE ?",
                (format!("%{table}%FOR UPDATE%"),),
            )
            .unwrap();
        if let Some(id) = found {
            break id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "the store's statement never waited on the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    meanwhile(raw, id);
    raw.query_drop("COMMIT").unwrap();
    let (store, out) = handle.join().expect("the store's thread");
    (store, out, id)
}

fn connection_is_alive(raw: &mut mysql::Conn, id: u64) -> bool {
    let n: Option<i64> = raw
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?",
            (id,),
        )
        .unwrap();
    n == Some(1)
}

fn kill(raw: &mut mysql::Conn, id: u64) {
    raw.query_drop(format!("KILL CONNECTION {id}")).unwrap();
    let start = Instant::now();
    while connection_is_alive(raw, id) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "connection {id} survives KILL"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_idle_connection_dropped_by_the_server_is_reopened() {
    // What wait_timeout, a server restart or an administrator's KILL do to
    // the connection a PHP process keeps between requests.
    let Some(url) = mysql_url("an_idle_connection_dropped_by_the_server_is_reopened") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let store = MysqlStore::open_with(config.clone(), Clock::Server).unwrap();
    let t = machine_now();
    let id = store.upsert_pending(SHOP, 1, SYNC, &snap(4), t, t).unwrap();
    assert_eq!(store.connections_opened(), 1);
    let mut raw = raw_conn(&config);
    let (store, applied, conn_id) = while_waiting_on_a_lock(
        store,
        &mut raw,
        id,
        move |s| {
            s.apply(&[(id, Change::Release)], Some("nobody"), t)
                .unwrap()
        },
        |_, _| {},
    );
    assert!(applied.is_empty(), "not leased to that claim");
    assert_eq!(store.connections_opened(), 1);
    kill(&mut raw, conn_id);
    // Every kind of call after the drop works, on a new connection.
    assert_eq!(store.counts(SHOP).unwrap(), [1, 0, 0, 0]);
    assert_eq!(store.connections_opened(), 2);
    let rows = store
        .claim(SHOP, SYNC, 10, t, t + 300, "after", None)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(store.connections_opened(), 2);
}

#[test]
fn a_connection_killed_inside_a_change_is_reopened_and_the_change_applied_once() {
    let Some(url) = mysql_url("a_connection_killed_inside_a_change...") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let store = MysqlStore::open_with(config.clone(), Clock::Server).unwrap();
    let t = machine_now();
    let id = store.upsert_pending(SHOP, 1, SYNC, &snap(4), t, t).unwrap();
    assert_eq!(
        store
            .claim(SHOP, SYNC, 10, t, t + 300, "run", None)
            .unwrap()
            .len(),
        1
    );
    let mut raw = raw_conn(&config);
    // The store's apply waits on the row lock; its connection is killed
    // there; the lock is then released.
    let (store, applied, _) = while_waiting_on_a_lock(
        store,
        &mut raw,
        id,
        move |s| {
            s.apply(
                &[(
                    id,
                    Change::Sent {
                        batch_id: "b-1".into(),
                    },
                )],
                Some("run"),
                t,
            )
        },
        |raw, conn_id| {
            raw.query_drop(format!("KILL CONNECTION {conn_id}"))
                .unwrap();
            // Let the store reconnect and wait on the lock again.
            std::thread::sleep(Duration::from_millis(300));
        },
    );
    let applied = applied.expect("the change succeeds on a new connection");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].state, State::Sent);
    assert_eq!(store.connections_opened(), 2);
    let r = row(&store, id);
    assert_eq!(
        (r.state, r.batch_id.as_deref(), r.attempts),
        (State::Sent, Some("b-1"), 0)
    );
    // Applied once: the claim guard refuses a second time.
    assert!(store
        .apply(&[(id, Change::Release)], Some("run"), t)
        .unwrap()
        .is_empty());
}

#[test]
fn a_forgotten_connection_is_left_open_and_a_new_one_used() {
    // A forked child must not end its parent's session.
    let Some(url) = mysql_url("a_forgotten_connection_is_left_open_and_a_new_one_used") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let store = MysqlStore::open_with(config.clone(), Clock::Server).unwrap();
    let t = machine_now();
    let id = store.upsert_pending(SHOP, 1, SYNC, &snap(4), t, t).unwrap();
    let mut raw = raw_conn(&config);
    let (store, _, conn_id) = while_waiting_on_a_lock(
        store,
        &mut raw,
        id,
        move |s| {
            s.apply(&[(id, Change::Release)], Some("nobody"), t)
                .unwrap()
        },
        |_, _| {},
    );
    store.forget_connection();
    assert_eq!(store.counts(SHOP).unwrap(), [1, 0, 0, 0]);
    assert_eq!(store.connections_opened(), 2);
    assert!(
        connection_is_alive(&mut raw, conn_id),
        "the forgotten session is not ended"
    );
    kill(&mut raw, conn_id);
}

#[test]
fn a_claim_that_loses_a_row_while_it_waits_still_fills_its_limit() {
    let Some(url) = mysql_url("a_claim_that_loses_a_row_while_it_waits_still_fills_its_limit")
    else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let store = MysqlStore::open_with(config.clone(), Clock::Caller).unwrap();
    let ids: Vec<i64> = (1..=6).map(|o| save(&store, o, T0 + o, T0)).collect();
    let mut raw = raw_conn(&config);
    let table = config.table();
    // Another run holds the oldest row while this claim reads, and leases
    // it before it lets go.
    let (store, got, _) = while_waiting_on_a_lock(
        store,
        &mut raw,
        ids[0],
        |s| {
            s.claim(SHOP, SYNC, 3, T0 + 10, T0 + 310, "mine", None)
                .unwrap()
        },
        |raw, _| {
            raw.query_drop(format!(
                "UPDATE `{table}` SET locked_by = 'other', locked_until = {} WHERE {ID} = {}",
                T0 + 300,
                ids[0]
            ))
            .unwrap();
        },
    );
    let got: Vec<i64> = got.iter().map(|r| r.id).collect();
    assert_eq!(
        got,
        vec![ids[1], ids[2], ids[3]],
        "three rows, oldest first"
    );
    let leases: Vec<(i64, Option<String>)> = raw
        .query(format!(
            "SELECT {ID}, locked_by FROM `{table}` ORDER BY {ID}"
        ))
        .unwrap();
    let by = |who: &str| Some(who.to_string());
    let expected: Vec<(i64, Option<String>)> = vec![
        (ids[0], by("other")),
        (ids[1], by("mine")),
        (ids[2], by("mine")),
        (ids[3], by("mine")),
        (ids[4], None),
        (ids[5], None),
    ];
    assert_eq!(leases, expected);
    drop(store);
}

// ---------------------------------------------------------------------------
// (d) Contention.

/// A tiny deterministic generator (the tests need no dependency for it).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn eight_processes_on_the_same_orders_never_see_contention() {
    let Some(url) = mysql_url("eight_processes_on_the_same_orders_never_see_contention") else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    drop(MysqlStore::open_with(config.clone(), Clock::Server).unwrap());
    const THREADS: usize = 8;
    const STEPS: usize = 120;
    const ORDERS: u64 = 3;
    let password = password(&config);
    // Row -> the claim holding it, as the threads see it: a claim that
    // gets a row another claim holds is a broken lease.
    let held: Arc<Mutex<HashMap<i64, String>>> = Arc::default();
    let broken: Arc<Mutex<Vec<String>>> = Arc::default();
    let barrier = Arc::new(Barrier::new(THREADS));
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let config = config.clone();
            let held = held.clone();
            let broken = broken.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || -> Result<usize, String> {
                let store =
                    MysqlStore::open_with(config, Clock::Server).map_err(|e| e.to_string())?;
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0x1234_5678));
                let mut ops = 0usize;
                barrier.wait();
                for step in 0..STEPS {
                    let now = machine_now();
                    let order = 1 + rng.below(ORDERS) as i64;
                    let fail = |op: &'static str| {
                        move |e: Error| format!("thread {t} step {step} {op}: {e}")
                    };
                    match rng.below(10) {
                        0..=3 => {
                            let payload = json!({"id_order_state": 4, "by": t, "step": step});
                            store
                                .upsert_pending(SHOP, order, SYNC, &payload, now, now)
                                .map_err(fail("save"))?;
                        }
                        4 => {
                            store
                                .retry_failed(SHOP, Some(&[order]), now)
                                .map_err(fail("retry_failed"))?;
                        }
                        5 if t == 0 => {
                            store.purge_done(now + 10).map_err(fail("purge_done"))?;
                        }
                        _ => {
                            let action = if rng.below(3) == 0 { CHECK } else { SYNC };
                            let token = format!("t{t}-{step}");
                            let only = (rng.below(4) == 0).then(|| {
                                store
                                    .find(order)
                                    .ok()
                                    .and_then(|rows| rows.last().map(|r| r.id))
                            });
                            let rows = store
                                .claim(SHOP, action, 3, now, now + 600, &token, only.flatten())
                                .map_err(fail("claim"))?;
                            {
                                let mut held = held.lock().unwrap();
                                for r in &rows {
                                    if let Some(other) = held.insert(r.id, token.clone()) {
                                        broken.lock().unwrap().push(format!(
                                            "row {} claimed by {token} while {other} held it",
                                            r.id
                                        ));
                                    }
                                }
                            }
                            let changes: Vec<(i64, Change)> = rows
                                .iter()
                                .flat_map(|r| {
                                    let settle = match rng.below(6) {
                                        0 => Change::Sent {
                                            batch_id: format!("b{t}-{step}"),
                                        },
                                        1 => Change::Done { message: None },
                                        2 => retry(now, rng.below(2) == 0, 3),
                                        3 => Change::Release,
                                        4 => Change::Defer {
                                            due_at: now,
                                            message: "later".into(),
                                        },
                                        _ => Change::Failed {
                                            message: "no".into(),
                                        },
                                    };
                                    [(r.id, Change::SetOperation(None)), (r.id, settle)]
                                })
                                .collect();
                            // Released before the changes commit: no other
                            // claim can get the rows until then.
                            {
                                let mut held = held.lock().unwrap();
                                for r in &rows {
                                    held.remove(&r.id);
                                }
                            }
                            let applied = store
                                .apply(&changes, Some(&token), now)
                                .map_err(fail("apply"))?;
                            if applied.len() != changes.len() {
                                return Err(format!(
                                    "thread {t} step {step}: {} of {} changes applied",
                                    applied.len(),
                                    changes.len()
                                ));
                            }
                        }
                    }
                    ops += 1;
                }
                Ok(ops)
            })
        })
        .collect();
    let mut errors = Vec::new();
    let mut ops = 0;
    for h in handles {
        match h.join().expect("thread") {
            Ok(n) => ops += n,
            Err(e) => errors.push(e),
        }
    }
    let took = start.elapsed();
    eprintln!("{ops} operations by {THREADS} threads in {took:?}");
    for e in &errors {
        assert!(!e.contains(&password), "the password leaks: {e}");
    }
    assert!(errors.is_empty(), "errors surfaced: {errors:#?}");
    let broken = broken.lock().unwrap();
    assert!(broken.is_empty(), "{broken:#?}");

    // Settled and saved once more: exactly one unclaimed pending row per
    // order, with the last snapshot; no lease left.
    let store = MysqlStore::open_with(config.clone(), Clock::Server).unwrap();
    let now = machine_now();
    for order in 1..=ORDERS as i64 {
        store
            .upsert_pending(SHOP, order, SYNC, &json!({"last": order}), now, now)
            .unwrap();
    }
    let mut raw = raw_conn(&config);
    let table = config.table();
    let slots: Vec<(i64, String, i64)> = raw
        .query(format!(
            "SELECT id_order, action, COUNT(*) FROM `{table}` \
             WHERE state = 'pending' AND locked_by IS NULL GROUP BY id_order, action \
             ORDER BY id_order, action"
        ))
        .unwrap();
    let expected: Vec<(i64, String, i64)> = (1..=ORDERS as i64)
        .map(|o| (o, SYNC.to_string(), 1))
        .collect();
    assert_eq!(slots, expected);
    let leased: Option<i64> = raw
        .query_first(format!(
            "SELECT COUNT(*) FROM `{table}` WHERE locked_by IS NOT NULL AND state IN ('pending', 'sent')"
        ))
        .unwrap();
    assert_eq!(leased, Some(0), "every claim was settled");
    for order in 1..=ORDERS as i64 {
        let pending: Vec<Row> = store
            .find(order)
            .unwrap()
            .into_iter()
            .filter(|r| r.state == State::Pending)
            .collect();
        assert_eq!(pending.len(), 1, "order {order}: {pending:?}");
        assert_eq!(pending[0].payload, json!({"last": order}));
    }
}

// ---------------------------------------------------------------------------
// (e) Errors never show the password.

#[test]
fn errors_name_the_server_and_database_never_the_password() {
    let Some(url) = mysql_url("errors_name_the_server_and_database_never_the_password") else {
        return;
    };
    let base = MysqlConfig::from_url(&url).unwrap();
    let password = password(&base);
    assert!(
        password.len() >= 4,
        "the test password is long enough to look for"
    );

    // A wrong password (which holds the right one).
    let wrong = MysqlConfig {
        password: format!("{password}-wrong"),
        ..base.clone()
    };
    let message = storage_message(MysqlStore::open(wrong.clone()));
    assert_names_the_queue(&message, &wrong, &password);
    assert!(message.contains("check the user and password"), "{message}");

    // An unknown database.
    let nowhere = MysqlConfig {
        database: format!(
            "{}_nope_{}",
            base.database,
            unique_prefix().trim_end_matches('_')
        ),
        ..base.clone()
    };
    let message = storage_message(MysqlStore::open(nowhere.clone()));
    assert_names_the_queue(&message, &nowhere, &password);
    assert!(
        message.contains("does not exist") || message.contains("1044"),
        "{message}"
    );

    // A closed port: at once.
    let closed = MysqlConfig {
        host: "127.0.0.1".into(),
        port: 1,
        socket: None,
        ..base.clone()
    };
    let start = Instant::now();
    let message = storage_message(MysqlStore::open(closed.clone()));
    assert!(
        start.elapsed() < Duration::from_millis(3500),
        "{:?}",
        start.elapsed()
    );
    assert_names_the_queue(&message, &closed, &password);
    assert!(message.contains("reachable"), "{message}");

    // A host that never answers (TEST-NET-1): within the connect timeout.
    let silent = MysqlConfig {
        host: "192.0.2.1".into(),
        port: 3306,
        socket: None,
        ..base.clone()
    };
    let start = Instant::now();
    let message = storage_message(MysqlStore::open(silent.clone()));
    let took = start.elapsed();
    eprintln!("a silent host: refused after {took:?}: {message}");
    assert!(took < Duration::from_millis(3500), "{took:?}: {message}");
    assert_names_the_queue(&message, &silent, &password);

    // Through the socket, when the server has one.
    if let Ok(socket) = std::env::var("SHOPPINGFEED_TEST_MYSQL_SOCKET") {
        let by_socket = MysqlConfig {
            socket: Some(socket),
            password: format!("{password}-wrong"),
            ..base.clone()
        };
        let message = storage_message(MysqlStore::open(by_socket.clone()));
        assert_names_the_queue(&message, &by_socket, &password);
    }

    // A foreign table.
    let (config, _cleanup) = fresh_config(&url);
    let mut raw = raw_conn(&config);
    raw.query_drop(format!(
        "CREATE TABLE `{}` (x INT) ENGINE=InnoDB",
        config.table()
    ))
    .unwrap();
    let message = storage_message(MysqlStore::open(config.clone()));
    assert_names_the_queue(&message, &config, &password);
    assert!(message.contains(&config.table()), "{message}");

    // A table dropped under an open store: every call says where.
    let (config, _cleanup) = fresh_config(&url);
    let store = MysqlStore::open(config.clone()).unwrap();
    let mut raw = raw_conn(&config);
    raw.query_drop(format!("DROP TABLE `{}`", config.table()))
        .unwrap();
    let t = machine_now();
    let errors: Vec<Error> = vec![
        store
            .upsert_pending(SHOP, 1, SYNC, &snap(4), t, t)
            .unwrap_err(),
        store
            .claim(SHOP, SYNC, 1, t, t + 300, "c", None)
            .unwrap_err(),
        store.apply(&[(1, Change::Release)], None, t).unwrap_err(),
        store.get(&[1]).unwrap_err(),
        store.find(1).unwrap_err(),
        store.counts(SHOP).unwrap_err(),
        store.retry_failed(SHOP, None, t).unwrap_err(),
        store.purge_done(t).unwrap_err(),
    ];
    for e in errors {
        let Error::Storage(message) = &e else {
            panic!("expected a storage error, got {e:?}")
        };
        assert_names_the_queue(message, &config, &password);
        assert!(message.contains(&config.table()), "{message}");
    }
    assert!(!format!("{store:?} {config:?}").contains(&password));
}

// ---------------------------------------------------------------------------
// (f) utf8mb4, byte for byte.

#[test]
fn utf8mb4_payloads_and_texts_round_trip_byte_for_byte() {
    let Some(_) = mysql_url("utf8mb4_payloads_and_texts_round_trip_byte_for_byte") else {
        return;
    };
    let store = fresh(Kind::Mysql);
    let mut big = String::with_capacity(1 << 20);
    while big.len() < (1 << 20) {
        big.push_str("😀é漢\u{0}a𝄞\"\\\n");
    }
    let payloads: Vec<Value> = vec![
        json!({
            "emoji": "😀👍🏽🇫🇷🧑‍🤝‍🧑", "nul": "a\u{0}b\u{0}", "mixed": "é漢字𝄞ß",
            "controls": "\u{1}\u{1f}\t\n\r\"\\/", "edges": "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
            "🔑": ["clé", {"ключ": "值"}], "big": 9_007_199_254_740_993_i64, "float": 1.25,
        }),
        json!({"id_order_state": 4, "notes": big, "list": (0..2000).collect::<Vec<i64>>()}),
    ];
    let mut raw = raw_conn(match &store.place {
        Place::Mysql { config, .. } => config,
        Place::Sqlite(_) => unreachable!(),
    });
    let table = store.table();
    for (order, payload) in payloads.iter().enumerate() {
        let order = order as i64 + 1;
        let text = serde_json::to_string(payload).unwrap();
        let id = store
            .upsert_pending(SHOP, order, SYNC, payload, T0, T0)
            .unwrap();
        // Stored as written.
        let stored: Vec<u8> = raw
            .query_first(format!("SELECT payload FROM `{table}` WHERE {ID} = {id}"))
            .unwrap()
            .unwrap();
        assert!(
            stored == text.as_bytes(),
            "order {order}: the stored text differs"
        );
        // Read back by every path, byte for byte.
        let got = store.get(&[id]).unwrap();
        let found = store.find(order).unwrap();
        let claimed = store
            .claim(SHOP, SYNC, 10, T0, T0 + 300, "run", Some(id))
            .unwrap();
        for rows in [got, found, claimed] {
            assert_eq!(rows.len(), 1);
            assert!(
                serde_json::to_string(&rows[0].payload).unwrap() == text,
                "order {order}: the payload read back differs"
            );
        }
    }
    // Texts of the row: the claim token, batch and ticket ids, messages.
    let token = "run-😀-\u{0}-é";
    let id = store
        .upsert_pending(SHOP, 9, SYNC, &payloads[0], T0, T0)
        .unwrap();
    store
        .claim(SHOP, SYNC, 10, T0, T0 + 300, token, Some(id))
        .unwrap();
    assert_eq!(store.lease_of(id).0.as_deref(), Some(token));
    let batch = "lot-🇫🇷-\u{0}-\"'\\";
    let ticket = "tk-漢字-𝄞";
    let message = "échec 😀 \u{0} 'quoted' \\ \"x\" ; DROP TABLE x; --";
    let applied = store
        .apply(
            &[(
                id,
                Change::Sent {
                    batch_id: batch.into(),
                },
            )],
            Some(token),
            T0,
        )
        .unwrap();
    assert_eq!(applied.len(), 1);
    store
        .claim(SHOP, CHECK, 10, T0, T0 + 300, token, Some(id))
        .unwrap();
    store
        .apply(
            &[
                (id, Change::SetTicket(ticket.into())),
                (
                    id,
                    Change::Failed {
                        message: message.into(),
                    },
                ),
            ],
            Some(token),
            T0,
        )
        .unwrap();
    let r = row(&*store, id);
    assert_eq!(r.batch_id.as_deref(), Some(batch));
    assert_eq!(r.ticket_id.as_deref(), Some(ticket));
    assert_eq!(r.last_error.as_deref(), Some(message));
    assert_eq!(r.state, State::Failed);
}

// ---------------------------------------------------------------------------
// (g) describe().

#[test]
fn describe_names_the_server_version_and_table_not_the_password() {
    let Some(url) = mysql_url("describe_names_the_server_version_and_table_not_the_password")
    else {
        return;
    };
    let (config, _cleanup) = fresh_config(&url);
    let store = MysqlStore::open(config.clone()).unwrap();
    let mut raw = raw_conn(&config);
    let version: String = raw.query_first("SELECT VERSION()").unwrap().unwrap();
    let text = store.describe();
    assert!(text.contains("MySQL") || text.contains("MariaDB"), "{text}");
    assert!(
        text.contains(&version),
        "names the version {version}: {text}"
    );
    if version.contains("MariaDB") {
        assert!(text.contains("MariaDB"), "{text}");
    }
    assert!(text.contains(&config.table()), "{text}");
    assert!(text.contains(&config.database), "{text}");
    assert!(
        text.contains(&format!("{}:{}", config.host, config.port)),
        "{text}"
    );
    let password = password(&config);
    assert!(!text.contains(&password), "{text}");
    assert!(!format!("{store:?}").contains(&password));
    // Through the trait, as phpinfo() asks.
    let boxed: Box<dyn QueueStore> = Box::new(store);
    assert_eq!(boxed.describe(), text);
}
