//! Renewing a session with its refresh token: `REFRESH_TOKEN_AUTH` (InitiateAuth and
//! AdminInitiateAuth) and GetTokensFromRefreshToken, with the app client's refresh-token
//! rotation.
//!
//! # Rotation
//! With `RefreshTokenRotation` ENABLED, GetTokensFromRefreshToken answers a new refresh token
//! with the new ID and access tokens and takes the one it was given out of use: the old one
//! still works for `RetryGracePeriodSeconds` (0 to 60) after its first rotation, so a client
//! that lost an answer can retry, and after that it is spent. `REFRESH_TOKEN_AUTH` is refused
//! on such a client, as Cognito refuses it (it cannot hand out a new refresh token).
//!
//! # Families
//! Every refresh token descended from one sign-in shares that sign-in's `origin_jti`: the
//! family. A spent token used again means two parties hold the family (OAuth 2.0 Security
//! Best Current Practice, refresh token rotation): every refresh token of the family is
//! revoked, every access and id token of the sign-in is refused from then on (on every node,
//! through the `token_revocations` feed), and the caller gets `RefreshTokenReuseException`.
//! A rotated token keeps the family's expiry: rotating does not lengthen a sign-in beyond
//! the client's `RefreshTokenValidity` from the moment the user authenticated.

use std::collections::BTreeMap;
use std::time::Duration;

use gatehouse_storage::{RefreshTokenRecord, RevocationKind, Rotation};

use super::attributes::user_from_record;
use super::issue::{GrantClaims, refresh_token_hash};
use super::pre_token::TokenSource;
use super::{Client, TokenOrigin, Tokens, User, UserPool, UserPoolError, UserPools};
use crate::crypto::constant_time_eq;
use crate::time::{from_unix_millis, unix_millis};

