//! Lazy migration sources: the Cognito-compatible user pool a pool takes its missing users
//! from. Secrets arrive sealed; storage never opens them.

use crate::db::{Db, DbRow, args};
use crate::{EpochMillis, StorageError};

/// A pool's migration source as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct MigrationSourceRecord {
    pub pool_id: String,
    pub endpoint: String,
    pub region: String,
    pub upstream_pool_id: String,
    pub client_id: String,
    /// The upstream app client's secret, sealed by the caller.
    pub client_secret: Option<Vec<u8>>,
    /// The access key AdminGetUser is signed with (with [`Self::secret_access_key`]).
    pub access_key_id: Option<String>,
    /// Sealed by the caller.
    pub secret_access_key: Option<Vec<u8>>,
    pub timeout_ms: i64,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

impl std::fmt::Debug for MigrationSourceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationSourceRecord")
            .field("pool_id", &self.pool_id)
            .field("endpoint", &self.endpoint)
            .field("upstream_pool_id", &self.upstream_pool_id)
            .field("client_id", &self.client_id)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Repository of migration sources.
#[derive(Debug)]
pub struct MigrationSources<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "pool_id, endpoint, region, upstream_pool_id, client_id, client_secret,
    access_key_id, secret_access_key, timeout_ms, created_at, updated_at";

fn decode(row: &dyn DbRow) -> Result<MigrationSourceRecord, StorageError> {
    Ok(MigrationSourceRecord {
        pool_id: row.text("pool_id")?,
        endpoint: row.text("endpoint")?,
        region: row.text("region")?,
        upstream_pool_id: row.text("upstream_pool_id")?,
        client_id: row.text("client_id")?,
        client_secret: row.opt_bytes("client_secret")?,
        access_key_id: row.opt_text("access_key_id")?,
        secret_access_key: row.opt_bytes("secret_access_key")?,
        timeout_ms: row.int("timeout_ms")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

impl<'s> MigrationSources<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Sets the pool's source, replacing any previous one (its `created_at` is kept).
    /// [`StorageError::NotFound`] if the pool is missing.
    pub async fn put(&self, source: &MigrationSourceRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let pool = conn
            .fetch_optional(
                "SELECT id FROM user_pools WHERE id = $1",
                args![&source.pool_id],
                |row: &dyn DbRow| row.text("id"),
            )
            .await?;
        if pool.is_none() {
            return Err(StorageError::not_found(format!(
                "user pool `{}`",
                source.pool_id
            )));
        }
        conn.execute(
            "INSERT INTO user_pool_migration_sources (pool_id, endpoint, region,
                 upstream_pool_id, client_id, client_secret, access_key_id, secret_access_key,
                 timeout_ms, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (pool_id) DO UPDATE SET endpoint = excluded.endpoint,
                 region = excluded.region, upstream_pool_id = excluded.upstream_pool_id,
                 client_id = excluded.client_id, client_secret = excluded.client_secret,
                 access_key_id = excluded.access_key_id,
                 secret_access_key = excluded.secret_access_key,
                 timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at",
            args![
                &source.pool_id,
                &source.endpoint,
                &source.region,
                &source.upstream_pool_id,
                &source.client_id,
                &source.client_secret,
                &source.access_key_id,
                &source.secret_access_key,
                source.timeout_ms,
                source.created_at,
                source.updated_at,
            ],
        )
        .await?;
        tx.commit().await
    }

    /// The pool's source, if it has one.
    pub async fn get(&self, pool_id: &str) -> Result<Option<MigrationSourceRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM user_pool_migration_sources WHERE pool_id = $1"),
                args![pool_id],
                decode,
            )
            .await
    }

    /// Removes the pool's source; returns whether it had one.
    pub async fn delete(&self, pool_id: &str) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM user_pool_migration_sources WHERE pool_id = $1",
                args![pool_id],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }
}
