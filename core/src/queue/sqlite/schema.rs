//! The queue's schema, as numbered migrations, and what an opened file must
//! hold before anything is written to it.
//!
//! # The schema
//!
//! One table, `shoppingfeed_order`, dates in Unix seconds, `payload` as JSON
//! text, and three indexes:
//!
//! - `shoppingfeed_order_claim (id_shop, action, update_at) WHERE state IN
//!   ('pending', 'sent')`: a partial index holding only the live rows, in
//!   claim order (the rowid completes the key, so `ORDER BY update_at, id`
//!   needs no sort); done and failed rows, the bulk of an old queue, never
//!   slow a claim down.
//! - `shoppingfeed_order_order (id_order, id_shop, action)`: the upsert
//!   lookup, the supersede check and `find()`.
//! - `shoppingfeed_order_state (state, id_shop)`: `counts()` (a covering
//!   index), `retry_failed()` and `purge_done()`.
//!
//! The statements name their index (`INDEXED BY`): without `ANALYZE`
//! statistics SQLite may otherwise prefer `(state, id_shop)` for a lookup by
//! order, a full scan of the shop's rows. The hot statements also avoid
//! `ORDER BY` (with a bound parameter in the `WHERE`, the bundled SQLite
//! re-prepares such a statement at every new binding) and `RETURNING` (a
//! temporary b-tree per call).
//!
//! # Migrations
//!
//! Each version of the schema is one SQL file, `core/migrations/sqlite/NNNN_name.sql`,
//! compiled in ([`MIGRATIONS`]); the file records the version it has
//! reached in `PRAGMA user_version` (the first release wrote 1: its files
//! are migration 1 applied). Opening a file older than the code applies
//! the missing migrations in order, then stamps the version, all in one
//! `BEGIN IMMEDIATE` transaction in which the version is read again: when
//! several processes open a fresh or older queue at the same moment, one
//! migrates it and the others, waiting for the lock, find it current and
//! apply nothing. A migration never runs twice, so it may `ALTER TABLE`.
//!
//! To add a column: write `0002_what.sql` (no `BEGIN`/`COMMIT`, no
//! `user_version`: the runner does both) and add one line to
//! [`MIGRATIONS`]. What each version must hold (tables, columns, indexes)
//! is learnt by applying the migrations to an in-memory database, never
//! written down twice.
//!
//! # What is refused
//!
//! A file is never stamped with a version it does not hold. Refused
//! untouched, with a message naming the file: a database newer than the
//! code; a file holding other tables than the queue's (another
//! application's database); a queue table lacking columns or indexes of
//! its version. One gap is completed instead, because it is safe: a table
//! lacking only the lease columns (`locked_by`, `locked_until`: nullable,
//! and NULL means "not claimed", which is what such a table's rows are)
//! gets them added, whether it is unstamped or was stamped 1 by a release
//! that did not check.

use super::connection::{retry_busy, WriteTx};
use super::errors::{Failure, Res};
use crate::error::Error;
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

/// One version of the schema: the SQL that brings the previous version to
/// this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The `user_version` a file has once this migration is applied.
    pub version: i64,
    /// The file's name without `.sql` (`0001_queue`).
    pub name: &'static str,
    pub sql: &'static str,
}

/// A migration compiled in from `core/migrations/sqlite/<name>.sql`.
macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/sqlite/",
                $name,
                ".sql"
            )),
        }
    };
}

/// Every migration, in order; versions count from 1 without a gap.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_queue"),
    migration!(2, "0002_store_id"),
    migration!(3, "0003_subject"),
];

/// The schema version this store writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The queue's table.
const TABLE: &str = "shoppingfeed_order";

/// Columns that a table from before them may get added: nullable, no
/// default, NULL meaning "not claimed".
const LEASE_COLUMNS: &[(&str, &str)] = &[("locked_by", "TEXT"), ("locked_until", "INTEGER")];

/// What a file holds, as far as the schema goes (SQLite's own `sqlite_*`
/// tables and automatic indexes left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Shape {
    version: i64,
    tables: BTreeSet<String>,
    indexes: BTreeSet<String>,
    /// The queue table's columns (empty without the table).
    columns: BTreeSet<String>,
}

