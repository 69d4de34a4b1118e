//! `COGNITO_USER_POOLS` and `jwt` authorizers: JWT verification with a per-token cache.
//!
//! - Gatehouse pools: the binary provides a [`PoolTokenVerifier`] (usually
//!   [`KeyRingVerifier`] over the identity crate's per-pool [`KeyRing`]s), so tokens are
//!   checked against in-memory keys: RS256 only, known `kid`, issuer, `token_use`, `exp`.
//! - Remote OIDC issuers: `{issuer}/.well-known/openid-configuration` → `jwks_uri` → JWKS,
//!   over `https://` (rustls on aws-lc-rs, the Mozilla roots plus
//!   [`AuthorizerConfig::extra_root_certificates`]; `http://` only on loopback) and cached
//!   per issuer. A token's `iss` must be one of the authorizer's issuers exactly; the
//!   discovery document must name that issuer and an `https` `jwks_uri`. Discovery and JWKS
//!   are fetched at most once per [`AuthorizerConfig::jwks_refetch_interval`] per issuer,
//!   on the request's clock, whatever the tokens say (an unknown `kid` is how key rotation
//!   is noticed). RS256/384/512, PS256/384/512 and ES256/384 only, and the key's family
//!   must match `alg` (no HS/RS confusion, no `none`).
//!
//! Every token is refused above 16 KiB. A verified token is cached under its own text until it
//! expires (a hash-table lookup and one comparison per request: no digest, no copy of the
//! token, no character check; the hash covers the token's length and its last 32 bytes, see
//! [`TokenKey`]); the cache is bounded by weight, a token's length plus [`ENTRY_OVERHEAD`], so a
//! few large tokens cannot hold much more memory than many small ones. The per-method checks (which pools or issuers the authorizer
//! accepts, `aud`/`client_id`, scopes, `exp`) run on every request against the cached claims.
//!
//! Signed-out tokens: for a gatehouse pool's token, every request — a cache hit too — asks
//! [`PoolTokenVerifier::is_revoked`] whether its sign-in (`origin_jti`) was revoked or its
//! user (`sub`) signed out after it was issued (`iat`), so the cache never lets a signed-out
//! token through. [`KeyRingVerifier::with_revocations`] answers from the identity crate's
//! in-memory view: a hash lookup under a read lock, no allocation, no database. A sign-out on
//! this node is refused at once; one on another node once this node's view has refreshed
//! (see the identity crate's `revocations` module for the bound). Remote issuers' tokens have
//! no revocation check (OIDC has no push for it; their lifetime is the bound).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use gatehouse_identity::tokens::{KeyRing, MAX_TOKEN_LEN, TokenUse};
use gatehouse_policy::calendar::unix_seconds;
use http::{HeaderName, HeaderValue};
use http_body_util::Full;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::definition::model::{JwtAuthorizer, JwtFlavor, is_loopback_url};
use crate::server::authorizers::{
    AuthorizerConfig, CLAIM_SUB_HEADER, CLAIMS_HEADER, PRINCIPAL_HEADER, encoded_header,
    record_only, unauthorized,
};
use crate::server::steps::{RequestContext, StepFuture, Verdict};

/// Verifies tokens of gatehouse user pools (provided by the binary).
pub trait PoolTokenVerifier: Send + Sync + std::fmt::Debug + 'static {
    /// Checks `token` against pool `pool_id`'s keys at `now` (Unix seconds): signature,
    /// issuer, `token_use`, `exp`. Returns the claims.
    fn verify(
        &self,
        pool_id: &str,
        token: &str,
        now: i64,
    ) -> Result<Map<String, Value>, TokenRejection>;

    /// Whether a verified token of pool `pool_id` has been revoked since: its sign-in
    /// (`origin_jti`) ended, or its user (`sub`) signed out after `iat` (Unix seconds). Runs
    /// on every request, so it must be cheap and never wait on I/O.
    fn is_revoked(&self, pool_id: &str, sub: &str, origin_jti: &str, iat: i64) -> bool;
}

