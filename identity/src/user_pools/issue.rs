//! Token issuance: ID and access tokens with Cognito's claims, signed by the pool's cached key
//! ring, and the opaque refresh token stored by hash.

use std::collections::BTreeMap;
use std::time::SystemTime;

use gatehouse_storage::{RefreshTokenRecord, SignedInAs, StorageError};

use super::pre_token::{self, GroupConfiguration, TokenSource};
use super::{
    Client, Group, TokenOrigin, Tokens, User, UserPool, UserPoolError, UserPools, UserStatus,
};
use crate::time::{unix_millis, unix_seconds};
use crate::tokens::{AccessTokenClaims, IdTokenClaims, TokenUse};

/// The scope of tokens from SDK sign-in (not the hosted UI).
pub const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// What a sign-in through the OAuth 2.0 endpoints puts in its tokens beside Cognito's claims:
/// the granted scopes (the access token's `scope`), how the user authenticated (`amr`) and,
/// on the code exchange only, the client's `nonce`. Stored per sign-in (by `origin_jti`) so
/// refreshed tokens carry the same scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GrantClaims {
    /// Space-separated scopes.
    pub scope: String,
    /// Authentication methods (`pwd`, `mfa`, …).
    #[serde(default)]
    pub amr: Vec<String>,
    /// The authorization request's `nonce` (ID token of the code exchange only).
    #[serde(skip)]
    pub nonce: Option<String>,
    /// The sign-in's `origin_jti`, chosen when the code was redeemed (so a second redemption
    /// can revoke exactly these tokens); `None` draws a fresh one.
    #[serde(skip)]
    pub origin_jti: Option<String>,
}

/// `at_hash` (OpenID Connect Core 3.1.3.6): the left half of the SHA-256 of the access token,
/// base64url.
pub fn at_hash(access_token: &str) -> String {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    let half = digest.as_ref().get(..16).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half)
}

