//! The PHP-free core of `shoppingfeed_sync`.
//!
//! Nothing in this crate knows about PHP: the extension (`src/` at the
//! repository root) translates conveyors into these types and errors into
//! PHP exceptions. Everything here is tested with plain `cargo test`.
//!
//! - [`model`]: queue rows, states, operations, action names, snapshot checks.
//! - [`settings`]: the `SHOPPINGFEED_*` settings, their defaults and parsing.
//! - [`queue`]: the [`queue::QueueStore`] interface and its SQLite store.
//! - [`api`]: the Shopping Feed HTTP client (one HTTP exchange per call).
//! - [`engine`]: the contract's rules: save, claim, prepare, send, check, settle.
//! - [`retry`]: the retry policy, the one place that decides a row's life
//!   (backoff, failure limit, outage vs order failure, 429 waits); the table
//!   is `docs/STATE-MACHINE.md`.
//! - [`text`]: shortening messages on a character boundary.
//! - [`runtime`]: the lazily created, fork-aware tokio runtime.

pub mod api;
pub mod background;
pub mod engine;
pub mod error;
pub mod fasthash;
pub mod invoice;
pub mod model;
pub mod queue;
pub mod retry;
pub mod runtime;
pub mod settings;
pub mod text;
pub mod time;

pub use error::{Error, Result};