/// The revocation check a [`KeyRingVerifier`] asks: `(pool_id, sub, origin_jti, iat)`.
pub type RevocationCheck = dyn Fn(&str, &str, &str, i64) -> bool + Send + Sync;

/// Why a token was refused (logged; the client sees 401 `Unauthorized`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLarge,
    #[error("unknown user pool `{0}`")]
    UnknownPool(String),
    #[error("unsupported token algorithm `{0}`")]
    Algorithm(String),
    #[error("token header has no `kid`")]
    MissingKid,
    #[error("unknown signing key `{0}`")]
    UnknownKid(String),
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token issuer `{0}` is not accepted")]
    Issuer(String),
    #[error("token has expired or is not valid yet")]
    Time,
    #[error("cannot fetch the keys of `{0}`: {1}")]
    Jwks(String, String),
}

/// A [`PoolTokenVerifier`] over identity's key rings: `rings(pool_id)` returns the pool's
/// ring, and the check given to [`KeyRingVerifier::with_revocations`] (none: nothing is
/// revoked) says which tokens were signed out.
pub struct KeyRingVerifier<F> {
    rings: F,
    revoked: Option<Arc<RevocationCheck>>,
}

/// A verified token, cached under its text.
#[derive(Debug)]
struct Verified {
    /// The pool that verified it, for pool authorizers.
    pool_id: Option<String>,
    iss: String,
    exp: i64,
    /// Issued at (Unix seconds; 0 if absent) and the sign-in it belongs to (empty if absent):
    /// what the per-request revocation check of a pool token needs.
    iat: i64,
    origin_jti: String,
    nbf: Option<i64>,
    token_use: Option<String>,
    aud: Vec<String>,
    client_id: Option<String>,
    scopes: Vec<String>,
    sub: String,
    claims: Arc<BTreeMap<String, String>>,
    claims_header: Option<HeaderValue>,
    /// `sub` as a header value (`None` if it cannot be one: then no sub header is sent).
    sub_header: Option<HeaderValue>,
    /// Remote tokens get the leeway; gatehouse tokens are checked exactly.
    remote: bool,
    /// The response cache's principal: see [`principal_key`].
    principal_key: Arc<str>,
}

type TokenCache = quick_cache::sync::Cache<TokenKey, Arc<Verified>, TokenWeight>;

/// Weight of a cached token besides its text: the claims and the entry's bookkeeping (a
/// Cognito access token's claims take a few hundred bytes).
pub(crate) const ENTRY_OVERHEAD: u64 = 1024;

/// Weighs a cache entry by the token's length plus [`ENTRY_OVERHEAD`].
#[derive(Debug, Clone, Copy)]
struct TokenWeight;

impl quick_cache::Weighter<TokenKey, Arc<Verified>> for TokenWeight {
    fn weight(&self, token: &TokenKey, _: &Arc<Verified>) -> u64 {
        token.0.len() as u64 + ENTRY_OVERHEAD
    }
}

/// A verified token's text, the cache's key. Equal keys are equal texts, byte for byte; the
/// hash covers only the length and the last [`HASHED_TAIL`] bytes (the end of the signature),
/// so a lookup hashes 32 bytes instead of a kilobyte. Only verified tokens are keys, and two
/// of them share a tail only by chance, so buckets stay short whatever requests bring.
#[derive(PartialEq, Eq)]
struct TokenKey(Box<[u8]>);

/// A bearer token: its debug form names its length only.
impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKey(<{} bytes>)", self.0.len())
    }
}

/// A request's token, looked up in the cache without a copy or a character check: a byte
/// string equal to a cached key is that verified (printable ASCII) token.
struct TokenBytes<'a>(&'a [u8]);

