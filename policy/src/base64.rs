//! Standard base64 for `BinaryEquals`, with a streaming comparison so evaluation never allocates.

fn sextet(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Feeds each decoded byte to `sink` (which returns false to stop); false on malformed input.
/// Padding is optional, but if present the length must be a multiple of four.
fn decode_with(text: &str, mut sink: impl FnMut(u8) -> bool) -> bool {
    let bytes = text.as_bytes();
    let body = bytes
        .strip_suffix(b"==")
        .or_else(|| bytes.strip_suffix(b"="))
        .unwrap_or(bytes);
    if body.len() != bytes.len() && !bytes.len().is_multiple_of(4) {
        return false;
    }
    if body.len() % 4 == 1 {
        return false;
    }
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in body {
        let Some(v) = sextet(c) else {
            return false;
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            let byte = u8::try_from((acc >> bits) & 0xff).unwrap_or(0);
            if !sink(byte) {
                return false;
            }
        }
    }
    true
}

pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    decode_with(text, |b| {
        out.push(b);
        true
    })
    .then_some(out)
}

/// True when `text` is valid base64 of exactly `expected`.
pub(crate) fn equals(text: &str, expected: &[u8]) -> bool {
    let mut at = 0;
    decode_with(text, |b| {
        let same = expected.get(at) == Some(&b);
        at += 1;
        same
    }) && at == expected.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(decode("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(decode("aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(decode("aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode(""), Some(vec![]));
        assert_eq!(decode("aGVsbG8=x"), None);
        assert_eq!(decode("a"), None);
        assert_eq!(decode("aGk"), Some(b"hi".to_vec()));
        assert_eq!(decode("a!=="), None);
        assert!(equals("aGVsbG8=", b"hello"));
        assert!(equals("aGVsbG8", b"hello"));
        assert!(!equals("aGVsbG8=", b"hell"));
        assert!(!equals("aGVsbA==", b"hello"));
        assert!(!equals("!!!!", b"hello"));
    }
}
