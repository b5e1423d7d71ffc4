//! `upload-documents`: the multipart body (a `body` part holding the JSON
//! order list, one `files[]` part per PDF), its limits, the summary the
//! log keeps instead of the bytes, and the `no_documents_*` switches.
//!
//! Everything after the body is read follows the JSON operations' code
//! path (api.rs `order`): only the reading of the order list differs, and
//! the per-order failures found here (a file that is no PDF) travel in
//! `ParsedOrder::failure` to the ticket.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::multipart;
use crate::state::ParsedOrder;

/// Largest file accepted (Shopping Feed's support pages say 5 MB); a file
/// of exactly this size passes.
pub const MAX_FILE: usize = 5 * 1024 * 1024;
/// Largest request body of this route (the JSON operations keep theirs).
pub const MAX_BODY: usize = 128 * 1024 * 1024;
/// The only document type the route takes.
pub const DOC_TYPE: &str = "invoice";
/// Failure message of `no_documents_*` orders.
pub const NO_DOCUMENTS_MSG: &str = "The marketplace does not accept documents";
const FILES_PART: &str = "files[]";
const BODY_PART: &str = "body";

/// What the log and the tickets may know of a file: never its bytes.
pub struct DocFile {
    pub name: String,
    pub size: usize,
    pub sha256: String,
    pub content_type: Option<String>,
    pub is_pdf: bool,
}

/// A read multipart body: the `body` part's text and the files, in order.
pub struct Upload {
    body: Option<String>,
    pub files: Vec<DocFile>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Upload {
    /// Reads the multipart body; the error is the 400's detail.
    pub fn read(content_type: Option<&str>, body: &[u8]) -> Result<Upload, String> {
        let Some(ct) = content_type else {
            return Err("Content-Type must be multipart/form-data with a boundary".into());
        };
        let boundary = multipart::boundary(ct)?;
        let parts = multipart::parse(body, &boundary)
            .map_err(|e| format!("Malformed multipart body: {e}"))?;
        let mut up = Upload {
            body: None,
            files: Vec::new(),
        };
        for (i, p) in parts.iter().enumerate() {
            match p.name.as_deref() {
                None => {
                    return Err(format!(
                        "Multipart part {} has no name (Content-Disposition: form-data; name=...)",
                        i + 1
                    ))
                }
                Some(BODY_PART) if up.body.is_some() => {
                    return Err("Multipart body holds two \"body\" parts".into())
                }
                Some(BODY_PART) => {
                    let text = std::str::from_utf8(p.data)
                        .map_err(|_| "The \"body\" part is not UTF-8")?;
                    up.body = Some(text.to_string());
                }
                Some(FILES_PART) => {
                    let Some(name) = p.filename.clone().filter(|n| !n.is_empty()) else {
                        return Err(format!(
                            "Multipart part {} (files[]) has no filename",
                            i + 1
                        ));
                    };
                    up.files.push(DocFile {
                        name,
                        size: p.data.len(),
                        sha256: hex(&Sha256::digest(p.data)),
                        content_type: p.content_type.clone(),
                        is_pdf: p.data.starts_with(b"%PDF-"),
                    });
                }
                // other named parts are not the API's: ignored
                Some(_) => {}
            }
        }
        Ok(up)
    }

    /// The log's body for this request: the `body` part's order list (null
    /// when it is not a JSON object with one) and the files' names, sizes
    /// and hashes.
    pub fn summary(&self) -> String {
        let order = self
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Map<String, Value>>(b).ok())
            .and_then(|mut m| m.remove("order"))
            .unwrap_or(Value::Null);
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                json!({"name": f.name, "size": f.size, "sha256": f.sha256, "content_type": f.content_type})
            })
            .collect();
        json!({"order": order, "files": files}).to_string()
    }

    /// A file over [`MAX_FILE`]: the 413's detail names it.
    pub fn too_large(&self) -> Option<String> {
        let f = self.files.iter().find(|f| f.size > MAX_FILE)?;
        Some(format!(
            "File {} is {} bytes, more than the {MAX_FILE} bytes (5 MiB) a document may have",
            f.name, f.size
        ))
    }

    /// The `body` part's text (the JSON `{"order": [...]}`).
    pub fn body(&self) -> Result<&str, String> {
        self.body.as_deref().ok_or_else(|| {
            "Missing the multipart part \"body\" (JSON {\"order\": [...]})".to_string()
        })
    }

    /// Gives each order its files, in order across all orders; an order
    /// with a file that is no PDF gets a failure for its ticket.
    pub fn assign(&self, orders: &mut [ParsedOrder]) -> Result<(), String> {
        let wanted: usize = orders.iter().map(|o| o.documents).sum();
        if wanted != self.files.len() {
            return Err(format!(
                "The orders name {wanted} documents but {} files (parts \"files[]\") were sent",
                self.files.len()
            ));
        }
        let mut files = self.files.iter();
        for o in orders {
            let mine: Vec<&DocFile> = files.by_ref().take(o.documents).collect();
            if let Some(f) = mine.iter().find(|f| !f.is_pdf) {
                o.failure = Some(
                    format!(
                        "Document {} is not a PDF (it does not start with %PDF-)",
                        f.name
                    )
                    .into(),
                );
            }
        }
        Ok(())
    }
}

