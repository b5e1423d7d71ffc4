//! The HTTP client of the API steps (`sendBatch`, `checkTickets`), built
//! from the INI settings.

use super::super::ini;
use sfsync_core::api::{ApiConfig, Client};
use sfsync_core::Error;

/// The process's client for the current `api_url` and `timeout_ms`.
pub(super) fn api_client() -> Result<Client, Error> {
    let timeout_ms = ini::timeout_ms().map_err(Error::Input)?;
    Client::shared(&ApiConfig {
        base_url: ini::api_url(),
        timeout_ms,
    })
}
