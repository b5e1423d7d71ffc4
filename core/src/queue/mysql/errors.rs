//! What a failure of the MySQL store is, and what it says.
//!
//! Three kinds matter to the store's callers:
//!
//! - **contention** (a deadlock, a lock wait that timed out, the unique
//!   pending-row key met by a concurrent save): the transaction is rolled
//!   back and run again inside the store, a bounded number of times: a
//!   healthy database never shows it to the merchant;
//! - **a lost connection** (the server restarted, `wait_timeout` closed an
//!   idle connection, `KILL`): reconnect once and run the operation again;
//! - anything else: a [`Error::Storage`] naming the server, the database and
//!   the table, never the password.

use crate::error::Error;
use mysql::Error as MyError;

pub(super) type Res<T> = std::result::Result<T, Failure>;

/// ER_DUP_ENTRY: the unique pending-row key, met by a concurrent save.
pub(super) const DUPLICATE_KEY: u16 = 1062;
/// ER_LOCK_WAIT_TIMEOUT.
pub(super) const LOCK_WAIT_TIMEOUT: u16 = 1205;
/// ER_LOCK_DEADLOCK.
pub(super) const DEADLOCK: u16 = 1213;

/// Server errors that mean "this connection is gone": shutdown in progress
/// (1053), killed (1927 MariaDB, 1317 interrupted), MySQL 8's idle
/// disconnection (4031), too many connections is not one of them.
const CONNECTION_GONE: [u16; 4] = [1053, 1317, 1927, 4031];

#[derive(Debug)]
pub(super) enum Failure {
    /// The client or the server failed.
    Sql(MyError),
    /// The queue holds something this code cannot read; the message says what.
    Data(String),
    /// A complete message already.
    Refused(Error),
}

impl From<MyError> for Failure {
    fn from(e: MyError) -> Self {
        Failure::Sql(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Refused(e)
    }
}

impl Failure {
    fn server_code(&self) -> Option<u16> {
        match self {
            Failure::Sql(MyError::MySqlError(e)) => Some(e.code),
            _ => None,
        }
    }

    /// A deadlock, a lock wait timeout, or a concurrent save on the unique
    /// pending key: worth running the transaction again.
    pub(super) fn is_contention(&self) -> bool {
        matches!(
            self.server_code(),
            Some(DEADLOCK | LOCK_WAIT_TIMEOUT | DUPLICATE_KEY)
        )
    }

    pub(super) fn is_lock_wait_timeout(&self) -> bool {
        self.server_code() == Some(LOCK_WAIT_TIMEOUT)
    }

    /// The connection cannot be used any more.
    pub(super) fn is_connection_lost(&self) -> bool {
        match self {
            Failure::Sql(e) => {
                e.is_connectivity_error()
                    || matches!(e, MyError::MySqlError(m) if CONNECTION_GONE.contains(&m.code))
            }
            _ => false,
        }
    }

    /// The error the caller sees: `where_` names the queue (server,
    /// database, table); `password` is scrubbed from whatever the client
    /// library said, as a last guard.
    pub(super) fn named(self, where_: &str, password: &str) -> Error {
        let text = match self {
            Failure::Sql(e) => format!(
                "shoppingfeed_sync queue {where_}: {}{}",
                describe(&e),
                advice(&e)
            ),
            Failure::Data(message) => format!("shoppingfeed_sync queue {where_}: {message}"),
            Failure::Refused(e) => return scrub(e, password),
        };
        Error::storage(scrub_text(&text, password))
    }
}

fn describe(e: &MyError) -> String {
    match e {
        MyError::MySqlError(m) => format!("MySQL error {} ({}): {}", m.code, m.state, m.message),
        MyError::IoError(io) => format!("connection failed: {io}"),
        MyError::DriverError(d) => format!("{d}"),
        other => format!("{other}"),
    }
}

/// What to do about the failures a merchant can fix.
fn advice(e: &MyError) -> &'static str {
    match e {
        MyError::MySqlError(m) => match m.code {
            1045 => " (check the user and password)",
            1044 | 1142 | 1143 => {
                " (the user needs SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER and INDEX \
                 on the database: see README, \"The queue in the shop's database\")"
            }
            1049 => " (the database does not exist: create it or fix the URL)",
            1040 => " (the server has too many connections)",
            1153 => " (a snapshot exceeds the server's max_allowed_packet: raise it)",
            _ => "",
        },
        MyError::IoError(_) | MyError::DriverError(_) => {
            " (is the database server running and reachable from this machine?)"
        }
        _ => "",
    }
}

fn scrub_text(text: &str, password: &str) -> String {
    crate::error::redact_as(text, password, "[password redacted]")
}

fn scrub(e: Error, password: &str) -> Error {
    match e {
        Error::Storage(m) => Error::Storage(scrub_text(&m, password)),
        Error::Input(m) => Error::Input(scrub_text(&m, password)),
        Error::Auth(m) => Error::Auth(scrub_text(&m, password)),
        Error::Api(m) => Error::Api(scrub_text(&m, password)),
    }
}
