//! The numbered migrations of the MySQL table (`core/migrations/mysql/`),
//! applied on first use.
//!
//! MySQL commits DDL implicitly, so a migration cannot be one transaction
//! with its version stamp as in SQLite. Instead:
//!
//! - the runner holds `GET_LOCK('<database>.<table>.migrate')` while it
//!   reads the version and applies what is missing: two processes opening a
//!   fresh queue at once apply each migration exactly once (the second one
//!   waits, then finds the version current);
//! - the version lives in the table's `COMMENT` (`shoppingfeed_sync schema
//!   N`), written by the last statement of each migration step, so the
//!   queue stays one table;
//! - every statement of a migration may run again after a crash between it
//!   and the stamp (`CREATE TABLE IF NOT EXISTS`; later migrations must
//!   check `information_schema` before an `ALTER`).
//!
//! A table whose comment carries a version newer than this build's is
//! refused (an older build must not write rows it may misread); a table of
//! that name without our comment is not ours: refused, never altered.

use super::errors::{Failure, Res};
use mysql::prelude::Queryable;
use mysql::Conn;

/// One migration: its number and its statements (`{table}` stands for the
/// table's name), separated by `;` at the end of a line.
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// Every migration, in order. Adding one: a file
/// `core/migrations/mysql/NNNN_name.sql` and a line here.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../../migrations/mysql/0001_queue.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../../migrations/mysql/0002_store_id.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../../migrations/mysql/0003_subject.sql"),
    },
];

/// The version a current table carries.
pub const SCHEMA_VERSION: i64 = 3;

/// MySQL's "Duplicate column name": an `ADD COLUMN` that a migration
/// interrupted before its stamp (DDL commits at once) already did.
const ER_DUP_FIELDNAME: u16 = 1060;

/// What the table's comment says before the version number.
const COMMENT_PREFIX: &str = "shoppingfeed_sync schema ";

/// How long an open waits for another process's migration.
const MIGRATION_LOCK_SECS: u32 = 30;

/// Brings `table` to [`SCHEMA_VERSION`]; returns the versions applied.
pub(super) fn migrate(conn: &mut Conn, database: &str, table: &str) -> Res<Vec<i64>> {
    // Cheap path: a current table needs one indexed read of the data
    // dictionary, no lock.
    if version_of(conn, table)? == Some(SCHEMA_VERSION) {
        return Ok(Vec::new());
    }
    let lock = format!("{database}.{table}.migrate");
    let got: Option<i64> =
        conn.exec_first("SELECT GET_LOCK(?, ?)", (&lock, MIGRATION_LOCK_SECS))?;
    if got != Some(1) {
        return Err(Failure::Data(format!(
            "another process has been creating or migrating the table for \
             {MIGRATION_LOCK_SECS} s; try again"
        )));
    }
    let result = apply_missing(conn, table);
    let released: mysql::Result<Option<i64>> = conn.exec_first("SELECT RELEASE_LOCK(?)", (&lock,));
    let applied = result?;
    released?;
    Ok(applied)
}

fn apply_missing(conn: &mut Conn, table: &str) -> Res<Vec<i64>> {
    let current = version_of(conn, table)?.unwrap_or(0);
    if current > SCHEMA_VERSION {
        return Err(Failure::Data(format!(
            "the table is at schema version {current}, newer than this build's \
             {SCHEMA_VERSION}: install the newer extension on every server"
        )));
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        for statement in statements(migration.sql) {
            match conn.query_drop(statement.replace("{table}", table)) {
                Err(mysql::Error::MySqlError(e)) if e.code == ER_DUP_FIELDNAME => {}
                other => other?,
            }
        }
        conn.query_drop(format!(
            "ALTER TABLE `{table}` COMMENT = '{COMMENT_PREFIX}{}'",
            migration.version
        ))?;
        applied.push(migration.version);
    }
    Ok(applied)
}

/// The version in the table's comment: None when there is no such table;
/// an error when a table of that name is not ours.
fn version_of(conn: &mut Conn, table: &str) -> Res<Option<i64>> {
    let comment: Option<Option<String>> = conn.exec_first(
        "SELECT TABLE_COMMENT FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        (table,),
    )?;
    let Some(comment) = comment else {
        return Ok(None);
    };
    let comment = comment.unwrap_or_default();
    match comment.strip_prefix(COMMENT_PREFIX).map(str::parse::<i64>) {
        Some(Ok(v)) => Ok(Some(v)),
        // A table we created whose stamp was not written yet (a crash in
        // migration 1): its statements are idempotent, run them again.
        None if comment.is_empty() && has_queue_columns(conn, table)? => Ok(Some(0)),
        _ => Err(Failure::Data(format!(
            "a table `{table}` exists that shoppingfeed_sync did not create (its comment is \
             {}): rename it, or choose another prefix",
            crate::text::excerpt(&comment)
        ))),
    }
}

fn has_queue_columns(conn: &mut Conn, table: &str) -> Res<bool> {
    let n: Option<i64> = conn.exec_first(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = ? AND COLUMN_NAME IN ('id_shoppingfeed_order_sync_queue', 'pending_slot', 'live')",
        (table,),
    )?;
    Ok(n == Some(3))
}

/// The statements of a migration file: comments dropped, split at a `;`
/// that ends a line.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            out.push(current.trim().trim_end_matches(';').to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_and_end_at_the_version() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            assert!(!statements(m.sql).is_empty());
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    #[test]
    fn every_migration_file_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/mysql");
        let files = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(
            files,
            MIGRATIONS.len(),
            "a file in {dir} is not in MIGRATIONS"
        );
    }

    #[test]
    fn the_first_migration_creates_the_table() {
        let s = statements(MIGRATIONS[0].sql);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].starts_with("CREATE TABLE IF NOT EXISTS `{table}`"));
        assert!(s[0].contains("ENGINE=InnoDB"));
    }
}
