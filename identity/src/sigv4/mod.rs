//! AWS Signature Version 4 *verification* of incoming requests (header and presigned-query forms).
//!
//! The verifier sees a transport-free [`Request`] view, so the HTTP adapters decide how to build
//! it and nothing here knows a web framework. Verification is split so the secret can be found
//! asynchronously between the two steps:
//!
//! ```text
//! let signed = sigv4::parse(&request, &config, now)?;        // syntax, scope, clock, canonical request
//! let secret = store.secret_for(signed.access_key_id()).await; // caller's lookup (DB, sealed token…)
//! let verified = signed.verify(&secret?)?;                      // HMAC + constant-time compare
//! ```
//!
//! [`verify`] does both with a synchronous lookup closure. [`sign`] signs outgoing requests
//! with the same canonicalisation (the DynamoDB proxy's re-signing).
//!
//! # Canonicalisation
//! Exactly the AWS rules (and the public SigV4 test suite): the path is dot-segment-normalised and
//! encoded again (double encoding) unless [`VerifierConfig::normalize_path`] is off (S3 style);
//! query parameters are decoded, strictly re-encoded and sorted; header names are lower-cased,
//! values trimmed with inner whitespace runs folded, duplicates joined with `,` in wire order.
//!
//! # Limits
//! Input is bounded before any work is done: [`MAX_AUTHORIZATION_LEN`], [`MAX_SIGNED_HEADERS`],
//! [`MAX_CANONICAL_HEADERS_LEN`], [`MAX_PATH_LEN`], [`MAX_QUERY_LEN`],
//! [`MAX_SECURITY_TOKEN_LEN`], [`MAX_ACCESS_KEY_ID_LEN`].
//!
//! # Error mapping
//! Each [`SigV4Error`] variant documents the AWS error it becomes. AWS uses two vocabularies:
//! JSON protocols (Cognito `cognito-idp`, `cognito-identity`, DynamoDB) say
//! `InvalidSignatureException` / `UnrecognizedClientException`; query protocols (IAM, STS) say
//! `SignatureDoesNotMatch` / `InvalidClientTokenId`. The adapters own the actual mapping.
//!
//! | variant | JSON protocols | query protocols | message AWS sends |
//! |---|---|---|---|
//! | `MissingAuthentication` | `MissingAuthenticationTokenException` | `MissingAuthenticationToken` | Missing Authentication Token |
//! | `Incomplete` | `IncompleteSignatureException` | `IncompleteSignature` | (the detail) |
//! | `TooLarge` | `IncompleteSignatureException` | `IncompleteSignature` | (the detail) |
//! | `WrongService`, `WrongRegion`, `ScopeDateMismatch`, `HeaderNotSigned`, `SignedHeaderMissing` | `InvalidSignatureException` | `SignatureDoesNotMatch` | Credential should be scoped to … |
//! | `Expired`, `NotYetValid` | `InvalidSignatureException` | `SignatureDoesNotMatch` | Signature expired: … / Signature not yet current: … |
//! | `PresignExpired` | `InvalidSignatureException` | `SignatureDoesNotMatch` | Signature expired: … |
//! | `UnknownAccessKey` | `UnrecognizedClientException` | `InvalidClientTokenId` | The security token included in the request is invalid. |
//! | `PayloadHashMismatch` | `InvalidSignatureException` | `SignatureDoesNotMatch` | The provided 'x-amz-content-sha256' header does not match what was computed. |
//! | `UnsupportedPayloadHash` | `InvalidSignatureException` | `SignatureDoesNotMatch` | (the detail) |
//! | `SignatureMismatch` | `InvalidSignatureException` | `SignatureDoesNotMatch` | The request signature we calculated does not match the signature you provided. … |

mod canonical;
mod sign;

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_lc_rs::{digest, hmac};

use crate::crypto::constant_time_eq;
use crate::time::{
    format_amz_date, from_unix_seconds, parse_amz_date, parse_http_date, unix_seconds,
};

pub use sign::{CachedSigner, Outgoing, SigningCredentials, sign};

use canonical::{QueryParam, canonical_query, canonical_uri, parse_query, push_folded_value};