fn shape_of(conn: &Connection) -> rusqlite::Result<Shape> {
    let mut shape = Shape {
        version: conn.query_row("PRAGMA user_version", [], |r| r.get(0))?,
        ..Shape::default()
    };
    let mut stmt = conn.prepare(
        "SELECT type, name FROM sqlite_master
         WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (kind, name): (String, String) = (r.get(0)?, r.get(1)?);
        if kind == "table" {
            shape.tables.insert(name);
        } else {
            shape.indexes.insert(name);
        }
    }
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let mut rows = stmt.query([TABLE])?;
    while let Some(r) = rows.next()? {
        shape.columns.insert(r.get(0)?);
    }
    Ok(shape)
}

/// What each version holds (index = version, 0: nothing), learnt by
/// applying `migrations` to an in-memory database.
fn shapes_of(migrations: &[Migration]) -> Result<Vec<Shape>, String> {
    let conn = Connection::open_in_memory().map_err(|e| e.to_string())?;
    let mut shapes = vec![Shape::default()];
    for (at, m) in migrations.iter().enumerate() {
        if m.version != at as i64 + 1 {
            return Err(format!(
                "migration {} is numbered {}, expected {}",
                m.name,
                m.version,
                at + 1
            ));
        }
        conn.execute_batch(m.sql).map_err(|e| {
            format!(
                "migration {} does not apply to an empty database: {e}",
                m.name
            )
        })?;
        let mut shape = shape_of(&conn).map_err(|e| e.to_string())?;
        shape.version = m.version;
        shapes.push(shape);
    }
    Ok(shapes)
}

/// [`shapes_of`] the compiled-in migrations, once per process.
fn expected() -> Res<&'static [Shape]> {
    static SHAPES: OnceLock<Result<Vec<Shape>, String>> = OnceLock::new();
    match SHAPES.get_or_init(|| shapes_of(MIGRATIONS)) {
        Ok(shapes) => Ok(shapes),
        Err(e) => Err(Failure::Data(format!("the built-in schema is broken: {e}"))),
    }
}

/// What opening a file must do to its schema.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Nothing: the file holds its version, and that is the latest.
    Current,
    /// Add these lease columns, then apply the migrations after `from`.
    Upgrade {
        from: i64,
        add: Vec<(&'static str, &'static str)>,
    },
}

fn listed<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    names
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decides what to do with a file of this shape, or refuses it with a
/// message naming `path` (`expected`: [`shapes_of`] the migrations).
fn plan(found: &Shape, path: &str, expected: &[Shape]) -> Result<Plan, Error> {
    let latest = expected.len() as i64 - 1;
    let ours = &expected[expected.len() - 1].tables;
    let foreign: Vec<&String> = found.tables.difference(ours).collect();
    let has_table = found.tables.contains(TABLE);
    if !foreign.is_empty() && (found.version == 0 || !has_table) {
        return Err(Error::storage(format!(
            "shoppingfeed_sync.database: {path} is not a shoppingfeed_sync queue: it holds other \
             tables ({}); the queue is never added to another application's database: point \
             shoppingfeed_sync.database at a file of its own (it is created if missing)",
            listed(foreign)
        )));
    }
    if found.version > latest {
        return Err(Error::storage(format!(
            "shoppingfeed_sync.database: {path} has schema version {}, newer than this \
             extension's {latest}: upgrade the extension",
            found.version
        )));
    }
    if !has_table {
        if found.version == 0 {
            return Ok(Plan::Upgrade {
                from: 0,
                add: Vec::new(),
            });
        }
        return Err(Error::storage(format!(
            "shoppingfeed_sync.database: {path} says schema version {} but holds no {TABLE} \
             table: it is damaged or not a shoppingfeed_sync queue; move it away so that a new \
             queue is created",
            found.version
        )));
    }
    // An unstamped table (version 0) must hold what version 1 has.
    let version = found.version.max(1);
    let want = &expected[version as usize];
    let mut add = Vec::new();
    let mut lacking = Vec::new();
    for column in want.columns.difference(&found.columns) {
        match LEASE_COLUMNS.iter().find(|(name, _)| name == column) {
            Some(lease) => add.push(*lease),
            None => lacking.push(column),
        }
    }
    if !lacking.is_empty() {
        return Err(Error::storage(format!(
            "shoppingfeed_sync.database: {path}: the {TABLE} table lacks the columns {} of \
             schema version {version} (the file says {}): it was not made by shoppingfeed_sync \
             or is damaged, so it is left untouched; move it away so that a new queue is \
             created",
            listed(lacking),
            found.version
        )));
    }
    if found.version >= 1 {
        let missing: Vec<&String> = want.indexes.difference(&found.indexes).collect();
        if !missing.is_empty() {
            return Err(Error::storage(format!(
                "shoppingfeed_sync.database: {path}: the {TABLE} table lacks the indexes {} of \
                 schema version {version}: the file is damaged, so it is left untouched; move \
                 it away so that a new queue is created",
                listed(missing)
            )));
        }
    }
    if found.version == latest && add.is_empty() {
        return Ok(Plan::Current);
    }
    Ok(Plan::Upgrade {
        from: found.version,
        add,
    })
}

