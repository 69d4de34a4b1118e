//! How a function call is signed, so the endpoint can tell gatehouse's calls from anyone
//! else's (docs/functions.md has the receiving side in Python and Node):
//!
//! ```text
//! X-Gatehouse-Timestamp: 1767225600                       Unix seconds when the call was made
//! X-Gatehouse-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>
//! ```
//!
//! The key is the secret's text as UTF-8 bytes; the message is the timestamp header's value,
//! one `.`, and the body exactly as sent. A receiver recomputes it, compares in constant time,
//! and refuses a timestamp more than [`REPLAY_WINDOW_SECS`] away from its clock, so a captured
//! call cannot be replayed later. [`verify`] is that check in Rust.

use aws_lc_rs::hmac;

use crate::crypto::{constant_time_eq, hex_lower};

/// The header with the call's time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-gatehouse-timestamp";
/// The header with the signature, `v1=` and 64 lower-case hex digits.
pub const SIGNATURE_HEADER: &str = "x-gatehouse-signature";
/// The header naming the function ARN the call was made for (as called: with its qualifier).
/// Not signed: a receiver that serves several functions may use it to choose the secret.
pub const FUNCTION_HEADER: &str = "x-gatehouse-function";
/// How far a receiver should let a timestamp be from its own clock (five minutes, either way).
pub const REPLAY_WINDOW_SECS: i64 = 300;

const SCHEME: &str = "v1=";

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp is not a number of seconds")]
    Timestamp,
    #[error("the timestamp is more than five minutes away from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// The `X-Gatehouse-Signature` value of `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "{SCHEME}{}",
        hex_lower(&mac(secret, &timestamp.to_string(), body))
    )
}

/// The receiving side: checks the two headers' values against `body` at `now` (Unix seconds).
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let sent: i64 = timestamp.parse().map_err(|_| SignatureError::Timestamp)?;
    if (now - sent).abs() > REPLAY_WINDOW_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = format!("{SCHEME}{}", hex_lower(&mac(secret, timestamp, body)));
    if constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    context.sign().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const T: i64 = 1_767_225_600;

    #[test]
    fn the_documented_example() {
        // The example in docs/functions.md: the same three inputs give this value there too.
        assert_eq!(
            sign(SECRET, T, br#"{"hello":"world"}"#),
            "v1=5da32aa42773f4976eca58d1cfee1f80b94b1d7c54c581d9ffe9325736bcfca0"
        );
    }

    /// One receiver's check: the secret it holds, what arrived, and its clock.
    struct Case<'a> {
        name: &'a str,
        secret: &'a str,
        signature: &'a str,
        body: &'a [u8],
        now: i64,
        expected: Result<(), SignatureError>,
    }

    #[test]
    fn receivers_refuse_what_they_should() {
        let body = br#"{"hello":"world"}"#;
        let good = sign(SECRET, T, body);
        let t = T.to_string();
        let case = |name, secret, signature, body, now, expected| Case {
            name,
            secret,
            signature,
            body,
            now,
            expected,
        };
        let cases = [
            case("as sent", SECRET, &good, body, T, Ok(())),
            case("four minutes later", SECRET, &good, body, T + 240, Ok(())),
            case(
                "a replay six minutes later",
                SECRET,
                &good,
                body,
                T + 360,
                Err(SignatureError::Stale),
            ),
            case(
                "a clock six minutes behind",
                SECRET,
                &good,
                body,
                T - 360,
                Err(SignatureError::Stale),
            ),
            case(
                "another secret",
                "another secret entirely",
                &good,
                body,
                T,
                Err(SignatureError::Mismatch),
            ),
            case(
                "a changed body",
                SECRET,
                &good,
                br#"{"hello":"World"}"#,
                T,
                Err(SignatureError::Mismatch),
            ),
            case(
                "no scheme",
                SECRET,
                good.trim_start_matches("v1="),
                body,
                T,
                Err(SignatureError::Mismatch),
            ),
        ];
        for c in cases {
            assert_eq!(
                verify(c.secret, &t, c.signature, c.body, c.now),
                c.expected,
                "{}",
                c.name
            );
        }
        // The timestamp is signed: moving it breaks the signature.
        assert_eq!(
            verify(SECRET, &(T + 1).to_string(), &good, body, T),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "yesterday", &good, body, T),
            Err(SignatureError::Timestamp)
        );
    }
}
