//! A small `multipart/form-data` reader (RFC 7578 over RFC 2046), enough
//! for `upload-documents`: the boundary from the Content-Type, then the
//! parts with their `name`, `filename`, `Content-Type` and bytes.
//!
//! It is strict where a lax reader would hide a client bug: lines end in
//! CRLF, the close delimiter must be there, every part has a header block
//! ending in an empty line. Part bodies are borrowed from the request body
//! and never copied (they may be megabytes of PDF).

/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY: usize = 70;
/// Longest header block of one part; a part's headers are a few lines.
const MAX_HEADERS: usize = 8 * 1024;

/// One part of the body.
#[derive(Debug)]
pub struct Part<'a> {
    /// `name` of its Content-Disposition (None: no such parameter).
    pub name: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

/// The boundary of a `multipart/form-data` Content-Type; the error says
/// what is wrong (the 400's detail).
pub fn boundary(content_type: &str) -> Result<String, String> {
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!(
            "Content-Type must be multipart/form-data, got {:?}",
            content_type
        ));
    }
    // a quoted boundary may hold ';' (a bchar), so parameters are read with
    // the same quoted-string rule as Content-Disposition
    let rest = content_type[content_type.find(';').unwrap_or(content_type.len())..].to_string();
    let b = param(&rest, "boundary")
        .ok_or("Content-Type multipart/form-data has no boundary parameter")?;
    if b.is_empty() || b.len() > MAX_BOUNDARY {
        return Err(format!(
            "multipart boundary must be 1 to {MAX_BOUNDARY} characters, got {}",
            b.len()
        ));
    }
    if b.bytes().any(|c| !(0x20..0x7f).contains(&c)) || b.ends_with(' ') {
        return Err("multipart boundary holds characters RFC 2046 does not allow".into());
    }
    Ok(b)
}

/// Splits `body` into its parts. Preamble (before the first delimiter) and
/// epilogue (after the close delimiter) are ignored, as RFC 2046 says.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, String> {
    let dash = format!("--{boundary}");
    let delim = format!("\r\n{dash}");
    // the first delimiter may open the body (no CRLF before it)
    let mut at = if body.starts_with(dash.as_bytes()) {
        dash.len()
    } else {
        match find_delimiter(body, 0, delim.as_bytes()) {
            Some((_, after)) => after,
            None => return Err("multipart body holds no boundary delimiter".into()),
        }
    };
    let mut parts = Vec::new();
    loop {
        // after a delimiter: `--` closes the body, else (padding) CRLF
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        at = skip_padding_and_crlf(body, at)
            .ok_or("multipart delimiter line does not end with CRLF")?;
        let n = parts.len() + 1;
        let (end, next) = find_delimiter(body, at, delim.as_bytes()).ok_or_else(|| {
            format!("multipart body ends inside part {n} (no closing boundary \"{dash}--\")")
        })?;
        parts.push(part(&body[at..end], n)?);
        at = next;
    }
}

/// The next delimiter at or after `from`: (where it starts, just after it).
/// A match followed by anything but padding, CRLF or `--` is part data (the
/// boundary is then only a prefix of what the data holds).
fn find_delimiter(body: &[u8], from: usize, delim: &[u8]) -> Option<(usize, usize)> {
    let mut i = from;
    while i + delim.len() <= body.len() {
        let cr = body[i..].iter().position(|&b| b == b'\r')? + i;
        if body[cr..].starts_with(delim) {
            let after = cr + delim.len();
            let rest = &body[after..];
            if rest.starts_with(b"--") || skip_padding_and_crlf(body, after).is_some() {
                return Some((cr, after));
            }
        }
        i = cr + 1;
    }
    None
}

/// Skips transport padding (spaces, tabs) and one CRLF from `at`.
fn skip_padding_and_crlf(body: &[u8], at: usize) -> Option<usize> {
    let pad = body[at..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    body[at + pad..]
        .starts_with(b"\r\n")
        .then_some(at + pad + 2)
}

/// One encapsulation: its headers, an empty line, its data.
fn part(raw: &[u8], n: usize) -> Result<Part<'_>, String> {
    // a part with no header at all starts right away with the empty line
    let (head, data) = if raw.starts_with(b"\r\n") {
        (&raw[..0], &raw[2..])
    } else {
        let end = raw
            .windows(4)
            .take(MAX_HEADERS)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("multipart part {n}: headers not followed by an empty line"))?;
        (&raw[..end], &raw[end + 4..])
    };
    let head = std::str::from_utf8(head)
        .map_err(|_| format!("multipart part {n}: headers are not UTF-8"))?;
    let mut p = Part {
        name: None,
        filename: None,
        content_type: None,
        data,
    };
    for line in unfold(head) {
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!("multipart part {n}: header line without ':'"));
        };
        let v = v.trim();
        if k.trim().eq_ignore_ascii_case("content-disposition") {
            let kind = v.split(';').next().unwrap_or("").trim();
            if !kind.eq_ignore_ascii_case("form-data") {
                return Err(format!(
                    "multipart part {n}: Content-Disposition must be form-data, got {kind:?}"
                ));
            }
            let params = &v[kind.len()..];
            p.name = param(params, "name");
            p.filename = param(params, "filename");
        } else if k.trim().eq_ignore_ascii_case("content-type") {
            p.content_type = Some(v.to_string());
        }
    }
    Ok(p)
}

/// Header lines, obsolete folding (a line starting with a space or tab
/// continues the previous one) joined.
fn unfold(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for l in head.split("\r\n").filter(|l| !l.is_empty()) {
        match lines.last_mut() {
            Some(last) if l.starts_with([' ', '\t']) => {
                last.push(' ');
                last.push_str(l.trim());
            }
            _ => lines.push(l.to_string()),
        }
    }
    lines
}

