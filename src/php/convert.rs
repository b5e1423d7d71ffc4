//! PHP values <-> core types: snapshots as JSON, conveyor keys, queue rows
//! as the arrays `ShoppingfeedOrderSyncQueue::find()` returns.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendHashTable, Zval};
use serde_json::{Map, Number, Value};
use sfsync_core::model::Row;
use sfsync_core::time::{datetime_bytes, format_datetime};
use sfsync_core::Error;

/// Nesting accepted in a snapshot: a snapshot is flat but for `refund`.
const MAX_DEPTH: usize = 16;

/// A PHP value as JSON. `path` names the value in error messages
/// (`order.refund.products`).
pub fn to_json(zv: &Zval, path: &str, depth: usize) -> Result<Value, Error> {
    value_to_json(zv, &JsonPath::Root(path), depth)
}

/// A setting's value as JSON (errors name it `setting NAME`).
pub fn setting_to_json(zv: &Zval, name: &str) -> Result<Value, Error> {
    value_to_json(zv, &JsonPath::Setting(name), 0)
}

/// Where a value sits, for error messages only: built as a chain of
/// borrowed segments and formatted only when an error names it (a snapshot
/// converts without allocating a path per key).
enum JsonPath<'a> {
    Root(&'a str),
    Setting(&'a str),
    Index(&'a JsonPath<'a>, usize),
    Key(&'a JsonPath<'a>, &'a str),
}

impl std::fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonPath::Root(p) => f.write_str(p),
            JsonPath::Setting(name) => write!(f, "setting {name}"),
            JsonPath::Index(parent, i) => write!(f, "{parent}.{i}"),
            JsonPath::Key(parent, k) => write!(f, "{parent}.{k}"),
        }
    }
}

impl JsonPath<'_> {
    /// `order.documents.N`: one document of an invoice snapshot.
    fn is_invoice_document(&self) -> bool {
        matches!(
            self,
            JsonPath::Index(JsonPath::Key(JsonPath::Root("order"), "documents"), _)
        )
    }
}

fn value_to_json(zv: &Zval, path: &JsonPath<'_>, depth: usize) -> Result<Value, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::input(format!(
            "{path} is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let zv = zv.dereference();
    Ok(match zv.get_type() {
        DataType::Null | DataType::Undef => Value::Null,
        DataType::False => Value::Bool(false),
        DataType::True => Value::Bool(true),
        DataType::Bool => Value::Bool(zv.bool().unwrap_or(false)),
        DataType::Long => Value::from(zv.long().unwrap_or(0)),
        DataType::Double => {
            let f = zv.double().unwrap_or(f64::NAN);
            Value::Number(
                Number::from_f64(f)
                    .ok_or_else(|| Error::input(format!("{path} is not a finite number")))?,
            )
        }
        DataType::String => Value::String(
            zv.str()
                .ok_or_else(|| Error::input(format!("{path} is not valid UTF-8")))?
                .to_string(),
        ),
        DataType::Array => {
            let ht = zv
                .array()
                .ok_or_else(|| Error::input(format!("{path} is unreadable")))?;
            array_to_json(ht, path, depth)?
        }
        other => {
            return Err(Error::input(format!(
                "{path} must hold only scalars and arrays, got {other}"
            )))
        }
    })
}

