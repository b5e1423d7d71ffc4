//! The tokio runtime, created lazily in the process that uses it.
//!
//! PHP-FPM forks its workers after module startup, and threads do not
//! survive a fork: nothing here runs at startup, and a runtime created
//! before a fork is abandoned (never used) in the child, which builds its own.
//! The runtime is current-thread: futures run on the PHP thread inside
//! `block_on`, so no worker thread is started for the HTTP exchanges.

use std::cell::RefCell;
use std::future::Future;

thread_local! {
    static RUNTIME: RefCell<Option<(u32, tokio::runtime::Runtime)>> = const { RefCell::new(None) };
}

/// Runs a future to completion on this process's runtime.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    RUNTIME.with(|cell| {
        let mut slot = cell.borrow_mut();
        let pid = std::process::id();
        if slot.as_ref().is_none_or(|(owner, _)| *owner != pid) {
            if let Some((_, stale)) = slot.take() {
                // Built in the parent before a fork: its threads do not exist here.
                std::mem::forget(stale);
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio current-thread runtime");
            *slot = Some((pid, rt));
        }
        slot.as_ref()
            .map(|(_, rt)| rt.block_on(fut))
            .expect("runtime just set")
    })
}
