//! The client side: client authentication ([`ClientAuth`]), `POST /oauth2/token`
//! ([`OAuth2::token`]: `authorization_code`, `refresh_token`, `client_credentials`),
//! `/oauth2/userInfo` and `POST /oauth2/revoke`.
//!
//! # Codes
//! A code is redeemed once, atomically, for a sign-in whose `origin_jti` is chosen at that
//! moment and stored with it. A second redemption is refused and revokes that sign-in (its
//! refresh tokens and, through the revocation feed, its access and ID tokens: RFC 6749
//! section 4.1.2). Should the second come while the first is still minting, the first sees
//! it when it is done (the code row says `reused_at`) and revokes its own tokens, so either
//! way no token of a replayed code survives.

use std::collections::BTreeMap;

use gatehouse_storage::{OAuthGrantRecord, Redemption};

use super::authorize::CodeDetails;
use super::error::OAuthError;
use super::request::{check_scopes, pkce_matches};
use super::{MAX_PARAM_LEN, OAuth2, secret_hash};
use crate::crypto::constant_time_eq;
use crate::time::{from_unix_millis, unix_millis};
use crate::user_pools::config::OAuthFlow;
use crate::user_pools::{Client, GrantClaims, TokenOrigin, TokenSource, UserPool, UserPoolError};

/// How the client authenticated at the token or revocation endpoint.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic {
        client_id: String,
        client_secret: String,
    },
    /// Form parameters: `client_id` and, for a client with a secret, `client_secret`
    /// (`client_secret_post`, or `none` for a public client).
    Post {
        client_id: String,
        client_secret: Option<String>,
    },
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { client_id, .. } => f
                .debug_struct("Basic")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Self::Post { client_id, .. } => f
                .debug_struct("Post")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

impl ClientAuth {
    fn parts(&self) -> (&str, Option<&str>) {
        match self {
            Self::Basic {
                client_id,
                client_secret,
            } => (client_id, Some(client_secret)),
            Self::Post {
                client_id,
                client_secret,
            } => (client_id, client_secret.as_deref()),
        }
    }
}

/// A token request's grant.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenGrant {
    /// `authorization_code`.
    AuthorizationCode {
        code: Option<String>,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    /// `refresh_token`.
    RefreshToken {
        refresh_token: Option<String>,
        scope: Option<String>,
    },
    /// `client_credentials`.
    ClientCredentials { scope: Option<String> },
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::AuthorizationCode { .. } => "AuthorizationCode",
            Self::RefreshToken { .. } => "RefreshToken",
            Self::ClientCredentials { .. } => "ClientCredentials",
        };
        f.write_str(name)
    }
}

/// A successful token response.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    /// With the `openid` scope.
    pub id_token: Option<String>,
    /// A new sign-in's (or a rotation's) refresh token.
    pub refresh_token: Option<String>,
    /// Seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

fn invalid_client() -> OAuthError {
    OAuthError::InvalidClient("client authentication failed".into())
}

fn internal(e: &UserPoolError) -> OAuthError {
    let error = OAuthError::from_service(e);
    if error == OAuthError::ServerError {
        tracing::error!(error = %e, "token endpoint");
    }
    error
}

impl OAuth2 {
    /// The client of `pool_id` that `auth` names, once its secret (for clients with one)
    /// matches in constant time. A client without a secret must not send one.
    pub async fn authenticate_client(
        &self,
        pool_id: &str,
        auth: &ClientAuth,
    ) -> Result<(UserPool, Client), OAuthError> {
        let (client_id, given) = auth.parts();
        if client_id.is_empty() || client_id.len() > 128 {
            return Err(invalid_client());
        }
        let client = match self.pools.pool_client(pool_id, client_id).await {
            Ok(client) => client,
            Err(UserPoolError::ResourceNotFound(_)) => return Err(invalid_client()),
            Err(e) => return Err(internal(&e)),
        };
        match (&client.secret, given) {
            (Some(secret), Some(given))
                if constant_time_eq(secret.as_bytes(), given.as_bytes()) => {}
            (None, None) => {}
            _ => return Err(invalid_client()),
        }
        let pool = self
            .pools
            .user_pool(pool_id)
            .await
            .map_err(|e| internal(&e))?;
        Ok((pool, client))
    }