/// Bytes at the end of a token that its cache hash covers.
const HASHED_TAIL: usize = 32;

fn hash_token<H: Hasher>(token: &[u8], state: &mut H) {
    let tail = token
        .get(token.len().saturating_sub(HASHED_TAIL)..)
        .unwrap_or(token);
    state.write_usize(token.len());
    state.write(tail);
}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(&self.0, state);
    }
}

impl Hash for TokenBytes<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.0, state);
    }
}

impl quick_cache::Equivalent<TokenKey> for TokenBytes<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        *self.0 == *key.0
    }
}

/// The bearer token of a request: the header value (a reference count, not a copy) and where
/// the token sits in it.
#[derive(Debug)]
struct Token {
    value: HeaderValue,
    start: usize,
    end: usize,
}

/// JWT verification for the authorizer step.
#[derive(Debug)]
pub(crate) struct JwtVerifier {
    pools: Option<Arc<dyn PoolTokenVerifier>>,
    remote: Arc<RemoteIssuers>,
    cache: TokenCache,
    leeway: i64,
}

type HttpsClient = gatehouse_identity::https::HttpsClient<Full<Bytes>>;

/// JWKS per remote issuer.
#[derive(Debug)]
struct RemoteIssuers {
    /// `Err` (why TLS could not be set up) makes every fetch fail with that reason.
    client: Result<HttpsClient, String>,
    timeout: Duration,
    refetch_interval: Duration,
    issuers: Mutex<HashMap<String, Arc<IssuerKeys>>>,
}

#[derive(Debug, Default)]
struct IssuerKeys {
    keys: Mutex<HashMap<String, Arc<DecodingKey>>>,
    /// Serializes fetches and remembers when the last one started (the request time of the
    /// request that made it; time is a parameter, so tests move it).
    fetch: tokio::sync::Mutex<Option<SystemTime>>,
}

const REMOTE_ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];
/// Largest discovery or JWKS document read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

// === impl KeyRingVerifier ===

impl<F> KeyRingVerifier<F>
where
    F: Fn(&str) -> Option<Arc<KeyRing>> + Send + Sync + 'static,
{
    pub fn new(rings: F) -> Self {
        Self {
            rings,
            revoked: None,
        }
    }

    /// Refuses the tokens `revoked(pool_id, sub, origin_jti, iat)` says were signed out,
    /// e.g. from the identity crate's `Revocations::is_revoked`.
    #[must_use]
    pub fn with_revocations(
        mut self,
        revoked: impl Fn(&str, &str, &str, i64) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.revoked = Some(Arc::new(revoked));
        self
    }
}

impl<F> std::fmt::Debug for KeyRingVerifier<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRingVerifier")
    }
}

impl<F> PoolTokenVerifier for KeyRingVerifier<F>
where
    F: Fn(&str) -> Option<Arc<KeyRing>> + Send + Sync + 'static,
{
    fn verify(
        &self,
        pool_id: &str,
        token: &str,
        now: i64,
    ) -> Result<Map<String, Value>, TokenRejection> {
        let ring =
            (self.rings)(pool_id).ok_or_else(|| TokenRejection::UnknownPool(pool_id.to_owned()))?;
        // Which verification applies depends on `token_use`, read before the signature is
        // checked; the verification itself checks it again.
        let unverified: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|e| TokenRejection::Invalid(e.to_string()))?;
        let value = match unverified.get("token_use").and_then(Value::as_str) {
            Some("id") => serde_json::to_value(
                ring.verify_id_token(token, now, None)
                    .map_err(from_token_error)?,
            ),
            Some("access") => serde_json::to_value(
                ring.verify_access_token(token, now, None)
                    .map_err(from_token_error)?,
            ),
            _ => return Err(TokenRejection::Invalid("no `token_use`".into())),
        }
        .map_err(|e| TokenRejection::Invalid(e.to_string()))?;
        match value {
            Value::Object(map) => Ok(map),
            _ => Err(TokenRejection::Invalid("claims are not an object".into())),
        }
    }

    fn is_revoked(&self, pool_id: &str, sub: &str, origin_jti: &str, iat: i64) -> bool {
        self.revoked
            .as_ref()
            .is_some_and(|revoked| revoked(pool_id, sub, origin_jti, iat))
    }
}

