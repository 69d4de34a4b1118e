//! Upstream OpenID Connect issuers: tokens of registered OpenID Connect providers (IAM
//! CreateOpenIDConnectProvider), for identity pools' `Logins` and STS's
//! AssumeRoleWithWebIdentity, and the ID tokens of the user pools' federated identity
//! providers (`crate::user_pools::identity_providers`), whose token and userInfo endpoints
//! are reached through the same client ([`OidcIssuers::send`]). One verifier for both.
//!
//! # Verification
//! A token's `iss` must be a registered provider's URL (`https://{url}`; `http://{url}` only
//! when the host is loopback, a development issuer on this machine). The header names `RS256`
//! or `ES256` and a `kid`; the key is that `kid` of the issuer's JWKS, of the family the
//! algorithm needs (no `none`, no HMAC, no RSA key read as an EC one). Then: the signature,
//! `iss` exactly, `sub`, `exp` and `nbf` within [`LEEWAY_SECS`], and the audience: a
//! string `aud` must be one of the provider's client ids; with a list of audiences `azp` is
//! the audience (as AWS reads it) and must be both in that list and a client id.
//!
//! # Keys
//! `{iss}/.well-known/openid-configuration` names the issuer exactly and a `jwks_uri`
//! (`https`, or `http` only on loopback for a loopback issuer), fetched through the one
//! outbound client ([`crate::https::client`], extra roots from the operator's setting), each
//! document at most [`MAX_DOCUMENT_BYTES`] and each request within the configured timeout.
//! Keys are cached per issuer and per the `jwks_uri` a user-pool provider names explicitly
//! (at most [`MAX_CACHED_ISSUERS`] entries and [`MAX_KEYS_PER_ISSUER`] keys each): keys read
//! from one provider's own `jwks_uri` never verify another's tokens that name the same `iss`. An unknown `kid` fetches again (key rotation) at most
//! once per [`REFETCH_INTERVAL`] per issuer on the service's clock, however many tokens with
//! made-up `kid`s arrive: requests that waited for a fetch in progress use its result.
//!
//! # Discovery documents
//! Federation reads a provider's endpoints from its discovery document on every sign-in it
//! starts; [`OidcIssuers::discovery_document`] keeps each issuer's checked document for
//! [`DISCOVERY_TTL`] (at most [`MAX_CACHED_ISSUERS`] of them), so a sign-in does not wait on
//! the issuer, and a burst of sign-ins does not become a burst of requests to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::https::HttpsClient;
use crate::iam::{OidcProvider, is_loopback_url};
use crate::time::unix_seconds;
use crate::tokens::MAX_TOKEN_LEN;

/// Largest discovery document or JWKS read from an issuer.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// How often an issuer's keys may be fetched again for an unknown `kid`.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 60;
/// How long an issuer's discovery document is used before it is read again.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(15 * 60);
/// Issuers whose keys (and discovery documents) are kept (IAM's quota of providers per
/// account).
const MAX_CACHED_ISSUERS: usize = 100;
/// Keys kept per issuer; a JWKS with more is cut.
const MAX_KEYS_PER_ISSUER: usize = 100;

/// How the service reaches issuers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcFetchConfig {
    /// Root certificates (DER) trusted beside the Mozilla roots.
    pub extra_roots: Vec<Vec<u8>>,
    /// Connecting and each document's whole exchange.
    pub timeout: Duration,
}

