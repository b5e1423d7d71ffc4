//! Opening the queue named by `shoppingfeed_sync.database`: the value's form
//! picks the store. One function, so that the binding never names a
//! concrete store.

use super::mysql::{MysqlConfig, MysqlStore};
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

/// How the extension wants a store opened: the SQLite options, and for
/// `prestashop` the shop's database as the caller read it from PrestaShop's
/// `_DB_*` constants (the core knows nothing of PHP). A `mysql://` URL
/// carries its own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenOptions {
    pub sqlite: Options,
    pub prestashop: Option<MysqlConfig>,
}

/// Opens the queue that `database` names. Errors are [`Error::Storage`]
/// naming [`DATABASE_SETTING`], never a password.
pub fn open(database: &str, options: &OpenOptions) -> Result<Box<dyn QueueStore>> {
    match StoreKind::of(database) {
        StoreKind::Sqlite => Ok(Box::new(SqliteStore::open_with(database, options.sqlite)?)),
        StoreKind::MysqlUrl => Ok(Box::new(MysqlStore::open(MysqlConfig::from_url(
            database,
        )?)?)),
        StoreKind::PrestaShop => match &options.prestashop {
            Some(config) => Ok(Box::new(MysqlStore::open(config.clone())?)),
            None => Err(Error::storage(format!(
                "{DATABASE_SETTING} = prestashop: PrestaShop's _DB_SERVER_, _DB_NAME_, \
                 _DB_USER_, _DB_PASSWD_ and _DB_PREFIX_ are not defined in this process \
                 (outside PrestaShop, use a mysql:// URL)"
            ))),
        },
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
    fn refusals_name_the_setting_and_hide_the_password() {
        // A closed loopback port: refused at once, and no database is needed.
        for value in [
            "mysql://user:s3cretpw@127.0.0.1:1/shop",
            "mysql://user:s3cretpw@h",
            "prestashop",
        ] {
            let err = open(value, &OpenOptions::default()).err().expect("refused");
            assert!(
                err.message().contains(DATABASE_SETTING)
                    || err.message().contains("127.0.0.1:1/shop"),
                "{err}"
            );
            assert!(!err.message().contains("s3cret"), "{err}");
        }
    }
}
