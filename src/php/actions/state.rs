//! What an Actions object holds between calls, and the trait through which
//! the shared step functions reach it.

use super::claim_cache::ClaimCache;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::types::{ZendHashTable, Zval};

/// What an Actions object holds between calls.
#[derive(Default)]
pub struct ActionsState {
    /// The conveyor, owned (a copy of what `setConveyor` was given).
    pub(super) conveyor: Option<ZBox<ZendHashTable>>,
    /// The model object of classlib (kept, unused).
    pub(super) model: Option<Zval>,
    /// Set while `saveOrder` runs the real-time chain: `getBatch` then claims
    /// only this row and `sendBatch` makes one HTTP attempt.
    pub(super) realtime_row: Option<i64>,
    /// The rows of this object's last claim (see [`ClaimCache`]).
    pub(super) claimed: Option<ClaimCache>,
}

impl ActionsState {
    pub(super) fn conveyor(&mut self) -> &mut ZendHashTable {
        self.conveyor.get_or_insert_with(ZendHashTable::new)
    }

    /// The conveyor and the claim cache, borrowed together.
    pub(super) fn parts(&mut self) -> (&mut ZendHashTable, &mut Option<ClaimCache>) {
        (
            self.conveyor.get_or_insert_with(ZendHashTable::new),
            &mut self.claimed,
        )
    }
}

/// Implemented by each Actions class: a Rust class extending another Rust
/// class cannot run the parent's Rust methods on a child instance, so every
/// class has its own state field and the step functions are generic over
/// this trait instead of being methods of the parent.
pub trait HasState {
    fn state(&mut self) -> &mut ActionsState;
}
