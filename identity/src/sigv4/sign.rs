//! SigV4 *signing* of outgoing requests (the DynamoDB proxy re-signs what it forwards with the
//! upstream's credentials). It computes the canonical request with the verifier's own
//! canonicalisation ([`super::build_canonical_request`]) and the same signing-key derivation,
//! so what gatehouse signs is exactly what it would verify.

use std::time::SystemTime;

use aws_lc_rs::{digest, hmac};

use super::canonical::parse_query;
use super::{
    ALGORITHM, CredentialScope, Payload, Request, SigV4Error, build_canonical_request, hex,
    signing_key,
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
    let payload_hash = hex(digest::digest(&digest::SHA256, request.body).as_ref());
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
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}/{}/{}/aws4_request\n{}",
        scope.date,
        scope.region,
        scope.service,
        hex(digest::digest(&digest::SHA256, &canonical).as_ref()),
    );
    let key = signing_key(&credentials.secret_access_key, &scope);
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
}