fn from_token_error(err: gatehouse_identity::tokens::TokenError) -> TokenRejection {
    use gatehouse_identity::tokens::TokenError as E;
    match err {
        E::TooLarge => TokenRejection::TooLarge,
        E::UnsupportedAlgorithm(a) => TokenRejection::Algorithm(a),
        E::MissingKid => TokenRejection::MissingKid,
        E::UnknownKid(k) => TokenRejection::UnknownKid(k),
        E::WrongIssuer(i) => TokenRejection::Issuer(i),
        E::Expired => TokenRejection::Time,
        other => TokenRejection::Invalid(other.to_string()),
    }
}

// === impl JwtVerifier ===

impl JwtVerifier {
    pub(crate) fn new(
        config: &AuthorizerConfig,
        pools: Option<Arc<dyn PoolTokenVerifier>>,
    ) -> Self {
        Self {
            pools,
            remote: Arc::new(RemoteIssuers {
                client: https_client(config),
                timeout: config.call_timeout,
                refetch_interval: config.jwks_refetch_interval,
                issuers: Mutex::new(HashMap::new()),
            }),
            cache: {
                // Sized for the configured number of typical (~1 KiB) tokens.
                let entries = config.token_cache_entries.max(16);
                TokenCache::with_weighter(
                    entries,
                    entries as u64 * (1024 + ENTRY_OVERHEAD),
                    TokenWeight,
                )
            },
            leeway: config.leeway_secs,
        }
    }

