//! What a signed-in user does with an access token: GetUser, UpdateUserAttributes,
//! GetUserAttributeVerificationCode, VerifyUserAttribute, ChangePassword, DeleteUser,
//! GlobalSignOut, and RevokeToken (with a refresh token and the client's credentials), plus
//! the operator's AdminUserGlobalSignOut.
//!
//! # Access tokens
//! A token names its pool in `iss`; it must verify against that pool's key ring (RS256, a
//! known access-token `kid`, not expired), carry the `aws.cognito.signin.user.admin` scope,
//! belong to a user that still exists and is enabled, and not be revoked.
//!
//! # Revocation
//! Refresh tokens are revoked in their own table. Access and id tokens cannot be recalled,
//! so rows of storage's `token_revocations` table refuse them until they expire: a sign-in
//! (`origin_jti`; RevokeToken, and GlobalSignOut for the token it was called with: every
//! token of that sign-in) and a user (`sub`; GlobalSignOut, AdminUserGlobalSignOut,
//! AdminDisableUser, AdminDeleteUser and DeleteUser: every token issued before then, plus
//! every sign-in whose refresh token they revoked). A row is kept for
//! [`REVOCATION_LIFETIME`](super::REVOCATION_LIFETIME) (a day, the longest a token lives),
//! then purged. The self-service checks here read storage on each use, so a sign-out on one
//! node holds on every node at once; each revocation also updates this node's in-memory
//! [`Revocations`](super::Revocations) view, which the gateway checks (other nodes' views
//! follow within a refresh interval, see `revocations`). A token issued in the same second
//! as a global sign-out by another session survives it (tokens carry whole seconds).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_storage::RevocationKind;
use serde::Deserialize;

use super::attempts::Subject;
use super::attributes::{AttributeWrite, stored_attributes, user_from_record};
use super::codes::verify_code_purpose;
use super::config::VerifiedAttribute;
use super::issue::{ADMIN_SCOPE, refresh_token_hash};
use super::{Client, CodeDeliveryDetails, User, UserPool, UserPoolError, UserPools, UserStatus};
use crate::crypto::constant_time_eq;
use crate::delivery::{Channel, Purpose};
use crate::time::{unix_millis, unix_seconds};
use crate::tokens::{AccessTokenClaims, MAX_TOKEN_LEN, TokenError};

/// A verified access token and what it stands for.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The token's pool.
    pub pool: UserPool,
    /// The client the token was issued to.
    pub client: Client,
    /// The user, as stored now.
    pub user: User,
    /// The verified claims.
    pub claims: AccessTokenClaims,
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: String,
}

fn invalid_token() -> UserPoolError {
    UserPoolError::NotAuthorized("Invalid Access Token".into())
}

