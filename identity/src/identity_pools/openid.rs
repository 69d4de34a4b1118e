//! Cognito Identity's OpenID tokens: GetOpenIdToken signs a short-lived RS256 token for an
//! identity, which STS's AssumeRoleWithWebIdentity (here or anywhere that trusts the issuer)
//! exchanges for role credentials.
//!
//! # Issuer and key
//! The issuer is `{public_url}/cognito-identity`, with its own discovery document
//! (`/cognito-identity/.well-known/openid-configuration`) and JWKS
//! (`/cognito-identity/.well-known/jwks.json`). Its RSA-2048 key is made by the first node
//! that needs it and kept in storage's service settings, sealed with the master key (bound to
//! this purpose): every node of a deployment signs and verifies with the same key. It is
//! parsed once per process.
//!
//! # Claims
//! `iss`, `sub` (the identity id), `aud` (the identity pool id), `amr` (`authenticated` and
//! the login providers, or `unauthenticated`), `iat`, `exp`: ten minutes after issue, as
//! Cognito documents; and, when the identity has principal tags, AWS's
//! `https://aws.amazon.com/tags` claim, from which STS makes session tags.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::logins::{LoginKind, VerifiedLogin};
use super::pools::IdentityPool;
use super::{IdentityPoolError, IdentityPools};
use crate::iam::Tag;
use crate::oidc::OidcRefusal;
use crate::sts::{StsError, WebIdentity};
use crate::time::{unix_millis, unix_seconds};
use crate::tokens::{Jwks, SigningKey, TokenError, TokenUse};

/// The path of the issuer under the public URL.
pub const OPENID_ISSUER_PATH: &str = "cognito-identity";
/// How long a GetOpenIdToken token lives (Cognito: ten minutes).
pub const OPENID_TOKEN_SECS: i64 = 600;
/// The federated principal Cognito Identity tokens act as in trust policies.
const COGNITO_PROVIDER: &str = crate::sts::COGNITO_FEDERATED_PRINCIPAL;
/// The service setting the sealed key is kept under.
const KEY_SETTING: &str = "cognito_identity_openid_key";
/// What the key is sealed for (the sealing's additional data).
const KEY_PURPOSE: &str = "cognito-identity-openid";

/// The claims of a Cognito Identity OpenID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OpenIdClaims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    #[serde(default)]
    pub(crate) amr: Vec<String>,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    /// Session tags for the credentials the token is exchanged for, in the claim AWS reads
    /// them from (`{"principal_tags": {key: [value]}, "transitive_tag_keys": [...]}`).
    #[serde(
        rename = "https://aws.amazon.com/tags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) tags: Option<serde_json::Value>,
}

impl OpenIdClaims {
    /// The session tags the token carries.
    fn session_tags(&self) -> Result<Vec<Tag>, String> {
        crate::sts::tags_from_claim(self.tags.as_ref())
    }
}

/// The discovery document of the issuer (the members an OIDC relying party reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenIdIssuerConfiguration {
    pub issuer: String,
    pub jwks_uri: String,
    pub response_types_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub claims_supported: Vec<&'static str>,
}

/// GetOpenIdToken's answer.
#[derive(Debug, Clone)]
pub struct OpenIdToken {
    pub identity_id: String,
    pub token: String,
}

impl IdentityPools {
    /// `{public_url}/cognito-identity`.
    pub fn openid_issuer(&self) -> String {
        format!(
            "{}/{OPENID_ISSUER_PATH}",
            self.inner.config.public_url.trim_end_matches('/')
        )
    }

    /// The issuer's signing key: parsed once, made and stored by the first node that needs it.
    async fn openid_key(&self) -> Result<Arc<SigningKey>, IdentityPoolError> {
        self.inner
            .openid_key
            .get_or_try_init(|| async {
                let sealer = self.user_pools().sealer();
                let settings = self.store().settings();
                let stored = match settings.get(KEY_SETTING).await? {
                    Some(stored) => stored,
                    None => {
                        let fresh =
                            tokio::task::spawn_blocking(|| SigningKey::generate(TokenUse::Id))
                                .await
                                .map_err(|e| IdentityPoolError::internal("key generation", e))?
                                .map_err(|e| IdentityPoolError::internal("key generation", e))?;
                        let sealed = fresh
                            .seal(sealer, KEY_PURPOSE)
                            .map_err(|e| IdentityPoolError::internal("key sealing", e))?;
                        // Several nodes may race here: all keep the first one stored.
                        settings
                            .get_or_insert(
                                KEY_SETTING,
                                &STANDARD.encode(sealed),
                                unix_millis(self.now()),
                            )
                            .await?
                    }
                };
                let blob = STANDARD
                    .decode(stored.as_bytes())
                    .map_err(|e| IdentityPoolError::internal("stored OpenID key", e))?;
                let key = SigningKey::open_sealed(sealer, KEY_PURPOSE, TokenUse::Id, &blob)
                    .map_err(|e| IdentityPoolError::internal("stored OpenID key", e))?;
                Ok(Arc::new(key))
            })
            .await
            .cloned()
    }