    /// Authorizes the request in `cx` with the JWT authorizer `config`.
    pub(crate) fn authorize<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        config: &'a JwtAuthorizer,
        scopes: &'a [String],
    ) -> StepFuture<'a> {
        let Some(found) = token_of(cx, config) else {
            return StepFuture::ready(unauthorized());
        };
        let bytes = found.bytes();
        if bytes.len() > MAX_TOKEN_LEN {
            return StepFuture::ready(unauthorized());
        }
        let now = unix_seconds(cx.now);
        if let Some(verified) = self.cache.get(&TokenBytes(bytes)) {
            return StepFuture::ready(self.finish(cx, &verified, config, scopes, now));
        }
        // Not cached: the token must be printable ASCII before anything parses it.
        let Some(token) = found.as_str() else {
            return StepFuture::ready(unauthorized());
        };
        let token: Box<str> = token.into();
        // Gatehouse pools: synchronous, in-memory keys.
        if let Some(pools) = &self.pools {
            for pool in &config.user_pools {
                match pools.verify(&pool.pool_id, &token, now) {
                    Ok(claims) => {
                        let verified = Arc::new(verified_from(
                            claims,
                            Some(pool.pool_id.clone()),
                            false,
                            &token,
                        ));
                        self.cache
                            .insert(TokenKey(token.into_boxed_bytes()), Arc::clone(&verified));
                        return StepFuture::ready(self.finish(cx, &verified, config, scopes, now));
                    }
                    Err(err) => {
                        tracing::debug!(pool = %pool.pool_id, error = %err, "token refused")
                    }
                }
            }
        }
        if config.issuers.is_empty() {
            return StepFuture::ready(unauthorized());
        }
        let at = cx.now;
        StepFuture::boxed(async move {
            match self.verify_remote(&token, config, at).await {
                Ok(verified) => {
                    let verified = Arc::new(verified);
                    self.cache
                        .insert(TokenKey(token.into_boxed_bytes()), Arc::clone(&verified));
                    self.finish(cx, &verified, config, scopes, now)
                }
                Err(err) => {
                    tracing::debug!(error = %err, "remote token refused");
                    unauthorized()
                }
            }
        })
    }

    async fn verify_remote(
        &self,
        token: &str,
        config: &JwtAuthorizer,
        at: SystemTime,
    ) -> Result<Verified, TokenRejection> {
        let now = unix_seconds(at);
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| TokenRejection::Invalid(e.to_string()))?;
        if !REMOTE_ALGORITHMS.contains(&header.alg) {
            return Err(TokenRejection::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(TokenRejection::MissingKid)?;
        let unverified: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|e| TokenRejection::Invalid(e.to_string()))?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // Exactly one of the configured strings: `https://idp/` is not `https://idp`, so a
        // token cannot make the gateway fetch from (or cache keys under) a variant.
        let Some(issuer) = config.issuers.iter().find(|i| **i == iss) else {
            return Err(TokenRejection::Issuer(iss));
        };
        let key = self
            .remote
            .key(issuer, &kid, at)
            .await?
            .ok_or_else(|| TokenRejection::UnknownKid(kid.clone()))?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                        TokenRejection::Algorithm(format!("{:?} with this key", header.alg))
                    }
                    _ => TokenRejection::Invalid(e.to_string()),
                }
            })?;
        let verified = verified_from(data.claims, None, true, token);
        if verified.iss != iss {
            return Err(TokenRejection::Issuer(verified.iss));
        }
        if verified.exp == 0 {
            return Err(TokenRejection::Invalid("no `exp`".into()));
        }
        if !time_ok(&verified, now, self.leeway) {
            return Err(TokenRejection::Time);
        }
        Ok(verified)
    }

    /// The per-authorizer, per-request checks on verified claims.
    fn finish(
        &self,
        cx: &mut RequestContext<'_>,
        verified: &Verified,
        config: &JwtAuthorizer,
        scopes: &[String],
        now: i64,
    ) -> Verdict {
        let accepted_source = match &verified.pool_id {
            Some(pool) => config.user_pools.iter().any(|p| &p.pool_id == pool),
            None => config.issuers.contains(&verified.iss),
        };
        if !accepted_source || !time_ok(verified, now, self.leeway) {
            return unauthorized();
        }
        // Checked on every request, cached or not: a sign-out must not wait for the cache.
        if let (Some(pool), Some(pools)) = (&verified.pool_id, &self.pools)
            && pools.is_revoked(pool, &verified.sub, &verified.origin_jti, verified.iat)
        {
            tracing::debug!(%pool, sub = %verified.sub, "token refused: revoked");
            return unauthorized();
        }
        let token_use = verified.token_use.as_deref();
        if !config.audiences.is_empty() {
            let audience_ok = match token_use {
                Some("access") => verified
                    .client_id
                    .as_ref()
                    .is_some_and(|c| config.audiences.contains(c)),
                Some("id") => verified.aud.iter().any(|a| config.audiences.contains(a)),
                _ => {
                    verified.aud.iter().any(|a| config.audiences.contains(a))
                        || verified
                            .client_id
                            .as_ref()
                            .is_some_and(|c| config.audiences.contains(c))
                }
            };
            if !audience_ok {
                return unauthorized();
            }
        }
        if !scopes.is_empty() {
            // With scopes, only access tokens carrying one of them are accepted.
            let scoped =
                token_use != Some("id") && verified.scopes.iter().any(|s| scopes.contains(s));
            if !scoped {
                return match config.flavor {
                    JwtFlavor::CognitoUserPools => unauthorized(),
                    JwtFlavor::Jwt => forbidden(),
                };
            }
        }
        // The header values were made once, when the token was verified.
        let headers = &mut cx.head.headers;
        if let Some(value) = &verified.sub_header {
            headers.insert(
                const { HeaderName::from_static(CLAIM_SUB_HEADER) },
                value.clone(),
            );
            headers.insert(
                const { HeaderName::from_static(PRINCIPAL_HEADER) },
                value.clone(),
            );
        }
        if let Some(value) = &verified.claims_header {
            headers.insert(
                const { HeaderName::from_static(CLAIMS_HEADER) },
                value.clone(),
            );
        }
        record_only(
            cx,
            &verified.sub,
            Arc::clone(&verified.principal_key),
            Arc::clone(&verified.claims),
            Arc::default(),
            None,
        );
        Verdict::Continue
    }
}

