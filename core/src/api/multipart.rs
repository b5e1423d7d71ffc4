//! The `multipart/form-data` body of `upload-documents` (RFC 7578): the
//! `body` part (the JSON naming each order and its documents) first, so a
//! server can refuse a malformed request before reading megabytes, then one
//! `files[]` part per PDF, in the order the documents list them.

use crate::invoice::Document;

/// A body and its `Content-Type` (with the boundary).
pub struct Multipart {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Builds the body. The boundary is random and checked against every part:
/// a boundary that occurs in a file would cut it.
pub fn build(body_json: &[u8], files: &[&Document]) -> Multipart {
    let boundary = loop {
        let b = format!(
            "sfsync-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        );
        let clash = std::iter::once(body_json)
            .chain(files.iter().map(|f| f.bytes.as_slice()))
            .any(|part| contains(part, b.as_bytes()));
        if !clash {
            break b;
        }
    };
    let size = body_json.len() + files.iter().map(|f| f.bytes.len() + 200).sum::<usize>() + 300;
    let mut out = Vec::with_capacity(size);
    let open = |out: &mut Vec<u8>, headers: &str| {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(headers.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    };
    open(
        &mut out,
        "Content-Disposition: form-data; name=\"body\"\r\nContent-Type: application/json",
    );
    out.extend_from_slice(body_json);
    out.extend_from_slice(b"\r\n");
    for file in files {
        // Names were checked at saveOrder: no quote, backslash or line break.
        open(
            &mut out,
            &format!(
                "Content-Disposition: form-data; name=\"files[]\"; filename=\"{}\"\r\nContent-Type: application/pdf",
                file.name
            ),
        );
        out.extend_from_slice(&file.bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    Multipart {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes: out,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, bytes: &[u8]) -> Document {
        Document {
            name: name.into(),
            kind: "invoice".into(),
            bytes: bytes.to_vec(),
        }
    }

    /// Splits a body on its boundary: (headers, content) per part.
    fn parts(m: &Multipart) -> Vec<(String, Vec<u8>)> {
        let boundary = m.content_type.split("boundary=").nth(1).unwrap();
        let delim = format!("--{boundary}");
        let text = &m.bytes;
        let mut out = Vec::new();
        let mut at = delim.len() + 2;
        loop {
            let end = (at..text.len())
                .find(|&i| text[i..].starts_with(format!("\r\n{delim}").as_bytes()))
                .unwrap();
            let part = &text[at..end];
            let split = (0..part.len())
                .find(|&i| part[i..].starts_with(b"\r\n\r\n"))
                .unwrap();
            out.push((
                String::from_utf8(part[..split].to_vec()).unwrap(),
                part[split + 4..].to_vec(),
            ));
            at = end + 2 + delim.len();
            if text[at..].starts_with(b"--") {
                assert_eq!(&text[at..], b"--\r\n");
                return out;
            }
            at += 2;
        }
    }

    #[test]
    fn the_body_part_then_one_part_per_file() {
        let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let mut pdf = b"%PDF-1.7\r\n--\r\n".to_vec();
        pdf.extend_from_slice(&binary);
        let a = doc("FA1.pdf", &pdf);
        let b = doc("FA2.pdf", b"%PDF-1.4 small");
        let m = build(br#"{"order":[{"id":1}]}"#, &[&a, &b]);
        assert!(m
            .content_type
            .starts_with("multipart/form-data; boundary=sfsync-"));
        let p = parts(&m);
        assert_eq!(p.len(), 3);
        assert!(p[0].0.contains("name=\"body\""));
        assert_eq!(p[0].1, br#"{"order":[{"id":1}]}"#);
        assert!(p[1].0.contains("name=\"files[]\"; filename=\"FA1.pdf\""));
        assert!(p[1].0.contains("Content-Type: application/pdf"));
        assert_eq!(p[1].1, pdf);
        assert_eq!(p[2].1, b"%PDF-1.4 small");
    }
}
