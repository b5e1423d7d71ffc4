//! Invoices (`SYNC_INVOICE`): the PDFs an update carries, their limits, and
//! how they leave for the API (`upload-documents`, multipart).
//!
//! The snapshot holds the documents themselves, so that a cron on any web
//! server can send them: `documents` is a list of
//! `{"name": "FA000123.pdf", "type": "invoice", "content_base64": "..."}`
//! (the binding turns PHP's raw `content` bytes into `content_base64`; the
//! queue's payload is JSON text, which cannot hold raw bytes). Checked at
//! `saveOrder`: a document with no name, no bytes, bytes that are not a PDF
//! or more bytes than the limit is refused, named, and nothing is queued.

use crate::error::{Error, Result};
use crate::text;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

/// Largest PDF accepted, in bytes: Shopping Feed's documented 5 MB (read
/// as 5,000,000, the smaller of the two readings, so that a file the
/// extension accepts is never one the API refuses).
pub const MAX_DOCUMENT_BYTES: usize = 5_000_000;
/// Documents one update may carry (an order may have several invoices).
pub const MAX_DOCUMENTS: usize = 10;
/// All documents of one update together, in bytes: two PDFs at the limit.
/// The payload holds them as base64 (4/3 larger): 13.4 MB of JSON at most,
/// under MariaDB's default `max_allowed_packet` (16 MiB); MySQL 5.7's
/// default (4 MiB) needs raising for invoices over ~3 MB (docs/INI.md).
pub const MAX_UPDATE_BYTES: usize = 10_000_000;
/// Files one `upload-documents` request carries: the official SDK's own
/// chunk (no server limit is documented).
pub const MAX_FILES_PER_REQUEST: usize = 20;
/// Bytes of files one request carries: a request stays well under a
/// minute on a slow uplink, and memory per request bounded.
pub const MAX_BYTES_PER_REQUEST: usize = 20_000_000;

/// Invoice rows one claim takes at most, whatever `MAX_ORDERS` says: their
/// PDFs are in memory while they are sent (a row's base64 and one copy for
/// its request: ~0.5 MB for a 200 KB PDF), so a claim of 50 holds ~27 MB
/// and still fills 3 requests of 20 files in flight.
pub const MAX_ROWS_PER_CLAIM: i64 = 50;

/// The document types the API knows for orders.
const TYPES: &[&str] = &["invoice"];

/// One document ready for the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub name: String,
    pub kind: String,
    pub bytes: Vec<u8>,
}

/// The `documents` of an invoice snapshot, checked (see the module's doc)
/// without decoding them: sizes from the base64 text's length, the PDF
/// signature from its first characters (`saveOrder` runs in the
/// merchant's request).
pub fn validate(snapshot: &Value) -> Result<()> {
    let list = documents_of(snapshot)?;
    let mut total = 0usize;
    for (i, doc) in list.iter().enumerate() {
        let (name, _, size) = check_document(i, doc)?;
        total += size;
        if total > MAX_UPDATE_BYTES {
            return Err(Error::input(format!(
                "order.documents: the documents up to {} make {total} bytes, more than the {MAX_UPDATE_BYTES} one update may carry",
                text::excerpt(&name)
            )));
        }
    }
    Ok(())
}

/// The documents of a stored invoice row, decoded for the wire.
pub fn decode(snapshot: &Value) -> Result<Vec<Document>> {
    let list = documents_of(snapshot)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, doc) in list.iter().enumerate() {
        let (name, kind, _) = check_document(i, doc)?;
        let b64 = doc
            .get("content_base64")
            .and_then(Value::as_str)
            .unwrap_or("");
        let bytes = STANDARD.decode(b64).map_err(|e| {
            Error::input(format!(
                "order.documents[{i}] ({}): content_base64 is not base64: {e}",
                text::excerpt(&name)
            ))
        })?;
        out.push(Document { name, kind, bytes });
    }
    Ok(out)
}