fn forbidden() -> Verdict {
    Verdict::Reject(crate::server::steps::Rejection::new(
        crate::definition::responses::GatewayResponseType::InvalidApiKey,
    ))
}

fn time_ok(verified: &Verified, now: i64, leeway: i64) -> bool {
    let leeway = if verified.remote { leeway } else { 0 };
    now < verified.exp.saturating_add(leeway) && verified.nbf.is_none_or(|nbf| nbf <= now + leeway)
}

/// The token from the identity source: the header's value, without a `Bearer ` prefix (any
/// case) and the whitespace around it. Found in the value's bytes: the characters are checked
/// only when the token is not in the cache (see [`Token::as_str`]).
fn token_of(cx: &RequestContext<'_>, config: &JwtAuthorizer) -> Option<Token> {
    let value = match &config.identity_source {
        // The usual source, by its `HeaderName`: a name given as text is parsed (and lower-cased)
        // on every look-up.
        crate::definition::mapping::IdentitySource::Header(name)
            if !name.eq_ignore_ascii_case("authorization") =>
        {
            cx.head.headers.get(name.as_str())?
        }
        _ => cx.head.headers.get(http::header::AUTHORIZATION)?,
    };
    let text = value.as_bytes().trim_ascii();
    let token = match text.get(..7) {
        Some(p) if p.eq_ignore_ascii_case(b"bearer ") => text.get(7..)?.trim_ascii(),
        _ => text,
    };
    if token.is_empty() {
        return None;
    }
    // `token` is a sub-slice of the value: its offsets locate it there.
    let start = token.as_ptr() as usize - value.as_bytes().as_ptr() as usize;
    Some(Token {
        value: value.clone(),
        start,
        end: start + token.len(),
    })
}

impl Token {
    fn bytes(&self) -> &[u8] {
        self.value
            .as_bytes()
            .get(self.start..self.end)
            .unwrap_or_default()
    }

    /// The token as text, if every character of the header value is printable ASCII (or a
    /// tab), as the header's text form requires.
    fn as_str(&self) -> Option<&str> {
        self.value.to_str().ok()?.get(self.start..self.end)
    }
}

