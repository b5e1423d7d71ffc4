//! `shoppingfeed_sync.database = prestashop`: the shop's own database, as
//! PrestaShop's `config/settings.inc.php` (1.6) or `app/config/parameters.php`
//! (1.7+, through `config/defines.inc.php`) defines it in the constants
//! `_DB_SERVER_`, `_DB_NAME_`, `_DB_USER_`, `_DB_PASSWD_` and `_DB_PREFIX_`.
//! Read when the first call needs the queue, in the process that uses it.

use ext_php_rs::types::Zval;
use sfsync_core::queue::mysql::MysqlConfig;
use sfsync_core::queue::DATABASE_SETTING;
use sfsync_core::Error;
use std::ffi::c_char;

extern "C" {
    // ZEND_API zval *zend_get_constant_str(const char *name, size_t name_len);
    fn zend_get_constant_str(name: *const c_char, name_len: usize) -> *mut Zval;
}

/// A string constant, or None when it is not defined.
fn constant(name: &str) -> Option<String> {
    // SAFETY: the name goes with its length; the engine returns a pointer
    // into its constants table (or null), read at once.
    let zv = unsafe { zend_get_constant_str(name.as_ptr().cast(), name.len()) };
    if zv.is_null() {
        return None;
    }
    // SAFETY: non-null, owned by the engine for the duration of this call.
    let zv = unsafe { &*zv };
    zv.string().or_else(|| zv.long().map(|n| n.to_string()))
}

/// The five constants' values, in the order of [`config_of`]; an error
/// naming the missing ones (never a value). Cheap (five lookups): what
/// `saveOrder` pays to find its open queue; parsing waits for an open.
pub fn constants() -> Result<[String; 5], Error> {
    let names = [
        "_DB_SERVER_",
        "_DB_NAME_",
        "_DB_USER_",
        "_DB_PASSWD_",
        "_DB_PREFIX_",
    ];
    let values: [Option<String>; 5] = names.map(constant);
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(Error::storage(format!(
            "{DATABASE_SETTING} = prestashop: PrestaShop's {} {} not defined in this process \
             (load PrestaShop's config first, or use a mysql:// URL)",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        )));
    }
    Ok(values.map(Option::unwrap_or_default))
}

/// The shop's database from the constants' values ([`constants`]).
pub fn config_of(v: &[String; 5]) -> Result<MysqlConfig, Error> {
    MysqlConfig::from_prestashop(&v[0], &v[1], &v[2], &v[3], &v[4])
}

/// The shop's database, read and parsed now.
pub fn config() -> Result<MysqlConfig, Error> {
    config_of(&constants()?)
}
