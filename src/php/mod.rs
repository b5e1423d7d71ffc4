//! The binding layer: one file per PHP class (`queue.rs`; the two Actions
//! classes share the folder `actions/`, one file per step or concern), plus
//! the translation helpers and the per-process queue connection.

pub mod actions;
pub mod class_fixups;
pub mod convert;
pub mod exceptions;
pub mod ini;
mod memory_budget;
mod prestashop_db;
pub mod queue;
pub mod settings;
pub mod store;
mod store_path;
