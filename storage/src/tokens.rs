//! Refresh tokens: stored by hash only, revocable one by one or per user.

use crate::db::{Db, DbRow, args};
use crate::{Backend, EpochMillis, StorageError};

/// A stored refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// A hash of the opaque token (the caller hashes; storage never sees the token).
    pub token_hash: Vec<u8>,
    pub pool_id: String,
    pub client_id: String,
    pub sub: String,
    /// The `origin_jti` that every token refreshed from it carries.
    pub origin_jti: String,
    /// When the user authenticated; survives refreshes.
    pub auth_time: EpochMillis,
    pub created_at: EpochMillis,
    pub expires_at: EpochMillis,
    pub revoked_at: Option<EpochMillis>,
}

/// What a sign-in checked of its user before storing its refresh token
/// ([`RefreshTokens::insert`]): the token is stored only while the user still has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedInAs<'a> {
    /// The status the sign-in found (`CONFIRMED`).
    pub status: &'a str,
    /// The password hash the sign-in's password was checked against.
    pub password_hash: Option<&'a str>,
}

/// Repository of refresh tokens.
#[derive(Debug)]
pub struct RefreshTokens<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "token_hash, pool_id, client_id, sub, origin_jti, auth_time, created_at, expires_at, revoked_at";

impl<'s> RefreshTokens<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Stores a new sign-in's token, for a user still as the sign-in `checked` it: enabled,
    /// with that status and that password hash. [`StorageError::NotFound`] if the user is
    /// missing or has changed so, or the client is missing, or either is not in the pool.
    ///
    /// A disable, a delete, a password reset or a demand for one running at the same time on
    /// another node either commits first (and the token is refused here) or waits for this
    /// insert and then revokes or deletes the token (and names its sign-in): no sign-in
    /// outlives them unnoticed. SQLite's write lock orders the two; on PostgreSQL the user's
    /// row is locked (shared) first, since the insert's own read would not wait for a change
    /// that has not committed yet.
    pub async fn insert(
        &self,
        token: &RefreshTokenRecord,
        checked: SignedInAs<'_>,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        if self.db.backend() == Backend::Postgres {
            conn.execute(
                "SELECT 1 FROM users WHERE pool_id = $1 AND sub = $2 FOR SHARE",
                args![&token.pool_id, &token.sub],
            )
            .await?;
        }
        // Selecting through users and clients keeps all three in the same pool.
        let inserted = conn
            .execute(
                format!(
                    "INSERT INTO refresh_tokens ({COLUMNS})
                     SELECT $1, u.pool_id, c.id, u.sub, $5, $6, $7, $8, $9
                     FROM users u JOIN user_pool_clients c ON c.pool_id = u.pool_id
                     WHERE u.pool_id = $2 AND c.id = $3 AND u.sub = $4 AND u.enabled = $10
                       AND u.status = $11
                       AND (u.password_hash = $12 OR (u.password_hash IS NULL AND $12 IS NULL))"
                ),
                args![
                    &token.token_hash,
                    &token.pool_id,
                    &token.client_id,
                    &token.sub,
                    &token.origin_jti,
                    token.auth_time,
                    token.created_at,
                    token.expires_at,
                    token.revoked_at,
                    true,
                    checked.status,
                    checked.password_hash,
                ],
            )
            .await
            .map_err(|e| e.on_conflict("refresh token"))?;
        if inserted == 0 {
            return Err(StorageError::not_found(format!(
                "user `{}` as signed in, or client `{}`",
                token.sub, token.client_id
            )));
        }
        tx.commit().await
    }

    /// The token with this hash, revoked or expired ones included: the caller decides.
    pub async fn get(&self, token_hash: &[u8]) -> Result<Option<RefreshTokenRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM refresh_tokens WHERE token_hash = $1"),
                args![token_hash],
                decode,
            )
            .await
    }

    /// Revokes one token; `Ok(false)` if it does not exist or already was revoked.
    pub async fn revoke(&self, token_hash: &[u8], at: EpochMillis) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let revoked = tx
            .conn()
            .execute(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
                args![token_hash, at],
            )
            .await?;
        tx.commit().await?;
        Ok(revoked > 0)
    }

    /// Revokes every live token of the user (global sign-out); returns the `origin_jti` of
    /// each, i.e. the sign-in sessions that just ended, so their access tokens can be refused.
    pub async fn revoke_for_user(
        &self,
        pool_id: &str,
        sub: &str,
        at: EpochMillis,
    ) -> Result<Vec<String>, StorageError> {
        let mut tx = self.db.write().await?;
        let origins = tx
            .conn()
            .fetch_all(
                "UPDATE refresh_tokens SET revoked_at = $3
                 WHERE sub = $2 AND pool_id = $1 AND revoked_at IS NULL
                 RETURNING origin_jti",
                args![pool_id, sub, at],
                |row| row.text("origin_jti"),
            )
            .await?;
        tx.commit().await?;
        Ok(origins)
    }

    /// Deletes tokens that expired at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: EpochMillis) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM refresh_tokens WHERE expires_at <= $1",
                args![now],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

fn decode(row: &dyn DbRow) -> Result<RefreshTokenRecord, StorageError> {
    Ok(RefreshTokenRecord {
        token_hash: row.bytes("token_hash")?,
        pool_id: row.text("pool_id")?,
        client_id: row.text("client_id")?,
        sub: row.text("sub")?,
        origin_jti: row.text("origin_jti")?,
        auth_time: row.int("auth_time")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        revoked_at: row.opt_int("revoked_at")?,
    })
}
