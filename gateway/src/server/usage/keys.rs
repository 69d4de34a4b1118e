//! API key values: generation, the checks API Gateway applies (30–128 characters), hashing
//! (SHA-256: keys are high-entropy secrets, so a fast hash is the right one; a key in use is
//! found by its value without one, see `KeyTable`) and the visible prefix shown in listings.

use aws_lc_rs::{digest, rand};

/// Shortest and longest key value API Gateway accepts.
pub const MIN_KEY_LEN: usize = 30;
pub const MAX_KEY_LEN: usize = 128;
/// Length of a generated key (API Gateway generates 40 characters).
pub const GENERATED_KEY_LEN: usize = 40;
/// Characters of the value kept in clear for listings.
pub const PREFIX_LEN: usize = 8;

/// SHA-256 of a key value: what storage and the in-memory table hold.
pub type KeyHash = [u8; 32];

/// Why a key value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyValueError {
    #[error("api key value must be {MIN_KEY_LEN} to {MAX_KEY_LEN} characters, got {0}")]
    Length(usize),
    #[error("api key value may only contain printable ascii characters")]
    Characters,
    #[error("cannot generate an api key: the system random source failed")]
    Random,
}

/// Checks a caller-supplied value.
pub fn check_value(value: &str) -> Result<(), KeyValueError> {
    if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&value.len()) {
        return Err(KeyValueError::Length(value.len()));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeyValueError::Characters);
    }
    Ok(())
}

/// A fresh 40-character alphanumeric value from the system's CSPRNG.
pub fn generate_value() -> Result<String, KeyValueError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let rng = rand::SystemRandom::new();
    let mut out = String::with_capacity(GENERATED_KEY_LEN);
    while out.len() < GENERATED_KEY_LEN {
        let mut buf = [0u8; 64];
        rand::SecureRandom::fill(&rng, &mut buf).map_err(|_| KeyValueError::Random)?;
        // Rejection sampling keeps the alphabet uniform: 248 = 4 × 62.
        for b in buf {
            if b < 248
                && out.len() < GENERATED_KEY_LEN
                && let Some(c) = ALPHABET.get(usize::from(b % 62))
            {
                out.push(char::from(*c));
            }
        }
    }
    Ok(out)
}

/// A random identifier of `len` lowercase letters and digits (key and plan ids, like API
/// Gateway's `a1b2c3d4e5`).
pub fn generate_id(len: usize) -> Result<String, KeyValueError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let rng = rand::SystemRandom::new();
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut buf = [0u8; 32];
        rand::SecureRandom::fill(&rng, &mut buf).map_err(|_| KeyValueError::Random)?;
        for b in buf {
            if b < 252
                && out.len() < len
                && let Some(c) = ALPHABET.get(usize::from(b % 36))
            {
                out.push(char::from(*c));
            }
        }
    }
    Ok(out)
}

/// SHA-256 of a key value.
pub fn hash_value(value: &str) -> KeyHash {
    hash_bytes(value.as_bytes())
}

/// SHA-256 of a key value's bytes.
pub fn hash_bytes(value: &[u8]) -> KeyHash {
    let digest = digest::digest(&digest::SHA256, value);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The visible prefix of a value.
pub fn prefix_of(value: &str) -> String {
    value.chars().take(PREFIX_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_generated_and_hashed() {
        for (value, ok) in [
            ("a".repeat(29), false),
            ("a".repeat(30), true),
            ("a".repeat(128), true),
            ("a".repeat(129), false),
            (format!("{} b", "a".repeat(30)), false),
        ] {
            assert_eq!(check_value(&value).is_ok(), ok, "{value}");
        }
        let a = generate_value().unwrap();
        let b = generate_value().unwrap();
        assert_eq!(a.len(), GENERATED_KEY_LEN);
        assert_ne!(a, b);
        assert!(check_value(&a).is_ok());
        assert_eq!(hash_value(&a), hash_value(&a));
        assert_ne!(hash_value(&a), hash_value(&b));
        assert_eq!(prefix_of(&a).len(), PREFIX_LEN);
        assert_eq!(generate_id(10).unwrap().len(), 10);
    }
}
