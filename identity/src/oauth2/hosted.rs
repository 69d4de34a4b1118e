//! The hosted pages' sign-in sessions: opened when a sign-in on the pages completes, found by
//! the hash of the random cookie value, consulted by `/oauth2/authorize` (`prompt`,
//! `max_age`) and ended by `/logout`.

use std::time::{Duration, SystemTime};

use gatehouse_storage::{HostedSessionRecord, RevocationKind};
use serde::{Deserialize, Serialize};

use super::{HOSTED_SESSION_LIFETIME, OAuth2, secret_hash};
use crate::time::{from_unix_millis, unix_millis};
use crate::user_pools::{User, UserPool, UserPoolError, UserPools};

/// A live hosted session and its user.
#[derive(Debug, Clone)]
pub struct HostedSession {
    /// The user, as stored now (enabled, same password as when the session opened).
    pub user: User,
    /// When the user authenticated.
    pub auth_time: SystemTime,
    /// How (`pwd`, …).
    pub amr: Vec<String>,
}

/// What storage keeps of a session beside its user.
#[derive(Debug, Serialize, Deserialize)]
struct Details {
    /// Unix ms.
    auth_time: i64,
    amr: Vec<String>,
    /// A digest of the password hash the sign-in checked: another password ends the session.
    password: String,
}

/// The digest of a user's password hash a session remembers.
fn password_digest(user: &User) -> String {
    crate::crypto::hash_token(user.password_hash.as_deref().unwrap_or(""))
}

impl OAuth2 {
    /// Opens a session for `user`, who just authenticated (`amr`) at `now`; returns the
    /// cookie value (only its hash is stored).
    pub(crate) async fn open_hosted_session(
        &self,
        pool: &UserPool,
        user: &User,
        amr: &[String],
        now: SystemTime,
    ) -> Result<String, UserPoolError> {
        let value = Self::random_token();
        let details = Details {
            auth_time: unix_millis(now),
            amr: amr.to_vec(),
            password: password_digest(user),
        };
        let details = serde_json::to_string(&details)
            .map_err(|e| UserPoolError::internal("hosted session", e))?;
        let now_ms = unix_millis(now);
        self.pools
            .store()
            .hosted_sessions()
            .insert(&HostedSessionRecord {
                id_hash: secret_hash(&value),
                pool_id: pool.id.clone(),
                sub: user.sub.clone(),
                details,
                created_at: now_ms,
                expires_at: now_ms.saturating_add(
                    i64::try_from(HOSTED_SESSION_LIFETIME.as_millis()).unwrap_or(i64::MAX),
                ),
            })
            .await?;
        Ok(value)
    }

    /// The live session of `pool` with cookie value `value`, if there is one: not expired,
    /// its user still there, enabled, with the same password and not signed out globally
    /// since the session opened.
    pub async fn hosted_session(
        &self,
        pool: &UserPool,
        value: &str,
        now: SystemTime,
    ) -> Result<Option<HostedSession>, UserPoolError> {
        if value.is_empty() || value.len() > 128 {
            return Ok(None);
        }
        let store = self.pools.store();
        let Some(record) = store.hosted_sessions().get(&secret_hash(value)).await? else {
            return Ok(None);
        };
        if record.pool_id != pool.id || record.expires_at <= unix_millis(now) {
            return Ok(None);
        }
        let Ok(details) = serde_json::from_str::<Details>(&record.details) else {
            return Ok(None);
        };
        let Some(user) = self.pools.find_user_by_sub(&pool.id, &record.sub).await? else {
            return Ok(None);
        };
        if !user.enabled || password_digest(&user) != details.password {
            return Ok(None);
        }
        // GlobalSignOut and AdminUserGlobalSignOut end hosted sessions too (Cognito's
        // survive them): a user revocation after the session opened refuses it.
        let signed_out = store
            .revocations()
            .for_token(&pool.id, "", &user.sub)
            .await?
            .iter()
            .any(|r| r.kind == RevocationKind::User && r.revoked_at >= record.created_at);
        if signed_out {
            return Ok(None);
        }
        Ok(Some(HostedSession {
            user,
            auth_time: from_unix_millis(details.auth_time),
            amr: details.amr,
        }))
    }

    /// Ends the session with cookie value `value` (`/logout`); nothing when there is none.
    pub async fn end_hosted_session(&self, value: &str) -> Result<(), UserPoolError> {
        if !value.is_empty() && value.len() <= 128 {
            self.pools
                .store()
                .hosted_sessions()
                .delete(&secret_hash(value))
                .await?;
        }
        Ok(())
    }
}

/// Deletes expired codes, sessions and grants (a minute past their expiry, so nodes with
/// clocks slightly apart agree); returns how many rows went. Run with the other purges.
pub(crate) async fn purge_expired(pools: &UserPools) -> Result<u64, UserPoolError> {
    let now = pools.now();
    let before = unix_millis(now.checked_sub(Duration::from_secs(60)).unwrap_or(now));
    let store = pools.store();
    let codes = store.auth_codes().purge_expired(before).await?;
    let sessions = store.hosted_sessions().purge_expired(before).await?;
    let grants = store.oauth_grants().purge_expired(before).await?;
    Ok(codes + sessions + grants)
}