    /// The issuer's JWKS.
    pub async fn openid_jwks(&self) -> Result<Jwks, IdentityPoolError> {
        Ok(Jwks {
            keys: vec![self.openid_key().await?.jwk()],
        })
    }

    /// The issuer's discovery document.
    pub fn openid_configuration(&self) -> OpenIdIssuerConfiguration {
        let issuer = self.openid_issuer();
        OpenIdIssuerConfiguration {
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            issuer,
            response_types_supported: vec!["id_token"],
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: vec!["RS256"],
            claims_supported: vec!["iss", "sub", "aud", "amr", "iat", "exp"],
        }
    }

    /// GetOpenIdToken: the identity's caller must show what GetCredentialsForIdentity asks
    /// (its own logins, or none for a guest).
    pub async fn get_open_id_token(
        &self,
        identity_id: &str,
        logins: &BTreeMap<String, String>,
    ) -> Result<OpenIdToken, IdentityPoolError> {
        let caller = self.authorize_identity(identity_id, logins).await?;
        // The basic flow: STS reads the session tags from the token.
        let tags = self.principal_tags(&caller.pool, &caller.verified).await?;
        let token = self
            .sign_openid_token(
                identity_id,
                &caller.pool.id,
                caller.amr,
                &tags,
                OPENID_TOKEN_SECS,
            )
            .await?;
        Ok(OpenIdToken {
            identity_id: identity_id.to_owned(),
            token,
        })
    }

    /// Signs a token for `identity_id` of `pool_id` carrying session `tags`, valid
    /// `lifetime_secs`.
    pub(super) async fn sign_openid_token(
        &self,
        identity_id: &str,
        pool_id: &str,
        amr: Vec<String>,
        tags: &[Tag],
        lifetime_secs: i64,
    ) -> Result<String, IdentityPoolError> {
        let key = self.openid_key().await?;
        let now = unix_seconds(self.now());
        let claims = OpenIdClaims {
            iss: self.openid_issuer(),
            sub: identity_id.to_owned(),
            aud: pool_id.to_owned(),
            amr,
            iat: now,
            exp: now.saturating_add(lifetime_secs),
            tags: super::principal_tags::tags_claim(tags),
        };
        key.sign_claims(&claims)
            .map_err(|e| IdentityPoolError::internal("OpenID token", e))
    }

    /// Opens a token this issuer signed: signature, issuer, expiry. The caller checks what
    /// the token is for (`aud`, `sub`, `amr`).
    async fn open_own_token(&self, token: &str) -> Result<OpenIdClaims, OwnTokenError> {
        let key = self.openid_key().await.map_err(OwnTokenError::Service)?;
        let claims: OpenIdClaims = key.verify_claims(token).map_err(|e| match e {
            TokenError::InvalidSignature
            | TokenError::UnknownKid(_)
            | TokenError::MissingKid
            | TokenError::UnsupportedAlgorithm(_) => {
                OwnTokenError::Refused("The token signature is invalid.")
            }
            TokenError::TooLarge
            | TokenError::Malformed(_)
            | TokenError::Expired
            | TokenError::WrongIssuer(_)
            | TokenError::WrongClient(_)
            | TokenError::WrongTokenUse(_)
            | TokenError::NoSigningKey(_)
            | TokenError::ReservedClaim(_)
            | TokenError::Key(_)
            | TokenError::Sealed(_) => OwnTokenError::Refused("The token is malformed."),
        })?;
        if claims.iss != self.openid_issuer() {
            return Err(OwnTokenError::Refused(
                "The token's issuer is not this service.",
            ));
        }
        if claims.exp <= unix_seconds(self.now()) {
            return Err(OwnTokenError::Expired);
        }
        Ok(claims)
    }

    /// Verifies a web identity token for AssumeRoleWithWebIdentity: one of this issuer's
    /// (signature, issuer, expiry), or one of a registered OpenID Connect provider's.
    pub async fn verify_web_identity_token(&self, token: &str) -> Result<WebIdentity, StsError> {
        let invalid = |detail: &str| StsError::InvalidIdentityToken(detail.to_owned());
        let issuer = unverified_issuer(token).ok_or_else(|| invalid("The token is malformed."))?;
        if issuer != self.openid_issuer() {
            return self.verify_provider_web_identity(&issuer, token).await;
        }
        let claims = self.open_own_token(token).await.map_err(|e| match e {
            OwnTokenError::Refused(detail) => invalid(detail),
            OwnTokenError::Expired => StsError::ExpiredWebIdentityToken(
                "Token expired: current date/time is past the token's expiry".into(),
            ),
            OwnTokenError::Service(IdentityPoolError::TooManyRequests(m)) => {
                StsError::Throttling(m)
            }
            OwnTokenError::Service(other) => StsError::internal("OpenID key", other),
        })?;
        let tags = claims.session_tags().map_err(|m| invalid(&m))?;
        Ok(WebIdentity {
            provider: COGNITO_PROVIDER.to_owned(),
            principal: COGNITO_PROVIDER.to_owned(),
            subject: claims.sub.clone(),
            audience: claims.aud.clone(),
            amr: claims.amr,
            cognito: Some((claims.sub, claims.aud)),
            tags,
        })
    }

