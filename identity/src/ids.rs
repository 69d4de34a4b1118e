//! Random identifiers in the shapes Cognito and IAM clients expect (pool ids, client ids and
//! secrets, `sub` UUIDs, access keys), plus opaque tokens and confirmation codes.
//!
//! Every character is drawn uniformly (rejection sampling), from the system CSPRNG.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{fill_random, random_bytes};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const DIGITS: &[u8] = b"0123456789";
/// The alphabet of AWS secret access keys (base64's).
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols).
fn random_string(alphabet: &[u8], len: usize) -> String {
    let n = alphabet.len().clamp(1, 256);
    // Bytes at or above the largest multiple of n would bias the modulo: draw again.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill_random(&mut buf);
        for &b in &buf {
            if usize::from(b) < limit
                && out.len() < len
                && let Some(&c) = alphabet.get(usize::from(b) % n)
            {
                out.push(char::from(c));
            }
        }
    }
    out
}

/// A user pool id: `{region}_` and 9 letters or digits (`us-east-1_AbC123xyZ`).
pub fn user_pool_id(region: &str) -> String {
    format!("{region}_{}", random_string(ALNUM, 9))
}

/// An app client id: 26 lower-case letters or digits.
pub fn client_id() -> String {
    random_string(LOWER_ALNUM, 26)
}

/// An app client secret: 51 lower-case letters or digits (~263 bits), like Cognito's.
pub fn client_secret() -> String {
    random_string(LOWER_ALNUM, 51)
}

/// A random (version 4) UUID in the hyphenated lower-case form: user `sub`, `jti`, `event_id`.
pub fn uuid_v4() -> String {
    uuid_v4_from(random_bytes())
}

/// A UUID in [`uuid_v4`]'s shape made of 16 given bytes (drawn by the caller, or derived
/// with a keyed hash where the same input must give the same id).
pub fn uuid_v4_from(mut b: [u8; 16]) -> String {
    // RFC 9562: version 4 in the high nibble of byte 6, variant 10xx in byte 8.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::crypto::hex_lower(&b);
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    )
}

/// An opaque refresh token: 384 random bits, base64url (64 characters). Stored only as
/// [`crate::crypto::hash_token`].
pub fn refresh_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<48>())
}

/// A six-digit confirmation code (leading zeros kept).
pub fn confirmation_code() -> String {
    random_string(DIGITS, 6)
}

/// A long-term access key id: `AKIA` and 16 upper-case letters or digits (20 characters).
pub fn access_key_id() -> String {
    format!("AKIA{}", random_string(UPPER_ALNUM, 16))
}

/// A temporary-credential access key id: `ASIA` and 16 upper-case letters or digits.
pub fn temporary_access_key_id() -> String {
    format!("ASIA{}", random_string(UPPER_ALNUM, 16))
}

/// A secret access key: 40 characters of the base64 alphabet, like AWS's.
pub fn secret_access_key() -> String {
    random_string(SECRET_ALPHABET, 40)
}

/// An IAM unique id: a four-letter `prefix` (`AROA` roles, `ANPA` managed policies) and 17
/// upper-case letters or digits, 21 characters as IAM's.
pub fn iam_unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_string(UPPER_ALNUM, 17))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_in(s: &str, alphabet: &[u8]) -> bool {
        s.bytes().all(|b| alphabet.contains(&b))
    }

    #[test]
    fn shapes() {
        let pool = user_pool_id("eu-west-2");
        let (region, rest) = pool.split_once('_').unwrap();
        assert_eq!(region, "eu-west-2");
        assert!(rest.len() == 9 && all_in(rest, ALNUM), "{pool}");

        let c = client_id();
        assert!(c.len() == 26 && all_in(&c, LOWER_ALNUM), "{c}");
        let s = client_secret();
        assert!(s.len() == 51 && all_in(&s, LOWER_ALNUM), "{s}");

        let a = access_key_id();
        assert!(
            a.len() == 20 && a.starts_with("AKIA") && all_in(&a, UPPER_ALNUM),
            "{a}"
        );
        let t = temporary_access_key_id();
        assert!(t.len() == 20 && t.starts_with("ASIA"), "{t}");
        let k = secret_access_key();
        assert!(k.len() == 40 && all_in(&k, SECRET_ALPHABET), "{k}");

        let code = confirmation_code();
        assert!(code.len() == 6 && all_in(&code, DIGITS), "{code}");

        let r = refresh_token();
        assert_eq!(r.len(), 64);
        assert!(
            r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{r}"
        );
    }

    #[test]
    fn uuid_v4_layout() {
        let u = uuid_v4();
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{u}");
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{u}"
        );
        assert_ne!(uuid_v4(), uuid_v4());
    }

    #[test]
    fn codes_are_roughly_uniform() {
        // 6000 digits: each of 10 values should appear ~600 times; a biased or stuck generator
        // (e.g. modulo bias on a 250-symbol alphabet, or always '0') falls far outside.
        let mut counts = [0u32; 10];
        for _ in 0..1000 {
            for b in confirmation_code().bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        assert!(
            counts.iter().all(|&c| (450..=750).contains(&c)),
            "{counts:?}"
        );
    }
}
