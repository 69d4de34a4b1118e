//! Verifying a `Logins` map: each key names a provider of the pool, each value is a token
//! that provider issued, checked fully before anything is linked or issued.
//!
//! # This service's own OpenID tokens
//! Key `cognito-identity.amazonaws.com`: a token of `{public_url}/cognito-identity`
//! (GetOpenIdTokenForDeveloperIdentity's, the enhanced flow with developer-authenticated
//! identities; or GetOpenIdToken's) whose `aud` is this pool and whose `amr` says
//! `authenticated`. It proves the identity its `sub` names, with the `amr` and session tags
//! it was issued with.
//!
//! # OpenID Connect providers
//! A key equal to a registered provider's URL without its scheme (`login.example.com`,
//! `issuer.example/path`) whose ARN the pool's `OpenIdConnectProviderARNs` lists: the token
//! is verified as the `oidc` module says (JWKS signature, issuer, audience among the
//! provider's client ids, expiry); the login is the provider's URL and the token's `sub`.
//!
//! # User-pool ID tokens
//! Keys `cognito-idp.{region}.amazonaws.com/{userPoolId}` (what Amplify and the SDKs build)
//! and `{public_url host}/{userPoolId}` (the issuer without its scheme) both name the user
//! pool; either must match an entry of the pool's `CognitoIdentityProviders`. The ID token
//! must verify against that user pool's keys (RS256, a known ID-token `kid`), carry its
//! issuer, `token_use: id`, an `aud` equal to the entry's `ClientId`, and not be expired.
//! A token signed out (RevokeToken, GlobalSignOut, a disabled or deleted user) is refused
//! always from this node's in-memory revocation view, and with `ServerSideTokenCheck` also
//! from storage (every node's sign-outs at once) together with a check that the user
//! still exists and is enabled. Cognito consults sign-outs only with `ServerSideTokenCheck`;
//! gatehouse never accepts a token it knows was revoked.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_storage::RevocationKind;

use super::pools::{CognitoProvider, IdentityPool};
use super::{IdentityPoolError, IdentityPools};
use crate::iam::{OidcProvider, Tag};
use crate::oidc::OidcRefusal;
use crate::sts::COGNITO_FEDERATED_PRINCIPAL;
use crate::time::unix_seconds;
use crate::tokens::{MAX_TOKEN_LEN, TokenError};

/// Most logins one call may carry (Cognito's limit).
pub const MAX_LOGINS: usize = 10;
/// Longest provider name accepted as a `Logins` key.
const MAX_PROVIDER_NAME_LEN: usize = 2048;

/// A login whose token verified.
#[derive(Debug, Clone)]
pub struct VerifiedLogin {
    /// The provider in its canonical form (`cognito-idp.{region}.amazonaws.com/{pool}`, an
    /// OpenID Connect provider's URL without its scheme, `cognito-identity.amazonaws.com`).
    pub provider: String,
    /// The user's stable id at the provider (`sub`; for this service's own tokens, the
    /// identity id).
    pub subject: String,
    /// Every claim of the token, for role mappings.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Who issued the token.
    pub kind: LoginKind,
}

/// Who issued a login's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginKind {
    /// A user pool of this service.
    UserPool,
    /// A registered OpenID Connect provider.
    OpenIdConnect,
    /// This service's own OpenID issuer (GetOpenIdTokenForDeveloperIdentity,
    /// GetOpenIdToken): the token names the identity itself, and brings the `amr` and
    /// session tags it was issued with.
    CognitoIdentity { amr: Vec<String>, tags: Vec<Tag> },
}

impl VerifiedLogin {
    /// Whether the token is this service's own (it names an identity, not a user).
    pub fn is_own_token(&self) -> bool {
        matches!(self.kind, LoginKind::CognitoIdentity { .. })
    }
}

fn not_supported() -> IdentityPoolError {
    IdentityPoolError::NotAuthorized(
        "Token is not from a supported provider of this identity pool.".into(),
    )
}

fn invalid_token(detail: &str) -> IdentityPoolError {
    IdentityPoolError::NotAuthorized(format!("Invalid login token. {detail}"))
}

