//! RS256 JWTs as Cognito issues them: per-pool signing keys ([`SigningKey`], [`KeyRing`]),
//! issuance and verification of ID and access tokens, the JWKS and OIDC discovery documents.
//!
//! # Keys
//! RSA-2048 keys are generated with aws-lc-rs, parsed once into an in-memory key pair and kept
//! (never re-read per token). ID and access tokens use different keys, each with a `kid` (the RFC
//! 7638 thumbprint of the public key). On rotation the new key signs and the old one stays for
//! verification and in the JWKS until every token it signed has expired ([`KeyRing::prune`]).
//! Keys leave memory only as PKCS#8 sealed by the master key ([`SigningKey::seal`]).
//!
//! Signing uses aws-lc-rs directly on the parsed key: `jsonwebtoken::encode` (11.x, aws-lc
//! backend) re-parses and re-validates the DER private key on every call, which the bench in
//! `benches/tokens.rs` measures. Verification goes through `jsonwebtoken::decode` restricted to
//! RS256, with the clock-dependent checks done here against the `now` passed in.
//!
//! # Limits
//! Tokens longer than [`MAX_TOKEN_LEN`] are refused before decoding.

mod claims;

pub use claims::{AccessTokenClaims, IdTokenClaims, TokenUse};

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use aws_lc_rs::{digest, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{CryptoError, Sealer};
use claims::{CommonClaims, RESERVED_ID_CLAIMS};

/// Longest token accepted for verification (16 KiB; Cognito's are 1–2 KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Longest lifetime Cognito allows for ID and access tokens (1 day): how long a retired key must
/// stay verifiable.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 24 * 3600;

// === errors ===

/// Why a token could not be issued or was refused. The Cognito adapter maps refusals to
/// `NotAuthorizedException` ("Invalid Access Token" / "Access Token has expired").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLarge,
    /// Not a well-formed JWS compact token, or claims of the wrong shape.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `alg` other than RS256 (including `none` and HS256).
    #[error("unsupported token algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// No `kid` in the header.
    #[error("token header has no `kid`")]
    MissingKid,
    /// No key with this `kid`.
    #[error("unknown signing key `{0}`")]
    UnknownKid(String),
    /// The signature does not verify.
    #[error("invalid token signature")]
    InvalidSignature,
    /// `iss` is not this pool.
    #[error("token issuer `{0}` is not this user pool")]
    WrongIssuer(String),
    /// `aud` / `client_id` is not the expected client.
    #[error("token was issued to another client `{0}`")]
    WrongClient(String),
    /// `token_use` is not the expected one, or the `kid` names a key of the other use.
    #[error("token is not an {0} token")]
    WrongTokenUse(&'static str),
    /// `exp` is not after `now`.
    #[error("token has expired")]
    Expired,
    /// The ring has no active key for this token use.
    #[error("no active signing key for {0} tokens")]
    NoSigningKey(&'static str),
    /// An ID-token attribute uses a reserved claim name.
    #[error("attribute `{0}` collides with a standard claim")]
    ReservedClaim(String),
    /// Key generation, parsing or signing failed.
    #[error("signing key error: {0}")]
    Key(String),
    /// The sealed key could not be opened.
    #[error("sealed signing key: {0}")]
    Sealed(#[from] CryptoError),
}

fn use_name(u: TokenUse) -> &'static str {
    match u {
        TokenUse::Id => "id",
        TokenUse::Access => "access",
    }
}

/// The header of a token of bounded size signed with RS256 (`decode_header` refuses `alg`
/// values jsonwebtoken does not know, `none` among them); the signature is the caller's.
fn rs256_header(token: &str) -> Result<jsonwebtoken::Header, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(TokenError::UnsupportedAlgorithm(format!(
            "{:?}",
            header.alg
        )));
    }
    Ok(header)
}

// === SigningKey ===