/// How a refresh request proves the client, for clients with a secret.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ClientProof<'a> {
    /// `SECRET_HASH` over the username (or the `sub`): InitiateAuth and AdminInitiateAuth.
    SecretHash(Option<&'a str>),
    /// The client secret itself: GetTokensFromRefreshToken's `ClientSecret`.
    Secret(Option<&'a str>),
    /// The OAuth token endpoint authenticated the client already.
    Authenticated,
}

pub(crate) fn invalid_refresh_token() -> UserPoolError {
    UserPoolError::NotAuthorized("Invalid Refresh Token".into())
}

fn revoked_refresh_token() -> UserPoolError {
    UserPoolError::NotAuthorized("Refresh Token has been revoked".into())
}

fn expired_refresh_token() -> UserPoolError {
    UserPoolError::NotAuthorized("Refresh Token has expired".into())
}

fn reused_refresh_token() -> UserPoolError {
    UserPoolError::RefreshTokenReuse(
        "Refresh Token has already been used: every token of its sign-in is revoked".into(),
    )
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl UserPools {
    /// GetTokensFromRefreshToken (public): new ID and access tokens for a live refresh token
    /// of `client_id`, and with rotation on a new refresh token (see the module docs).
    /// Clients with a secret must send it as `client_secret`.
    pub async fn get_tokens_from_refresh_token(
        &self,
        client_id: &str,
        refresh_token: &str,
        client_secret: Option<&str>,
    ) -> Result<Tokens, UserPoolError> {
        let (pool, client) = self.app_client(client_id).await?;
        if !client
            .config
            .allows(super::config::ExplicitAuthFlow::AllowRefreshTokenAuth)
        {
            return Err(UserPoolError::invalid(
                "Refresh Token flow not enabled for this client",
            ));
        }
        if refresh_token.is_empty() {
            return Err(UserPoolError::invalid(
                "Missing required parameter RefreshToken",
            ));
        }
        let rotate = client.config.rotates_refresh_tokens();
        self.refresh_session(
            &pool,
            &client,
            refresh_token,
            ClientProof::Secret(client_secret),
            rotate,
            None,
            None,
        )
        .await
    }

    /// The OAuth token endpoint's `refresh_token` grant for a client it authenticated: as
    /// GetTokensFromRefreshToken (rotation as the client says), the tokens carrying the
    /// scopes of the sign-in, or the fewer `narrowed` ones (RFC 6749 section 6).
    pub(crate) async fn oauth_refresh(
        &self,
        pool: &UserPool,
        client: &Client,
        refresh_token: &str,
        narrowed: Option<&[String]>,
    ) -> Result<Tokens, UserPoolError> {
        if !client
            .config
            .allows(super::config::ExplicitAuthFlow::AllowRefreshTokenAuth)
        {
            return Err(UserPoolError::invalid(
                "Refresh Token flow not enabled for this client",
            ));
        }
        self.refresh_session(
            pool,
            client,
            refresh_token,
            ClientProof::Authenticated,
            client.config.rotates_refresh_tokens(),
            None,
            narrowed,
        )
        .await
    }

    /// `REFRESH_TOKEN_AUTH` / `REFRESH_TOKEN`: the refresh step of InitiateAuth and
    /// AdminInitiateAuth, which never rotates (refused where the client rotates).
    pub(crate) async fn refresh_without_rotation(
        &self,
        pool: &UserPool,
        client: &Client,
        parameters: &BTreeMap<String, String>,
    ) -> Result<Tokens, UserPoolError> {
        if client.config.rotates_refresh_tokens() {
            return Err(UserPoolError::invalid(
                "Refresh token rotation is enabled for this client: renew tokens with GetTokensFromRefreshToken",
            ));
        }
        let token = parameters
            .get("REFRESH_TOKEN")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| UserPoolError::invalid("Missing required parameter REFRESH_TOKEN"))?;
        let proof = ClientProof::SecretHash(parameters.get("SECRET_HASH").map(String::as_str));
        self.refresh_session(
            pool,
            client,
            token,
            proof,
            false,
            parameters.get("DEVICE_KEY"),
            None,
        )
        .await
    }

    /// Checks `token` (issued to this client, live, its user enabled, the client's proof)
    /// and issues tokens of its sign-in; with `rotate`, a successor refresh token too. A
    /// rotated token past its grace period revokes its family ([`Rotation::Reused`]).
    /// `device_key` (`DEVICE_KEY`), checked to be one of the user's devices, goes into the
    /// access token (see `devices`). A sign-in through the OAuth endpoints keeps its granted
    /// scopes (see [`GrantClaims`]), or `narrowed` to fewer of them.
    #[expect(
        clippy::too_many_arguments,
        reason = "one refresh path for every caller"
    )]
    async fn refresh_session(
        &self,
        pool: &UserPool,
        client: &Client,
        token: &str,
        proof: ClientProof<'_>,
        rotate: bool,
        device_key: Option<&String>,
        narrowed: Option<&[String]>,
    ) -> Result<Tokens, UserPoolError> {
        let now = self.now();
        let hash = refresh_token_hash(token);
        let record = self
            .store()
            .refresh_tokens()
            .get(&hash)
            .await?
            .ok_or_else(invalid_refresh_token)?;
        if record.pool_id != pool.id || record.client_id != client.id {
            return Err(invalid_refresh_token());
        }
        if record.revoked_at.is_some() {
            return Err(revoked_refresh_token());
        }
        if record.expires_at <= unix_millis(now) {
            return Err(expired_refresh_token());
        }
        let user = match self
            .store()
            .users()
            .get_by_sub(&pool.id, &record.sub)
            .await?
        {
            Some(r) => user_from_record(r)?,
            None => return Err(invalid_refresh_token()),
        };
        check_proof(client, &user, proof)?;
        if !user.enabled {
            return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
        }
        let device = self.refresh_device(pool, &user, device_key).await?;
        let grant = self.stored_grant(&pool.id, &record.origin_jti).await?;
        let grant = match (grant, narrowed) {
            (Some(mut grant), Some(narrowed)) => {
                let granted: Vec<&str> = grant.scope.split(' ').collect();
                if let Some(extra) = narrowed.iter().find(|s| !granted.contains(&s.as_str())) {
                    return Err(UserPoolError::invalid(format!(
                        "scope `{extra}` was not granted to this sign-in"
                    )));
                }
                grant.scope = narrowed.join(" ");
                Some(grant)
            }
            (grant, _) => grant,
        };
        let grace = millis(client.config.refresh_retry_grace());
        let now_ms = unix_millis(now);
        if !rotate {
            if let Some(rotated_at) = record.rotated_at
                && !(grace > 0 && now_ms < rotated_at.saturating_add(grace))
            {
                self.store()
                    .refresh_tokens()
                    .revoke_family(&pool.id, &record.origin_jti, now_ms)
                    .await?;
                return Err(self.family_reused(&pool.id, &record).await);
            }
            return self
                .issue_device_tokens(
                    pool,
                    client,
                    &user,
                    from_unix_millis(record.auth_time),
                    TokenOrigin::Refresh {
                        origin_jti: record.origin_jti,
                    },
                    device,
                    grant.as_ref(),
                    TokenSource::RefreshTokens,
                    &BTreeMap::new(),
                )
                .await;
        }
        // The tokens are minted (and PreTokenGeneration asked) before the presented token is
        // rotated out: a trigger that fails or times out leaves the refresh token as it was, so
        // the client retries with it instead of holding a spent token whose next use revokes
        // the whole family. Minting for a refresh stores nothing; tokens of a rotation that
        // storage then refuses are dropped unsent.
        let mut tokens = self
            .issue_device_tokens(
                pool,
                client,
                &user,
                from_unix_millis(record.auth_time),
                TokenOrigin::Refresh {
                    origin_jti: record.origin_jti.clone(),
                },
                device,
                grant.as_ref(),
                TokenSource::RefreshTokens,
                &BTreeMap::new(),
            )
            .await?;
        let successor = crate::ids::refresh_token();
        let rotation = self
            .store()
            .refresh_tokens()
            .rotate(&hash, &refresh_token_hash(&successor), now_ms, grace)
            .await?;
        match rotation {
            Rotation::Rotated(stored) => debug_assert_eq!(stored.origin_jti, record.origin_jti),
            Rotation::Missing => return Err(invalid_refresh_token()),
            Rotation::Revoked(_) => return Err(revoked_refresh_token()),
            Rotation::Expired(_) => return Err(expired_refresh_token()),
            Rotation::Reused(reused) => return Err(self.family_reused(&pool.id, &reused).await),
            Rotation::Refused(_) => {
                return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
            }
        }
        tokens.refresh_token = Some(successor);
        Ok(tokens)
    }

    /// What the sign-in `origin_jti` was granted through the OAuth endpoints (`None` for a
    /// sign-in through the API).
    pub(crate) async fn stored_grant(
        &self,
        pool_id: &str,
        origin_jti: &str,
    ) -> Result<Option<GrantClaims>, UserPoolError> {
        match self.store().oauth_grants().get(pool_id, origin_jti).await? {
            Some(record) => serde_json::from_str(&record.details)
                .map(Some)
                .map_err(|e| UserPoolError::internal("stored grant", e)),
            None => Ok(None),
        }
    }

    /// After a family's refresh tokens were revoked for a reuse: refuses every access and
    /// id token of its sign-in, and answers the reuse. Should the revocation itself fail,
    /// the refresh tokens are revoked all the same and the failure is what the caller gets.
    async fn family_reused(&self, pool_id: &str, reused: &RefreshTokenRecord) -> UserPoolError {
        tracing::warn!(
            pool = pool_id,
            sub = %reused.sub,
            "a rotated refresh token was used again: its sign-in is revoked"
        );
        let now = unix_millis(self.now());
        match self
            .record_revocation(pool_id, RevocationKind::Session, &reused.origin_jti, now)
            .await
        {
            Ok(()) => reused_refresh_token(),
            Err(e) => e,
        }
    }
}

/// Checks a refresh request's proof of the client: nothing for clients without a secret;
/// else the secret itself, or `SECRET_HASH` over the username or the `sub` (Cognito accepts
/// both: SDKs of pools whose usernames are emails send the `sub`).
fn check_proof(client: &Client, user: &User, proof: ClientProof<'_>) -> Result<(), UserPoolError> {
    let Some(secret) = &client.secret else {
        return Ok(());
    };
    let missing = || {
        UserPoolError::NotAuthorized(format!(
            "Client {} is configured for secret but secret was not received",
            client.id
        ))
    };
    let ok = match proof {
        ClientProof::Authenticated => true,
        ClientProof::Secret(given) => {
            let given = given.ok_or_else(missing)?;
            constant_time_eq(secret.as_bytes(), given.as_bytes())
        }
        ClientProof::SecretHash(given) => {
            let given = given.ok_or_else(missing)?;
            [&user.username, &user.sub].iter().any(|name| {
                let expected = super::clients::secret_hash(secret, name, &client.id);
                constant_time_eq(expected.as_bytes(), given.as_bytes())
            })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(UserPoolError::NotAuthorized(format!(
            "Unable to verify secret hash for client {}",
            client.id
        )))
    }
}
