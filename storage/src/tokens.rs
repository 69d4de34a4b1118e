//! Refresh tokens: stored by hash only, revocable one by one, per sign-in (the family of
//! tokens that share an `origin_jti`) or per user, and rotated: a token exchanged for a
//! successor is marked `rotated_at`, and a rotated token used again after its grace period
//! revokes its whole family.

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
    /// When it was exchanged for a successor (refresh-token rotation).
    pub rotated_at: Option<EpochMillis>,
}

/// What [`RefreshTokens::rotate`] did with a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// No token has this hash.
    Missing,
    /// The token was revoked before; nothing changed.
    Revoked(RefreshTokenRecord),
    /// The token has expired; nothing changed.
    Expired(RefreshTokenRecord),
    /// The token was rotated before and its grace period is over: every live token of its
    /// family (its `origin_jti`) is now revoked. The record is the reused token.
    Reused(RefreshTokenRecord),
    /// The token's user is disabled or gone, or its client is gone: no successor.
    Refused(RefreshTokenRecord),
    /// The successor is stored (the record), and the token is marked rotated.
    Rotated(RefreshTokenRecord),
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

const COLUMNS: &str = "token_hash, pool_id, client_id, sub, origin_jti, auth_time, created_at, expires_at, revoked_at, rotated_at";

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
                     SELECT $1, u.pool_id, c.id, u.sub, $5, $6, $7, $8, $9, $13
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
                    token.rotated_at,
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

    /// Revokes every live token of one sign-in (the tokens sharing `origin_jti`, which
    /// rotation hands down); returns how many were live.
    pub async fn revoke_family(
        &self,
        pool_id: &str,
        origin_jti: &str,
        at: EpochMillis,
    ) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let revoked = revoke_family(&mut tx.conn(), pool_id, origin_jti, at).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Exchanges the token `token_hash` for a successor `successor_hash` at `now`, in one
    /// transaction: the successor inherits pool, client, user, `origin_jti`, `auth_time`
    /// and `expires_at` (a sign-in lives no longer for being rotated), and the token is
    /// marked rotated (its first rotation time is kept). A token rotated before is rotated
    /// again only within `grace_ms` of its first rotation (a client retrying a request
    /// whose answer it lost); later, or with no grace at all, it is a reuse and the whole
    /// family is revoked instead ([`Rotation::Reused`]).
    ///
    /// The successor is stored only while the user is enabled (and the client exists): a
    /// disable, a delete or a password reset on another node either commits first (and the
    /// token is found revoked or the user refused) or waits for this transaction and then
    /// revokes the successor too. On PostgreSQL the user's row is locked (shared) before the
    /// token's (for update), the order every writer of both keeps.
    pub async fn rotate(
        &self,
        token_hash: &[u8],
        successor_hash: &[u8],
        now: EpochMillis,
        grace_ms: EpochMillis,
    ) -> Result<Rotation, StorageError> {
        let Some(seen) = self.get(token_hash).await? else {
            return Ok(Rotation::Missing);
        };
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        if self.db.backend() == Backend::Postgres {
            conn.execute(
                "SELECT 1 FROM users WHERE pool_id = $1 AND sub = $2 FOR SHARE",
                args![&seen.pool_id, &seen.sub],
            )
            .await?;
        }
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let Some(token) = conn
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM refresh_tokens WHERE token_hash = $1{lock}"),
                args![token_hash],
                decode,
            )
            .await?
        else {
            return Ok(Rotation::Missing);
        };
        if token.revoked_at.is_some() {
            return Ok(Rotation::Revoked(token));
        }
        if token.expires_at <= now {
            return Ok(Rotation::Expired(token));
        }
        if let Some(rotated_at) = token.rotated_at
            && !(grace_ms > 0 && now < rotated_at.saturating_add(grace_ms))
        {
            revoke_family(&mut conn, &token.pool_id, &token.origin_jti, now).await?;
            tx.commit().await?;
            return Ok(Rotation::Reused(token));
        }
        let successor = RefreshTokenRecord {
            token_hash: successor_hash.to_vec(),
            created_at: now,
            revoked_at: None,
            rotated_at: None,
            ..token.clone()
        };
        let inserted = conn
            .execute(
                format!(
                    "INSERT INTO refresh_tokens ({COLUMNS})
                     SELECT $1, u.pool_id, c.id, u.sub, $5, $6, $7, $8, NULL, NULL
                     FROM users u JOIN user_pool_clients c ON c.pool_id = u.pool_id
                     WHERE u.pool_id = $2 AND c.id = $3 AND u.sub = $4 AND u.enabled = $9"
                ),
                args![
                    &successor.token_hash,
                    &successor.pool_id,
                    &successor.client_id,
                    &successor.sub,
                    &successor.origin_jti,
                    successor.auth_time,
                    successor.created_at,
                    successor.expires_at,
                    true,
                ],
            )
            .await
            .map_err(|e| e.on_conflict("refresh token"))?;
        if inserted == 0 {
            return Ok(Rotation::Refused(token));
        }
        conn.execute(
            "UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1 AND rotated_at IS NULL",
            args![token_hash, now],
        )
        .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated(successor))
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
        rotated_at: row.opt_int("rotated_at")?,
    })
}

/// Revokes the live tokens of the family `origin_jti`; returns how many.
async fn revoke_family(
    conn: &mut crate::db::Conn<'_>,
    pool_id: &str,
    origin_jti: &str,
    at: EpochMillis,
) -> Result<u64, StorageError> {
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $3
         WHERE origin_jti = $2 AND pool_id = $1 AND revoked_at IS NULL",
        args![pool_id, origin_jti, at],
    )
    .await
}
