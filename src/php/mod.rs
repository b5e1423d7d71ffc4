//! The binding layer: one file per PHP class, plus the translation helpers.

pub mod actions;
pub mod class_fixups;
pub mod convert;
pub mod exceptions;
pub mod ini;
pub mod order;
pub mod settings;
pub mod store;
