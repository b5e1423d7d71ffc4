//! Three things ext-php-rs 0.16 cannot express, applied to the registered
//! class entries once per process, at the first request startup (classes
//! are registered after our MINIT hook runs, and before any PHP code).
//!
//! 1. Object creation. For a `Default` class, ext-php-rs creates every
//!    object, including those of PHP subclasses, with the Rust class's own
//!    class entry: `new MyCarrierActions()` would come out as a
//!    `ShoppingfeedOrderSyncActions`, losing the subclass and its overrides.
//!    Our handler creates the object with the class actually instantiated
//!    and initialises its Rust state at once, so a PHP subclass works even
//!    if its constructor does not call `parent::__construct()`.
//! 2. `setConveyor()` and `setModelObject()` return `static` (they return
//!    `$this`, as classlib's DefaultActions), which ext-php-rs can only
//!    declare as the class name.
//! 3. `ShoppingfeedOrderSyncQueue` is a static utility class: ext-php-rs always
//!    declares a public constructor (that throws); it is made private, as a
//!    PHP developer would write it.

use super::actions::{InvoiceActions, RefundActions, StatusActions, SyncActions};
use super::queue::SyncQueue;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::ffi::{zend_function, zend_hash_str_find_ptr_lc, zend_object};
use ext_php_rs::types::ZendClassObject;
use ext_php_rs::zend::ClassEntry;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once applied. A forked worker inherits the parent's memory image,
/// fixups included.
static APPLIED: AtomicBool = AtomicBool::new(false);

/// `MAY_BE_STATIC` of zend_type_info.h (1 << IS_STATIC, IS_STATIC = 15).
const MAY_BE_STATIC: u32 = 1 << 15;

extern "C" fn create_object<T: RegisteredClass + Default>(ce: *mut ClassEntry) -> *mut zend_object {
    // SAFETY: the engine passes the class being instantiated (ours or a
    // subclass); the object is initialised before it is handed back.
    let mut obj = unsafe { ZendClassObject::<T>::new_uninit(ce.as_ref()) };
    obj.initialize(T::default());
    // SAFETY: `into_raw` hands ownership to the engine, which frees the
    // object through the handlers ext-php-rs registered for T.
    unsafe { (*obj.into_raw()).get_mut_zend_obj() }
}

/// A method of one of our classes by its lower-case name (null if absent).
///
/// # Safety
/// `ce` is a live class entry.
unsafe fn find_method(ce: *mut ClassEntry, lower_name: &str) -> *mut zend_function {
    unsafe {
        zend_hash_str_find_ptr_lc(
            &raw const (*ce).function_table,
            lower_name.as_ptr().cast(),
            lower_name.len(),
        )
        .cast::<zend_function>()
    }
}

/// Declares the return type of an internal method as `static`.
///
/// # Safety
/// `ce` is one of our registered classes, before any PHP code runs.
unsafe fn return_static(ce: *mut ClassEntry, method: &str) {
    unsafe {
        let f = find_method(ce, method);
        if f.is_null() {
            return;
        }
        let arg_info = (*f).internal_function.arg_info;
        if arg_info.is_null() {
            return;
        }
        // Internal functions keep their return type just before the first
        // argument (zend_register_functions stores arg_info + 1).
        let ret = arg_info.offset(-1);
        (*ret).type_.ptr = std::ptr::null_mut();
        (*ret).type_.type_mask = MAY_BE_STATIC;
    }
}

/// `ZEND_ACC_PUBLIC` and `ZEND_ACC_PRIVATE` of zend_compile.h.
const ACC_PUBLIC: u32 = 1 << 0;
const ACC_PRIVATE: u32 = 1 << 2;

/// Makes a method of one of our classes private.
///
/// # Safety
/// As for [`return_static`].
unsafe fn make_private(ce: *mut ClassEntry, method: &str) {
    unsafe {
        if let Some(f) = find_method(ce, method).as_mut() {
            f.common.fn_flags = (f.common.fn_flags & !ACC_PUBLIC) | ACC_PRIVATE;
        }
    }
}

unsafe fn fix<T: RegisteredClass + Default>() {
    let ce = std::ptr::from_ref(T::get_metadata().ce()).cast_mut();
    unsafe {
        (*ce).__bindgen_anon_2.create_object = Some(create_object::<T>);
        return_static(ce, "setconveyor");
        return_static(ce, "setmodelobject");
    }
}

/// Applies the fixups once per process.
pub fn apply() {
    if APPLIED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: runs at request startup, before any PHP code of the request,
    // on class entries this extension registered.
    unsafe {
        fix::<SyncActions>();
        fix::<StatusActions>();
        fix::<RefundActions>();
        fix::<InvoiceActions>();
        let queue = std::ptr::from_ref(SyncQueue::get_metadata().ce()).cast_mut();
        make_private(queue, "__construct");
    }
}