/// One RSA signing key, parsed once.
pub struct SigningKey {
    kid: String,
    key_use: TokenUse,
    key_pair: RsaKeyPair,
    /// Public modulus and exponent, base64url, for the JWKS.
    n: String,
    e: String,
    /// The same public key as jsonwebtoken wants it, built once.
    decoding: DecodingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("use", &self.key_use)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh RSA-2048 key for `key_use` tokens.
    pub fn generate(key_use: TokenUse) -> Result<Self, TokenError> {
        let key_pair =
            RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| TokenError::Key(e.to_string()))?;
        Self::from_key_pair(key_use, key_pair)
    }

    /// A key from unencrypted PKCS#8 DER.
    pub fn from_pkcs8(key_use: TokenUse, pkcs8: &[u8]) -> Result<Self, TokenError> {
        let key_pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| TokenError::Key(e.to_string()))?;
        Self::from_key_pair(key_use, key_pair)
    }

    fn from_key_pair(key_use: TokenUse, key_pair: RsaKeyPair) -> Result<Self, TokenError> {
        let public =
            aws_lc_rs::signature::RsaPublicKeyComponents::<Vec<u8>>::from(key_pair.public_key());
        let n = URL_SAFE_NO_PAD.encode(&public.n);
        let e = URL_SAFE_NO_PAD.encode(&public.e);
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, thumbprint_input.as_bytes()));
        let decoding = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
        Ok(Self {
            kid,
            key_use,
            key_pair,
            n,
            e,
            decoding,
        })
    }

    /// The key id (`kid` header and JWKS member).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Which tokens this key signs.
    pub fn key_use(&self) -> TokenUse {
        self.key_use
    }

    /// Unencrypted PKCS#8 DER. Prefer [`SigningKey::seal`] for anything leaving memory.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, TokenError> {
        self.key_pair
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|e| TokenError::Key(e.to_string()))
    }

    fn aad(pool_id: &str, key_use: TokenUse) -> Vec<u8> {
        format!("gatehouse signing key v1|{pool_id}|{}", use_name(key_use)).into_bytes()
    }

    /// PKCS#8 sealed under the master key, bound to the pool and key use, for storage.
    pub fn seal(&self, sealer: &Sealer, pool_id: &str) -> Result<Vec<u8>, TokenError> {
        Ok(sealer.seal(&self.to_pkcs8()?, &Self::aad(pool_id, self.key_use))?)
    }

    /// Opens a key sealed by [`SigningKey::seal`] for the same pool and use.
    pub fn open_sealed(
        sealer: &Sealer,
        pool_id: &str,
        key_use: TokenUse,
        blob: &[u8],
    ) -> Result<Self, TokenError> {
        let pkcs8 = sealer.open(blob, &Self::aad(pool_id, key_use))?;
        Self::from_pkcs8(key_use, &pkcs8)
    }

    /// The public JWK.
    pub fn jwk(&self) -> Jwk {
        Jwk {
            alg: "RS256",
            e: self.e.clone(),
            kid: self.kid.clone(),
            kty: "RSA",
            n: self.n.clone(),
            key_use: "sig",
        }
    }

    /// Signs any claim set with this key (RS256, this key's `kid`): for issuers other than a
    /// user pool's, such as Cognito Identity's OpenID tokens, whose claims are their own.
    pub fn sign_claims(&self, claims: &impl Serialize) -> Result<String, TokenError> {
        self.sign_compact(claims)
    }

    /// Verifies a token's RS256 signature with this key and returns its claims; the header
    /// must name this key's `kid`. Issuer, audience and time are the caller's to check.
    pub fn verify_claims<T: DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        match rs256_header(token)?.kid {
            Some(kid) if kid == self.kid => {}
            Some(kid) => return Err(TokenError::UnknownKid(kid)),
            None => return Err(TokenError::MissingKid),
        }
        self.decode_signed(token)
    }

    /// The claims of `token` once its RS256 signature verifies with this key; no time,
    /// issuer or audience checks (callers make them against the `now` they were given).
    fn decode_signed<T: DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        let mut validation = Validation::new(Algorithm::RS256);
        // Time checks are the caller's (jsonwebtoken would read the clock).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::InvalidSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                    TokenError::UnsupportedAlgorithm("RS256 expected".into())
                }
                _ => TokenError::Malformed(e.to_string()),
            })
    }

    fn sign_compact(&self, claims: &impl Serialize) -> Result<String, TokenError> {
        #[derive(Serialize)]
        struct Header<'a> {
            kid: &'a str,
            alg: &'static str,
        }
        let header = serde_json::to_vec(&Header {
            kid: &self.kid,
            alg: "RS256",
        })
        .map_err(|e| TokenError::Malformed(e.to_string()))?;
        let payload =
            serde_json::to_vec(claims).map_err(|e| TokenError::Malformed(e.to_string()))?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let mut signature = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &rand::SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|e| TokenError::Key(e.to_string()))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }
}

// === JWKS and discovery ===

/// One public key in a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    /// `RS256`.
    pub alg: &'static str,
    /// Public exponent, base64url.
    pub e: String,
    /// Key id.
    pub kid: String,
    /// `RSA`.
    pub kty: &'static str,
    /// Modulus, base64url.
    pub n: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub key_use: &'static str,
}

