//! The two PHP classes and their methods: each method is glue to the step
//! function of the same name.
#![allow(non_snake_case)] // PHP parameter names are camelCase, as the contract writes them.

use super::state::{ActionsState, HasState};
use super::{check, claim, protocol, save, send};
use ext_php_rs::boxed::ZBox;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendClassObject, ZendHashTable, Zval};

/// The methods both classes export. A Rust class extending another Rust
/// class cannot run the parent's Rust methods on a child instance, so each
/// class gets its own copy of them from this macro.
macro_rules! actions_methods {
    ($ty:ident, { $($extra:tt)* }) => {
        #[php_impl]
        #[allow(non_snake_case)]
        impl $ty {
            pub fn __construct() -> Self {
                Self::default()
            }

            /// Replaces the conveyor (classlib's DefaultActions); returns $this.
            pub fn set_conveyor<'a>(
                self_: &'a mut ZendClassObject<$ty>,
                conveyor: &ZendHashTable,
            ) -> &'a mut ZendClassObject<$ty> {
                protocol::set_conveyor(self_, conveyor)
            }

            /// The conveyor, with what the steps added.
            pub fn get_conveyor(&mut self) -> ZBox<ZendHashTable> {
                protocol::get_conveyor(self)
            }

            /// classlib compatibility (the model is often null); returns $this.
            pub fn set_model_object<'a>(
                self_: &'a mut ZendClassObject<$ty>,
                model: &Zval,
            ) -> &'a mut ZendClassObject<$ty> {
                protocol::set_model_object(self_, model)
            }

            /// Calls `$this->$action()`.
            pub fn forward(self_: &mut ZendClassObject<$ty>, action: &str) -> PhpResult<bool> {
                protocol::forward(self_, action)
            }

            /// Saves one order update in the queue (durable when it returns);
            /// in real-time mode also runs the send chain for it.
            pub fn save_order(self_: &mut ZendClassObject<$ty>) -> PhpResult<bool> {
                save::save_order(self_)
            }

            /// Claims the due rows of a shop and action, up to the batch size.
            pub fn get_batch(&mut self) -> PhpResult<bool> {
                claim::get_batch(self)
            }

            /// Settles claimed rows: done, pending (retry) or failed. Returns how many changed.
            #[php(defaults(message = None, orderFailure = false))]
            pub fn settle(
                &mut self,
                ids: &ZendHashTable,
                state: &str,
                message: Option<String>,
                orderFailure: bool,
            ) -> PhpResult<i64> {
                claim::settle(self, ids, state, message, orderFailure)
            }

            /// The module's log prefix, `[Order: 12]`: today's Shopping Feed
            /// module calls `ShoppingfeedOrderSyncActions::getLogPrefix()` in
            /// its order import and its hooks, outside any try, so the class
            /// that takes its name over must answer it.
            pub fn get_log_prefix(idOrder: Option<&Zval>) -> String {
                protocol::log_prefix(idOrder)
            }

            $($extra)*
        }
    };
}

/// `abstract class ShoppingfeedOrderSyncActions`.
#[php_class]
#[php(name = "ShoppingfeedOrderSyncActions")]
#[php(flags = ClassFlags::Abstract)]
#[derive(Default)]
pub struct SyncActions {
    state: ActionsState,
}

impl HasState for SyncActions {
    fn state(&mut self) -> &mut ActionsState {
        &mut self.state
    }
}

actions_methods!(SyncActions, {});

/// A class of the extension for one synchronizable field: the base
/// methods and the three steps of its chains. The engine decides by the
/// rows' action what a row becomes (`SYNC_STATUS`: the state lists;
/// `SYNC_REFUND`: a `refund`; `SYNC_INVOICE`: an `upload-documents`), so
/// the three classes share their steps.
macro_rules! field_class {
    ($(#[$doc:meta])* $ty:ident, $php_name:literal) => {
        $(#[$doc])*
        #[php_class]
        #[php(name = $php_name)]
        #[php(extends(SyncActions))]
        #[derive(Default)]
        pub struct $ty {
            state: ActionsState,
        }

        impl HasState for $ty {
            fn state(&mut self) -> &mut ActionsState {
                &mut self.state
            }
        }

        actions_methods!($ty, {
            /// Maps each claimed row to a Shopping Feed operation.
            pub fn prepare_batch(&mut self) -> PhpResult<bool> {
                send::prepare_batch(self)
            }

            /// Sends the operations to the API (grouped, chunked) and records the batch ids.
            pub fn send_batch(&mut self) -> PhpResult<bool> {
                send::send_batch(self)
            }

            /// Reads the tickets of claimed CHECK_TICKET rows and settles each row.
            pub fn check_tickets(&mut self) -> PhpResult<bool> {
                check::check_tickets(self)
            }
        });
    };
}

field_class!(
    /// `class ShoppingfeedOrderSyncStatusActions extends ShoppingfeedOrderSyncActions`:
    /// the order's status (`SYNC_STATUS`), through the four state lists.
    StatusActions,
    "ShoppingfeedOrderSyncStatusActions"
);

field_class!(
    /// `class ShoppingfeedOrderSyncRefundActions extends ShoppingfeedOrderSyncActions`:
    /// partial refunds (`SYNC_REFUND`), one credit slip per row.
    RefundActions,
    "ShoppingfeedOrderSyncRefundActions"
);

field_class!(
    /// `class ShoppingfeedOrderSyncInvoiceActions extends ShoppingfeedOrderSyncActions`:
    /// invoice PDFs (`SYNC_INVOICE`), uploaded with `upload-documents`.
    InvoiceActions,
    "ShoppingfeedOrderSyncInvoiceActions"
);