impl Default for OidcFetchConfig {
    fn default() -> Self {
        Self {
            extra_roots: Vec::new(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why a provider's token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OidcRefusal {
    /// Malformed, badly signed, of another issuer or subject: the detail is for the client.
    Invalid(String),
    Expired,
    /// `aud` (or `azp`) is not a client id of the provider.
    Audience,
    /// The issuer's keys could not be had; the detail is logged, not sent.
    Unreachable(String),
}

/// A provider's token that verified.
#[derive(Debug, Clone)]
pub(crate) struct OidcIdentity {
    pub(crate) subject: String,
    /// The client id the token is for (`aud`, or `azp` with several audiences).
    pub(crate) audience: String,
    /// `amr`, when the token has one.
    pub(crate) amr: Vec<String>,
    pub(crate) claims: Map<String, Value>,
}

/// The issuers' keys and the client that fetches them. One per node, shared by the identity
/// pools and the user pools' federation.
#[derive(Debug)]
pub struct OidcIssuers {
    client: Result<HttpsClient<Full<Bytes>>, String>,
    timeout: Duration,
    /// By issuer and where its keys are read from (see [`KeySource`]).
    issuers: Mutex<HashMap<KeySource, Arc<IssuerKeys>>>,
    /// Discovery documents by issuer, with when they were read.
    documents: Mutex<HashMap<String, (SystemTime, Arc<Value>)>>,
}

/// Whose keys an entry holds: an issuer's, read through its discovery document (`jwks_uri`
/// `None`), or read from a `jwks_uri` one user-pool provider names. A provider's own
/// `jwks_uri` is its operator's word about that provider only: its keys never verify tokens
/// for anyone else who trusts the same issuer (an IAM OpenID Connect provider, another
/// pool's provider), however the `iss` and `kid` of a token line up.
type KeySource = (String, Option<String>);

#[derive(Debug, Default)]
struct IssuerKeys {
    keys: Mutex<HashMap<String, Arc<IssuerKey>>>,
    /// When the last fetch started and, if it failed, why; held while a fetch runs, so
    /// waiters see its result.
    last_fetch: tokio::sync::Mutex<Option<(SystemTime, Option<String>)>>,
}

struct IssuerKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The issuers a provider's tokens may name: `https://{url}`, and `http://{url}` on loopback.
pub(crate) fn provider_issuers(provider: &OidcProvider) -> Vec<String> {
    let mut issuers = vec![provider.issuer()];
    let plain = format!("http://{}", provider.url);
    if is_loopback_url(&plain) {
        issuers.push(plain);
    }
    issuers
}

/// The claims of a JWT's payload, unverified (to find the provider whose keys verify it).
pub(crate) fn claims_unverified(token: &str) -> Option<Map<String, Value>> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn invalid(detail: impl Into<String>) -> OidcRefusal {
    OidcRefusal::Invalid(detail.into())
}

// === impl OidcIssuers ===

impl OidcIssuers {
    /// Issuers reached as `config` says.
    pub fn new(config: &OidcFetchConfig) -> Self {
        Self {
            client: crate::https::client(&config.extra_roots, config.timeout),
            timeout: config.timeout,
            issuers: Mutex::new(HashMap::new()),
            documents: Mutex::new(HashMap::new()),
        }
    }

    /// `issuer`'s discovery document (`{issuer}/.well-known/openid-configuration`), which
    /// must name `issuer` exactly; read again once it is [`DISCOVERY_TTL`] old at `now`.
    pub(crate) async fn discovery_document(
        &self,
        issuer: &str,
        now: SystemTime,
    ) -> Result<Arc<Value>, String> {
        let fresh = |read: SystemTime| {
            now.duration_since(read)
                .is_ok_and(|age| age < DISCOVERY_TTL)
        };
        if let Some((read, document)) = self.lock_documents().get(issuer)
            && fresh(*read)
        {
            return Ok(Arc::clone(document));
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let document = self.get_json(&url).await?;
        if document.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(format!(
                "the discovery document of `{issuer}` names another issuer"
            ));
        }
        let document = Arc::new(document);
        let mut documents = self.lock_documents();
        if documents.len() >= MAX_CACHED_ISSUERS && !documents.contains_key(issuer) {
            documents.retain(|_, (read, _)| fresh(*read));
            if documents.len() >= MAX_CACHED_ISSUERS {
                documents.clear();
            }
        }
        documents.insert(issuer.to_owned(), (now, Arc::clone(&document)));
        Ok(document)
    }

    fn lock_documents(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (SystemTime, Arc<Value>)>> {
        self.documents.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Verifies `token` as `provider`'s at `now` (see the module docs).
    pub(crate) async fn verify(
        &self,
        provider: &OidcProvider,
        token: &str,
        now: SystemTime,
    ) -> Result<OidcIdentity, OidcRefusal> {
        self.verify_token(
            &provider_issuers(provider),
            &provider.client_ids,
            None,
            token,
            now,
        )
        .await
    }

    /// Verifies `token` at `now` as one of `issuers`' for one of `client_ids` (see the module
    /// docs); the keys come from `jwks_uri` when given, else from the issuer's discovery
    /// document.
    pub(crate) async fn verify_token(
        &self,
        issuers: &[String],
        client_ids: &[String],
        jwks_uri: Option<&str>,
        token: &str,
        now: SystemTime,
    ) -> Result<OidcIdentity, OidcRefusal> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("The token is too long."));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| invalid("The token is malformed."))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(invalid(
                "The token's algorithm is not supported (RS256 or ES256).",
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("The token's header has no kid."))?;
        let issuer = claims_unverified(token)
            .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| invalid("The token has no issuer."))?;
        if !issuers.contains(&issuer) {
            return Err(invalid("The token's issuer is not the provider's URL."));
        }
        let key = self
            .key(&issuer, jwks_uri, &kid, now)
            .await?
            .ok_or_else(|| invalid("No key of the issuer matches the token's kid."))?;
        if key.algorithm != header.alg {
            return Err(invalid("The token's algorithm does not match its key."));
        }
        let mut validation = Validation::new(key.algorithm);
        // Time, issuer and audience are checked below against `now` and the provider.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|_| invalid("The token's signature is invalid."))?
            .claims;
        if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(invalid("The token's issuer is not the provider's URL."));
        }
        let now = unix_seconds(now);
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid("The token has no expiry."))?;
        if exp.saturating_add(LEEWAY_SECS) <= now {
            return Err(OidcRefusal::Expired);
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf
                .as_i64()
                .ok_or_else(|| invalid("The token's nbf is not a number."))?;
            if nbf.saturating_sub(LEEWAY_SECS) > now {
                return Err(invalid("The token is not valid yet."));
            }
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or_else(|| invalid("The token has no subject."))?
            .to_owned();
        let audience = audience(&claims, client_ids).ok_or(OidcRefusal::Audience)?;
        let amr = match claims.get("amr") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Ok(OidcIdentity {
            subject,
            audience,
            amr,
            claims,
        })
    }

    /// The key `kid` of `issuer`, fetching the issuer's keys when it is unknown and the last
    /// fetch is at least [`REFETCH_INTERVAL`] from `now`.
    async fn key(
        &self,
        issuer: &str,
        jwks_uri: Option<&str>,
        kid: &str,
        now: SystemTime,
    ) -> Result<Option<Arc<IssuerKey>>, OidcRefusal> {
        let state = {
            let source: KeySource = (issuer.to_owned(), jwks_uri.map(str::to_owned));
            let mut issuers = self.issuers.lock().unwrap_or_else(|e| e.into_inner());
            if !issuers.contains_key(&source) && issuers.len() >= MAX_CACHED_ISSUERS {
                // A provider deleted since leaves its entry behind: make room for the new one.
                if let Some(old) = issuers.keys().next().cloned() {
                    issuers.remove(&old);
                }
            }
            Arc::clone(issuers.entry(source).or_default())
        };
        if let Some(key) = state.lookup(kid) {
            return Ok(Some(key));
        }
        let mut last = state.last_fetch.lock().await;
        if let Some(key) = state.lookup(kid) {
            return Ok(Some(key));
        }
        if let Some((at, failure)) = last.as_ref()
            && within(now, *at, REFETCH_INTERVAL)
        {
            // A failure stays a failure until the next fetch may be tried.
            return match failure {
                Some(e) => Err(OidcRefusal::Unreachable(e.clone())),
                None => Ok(None),
            };
        }
        match self.fetch_keys(issuer, jwks_uri).await {
            Ok(keys) => {
                *last = Some((now, None));
                *state.keys.lock().unwrap_or_else(|e| e.into_inner()) = keys;
                Ok(state.lookup(kid))
            }
            Err(e) => {
                tracing::warn!(%issuer, error = ?e, "fetching an OpenID Connect issuer's keys failed");
                *last = Some((now, Some(e.clone())));
                Err(OidcRefusal::Unreachable(e))
            }
        }
    }

    async fn fetch_keys(
        &self,
        issuer: &str,
        explicit: Option<&str>,
    ) -> Result<HashMap<String, Arc<IssuerKey>>, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let jwks_uri = match explicit {
            Some(uri) => uri.to_owned(),
            None => {
                crate::https::discover_jwks_uri(client, issuer, self.timeout, MAX_DOCUMENT_BYTES)
                    .await?
            }
        };
        let jwks_uri = jwks_uri.as_str();
        let secure = jwks_uri.starts_with("https://");
        let local = jwks_uri.starts_with("http://")
            && is_loopback_url(jwks_uri)
            && issuer.starts_with("http://")
            && is_loopback_url(issuer);
        if !(secure || local) {
            return Err(format!(
                "jwks_uri `{jwks_uri}` must be https (http only for a loopback issuer)"
            ));
        }
        let set: JwkSet = serde_json::from_value(self.get_json(jwks_uri).await?)
            .map_err(|e| format!("the JWKS is malformed: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in set.keys.iter().take(MAX_KEYS_PER_ISSUER) {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
            {
                continue;
            }
            // The algorithm follows from the key: RSA keys sign RS256, P-256 keys ES256.
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                // Other curves, symmetric and Edwards keys (and kinds the library may add
                // later: the enum is non-exhaustive) are never used.
                _ => continue,
            };
            if let Some(named) = jwk.common.key_algorithm {
                let named = format!("{named:?}");
                if named != format!("{algorithm:?}") {
                    continue;
                }
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, Arc::new(IssuerKey { algorithm, key }));
            }
        }
        Ok(keys)
    }

    /// GETs a JSON document (a discovery document, a JWKS) within the limits.
    pub(crate) async fn get_json(&self, url: &str) -> Result<Value, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        crate::https::get_json(client, url, self.timeout, MAX_DOCUMENT_BYTES).await
    }

    /// Sends a request to an issuer's token or userInfo endpoint within the limits: the
    /// status and the JSON body.
    pub(crate) async fn send(
        &self,
        url: &str,
        outbound: crate::https::Outbound<'_>,
    ) -> Result<(hyper::StatusCode, Value), String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        crate::https::send_json(client, url, outbound, self.timeout, MAX_DOCUMENT_BYTES).await
    }
}