/// The only algorithm SigV4 (as opposed to SigV4a) defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Longest `Authorization` header value accepted (botocore's are ~200 bytes plus the header list).
pub const MAX_AUTHORIZATION_LEN: usize = 8 * 1024;
/// Most headers a signature may cover.
pub const MAX_SIGNED_HEADERS: usize = 64;
/// Largest total size of the signed headers' values that will be canonicalised.
pub const MAX_CANONICAL_HEADERS_LEN: usize = 64 * 1024;
/// Longest raw request path accepted.
pub const MAX_PATH_LEN: usize = 16 * 1024;
/// Longest raw query string accepted (presigned URLs with session tokens are a few KiB).
pub const MAX_QUERY_LEN: usize = 32 * 1024;
/// Longest `X-Amz-Security-Token` accepted.
pub const MAX_SECURITY_TOKEN_LEN: usize = 16 * 1024;
/// Longest access key id accepted (AWS ids are 16–128 characters).
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;
/// Longest validity a presigned URL may ask for (`X-Amz-Expires`): seven days, as AWS.
pub const MAX_PRESIGN_EXPIRES: u64 = 7 * 24 * 3600;

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

// === public types ===

/// A transport-free view of an incoming request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method as sent (`GET`, `POST`, …).
    pub method: &'a str,
    /// The raw path exactly as on the wire (still percent-encoded), without the query.
    pub path: &'a str,
    /// The raw query string as on the wire, without the `?` (empty when absent).
    pub query: &'a str,
    /// Every header in wire order, duplicates included; names in any case.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// What is known about the body.
    pub payload: Payload<'a>,
}

/// What the verifier knows about the request body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body: hashed here and checked against `x-amz-content-sha256` when present.
    Bytes(&'a [u8]),
    /// The SHA-256 of the body, computed by the caller (e.g. while streaming it).
    Sha256([u8; 32]),
    /// The body has not been read: the signed `x-amz-content-sha256` header is used as the payload
    /// hash and the caller must check the body against [`VerifiedRequest::payload_hash`].
    FromHeader,
}

/// What a verifier accepts. Build with [`VerifierConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The service name the credential scope must name (`cognito-idp`, `execute-api`, …).
    pub service: String,
    /// When set, the scope's region must equal it; when `None` any region is accepted (the region
    /// is still covered by the signature).
    pub region: Option<String>,
    /// How far the request time may be from `now` either way (AWS: 5 minutes).
    pub max_clock_skew: Duration,
    /// Normalise and double-encode the path (every AWS service but S3).
    pub normalize_path: bool,
    /// Accept `UNSIGNED-PAYLOAD` (body not covered by the signature). Off by default: gatehouse's
    /// APIs act on the body. When on, presigned URLs without `x-amz-content-sha256` are verified
    /// with `UNSIGNED-PAYLOAD` as S3 presigners do.
    pub allow_unsigned_payload: bool,
    /// Headers the signature must cover (lower-case). Always `host`; the JSON protocols add
    /// `x-amz-target`, which names the operation: were it unsigned, a captured request (or a
    /// presigned URL valid for days) could be replayed as another operation.
    pub required_signed_headers: Vec<&'static str>,
}

impl VerifierConfig {
    /// Defaults: any region, ±5 minutes, normalised paths, signed payloads only.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            region: None,
            max_clock_skew: Duration::from_secs(300),
            normalize_path: true,
            allow_unsigned_payload: false,
            required_signed_headers: vec!["host"],
        }
    }

    /// Also requires `header` (lower-case) among the signed headers.
    #[must_use]
    pub fn require_signed(mut self, header: &'static str) -> Self {
        if !self.required_signed_headers.contains(&header) {
            self.required_signed_headers.push(header);
        }
        self
    }
}

/// A secret access key. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps the secret access key text.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// The SigV4 signing key of one secret for one credential scope (date, region, service): the
/// four chained HMACs of [`SignedRequest::verify`] done once, for a verifier that sees the
/// same credentials many times a day. `Debug` never shows it.
#[derive(Clone)]
pub struct SigningKey {
    scope: CredentialScope,
    key: hmac::Key,
}

impl SigningKey {
    /// Derives the key of `secret` for `scope`.
    pub fn derive(secret: &SecretKey, scope: &CredentialScope) -> Self {
        Self {
            scope: scope.clone(),
            key: signing_key(&secret.0, scope),
        }
    }

