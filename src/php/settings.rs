//! Settings as the contract resolves them: the conveyor's `settings`, then
//! PrestaShop's `Configuration::get($name, null, null, $idShop)` where that
//! class exists, then the defaults (in the core).

use super::convert::setting_to_json;
use ext_php_rs::convert::IntoZvalDyn;
use ext_php_rs::ffi::{zend_function, zend_hash_str_find_ptr_lc, ZEND_ACC_STATIC};
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendCallable, ZendHashTable, Zval};
use ext_php_rs::zend::{ClassEntry, ExecutorGlobals};
use serde_json::Value;
use sfsync_core::settings::SettingsSource;
use sfsync_core::Error;
use std::cell::RefCell;

pub struct PhpSettings<'a> {
    overrides: Option<&'a ZendHashTable>,
    id_shop: Option<i64>,
    /// Values read in this call (a handful: a list beats hashing).
    cache: RefCell<Vec<(String, Option<Value>)>>,
}

impl<'a> PhpSettings<'a> {
    /// `conveyor` is the whole conveyor: its `settings` key, when present,
    /// must be an array.
    pub fn new(conveyor: &'a ZendHashTable, id_shop: Option<i64>) -> Result<Self, Error> {
        let overrides = match conveyor.get("settings").map(Zval::dereference) {
            None => None,
            Some(zv) if zv.is_null() => None,
            Some(zv) => Some(zv.array().ok_or_else(|| {
                Error::input("conveyor key 'settings' must be an array keyed by setting name")
            })?),
        };
        Ok(PhpSettings {
            overrides,
            id_shop,
            cache: RefCell::new(Vec::new()),
        })
    }

    fn configuration_value(&self, name: &str) -> Result<Option<Value>, Error> {
        let Some(get) = configuration_get() else {
            return Ok(None);
        };
        let mut args = [Zval::new(), Zval::null(), Zval::null(), Zval::null()];
        let _ = args[0].set_string(name, false);
        if let Some(id) = self.id_shop {
            args[3].set_long(id);
        }
        let zv = match get {
            ConfigurationGet::Known { func, ce } => {
                let mut ret = Zval::new();
                // SAFETY: `func` is the static method `get` of the class `ce`,
                // both looked up just now in the engine's tables (they live
                // for the request); the four arguments are initialised zvals
                // that stay owned here (the engine copies what it keeps).
                unsafe {
                    ext_php_rs::ffi::zend_call_known_function(
                        func,
                        std::ptr::null_mut(),
                        ce,
                        &raw mut ret,
                        args.len() as u32,
                        args.as_mut_ptr(),
                        std::ptr::null_mut(),
                    );
                }
                if ExecutorGlobals::has_exception() {
                    return Err(Error::input(format!(
                        "Configuration::get('{name}') threw an exception"
                    )));
                }
                ret
            }
            ConfigurationGet::ByName => {
                let get = ZendCallable::try_from_name("Configuration::get")
                    .map_err(|_| Error::input("Configuration::get is not callable"))?;
                let result = get.try_call(args.iter().map(|a| a as &dyn IntoZvalDyn).collect());
                if ExecutorGlobals::has_exception() {
                    return Err(Error::input(format!(
                        "Configuration::get('{name}') threw an exception"
                    )));
                }
                result.map_err(|_| Error::input(format!("Configuration::get('{name}') failed")))?
            }
        };
        Ok(match zv.get_type() {
            DataType::False | DataType::Null | DataType::Undef => None,
            DataType::Bool if zv.bool() == Some(false) => None,
            _ => Some(setting_to_json(&zv, name)?),
        })
    }
}

/// How to call `Configuration::get`.
enum ConfigurationGet {
    /// The class is loaded and `get` is a static method: called directly
    /// (no callable string to parse, no `is_callable` check per call).
    Known {
        func: *mut zend_function,
        ce: *mut ClassEntry,
    },
    /// Anything unusual (a `get` reached through `__callStatic`, ...): by
    /// name, as PHP's `call_user_func('Configuration::get', ...)`.
    ByName,
}

/// `Configuration::get`, when the class `Configuration` exists. Looked up
/// at every read (two hash lookups), never cached: classes and their
/// methods live for one request. The class table is read first; only a
/// class not loaded yet goes through `ClassEntry::try_find`, which may
/// autoload it (PrestaShop's autoloader declares `Configuration` on first
/// use).
fn configuration_get() -> Option<ConfigurationGet> {
    let table: *const ext_php_rs::ffi::HashTable = {
        let globals = ExecutorGlobals::get();
        globals.class_table()? as *const ZendHashTable as *const _
    };
    const CLASS: &str = "configuration";
    // SAFETY: the class table lives for the request; the key is passed with
    // its length; the entries of the class table are class entries.
    let mut ce = unsafe {
        zend_hash_str_find_ptr_lc(table, CLASS.as_ptr().cast(), CLASS.len()) as *mut ClassEntry
    };
    if ce.is_null() {
        ce = ClassEntry::try_find("Configuration")? as *const ClassEntry as *mut ClassEntry;
    }
    const METHOD: &str = "get";
    // SAFETY: `ce` is a live class entry; its function table holds
    // zend_function pointers keyed by lower-case names.
    let func = unsafe {
        zend_hash_str_find_ptr_lc(
            &raw const (*ce).function_table,
            METHOD.as_ptr().cast(),
            METHOD.len(),
        ) as *mut zend_function
    };
    // SAFETY: a non-null entry of the function table is a zend_function.
    if func.is_null() || unsafe { (*func).common.fn_flags } & ZEND_ACC_STATIC == 0 {
        return Some(ConfigurationGet::ByName);
    }
    Some(ConfigurationGet::Known { func, ce })
}

impl SettingsSource for PhpSettings<'_> {
    fn raw(&self, name: &str) -> Result<Option<Value>, Error> {
        if let Some((_, hit)) = self.cache.borrow().iter().find(|(n, _)| n == name) {
            return Ok(hit.clone());
        }
        let value = match self.overrides.and_then(|o| o.get(name)) {
            Some(zv) if !zv.dereference().is_null() => Some(setting_to_json(zv, name)?),
            _ => self.configuration_value(name)?,
        };
        self.cache
            .borrow_mut()
            .push((name.to_string(), value.clone()));
        Ok(value)
    }
}