/// What storage keeps of a refresh token: its SHA-256 (the token has 384 random bits, so a
/// plain hash cannot be reversed).
pub fn refresh_token_hash(token: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// Groups in token order: by precedence (lowest first, groups without one last), then name.
pub(crate) fn sort_groups(groups: &mut [Group]) {
    groups.sort_by(|a, b| {
        (a.precedence.is_none(), a.precedence, &a.name).cmp(&(
            b.precedence.is_none(),
            b.precedence,
            &b.name,
        ))
    });
}

/// An attribute as an ID-token claim: booleans for the `*_verified` flags, a number for
/// `updated_at`, strings otherwise (as Cognito does).
pub(crate) fn claim_value(name: &str, value: &str) -> serde_json::Value {
    match name {
        "email_verified" | "phone_number_verified" => serde_json::Value::Bool(value == "true"),
        "updated_at" => value
            .parse::<i64>()
            .map_or_else(|_| value.into(), serde_json::Value::from),
        // Cognito's JSON list of the user's upstream identities, a list in the token.
        "identities" => serde_json::from_str(value).unwrap_or_else(|_| value.into()),
        _ => value.into(),
    }
}

impl UserPools {
    /// Every group of the user, in token order.
    pub async fn user_groups(&self, pool_id: &str, sub: &str) -> Result<Vec<Group>, UserPoolError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store()
                .groups()
                .for_user(pool_id, sub, 1000, after.as_deref())
                .await?;
            out.extend(page.items.into_iter().map(super::groups::group_from_record));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        sort_groups(&mut out);
        Ok(out)
    }

    /// Issues ID and access tokens (and, for a new session, a stored refresh token) for `user`
    /// signing in through `client`. `auth_time` is when the user authenticated (kept across
    /// refreshes). Lifetimes come from the client.
    ///
    /// For a new session `user` is the user as the caller read it before checking its
    /// password: nothing is issued when it has since been disabled, deleted, given another
    /// password or told to reset it (`NotAuthorized`, `PasswordResetRequired`).
    pub async fn issue_tokens(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        auth_time: SystemTime,
        origin: TokenOrigin,
    ) -> Result<Tokens, UserPoolError> {
        let source = match origin {
            TokenOrigin::NewSession => TokenSource::Authentication,
            TokenOrigin::Refresh { .. } => TokenSource::RefreshTokens,
        };
        self.issue_device_tokens(
            pool,
            client,
            user,
            auth_time,
            origin,
            None,
            None,
            source,
            &BTreeMap::new(),
        )
        .await
    }

    /// [`UserPools::issue_tokens`] for a sign-in from a tracked device (the access token
    /// names it in `device_key`) or through the OAuth endpoints (`grant`: the scopes, `amr`
    /// and `nonce`, and the ID token's `at_hash`). The one place tokens of a user are minted,
    /// so the one place the pool's PreTokenGeneration trigger is called (`source` is its
    /// `triggerSource`, `client_metadata` its `clientMetadata`); its answer is applied here,
    /// and its failure mints nothing.
    #[expect(
        clippy::too_many_arguments,
        reason = "everything a token says comes in here: the one minting path"
    )]
    pub(crate) async fn issue_device_tokens(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
        auth_time: SystemTime,
        origin: TokenOrigin,
        device_key: Option<String>,
        grant: Option<&GrantClaims>,
        source: TokenSource,
        client_metadata: &BTreeMap<String, String>,
    ) -> Result<Tokens, UserPoolError> {
        let now = self.now();
        let iat = unix_seconds(now);
        let groups = self.user_groups(&pool.id, &user.sub).await?;
        let roles: Vec<String> = groups.iter().filter_map(|g| g.role_arn.clone()).collect();
        let mut group_config = GroupConfiguration {
            groups: groups.iter().map(|g| g.name.clone()).collect(),
            preferred_role: roles.first().cloned(),
            roles,
        };
        let mut scope = grant.map_or_else(|| ADMIN_SCOPE.to_owned(), |g| g.scope.clone());
        // The trigger is asked before anything is stored: a refusal leaves no session.
        let scopes: Vec<String> = scope.split(' ').map(str::to_owned).collect();
        let overrides = self
            .pre_token_generation(
                pool,
                client,
                user,
                source,
                &group_config,
                &scopes,
                client_metadata,
            )
            .await?;
        let mut access_extra = BTreeMap::new();
        if let Some((version, overrides)) = &overrides {
            if let Some(replaced) = &overrides.groups {
                group_config = replaced.clone();
            }
            if pre_token::customizes_access(*version) {
                scope = pre_token::apply_scopes(overrides, &scope);
                pre_token::apply_access(overrides, &mut access_extra);
            }
        }
        let group_names = group_config.groups.clone();
        let origin_jti = match (&origin, grant.and_then(|g| g.origin_jti.as_ref())) {
            (TokenOrigin::NewSession, Some(chosen)) => chosen.clone(),
            (TokenOrigin::NewSession, None) => crate::ids::uuid_v4(),
            (TokenOrigin::Refresh { origin_jti }, _) => origin_jti.clone(),
        };
        let event_id = crate::ids::uuid_v4();
        let auth_time_s = unix_seconds(auth_time);
        let id_lifetime =
            i64::try_from(client.config.id_token_lifetime().as_secs()).unwrap_or(3600);
        let access_lifetime = client.config.access_token_lifetime().as_secs();
        let iss = self.issuer(&pool.id);

        let mut attributes: BTreeMap<String, serde_json::Value> = self
            .readable_attributes(client, user)
            .iter()
            .filter(|(k, _)| *k != "sub")
            .map(|(k, v)| (k.clone(), claim_value(k, v)))
            .collect();
        // A federated user's identities are in its ID token whatever the client may read.
        if let Some(identities) = user.attribute("identities") {
            attributes.insert("identities".into(), claim_value("identities", identities));
        }
        if let Some(preferred) = &group_config.preferred_role {
            attributes.insert("cognito:preferred_role".into(), preferred.clone().into());
        }
        if !group_config.roles.is_empty() {
            attributes.insert("cognito:roles".into(), group_config.roles.clone().into());
        }
        if let Some(grant) = grant {
            if let Some(nonce) = &grant.nonce {
                attributes.insert("nonce".into(), nonce.clone().into());
            }
            if !grant.amr.is_empty() {
                attributes.insert("amr".into(), grant.amr.clone().into());
            }
        }
        if let Some((_, overrides)) = &overrides {
            pre_token::apply_id(overrides, &mut attributes);
        }

        let id_claims = IdTokenClaims {
            sub: user.sub.clone(),
            groups: group_names.clone(),
            iss: iss.clone(),
            username: user.username.clone(),
            origin_jti: origin_jti.clone(),
            aud: client.id.clone(),
            event_id: event_id.clone(),
            token_use: TokenUse::Id,
            auth_time: auth_time_s,
            exp: iat.saturating_add(id_lifetime),
            iat,
            jti: crate::ids::uuid_v4(),
            attributes,
        };
        let access_claims = AccessTokenClaims {
            sub: user.sub.clone(),
            groups: group_names,
            iss,
            version: 2,
            client_id: client.id.clone(),
            origin_jti: origin_jti.clone(),
            event_id,
            token_use: TokenUse::Access,
            scope,
            auth_time: auth_time_s,
            exp: iat.saturating_add(i64::try_from(access_lifetime).unwrap_or(3600)),
            iat,
            jti: crate::ids::uuid_v4(),
            username: user.username.clone(),
            device_key,
            extra: access_extra,
        };
        // A new sign-in's refresh token is stored before anything is signed: storage refuses
        // it when the user was disabled, deleted, given another password or told to reset it
        // since the caller read it (and checked that password), so a sign-in racing
        // AdminDisableUser, AdminDeleteUser, a password reset or AdminResetUserPassword gets
        // nothing, and one that got in first is revoked by them (see `Users::set_enabled`,
        // `Users::delete`, `Users::set_password`, `Users::set_status_and_revoke`).
        let refresh_token = match origin {
            TokenOrigin::Refresh { .. } => None,
            TokenOrigin::NewSession => {
                let token = crate::ids::refresh_token();
                let now_ms = unix_millis(now);
                let lifetime_ms = i64::try_from(client.config.refresh_token_lifetime().as_millis())
                    .unwrap_or(i64::MAX);
                let stored = self
                    .store()
                    .refresh_tokens()
                    .insert(
                        &RefreshTokenRecord {
                            token_hash: refresh_token_hash(&token),
                            pool_id: pool.id.clone(),
                            client_id: client.id.clone(),
                            sub: user.sub.clone(),
                            origin_jti,
                            auth_time: unix_millis(auth_time),
                            created_at: now_ms,
                            expires_at: now_ms.saturating_add(lifetime_ms),
                            revoked_at: None,
                            rotated_at: None,
                        },
                        SignedInAs {
                            status: user.status.as_str(),
                            password_hash: user.password_hash.as_deref(),
                        },
                    )
                    .await;
                match stored {
                    Ok(()) => Some(token),
                    Err(StorageError::NotFound { .. }) => {
                        return Err(self.sign_in_refused(pool, client, user).await);
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        };
        let ring = self.key_ring(&pool.id).await?;
        let access_token = ring.sign_access_token(&access_claims)?;
        let mut id_claims = id_claims;
        if grant.is_some() {
            id_claims
                .attributes
                .insert("at_hash".into(), at_hash(&access_token).into());
        }
        let id_token = ring.sign_id_token(&id_claims)?;
        Ok(Tokens {
            id_token,
            access_token,
            refresh_token,
            expires_in: access_lifetime,
            new_device: None,
        })
    }

    /// A client-credentials access token (no user: `sub` is the client id, no username,
    /// session or groups) with `scope`, signed by the pool's access key, and its lifetime in
    /// seconds.
    pub(crate) async fn issue_client_token(
        &self,
        pool: &UserPool,
        client: &Client,
        scope: String,
    ) -> Result<(String, u64), UserPoolError> {
        let iat = unix_seconds(self.now());
        let lifetime = client.config.access_token_lifetime().as_secs();
        let claims = AccessTokenClaims {
            sub: client.id.clone(),
            groups: Vec::new(),
            iss: self.issuer(&pool.id),
            version: 2,
            client_id: client.id.clone(),
            origin_jti: String::new(),
            event_id: String::new(),
            token_use: TokenUse::Access,
            scope,
            auth_time: iat,
            exp: iat.saturating_add(i64::try_from(lifetime).unwrap_or(3600)),
            iat,
            jti: crate::ids::uuid_v4(),
            username: String::new(),
            device_key: None,
            extra: BTreeMap::new(),
        };
        let token = self.key_ring(&pool.id).await?.sign_access_token(&claims)?;
        Ok((token, lifetime))
    }

    /// Why storage refused a new sign-in's refresh token: the user was disabled, deleted,
    /// given another password or told to reset it (or the client deleted) after the caller
    /// read them.
    async fn sign_in_refused(
        &self,
        pool: &UserPool,
        client: &Client,
        user: &User,
    ) -> UserPoolError {
        match self.store().users().get_by_sub(&pool.id, &user.sub).await {
            Ok(Some(now)) if !now.enabled => {
                UserPoolError::NotAuthorized("User is disabled.".into())
            }
            Ok(Some(now)) if now.status == UserStatus::ResetRequired.as_str() => {
                UserPoolError::PasswordResetRequired("Password reset required for the user".into())
            }
            Ok(Some(now))
                if now.password_hash != user.password_hash
                    || now.status != user.status.as_str() =>
            {
                UserPoolError::NotAuthorized("Incorrect username or password.".into())
            }
            Ok(Some(_)) => super::clients::client_not_found(&client.id),
            Ok(None) => UserPoolError::NotAuthorized("User does not exist.".into()),
            Err(e) => e.into(),
        }
    }
}
