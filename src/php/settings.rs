//! Settings as the contract resolves them: the conveyor's `settings`, then
//! PrestaShop's `Configuration::get($name, null, null, $idShop)` where that
//! class exists, then the defaults (in the core).

use super::convert::to_json;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendCallable, ZendHashTable, Zval};
use ext_php_rs::zend::{ClassEntry, ExecutorGlobals};
use serde_json::Value;
use sfsync_core::settings::SettingsSource;
use sfsync_core::Error;
use std::cell::RefCell;
use std::collections::HashMap;

pub struct PhpSettings<'a> {
    overrides: Option<&'a ZendHashTable>,
    id_shop: Option<i64>,
    cache: RefCell<HashMap<String, Option<Value>>>,
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
            cache: RefCell::new(HashMap::new()),
        })
    }

    fn from_configuration(&self, name: &str) -> Result<Option<Value>, Error> {
        if ClassEntry::try_find("Configuration").is_none() {
            return Ok(None);
        }
        let get = ZendCallable::try_from_name("Configuration::get")
            .map_err(|_| Error::input("Configuration::get is not callable"))?;
        let null = Zval::null();
        let shop: Zval = match self.id_shop {
            Some(id) => {
                let mut zv = Zval::new();
                zv.set_long(id);
                zv
            }
            None => Zval::null(),
        };
        let result = get.try_call(vec![&name, &null, &null, &shop]);
        if ExecutorGlobals::has_exception() {
            return Err(Error::input(format!(
                "Configuration::get('{name}') threw an exception"
            )));
        }
        let zv =
            result.map_err(|_| Error::input(format!("Configuration::get('{name}') failed")))?;
        Ok(match zv.get_type() {
            DataType::False | DataType::Null | DataType::Undef => None,
            DataType::Bool if zv.bool() == Some(false) => None,
            _ => Some(to_json(&zv, &format!("setting {name}"), 0)?),
        })
    }
}

impl SettingsSource for PhpSettings<'_> {
    fn raw(&self, name: &str) -> Result<Option<Value>, Error> {
        if let Some(hit) = self.cache.borrow().get(name) {
            return Ok(hit.clone());
        }
        let value = match self.overrides.and_then(|o| o.get(name)) {
            Some(zv) if !zv.dereference().is_null() => {
                Some(to_json(zv, &format!("setting {name}"), 0)?)
            }
            _ => self.from_configuration(name)?,
        };
        self.cache
            .borrow_mut()
            .insert(name.to_string(), value.clone());
        Ok(value)
    }
}
