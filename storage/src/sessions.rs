//! Spent challenge sessions: the ids of sealed sign-in sessions and SRP secret blocks that
//! were answered, so that each is answered once, on whichever node. The sessions themselves
//! are sealed blobs the clients carry; only their ids land here, until they expire.

use crate::db::{Db, args};
use crate::{EpochMillis, StorageError};

/// Repository of spent session ids.
#[derive(Debug)]
pub struct SpentSessions<'s> {
    db: &'s Db,
}

impl<'s> SpentSessions<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Marks the session `id` spent (kept until `expires_at`); returns `false` when it
    /// already was.
    pub async fn spend(&self, id: &str, expires_at: EpochMillis) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let inserted = tx
            .conn()
            .execute(
                "INSERT INTO spent_auth_sessions (id, expires_at) VALUES ($1, $2)
                 ON CONFLICT (id) DO NOTHING",
                args![id, expires_at],
            )
            .await?;
        tx.commit().await?;
        Ok(inserted > 0)
    }

    /// Deletes the ids whose sessions expired at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: EpochMillis) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM spent_auth_sessions WHERE expires_at <= $1",
                args![now],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}