impl UserPools {
    /// The pool a token claims to come from, read from its (not yet verified) `iss`.
    fn token_pool_id(&self, token: &str) -> Result<String, UserPoolError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid_token());
        }
        let payload = token.split('.').nth(1).ok_or_else(invalid_token)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| invalid_token())?;
        let claims: UnverifiedIssuer =
            serde_json::from_slice(&bytes).map_err(|_| invalid_token())?;
        let prefix = format!("{}/", self.config().public_url.trim_end_matches('/'));
        claims
            .iss
            .strip_prefix(&prefix)
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .map(str::to_owned)
            .ok_or_else(invalid_token)
    }

    /// Verifies an access token for a self-service operation (see the module docs).
    pub async fn authenticate_access_token(&self, token: &str) -> Result<SignedIn, UserPoolError> {
        self.authenticate_access_token_for(token, ADMIN_SCOPE).await
    }

    /// Verifies an access token that must carry `scope` (`openid` for the OAuth userInfo
    /// endpoint), with every other check of [`UserPools::authenticate_access_token`].
    pub async fn authenticate_access_token_for(
        &self,
        token: &str,
        scope: &str,
    ) -> Result<SignedIn, UserPoolError> {
        let pool_id = self.token_pool_id(token)?;
        let now = self.now();
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid_token())?
            .kid
            .ok_or_else(invalid_token)?;
        let pool = match self.user_pool(&pool_id).await {
            Ok(pool) => pool,
            Err(UserPoolError::ResourceNotFound(_)) => return Err(invalid_token()),
            Err(e) => return Err(e),
        };
        let ring = self.key_ring_for_kid(&pool_id, &kid).await?;
        let claims = ring
            .verify_access_token(token, unix_seconds(now), None)
            .map_err(|e| match e {
                TokenError::Expired => {
                    UserPoolError::NotAuthorized("Access Token has expired".into())
                }
                _ => invalid_token(),
            })?;
        if !claims.scope.split(' ').any(|s| s == scope) {
            return Err(UserPoolError::NotAuthorized(
                "Access Token does not have required scopes".into(),
            ));
        }
        let revocations = self
            .store()
            .revocations()
            .for_token(&pool.id, &claims.origin_jti, &claims.sub)
            .await?;
        // Sessions live at the sign-out are revoked one by one (by `origin_jti`); the time
        // rule catches the rest. `iat` has whole seconds, so it is strict: a sign-in right
        // after the sign-out, in the same second, keeps working.
        let revoked = revocations.iter().any(|r| match r.kind {
            RevocationKind::Session => true,
            RevocationKind::User => claims.iat < r.revoked_at.div_euclid(1000),
        });
        if revoked {
            return Err(UserPoolError::NotAuthorized(
                "Access Token has been revoked".into(),
            ));
        }
        let user = match self
            .store()
            .users()
            .get_by_sub(&pool.id, &claims.sub)
            .await?
        {
            Some(r) => user_from_record(r)?,
            None => return Err(UserPoolError::NotAuthorized("User does not exist.".into())),
        };
        if !user.enabled {
            return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
        }
        let client = match self.pool_client(&pool.id, &claims.client_id).await {
            Ok(client) => client,
            Err(UserPoolError::ResourceNotFound(_)) => return Err(invalid_token()),
            Err(e) => return Err(e),
        };
        Ok(SignedIn {
            pool,
            client,
            user,
            claims,
        })
    }

    /// GetUser: the username and the attributes the token's client may read.
    pub async fn get_user(
        &self,
        access_token: &str,
    ) -> Result<(String, BTreeMap<String, String>), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        let attributes = self.readable_attributes(&s.client, &s.user);
        Ok((s.user.username, attributes))
    }

    /// UpdateUserAttributes: writes limited by the schema and the client's
    /// `WriteAttributes`; a changed email or phone number becomes unverified and, when the
    /// pool auto-verifies it, gets a code (the returned deliveries).
    pub async fn update_own_attributes(
        &self,
        access_token: &str,
        changes: &[(String, String)],
    ) -> Result<Vec<CodeDeliveryDetails>, UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.update_user_attributes(
            &s.pool,
            Some(&s.client),
            &s.user,
            changes,
            AttributeWrite::UserUpdate,
        )
        .await
    }

    /// GetUserAttributeVerificationCode: a code for the user's `email` or `phone_number`.
    pub async fn get_user_attribute_verification_code(
        &self,
        access_token: &str,
        attribute: &str,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        let channel = match attribute {
            "email" => Channel::Email,
            "phone_number" => Channel::Sms,
            other => {
                return Err(UserPoolError::invalid(format!(
                    "attribute `{other}` cannot be verified"
                )));
            }
        };
        let purpose = verify_code_purpose(attribute);
        // A value waiting for verification (AttributesRequireVerificationBeforeUpdate) gets
        // the new code, as the one the update sent.
        let waits = VerifiedAttribute::parse(attribute)
            .is_some_and(|a| s.pool.config.verifies_before_update(a));
        let pending = if waits {
            self.store()
                .codes()
                .get(&s.pool.id, &s.user.sub, &purpose)
                .await?
                .and_then(|code| code.data)
                .filter(|v| !v.is_empty() && Some(v.as_str()) != s.user.attribute(attribute))
        } else {
            None
        };
        let mut user = s.user.clone();
        if let Some(pending) = &pending {
            user.attributes
                .insert(attribute.to_owned(), pending.clone());
        }
        let value = user
            .attribute(attribute)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| UserPoolError::invalid(format!("the user has no `{attribute}`")))?
            .to_owned();
        self.send_code(
            &s.pool,
            &user,
            &purpose,
            channel,
            Purpose::VerifyAttribute,
            Some(value),
            self.now(),
        )
        .await
    }

    /// VerifyUserAttribute: with the code sent for `email` or `phone_number`, marks the value
    /// it was sent to as verified (which may make it a sign-in alias).
    pub async fn verify_user_attribute(
        &self,
        access_token: &str,
        attribute: &str,
        code: &str,
    ) -> Result<(), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        if attribute != "email" && attribute != "phone_number" {
            return Err(UserPoolError::invalid(format!(
                "attribute `{attribute}` cannot be verified"
            )));
        }
        let now = self.now();
        let purpose = verify_code_purpose(attribute);
        let sent_to = self
            .check_code(
                &s.pool.id,
                &Subject::user(&s.user),
                Some(&s.user.sub),
                &purpose,
                code,
                false,
                now,
            )
            .await?;
        let mut attributes = s.user.attributes.clone();
        // A code proves the value it was sent to, not one set afterwards; where the pool
        // verifies before updating, a code sent to a pending value makes it the value.
        if let Some(sent_to) = sent_to.filter(|v| Some(v.as_str()) != s.user.attribute(attribute)) {
            let waits = VerifiedAttribute::parse(attribute)
                .is_some_and(|a| s.pool.config.verifies_before_update(a));
            if !waits {
                return Err(UserPoolError::CodeMismatch(
                    "Invalid verification code provided, please try again.".into(),
                ));
            }
            if s.pool.config.uses_username_attributes()
                && let Some(other) = self.find_user(&s.pool, &sent_to).await?
                && other.sub != s.user.sub
            {
                return Err(UserPoolError::AliasExists(format!(
                    "An account with the given {attribute} already exists."
                )));
            }
            attributes.insert(attribute.to_owned(), sent_to);
        }
        attributes.insert(format!("{attribute}_verified"), "true".into());
        self.claim_alias(&s.pool, &s.user, attribute, &attributes, false, now)
            .await?;
        let aliases = self.aliases_for(&s.pool, &attributes);
        self.store()
            .users()
            .update_attributes(
                &s.pool.id,
                &s.user.sub,
                &stored_attributes(&attributes),
                &aliases,
                unix_millis(now),
            )
            .await?;
        self.finish_code(&s.pool.id, &s.user, &purpose).await
    }

    /// ChangePassword: the previous password must match (a wrong one counts towards the
    /// user's lockout, and a locked user is refused even with the right one); the new one
    /// meets the policy.
    pub async fn change_password(
        &self,
        access_token: &str,
        previous: &str,
        proposed: &str,
    ) -> Result<(), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        let now = self.now();
        self.check_password_policy(&s.pool, proposed)?;
        // The previous password is a password guess like a sign-in: it shares the lockout.
        let matched = self
            .check_password_as(
                super::auth_events::AuthEventKind::PasswordChange,
                &s.pool,
                &Subject::user(&s.user),
                previous,
                s.user.password_hash.as_deref(),
                now,
            )
            .await?;
        if !matched {
            return Err(UserPoolError::NotAuthorized(
                "Incorrect username or password.".into(),
            ));
        }
        let secrets = self
            .password_secrets(&s.pool, &s.user.sub, &s.user.username, proposed)
            .await?;
        let status = match s.user.status {
            UserStatus::ForceChangePassword | UserStatus::ResetRequired => UserStatus::Confirmed,
            other => other,
        };
        self.store()
            .users()
            .set_password(
                &s.pool.id,
                &s.user.sub,
                Some(&secrets.hash),
                Some(&secrets.srp_verifier),
                status.as_str(),
                unix_millis(now),
                false,
            )
            .await?;
        Ok(())
    }

    /// DeleteUser: the user and, with it, its refresh tokens, codes and memberships; every
    /// access and id token issued to it so far is refused from now on (as GlobalSignOut).
    pub async fn delete_own_user(&self, access_token: &str) -> Result<(), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.delete_and_sign_out(&s.pool.id, &s.user.sub).await
    }

    /// Deletes a user and signs it out everywhere: the sign-ins that were live (their
    /// refresh tokens go with the user) and every token issued before now are refused.
    ///
    /// Signed out first, deleted second: when the delete then fails, the user is still
    /// there, signed out, for the retry. The other way round, a sign-out failing after the
    /// delete would leave a user nobody can delete or sign out again, whose tokens the
    /// gateway accepts until they expire.
    pub(super) async fn delete_and_sign_out(
        &self,
        pool_id: &str,
        sub: &str,
    ) -> Result<(), UserPoolError> {
        let now = unix_millis(self.now());
        self.record_revocation(pool_id, RevocationKind::User, sub, now)
            .await?;
        let sessions = self.store().users().delete(pool_id, sub).await?;
        self.refuse_sessions(pool_id, &sessions, now).await
    }

    /// Refuses the access and id tokens of `sessions` (sign-ins whose refresh tokens were
    /// just revoked) and every token of the user issued before now, on every node.
    pub(super) async fn refuse_tokens(
        &self,
        pool_id: &str,
        sub: &str,
        sessions: &[String],
    ) -> Result<(), UserPoolError> {
        let now = unix_millis(self.now());
        self.refuse_sessions(pool_id, sessions, now).await?;
        self.record_revocation(pool_id, RevocationKind::User, sub, now)
            .await
    }

    /// Refuses every access and id token of `sessions` (their `origin_jti`s): the tokens of
    /// the very second of a sign-out, which the user's revocation (by `iat`) lets through.
    async fn refuse_sessions(
        &self,
        pool_id: &str,
        sessions: &[String],
        now_ms: i64,
    ) -> Result<(), UserPoolError> {
        for origin_jti in sessions {
            self.record_revocation(pool_id, RevocationKind::Session, origin_jti, now_ms)
                .await?;
        }
        Ok(())
    }

    /// GlobalSignOut: every refresh token of the user is revoked and every access token
    /// issued so far is refused.
    pub async fn global_sign_out(&self, access_token: &str) -> Result<(), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.sign_out_everywhere(&s.pool, &s.user).await?;
        // The token used here is refused too, even if issued in this very second.
        self.revoke_session(&s.pool.id, &s.claims.origin_jti).await
    }

    /// AdminUserGlobalSignOut.
    pub async fn admin_user_global_sign_out(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        self.sign_out_everywhere(&pool, &user).await
    }

    async fn sign_out_everywhere(&self, pool: &UserPool, user: &User) -> Result<(), UserPoolError> {
        let sessions = self
            .store()
            .refresh_tokens()
            .revoke_for_user(&pool.id, &user.sub, unix_millis(self.now()))
            .await?;
        self.refuse_tokens(&pool.id, &user.sub, &sessions).await
    }

    /// Ends one sign-in everywhere: its refresh tokens (every rotation of them) and every
    /// access and id token it got (a reused authorization code's tokens, see `crate::oauth2`).
    pub(crate) async fn revoke_sign_in(
        &self,
        pool_id: &str,
        origin_jti: &str,
    ) -> Result<(), UserPoolError> {
        self.store()
            .refresh_tokens()
            .revoke_family(pool_id, origin_jti, unix_millis(self.now()))
            .await?;
        self.revoke_session(pool_id, origin_jti).await
    }

    async fn revoke_session(&self, pool_id: &str, origin_jti: &str) -> Result<(), UserPoolError> {
        let now = unix_millis(self.now());
        self.record_revocation(pool_id, RevocationKind::Session, origin_jti, now)
            .await
    }

    /// RevokeToken: revokes a refresh token of `client_id` (whose secret must be given for
    /// confidential clients), every refresh token rotation handed down from the same sign-in,
    /// and every access token of that sign-in. Unknown tokens are
    /// accepted silently, as RFC 7009 asks.
    pub async fn revoke_token(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
        token: &str,
    ) -> Result<(), UserPoolError> {
        let (pool, client) = self.app_client(client_id).await?;
        if let Some(secret) = &client.secret {
            let given = client_secret.unwrap_or_default();
            if !constant_time_eq(secret.as_bytes(), given.as_bytes()) {
                return Err(UserPoolError::NotAuthorized(format!(
                    "Client {client_id} is configured with secret but the secret was not received or is wrong"
                )));
            }
        }
        if !client.config.enable_token_revocation {
            return Err(UserPoolError::NotAuthorized(
                "Token revocation is not enabled for this client".into(),
            ));
        }
        let hash = refresh_token_hash(token);
        let Some(record) = self.store().refresh_tokens().get(&hash).await? else {
            return Ok(());
        };
        if record.pool_id != pool.id || record.client_id != client.id {
            return Err(UserPoolError::NotAuthorized(
                "the token was not issued to this client".into(),
            ));
        }
        // The whole family: tokens that rotation handed down from this sign-in would
        // otherwise keep minting access tokens the session revocation refuses.
        self.store()
            .refresh_tokens()
            .revoke_family(&pool.id, &record.origin_jti, unix_millis(self.now()))
            .await?;
        self.revoke_session(&pool.id, &record.origin_jti).await
    }
}
