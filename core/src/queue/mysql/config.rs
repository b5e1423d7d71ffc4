//! Where a MySQL/MariaDB queue lives: parsed from a `mysql://` URL or from
//! PrestaShop's `_DB_*` constants, and shown without its password.
//!
//! `mysql://USER:PASSWORD@HOST[:PORT]/DBNAME[?prefix=ps_&socket=/path&tls=required&tls-ca=/ca.pem]`
//!
//! - user and password are percent-decoded (a password may hold `@`, `:`,
//!   `/` once written as `%40`, `%3A`, `%2F`);
//! - `prefix`: the table prefix (PrestaShop's `_DB_PREFIX_`, e.g. `ps_`):
//!   letters, digits and `_`, at most 32 characters;
//! - `socket`: a unix socket path (then the host is only shown, not used);
//! - `tls`: `disabled` (default on a socket or a loopback host),
//!   `required` (default elsewhere: encrypted, the server's certificate
//!   checked against the system roots or `tls-ca`).
//!
//! Nothing here ever puts the password in a message: [`MysqlConfig`]'s
//! `Debug` and [`MysqlConfig::shown`] leave it out, and errors about the
//! URL quote no part of it.

use crate::error::{Error, Result};
use crate::queue::open::DATABASE_SETTING;
use std::fmt;

/// The table of the queue, after the prefix.
pub const TABLE: &str = "shoppingfeed_order_sync_queue";

/// Longest accepted table prefix (MySQL names are at most 64 characters).
pub const MAX_PREFIX_LEN: usize = 32;

/// Whether the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Disabled,
    Required,
}

/// A MySQL/MariaDB queue's address and credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct MysqlConfig {
    pub host: String,
    pub port: u16,
    pub socket: Option<String>,
    pub user: String,
    pub password: String,
    pub database: String,
    pub prefix: String,
    pub tls: Tls,
    /// A CA file for `tls=required` (else the system's roots).
    pub tls_ca: Option<String>,
}

impl fmt::Debug for MysqlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

fn refused(why: &str) -> Error {
    Error::storage(format!(
        "{DATABASE_SETTING}: the mysql:// URL is refused: {why} (expected \
         mysql://USER:PASSWORD@HOST[:PORT]/DBNAME[?prefix=ps_&socket=/path&tls=required])"
    ))
}

impl MysqlConfig {
    /// The queue's table: prefix + [`TABLE`].
    pub fn table(&self) -> String {
        format!("{}{TABLE}", self.prefix)
    }

    /// Where the queue is, for messages and `phpinfo()`: user, server,
    /// database and table, never the password.
    pub fn shown(&self) -> String {
        let server = match &self.socket {
            Some(socket) => format!("{}@localhost:{socket}", self.user),
            None => format!("{}@{}:{}", self.user, self.host, self.port),
        };
        format!("mysql://{server}/{} table {}", self.database, self.table())
    }

    /// A `mysql://` value as it may be shown (phpinfo, the CLI): the
    /// password replaced by `***`, whether or not the URL is valid.
    pub fn redact_url(url: &str) -> String {
        let Some(scheme_end) = url.find("://") else {
            return url.to_string();
        };
        let start = scheme_end + 3;
        let main_end = url[start..].find('?').map_or(url.len(), |i| start + i);
        let Some(at) = url[start..main_end].rfind('@').map(|i| start + i) else {
            return url.to_string();
        };
        match url[start..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
            None => url.to_string(),
        }
    }