/// The response cache's principal for a verified token: its issuer and `sub` (a `sub` is
/// only unique within its issuer), or, for a token without `sub`, the SHA-256 of the token
/// itself, so that it shares a cache entry with no other token.
fn principal_key(iss: &str, sub: &str, token: &str) -> Arc<str> {
    use std::fmt::Write as _;
    if !sub.is_empty() {
        return format!("jwt\0{iss}\0{sub}").into();
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut key = String::with_capacity(6 + 64);
    key.push_str("token\0");
    for byte in digest.as_ref() {
        let _ = write!(key, "{byte:02x}");
    }
    key.into()
}

fn verified_from(
    claims: Map<String, Value>,
    pool_id: Option<String>,
    remote: bool,
    token: &str,
) -> Verified {
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let int = |k: &str| claims.get(k).and_then(Value::as_i64);
    let aud = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let scopes = text("scope")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let strings = claims
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect();
    let claims_header = encoded_header(&Value::Object(claims.clone()));
    let sub = text("sub").unwrap_or_default();
    let iss = text("iss").unwrap_or_default();
    Verified {
        principal_key: principal_key(&iss, &sub, token),
        sub_header: HeaderValue::from_str(&sub).ok(),
        pool_id,
        iss,
        exp: int("exp").unwrap_or(0),
        iat: int("iat").unwrap_or(0),
        origin_jti: text("origin_jti").unwrap_or_default(),
        nbf: int("nbf"),
        token_use: text("token_use"),
        aud,
        client_id: text("client_id"),
        scopes,
        sub,
        claims: Arc::new(strings),
        claims_header,
        remote,
    }
}

// === impl RemoteIssuers ===

impl RemoteIssuers {
    /// The key `kid` of `issuer` (one of an authorizer's configured strings), fetching
    /// discovery and the JWKS when the kid is unknown — at most once per refetch interval and
    /// issuer, whatever kids, issuers and how many requests tokens bring: a fetch is skipped
    /// while the last one started less than the interval from `at` (the request's time)
    /// either way, so requests that waited for a fetch in progress do not repeat it.
    async fn key(
        &self,
        issuer: &str,
        kid: &str,
        at: SystemTime,
    ) -> Result<Option<Arc<DecodingKey>>, TokenRejection> {
        let state = {
            let mut issuers = self.issuers.lock().unwrap_or_else(|e| e.into_inner());
            match issuers.get(issuer) {
                Some(state) => Arc::clone(state),
                None => Arc::clone(issuers.entry(issuer.to_owned()).or_default()),
            }
        };
        if let Some(key) = state.lookup(kid) {
            return Ok(Some(key));
        }
        let mut last = state.fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = state.lookup(kid) {
            return Ok(Some(key));
        }
        if last.is_some_and(|last| within(at, last, self.refetch_interval)) {
            return Ok(None);
        }
        *last = Some(at);
        let keys = self
            .fetch_keys(issuer)
            .await
            .map_err(|e| TokenRejection::Jwks(issuer.to_owned(), e))?;
        *state.keys.lock().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(state.lookup(kid))
    }

    async fn fetch_keys(&self, issuer: &str) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let jwks_uri = gatehouse_identity::https::discover_jwks_uri(
            client,
            issuer,
            self.timeout,
            MAX_DOCUMENT_BYTES,
        )
        .await?;
        let jwks_uri = jwks_uri.as_str();
        check_jwks_uri(issuer, jwks_uri)?;
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(self.get_json(jwks_uri).await?).map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                // Symmetric keys in a JWKS would let anyone holding them sign: never used.
                Ok(key) if key.family() != jsonwebtoken::AlgorithmFamily::Hmac => {
                    keys.insert(kid, Arc::new(key));
                }
                Ok(_) => {}
                Err(err) => tracing::debug!(%kid, error = %err, "jwk skipped"),
            }
        }
        Ok(keys)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        gatehouse_identity::https::get_json(client, url, self.timeout, MAX_DOCUMENT_BYTES).await
    }
}

/// The pooled client for issuers: plain HTTP, or TLS verified against the Mozilla roots and
/// the configured extra roots.
fn https_client(config: &AuthorizerConfig) -> Result<HttpsClient, String> {
    gatehouse_identity::https::client(&config.extra_root_certificates, config.call_timeout)
}

/// Whether `at` lies less than `interval` from `last`, before or after it.
fn within(at: SystemTime, last: SystemTime, interval: Duration) -> bool {
    let distance = at
        .duration_since(last)
        .unwrap_or_else(|earlier| earlier.duration());
    distance < interval
}

/// Where keys may be fetched from: an `https` `jwks_uri`, or `http` only when both the
/// issuer and the `jwks_uri` are on loopback (a development issuer on this machine). Plain
/// HTTP anywhere else would let whoever sits on the path swap the keys.
fn check_jwks_uri(issuer: &str, jwks_uri: &str) -> Result<(), String> {
    let uri: http::Uri = jwks_uri
        .parse()
        .map_err(|_| format!("`jwks_uri` `{jwks_uri}` is not a valid url"))?;
    match uri.scheme_str() {
        Some("https") if uri.host().is_some() => Ok(()),
        Some("http") if is_loopback_url(issuer) && is_loopback_url(jwks_uri) => Ok(()),
        _ => Err(format!(
            "`jwks_uri` `{jwks_uri}` must be an `https` url (`http` only for an issuer on loopback)"
        )),
    }
}

