//! Service settings: a small key-value table for node-wide records such as the operator
//! credentials, written once by whichever node starts first.

use crate::db::{Db, args};
use crate::{EpochMillis, StorageError};

/// Repository of service settings.
#[derive(Debug)]
pub struct Settings<'s> {
    db: &'s Db,
}

impl<'s> Settings<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    pub async fn get(&self, name: &str) -> Result<Option<String>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT value FROM service_settings WHERE name = $1",
                args![name],
                |row| row.text("value"),
            )
            .await
    }

    /// Sets `name` to `value`, replacing any previous value.
    pub async fn put(&self, name: &str, value: &str, now: EpochMillis) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                "INSERT INTO service_settings (name, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value,
                                                  updated_at = excluded.updated_at",
                args![name, value, now],
            )
            .await?;
        tx.commit().await
    }

    /// Stores `value` unless `name` already has one, and returns the value that is stored
    /// now: when several nodes start at once, all of them end up with the first one's.
    pub async fn get_or_insert(
        &self,
        name: &str,
        value: &str,
        now: EpochMillis,
    ) -> Result<String, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "INSERT INTO service_settings (name, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
            args![name, value, now],
        )
        .await?;
        let stored = conn
            .fetch_optional(
                "SELECT value FROM service_settings WHERE name = $1",
                args![name],
                |row| row.text("value"),
            )
            .await?
            .ok_or_else(|| StorageError::not_found(format!("setting `{name}`")))?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Removes `name`; returns whether it existed.
    pub async fn delete(&self, name: &str) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute("DELETE FROM service_settings WHERE name = $1", args![name])
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }
}