    /// The scope this key signs for.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Where the signature was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureLocation {
    /// `Authorization: AWS4-HMAC-SHA256 …` header.
    Header,
    /// Presigned URL: `X-Amz-Signature` and friends in the query string.
    Query,
}

/// The credential scope `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    /// Region the client signed for.
    pub region: String,
    /// Service the client signed for.
    pub service: String,
}

/// A request whose signature syntax, scope and time window are valid, with its canonical request
/// computed; only the secret is missing. Owns its data so it can cross an `.await`.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    access_key_id: String,
    security_token: Option<String>,
    scope: CredentialScope,
    request_time: i64,
    location: SignatureLocation,
    signed_headers: Vec<String>,
    payload_hash: String,
    /// The signature the client sent, as text: compared in constant time after hex-encoding ours.
    provided_signature: String,
    canonical_request: Vec<u8>,
    string_to_sign: String,
    /// For presigned requests carrying a session token: the canonical request and string to sign
    /// without the token, for signers that add it after signing.
    token_unsigned: Option<(Vec<u8>, String)>,
}

/// The outcome of a successful verification: who signed, and what the caller still has to check
/// (the session token of temporary credentials, the body when [`Payload::FromHeader`] was used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// `X-Amz-Security-Token` when present (header or query), for temporary credentials: the
    /// caller must check it belongs to `access_key_id`.
    pub security_token: Option<String>,
    /// Whether the signature covers the security token. Some signers add the token after
    /// signing (AWS accepts that); either way the caller must check the token belongs to the key.
    pub security_token_signed: bool,
    /// The credential scope.
    pub scope: CredentialScope,
    /// The request time (`X-Amz-Date` or `Date`).
    pub request_time: SystemTime,
    /// Header or presigned query.
    pub location: SignatureLocation,
    /// The lower-case names of the headers the signature covers.
    pub signed_headers: Vec<String>,
    /// The payload hash used in the canonical request (hex or `UNSIGNED-PAYLOAD`).
    pub payload_hash: String,
}

/// Why a request was refused. See the module docs for the AWS error each becomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor `X-Amz-Signature`.
    #[error("missing authentication token")]
    MissingAuthentication,
    /// The signature syntax is incomplete or malformed.
    #[error("incomplete signature: {0}")]
    Incomplete(String),
    /// An input exceeds one of the documented limits.
    #[error("{what} is longer than {limit} bytes")]
    TooLarge {
        /// Which input.
        what: &'static str,
        /// The limit it exceeded.
        limit: usize,
    },
    /// The credential scope names another service.
    #[error("credential should be scoped to correct service `{expected}`, not `{found}`")]
    WrongService {
        /// The service this endpoint is.
        expected: String,
        /// The service in the scope.
        found: String,
    },
    /// The credential scope names another region.
    #[error("credential should be scoped to a valid region, not `{found}`")]
    WrongRegion {
        /// The configured region.
        expected: String,
        /// The region in the scope.
        found: String,
    },
    /// The scope date is not the date of the request time.
    #[error(
        "date in credential scope `{scope_date}` does not match the request date `{request_date}`"
    )]
    ScopeDateMismatch {
        /// `YYYYMMDD` from the scope.
        scope_date: String,
        /// `YYYYMMDD` of the request time.
        request_date: String,
    },
    /// The request time is older than `now - max_clock_skew`.
    #[error("signature expired: `{request_time}` is now earlier than `{earliest}`")]
    Expired {
        /// The request time, `YYYYMMDD'T'HHMMSS'Z'`.
        request_time: String,
        /// The earliest accepted time.
        earliest: String,
    },
    /// The request time is later than `now + max_clock_skew`.
    #[error("signature not yet current: `{request_time}` is still later than `{latest}`")]
    NotYetValid {
        /// The request time.
        request_time: String,
        /// The latest accepted time.
        latest: String,
    },
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    #[error("signature expired: presigned request expired at `{expired_at}`")]
    PresignExpired {
        /// When it expired.
        expired_at: String,
    },
    /// A header the verifier requires (`host`, and `x-amz-target` on the JSON protocols) is not
    /// among the signed headers.
    #[error("`{0}` must be a signed header")]
    HeaderNotSigned(&'static str),
    /// A header named in `SignedHeaders` is not in the request.
    #[error("signed header `{0}` is not present in the request")]
    SignedHeaderMissing(String),
    /// No secret is known for the access key id.
    #[error("the security token included in the request is invalid")]
    UnknownAccessKey,
    /// `x-amz-content-sha256` does not match the body.
    #[error("the provided `x-amz-content-sha256` header does not match what was computed")]
    PayloadHashMismatch,
    /// `x-amz-content-sha256` has a value this verifier does not accept.
    #[error("unsupported `x-amz-content-sha256` value `{0}`")]
    UnsupportedPayloadHash(String),
    /// The signature does not match.
    #[error("the request signature we calculated does not match the signature you provided")]
    SignatureMismatch,
}

