//! `shoppingfeed_sync`: the PHP extension.
//!
//! This crate is the thin binding between PHP and the PHP-free core
//! (`core/`, crate `sfsync_core`): it registers the classes, INI settings and
//! exceptions, translates conveyors into core requests and core errors into
//! PHP exceptions. The PHP lifecycle (startup, phpinfo) lives in this file;
//! one file (or folder) per PHP class under `php/`.

#![cfg_attr(windows, feature(abi_vectorcall))]

mod php;

use ext_php_rs::prelude::*;
use ext_php_rs::zend::ModuleEntry;
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

/// MINIT: INI entries and exception classes. Nothing here starts a thread or
/// opens a file: PHP-FPM forks its workers after this runs.
pub fn startup(_ty: i32, module_number: i32) -> i32 {
    // A panic must not unwind into the engine (this function is called
    // from C): report a failed startup instead.
    let result = std::panic::catch_unwind(|| {
        php::ini::register(module_number);
        php::exceptions::register()
    });
    match result {
        Ok(Ok(())) => 0,
        _ => -1,
    }
}

/// RINIT: the class fixups (once per process; see php/class_fixups.rs).
pub extern "C" fn request_startup(_ty: i32, _module_number: i32) -> i32 {
    match std::panic::catch_unwind(php::class_fixups::apply) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// How long a process's end waits for its background sender (the round in
/// flight and the jobs waiting); past it they are left for the cron.
const SENDER_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// MSHUTDOWN: the end of a CLI script, of a PHP-FPM worker (recycled by
/// `pm.max_requests`, stopped with SIGQUIT, or idle-killed). Stops this
/// process's background sender within a bounded time; nothing else to do
/// (no connection is closed here: a forked child must not end its
/// parent's sessions).
pub extern "C" fn module_shutdown(_ty: i32, _module_number: i32) -> i32 {
    let _ = std::panic::catch_unwind(|| sfsync_core::background::shutdown(SENDER_SHUTDOWN_GRACE));
    0
}

/// `phpinfo()` / `php --ri shoppingfeed_sync`. Shows where the queue lives
/// and which API it talks to; the token is never an INI setting, so it can
/// not appear here.
extern "C" fn module_info(_module: *mut ModuleEntry) {
    info_table_start!();
    info_table_row!("shoppingfeed_sync support", "enabled");
    info_table_row!("version", env!("CARGO_PKG_VERSION"));
    info_table_row!(
        "queue stores",
        format!(
            "SQLite {} (bundled, WAL); MySQL 5.7+/8.x, MariaDB 10.3+ (pure Rust client, rustls)",
            sfsync_core::queue::sqlite::sqlite_version()
        )
    );
    // Which one this process's setting names (a mysql:// password is never
    // shown).
    info_table_row!(
        "queue in use",
        php::ini::shown_database(&php::ini::database())
    );
    info_table_row!(
        "HTTP client",
        "reqwest + rustls, tokio current-thread (lazy)"
    );
    info_table_row!(
        "background sender (this process)",
        php::queue::sender_line()
    );
    info_table_end!();
    // The INI values (database, api_url, timeout_ms) are printed by PHP's own
    // INI table below this one.
    unsafe { php::ini::display(_module) };
}

#[php_module]
#[php(startup = "startup")]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .name("shoppingfeed_sync")
        .version(env!("CARGO_PKG_VERSION"))
        .info_function(module_info)
        .request_startup_function(request_startup)
        .shutdown_function(module_shutdown)
        .class::<php::queue::SyncQueue>()
        .class::<php::actions::SyncActions>()
        .class::<php::actions::StatusActions>()
        .class::<php::actions::RefundActions>()
        .class::<php::actions::InvoiceActions>()
}
