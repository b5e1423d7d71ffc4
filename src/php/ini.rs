//! The INI settings (all `PHP_INI_ALL`, so `ini_set()` works). Documented in
//! docs/INI.md.

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::{IniEntryDef, IniEntryDefs, ModuleEntry};
use std::ffi::{c_char, c_int, CStr};

pub const DATABASE: &str = "shoppingfeed_sync.database";
pub const API_URL: &str = "shoppingfeed_sync.api_url";
pub const TIMEOUT_MS: &str = "shoppingfeed_sync.timeout_ms";
pub const SYNCHRONOUS: &str = "shoppingfeed_sync.synchronous";

/// Where the queue lives when nothing is configured: a persistent place
/// (not /tmp, which PHP-FPM units often make private and volatile).
pub const DEFAULT_DATABASE: &str = "/var/lib/shoppingfeed_sync/queue.sqlite";
pub const DEFAULT_API_URL: &str = "https://api.shopping-feed.com";
/// One HTTP request's limit: also the longest a real-time `saveOrder` can
/// wait for Shopping Feed inside the merchant's request.
pub const DEFAULT_TIMEOUT_MS: u64 = 3000;

static ENTRIES: IniEntryDefs<5> = IniEntryDefs::new([
    // A mysql:// value holds a password: phpinfo() and `php --ri` print it
    // through our displayer, which leaves the password out.
    IniEntryDef {
        displayer: Some(display_database),
        ..IniEntryDef::new(
            c"shoppingfeed_sync.database",
            c"/var/lib/shoppingfeed_sync/queue.sqlite",
            IniEntryPermission::All,
        )
    },
    IniEntryDef::new(
        c"shoppingfeed_sync.api_url",
        c"https://api.shopping-feed.com",
        IniEntryPermission::All,
    ),
    IniEntryDef::new(
        c"shoppingfeed_sync.timeout_ms",
        c"3000",
        IniEntryPermission::All,
    ),
    IniEntryDef::new(
        c"shoppingfeed_sync.synchronous",
        c"normal",
        IniEntryPermission::All,
    ),
    IniEntryDef::end(),
]);

pub fn register(module_number: i32) {
    IniEntryDef::register(ENTRIES.as_slice(), module_number);
}

extern "C" {
    // ZEND_API char *zend_ini_string_ex(const char *name, size_t name_length, int orig, bool *exists);
    fn zend_ini_string_ex(
        name: *const c_char,
        name_length: usize,
        orig: c_int,
        exists: *mut bool,
    ) -> *mut c_char;
    // PHPAPI void display_ini_entries(zend_module_entry *module);
    fn display_ini_entries(module: *mut ModuleEntry);
}

/// The current value of one of our INI settings (a direct lookup: this runs
/// on `saveOrder`'s hot path).
pub fn get(name: &str) -> Option<String> {
    let mut exists = false;
    // SAFETY: the name is passed with its length; the engine returns a
    // pointer into its own INI storage (or null), valid until the value is
    // changed, and we copy it at once.
    let ptr = unsafe { zend_ini_string_ex(name.as_ptr().cast(), name.len(), 0, &mut exists) };
    if ptr.is_null() || !exists {
        return None;
    }
    let value = unsafe { CStr::from_ptr(ptr) };
    Some(value.to_string_lossy().into_owned())
}

pub fn database() -> String {
    get(DATABASE)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string())
}

pub fn api_url() -> String {
    get(API_URL)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API_URL.to_string())
}

/// `timeout_ms`, bounded to 1 ms .. 10 min; an unreadable value falls back to the default.
pub fn timeout_ms() -> Result<u64, String> {
    match get(TIMEOUT_MS) {
        None => Ok(DEFAULT_TIMEOUT_MS),
        Some(s) => match s.trim().parse::<u64>() {
            Ok(v) if (1..=600_000).contains(&v) => Ok(v),
            _ => Err(format!(
                "{TIMEOUT_MS} must be a number of milliseconds from 1 to 600000, got '{s}'"
            )),
        },
    }
}

/// `synchronous`: `full` makes every commit fsync the WAL (survives a power
/// loss); anything else is `normal` (survives a killed process).
pub fn synchronous_full() -> bool {
    get(SYNCHRONOUS).is_some_and(|s| s.trim().eq_ignore_ascii_case("full"))
}

/// `shoppingfeed_sync.database` as `phpinfo()` shows it: a `mysql://` URL
/// without its password.
pub fn shown_database(value: &str) -> String {
    if sfsync_core::queue::StoreKind::of(value) != sfsync_core::queue::StoreKind::MysqlUrl {
        return value.to_string();
    }
    sfsync_core::queue::mysql::MysqlConfig::redact_url(value)
}

/// The INI displayer of `shoppingfeed_sync.database` (PHP calls it for the
/// local and the master value of the phpinfo() table).
unsafe extern "C" fn display_database(entry: *mut ext_php_rs::ffi::zend_ini_entry, kind: c_int) {
    // ZEND_INI_DISPLAY_ORIG = 1: the master value when it was changed.
    // SAFETY: PHP passes its live INI entry; the strings are owned by it.
    let value = unsafe {
        let e = &*entry;
        let z = if kind == 1 && e.modified != 0 {
            e.orig_value
        } else {
            e.value
        };
        if z.is_null() {
            String::new()
        } else {
            let len = (*z).len;
            let bytes = std::slice::from_raw_parts((*z).val.as_ptr().cast::<u8>(), len);
            String::from_utf8_lossy(bytes).into_owned()
        }
    };
    let text = if value.is_empty() {
        "no value".to_string()
    } else {
        shown_database(&value)
    };
    // SAFETY: writes bytes with their length to PHP's output.
    unsafe { ext_php_rs::ffi::php_output_write(text.as_ptr().cast(), text.len()) };
}

/// Prints our INI table in `phpinfo()`.
///
/// # Safety
/// `module` is the module entry PHP hands to the info function.
pub unsafe fn display(module: *mut ModuleEntry) {
    unsafe { display_ini_entries(module) };
}
