//! `ShoppingfeedSyncException extends RuntimeException` (bad input,
//! configuration, storage) and `ShoppingfeedApiException extends
//! ShoppingfeedSyncException` (API failures that stop a run).
//!
//! They are registered with `ClassBuilder` at startup rather than declared
//! with `#[php_class]`: a Rust-backed exception object loses its file, line
//! and trace, a plain subclass of `RuntimeException` keeps them.

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::exception::PhpException;
use ext_php_rs::zend::ClassEntry;
use sfsync_core::Error;
use std::sync::atomic::{AtomicPtr, Ordering};

pub const SYNC_EXCEPTION: &str = "ShoppingfeedSyncException";
pub const API_EXCEPTION: &str = "ShoppingfeedApiException";

static RUNTIME_CE: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());
static SYNC_CE: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());
static API_CE: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());

fn load(slot: &AtomicPtr<ClassEntry>) -> &'static ClassEntry {
    let ptr = slot.load(Ordering::Acquire);
    // SAFETY: set once at startup to class entries that live as long as the
    // process; register() fails the module startup if any is missing.
    unsafe { ptr.as_ref() }.unwrap_or_else(ext_php_rs::zend::ce::exception)
}

fn runtime_exception() -> &'static ClassEntry {
    load(&RUNTIME_CE)
}

fn sync_exception() -> &'static ClassEntry {
    load(&SYNC_CE)
}

/// A class already in the compiler's class table (at startup, before the
/// executor can look classes up).
fn compiled_class(lower_name: &str) -> Option<*mut ClassEntry> {
    // SAFETY: NTS build: `compiler_globals` is the engine's static; at MINIT
    // nothing else runs, and this is a read-only lookup in its class table.
    let table = unsafe {
        (*std::ptr::addr_of!(ext_php_rs::ffi::compiler_globals))
            .class_table
            .as_ref()
    }?;
    let zv = table.get(lower_name)?;
    unsafe { zv.ptr::<ClassEntry>() }
}

pub fn register() -> Result<(), String> {
    let runtime = compiled_class("runtimeexception").ok_or("RuntimeException not found")?;
    RUNTIME_CE.store(runtime, Ordering::Release);

    ClassBuilder::new(SYNC_EXCEPTION)
        .extends((runtime_exception, "RuntimeException"))
        .registration(|ce, _| SYNC_CE.store(ce, Ordering::Release))
        .register()
        .map_err(|e| e.to_string())?;
    ClassBuilder::new(API_EXCEPTION)
        .extends((sync_exception, SYNC_EXCEPTION))
        .registration(|ce, _| API_CE.store(ce, Ordering::Release))
        .register()
        .map_err(|e| e.to_string())?;
    if SYNC_CE.load(Ordering::Acquire).is_null() || API_CE.load(Ordering::Acquire).is_null() {
        return Err("exception classes were not registered".into());
    }
    Ok(())
}

/// A `ShoppingfeedSyncException`.
pub fn sync_error(message: impl Into<String>) -> PhpException {
    PhpException::new(throwable_message(message.into()), 0, sync_exception())
}

/// A message PHP can carry: the engine refuses to throw an exception whose
/// message holds a NUL byte (it would throw a generic `Error` instead), and
/// messages quote user input, which may hold one. NUL bytes are shown as `\0`.
fn throwable_message(message: String) -> String {
    if message.contains('\0') {
        message.replace('\0', "\\0")
    } else {
        message
    }
}

/// A core error as the PHP exception the contract names.
pub fn from_core(err: Error) -> PhpException {
    let class = if err.is_api() {
        load(&API_CE)
    } else {
        sync_exception()
    };
    PhpException::new(throwable_message(err.message().to_string()), 0, class)
}
