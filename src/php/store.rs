//! The process's queue connections, opened on first use (never at startup)
//! and kept for the life of the process, keyed by
//! `shoppingfeed_sync.database`: `saveOrder` then costs one short
//! transaction, not an open.

use super::ini;
use sfsync_core::queue::SqliteStore;
use sfsync_core::Error;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    static STORES: RefCell<(u32, HashMap<String, Rc<SqliteStore>>)> = RefCell::new((0, HashMap::new()));
}

/// The store of the current `shoppingfeed_sync.database`.
pub fn current() -> Result<Rc<SqliteStore>, Error> {
    let path = ini::database();
    if path.starts_with("mysql://") {
        return Err(Error::input(format!(
            "{}: mysql:// queues are not supported yet; use a SQLite file path",
            ini::DATABASE
        )));
    }
    STORES.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pid = std::process::id();
        if guard.0 != pid {
            // Connections opened before a fork belong to the parent: SQLite
            // forbids using them in the child, and closing them here could
            // release the parent's locks. Leave them alone.
            let stale = std::mem::take(&mut guard.1);
            std::mem::forget(stale);
            guard.0 = pid;
        }
        if let Some(store) = guard.1.get(&path) {
            return Ok(store.clone());
        }
        let store = Rc::new(SqliteStore::open(&path)?);
        guard.1.insert(path, store.clone());
        Ok(store)
    })
}