/// Refuses, before anything is written, a file that opening must not touch
/// (see "What is refused").
pub(super) fn refuse_unusable(conn: &Connection, path: &str, busy_wait: Duration) -> Res<()> {
    let found = retry_busy(busy_wait, || Ok(shape_of(conn)?))?;
    plan(&found, path, expected()?)?;
    Ok(())
}

/// Brings the file to [`SCHEMA_VERSION`]. Returns the versions applied
/// (empty: it was current).
pub(super) fn migrate(conn: &Connection, path: &str, busy_wait: Duration) -> Res<Vec<i64>> {
    migrate_with(conn, path, busy_wait, MIGRATIONS, expected()?)
}

fn migrate_with(
    conn: &Connection,
    path: &str,
    busy_wait: Duration,
    migrations: &[Migration],
    expected: &[Shape],
) -> Res<Vec<i64>> {
    // A look without the lock first: most opens find a current queue and
    // write nothing.
    let found = retry_busy(busy_wait, || Ok(shape_of(conn)?))?;
    if plan(&found, path, expected)? == Plan::Current {
        return Ok(Vec::new());
    }
    retry_busy(busy_wait, || {
        let tx = WriteTx::begin(conn)?;
        // Looked at again under the write lock: another process may have
        // migrated the file since, and what it did must not be done twice.
        let found = shape_of(conn)?;
        let (from, add) = match plan(&found, path, expected)? {
            Plan::Current => return Ok(Vec::new()),
            Plan::Upgrade { from, add } => (from, add),
        };
        for (name, kind) in add {
            conn.execute_batch(&format!("ALTER TABLE {TABLE} ADD COLUMN {name} {kind}"))?;
        }
        let mut applied = Vec::new();
        for m in migrations.iter().filter(|m| m.version > from) {
            conn.execute_batch(m.sql)
                .map_err(|e| Failure::Data(format!("schema migration {} failed: {e}", m.name)))?;
            conn.pragma_update(None, "user_version", m.version)?;
            applied.push(m.version);
        }
        tx.commit()?;
        Ok(applied)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(
            files, listed,
            "a file in {dir} not in MIGRATIONS, or the reverse"
        );
        for (at, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, at as i64 + 1, "{}", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
            for word in ["BEGIN", "COMMIT", "user_version"] {
                let code: String = m
                    .sql
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect();
                assert!(!code.contains(word), "{} must not contain {word}", m.name);
            }
        }
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    }

    #[test]
    fn version_1_holds_the_first_release_s_table_and_indexes() {
        let shapes = expected().unwrap();
        let v1 = &shapes[1];
        assert_eq!(listed(&v1.tables), TABLE);
        assert_eq!(
            listed(&v1.indexes),
            "shoppingfeed_order_claim, shoppingfeed_order_order, shoppingfeed_order_state"
        );
        assert_eq!(v1.columns.len(), 17);
        for (lease, _) in LEASE_COLUMNS {
            assert!(v1.columns.contains(*lease));
        }
    }

    #[test]
    fn a_misnumbered_migration_list_is_caught() {
        let list = [Migration {
            version: 2,
            ..MIGRATIONS[0]
        }];
        assert!(shapes_of(&list).unwrap_err().contains("expected 1"));
    }

    /// The built-in migrations and one more (the next version).
    fn with_next() -> Vec<Migration> {
        let mut list = MIGRATIONS.to_vec();
        list.push(Migration {
            version: SCHEMA_VERSION + 1,
            name: "next_test_note",
            // Not idempotent: applied twice, it fails ("duplicate column").
            sql: "ALTER TABLE shoppingfeed_order ADD COLUMN test_note TEXT;",
        });
        list
    }

    /// `threads` connections migrate `path` with `migrations` at the same
    /// moment; returns what each applied.
    fn migrate_at_once(path: &str, threads: usize, migrations: &[Migration]) -> Vec<Vec<i64>> {
        let expected = Arc::new(shapes_of(migrations).unwrap());
        let migrations = Arc::new(migrations.to_vec());
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (path, expected, migrations, barrier) = (
                    path.to_string(),
                    expected.clone(),
                    migrations.clone(),
                    barrier.clone(),
                );
                std::thread::spawn(move || {
                    let conn = Connection::open(&path).unwrap();
                    conn.busy_timeout(Duration::from_secs(10)).unwrap();
                    barrier.wait();
                    migrate_with(
                        &conn,
                        &path,
                        Duration::from_secs(10),
                        &migrations,
                        &expected,
                    )
                    .map_err(|f| f.in_queue(&path))
                    .expect("migrate")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn concurrent_openers_apply_each_migration_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        // A fresh file: every migration, each once in all.
        let fresh = dir.path().join("fresh.sqlite");
        let fresh = fresh.to_str().unwrap();
        let mut all: Vec<i64> = migrate_at_once(fresh, 8, &with_next()).concat();
        all.sort();
        let next = SCHEMA_VERSION + 1;
        assert_eq!(all, (1..=next).collect::<Vec<i64>>());
        // A current queue: the next one, once.
        let old = dir.path().join("old.sqlite");
        let old = old.to_str().unwrap();
        drop(super::super::SqliteStore::open(old).unwrap());
        let all: Vec<i64> = migrate_at_once(old, 8, &with_next()).concat();
        assert_eq!(all, vec![next]);
        let conn = Connection::open(old).unwrap();
        let shape = shape_of(&conn).unwrap();
        assert_eq!(shape.version, next);
        assert!(shape.columns.contains("test_note"));
        // Reopened by a later process: nothing more.
        assert_eq!(
            migrate_at_once(old, 1, &with_next()),
            vec![Vec::<i64>::new()]
        );
    }

    #[test]
    fn plans() {
        let shapes = expected().unwrap();
        let current = &shapes[SCHEMA_VERSION as usize];
        assert_eq!(plan(current, "q", shapes).unwrap(), Plan::Current);
        let mut found = shapes[1].clone();
        assert_eq!(
            plan(&found, "q", shapes).unwrap(),
            Plan::Upgrade {
                from: 1,
                add: vec![]
            },
            "a version-1 queue gets the later migrations"
        );
        found.version = 0;
        assert_eq!(
            plan(&found, "q", shapes).unwrap(),
            Plan::Upgrade {
                from: 0,
                add: vec![]
            },
            "an unstamped table of version 1 is migration 1 applied"
        );
        found.columns.remove("locked_until");
        assert_eq!(
            plan(&found, "q", shapes).unwrap(),
            Plan::Upgrade {
                from: 0,
                add: vec![("locked_until", "INTEGER")]
            }
        );
        found.columns.remove("payload");
        let err = plan(&found, "q", shapes).unwrap_err();
        assert!(err.message().contains("lacks the columns payload"), "{err}");
        let mut stamped = shapes[1].clone();
        stamped.indexes.remove("shoppingfeed_order_claim");
        let err = plan(&stamped, "q", shapes).unwrap_err();
        assert!(err.message().contains("shoppingfeed_order_claim"), "{err}");
        assert_eq!(
            plan(&Shape::default(), "q", shapes).unwrap(),
            Plan::Upgrade {
                from: 0,
                add: vec![]
            },
            "an empty file"
        );
    }
}