fn array_to_json(ht: &ZendHashTable, path: &JsonPath<'_>, depth: usize) -> Result<Value, Error> {
    let entries = entries(ht, &path.to_string())?;
    // A list (keys 0, 1, 2...) is a JSON array (ext-php-rs's
    // `has_sequential_keys` iterates with the panicking iterator).
    if entries
        .iter()
        .enumerate()
        .all(|(i, (k, _))| *k == i.to_string())
    {
        let mut out = Vec::with_capacity(entries.len());
        for (i, (_, v)) in entries.into_iter().enumerate() {
            out.push(value_to_json(v, &JsonPath::Index(path, i), depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    let mut out = Map::with_capacity(entries.len());
    let document = path.is_invoice_document();
    for (key, v) in entries {
        if document && key == "content" {
            // A PDF's bytes (any bytes: JSON text cannot hold them), kept
            // as base64 (see sfsync_core::invoice).
            if let Some(bytes) = v.dereference().zend_str() {
                let encoded = sfsync_core::invoice::encode(bytes.as_bytes());
                out.insert("content_base64".to_string(), Value::String(encoded));
                continue;
            }
        }
        let child = value_to_json(v, &JsonPath::Key(path, &key), depth + 1)?;
        out.insert(key, child);
    }
    Ok(Value::Object(out))
}

/// The entries of a PHP array, keys as text (integer keys written out).
/// ext-php-rs's `iter()` panics on a string key that is not UTF-8 (PHP keys
/// are bytes); the raw keys are read here instead, and such a key is bad
/// input naming `place`, like an invalid-UTF-8 value.
pub fn entries<'a>(ht: &'a ZendHashTable, place: &str) -> Result<Vec<(String, &'a Zval)>, Error> {
    let mut out = Vec::with_capacity(ht.len());
    let mut it = ht.iter();
    while let Some((k, v)) = it.next_zval() {
        let key = match k.long() {
            Some(i) => i.to_string(),
            None => k.str().map(str::to_string).ok_or_else(|| {
                Error::input(format!("{place} has a key that is not valid UTF-8"))
            })?,
        };
        out.push((key, v));
    }
    Ok(out)
}

/// The values of a PHP array, in order, with the same check of the keys as
/// [`entries`] (ext-php-rs's `values()` panics on them too).
pub fn values<'a>(ht: &'a ZendHashTable, place: &str) -> Result<Vec<&'a Zval>, Error> {
    Ok(entries(ht, place)?.into_iter().map(|(_, v)| v).collect())
}

/// JSON as a PHP value: objects become associative arrays (keys that are
/// canonical integers become integer keys, as PHP itself would store them).
pub fn from_json(v: &Value) -> Zval {
    let mut zv = Zval::new();
    match v {
        Value::Null => zv.set_null(),
        Value::Bool(b) => zv.set_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => zv.set_long(i),
            None => zv.set_double(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => {
            let _ = zv.set_string(s, false);
        }
        Value::Array(items) => {
            let mut ht = ZendHashTable::with_capacity(items.len() as u32);
            for item in items {
                let _ = ht.push(from_json(item));
            }
            zv.set_hashtable(ht);
        }
        Value::Object(map) => {
            let mut ht = ZendHashTable::with_capacity(map.len() as u32);
            for (k, item) in map {
                let _ = match canonical_int(k) {
                    Some(i) => ht.insert_at_index(i, from_json(item)),
                    None => ht.insert(k.as_str(), from_json(item)),
                };
            }
            zv.set_hashtable(ht);
        }
    }
    zv
}

fn canonical_int(k: &str) -> Option<i64> {
    let digits = k.strip_prefix('-').unwrap_or(k);
    if digits.is_empty() || digits.len() > 18 || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    if k == "-0" || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    k.parse().ok()
}

/// A required positive id from the conveyor: an int, or a decimal string
/// (PrestaShop often hands ids as strings).
pub fn id(conveyor: &ZendHashTable, key: &str) -> Result<i64, Error> {
    let zv = conveyor
        .get(key)
        .ok_or_else(|| Error::input(format!("conveyor key '{key}' is missing")))?;
    id_value(zv.dereference(), key)
}

pub fn id_value(zv: &Zval, key: &str) -> Result<i64, Error> {
    let n = match zv.get_type() {
        DataType::Long => zv.long(),
        DataType::String => zv.str().and_then(|s| {
            (!s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i64>().ok())
                .flatten()
        }),
        _ => None,
    };
    match n {
        Some(n) if n > 0 => Ok(n),
        _ => Err(Error::input(format!(
            "conveyor key '{key}' must be a positive integer, got {}",
            describe(zv)
        ))),
    }
}

/// A required string from the conveyor.
pub fn string(conveyor: &ZendHashTable, key: &str) -> Result<String, Error> {
    let zv = conveyor
        .get(key)
        .ok_or_else(|| Error::input(format!("conveyor key '{key}' is missing")))?
        .dereference();
    if zv.get_type() != DataType::String {
        return Err(Error::input(format!(
            "conveyor key '{key}' must be a string, got {}",
            describe(zv)
        )));
    }
    zv.str()
        .map(str::to_string)
        .ok_or_else(|| Error::input(format!("conveyor key '{key}' is not valid UTF-8")))
}

/// A short description of a value for error messages (never its content:
/// it might be a secret).
pub fn describe(zv: &Zval) -> &'static str {
    match zv.get_type() {
        DataType::Null | DataType::Undef => "null",
        DataType::False | DataType::True | DataType::Bool => "bool",
        DataType::Long => "int",
        DataType::Double => "float",
        DataType::String => "string",
        DataType::Array => "array",
        DataType::Object(_) => "object",
        _ => "another type",
    }
}

/// An invoice snapshot as PHP sees it in `find()` and the conveyor's
/// `batch`: each document's name, type and `size`, not its bytes (a batch
/// of PDFs would fill PHP's memory; the steps read the bytes from the
/// queue, never from PHP).
fn without_bytes(map: &Map<String, Value>) -> Value {
    // Built key by key: cloning the map first would copy every PDF's
    // base64 only to drop it.
    let doc_without_bytes = |doc: &Value| match doc.as_object() {
        Some(d) => {
            let mut out = Map::with_capacity(d.len());
            for (k, v) in d {
                match (k.as_str(), v) {
                    ("content_base64", Value::String(b64)) => {
                        let size = sfsync_core::invoice::decoded_len(b64);
                        out.insert("size".to_string(), Value::from(size));
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(out)
        }
        None => doc.clone(),
    };
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let v = match (k.as_str(), v) {
            ("documents", Value::Array(docs)) => {
                Value::Array(docs.iter().map(doc_without_bytes).collect())
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// A queue row as PHP sees it (the keys of the contract).
pub fn row_to_php(row: &Row) -> Zval {
    let mut ht = ZendHashTable::with_capacity(16);
    let opt = |s: &Option<String>| -> Zval {
        let mut zv = Zval::new();
        match s {
            Some(s) => {
                let _ = zv.set_string(s, false);
            }
            None => zv.set_null(),
        }
        zv
    };
    let _ = ht.insert("id_shoppingfeed_order", row.id);
    let _ = ht.insert("id_order", row.id_order);
    let _ = ht.insert("id_shop", row.id_shop);
    let _ = ht.insert("action", row.action.as_str());
    let _ = ht.insert("state", row.state.as_str());
    let _ = ht.insert(
        "operation",
        opt(&row.operation.map(|o| o.as_str().to_string())),
    );
    let payload = match &row.payload {
        Value::Object(map) if map.contains_key("documents") => from_json(&without_bytes(map)),
        Value::Object(_) => from_json(&row.payload),
        _ => {
            let mut zv = Zval::new();
            zv.set_hashtable(ZendHashTable::new());
            zv
        }
    };
    let _ = ht.insert("payload", payload);
    let _ = ht.insert("batch_id", opt(&row.batch_id));
    let _ = ht.insert("ticket_id", opt(&row.ticket_id));
    let _ = ht.insert("attempts", row.attempts);
    let _ = ht.insert("failures", row.failures);
    let _ = ht.insert("last_error", opt(&row.last_error));
    let _ = ht.insert("shoppingfeed_store_id", row.store_id);
    let _ = ht.insert("subject", row.subject);
    let mut buf = [0u8; 19];
    for (key, ts) in [
        ("update_at", row.update_at),
        ("date_add", row.date_add),
        ("date_upd", row.date_upd),
    ] {
        match datetime_bytes(ts, &mut buf).and_then(|b| std::str::from_utf8(b).ok()) {
            Some(text) => ht.insert(key, text),
            None => ht.insert(key, format_datetime(ts)),
        }
        .ok();
    }
    let mut zv = Zval::new();
    zv.set_hashtable(ht);
    zv
}

pub fn rows_to_php(rows: &[Row]) -> ZBox<ZendHashTable> {
    let mut ht = ZendHashTable::with_capacity(rows.len() as u32);
    for row in rows {
        let _ = ht.push(row_to_php(row));
    }
    ht
}

/// Row ids from a list of rows (arrays with `id_shoppingfeed_order`) or of
/// plain ids, as found in the conveyor's `batch` and `operations`.
pub fn row_ids(list: &Zval, key: &str) -> Result<Vec<i64>, Error> {
    let ht = list
        .dereference()
        .array()
        .ok_or_else(|| Error::input(format!("conveyor key '{key}' must be an array of rows")))?;
    let mut ids = Vec::with_capacity(ht.len());
    for item in values(ht, &format!("conveyor key '{key}'"))? {
        let item = item.dereference();
        let id = match item.array() {
            Some(row) => row
                .get("id_shoppingfeed_order")
                .ok_or_else(|| {
                    Error::input(format!(
                        "conveyor key '{key}' holds a row without id_shoppingfeed_order"
                    ))
                })
                .and_then(|v| id_value(v.dereference(), "id_shoppingfeed_order"))?,
            None => id_value(item, key)?,
        };
        ids.push(id);
    }
    Ok(ids)
}