/// The bytes one row's documents put on the wire (their decoded size).
pub fn wire_bytes(snapshot: &Value) -> usize {
    documents_of(snapshot)
        .map(|list| {
            list.iter()
                .filter_map(|d| d.get("content_base64").and_then(Value::as_str))
                .map(decoded_len)
                .sum()
        })
        .unwrap_or(0)
}

/// How many files one row's documents are.
pub fn file_count(snapshot: &Value) -> usize {
    documents_of(snapshot).map_or(0, |l| l.len())
}

/// The element of `upload-documents` for one row: the identifier and one
/// `{"type"}` per document, in the order of the files.
pub fn element(mut identifier: Map<String, Value>, snapshot: &Value) -> Result<Value> {
    let list = documents_of(snapshot)?;
    let mut docs = Vec::with_capacity(list.len());
    for (i, doc) in list.iter().enumerate() {
        let (_, kind, _) = check_document(i, doc)?;
        docs.push(serde_json::json!({ "type": kind }));
    }
    identifier.insert("documents".into(), Value::Array(docs));
    Ok(Value::Object(identifier))
}

/// Encodes raw bytes as the payload keeps them.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn documents_of(snapshot: &Value) -> Result<&Vec<Value>> {
    let list = match snapshot.get("documents") {
        Some(Value::Array(list)) => list,
        None | Some(Value::Null) => {
            return Err(Error::input(
                "order.documents is missing: an invoice update carries its PDFs \
                 (['name' => ..., 'content' => <the PDF's bytes>])",
            ))
        }
        Some(_) => return Err(Error::input("order.documents must be a list of documents")),
    };
    if list.is_empty() {
        return Err(Error::input(
            "order.documents is empty: an invoice update carries at least one PDF",
        ));
    }
    if list.len() > MAX_DOCUMENTS {
        return Err(Error::input(format!(
            "order.documents holds {} documents, more than the {MAX_DOCUMENTS} one update may carry",
            list.len()
        )));
    }
    Ok(list)
}

/// Name, type and size of document `i`, after its checks.
fn check_document(i: usize, doc: &Value) -> Result<(String, String, usize)> {
    let obj = doc.as_object().ok_or_else(|| {
        Error::input(format!(
            "order.documents[{i}] must be an array with 'name' and 'content'"
        ))
    })?;
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 255 => s.clone(),
        _ => {
            return Err(Error::input(format!(
                "order.documents[{i}].name must be a file name (1 to 255 bytes)"
            )))
        }
    };
    if name.contains(['"', '\r', '\n', '\\', '/']) || name.chars().any(char::is_control) {
        return Err(Error::input(format!(
            "order.documents[{i}].name {} holds a character a file name cannot carry",
            text::excerpt(&name)
        )));
    }
    let kind = match obj.get("type") {
        None | Some(Value::Null) => "invoice".to_string(),
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => t.clone(),
        Some(_) => {
            return Err(Error::input(format!(
                "order.documents[{i}].type ({}) must be one of: {}",
                text::excerpt(&name),
                TYPES.join(", ")
            )))
        }
    };
    let b64 = match obj.get("content_base64") {
        Some(Value::String(s)) => s.as_str(),
        _ => {
            return Err(Error::input(format!(
                "order.documents[{i}] ({}) has no content (the PDF's bytes)",
                text::excerpt(&name)
            )))
        }
    };
    let size = decoded_len(b64);
    if size == 0 {
        return Err(Error::input(format!(
            "order.documents[{i}] ({}) is empty (0 bytes)",
            text::excerpt(&name)
        )));
    }
    if size > MAX_DOCUMENT_BYTES {
        return Err(Error::input(format!(
            "order.documents[{i}] ({}) is {size} bytes, more than the {MAX_DOCUMENT_BYTES} bytes Shopping Feed accepts per PDF",
            text::excerpt(&name)
        )));
    }
    // The signature from the first base64 quantum(s): 8 characters give 6 bytes.
    let head = STANDARD
        .decode(&b64[..b64.len().min(8)])
        .unwrap_or_default();
    if !head.starts_with(b"%PDF-") {
        return Err(Error::input(format!(
            "order.documents[{i}] ({}) is not a PDF (its bytes do not start with %PDF-)",
            text::excerpt(&name)
        )));
    }
    Ok((name, kind, size))
}

