//! The frame of every Actions method body.

use super::super::exceptions::{from_core, sync_error};
use ext_php_rs::exception::PhpResult;
use sfsync_core::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs a method body: core errors become the contract's exceptions, and a
/// panic becomes a `ShoppingfeedSyncException` instead of crossing into PHP.
pub(super) fn guard<T>(method: &str, body: impl FnOnce() -> Result<T, Error>) -> PhpResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(from_core(e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(sync_error(format!(
                "shoppingfeed_sync internal error in {method}: {msg}"
            )))
        }
    }
}
