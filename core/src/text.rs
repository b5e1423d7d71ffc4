//! Shortening text for messages: the one place that cuts a string.
//!
//! Messages end up in `last_error`, the conveyor's `errors` and exceptions,
//! and often quote what a caller or a server sent. Cutting them by bytes is
//! only safe on a character boundary (slicing inside a multi-byte character
//! panics), so every cut in the core goes through [`shorten`].

/// How a cut text ends, so a reader knows there was more.
pub const ELLIPSIS: char = '…';

/// Longest excerpt of user input quoted by [`excerpt`], in bytes.
pub const EXCERPT_BYTES: usize = 80;

/// `text` unchanged when it fits in `max_bytes`, else its longest prefix of
/// at most `max_bytes` that ends on a character boundary, followed by
/// [`ELLIPSIS`] (so a cut result is at most `max_bytes + 3` bytes long).
pub fn shorten(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    // `is_char_boundary(0)` is true: the loop always stops.
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + ELLIPSIS.len_utf8());
    out.push_str(&text[..end]);
    out.push(ELLIPSIS);
    out
}

/// A quoted, bounded excerpt of user input for an error message:
/// `'SYNC_STATUS'`, or `'AAAA…'` past [`EXCERPT_BYTES`].
pub fn excerpt(text: &str) -> String {
    format!("'{}'", shorten(text, EXCERPT_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_on_a_char_boundary() {
        let e_acute = "é"; // two bytes
        let long_a = "a".repeat(100);
        let cases: [(String, usize, String); 7] = [
            // (text, max bytes, expected)
            ("short".into(), 80, "short".into()),
            ("".into(), 0, "".into()),
            ("abc".into(), 3, "abc".into()),
            ("abcd".into(), 3, "abc…".into()),
            (long_a.clone(), 80, format!("{}…", &long_a[..80])),
            // The cut would fall inside 'é' (bytes 79 and 80): it moves back.
            (
                format!("{}{e_acute}bbbb", "a".repeat(79)),
                80,
                format!("{}…", "a".repeat(79)),
            ),
            ("éé".into(), 1, "…".into()),
        ];
        for (text, max, expected) in cases {
            assert_eq!(shorten(&text, max), expected, "shorten({text:?}, {max})");
        }
    }

    #[test]
    fn shorten_never_panics_and_stays_bounded() {
        let text = "aé€😀".repeat(40);
        for max in 0..text.len() + 2 {
            let out = shorten(&text, max);
            let kept = out.strip_suffix(ELLIPSIS).unwrap_or(&out);
            assert!(kept.len() <= max, "max {max}: {out:?}");
            assert!(text.starts_with(kept));
            assert!(out.len() <= max + ELLIPSIS.len_utf8());
        }
    }

    #[test]
    fn excerpt_quotes() {
        assert_eq!(excerpt("SYNC"), "'SYNC'");
        let long = "A".repeat(81);
        assert_eq!(excerpt(&long), format!("'{}…'", "A".repeat(80)));
    }
}