    /// Verifies a token of this issuer presented as a login of `pool` under
    /// `cognito-identity.amazonaws.com` (the enhanced flow with developer-authenticated
    /// identities): `aud` must be the pool and the token an authenticated identity's. The
    /// login's subject is the identity id the token was issued for.
    pub(super) async fn verify_pool_openid_token(
        &self,
        pool: &IdentityPool,
        token: &str,
    ) -> Result<VerifiedLogin, IdentityPoolError> {
        let invalid = |detail: &str| {
            IdentityPoolError::NotAuthorized(format!("Invalid login token. {detail}"))
        };
        let claims = self.open_own_token(token).await.map_err(|e| match e {
            OwnTokenError::Refused(detail) => invalid(detail),
            OwnTokenError::Expired => invalid("Token expired."),
            OwnTokenError::Service(e) => e,
        })?;
        if claims.aud != pool.id {
            return Err(invalid("The token is not for this identity pool."));
        }
        // A guest's token (GetOpenIdToken without logins) proves no sign-in: presented as a
        // login it would turn a guest into an authenticated identity.
        if !claims.amr.iter().any(|a| a == "authenticated") {
            return Err(invalid("The token is not an authenticated identity's."));
        }
        let tags = claims.session_tags().map_err(|m| invalid(&m))?;
        let all_claims = serde_json::to_value(&claims)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        Ok(VerifiedLogin {
            provider: COGNITO_PROVIDER.to_owned(),
            subject: claims.sub,
            claims: all_claims,
            kind: LoginKind::CognitoIdentity {
                amr: claims.amr,
                tags,
            },
        })
    }
}

impl IdentityPools {
    /// Verifies a registered OpenID Connect provider's token for AssumeRoleWithWebIdentity:
    /// the provider is the one whose URL the token's `iss` is.
    async fn verify_provider_web_identity(
        &self,
        issuer: &str,
        token: &str,
    ) -> Result<WebIdentity, StsError> {
        let no_provider = || {
            StsError::InvalidIdentityToken(format!(
                "No OpenIDConnect provider found in your account for {issuer}"
            ))
        };
        let url = issuer
            .strip_prefix("https://")
            .or_else(|| issuer.strip_prefix("http://"))
            .ok_or_else(no_provider)?;
        let provider = self
            .inner
            .iam
            .view()
            .oidc_providers()
            .iter()
            .find(|p| p.url == url)
            .cloned()
            .ok_or_else(no_provider)?;
        let verified = self
            .inner
            .oidc
            .verify(&provider, token, self.now())
            .await
            .map_err(|e| match e {
                OidcRefusal::Invalid(detail) => StsError::InvalidIdentityToken(detail),
                OidcRefusal::Expired => StsError::ExpiredWebIdentityToken(
                    "Token expired: current date/time is past the token's expiry".into(),
                ),
                OidcRefusal::Audience => {
                    StsError::InvalidIdentityToken("Incorrect token audience".into())
                }
                OidcRefusal::Unreachable(_) => StsError::IdpCommunication(format!(
                    "Couldn't retrieve verification key from your identity provider {issuer}"
                )),
            })?;
        let tags = crate::sts::tags_from_claim(verified.claims.get(crate::sts::TAGS_CLAIM))
            .map_err(StsError::InvalidIdentityToken)?;
        Ok(WebIdentity {
            principal: provider.arn.clone(),
            provider: provider.url,
            subject: verified.subject,
            audience: verified.audience,
            amr: verified.amr,
            cognito: None,
            tags,
        })
    }
}

/// Why a token of this issuer was refused.
enum OwnTokenError {
    /// Not this issuer's, or not intact.
    Refused(&'static str),
    Expired,
    /// The issuer's key could not be had.
    Service(IdentityPoolError),
}

/// The `iss` of a JWT, read without verifying (to pick the issuer whose keys verify it).
pub(crate) fn unverified_issuer(token: &str) -> Option<String> {
    if token.len() > crate::tokens::MAX_TOKEN_LEN {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    #[derive(Deserialize)]
    struct Issuer {
        iss: String,
    }
    serde_json::from_slice::<Issuer>(&bytes).ok().map(|i| i.iss)
}