// === parse ===

/// Checks everything that needs no secret and computes the canonical request and string to
/// sign. `now` is the verifier's clock.
pub fn parse(
    request: &Request<'_>,
    config: &VerifierConfig,
    now: SystemTime,
) -> Result<SignedRequest, SigV4Error> {
    if request.path.len() > MAX_PATH_LEN {
        return Err(SigV4Error::TooLarge {
            what: "request path",
            limit: MAX_PATH_LEN,
        });
    }
    if request.query.len() > MAX_QUERY_LEN {
        return Err(SigV4Error::TooLarge {
            what: "query string",
            limit: MAX_QUERY_LEN,
        });
    }
    let query = parse_query(request.query.as_bytes());
    let auth_header = single_header(request.headers, "authorization")?;
    let presigned = query
        .iter()
        .any(|p| p.name == b"X-Amz-Signature" || p.name == b"X-Amz-Algorithm");

    let fields = match (auth_header, presigned) {
        (Some(_), true) => {
            return Err(SigV4Error::Incomplete(
                "only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified".into(),
            ));
        }
        (None, false) => return Err(SigV4Error::MissingAuthentication),
        (Some(value), false) => parse_authorization(value, request.headers)?,
        (None, true) => parse_presigned(&query)?,
    };

    let (access_key_id, scope) = parse_credential(&fields.credential)?;
    if scope.service != config.service {
        return Err(SigV4Error::WrongService {
            expected: config.service.clone(),
            found: scope.service,
        });
    }
    if let Some(region) = &config.region
        && &scope.region != region
    {
        return Err(SigV4Error::WrongRegion {
            expected: region.clone(),
            found: scope.region,
        });
    }
    let amz_date = format_amz_date(fields.request_time);
    if !amz_date.starts_with(&scope.date) {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: scope.date,
            request_date: amz_date.chars().take(8).collect(),
        });
    }
    check_time_window(fields.request_time, fields.expires, config, now)?;

    let signed_headers = parse_signed_headers(&fields.signed_headers)?;
    if let Some(unsigned) = config
        .required_signed_headers
        .iter()
        .find(|required| !signed_headers.iter().any(|h| h == *required))
    {
        return Err(SigV4Error::HeaderNotSigned(unsigned));
    }

    let security_token =
        match fields.location {
            SignatureLocation::Query => query_value(&query, b"X-Amz-Security-Token")?,
            // Tokens are ASCII: the lossy conversion (a byte at a time) only for one that is not.
            SignatureLocation::Header => single_header(request.headers, "x-amz-security-token")?
                .map(|v| match std::str::from_utf8(v) {
                    Ok(text) => text.to_owned(),
                    Err(_) => String::from_utf8_lossy(v).into_owned(),
                }),
        };
    if security_token
        .as_ref()
        .is_some_and(|t| t.len() > MAX_SECURITY_TOKEN_LEN)
    {
        return Err(SigV4Error::TooLarge {
            what: "X-Amz-Security-Token",
            limit: MAX_SECURITY_TOKEN_LEN,
        });
    }

    let payload_hash = payload_hash(request, config, fields.location)?;

    let build = |skip: &[&[u8]]| {
        build_canonical_request(
            request,
            &query,
            skip,
            &signed_headers,
            &payload_hash,
            config.normalize_path,
        )
    };
    let to_sign = |canonical: &[u8]| {
        build_string_to_sign(
            &amz_date,
            &scope,
            digest::digest(&digest::SHA256, canonical).as_ref(),
        )
    };
    let (canonical_request, token_unsigned_canonical_request) = match fields.location {
        SignatureLocation::Header => (build(&[])?, None),
        SignatureLocation::Query => {
            let canonical = build(&[b"X-Amz-Signature"])?;
            // Some signers (STS-style "token added after signing", e.g. IoT) append the session
            // token to a presigned URL after signing; AWS accepts both forms, so does the suite.
            let alternate = if security_token.is_some() {
                Some(build(&[b"X-Amz-Signature", b"X-Amz-Security-Token"])?)
            } else {
                None
            };
            (canonical, alternate)
        }
    };
    let string_to_sign = to_sign(&canonical_request);
    let token_unsigned = token_unsigned_canonical_request.map(|c| {
        let sts = to_sign(&c);
        (c, sts)
    });

    Ok(SignedRequest {
        access_key_id,
        security_token,
        scope,
        request_time: fields.request_time,
        location: fields.location,
        signed_headers,
        payload_hash,
        provided_signature: fields.signature,
        canonical_request,
        string_to_sign,
        token_unsigned,
    })
}