impl IssuerKeys {
    fn lookup(&self, kid: &str) -> Option<Arc<IssuerKey>> {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }
}

/// The client id a token is for: `aud` when it is one string; with a list, `azp`, which
/// must be in it. Either must be one of `client_ids`.
fn audience(claims: &Map<String, Value>, client_ids: &[String]) -> Option<String> {
    let aud = match claims.get("aud")? {
        Value::String(one) => one.clone(),
        Value::Array(items) => {
            let azp = claims.get("azp").and_then(Value::as_str)?;
            if !items.iter().any(|v| v.as_str() == Some(azp)) {
                return None;
            }
            azp.to_owned()
        }
        _ => return None,
    };
    client_ids.contains(&aud).then_some(aud)
}

/// Whether `at` lies less than `interval` from `last`, before or after it.
fn within(at: SystemTime, last: SystemTime, interval: Duration) -> bool {
    at.duration_since(last)
        .unwrap_or_else(|earlier| earlier.duration())
        < interval
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (rule, claims, expected audience)
    #[test]
    fn the_audience_is_aud_or_azp_among_several() {
        let ids = vec!["web".to_owned(), "mobile".to_owned()];
        let cases = [
            (
                "one aud, registered",
                serde_json::json!({"aud": "web"}),
                Some("web"),
            ),
            (
                "one aud, unknown",
                serde_json::json!({"aud": "other"}),
                None,
            ),
            (
                "a list: azp decides",
                serde_json::json!({"aud": ["other", "mobile"], "azp": "mobile"}),
                Some("mobile"),
            ),
            (
                "a list without azp",
                serde_json::json!({"aud": ["web"]}),
                None,
            ),
            (
                "azp outside the list",
                serde_json::json!({"aud": ["other"], "azp": "web"}),
                None,
            ),
            (
                "azp registered, list of strangers only",
                serde_json::json!({"aud": ["x", "y"], "azp": "x"}),
                None,
            ),
            ("no aud", serde_json::json!({"azp": "web"}), None),
            ("aud of another type", serde_json::json!({"aud": 7}), None),
        ];
        for (rule, claims, expected) in cases {
            let claims = claims.as_object().cloned().unwrap_or_default();
            assert_eq!(audience(&claims, &ids).as_deref(), expected, "{rule}");
        }
    }

    #[test]
    fn plain_http_issuers_only_on_loopback() {
        let cases = [
            ("http://127.0.0.1:8080/realm", true),
            ("http://localhost:1", true),
            ("http://[::1]:9/x", true),
            ("http://127.5.6.7", true),
            ("http://10.0.0.1", false),
            ("http://login.example.com", false),
            ("http://localhost.example.com", false),
            ("not a url", false),
        ];
        for (url, expected) in cases {
            assert_eq!(is_loopback_url(url), expected, "{url}");
        }
    }

    /// A P-256 signing key: its `kid`, the JWK of its public half, and an ES256 signer.
    fn es256_key(kid: &str) -> (Value, jsonwebtoken::EncodingKey) {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("the key reads back");
        // Uncompressed point: 0x04, x, y.
        let point = pair.public_key().as_ref();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        (jwk, jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()))
    }

    /// A loopback HTTP server answering each GET with the JSON of its path; `documents` makes
    /// them from the server's base URL.
    async fn json_server(documents: impl FnOnce(&str) -> HashMap<String, Value>) -> String {
        json_server_answering(usize::MAX, documents).await
    }

    /// A loopback server answering `requests` requests from `documents` (by path), then gone.
    async fn json_server_answering(
        requests: usize,
        documents: impl FnOnce(&str) -> HashMap<String, Value>,
    ) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let documents = documents(&base);
        tokio::spawn(async move {
            for _ in 0..requests {
                let Ok((mut stream, _)) = listener.accept().await else {
                    break;
                };
                let mut request = Vec::new();
                let mut buf = [0_u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
                let (status, body) = match documents.get(&path) {
                    Some(doc) => ("200 OK", doc.to_string()),
                    None => ("404 Not Found", "{}".to_owned()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        base
    }

    #[tokio::test]
    async fn a_discovery_document_is_read_once_per_ttl_and_must_name_its_issuer() {
        // The server answers once and is gone: a second read can only come from the cache.
        let issuer = json_server_answering(1, |issuer| {
            HashMap::from([(
                "/.well-known/openid-configuration".to_owned(),
                serde_json::json!({"issuer": issuer, "token_endpoint": format!("{issuer}/token")}),
            )])
        })
        .await;
        let issuers = OidcIssuers::new(&OidcFetchConfig::default());
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let first = issuers
            .discovery_document(&issuer, start)
            .await
            .expect("read");
        assert_eq!(first["token_endpoint"], format!("{issuer}/token"));
        let later = start + DISCOVERY_TTL - Duration::from_secs(1);
        let cached = issuers
            .discovery_document(&issuer, later)
            .await
            .expect("cached");
        assert!(Arc::ptr_eq(&first, &cached));
        // Once stale it is read again: the issuer is gone, so that fails.
        let stale = start + DISCOVERY_TTL;
        assert!(issuers.discovery_document(&issuer, stale).await.is_err());

        let impostor = json_server(|_| {
            HashMap::from([(
                "/.well-known/openid-configuration".to_owned(),
                serde_json::json!({"issuer": "https://accounts.example.com"}),
            )])
        })
        .await;
        let refused = issuers
            .discovery_document(&impostor, start)
            .await
            .unwrap_err();
        assert!(refused.contains("names another issuer"), "{refused}");
    }

    #[tokio::test]
    async fn keys_from_a_providers_own_jwks_uri_never_verify_the_issuers_tokens() {
        let (issuer_jwk, _) = es256_key("issuer-key");
        let (own_jwk, own_signer) = es256_key("own-key");
        let issuer = json_server(|issuer| {
            HashMap::from([
                (
                    "/.well-known/openid-configuration".to_owned(),
                    serde_json::json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}),
                ),
                (
                    "/jwks".to_owned(),
                    serde_json::json!({"keys": [issuer_jwk]}),
                ),
                (
                    "/own-jwks".to_owned(),
                    serde_json::json!({"keys": [own_jwk]}),
                ),
            ])
        })
        .await;

        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some("own-key".into());
        let claims = serde_json::json!({
            "iss": issuer, "sub": "someone", "aud": "app",
            "exp": unix_seconds(now) + 300,
        });
        let token = jsonwebtoken::encode(&header, &claims, &own_signer).expect("signed");
        let issuers = OidcIssuers::new(&OidcFetchConfig::default());
        let ids = ["app".to_owned()];
        let own_uri = format!("{issuer}/own-jwks");

        // The provider that names its own key set verifies with it.
        let verified = issuers
            .verify_token(
                std::slice::from_ref(&issuer),
                &ids,
                Some(&own_uri),
                &token,
                now,
            )
            .await
            .expect("the provider's own keys verify its token");
        assert_eq!(verified.subject, "someone");
        // Whoever trusts the issuer itself reads its discovery document's keys: the key a
        // provider named for itself is not among them.
        let refused = issuers
            .verify_token(std::slice::from_ref(&issuer), &ids, None, &token, now)
            .await;
        assert!(
            matches!(refused, Err(OidcRefusal::Invalid(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn refetches_wait_an_interval_either_way() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(within(t + Duration::from_secs(29), t, REFETCH_INTERVAL));
        assert!(!within(t + Duration::from_secs(30), t, REFETCH_INTERVAL));
        assert!(within(t - Duration::from_secs(29), t, REFETCH_INTERVAL));
    }
}