impl IdentityPools {
    /// The host (and port) of the public URL: the issuer form of a login key.
    fn public_host(&self) -> &str {
        let url = self.inner.config.public_url.as_str();
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest)
    }

    /// The configured provider a `Logins` key names.
    fn cognito_provider<'p>(
        &self,
        pool: &'p IdentityPool,
        key: &str,
    ) -> Option<&'p CognitoProvider> {
        let (prefix, user_pool_id) = key.rsplit_once('/')?;
        let canonical_prefix = user_pool_id
            .split_once('_')
            .map(|(region, _)| format!("cognito-idp.{region}.amazonaws.com"))?;
        if prefix != canonical_prefix && prefix != self.public_host() {
            return None;
        }
        let canonical = format!("{canonical_prefix}/{user_pool_id}");
        pool.config
            .cognito_providers
            .iter()
            .find(|p| p.provider_name == canonical)
    }

    /// The registered OpenID Connect provider a `Logins` key names (its URL without the
    /// scheme), when the pool lists its ARN.
    fn oidc_provider(&self, pool: &IdentityPool, key: &str) -> Option<OidcProvider> {
        let iam = &self.inner.iam;
        let arn = format!("arn:aws:iam::{}:oidc-provider/{key}", iam.account_id());
        if !pool.config.open_id_connect_provider_arns.contains(&arn) {
            return None;
        }
        iam.view()
            .oidc_providers()
            .iter()
            .find(|p| p.arn == arn)
            .cloned()
    }

    /// Verifies a registered OpenID Connect provider's ID token (see `oidc`).
    async fn verify_oidc_token(
        &self,
        provider: &OidcProvider,
        token: &str,
    ) -> Result<VerifiedLogin, IdentityPoolError> {
        let verified = self
            .inner
            .oidc
            .verify(provider, token, self.now())
            .await
            .map_err(|e| match e {
                OidcRefusal::Invalid(detail) => invalid_token(&detail),
                OidcRefusal::Expired => invalid_token("Token expired."),
                OidcRefusal::Audience => invalid_token("Incorrect token audience."),
                OidcRefusal::Unreachable(_) => IdentityPoolError::ExternalService(format!(
                    "The keys of identity provider {} could not be fetched.",
                    provider.url
                )),
            })?;
        Ok(VerifiedLogin {
            provider: provider.url.clone(),
            subject: verified.subject,
            claims: verified.claims,
            kind: LoginKind::OpenIdConnect,
        })
    }

    /// Verifies every login of `logins` (see the module docs), in key order.
    pub async fn verify_logins(
        &self,
        pool: &IdentityPool,
        logins: &BTreeMap<String, String>,
    ) -> Result<Vec<VerifiedLogin>, IdentityPoolError> {
        if logins.len() > MAX_LOGINS {
            return Err(IdentityPoolError::LimitExceeded(format!(
                "A maximum of {MAX_LOGINS} logins may be provided."
            )));
        }
        let mut verified = Vec::with_capacity(logins.len());
        for (key, token) in logins {
            if key.len() > MAX_PROVIDER_NAME_LEN {
                return Err(IdentityPoolError::InvalidParameter(
                    "a Logins key is longer than 2048 characters".into(),
                ));
            }
            if token.len() > MAX_TOKEN_LEN {
                return Err(invalid_token("The token is too long."));
            }
            let login = if key == COGNITO_FEDERATED_PRINCIPAL {
                self.verify_pool_openid_token(pool, token).await?
            } else if let Some(provider) = self.cognito_provider(pool, key) {
                self.verify_user_pool_token(provider, token).await?
            } else {
                let provider = self.oidc_provider(pool, key).ok_or_else(not_supported)?;
                self.verify_oidc_token(&provider, token).await?
            };
            verified.push(login);
        }
        Ok(verified)
    }

    async fn verify_user_pool_token(
        &self,
        provider: &CognitoProvider,
        token: &str,
    ) -> Result<VerifiedLogin, IdentityPoolError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid_token("The token is too long."));
        }
        let now = self.now();
        let user_pool_id = provider.user_pool_id();
        let kid = jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|h| h.kid)
            .ok_or_else(|| invalid_token("The token is malformed."))?;
        let ring = self
            .user_pools()
            .key_ring_for_kid(user_pool_id, &kid)
            .await?;
        let claims = ring
            .verify_id_token(token, unix_seconds(now), Some(&provider.client_id))
            .map_err(|e| match e {
                TokenError::Expired => invalid_token("Token expired."),
                TokenError::WrongIssuer(_) => invalid_token("Issuer doesn't match providerName."),
                TokenError::WrongClient(_) => {
                    invalid_token("Audience doesn't match the provider's ClientId.")
                }
                TokenError::WrongTokenUse(_) => invalid_token("An ID token is required."),
                TokenError::TooLarge
                | TokenError::Malformed(_)
                | TokenError::UnsupportedAlgorithm(_)
                | TokenError::MissingKid
                | TokenError::UnknownKid(_)
                | TokenError::InvalidSignature
                | TokenError::NoSigningKey(_)
                | TokenError::ReservedClaim(_)
                | TokenError::Key(_)
                | TokenError::Sealed(_) => invalid_token("The token does not verify."),
            })?;
        let revoked = self.user_pools().revocations().is_revoked(
            user_pool_id,
            &claims.sub,
            &claims.origin_jti,
            claims.iat,
        );
        if revoked {
            return Err(invalid_token("The token has been revoked."));
        }
        if provider.server_side_token_check {
            let rows = self
                .store()
                .revocations()
                .for_token(user_pool_id, &claims.origin_jti, &claims.sub)
                .await?;
            let revoked = rows.iter().any(|r| match r.kind {
                RevocationKind::Session => true,
                RevocationKind::User => claims.iat < r.revoked_at.div_euclid(1000),
            });
            if revoked {
                return Err(invalid_token("The token has been revoked."));
            }
            let user = self
                .store()
                .users()
                .get_by_sub(user_pool_id, &claims.sub)
                .await?;
            if !user.is_some_and(|u| u.enabled) {
                return Err(invalid_token("The user is disabled or does not exist."));
            }
        }
        // Every claim, as the token carries it, for role mappings by rules.
        let payload = token.split('.').nth(1).unwrap_or_default();
        let all_claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Ok(VerifiedLogin {
            provider: provider.provider_name.clone(),
            subject: claims.sub,
            claims: all_claims,
            kind: LoginKind::UserPool,
        })
    }
}