/// Validates an element's `documents`; returns how many it names.
pub fn count_documents(o: &Map<String, Value>, name: &str) -> Result<usize, String> {
    let docs = match o.get("documents") {
        Some(Value::Array(d)) if !d.is_empty() => d,
        Some(Value::Array(_)) => return Err(format!("Order {name}: documents is empty")),
        Some(_) => return Err(format!("Order {name}: documents must be an array")),
        None => return Err(format!("Order {name}: missing documents")),
    };
    for (j, d) in docs.iter().enumerate() {
        match d.get("type") {
            Some(Value::String(t)) if t == DOC_TYPE => {}
            Some(t) => {
                return Err(format!(
                    "Order {name}: documents[{j}].type must be \"{DOC_TYPE}\", got {t}"
                ))
            }
            None => return Err(format!("Order {name}: documents[{j}] has no type")),
        }
    }
    Ok(docs.len())
}

/// The `no_documents_orders` / `no_documents_channels` switches: orders
/// (by id or reference) and channels whose marketplace takes no documents.
#[derive(Clone, Debug, Default)]
pub struct DocSwitches {
    pub orders: BTreeSet<String>,
    /// Lower-cased: channel names compare case-insensitively.
    pub channels: BTreeSet<String>,
}

impl DocSwitches {
    /// Applies one config key; false when the key is not one of these.
    pub fn merge_key(&mut self, k: &str, v: &Value) -> Result<bool, String> {
        let set = match k {
            "no_documents_orders" => &mut self.orders,
            "no_documents_channels" => &mut self.channels,
            _ => return Ok(false),
        };
        let list = match v {
            Value::Null => Vec::new(),
            Value::Array(a) => a
                .iter()
                .map(|s| match s.as_str() {
                    Some(s) if !s.is_empty() => Ok(s.to_string()),
                    _ => Err(format!("{k} must hold non-empty strings")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(format!("{k} must be null or an array of strings")),
        };
        let lower = k == "no_documents_channels";
        *set = list
            .into_iter()
            .map(|s| if lower { s.to_lowercase() } else { s })
            .collect();
        Ok(true)
    }

    pub fn write_json(&self, m: &mut Map<String, Value>) {
        m.insert("no_documents_orders".into(), json!(self.orders));
        m.insert("no_documents_channels".into(), json!(self.channels));
    }

    /// Whether the order (its keys, its channel if known) takes no documents.
    pub fn refuses(&self, display: &str, alt: Option<&str>, channel: Option<&str>) -> bool {
        self.orders.contains(display)
            || alt.is_some_and(|a| self.orders.contains(a))
            || channel.is_some_and(|c| self.channels.contains(&c.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, file, data) in parts {
            b.extend_from_slice(b"--B\r\nContent-Disposition: form-data; name=\"");
            b.extend_from_slice(name.as_bytes());
            b.push(b'"');
            if let Some(f) = file {
                b.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
            }
            b.extend_from_slice(b"\r\n\r\n");
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--B--\r\n");
        b
    }

    const CT: Option<&str> = Some("multipart/form-data; boundary=B");

    #[test]
    fn reads_files_and_the_body_part() {
        let b = body(&[
            (
                "body",
                None,
                br#"{"order":[{"id":1,"documents":[{"type":"invoice"}]}]}"#,
            ),
            ("files[]", Some("a.pdf"), b"%PDF-1.4 x"),
            ("other", None, b"ignored"),
        ]);
        let up = Upload::read(CT, &b).unwrap();
        assert_eq!(up.files.len(), 1);
        assert!(up.files[0].is_pdf);
        assert_eq!(up.files[0].size, 10);
        let s: Value = serde_json::from_str(&up.summary()).unwrap();
        assert_eq!(s["order"][0]["id"], 1);
        assert_eq!(s["files"][0]["name"], "a.pdf");
        // sha256("%PDF-1.4 x")
        assert_eq!(s["files"][0]["sha256"].as_str().unwrap().len(), 64);
        assert!(up.too_large().is_none());
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let e = |ct: Option<&str>, b: &[u8]| Upload::read(ct, b).err().unwrap();
        assert!(e(None, b"").contains("multipart/form-data"));
        assert!(e(Some("application/json"), b"{}").contains("multipart/form-data"));
        assert!(e(CT, b"--B\r\n").contains("Malformed multipart body"));
        assert!(e(CT, &body(&[("files[]", None, b"%PDF-")])).contains("no filename"));
        assert!(e(CT, &body(&[("body", None, b"{}"), ("body", None, b"{}")])).contains("two"));
        let up = Upload::read(CT, &body(&[("files[]", Some("x.pdf"), b"%PDF-")])).unwrap();
        assert!(up.body().unwrap_err().contains("\"body\""));
    }

    #[test]
    fn switches_match_orders_and_channels() {
        let mut s = DocSwitches::default();
        assert!(s
            .merge_key("no_documents_channels", &json!(["CDiscount"]))
            .unwrap());
        assert!(s.merge_key("no_documents_orders", &json!(["7"])).unwrap());
        assert!(!s.merge_key("other", &json!(1)).unwrap());
        assert!(s.merge_key("no_documents_orders", &json!(1)).is_err());
        assert!(s.refuses("1", None, Some("cdiscount")));
        assert!(s.refuses("7", None, None));
        assert!(s.refuses("9", Some("7"), None));
        assert!(!s.refuses("1", None, Some("amazon")));
        s.merge_key("no_documents_channels", &Value::Null).unwrap();
        assert!(!s.refuses("1", None, Some("cdiscount")));
    }
}