/// [`parse`], then the caller's `lookup` of the secret, then [`SignedRequest::verify`].
pub fn verify(
    request: &Request<'_>,
    config: &VerifierConfig,
    now: SystemTime,
    lookup: impl FnOnce(&str) -> Option<SecretKey>,
) -> Result<VerifiedRequest, SigV4Error> {
    let signed = parse(request, config, now)?;
    let secret = lookup(signed.access_key_id()).ok_or(SigV4Error::UnknownAccessKey)?;
    signed.verify(&secret)
}

// === impl SignedRequest ===

impl SignedRequest {
    /// The access key id to look the secret up by.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// `X-Amz-Security-Token`, when the client sent one (temporary credentials): a lookup for
    /// temporary credentials resolves the secret from it.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    /// The credential scope.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// The canonical request this verifier computed (AWS returns it in `SignatureDoesNotMatch`
    /// messages to help debug clients; never log it with secrets around).
    pub fn canonical_request(&self) -> &[u8] {
        &self.canonical_request
    }

    /// The string to sign this verifier computed.
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    /// For a presigned request with `X-Amz-Security-Token`: the canonical request and string to
    /// sign with the token left out, also accepted (for signers that append the token after
    /// signing).
    pub fn token_unsigned_form(&self) -> Option<(&[u8], &str)> {
        self.token_unsigned
            .as_ref()
            .map(|(c, s)| (c.as_slice(), s.as_str()))
    }

    /// Whether the signature (if valid) covers the session token.
    fn token_is_covered(&self) -> bool {
        match self.location {
            SignatureLocation::Query => true,
            SignatureLocation::Header => self
                .signed_headers
                .iter()
                .any(|h| h == "x-amz-security-token"),
        }
    }

    /// Derives the signing key from `secret`, signs the string to sign and compares with the
    /// client's signature in constant time.
    pub fn verify(self, secret: &SecretKey) -> Result<VerifiedRequest, SigV4Error> {
        let key = SigningKey::derive(secret, &self.scope);
        self.verify_with(&key)
    }

    /// [`SignedRequest::verify`] with the signing key already derived. A key derived for
    /// another scope than the request's never matches.
    pub fn verify_with(self, key: &SigningKey) -> Result<VerifiedRequest, SigV4Error> {
        if key.scope != self.scope {
            return Err(SigV4Error::SignatureMismatch);
        }
        let matches = |string_to_sign: &str| {
            let expected = hex(hmac::sign(&key.key, string_to_sign.as_bytes()).as_ref());
            constant_time_eq(expected.as_bytes(), self.provided_signature.as_bytes())
        };
        let security_token_signed = if matches(&self.string_to_sign) {
            self.security_token.is_some() && self.token_is_covered()
        } else if self
            .token_unsigned
            .as_ref()
            .is_some_and(|(_, sts)| matches(sts))
        {
            false
        } else {
            return Err(SigV4Error::SignatureMismatch);
        };
        Ok(VerifiedRequest {
            security_token_signed,
            access_key_id: self.access_key_id,
            security_token: self.security_token,
            scope: self.scope,
            request_time: from_unix_seconds(self.request_time),
            location: self.location,
            signed_headers: self.signed_headers,
            payload_hash: self.payload_hash,
        })
    }
}