/// `{issuer}/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwks {
    /// Every key that may have signed a live token.
    pub keys: Vec<Jwk>,
}

/// The issuer of a pool's tokens: `{public_url}/{userPoolId}`.
pub fn issuer(public_url: &str, user_pool_id: &str) -> String {
    format!("{}/{user_pool_id}", public_url.trim_end_matches('/'))
}

/// `{issuer}/.well-known/openid-configuration`: exactly what the pool's OAuth endpoints
/// support (the authorization code flow with PKCE S256, the three grants, Basic and form
/// client authentication, RS256 ID tokens), with the endpoints under the issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenIdConfiguration {
    /// `{issuer}/oauth2/authorize`.
    pub authorization_endpoint: String,
    /// `["S256"]` (`plain` is refused).
    pub code_challenge_methods_supported: Vec<&'static str>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types_supported: Vec<&'static str>,
    /// `["RS256"]`.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    /// The pool issuer.
    pub issuer: String,
    /// `{issuer}/.well-known/jwks.json`.
    pub jwks_uri: String,
    /// `["query"]`.
    pub response_modes_supported: Vec<&'static str>,
    /// `["code"]`.
    pub response_types_supported: Vec<&'static str>,
    /// `{issuer}/oauth2/revoke`.
    pub revocation_endpoint: String,
    /// Client authentication at the revocation endpoint (as at the token endpoint).
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// `openid`, `email`, `phone`, `profile`, `aws.cognito.signin.user.admin`.
    pub scopes_supported: Vec<&'static str>,
    /// `["public"]`.
    pub subject_types_supported: Vec<&'static str>,
    /// `{issuer}/oauth2/token`.
    pub token_endpoint: String,
    /// `client_secret_basic`, `client_secret_post`, and `none` for clients without a secret.
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// `{issuer}/oauth2/userInfo`.
    pub userinfo_endpoint: String,
}

impl OpenIdConfiguration {
    /// The document for `issuer`, with the OAuth endpoints under `oauth_base` (the issuer).
    pub fn new(issuer: &str, oauth_base: &str) -> Self {
        let base = oauth_base.trim_end_matches('/');
        let auth_methods = vec!["client_secret_basic", "client_secret_post", "none"];
        Self {
            authorization_endpoint: format!("{base}/oauth2/authorize"),
            code_challenge_methods_supported: vec!["S256"],
            grant_types_supported: vec![
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ],
            id_token_signing_alg_values_supported: vec!["RS256"],
            issuer: issuer.to_owned(),
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            response_modes_supported: vec!["query"],
            response_types_supported: vec!["code"],
            revocation_endpoint: format!("{base}/oauth2/revoke"),
            revocation_endpoint_auth_methods_supported: auth_methods.clone(),
            scopes_supported: vec![
                "openid",
                "email",
                "phone",
                "profile",
                "aws.cognito.signin.user.admin",
            ],
            subject_types_supported: vec!["public"],
            token_endpoint: format!("{base}/oauth2/token"),
            token_endpoint_auth_methods_supported: auth_methods,
            userinfo_endpoint: format!("{base}/oauth2/userInfo"),
        }
    }
}

// === KeyRing ===

/// A key in the ring and whether it still signs.
#[derive(Debug)]
struct RingKey {
    key: SigningKey,
    /// `None` while the key signs; the rotation time once a newer key took over.
    retired_at: Option<i64>,
}

/// One pool's signing keys: the active ID and access keys plus retired ones kept for
/// verification. Built once from storage and shared (`Arc`) by request handlers.
#[derive(Debug)]
pub struct KeyRing {
    issuer: String,
    keys: Vec<RingKey>,
}