/// The value of parameter `key` in `; a=b; c="d\"e"` (token or quoted
/// string; names compare case-insensitively).
fn param(params: &str, key: &str) -> Option<String> {
    let b = params.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // skip separators, read the name
        while i < b.len() && (b[i] == b';' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b'=' | b';') {
            i += 1;
        }
        let name = params[start..i].trim();
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut raw = Vec::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    raw.push(b[i]);
                    i += 1;
                }
                i += 1; // the closing quote
                value = String::from_utf8_lossy(&raw).into_owned();
            } else {
                let vs = i;
                while i < b.len() && b[i] != b';' {
                    i += 1;
                }
                value = params[vs..i].trim().to_string();
            }
        }
        if name.eq_ignore_ascii_case(key) {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    fn one(body: &[u8]) -> Vec<Part<'_>> {
        parse(body, &boundary(CT).unwrap()).unwrap()
    }

    #[test]
    fn boundary_quoted_or_not() {
        assert_eq!(boundary(CT).unwrap(), "XyZ");
        assert_eq!(
            boundary("Multipart/Form-Data;BOUNDARY=\"a b;c\"").unwrap(),
            "a b;c"
        );
        assert_eq!(
            boundary("multipart/form-data; charset=utf-8; boundary=--x--").unwrap(),
            "--x--"
        );
        assert!(boundary("application/json")
            .unwrap_err()
            .contains("multipart/form-data"));
        assert!(boundary("multipart/form-data")
            .unwrap_err()
            .contains("no boundary"));
        assert!(boundary("multipart/form-data; boundary=\"\"").is_err());
        assert!(boundary(&format!("multipart/form-data; boundary={}", "b".repeat(71))).is_err());
    }

    #[test]
    fn parts_with_names_files_and_types() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\n{\"order\":[]}\r\n\
--XyZ\r\ncontent-disposition: form-data; name=\"files[]\"; filename=\"A \\\"1\\\".pdf\"\r\n\
Content-Type: application/pdf\r\n\r\n%PDF-1\r\n--XyZ--\r\n";
        let p = one(body);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name.as_deref(), Some("body"));
        assert_eq!(p[0].filename, None);
        assert_eq!(p[0].data, b"{\"order\":[]}");
        assert_eq!(p[1].name.as_deref(), Some("files[]"));
        assert_eq!(p[1].filename.as_deref(), Some("A \"1\".pdf"));
        assert_eq!(p[1].content_type.as_deref(), Some("application/pdf"));
        assert_eq!(p[1].data, b"%PDF-1");
    }

    #[test]
    fn preamble_epilogue_and_padding_are_ignored() {
        let body = b"this is a preamble\r\n--XyZ \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--  trailing\r\nepilogue --XyZ\r\n";
        let p = one(body);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name.as_deref(), Some("a"));
        assert_eq!(p[0].data, b"1");
    }

    #[test]
    fn binary_data_with_dashes_and_line_breaks_is_kept() {
        let mut data = b"%PDF-\r\n--\r\n--Xy\r\n--XyZabc\r\n\r\n\n\r".to_vec();
        data.extend((0..=255u8).cycle().take(2000));
        data.extend_from_slice(b"\r\n");
        let mut body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"files[]\"; filename=f.pdf\r\n\r\n"
                .to_vec();
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n--XyZ--");
        let p = one(&body);
        assert_eq!(p.len(), 1);
        // the data's own trailing CRLF stays; only the delimiter's goes
        assert_eq!(p[0].data, &data[..]);
        assert_eq!(p[0].filename.as_deref(), Some("f.pdf"));
    }

    #[test]
    fn a_part_with_no_name_or_no_headers() {
        let body = b"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ\r\n\r\ny\r\n--XyZ\r\nContent-Disposition: form-data\r\n\r\n\r\n--XyZ--";
        let p = one(body);
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|p| p.name.is_none()));
        assert_eq!(p[0].data, b"x");
        assert_eq!(p[1].data, b"y");
        assert_eq!(p[2].data, b"");
    }

    #[test]
    fn folded_headers_are_joined() {
        let body = b"--XyZ\r\nContent-Disposition: form-data;\r\n\tname=\"files[]\"; filename=x.pdf\r\n\r\nd\r\n--XyZ--";
        let p = one(body);
        assert_eq!(p[0].name.as_deref(), Some("files[]"));
        assert_eq!(p[0].filename.as_deref(), Some("x.pdf"));
    }

    #[test]
    fn empty_multipart_has_no_part() {
        assert!(one(b"--XyZ--\r\n").is_empty());
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let b = "XyZ";
        let cases: [(&[u8], &str); 7] = [
            (b"", "no boundary delimiter"),
            (b"no delimiter at all", "no boundary delimiter"),
            (
                b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\ndata",
                "no closing boundary",
            ),
            (
                b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\ndata\r\n--XyZ\r\n",
                "ends inside part 2",
            ),
            // bare LF line endings are not CRLF
            (
                b"--XyZ\nContent-Disposition: form-data; name=a\n\nx\n--XyZ--",
                "does not end with CRLF",
            ),
            (
                b"--XyZ\r\nContent-Disposition: form-data; name=a\r\nx\r\n--XyZ--",
                "empty line",
            ),
            (
                b"--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--",
                "must be form-data",
            ),
        ];
        for (body, want) in cases {
            let e = parse(body, b).unwrap_err();
            assert!(
                e.contains(want),
                "{e:?} for {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_longer_boundary_in_the_data_is_not_a_delimiter() {
        // "--XyZ" followed by other characters is data, not a delimiter
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n--XyZW\r\nB\r\n--XyZ--";
        let p = one(body);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].data, b"A\r\n--XyZW\r\nB");
    }
}
