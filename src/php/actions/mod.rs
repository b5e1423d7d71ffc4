//! `ShoppingfeedOrderSyncActions` (abstract) and the field classes
//! `ShoppingfeedOrderSyncStatusActions`, `...RefundActions` and
//! `...InvoiceActions`: the classlib `Actions` protocol over the core
//! engine.
//!
//! A Rust class extending another Rust class cannot run the parent's Rust
//! methods on a child instance, so both classes get their own methods from
//! one macro ([`classes`]), delegating to step functions generic over
//! [`state::HasState`]. PHP classes that extend either class inherit those methods
//! and work as they are: the methods that chain steps call `$this->...`
//! through PHP ([`php_calls`]), so overrides written in PHP are honoured.
//!
//! - [`classes`]: the two classes, their methods as glue to the steps;
//! - [`state`]: what an object holds between calls, `HasState`;
//! - [`protocol`]: `setConveyor`, `getConveyor`, `setModelObject`, `forward`;
//! - [`save`]: `saveOrder`; [`realtime`]: the chain it runs in real time;
//! - [`claim`]: `getBatch`, `settle`; [`send`]: `prepareBatch`, `sendBatch`;
//!   [`check`]: `checkTickets`;
//! - [`conveyor`]: reading and writing conveyor keys, the report lists;
//! - [`claim_cache`]: the claimed rows kept between the steps;
//! - [`php_calls`]: method lookups and calls through PHP;
//! - [`guard`]: errors and panics into exceptions; [`api`]: the HTTP client.

mod api;
mod check;
mod claim;
mod claim_cache;
mod classes;
mod conveyor;
mod guard;
mod php_calls;
mod protocol;
mod realtime;
mod save;
mod send;
mod state;

pub use classes::{InvoiceActions, RefundActions, StatusActions, SyncActions};
