//! The contract's rules, PHP-free: save, claim, prepare, send, check, settle.
//! The binding calls one function per PHP method; each step has its file.
//! What happens to a row on each answer is decided by [`crate::retry`]
//! (`docs/STATE-MACHINE.md` has the whole life of a row in one table).
//!
//! Every step commits the rows' new state as soon as it knows it (one
//! [`QueueStore::apply`](crate::queue::QueueStore::apply) per order
//! request's answer; ticket reads that arrived together share one), so a
//! kill loses at most the answers of the requests in flight: those rows keep
//! their lease and come back when it ends. The next requests are started
//! before those commits, so that the store's work overlaps the network
//! (`window`). HTTP runs on the process's current-thread runtime
//! ([`crate::runtime::block_on`]): requests of one step interleave on the PHP
//! thread, and the (synchronous) store is called between their awaits.
//!
//! - `save`: `saveOrder`, validates and queues one update.
//! - `claim`: `getBatch`, leases the due rows.
//! - `prepare`: `prepareBatch`, maps order states to operations.
//! - `send`: `sendBatch`, posts the operations (`request`: their requests).
//! - `check`: `checkTickets`, reads the tickets of sent rows.
//! - `settle`: `settle()`, the caller's own verdict.
//! - `report`, `step`: what a step tells the conveyor, and the commit that
//!   records it; `target`: the API credentials; `window`: requests in flight.

mod check;
mod claim;
mod prepare;
mod report;
mod request;
mod save;
mod send;
mod settle;
mod step;
mod target;
mod window;

pub use check::{check, check_until, MAX_TICKET_PAGES};
pub use claim::{claim, claim_at_most, new_claim_token, Claim};
pub use prepare::{prepare, prepare_owned, Prepared};
pub use report::Report;
pub use save::{save, SaveRequest};
pub use send::send;
pub use settle::settle;
pub use target::Target;

pub use crate::retry::{Mode, MAX_RATE_LIMIT_RETRIES, MAX_RATE_LIMIT_WAIT_SECS};

/// Longest message kept in `last_error` / `errors`, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// A message cut to [`MAX_MESSAGE_BYTES`] for the queue and the conveyor.
fn bounded(msg: &str) -> String {
    crate::text::shorten(msg, MAX_MESSAGE_BYTES)
}