    /// Parses a `mysql://` URL (see the module comment).
    pub fn from_url(url: &str) -> Result<MysqlConfig> {
        let url = url.trim();
        let rest = match url.find("://") {
            Some(end) if url[..end].eq_ignore_ascii_case("mysql") => &url[end + 3..],
            _ => return Err(refused("it does not start with mysql://")),
        };
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        // The credentials end at the last '@' (an undecoded '@' in the
        // password is then still read right).
        let (credentials, location) = match main.rfind('@') {
            Some(at) => (&main[..at], &main[at + 1..]),
            None => ("", main),
        };
        let (user, password) = match credentials.split_once(':') {
            Some((u, p)) => (u, p),
            None => (credentials, ""),
        };
        let user = percent_decode(user).ok_or_else(|| refused("the user is badly encoded"))?;
        let password =
            percent_decode(password).ok_or_else(|| refused("the password is badly encoded"))?;
        let (server, database) = match location.split_once('/') {
            Some((s, d)) => (s, d),
            None => (location, ""),
        };
        let database = percent_decode(database.trim_end_matches('/'))
            .ok_or_else(|| refused("the database name is badly encoded"))?;
        let (host, port) = split_host_port(server)?;
        let mut config = MysqlConfig {
            host,
            port,
            socket: None,
            user,
            password,
            database,
            prefix: String::new(),
            tls: Tls::Disabled,
            tls_ca: None,
        };
        let mut tls = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            // A bare `prefix` is what an unquoted URL becomes in php.ini or
            // `php -d` (PHP's INI parser stops the value at `=`): refused,
            // rather than silently using the table without a prefix.
            let Some((key, value)) = pair.split_once('=') else {
                return Err(refused(&format!(
                    "option '{}' has no value (quote the whole URL in php.ini and in php -d: \
                     unquoted, PHP cuts it at the first '=')",
                    crate::text::shorten(pair, 40)
                )));
            };
            let value = percent_decode(value)
                .ok_or_else(|| refused(&format!("option {key} is badly encoded")))?;
            match key {
                "prefix" => config.prefix = value,
                "socket" => config.socket = Some(value),
                "tls" | "ssl-mode" => tls = Some(parse_tls(&value)?),
                "tls-ca" => config.tls_ca = Some(value),
                other => {
                    return Err(refused(&format!(
                        "unknown option '{}' (known: prefix, socket, tls, tls-ca)",
                        crate::text::shorten(other, 40)
                    )))
                }
            }
        }
        config.tls = tls.unwrap_or_else(|| config.default_tls());
        config.check()?;
        Ok(config)
    }

    /// The shop's own database from PrestaShop's constants: `_DB_SERVER_`
    /// is `host`, `host:port`, a socket path, or `host:/socket/path`.
    pub fn from_prestashop(
        server: &str,
        database: &str,
        user: &str,
        password: &str,
        prefix: &str,
    ) -> Result<MysqlConfig> {
        let server = server.trim();
        let (host, port, socket) = if server.starts_with('/') {
            ("localhost".to_string(), 3306, Some(server.to_string()))
        } else if let Some((h, s)) = server.split_once(":/") {
            (h.to_string(), 3306, Some(format!("/{s}")))
        } else {
            let (h, p) = split_host_port(server).map_err(|_| {
                Error::storage(format!(
                    "{DATABASE_SETTING} = prestashop: _DB_SERVER_ {} is neither host, \
                     host:port nor a socket path",
                    crate::text::excerpt(server)
                ))
            })?;
            (h, p, None)
        };
        let mut config = MysqlConfig {
            host,
            port,
            socket,
            user: user.to_string(),
            password: password.to_string(),
            database: database.to_string(),
            prefix: prefix.to_string(),
            tls: Tls::Disabled,
            tls_ca: None,
        };
        config.tls = config.default_tls();
        config.check()?;
        Ok(config)
    }

    /// Encryption by default wherever the connection leaves the machine.
    fn default_tls(&self) -> Tls {
        let local = self.socket.is_some()
            || self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false);
        if local {
            Tls::Disabled
        } else {
            Tls::Required
        }
    }

    fn check(&self) -> Result<()> {
        if self.database.is_empty() {
            return Err(refused("it names no database (…/DBNAME)"));
        }
        if self.user.is_empty() {
            return Err(refused("it names no user (USER:PASSWORD@…)"));
        }
        if self.host.is_empty() && self.socket.is_none() {
            return Err(refused("it names no host"));
        }
        if self.prefix.len() > MAX_PREFIX_LEN
            || !self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::storage(format!(
                "{DATABASE_SETTING}: the table prefix {} is refused: letters, digits and _ \
                 only, at most {MAX_PREFIX_LEN} characters",
                crate::text::excerpt(&self.prefix)
            )));
        }
        if self.database.contains('`') || self.database.contains('\0') {
            return Err(refused("the database name holds ` or NUL"));
        }
        Ok(())
    }
}

fn parse_tls(value: &str) -> Result<Tls> {
    match value.to_ascii_lowercase().as_str() {
        "disabled" | "off" | "false" | "0" => Ok(Tls::Disabled),
        "required" | "on" | "true" | "1" | "verify_ca" | "verify_identity" => Ok(Tls::Required),
        _ => Err(refused(&format!(
            "tls={} is unknown (disabled or required)",
            crate::text::shorten(value, 20)
        ))),
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(server: &str) -> Result<(String, u16)> {
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (format!("[{h}]"), tail.strip_prefix(':')),
            None => return Err(refused("an IPv6 host lacks its ]")),
        }
    } else {
        match server.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (server.to_string(), None),
        }
    };
    let port = match port {
        None | Some("") => 3306,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| refused("the port is not a number from 1 to 65535"))?,
    };
    let host = percent_decode(&host).ok_or_else(|| refused("the host is badly encoded"))?;
    Ok((host, port))
}

