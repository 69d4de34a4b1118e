//! The canonical-request rules of SigV4: URI path normalisation and encoding, query ordering and
//! encoding, header folding. Pure functions over bytes so they can be tested one rule at a time.

/// RFC 3986 unreserved characters: the only bytes SigV4 leaves unencoded (besides `/` in paths).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_upper_digit(n: u8) -> u8 {
    match n {
        0..=9 => b'0' + n,
        _ => b'A' + (n & 0x0f) - 10,
    }
}

fn push_encoded(out: &mut Vec<u8>, b: u8) {
    out.push(b'%');
    out.push(hex_upper_digit(b >> 4));
    out.push(hex_upper_digit(b & 0x0f));
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// SigV4's `UriEncode`: every byte but the unreserved ones (and `/` when `keep_slash`) becomes
/// `%XX` with upper-case hex.
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool, out: &mut Vec<u8>) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            push_encoded(out, b);
        }
    }
}

/// Percent-decodes `input`. A `%` not followed by two hex digits is kept literally: clients that
/// send one signed it literally too, and re-encoding turns it into `%25` as they did.
pub(crate) fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex_value),
                input.get(i + 2).copied().and_then(hex_value),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Removes `.` and `..` segments and empty segments (repeated slashes), keeping a leading and a
/// trailing slash, as AWS's non-S3 signers do before encoding.
fn normalize_segments(path: &[u8]) -> Vec<u8> {
    let mut segments: Vec<&[u8]> = Vec::new();
    for seg in path.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    out.push(b'/');
    out.extend_from_slice(&segments.join(&b'/'));
    if path.last() == Some(&b'/') && !segments.is_empty() {
        out.push(b'/');
    }
    out
}

/// The canonical URI of a raw (on-the-wire) request path.
///
/// `normalize = true` (every service but S3): remove dot and empty segments, then encode the
/// wire path once more, so a `%20` on the wire becomes `%2520` ("double encoding"), exactly as
/// botocore and the other AWS SDKs sign. `normalize = false` (S3 style): the path is used as sent,
/// except that bytes the client could not legally send unencoded are encoded and existing `%XX`
/// escapes are kept (with upper-case hex).
pub(crate) fn canonical_uri(raw_path: &[u8], normalize: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw_path.len() + 8);
    if raw_path.is_empty() {
        out.push(b'/');
        return out;
    }
    if normalize {
        uri_encode(&normalize_segments(raw_path), true, &mut out);
        return out;
    }
    let mut i = 0;
    while let Some(&b) = raw_path.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                raw_path.get(i + 1).copied().and_then(hex_value),
                raw_path.get(i + 2).copied().and_then(hex_value),
            )
        {
            push_encoded(&mut out, h << 4 | l);
            i += 3;
            continue;
        }
        if is_unreserved(b) || b == b'/' {
            out.push(b);
        } else {
            push_encoded(&mut out, b);
        }
        i += 1;
    }
    out
}

/// One decoded query parameter, kept as bytes: query strings need not be UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryParam {
    pub(crate) name: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Splits a raw query string into decoded parameters in wire order. `+` is a literal plus (RFC
/// 3986), not a space: AWS signers encode spaces as `%20`.
pub(crate) fn parse_query(raw_query: &[u8]) -> Vec<QueryParam> {
    raw_query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (
                    pair.get(..i).unwrap_or(&[]),
                    pair.get(i + 1..).unwrap_or(&[]),
                ),
                None => (pair, &[][..]),
            };
            QueryParam {
                name: percent_decode(name),
                value: percent_decode(value),
            }
        })
        .collect()
}