// === internals ===

/// The signature fields, wherever they came from.
struct AuthFields {
    location: SignatureLocation,
    credential: String,
    signed_headers: String,
    signature: String,
    request_time: i64,
    /// `X-Amz-Expires` of a presigned request.
    expires: Option<u64>,
}

fn header_values<'a>(
    headers: &'a [(&'a str, &'a [u8])],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// The value of a header that must not repeat.
fn single_header<'a>(
    headers: &'a [(&'a str, &'a [u8])],
    name: &'static str,
) -> Result<Option<&'a [u8]>, SigV4Error> {
    let mut values = header_values(headers, name);
    let first = values.next();
    if values.next().is_some() {
        return Err(SigV4Error::Incomplete(format!(
            "the `{name}` header appears more than once"
        )));
    }
    Ok(first)
}

fn query_value(query: &[QueryParam], name: &[u8]) -> Result<Option<String>, SigV4Error> {
    let mut found = query.iter().filter(|p| p.name == name);
    let first = found.next();
    if found.next().is_some() {
        return Err(SigV4Error::Incomplete(format!(
            "the `{}` query parameter appears more than once",
            String::from_utf8_lossy(name)
        )));
    }
    first
        .map(|p| {
            String::from_utf8(p.value.clone()).map_err(|_| {
                SigV4Error::Incomplete(format!(
                    "the `{}` query parameter is not UTF-8",
                    String::from_utf8_lossy(name)
                ))
            })
        })
        .transpose()
}

fn parse_authorization(value: &[u8], headers: &[(&str, &[u8])]) -> Result<AuthFields, SigV4Error> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(SigV4Error::TooLarge {
            what: "Authorization header",
            limit: MAX_AUTHORIZATION_LEN,
        });
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| SigV4Error::Incomplete("the Authorization header is not UTF-8".into()))?
        .trim();
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "unsupported AWS 'algorithm': `{algorithm}`"
        )));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, val) = part.split_once('=').ok_or_else(|| {
            SigV4Error::Incomplete(format!(
                "authorization header component `{part}` is not key=value"
            ))
        })?;
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(SigV4Error::Incomplete(format!(
                    "unknown authorization header component `{other}`"
                )));
            }
        };
        if slot.replace(val.trim().to_owned()).is_some() {
            return Err(SigV4Error::Incomplete(format!(
                "authorization header repeats `{key}`"
            )));
        }
    }
    let missing: Vec<&str> = [
        ("Credential", credential.is_none()),
        ("Signature", signature.is_none()),
        ("SignedHeaders", signed_headers.is_none()),
    ]
    .iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| *n)
    .collect();
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(SigV4Error::Incomplete(format!(
            "authorization header requires {}",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };

    // AWS: X-Amz-Date wins; the HTTP Date header is the fallback.
    let request_time = if let Some(v) = single_header(headers, "x-amz-date")? {
        let text = std::str::from_utf8(v).unwrap_or("").trim();
        parse_amz_date(text)
            .ok_or_else(|| SigV4Error::Incomplete(format!("invalid X-Amz-Date `{text}`")))?
    } else if let Some(v) = single_header(headers, "date")? {
        let text = std::str::from_utf8(v).unwrap_or("").trim();
        parse_http_date(text)
            .ok_or_else(|| SigV4Error::Incomplete(format!("invalid Date `{text}`")))?
    } else {
        return Err(SigV4Error::Incomplete(
            "authorization header requires existence of either a `X-Amz-Date` or a `Date` header"
                .into(),
        ));
    };

    Ok(AuthFields {
        location: SignatureLocation::Header,
        credential,
        signed_headers,
        signature,
        request_time,
        expires: None,
    })
}

fn parse_presigned(query: &[QueryParam]) -> Result<AuthFields, SigV4Error> {
    let required = |name: &'static str| -> Result<String, SigV4Error> {
        query_value(query, name.as_bytes())?.ok_or_else(|| {
            SigV4Error::Incomplete(format!(
                "presigned request requires the `{name}` query parameter"
            ))
        })
    };
    let algorithm = required("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "unsupported X-Amz-Algorithm `{algorithm}`"
        )));
    }
    let credential = required("X-Amz-Credential")?;
    let signed_headers = required("X-Amz-SignedHeaders")?;
    let signature = required("X-Amz-Signature")?;
    let date = required("X-Amz-Date")?;
    let request_time = parse_amz_date(&date)
        .ok_or_else(|| SigV4Error::Incomplete(format!("invalid X-Amz-Date `{date}`")))?;
    let expires_text = required("X-Amz-Expires")?;
    let expires = expires_text
        .parse::<u64>()
        .ok()
        .filter(|e| (1..=MAX_PRESIGN_EXPIRES).contains(e))
        .ok_or_else(|| {
            SigV4Error::Incomplete(format!(
                "X-Amz-Expires must be a whole number of seconds between 1 and {MAX_PRESIGN_EXPIRES}, not `{expires_text}`"
            ))
        })?;
    Ok(AuthFields {
        location: SignatureLocation::Query,
        credential,
        signed_headers,
        signature,
        request_time,
        expires: Some(expires),
    })
}