/// The decoded length of padded standard base64 text.
pub fn decoded_len(b64: &str) -> usize {
    let pad = b64.bytes().rev().take_while(|&b| b == b'=').count().min(2);
    (b64.len() / 4 * 3).saturating_sub(pad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pdf(len: usize) -> Vec<u8> {
        let mut b = b"%PDF-1.4\n".to_vec();
        b.resize(len.max(9), b'x');
        b
    }

    fn snap(docs: Value) -> Value {
        json!({"id_internal_shoppingfeed": 1, "documents": docs})
    }

    #[test]
    fn documents_are_checked_and_named() {
        let ok = snap(json!([{"name": "FA1.pdf", "content_base64": encode(&pdf(1000))}]));
        validate(&ok).unwrap();
        let docs = decode(&ok).unwrap();
        assert_eq!(docs[0].bytes, pdf(1000));
        assert_eq!(docs[0].kind, "invoice");
        assert_eq!(wire_bytes(&ok), 1000);

        let at =
            snap(json!([{"name": "AT.pdf", "content_base64": encode(&pdf(MAX_DOCUMENT_BYTES))}]));
        validate(&at).unwrap();
        let over = snap(
            json!([{"name": "OVER.pdf", "content_base64": encode(&pdf(MAX_DOCUMENT_BYTES + 1))}]),
        );
        let e = validate(&over).unwrap_err().message().to_string();
        assert!(e.contains("OVER.pdf") && e.contains("5000001"), "{e}");

        let html = snap(json!([{"name": "X.pdf", "content_base64": encode(b"<html>")}]));
        assert!(validate(&html)
            .unwrap_err()
            .message()
            .contains("X.pdf') is not a PDF"));
        for (bad, needle) in [
            (
                json!({"id_internal_shoppingfeed": 1}),
                "order.documents is missing",
            ),
            (snap(json!([])), "is empty"),
            (
                snap(json!([{"content_base64": "JVBERi0="}])),
                "name must be",
            ),
            (
                snap(json!([{"name": "a\"b.pdf", "content_base64": "JVBERi0="}])),
                "cannot carry",
            ),
            (snap(json!([{"name": "N.pdf"}])), "N.pdf') has no content"),
            (
                snap(json!([{"name": "E.pdf", "content_base64": ""}])),
                "E.pdf') is empty",
            ),
            (
                snap(json!([{"name": "T.pdf", "type": "label", "content_base64": "JVBERi0="}])),
                "type ('T.pdf')",
            ),
        ] {
            let e = validate(&bad).unwrap_err().message().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
        let many: Vec<Value> = (0..=MAX_DOCUMENTS)
            .map(|i| json!({"name": format!("{i}.pdf"), "content_base64": encode(&pdf(10))}))
            .collect();
        assert!(validate(&snap(Value::Array(many)))
            .unwrap_err()
            .message()
            .contains("11 documents"));
        let big = encode(&pdf(MAX_DOCUMENT_BYTES));
        let three = snap(json!([
            {"name": "1.pdf", "content_base64": big},
            {"name": "2.pdf", "content_base64": big},
            {"name": "3.pdf", "content_base64": big}
        ]));
        assert!(validate(&three)
            .unwrap_err()
            .message()
            .contains("up to '3.pdf'"));
    }

    #[test]
    fn the_element_lists_one_type_per_file() {
        let s = snap(json!([
            {"name": "1.pdf", "content_base64": encode(&pdf(10))},
            {"name": "2.pdf", "type": "invoice", "content_base64": encode(&pdf(10))}
        ]));
        let mut id = Map::new();
        id.insert("id".into(), json!(1));
        assert_eq!(
            element(id, &s).unwrap(),
            json!({"id": 1, "documents": [{"type": "invoice"}, {"type": "invoice"}]})
        );
        assert_eq!(file_count(&s), 2);
    }

    #[test]
    fn decoded_length_counts_padding() {
        for n in 0..20 {
            assert_eq!(decoded_len(&encode(&vec![7u8; n])), n);
        }
    }
}
