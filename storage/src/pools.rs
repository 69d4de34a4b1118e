//! User pools: the id, the name and the configuration document the identity crate owns.

use crate::db::{Db, DbRow, args};
use crate::keys::{SigningKeyRecord, insert_key};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored user pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPoolRecord {
    pub id: String,
    pub name: String,
    /// JSON owned by the identity crate; storage never looks inside.
    pub config: String,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// What [`UserPools::create`] writes: the pool and, in the same transaction, its first
/// signing keys, so that no node ever sees a pool it cannot sign tokens for.
#[derive(Clone, Debug)]
pub struct NewUserPool {
    pub id: String,
    pub name: String,
    pub config: String,
    pub created_at: EpochMillis,
    pub signing_keys: Vec<SigningKeyRecord>,
}

/// Repository of user pools.
#[derive(Debug)]
pub struct UserPools<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "id, name, config, created_at, updated_at";

// === impl UserPools ===

impl<'s> UserPools<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Creates the pool and its signing keys; [`StorageError::Conflict`] if the id (or a
    /// key id) is taken.
    pub async fn create(&self, pool: &NewUserPool) -> Result<UserPoolRecord, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "INSERT INTO user_pools (id, name, config, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)",
            args![&pool.id, &pool.name, &pool.config, pool.created_at],
        )
        .await
        .map_err(|e| e.on_conflict(format!("user pool `{}`", pool.id)))?;
        for key in &pool.signing_keys {
            if key.pool_id != pool.id {
                return Err(StorageError::invalid(
                    "signing key: it belongs to another pool",
                ));
            }
            insert_key(&mut conn, key).await?;
        }
        tx.commit().await?;
        Ok(UserPoolRecord {
            id: pool.id.clone(),
            name: pool.name.clone(),
            config: pool.config.clone(),
            created_at: pool.created_at,
            updated_at: pool.created_at,
        })
    }

    pub async fn get(&self, id: &str) -> Result<Option<UserPoolRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT id, name, config, created_at, updated_at FROM user_pools WHERE id = $1",
                args![id],
                decode,
            )
            .await
    }

    /// Pools in id order, `limit` at a time, starting after the id `after`.
    pub async fn list(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<UserPoolRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!("SELECT {COLUMNS} FROM user_pools WHERE id > $1 ORDER BY id LIMIT $2"),
                args![after.unwrap_or(""), fetch_limit(limit)],
                decode,
            )
            .await?;
        Ok(into_page(rows, limit, |pool| pool.id.clone()))
    }

    /// Pools whose id starts with `prefix` (a region's `us-west-2_`), in id order, `limit` at
    /// a time, starting after the id `after`: one index range.
    pub async fn list_with_prefix(
        &self,
        prefix: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<UserPoolRecord>, StorageError> {
        let start = match after {
            Some(after) if after > prefix => after,
            _ => prefix,
        };
        // The first string past every id with the prefix: the prefix with its last
        // character's successor (region prefixes are ASCII and end in `_`).
        let mut upper: Vec<char> = prefix.chars().collect();
        let last = upper
            .pop()
            .and_then(|c| char::from_u32(u32::from(c) + 1))
            .ok_or_else(|| StorageError::invalid("pool id prefix"))?;
        upper.push(last);
        let upper: String = upper.into_iter().collect();
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM user_pools WHERE id > $1 AND id < $2
                     ORDER BY id LIMIT $3"
                ),
                args![start, &upper, fetch_limit(limit)],
                decode,
            )
            .await?;
        Ok(into_page(rows, limit, |pool| pool.id.clone()))
    }

    /// Replaces the name and configuration; [`StorageError::NotFound`] if there is no
    /// such pool.
    pub async fn update(
        &self,
        id: &str,
        name: &str,
        config: &str,
        updated_at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE user_pools SET name = $2, config = $3, updated_at = $4 WHERE id = $1",
                args![id, name, config, updated_at],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("user pool `{id}`")));
        }
        tx.commit().await
    }

    /// Deletes the pool and, by cascade, everything in it (clients, users, groups, codes,
    /// tokens, keys).
    pub async fn delete(&self, id: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute("DELETE FROM user_pools WHERE id = $1", args![id])
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("user pool `{id}`")));
        }
        tx.commit().await
    }
}

fn decode(row: &dyn DbRow) -> Result<UserPoolRecord, StorageError> {
    Ok(UserPoolRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        config: row.text("config")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
