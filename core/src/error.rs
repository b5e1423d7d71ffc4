//! Errors of the core. The binding maps them to PHP exceptions:
//! [`Error::Input`] and [`Error::Storage`] to `ShoppingfeedSyncException`,
//! [`Error::Auth`] and [`Error::Api`] to `ShoppingfeedApiException`.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Bad input or configuration. The message names the conveyor key or the
    /// setting literally (e.g. "order.id_order_state must be ...").
    Input(String),
    /// The queue could not be opened, read or written.
    Storage(String),
    /// The API refused the token (401/403): the run stops, claims are released.
    Auth(String),
    /// Another API failure that stops a run.
    Api(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }
    pub fn storage(msg: impl Into<String>) -> Self {
        Error::Storage(msg.into())
    }
    pub fn message(&self) -> &str {
        match self {
            Error::Input(m) | Error::Storage(m) | Error::Auth(m) | Error::Api(m) => m,
        }
    }
    /// True for the errors that PHP sees as `ShoppingfeedApiException`.
    pub fn is_api(&self) -> bool {
        matches!(self, Error::Auth(_) | Error::Api(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(format!("shoppingfeed_sync queue: {e}"))
    }
}

/// Removes every occurrence of `secret` from `text`: a last guard so that the
/// API token can never reach an exception or a log line, whatever produced
/// the text.
pub fn redact(text: &str, secret: &str) -> String {
    redact_as(text, secret, "[token redacted]")
}

/// [`redact`] with what stands in for the secret (a database password is
/// "[password redacted]"). A secret shorter than 4 bytes is left alone: it
/// would blank out ordinary words, and nothing quotes it anyway.
pub fn redact_as(text: &str, secret: &str, shown: &str) -> String {
    if secret.len() < 4 {
        return text.to_string();
    }
    text.replace(secret, shown)
}
