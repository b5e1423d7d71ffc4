//! The API credentials of one step, and the messages made safe with them.

use super::bounded;
use crate::api::ApiError;
use crate::error::{redact, Error, Result};
use crate::retry::Mode;

/// The API credentials of one step.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub token: &'a str,
    pub store_id: i64,
    pub mode: Mode,
}

impl Target<'_> {
    pub(super) fn validate(&self) -> Result<()> {
        if self.token.trim().is_empty() {
            return Err(Error::input(
                "token must be a non-empty string (the Shopping Feed API token)",
            ));
        }
        if self.store_id <= 0 {
            return Err(Error::input(format!(
                "shoppingfeed_store_id must be a positive integer, got {}",
                self.store_id
            )));
        }
        Ok(())
    }

    /// A message safe to store or show: the token removed, length bounded.
    pub(super) fn clean(&self, msg: &str) -> String {
        bounded(&redact(msg, self.token))
    }

    /// The error that stops a run whose token the API refused.
    pub(super) fn refused(&self, status: u16) -> Error {
        Error::Auth(self.clean(&ApiError::Unauthorized { status }.message()))
    }
}