/// `%XX` decoding (no `+`: a URL's path and userinfo keep `+`). None on a
/// broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_url() {
        let c = MysqlConfig::from_url(
            "mysql://shop:p%40ss:w0rd@db.example:3307/prestashop?prefix=ps_&tls=required",
        )
        .unwrap();
        assert_eq!(c.user, "shop");
        assert_eq!(c.password, "p@ss:w0rd");
        assert_eq!((c.host.as_str(), c.port), ("db.example", 3307));
        assert_eq!(c.database, "prestashop");
        assert_eq!(c.table(), "ps_shoppingfeed_order_sync_queue");
        assert_eq!(c.tls, Tls::Required);
        assert!(!format!("{c:?} {}", c.shown()).contains("w0rd"));
    }

    #[test]
    fn defaults_and_sockets() {
        let c = MysqlConfig::from_url("MYSQL://u:p@127.0.0.1/db").unwrap();
        assert_eq!(
            (c.port, c.tls, c.prefix.as_str()),
            (3306, Tls::Disabled, "")
        );
        let c = MysqlConfig::from_url("mysql://u:p@db.internal/db").unwrap();
        assert_eq!(
            c.tls,
            Tls::Required,
            "off the machine: encrypted by default"
        );
        let c = MysqlConfig::from_url("mysql://u:p@localhost/db?socket=%2Frun%2Fm.sock").unwrap();
        assert_eq!(c.socket.as_deref(), Some("/run/m.sock"));
        let c = MysqlConfig::from_url("mysql://u:p@@x@[::1]:3310/db").unwrap();
        assert_eq!(
            (c.password.as_str(), c.host.as_str(), c.port),
            ("p@@x", "[::1]", 3310)
        );
    }

    #[test]
    fn refusals_name_the_problem_not_the_password() {
        for (url, why) in [
            ("mysql://u:s3cretpw@h", "no database"),
            ("mysql://:s3cretpw@h/db", "no user"),
            ("mysql://u:s3cretpw@h:99999/db", "port"),
            ("mysql://u:s3cretpw@h/db?prefix=a;drop", "prefix"),
            ("mysql://u:s3cretpw@h/db?colour=red", "unknown option"),
            ("mysql://u:s3cret%zz@h/db", "password is badly encoded"),
            ("mysql://u:s3cretpw@h/db?tls=maybe", "tls=maybe"),
            (
                "mysql://u:s3cretpw@h/db?prefix",
                "option 'prefix' has no value",
            ),
        ] {
            let e = MysqlConfig::from_url(url).expect_err(url);
            assert!(e.message().contains(why), "{url}: {e}");
            assert!(!e.message().contains("s3cret"), "{url}: {e}");
            assert!(e.message().contains(DATABASE_SETTING), "{url}: {e}");
        }
    }

    #[test]
    fn shown_urls_hide_the_password() {
        assert_eq!(
            MysqlConfig::redact_url("mysql://shop:p@ss@db:3306/ps?prefix=ps_"),
            "mysql://shop:***@db:3306/ps?prefix=ps_"
        );
        assert_eq!(MysqlConfig::redact_url("mysql://db/ps"), "mysql://db/ps");
        assert_eq!(
            MysqlConfig::redact_url("mysql://u@db/ps"),
            "mysql://u@db/ps"
        );
        assert_eq!(
            MysqlConfig::redact_url("mysql://u:@db/ps"),
            "mysql://u:***@db/ps"
        );
    }

    #[test]
    fn prestashop_constants() {
        let c = MysqlConfig::from_prestashop("127.0.0.1:3307", "shop", "ps", "pw", "ps_").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.socket.as_deref()),
            ("127.0.0.1", 3307, None)
        );
        let c = MysqlConfig::from_prestashop(
            "localhost:/var/run/mysqld/mysqld.sock",
            "s",
            "u",
            "p",
            "",
        )
        .unwrap();
        assert_eq!(c.socket.as_deref(), Some("/var/run/mysqld/mysqld.sock"));
        let c = MysqlConfig::from_prestashop("/tmp/m.sock", "s", "u", "p", "ps_").unwrap();
        assert_eq!(c.socket.as_deref(), Some("/tmp/m.sock"));
        let e = MysqlConfig::from_prestashop("db:port", "s", "u", "secretpw", "ps_").unwrap_err();
        assert!(e.message().contains("_DB_SERVER_") && !e.message().contains("secretpw"));
    }
}