/// The canonical query string: each name and value re-encoded strictly, sorted by name then
/// value (byte order of the encoded forms), `name=value` joined by `&`. `skip` names parameters
/// left out (`X-Amz-Signature` for presigned requests).
pub(crate) fn canonical_query(params: &[QueryParam], skip: &[&[u8]]) -> Vec<u8> {
    let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = params
        .iter()
        .filter(|p| !skip.contains(&p.name.as_slice()))
        .map(|p| {
            let mut n = Vec::with_capacity(p.name.len());
            uri_encode(&p.name, false, &mut n);
            let mut v = Vec::with_capacity(p.value.len());
            uri_encode(&p.value, false, &mut v);
            (n, v)
        })
        .collect();
    encoded.sort();
    let mut out = Vec::new();
    for (i, (n, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(n);
        out.push(b'=');
        out.extend_from_slice(v);
    }
    out
}

/// Appends a header value with leading/trailing whitespace trimmed and each inner run of
/// whitespace folded to one space (what AWS calls "sequential spaces"; botocore folds any
/// whitespace, which also unfolds obsolete multi-line values).
pub(crate) fn push_folded_value(value: &[u8], out: &mut Vec<u8>) {
    // Most values (a session token of a kilobyte and more among them) hold no whitespace at
    // all: they are copied whole. The test has no early exit, so it runs a word at a time.
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    if !value.iter().fold(false, |any, &b| any | is_space(b)) {
        out.extend_from_slice(value);
        return;
    }
    let mut pending_space = false;
    let mut wrote = false;
    for &b in value {
        if is_space(b) {
            pending_space = wrote;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            wrote = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str, normalize: bool) -> String {
        String::from_utf8(canonical_uri(path.as_bytes(), normalize)).unwrap()
    }

    #[test]
    fn path_rules() {
        // (rule, wire path, normalize, canonical)
        let cases = [
            ("empty path is slash", "", true, "/"),
            ("dot segment removed", "/./example", true, "/example"),
            ("dot-dot pops", "/example1/example2/../..", true, "/"),
            ("dot-dot above root stays at root", "/../a", true, "/a"),
            (
                "repeated slashes collapse",
                "//example//",
                true,
                "/example/",
            ),
            (
                "double encoding of escapes",
                "/example%20space/",
                true,
                "/example%2520space/",
            ),
            (
                "raw space encoded once",
                "/example space/",
                true,
                "/example%20space/",
            ),
            ("utf8 encoded", "/\u{1234}", true, "/%E1%88%B4"),
            ("unreserved kept", "/-._~AZaz09", true, "/-._~AZaz09"),
            ("s3: slashes kept", "//example//", false, "//example//"),
            ("s3: dots kept", "/./a/../b", false, "/./a/../b"),
            (
                "s3: escapes kept and upper-cased",
                "/a%2fb%20c",
                false,
                "/a%2Fb%20c",
            ),
            (
                "s3: raw space encoded",
                "/example space/",
                false,
                "/example%20space/",
            ),
        ];
        for (rule, wire, normalize, want) in cases {
            assert_eq!(uri(wire, normalize), want, "{rule}");
        }
    }

    #[test]
    fn query_rules() {
        let q = |raw: &str| {
            String::from_utf8(canonical_query(&parse_query(raw.as_bytes()), &[])).unwrap()
        };
        assert_eq!(q(""), "");
        assert_eq!(
            q("Param2=value2&Param1=value1"),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(q("b=2&a=2&a=1"), "a=1&a=2&b=2", "same name sorts by value");
        assert_eq!(q("Param1"), "Param1=", "missing value is empty");
        assert_eq!(
            q("%E1%88%B4=Value1&Param=Value2"),
            "%E1%88%B4=Value1&Param=Value2"
        );
        assert_eq!(
            q("a=%2f&b=x%2By"),
            "a=%2F&b=x%2By",
            "escapes re-encoded upper-case"
        );
        assert_eq!(q("a=b c&a+b=1"), "a=b%20c&a%2Bb=1", "space and plus");
        assert_eq!(q("a=1&&b=2"), "a=1&b=2", "empty pieces ignored");
        assert_eq!(q("a=%zz"), "a=%25zz", "stray percent kept literally");
        assert_eq!(
            q("Z=1&a=1"),
            "Z=1&a=1",
            "byte order: upper-case sorts before lower-case"
        );
        let skipped = canonical_query(
            &parse_query(b"X-Amz-Signature=abc&a=1&b=2"),
            &[b"X-Amz-Signature", b"b"],
        );
        assert_eq!(skipped, b"a=1");
    }

    #[test]
    fn header_value_folding() {
        let fold = |v: &str| {
            let mut out = Vec::new();
            push_folded_value(v.as_bytes(), &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(fold(" value1 "), "value1");
        assert_eq!(fold("\"a   b   c\""), "\"a b c\"");
        assert_eq!(fold("value1\r\n  value2\n\tvalue3"), "value1 value2 value3");
        assert_eq!(fold("   "), "");
    }
}
