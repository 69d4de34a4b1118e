//! SigV4 *signing* of outgoing requests (the DynamoDB proxy re-signs what it forwards with the
//! upstream's credentials). It computes the canonical request with the verifier's own
//! canonicalisation ([`super::build_canonical_request`]) and the same signing-key derivation,
//! so what gatehouse signs is exactly what it would verify.

use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use aws_lc_rs::{digest, hmac};

use super::canonical::parse_query;
use super::{
    ALGORITHM, CredentialScope, Payload, Request, SigV4Error, build_canonical_request,
    build_string_to_sign, hex, signing_key,
};
use crate::time::{format_amz_date, unix_seconds};

/// Long-term or temporary credentials to sign with.
#[derive(Clone)]
pub struct SigningCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `X-Amz-Security-Token` for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for SigningCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What to sign: a request to `host` with `headers` (lower-case names, each signed) and `body`.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub method: &'a str,
    /// The raw path (percent-encoded as it will be sent).
    pub path: &'a str,
    /// `host[:port]` as the `Host` header will carry it.
    pub host: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Signs `request` for `region` and `service` at `now`: returns the headers to add
/// (`x-amz-date`, `x-amz-security-token` for temporary credentials, `authorization`).
pub fn sign(
    request: &Outgoing<'_>,
    credentials: &SigningCredentials,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<Vec<(&'static str, String)>, SigV4Error> {
    sign_with(request, credentials, region, service, now, None, |scope| {
        signing_key(&credentials.secret_access_key, scope)
    })
}

/// A signer for one set of credentials, region and service that many requests go through
/// (the DynamoDB proxy's upstream): the signing key changes only with the date, so it is
/// derived once a day (four HMACs fewer per request), and the body's SHA-256, when the caller
/// already has it, is not computed again.
pub struct CachedSigner {
    credentials: SigningCredentials,
    region: String,
    service: String,
    /// The scope date (`YYYYMMDD`) and its signing key.
    key: Mutex<Option<(String, hmac::Key)>>,
}

impl std::fmt::Debug for CachedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSigner")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl CachedSigner {
    pub fn new(credentials: SigningCredentials, region: &str, service: &str) -> Self {
        Self {
            credentials,
            region: region.to_owned(),
            service: service.to_owned(),
            key: Mutex::new(None),
        }
    }

    /// The credentials requests are signed with.
    pub fn credentials(&self) -> &SigningCredentials {
        &self.credentials
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// [`sign`] with the day's cached key. `payload_sha256` is the lower-case hex SHA-256 of
    /// `request.body` when the caller has already computed it (the verifier of the incoming
    /// request has); `None` hashes the body here.
    pub fn sign(
        &self,
        request: &Outgoing<'_>,
        payload_sha256: Option<&str>,
        now: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, SigV4Error> {
        sign_with(
            request,
            &self.credentials,
            &self.region,
            &self.service,
            now,
            payload_sha256,
            |scope| self.key_for(scope),
        )
    }

    /// The signing key of `scope` (always this signer's region and service), derived again
    /// only when the date changes.
    fn key_for(&self, scope: &CredentialScope) -> hmac::Key {
        let mut cached = self.key.lock().unwrap_or_else(PoisonError::into_inner);
        match cached.as_ref() {
            Some((date, key)) if *date == scope.date => key.clone(),
            _ => {
                let key = signing_key(&self.credentials.secret_access_key, scope);
                *cached = Some((scope.date.clone(), key.clone()));
                key
            }
        }
    }

    /// The date of the key held now (tests watch it roll over).
    #[cfg(test)]
    fn cached_date(&self) -> Option<String> {
        self.key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(date, _)| date.clone())
    }
}

fn sign_with(
    request: &Outgoing<'_>,
    credentials: &SigningCredentials,
    region: &str,
    service: &str,
    now: SystemTime,
    payload_sha256: Option<&str>,
    key_for: impl FnOnce(&CredentialScope) -> hmac::Key,
) -> Result<Vec<(&'static str, String)>, SigV4Error> {
    let amz_date = format_amz_date(unix_seconds(now));
    let scope = CredentialScope {
        date: amz_date.chars().take(8).collect(),
        region: region.to_owned(),
        service: service.to_owned(),
    };
    let mut added: Vec<(&'static str, String)> = vec![("x-amz-date", amz_date.clone())];
    if let Some(token) = &credentials.session_token {
        added.push(("x-amz-security-token", token.clone()));
    }
    let mut all: Vec<(&str, &[u8])> = vec![("host", request.host.as_bytes())];
    all.extend(request.headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    all.extend(added.iter().map(|(n, v)| (*n, v.as_bytes())));
    let mut signed_headers: Vec<String> = all.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    signed_headers.sort();
    signed_headers.dedup();
    let payload_hash = match payload_sha256 {
        Some(hash) => hash.to_owned(),
        None => hex(digest::digest(&digest::SHA256, request.body).as_ref()),
    };
    let view = Request {
        method: request.method,
        path: request.path,
        query: "",
        headers: &all,
        payload: Payload::Bytes(request.body),
    };
    let canonical = build_canonical_request(
        &view,
        &parse_query(b""),
        &[],
        &signed_headers,
        &payload_hash,
        true,
    )?;
    let string_to_sign = build_string_to_sign(
        &amz_date,
        &scope,
        digest::digest(&digest::SHA256, &canonical).as_ref(),
    );
    let key = key_for(&scope);
    let signature = hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    added.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={signature}",
            credentials.access_key_id,
            scope.date,
            scope.region,
            scope.service,
            signed_headers.join(";"),
        ),
    ));
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::{SecretKey, VerifierConfig, verify};
    use crate::time::from_unix_seconds;

    /// What the signer signs, the verifier accepts; a changed byte is refused.
    #[test]
    fn the_verifier_accepts_what_the_signer_signs() {
        let now = from_unix_seconds(1_700_000_000);
        let creds = SigningCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("token".into()),
        };
        let body = br#"{"TableName":"Notes"}"#;
        let headers = [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
        ];
        let outgoing = Outgoing {
            method: "POST",
            path: "/",
            host: "127.0.0.1:4567",
            headers: &headers,
            body,
        };
        let added = sign(&outgoing, &creds, "us-east-1", "dynamodb", now).unwrap();
        let mut wire: Vec<(&str, &[u8])> = vec![("Host", b"127.0.0.1:4567")];
        wire.extend(headers.iter().map(|(n, v)| (*n, v.as_bytes())));
        wire.extend(added.iter().map(|(n, v)| (*n, v.as_bytes())));
        let check = |body: &[u8]| {
            let request = Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &wire,
                payload: Payload::Bytes(body),
            };
            verify(&request, &VerifierConfig::new("dynamodb"), now, |id| {
                (id == "AKIDEXAMPLE").then(|| SecretKey::new(creds.secret_access_key.clone()))
            })
        };
        let verified = check(body).unwrap();
        assert!(verified.security_token_signed);
        assert_eq!(
            check(br#"{"TableName":"Other"}"#),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    fn upstream_credentials() -> SigningCredentials {
        SigningCredentials {
            access_key_id: "AKIDUPSTREAM".into(),
            secret_access_key: "upstream/secret/key".into(),
            session_token: None,
        }
    }

    /// Verifies `added` (from signing `body` at `now`) as the upstream would.
    fn upstream_accepts(
        added: &[(&'static str, String)],
        body: &[u8],
        now: SystemTime,
    ) -> Result<crate::sigv4::VerifiedRequest, SigV4Error> {
        let mut wire: Vec<(&str, &[u8])> = vec![
            ("Host", b"127.0.0.1:4567"),
            ("content-type", b"application/x-amz-json-1.0"),
        ];
        wire.extend(added.iter().map(|(n, v)| (*n, v.as_bytes())));
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &wire,
            payload: Payload::Bytes(body),
        };
        verify(&request, &VerifierConfig::new("dynamodb"), now, |id| {
            (id == "AKIDUPSTREAM").then(|| SecretKey::new("upstream/secret/key"))
        })
    }

    /// The cached signer signs exactly as `sign` does, with the body hashed here or handed in.
    #[test]
    fn the_cached_signer_signs_as_sign_does() {
        let now = from_unix_seconds(1_700_000_000);
        let body = br#"{"TableName":"Notes"}"#;
        let headers = [("content-type", "application/x-amz-json-1.0")];
        let outgoing = Outgoing {
            method: "POST",
            path: "/",
            host: "127.0.0.1:4567",
            headers: &headers,
            body,
        };
        let plain = sign(
            &outgoing,
            &upstream_credentials(),
            "eu-west-1",
            "dynamodb",
            now,
        )
        .unwrap();
        let signer = CachedSigner::new(upstream_credentials(), "eu-west-1", "dynamodb");
        let hash = hex(digest::digest(&digest::SHA256, body).as_ref());
        assert_eq!(signer.sign(&outgoing, None, now).unwrap(), plain);
        assert_eq!(signer.sign(&outgoing, Some(&hash), now).unwrap(), plain);
        assert!(upstream_accepts(&plain, body, now).is_ok());
    }

    /// The day's key is derived once and replaced when the date changes (a fixed clock either
    /// side of midnight UTC); every signature verifies at its own time.
    #[test]
    fn the_cached_signing_key_rolls_over_at_midnight() {
        // 2023-11-14T23:59:59Z, then one second later.
        let before = from_unix_seconds(1_700_006_399);
        let after = from_unix_seconds(1_700_006_400);
        let body = b"{}";
        let headers = [("content-type", "application/x-amz-json-1.0")];
        let outgoing = Outgoing {
            method: "POST",
            path: "/",
            host: "127.0.0.1:4567",
            headers: &headers,
            body,
        };
        let signer = CachedSigner::new(upstream_credentials(), "us-east-1", "dynamodb");
        assert_eq!(signer.cached_date(), None);
        let first = signer.sign(&outgoing, None, before).unwrap();
        assert_eq!(signer.cached_date().as_deref(), Some("20231114"));
        let again = signer.sign(&outgoing, None, before).unwrap();
        assert_eq!(again, first);
        let next_day = signer.sign(&outgoing, None, after).unwrap();
        assert_eq!(signer.cached_date().as_deref(), Some("20231115"));
        let verified = upstream_accepts(&next_day, body, after).unwrap();
        assert_eq!(verified.scope.date, "20231115");
        assert_eq!(
            next_day,
            sign(
                &outgoing,
                &upstream_credentials(),
                "us-east-1",
                "dynamodb",
                after
            )
            .unwrap()
        );
        assert!(upstream_accepts(&first, body, before).is_ok());
        // A clock that goes back (another node's, a correction) gets that day's key again.
        assert_eq!(signer.sign(&outgoing, None, before).unwrap(), first);
        assert_eq!(signer.cached_date().as_deref(), Some("20231114"));
    }
}