impl IssuerKeys {
    fn lookup(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }
}

/// Which kind of token the identity crate verified (for callers building claims by hand).
pub fn token_use_name(u: TokenUse) -> &'static str {
    match u {
        TokenUse::Id => "id",
        TokenUse::Access => "access",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_tokens_debug_form_hides_the_token() {
        let token = TokenKey(
            b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
                .to_vec()
                .into_boxed_slice(),
        );
        let shown = format!("{token:?}");
        assert!(!shown.contains("eyJ"), "{shown}");
        assert!(!shown.contains("101, 121"), "{shown}"); // nor as a list of bytes
        assert!(shown.contains("49 bytes"), "{shown}");
    }

    #[test]
    fn keys_are_fetched_over_https_or_on_loopback_only() {
        // (rule, issuer, jwks_uri, allowed)
        for (rule, issuer, jwks_uri, allowed) in [
            (
                "https",
                "https://idp.example",
                "https://idp.example/keys",
                true,
            ),
            (
                "https on another host",
                "https://idp.example",
                "https://keys.example/jwks",
                true,
            ),
            (
                "http from a remote issuer",
                "https://idp.example",
                "http://idp.example/keys",
                false,
            ),
            (
                "http on loopback",
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/keys",
                true,
            ),
            (
                "http on localhost",
                "http://localhost:8080",
                "http://localhost:9000/keys",
                true,
            ),
            (
                "http on ipv6 loopback",
                "http://[::1]:8080",
                "http://[::1]:8080/keys",
                true,
            ),
            (
                "loopback issuer, remote keys",
                "http://127.0.0.1",
                "http://10.0.0.1/keys",
                false,
            ),
            (
                "remote issuer, loopback keys",
                "http://idp.example",
                "http://127.0.0.1/keys",
                false,
            ),
            (
                "a look-alike name",
                "http://localhost.example",
                "http://localhost.example/k",
                false,
            ),
            ("no host", "https://idp.example", "https:///keys", false),
            (
                "not http",
                "https://idp.example",
                "file:///etc/passwd",
                false,
            ),
            ("not a url", "https://idp.example", "keys", false),
        ] {
            assert_eq!(check_jwks_uri(issuer, jwks_uri).is_ok(), allowed, "{rule}");
        }
    }

    #[test]
    fn refetches_wait_an_interval_either_way() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let interval = Duration::from_secs(30);
        for (rule, at, skipped) in [
            ("the same instant", t, true),
            (
                "just before the interval ends",
                t + Duration::from_secs(29),
                true,
            ),
            ("the interval has passed", t + interval, false),
            (
                "a request that started earlier and waited",
                t - Duration::from_secs(5),
                true,
            ),
            (
                "the clock went back by more than an interval",
                t - interval,
                false,
            ),
        ] {
            assert_eq!(within(at, t, interval), skipped, "{rule}");
        }
    }

    #[test]
    fn cache_principals_keep_issuers_apart() {
        assert_eq!(
            &*principal_key("https://a", "u1", "t1"),
            "jwt\0https://a\0u1"
        );
        assert_ne!(
            principal_key("https://a", "u1", "t1"),
            principal_key("https://b", "u1", "t1")
        );
        // Without `sub`: the token itself.
        let one = principal_key("https://a", "", "t1");
        assert!(one.starts_with("token\0") && one.len() == 6 + 64, "{one}");
        assert_ne!(one, principal_key("https://a", "", "t2"));
        assert_eq!(one, principal_key("https://a", "", "t1"));
    }
}
