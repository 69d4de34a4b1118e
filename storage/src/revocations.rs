//! Token revocations: sign-ins (`origin_jti`) and users (`sub`) whose access and id tokens
//! are refused until they expire, with a change feed (`seq`) that other nodes poll.
//!
//! `seq` grows with every write and is never reused, and writers are serialized (SQLite's
//! write lock; on PostgreSQL a transaction-scoped advisory lock), so a row with a higher
//! `seq` is never visible before one with a lower `seq`: a poller that remembers the highest
//! `seq` it has seen and asks for [`Revocations::changes_after`] it never skips a row.

use crate::db::{Db, DbRow, args};
use crate::{Backend, EpochMillis, StorageError};

/// What a revocation refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationKind {
    /// Every token of one sign-in: the subject is its `origin_jti`.
    Session,
    /// Every token of one user issued before `revoked_at`: the subject is its `sub`.
    User,
}

/// A stored revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationRecord {
    /// Position in the change feed: higher for every later write.
    pub seq: i64,
    pub pool_id: String,
    pub kind: RevocationKind,
    /// The `origin_jti` ([`RevocationKind::Session`]) or `sub` ([`RevocationKind::User`]).
    pub subject: String,
    pub revoked_at: EpochMillis,
    /// After this, no token the row could refuse is still valid: it may be purged.
    pub expires_at: EpochMillis,
}

/// Repository of token revocations.
#[derive(Debug)]
pub struct Revocations<'s> {
    db: &'s Db,
}

/// Any fixed number, distinct from the migration lock: writers of `token_revocations` on
/// PostgreSQL hold it until they commit, so `seq` order is commit order.
const POSTGRES_REVOCATION_LOCK: i64 = 0x6761_7465_7265_766b;

const COLUMNS: &str = "seq, pool_id, kind, subject, revoked_at, expires_at";

// === impl RevocationKind ===

impl RevocationKind {
    /// The stored name: `session` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::User => "user",
        }
    }

    fn parse(s: &str) -> Result<Self, StorageError> {
        match s {
            "session" => Ok(Self::Session),
            "user" => Ok(Self::User),
            other => Err(StorageError::corrupt(format!("revocation kind `{other}`"))),
        }
    }
}

// === impl Revocations ===

impl<'s> Revocations<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Records that `subject` of `kind` in `pool_id` is revoked, and returns the row as stored
    /// now. Revoking again keeps the later `revoked_at` and the later `expires_at`; when that
    /// changes the row, it moves to a new `seq` so pollers see it, and when the stored row
    /// already covers the new one (a repeated revocation, or one stamped by a node whose
    /// clock is behind) nothing is written.
    pub async fn record(
        &self,
        pool_id: &str,
        kind: RevocationKind,
        subject: &str,
        revoked_at: EpochMillis,
        expires_at: EpochMillis,
    ) -> Result<RevocationRecord, StorageError> {
        let mut tx = self.db.write().await?;
        if self.db.backend() == Backend::Postgres {
            tx.conn()
                .execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    args![POSTGRES_REVOCATION_LOCK],
                )
                .await?;
        }
        let stored = tx
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {COLUMNS} FROM token_revocations
                     WHERE pool_id = $1 AND kind = $2 AND subject = $3"
                ),
                args![pool_id, kind.as_str(), subject],
                decode,
            )
            .await?;
        let (revoked_at, expires_at) = match &stored {
            Some(old) if old.revoked_at >= revoked_at && old.expires_at >= expires_at => {
                let old = old.clone();
                tx.commit().await?;
                return Ok(old);
            }
            Some(old) => (
                old.revoked_at.max(revoked_at),
                old.expires_at.max(expires_at),
            ),
            None => (revoked_at, expires_at),
        };
        // Deleted and inserted rather than updated: the row needs a new `seq`, which neither
        // backend hands out to an UPDATE.
        if stored.is_some() {
            tx.conn().execute(
                "DELETE FROM token_revocations WHERE pool_id = $1 AND kind = $2 AND subject = $3",
                args![pool_id, kind.as_str(), subject],
            )
            .await?;
        }
        let row = tx
            .conn()
            .fetch_optional(
                format!(
                    "INSERT INTO token_revocations (pool_id, kind, subject, revoked_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
                ),
                args![pool_id, kind.as_str(), subject, revoked_at, expires_at],
                decode,
            )
            .await?
            .ok_or_else(|| StorageError::corrupt("token revocation insert returned no row"))?;
        tx.commit().await?;
        Ok(row)
    }

    /// The revocations that could refuse one token: its sign-in's (`origin_jti`) and its
    /// user's (`sub`), expired or not, in one query.
    pub async fn for_token(
        &self,
        pool_id: &str,
        origin_jti: &str,
        sub: &str,
    ) -> Result<Vec<RevocationRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM token_revocations
                     WHERE pool_id = $1 AND kind = 'session' AND subject = $2
                     UNION ALL
                     SELECT {COLUMNS} FROM token_revocations
                     WHERE pool_id = $1 AND kind = 'user' AND subject = $3"
                ),
                args![pool_id, origin_jti, sub],
                decode,
            )
            .await
    }

    /// Every revocation that has not expired at `now`, in `seq` order: what a node loads at
    /// start. The highest `seq` returned is where its polling continues.
    pub async fn load_unexpired(
        &self,
        now: EpochMillis,
    ) -> Result<Vec<RevocationRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM token_revocations WHERE expires_at > $1 ORDER BY seq"
                ),
                args![now],
                decode,
            )
            .await
    }

    /// At most `limit` (1..=10 000) rows with a `seq` above `after`, in `seq` order, expired
    /// ones included (the caller knows its clock); fewer than `limit` means the feed is read
    /// to its end.
    pub async fn changes_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<RevocationRecord>, StorageError> {
        let limit = i64::from(limit.clamp(1, 10_000));
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM token_revocations WHERE seq > $1 ORDER BY seq LIMIT $2"
                ),
                args![after, limit],
                decode,
            )
            .await
    }

    /// Deletes the revocations that expired at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: EpochMillis) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM token_revocations WHERE expires_at <= $1",
                args![now],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

fn decode(row: &dyn DbRow) -> Result<RevocationRecord, StorageError> {
    Ok(RevocationRecord {
        seq: row.int("seq")?,
        pool_id: row.text("pool_id")?,
        kind: RevocationKind::parse(&row.text("kind")?)?,
        subject: row.text("subject")?,
        revoked_at: row.int("revoked_at")?,
        expires_at: row.int("expires_at")?,
    })
}