/// `AKID/20150830/us-east-1/service/aws4_request` → key id and scope. The key id is everything
/// before the last four parts.
fn parse_credential(credential: &str) -> Result<(String, CredentialScope), SigV4Error> {
    let bad = || {
        SigV4Error::Incomplete(format!(
            "credential `{credential}` is not of the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request"
        ))
    };
    let mut parts = credential.rsplitn(5, '/');
    let terminator = parts.next().ok_or_else(bad)?;
    let service = parts.next().ok_or_else(bad)?;
    let region = parts.next().ok_or_else(bad)?;
    let date = parts.next().ok_or_else(bad)?;
    let key_id = parts.next().ok_or_else(bad)?;
    if terminator != "aws4_request" {
        return Err(SigV4Error::Incomplete(format!(
            "credential should be scoped with a valid terminator: 'aws4_request', not `{terminator}`"
        )));
    }
    if key_id.is_empty() || service.is_empty() || region.is_empty() {
        return Err(bad());
    }
    if key_id.len() > MAX_ACCESS_KEY_ID_LEN {
        return Err(SigV4Error::TooLarge {
            what: "access key id",
            limit: MAX_ACCESS_KEY_ID_LEN,
        });
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok((
        key_id.to_owned(),
        CredentialScope {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        },
    ))
}

/// `host;x-amz-date` → sorted lower-case names, each once.
fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let mut names: Vec<String> = Vec::new();
    for name in list.split(';') {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(SigV4Error::Incomplete(format!(
                "invalid SignedHeaders `{list}`"
            )));
        }
        names.push(name.to_ascii_lowercase());
        if names.len() > MAX_SIGNED_HEADERS {
            return Err(SigV4Error::TooLarge {
                what: "SignedHeaders",
                limit: MAX_SIGNED_HEADERS,
            });
        }
    }
    names.sort();
    let before = names.len();
    names.dedup();
    if names.len() != before {
        return Err(SigV4Error::Incomplete(format!(
            "SignedHeaders `{list}` repeats a header"
        )));
    }
    Ok(names)
}

fn check_time_window(
    request_time: i64,
    expires: Option<u64>,
    config: &VerifierConfig,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    let now = unix_seconds(now);
    let skew = i64::try_from(config.max_clock_skew.as_secs()).unwrap_or(i64::MAX);
    if request_time > now.saturating_add(skew) {
        return Err(SigV4Error::NotYetValid {
            request_time: format_amz_date(request_time),
            latest: format_amz_date(now.saturating_add(skew)),
        });
    }
    match expires {
        None if request_time < now.saturating_sub(skew) => Err(SigV4Error::Expired {
            request_time: format_amz_date(request_time),
            earliest: format_amz_date(now.saturating_sub(skew)),
        }),
        Some(expires) => {
            let expires_at =
                request_time.saturating_add(i64::try_from(expires).unwrap_or(i64::MAX));
            if now > expires_at {
                Err(SigV4Error::PresignExpired {
                    expired_at: format_amz_date(expires_at),
                })
            } else {
                Ok(())
            }
        }
        None => Ok(()),
    }
}

