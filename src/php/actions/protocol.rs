//! classlib's `Actions` protocol: `setConveyor`, `getConveyor`,
//! `setModelObject`, `forward`.

use super::super::exceptions::{from_core, sync_error};
use super::php_calls::{call_this, has_method};
use super::state::HasState;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::types::{ZendClassObject, ZendHashTable, ZendObject, Zval};
use sfsync_core::text;

pub(super) fn set_conveyor<'a, T: RegisteredClass + HasState>(
    self_: &'a mut ZendClassObject<T>,
    conveyor: &ZendHashTable,
) -> &'a mut ZendClassObject<T> {
    self_.state().conveyor = Some(conveyor.to_owned());
    self_
}

pub(super) fn get_conveyor<T: HasState>(this: &mut T) -> ZBox<ZendHashTable> {
    this.state().conveyor().to_owned()
}

pub(super) fn set_model_object<'a, T: RegisteredClass + HasState>(
    self_: &'a mut ZendClassObject<T>,
    model: &Zval,
) -> &'a mut ZendClassObject<T> {
    self_.state().model = Some(model.shallow_clone());
    self_
}

pub(super) fn forward<T: RegisteredClass + HasState>(
    self_: &mut ZendClassObject<T>,
    action: &str,
) -> PhpResult<bool> {
    if action.is_empty()
        || !action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(sync_error(format!(
            "forward: action must be a method name, got {}",
            text::excerpt(action)
        )));
    }
    let obj: *mut ZendObject = self_.get_mut_zend_obj();
    if !has_method(obj, action) {
        return Err(sync_error(format!(
            "forward: {}::{action}() does not exist",
            T::CLASS_NAME
        )));
    }
    match call_this(obj, action) {
        Ok(v) => Ok(v),
        // The PHP exception is pending and propagates as it is.
        Err(e) => Err(from_core(e)),
    }
}

/// `[Order: <id>]`, the prefix today's module puts before its log lines
/// (untranslated: the extension has no PrestaShop translations). Any value is
/// accepted (arrays and objects print nothing), nothing throws: the module
/// calls it outside its try blocks.
pub(super) fn log_prefix(id_order: Option<&Zval>) -> String {
    let shown = match id_order {
        None => String::new(),
        Some(v) if v.is_null() => String::new(),
        Some(v) => {
            if let Some(i) = v.long() {
                i.to_string()
            } else if let Some(s) = v.str() {
                s.to_string()
            } else if let Some(b) = v.bool() {
                if b {
                    "1".into()
                } else {
                    String::new()
                }
            } else if let Some(d) = v.double() {
                d.to_string()
            } else {
                String::new()
            }
        }
    };
    format!("[Order: {shown}]")
}