    /// `POST /oauth2/token`.
    pub async fn token(
        &self,
        pool_id: &str,
        auth: &ClientAuth,
        grant: TokenGrant,
    ) -> Result<TokenResponse, OAuthError> {
        let (pool, client) = self.authenticate_client(pool_id, auth).await?;
        match grant {
            TokenGrant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.redeem_code(&pool, &client, code, redirect_uri, code_verifier)
                    .await
            }
            TokenGrant::RefreshToken {
                refresh_token,
                scope,
            } => self.refresh(&pool, &client, refresh_token, scope).await,
            TokenGrant::ClientCredentials { scope } => {
                self.client_credentials(&pool, &client, scope).await
            }
        }
    }

    async fn redeem_code(
        &self,
        pool: &UserPool,
        client: &Client,
        code: Option<String>,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.config.allowed_oauth_flows_user_pool_client
            || !client.config.allowed_oauth_flows.contains(&OAuthFlow::Code)
        {
            return Err(OAuthError::UnauthorizedClient(
                "the client is not allowed the authorization code flow".into(),
            ));
        }
        let code = code
            .filter(|c| !c.is_empty() && c.len() <= MAX_PARAM_LEN)
            .ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
        let redirect_uri = redirect_uri
            .filter(|r| !r.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("redirect_uri is required".into()))?;
        let now = self.pools.now();
        let now_ms = unix_millis(now);
        let origin_jti = crate::ids::uuid_v4();
        let hash = secret_hash(&code);
        let invalid = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        let record = match self
            .pools
            .store()
            .auth_codes()
            .redeem(&hash, &origin_jti, now_ms)
            .await
            .map_err(|e| internal(&e.into()))?
        {
            Redemption::Missing => return Err(invalid("the authorization code is not valid")),
            Redemption::AlreadyUsed(used) => {
                if let Some(first) = &used.origin_jti {
                    tracing::warn!(
                        pool = %used.pool_id,
                        "an authorization code was redeemed twice: its tokens are revoked"
                    );
                    self.pools
                        .revoke_sign_in(&used.pool_id, first)
                        .await
                        .map_err(|e| internal(&e))?;
                }
                return Err(invalid("the authorization code has already been used"));
            }
            Redemption::Redeemed(record) => record,
        };
        if record.pool_id != pool.id || record.client_id != client.id {
            return Err(invalid(
                "the authorization code was issued to another client",
            ));
        }
        if record.expires_at <= now_ms {
            return Err(invalid("the authorization code has expired"));
        }
        let details: CodeDetails = serde_json::from_str(&record.details)
            .map_err(|e| internal(&UserPoolError::internal("stored authorization code", e)))?;
        if details.redirect_uri != redirect_uri {
            return Err(invalid(
                "redirect_uri is not the one of the authorization request",
            ));
        }
        match (&details.code_challenge, code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
            (Some(_), Some(_)) => return Err(invalid("the code_verifier does not match")),
            (Some(_), None) => return Err(invalid("code_verifier is required")),
            (None, Some(_)) => {
                return Err(invalid(
                    "a code_verifier was sent for a request without a code_challenge",
                ));
            }
            (None, None) => {}
        }
        let user = match self.pools.find_user_by_sub(&pool.id, &record.sub).await {
            Ok(Some(user)) if user.enabled => user,
            Ok(_) => return Err(invalid("the user can no longer sign in")),
            Err(e) => return Err(internal(&e)),
        };
        let grant = GrantClaims {
            scope: details.scope.clone(),
            amr: details.amr.clone(),
            nonce: details.nonce.clone(),
            origin_jti: Some(origin_jti.clone()),
        };
        let stored_grant = serde_json::to_string(&grant)
            .map_err(|e| internal(&UserPoolError::internal("grant", e)))?;
        let refresh_lifetime =
            i64::try_from(client.config.refresh_token_lifetime().as_millis()).unwrap_or(i64::MAX);
        self.pools
            .store()
            .oauth_grants()
            .insert(&OAuthGrantRecord {
                pool_id: pool.id.clone(),
                origin_jti: origin_jti.clone(),
                details: stored_grant,
                expires_at: now_ms.saturating_add(refresh_lifetime),
            })
            .await
            .map_err(|e| internal(&e.into()))?;
        let tokens = self
            .pools
            .issue_device_tokens(
                pool,
                client,
                &user,
                from_unix_millis(details.auth_time),
                TokenOrigin::NewSession,
                None,
                Some(&grant),
                TokenSource::HostedAuth,
                &BTreeMap::new(),
            )
            .await
            .map_err(|e| match e {
                UserPoolError::NotAuthorized(_)
                | UserPoolError::PasswordResetRequired(_)
                | UserPoolError::ResourceNotFound(_) => invalid("the user can no longer sign in"),
                // The pool's PreTokenGeneration trigger refused or failed: its Cognito
                // message (the function's own, for a refusal) is the description.
                UserPoolError::UserLambdaValidation(m)
                | UserPoolError::UnexpectedLambda(m)
                | UserPoolError::InvalidLambdaResponse(m) => OAuthError::InvalidRequest(m),
                other => internal(&other),
            })?;
        // A second redemption while these were minted: they are revoked with the sign-in.
        let after = self
            .pools
            .store()
            .auth_codes()
            .get(&hash)
            .await
            .map_err(|e| internal(&e.into()))?;
        if after.is_none_or(|code| code.reused_at.is_some()) {
            self.pools
                .revoke_sign_in(&pool.id, &origin_jti)
                .await
                .map_err(|e| internal(&e))?;
            return Err(invalid("the authorization code has already been used"));
        }
        let openid = details.scope.split(' ').any(|s| s == "openid");
        Ok(TokenResponse {
            access_token: tokens.access_token,
            id_token: openid.then_some(tokens.id_token),
            refresh_token: tokens.refresh_token,
            expires_in: tokens.expires_in,
        })
    }

    async fn refresh(
        &self,
        pool: &UserPool,
        client: &Client,
        refresh_token: Option<String>,
        scope: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let token = refresh_token
            .filter(|t| !t.is_empty() && t.len() <= MAX_PARAM_LEN)
            .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
        let narrowed: Option<Vec<String>> = scope.filter(|s| !s.trim().is_empty()).map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        // Narrowing (RFC 6749 section 6) only within what the sign-in was granted.
        let mut openid = true;
        if let Some(record) = self
            .pools
            .store()
            .refresh_tokens()
            .get(&crate::user_pools::refresh_token_hash(&token))
            .await
            .map_err(|e| internal(&e.into()))?
            && record.pool_id == pool.id
        {
            let granted = self
                .pools
                .stored_grant(&pool.id, &record.origin_jti)
                .await
                .map_err(|e| internal(&e))?;
            if let Some(granted) = &granted {
                let scopes: Vec<&str> = granted.scope.split(' ').collect();
                if let Some(extra) = narrowed
                    .iter()
                    .flatten()
                    .find(|s| !scopes.contains(&s.as_str()))
                {
                    return Err(OAuthError::InvalidScope(format!(
                        "scope `{}` was not granted",
                        extra.chars().take(64).collect::<String>()
                    )));
                }
                openid = narrowed.as_ref().map_or(scopes.contains(&"openid"), |n| {
                    n.iter().any(|s| s == "openid")
                });
            } else if narrowed.is_some() {
                return Err(OAuthError::InvalidScope(
                    "this refresh token was not issued with scopes".into(),
                ));
            }
        }
        let tokens = self
            .pools
            .oauth_refresh(pool, client, &token, narrowed.as_deref())
            .await
            .map_err(|e| match e {
                UserPoolError::NotAuthorized(m) | UserPoolError::RefreshTokenReuse(m) => {
                    OAuthError::InvalidGrant(m)
                }
                UserPoolError::InvalidParameter(m) => OAuthError::UnauthorizedClient(m),
                other => internal(&other),
            })?;
        Ok(TokenResponse {
            access_token: tokens.access_token,
            id_token: openid.then_some(tokens.id_token),
            refresh_token: tokens.refresh_token,
            expires_in: tokens.expires_in,
        })
    }

    async fn client_credentials(
        &self,
        pool: &UserPool,
        client: &Client,
        scope: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        if client.secret.is_none()
            || !client.config.allowed_oauth_flows_user_pool_client
            || !client
                .config
                .allowed_oauth_flows
                .contains(&OAuthFlow::ClientCredentials)
        {
            return Err(OAuthError::UnauthorizedClient(
                "the client is not allowed the client credentials flow".into(),
            ));
        }
        let resource_scopes = self
            .pools
            .resource_scopes(&pool.id)
            .await
            .map_err(|e| internal(&e))?;
        // Without `scope`: every resource-server scope the client may have.
        let requested = scope.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| {
            client
                .config
                .allowed_oauth_scopes
                .iter()
                .filter(|s| resource_scopes.contains(s))
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        });
        if requested.len() > MAX_PARAM_LEN {
            return Err(OAuthError::InvalidRequest("scope is too long".into()));
        }
        let scopes = check_scopes(Some(&requested), client, &resource_scopes)?;
        if let Some(user_scope) = scopes.iter().find(|s| !resource_scopes.contains(s)) {
            return Err(OAuthError::InvalidScope(format!(
                "scope `{user_scope}` needs a user: client credentials get resource-server scopes only"
            )));
        }
        let (access_token, expires_in) = self
            .pools
            .issue_client_token(pool, client, scopes.join(" "))
            .await
            .map_err(|e| internal(&e))?;
        Ok(TokenResponse {
            access_token,
            id_token: None,
            refresh_token: None,
            expires_in,
        })
    }

    /// `/oauth2/userInfo`: the user of an access token of this pool with the `openid`
    /// scope, and the attributes its scopes allow (as Cognito: `openid` alone, every
    /// attribute the client may read; with `profile`, `email` or `phone`, those sets).
    pub async fn user_info(
        &self,
        pool_id: &str,
        access_token: &str,
    ) -> Result<BTreeMap<String, serde_json::Value>, OAuthError> {
        let signed_in = self
            .pools
            .authenticate_access_token_for(access_token, "openid")
            .await
            .map_err(|e| match e {
                UserPoolError::NotAuthorized(m) if m.contains("scopes") => {
                    OAuthError::InsufficientScope("the access token has no `openid` scope".into())
                }
                UserPoolError::NotAuthorized(m) => OAuthError::InvalidToken(m),
                other => internal(&other),
            })?;
        if signed_in.pool.id != pool_id {
            return Err(OAuthError::InvalidToken(
                "the access token is not of this user pool".into(),
            ));
        }
        let scopes: Vec<&str> = signed_in.claims.scope.split(' ').collect();
        let (profile, email, phone) = (
            scopes.contains(&"profile"),
            scopes.contains(&"email"),
            scopes.contains(&"phone"),
        );
        let everything = !(profile || email || phone);
        let mut out = BTreeMap::new();
        for (name, value) in self
            .pools
            .readable_attributes(&signed_in.client, &signed_in.user)
        {
            let shown = everything
                || name == "sub"
                || (email && matches!(name.as_str(), "email" | "email_verified"))
                || (phone && matches!(name.as_str(), "phone_number" | "phone_number_verified"))
                || (profile && is_profile_attribute(&name));
            if shown {
                let value = crate::user_pools::claim_value(&name, &value);
                out.insert(name, value);
            }
        }
        out.insert(
            "username".to_owned(),
            signed_in.user.username.clone().into(),
        );
        Ok(out)
    }

    /// `POST /oauth2/revoke`: revokes a refresh token of the authenticated client and every
    /// token of its sign-in (RevokeToken's machinery). An unknown token is no error (RFC
    /// 7009); a JWT (access or ID token) is `unsupported_token_type`.
    pub async fn revoke(
        &self,
        pool_id: &str,
        auth: &ClientAuth,
        token: Option<&str>,
    ) -> Result<(), OAuthError> {
        let (_, client) = self.authenticate_client(pool_id, auth).await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
        if !client.config.enable_token_revocation {
            return Err(OAuthError::UnauthorizedClient(
                "token revocation is not enabled for this client".into(),
            ));
        }
        if token.len() > crate::tokens::MAX_TOKEN_LEN || token.split('.').count() == 3 {
            return Err(OAuthError::UnsupportedTokenType(
                "only refresh tokens can be revoked".into(),
            ));
        }
        self.pools
            .revoke_token(&client.id, client.secret.as_deref(), token)
            .await
            .map_err(|e| match e {
                UserPoolError::NotAuthorized(m) => OAuthError::InvalidGrant(m),
                other => internal(&other),
            })
    }
}

/// The attributes of the `profile` scope: OpenID Connect's profile claims and custom ones.
fn is_profile_attribute(name: &str) -> bool {
    name.starts_with("custom:")
        || matches!(
            name,
            "name"
                | "family_name"
                | "given_name"
                | "middle_name"
                | "nickname"
                | "preferred_username"
                | "profile"
                | "picture"
                | "website"
                | "gender"
                | "birthdate"
                | "zoneinfo"
                | "locale"
                | "updated_at"
        )
}
