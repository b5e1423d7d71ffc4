//! Opening the queue named by `shoppingfeed_sync.database`: the value's form
//! picks the store. One function, so that the binding never names a
//! concrete store.

use super::sqlite::{Options, SqliteStore};
use super::QueueStore;
use crate::error::{Error, Result};

/// The INI setting whose value [`open`] reads; named in every message.
pub const DATABASE_SETTING: &str = "shoppingfeed_sync.database";

/// Which store a `shoppingfeed_sync.database` value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A SQLite file path (the embedded default).
    Sqlite,
    /// A `mysql://user:password@host[:port]/db[?prefix=..&socket=..&tls=..]` URL.
    MysqlUrl,
    /// The word `prestashop`: the shop's own MySQL/MariaDB (`_DB_*` constants).
    PrestaShop,
}

impl StoreKind {
    /// The kind named by a setting value. Scheme and keyword are matched
    /// without regard to case (`MYSQL://`, `PrestaShop`).
    pub fn of(database: &str) -> StoreKind {
        let v = database.trim();
        let scheme_end = v.find("://");
        match scheme_end {
            Some(end) if v[..end].eq_ignore_ascii_case("mysql") => StoreKind::MysqlUrl,
            _ if v.eq_ignore_ascii_case("prestashop") => StoreKind::PrestaShop,
            _ => StoreKind::Sqlite,
        }
    }
}

/// How the extension wants a store opened (the SQLite options; a MySQL
/// store will take its own from the URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenOptions {
    pub sqlite: Options,
}

/// Opens the queue that `database` names. Errors are [`Error::Storage`]
/// naming [`DATABASE_SETTING`], never a password.
pub fn open(database: &str, options: &OpenOptions) -> Result<Box<dyn QueueStore>> {
    match StoreKind::of(database) {
        StoreKind::Sqlite => Ok(Box::new(SqliteStore::open_with(database, options.sqlite)?)),
        StoreKind::MysqlUrl => Err(Error::storage(format!(
            "{DATABASE_SETTING}: mysql:// queues are not supported by this build yet; \
             use a SQLite file path"
        ))),
        StoreKind::PrestaShop => Err(Error::storage(format!(
            "{DATABASE_SETTING}: 'prestashop' (the shop's own database) is not supported by \
             this build yet; use a SQLite file path"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_form_picks_the_store() {
        assert_eq!(StoreKind::of("/var/queue.sqlite"), StoreKind::Sqlite);
        assert_eq!(StoreKind::of("mysql://u:p@h/db"), StoreKind::MysqlUrl);
        assert_eq!(StoreKind::of("MYSQL://u:p@h/db"), StoreKind::MysqlUrl);
        assert_eq!(StoreKind::of("prestashop"), StoreKind::PrestaShop);
        assert_eq!(StoreKind::of(" PrestaShop "), StoreKind::PrestaShop);
        assert_eq!(StoreKind::of("prestashop.sqlite"), StoreKind::Sqlite);
    }

    #[test]
    fn unsupported_forms_name_the_setting_and_hide_the_password() {
        for value in ["mysql://user:s3cret@db/shop", "prestashop"] {
            let err = open(value, &OpenOptions::default()).err().expect("refused");
            assert!(err.message().contains(DATABASE_SETTING), "{err}");
            assert!(!err.message().contains("s3cret"), "{err}");
        }
    }
}
