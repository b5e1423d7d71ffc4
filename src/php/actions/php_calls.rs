//! Calls into PHP on the running object: the method lookups and calls that
//! go through the engine's function tables, in one place.
//!
//! The steps that chain others (`forward`, the real-time chain) call
//! `$this->...` through PHP rather than the Rust functions, so that methods
//! a PHP subclass overrides are the ones that run.
//!
//! PHP's `exit()` (and a fatal error) inside a called method does not come
//! back here as an exception: it unwinds as a bailout, a longjmp past the
//! Rust frames between the engine and the call. What follows the call then
//! never runs, and the values its callers hold are not dropped.

use ext_php_rs::types::ZendObject;
use ext_php_rs::zend::{ClassEntry, ExecutorGlobals};
use sfsync_core::Error;

/// Calls `$this->$method()` through PHP. Returns its truthiness; a PHP
/// exception thrown by it stays pending and is reported as `Err`.
pub(super) fn call_this(obj: *mut ZendObject, method: &str) -> Result<bool, Error> {
    // SAFETY: `obj` is the object whose method is running; PHP keeps it alive
    // for the whole call.
    let obj = unsafe { &*obj };
    match obj.try_call_method(method, vec![]) {
        Ok(ret) => {
            if ExecutorGlobals::has_exception() {
                return Err(Error::input(format!("{method}() threw")));
            }
            Ok(ret.coerce_to_bool())
        }
        Err(_) => Err(Error::input(format!("method {method}() is not callable"))),
    }
}

/// True when the object's class (or a parent) has the method, in any case.
pub(super) fn has_method(obj: *mut ZendObject, method: &str) -> bool {
    // SAFETY: as for `call_this`.
    let obj = unsafe { &*obj };
    let ce = obj.get_class_entry();
    let lower = method.to_ascii_lowercase();
    // SAFETY: read-only lookup in the class's function table.
    unsafe {
        !ext_php_rs::ffi::zend_hash_str_find_ptr_lc(
            &raw const ce.function_table,
            lower.as_ptr().cast(),
            lower.len(),
        )
        .is_null()
    }
}

/// `ZEND_USER_FUNCTION` of zend_compile.h: a function written in PHP.
const ZEND_USER_FUNCTION: u8 = 2;

/// True when the class has the method and it is written in PHP (a
/// subclass's override), not one of the extension's.
pub(super) fn is_user_method(ce: &ClassEntry, method: &str) -> bool {
    let lower = method.to_ascii_lowercase();
    // SAFETY: read-only lookup in the class's function table; a found entry
    // is a live zend_function whose `type` is its first byte.
    unsafe {
        let f = ext_php_rs::ffi::zend_hash_str_find_ptr_lc(
            &raw const ce.function_table,
            lower.as_ptr().cast(),
            lower.len(),
        )
        .cast::<ext_php_rs::ffi::zend_function>();
        !f.is_null() && (*f).type_ == ZEND_USER_FUNCTION
    }
}

/// Takes the pending exception and returns its message (`message` is a
/// protected property: the exception itself is asked, by `getMessage()`).
/// None when nothing is pending or it gives no string.
pub(super) fn take_exception_message() -> Option<String> {
    ExecutorGlobals::take_exception()
        .and_then(|ex| ex.try_call_method("getMessage", vec![]).ok())
        .and_then(|zv| zv.string())
}

extern "C" {
    // ZEND_API bool zend_is_unwind_exit(const zend_object *ex);
    fn zend_is_unwind_exit(ex: *const ZendObject) -> bool;
    // ZEND_API bool zend_is_graceful_exit(const zend_object *ex);
    fn zend_is_graceful_exit(ex: *const ZendObject) -> bool;
}

/// True when what is pending is PHP's `exit()`/`die()` (PHP 8 unwinds it as
/// an internal "unwind exit" object in `EG(exception)`, not a `Throwable`):
/// it must stay pending untouched and no more PHP may run before returning
/// to the engine, which then ends the script with its status. Asking it for
/// `getMessage()` is what crashed (issue 8, defect 2).
pub(super) fn exiting() -> bool {
    let ex = ExecutorGlobals::get().exception;
    // SAFETY: a non-null `EG(exception)` is a live object owned by the engine;
    // both functions only compare its class entry.
    !ex.is_null() && unsafe { zend_is_unwind_exit(ex) || zend_is_graceful_exit(ex) }
}
