//! The real-time chain that `saveOrder` runs for the row it saved.

use super::super::store;
use super::conveyor::{append, claim_of, text};
use super::php_calls::{call_this, exiting, has_method, take_exception_message};
use super::state::HasState;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::types::{ZendClassObject, ZendObject};
use sfsync_core::queue::Change;
use sfsync_core::time;

/// Real-time mode: `$this->getBatch()`, `prepareBatch()`, `sendBatch()` for
/// the saved row. The update is already durable: whatever happens here
/// (Shopping Feed down, slow, refusing the token, a PHP override throwing),
/// the merchant's request goes on and the row waits for the cron.
pub(super) fn run_realtime_chain<T: RegisteredClass + HasState>(
    self_: &mut ZendClassObject<T>,
    row_id: i64,
) {
    // A `saveOrder` called by an override inside a running chain (its
    // `getBatch()` saving another update) does not start a chain of its own:
    // its row waits for the cron, and the outer chain keeps its "only this
    // row" marker and its one HTTP attempt (issue 8, defect 7).
    if self_.state().realtime_row.is_some() {
        return;
    }
    self_.state().realtime_row = Some(row_id);
    let obj: *mut ZendObject = self_.get_mut_zend_obj();
    let mut error = None;
    let mut exited = false;
    for step in ["getBatch", "prepareBatch", "sendBatch"] {
        if !has_method(obj, step) {
            break;
        }
        match call_this(obj, step) {
            Ok(true) => continue,
            Ok(false) => break,
            Err(_) if exiting() => {
                // `exit()` in an override: PHP ends the script once this
                // returns. No PHP call and no conveyor change; only the
                // claim is released below (Rust only), the row stays queued.
                exited = true;
                break;
            }
            Err(_) => {
                let msg = take_exception_message().unwrap_or_else(|| format!("{step}() failed"));
                error = Some(format!("real-time {step}: {msg}"));
                break;
            }
        }
    }
    let state = self_.state();
    state.realtime_row = None;
    state.claimed = None;
    let conveyor = state.conveyor();
    if exited {
        // Reading the conveyor's claim is a hash lookup, no PHP code.
        if let (Ok(Some(claim)), Ok(store)) = (claim_of(conveyor), store::current()) {
            let _ = store.apply(&[(row_id, Change::Release)], Some(&claim), time::now());
        }
        return;
    }
    if let Some(msg) = error {
        append(conveyor, "errors", vec![text(&msg)]);
    }
    // A row the chain claimed but did not settle (an override that threw)
    // is released at once rather than waiting for its lease to end.
    if let (Ok(Some(claim)), Ok(store)) = (claim_of(conveyor), store::current()) {
        let _ = store.apply(&[(row_id, Change::Release)], Some(&claim), time::now());
    }
}
