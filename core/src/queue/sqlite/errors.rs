//! What a failure of the SQLite store says. Every message names the queue's
//! path (a shop may run several queues, and "database disk image is
//! malformed" alone leaves the merchant guessing which file), and the
//! SQLite errors that a merchant can fix say what to do.
//!
//! Inside the store, functions return [`Res`]: a [`Failure`] keeps SQLite's
//! error code until the boundary ([`SqliteStore::named`](super::SqliteStore),
//! or the open) turns it into an [`Error::Storage`].

use crate::error::Error;
use rusqlite::ffi;
use rusqlite::ErrorCode;
use std::path::Path;

pub(super) type Res<T> = std::result::Result<T, Failure>;

#[derive(Debug)]
pub(super) enum Failure {
    /// SQLite failed.
    Sql(rusqlite::Error),
    /// The queue holds something this code cannot read (e.g. a row's
    /// state); the message says what, without the path.
    Data(String),
    /// A complete message already (a refusal while opening).
    Refused(Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Refused(e)
    }
}

impl Failure {
    /// True when another connection holds the lock (worth waiting for).
    pub(super) fn is_busy(&self) -> bool {
        matches!(
            self,
            Failure::Sql(e) if matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            )
        )
    }

    /// The error of a call on an open queue.
    pub(super) fn in_queue(self, path: &str) -> Error {
        match self {
            Failure::Sql(e) => Error::storage(format!(
                "shoppingfeed_sync queue {path}: {e}{}",
                advice(path, &e)
            )),
            Failure::Data(message) => {
                Error::storage(format!("shoppingfeed_sync queue {path}: {message}"))
            }
            Failure::Refused(e) => e,
        }
    }

    /// The error of opening the queue (names the setting too).
    pub(super) fn opening(self, path: &str) -> Error {
        match self {
            Failure::Sql(e) => Error::storage(format!(
                "shoppingfeed_sync.database: cannot open {path}: {e}{}",
                advice(path, &e)
            )),
            Failure::Data(message) => Error::storage(format!(
                "shoppingfeed_sync.database: cannot open {path}: {message}"
            )),
            Failure::Refused(e) => e,
        }
    }
}

/// What to do about `e`, for the causes a merchant can fix; empty for the
/// others (a busy timeout, a constraint: the message says enough).
fn advice(path: &str, e: &rusqlite::Error) -> String {
    match e.sqlite_error() {
        Some(err) => advice_for(path, err),
        None => String::new(),
    }
}

/// The file itself opened read-only (its permissions, or a read-only mount).
pub(super) fn read_only_file(path: &str) -> Error {
    Error::storage(format!(
        "shoppingfeed_sync.database: {path} is read-only{}",
        advice_for(path, &ffi::Error::new(ffi::SQLITE_READONLY))
    ))
}

fn advice_for(path: &str, err: &ffi::Error) -> String {
    match err.code {
        // The file may be writable while its directory is not: SQLite must
        // create the -wal and -shm files next to it (WAL mode), and reports
        // only "attempt to write a readonly database".
        ErrorCode::ReadOnly if err.extended_code == ffi::SQLITE_READONLY_DIRECTORY => format!(
            " (the directory {} must be writable by this process's user, not only the file: \
             SQLite creates {path}-wal and {path}-shm next to the queue; the web server and \
             the cron must share a user or a group that may write there)",
            directory_of(path)
        ),
        ErrorCode::ReadOnly => format!(
            " ({path}, its -wal and -shm files and the directory {} must be writable by this \
             process's user; the web server and the cron must share a user or a group that \
             may write them)",
            directory_of(path)
        ),
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => format!(
            " (the file is damaged or not a shoppingfeed_sync queue: restore {path} from a \
             backup, or move it away together with {path}-wal and {path}-shm so that a new, \
             empty queue is created)"
        ),
        _ => String::new(),
    }
}

/// The directory holding `path`, as a message shows it.
fn directory_of(path: &str) -> String {
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
        _ => "(the current directory)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_error(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn a_read_only_directory_is_named_as_such() {
        let e = sqlite_error(ffi::SQLITE_READONLY_DIRECTORY);
        let msg = Failure::Sql(e).in_queue("/srv/q/queue.sqlite").to_string();
        assert!(msg.contains("/srv/q/queue.sqlite:"), "{msg}");
        assert!(msg.contains("directory /srv/q must be writable"), "{msg}");
        assert!(msg.contains("/srv/q/queue.sqlite-wal"), "{msg}");
    }

    #[test]
    fn other_read_only_causes_name_the_files() {
        let e = sqlite_error(ffi::SQLITE_READONLY);
        let msg = Failure::Sql(e).opening("q.sqlite").to_string();
        assert!(
            msg.starts_with("shoppingfeed_sync.database: cannot open q.sqlite"),
            "{msg}"
        );
        assert!(msg.contains("(the current directory)"), "{msg}");
    }

    #[test]
    fn damage_says_what_to_do() {
        for code in [ffi::SQLITE_CORRUPT, ffi::SQLITE_NOTADB] {
            let msg = Failure::Sql(sqlite_error(code))
                .in_queue("/q.sqlite")
                .to_string();
            assert!(msg.contains("restore /q.sqlite from a backup"), "{msg}");
        }
        let busy = sqlite_error(ffi::SQLITE_BUSY);
        assert_eq!(advice("/q.sqlite", &busy), "");
        assert!(Failure::Sql(busy).is_busy());
    }
}