fn payload_hash(
    request: &Request<'_>,
    config: &VerifierConfig,
    location: SignatureLocation,
) -> Result<String, SigV4Error> {
    let declared = single_header(request.headers, "x-amz-content-sha256")?
        .map(|v| String::from_utf8_lossy(v).trim().to_owned());
    let computed = match request.payload {
        Payload::Bytes(body) => Some(hex(digest::digest(&digest::SHA256, body).as_ref())),
        Payload::Sha256(hash) => Some(hex(&hash)),
        Payload::FromHeader => None,
    };
    match declared {
        Some(d) if d == UNSIGNED_PAYLOAD => {
            if config.allow_unsigned_payload {
                Ok(d)
            } else {
                Err(SigV4Error::UnsupportedPayloadHash(d))
            }
        }
        Some(d) if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) => match computed {
            Some(c) if !constant_time_eq(c.as_bytes(), d.to_ascii_lowercase().as_bytes()) => {
                Err(SigV4Error::PayloadHashMismatch)
            }
            _ => Ok(d),
        },
        Some(d) => Err(SigV4Error::UnsupportedPayloadHash(d)),
        None if location == SignatureLocation::Query && config.allow_unsigned_payload => {
            Ok(UNSIGNED_PAYLOAD.to_owned())
        }
        None => computed.ok_or_else(|| {
            SigV4Error::Incomplete(
                "the body was not read and `x-amz-content-sha256` is missing".into(),
            )
        }),
    }
}

fn build_canonical_request(
    request: &Request<'_>,
    query: &[QueryParam],
    skip_params: &[&[u8]],
    signed_headers: &[String],
    payload_hash: &str,
    normalize_path: bool,
) -> Result<Vec<u8>, SigV4Error> {
    // Room for the signed headers' values (a session token is most of them), so the buffer
    // is not grown and copied while it is written.
    let values: usize = request.headers.iter().map(|(_, v)| v.len()).sum();
    let mut out = Vec::with_capacity(values.saturating_add(512));
    out.extend_from_slice(request.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&canonical_uri(request.path.as_bytes(), normalize_path));
    out.push(b'\n');
    out.extend_from_slice(&canonical_query(query, skip_params));
    out.push(b'\n');
    let mut header_bytes = 0usize;
    for name in signed_headers {
        let mut any = false;
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for value in header_values(request.headers, name) {
            header_bytes = header_bytes.saturating_add(value.len());
            if header_bytes > MAX_CANONICAL_HEADERS_LEN {
                return Err(SigV4Error::TooLarge {
                    what: "signed header values",
                    limit: MAX_CANONICAL_HEADERS_LEN,
                });
            }
            if any {
                out.push(b',');
            }
            push_folded_value(value, &mut out);
            any = true;
        }
        if !any {
            return Err(SigV4Error::SignedHeaderMissing(name.clone()));
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    Ok(out)
}

/// `AWS4-HMAC-SHA256\n{amz date}\n{date}/{region}/{service}/aws4_request\n{hex hash}`, written
/// into one buffer of the right size.
fn build_string_to_sign(amz_date: &str, scope: &CredentialScope, canonical_hash: &[u8]) -> String {
    let mut out = String::with_capacity(
        ALGORITHM.len()
            + amz_date.len()
            + scope.date.len()
            + scope.region.len()
            + scope.service.len()
            + 2 * canonical_hash.len()
            + 20,
    );
    for part in [
        ALGORITHM,
        "\n",
        amz_date,
        "\n",
        &scope.date,
        "/",
        &scope.region,
        "/",
        &scope.service,
        "/aws4_request\n",
    ] {
        out.push_str(part);
    }
    crate::crypto::push_hex_lower(canonical_hash, &mut out);
    out
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
fn signing_key(secret: &str, scope: &CredentialScope) -> hmac::Key {
    let mut k_secret = Vec::with_capacity(secret.len() + 4);
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(&k_secret, &scope.date);
    let k_region = step(k_date.as_ref(), &scope.region);
    let k_service = step(k_region.as_ref(), &scope.service);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    crate::crypto::hex_lower(bytes)
}

#[cfg(test)]
mod tests;