impl KeyRing {
    /// An empty ring for tokens issued by `issuer` (see [`issuer`]).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            keys: Vec::new(),
        }
    }

    /// The issuer (`iss`) this ring signs and accepts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Adds a key loaded from storage: `retired_at: None` makes it the active key for its use
    /// (replacing any active one without retiring it: load retired keys with their time).
    pub fn insert(&mut self, key: SigningKey, retired_at: Option<i64>) {
        if retired_at.is_none() {
            let use_ = key.key_use;
            self.keys
                .retain(|k| !(k.retired_at.is_none() && k.key.key_use == use_));
        }
        self.keys.retain(|k| k.key.kid != key.kid);
        self.keys.push(RingKey { key, retired_at });
    }

    /// Makes `key` the active key for its use; the previous active key is retired at `now` and
    /// stays verifiable until [`KeyRing::prune`] drops it.
    pub fn rotate(&mut self, key: SigningKey, now: i64) {
        for k in &mut self.keys {
            if k.retired_at.is_none() && k.key.key_use == key.key_use {
                k.retired_at = Some(now);
            }
        }
        self.keys.push(RingKey {
            key,
            retired_at: None,
        });
    }

    /// Drops retired keys whose tokens have all expired (retired more than
    /// `max_token_lifetime_secs` before `now`). Returns the dropped kids so storage can delete them.
    pub fn prune(&mut self, now: i64, max_token_lifetime_secs: i64) -> Vec<String> {
        let mut dropped = Vec::new();
        self.keys.retain(|k| match k.retired_at {
            Some(t) if t.saturating_add(max_token_lifetime_secs) < now => {
                dropped.push(k.key.kid.clone());
                false
            }
            _ => true,
        });
        dropped
    }

    fn active(&self, key_use: TokenUse) -> Result<&SigningKey, TokenError> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.retired_at.is_none() && k.key.key_use == key_use)
            .map(|k| &k.key)
            .ok_or(TokenError::NoSigningKey(use_name(key_use)))
    }

    /// The active key for a use (to persist after generation, or to show its kid).
    pub fn active_key(&self, key_use: TokenUse) -> Option<&SigningKey> {
        self.active(key_use).ok()
    }

    /// Signs an ID token with the active ID key. `claims.token_use` must be `Id` and
    /// `claims.iss` this ring's issuer.
    pub fn sign_id_token(&self, claims: &IdTokenClaims) -> Result<String, TokenError> {
        if claims.token_use != TokenUse::Id {
            return Err(TokenError::WrongTokenUse("id"));
        }
        if let Some(name) = claims
            .attributes
            .keys()
            .find(|k| RESERVED_ID_CLAIMS.contains(&k.as_str()))
        {
            return Err(TokenError::ReservedClaim(name.clone()));
        }
        self.check_issuer(&claims.iss)?;
        self.active(TokenUse::Id)?.sign_compact(claims)
    }

    /// Signs an access token with the active access key.
    pub fn sign_access_token(&self, claims: &AccessTokenClaims) -> Result<String, TokenError> {
        if claims.token_use != TokenUse::Access {
            return Err(TokenError::WrongTokenUse("access"));
        }
        self.check_issuer(&claims.iss)?;
        self.active(TokenUse::Access)?.sign_compact(claims)
    }

    fn check_issuer(&self, iss: &str) -> Result<(), TokenError> {
        if iss == self.issuer {
            Ok(())
        } else {
            Err(TokenError::WrongIssuer(iss.to_owned()))
        }
    }

    /// Verifies an ID token at `now` (Unix seconds): RS256 only, a known ID-token `kid`, valid
    /// signature, this issuer, `token_use: "id"`, not expired, and `aud == client_id` when given.
    pub fn verify_id_token(
        &self,
        token: &str,
        now: i64,
        client_id: Option<&str>,
    ) -> Result<IdTokenClaims, TokenError> {
        let claims: IdTokenClaims = self.verify(token, now, TokenUse::Id)?;
        if let Some(expected) = client_id
            && claims.aud != expected
        {
            return Err(TokenError::WrongClient(claims.aud));
        }
        Ok(claims)
    }

    /// Verifies an access token at `now`, with `client_id` checked when given.
    pub fn verify_access_token(
        &self,
        token: &str,
        now: i64,
        client_id: Option<&str>,
    ) -> Result<AccessTokenClaims, TokenError> {
        let claims: AccessTokenClaims = self.verify(token, now, TokenUse::Access)?;
        if let Some(expected) = client_id
            && claims.client_id != expected
        {
            return Err(TokenError::WrongClient(claims.client_id));
        }
        Ok(claims)
    }

    fn verify<T: DeserializeOwned + CommonClaims>(
        &self,
        token: &str,
        now: i64,
        expected: TokenUse,
    ) -> Result<T, TokenError> {
        let kid = rs256_header(token)?.kid.ok_or(TokenError::MissingKid)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.key.kid == kid)
            .ok_or(TokenError::UnknownKid(kid))?;
        // Each use has its own keys, so a kid of the other use names a token of the other
        // kind: said as such (kids are public in the JWKS, so this tells nothing new).
        if key.key.key_use != expected {
            return Err(TokenError::WrongTokenUse(use_name(expected)));
        }

        let claims: T = key.key.decode_signed(token)?;
        if claims.token_use() != expected {
            return Err(TokenError::WrongTokenUse(use_name(expected)));
        }
        self.check_issuer(claims.iss())?;
        if claims.exp() <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// The JWKS: every key in the ring (active and retired), public parts only.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.iter().map(|k| k.key.jwk()).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
