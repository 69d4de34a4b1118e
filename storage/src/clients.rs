//! User pool clients (app clients): name, secret and the configuration document the
//! identity crate owns.

use crate::db::{Db, DbRow, args};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored app client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    pub id: String,
    pub pool_id: String,
    pub name: String,
    /// The client secret, encrypted (or hashed) by the caller; `None` for public clients.
    pub secret: Option<Vec<u8>>,
    /// JSON owned by the identity crate; storage never looks inside.
    pub config: String,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// Repository of app clients.
#[derive(Debug)]
pub struct Clients<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "id, pool_id, name, secret, config, created_at, updated_at";

impl<'s> Clients<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Adds a client (its `updated_at` is taken as given); [`StorageError::NotFound`] if
    /// the pool is missing, [`StorageError::Conflict`] if the id is taken.
    pub async fn create(&self, client: &ClientRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                format!(
                    "INSERT INTO user_pool_clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ),
                args![
                    &client.id,
                    &client.pool_id,
                    &client.name,
                    &client.secret,
                    &client.config,
                    client.created_at,
                    client.updated_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict(format!("client `{}`", client.id))
                    .on_missing(format!("user pool `{}`", client.pool_id))
            })?;
        tx.commit().await
    }

    /// The client with this id, whatever its pool: token endpoints get a client id alone.
    pub async fn get(&self, id: &str) -> Result<Option<ClientRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM user_pool_clients WHERE id = $1"),
                args![id],
                decode,
            )
            .await
    }

    /// The pool's clients in id order, `limit` at a time, after the id `after`.
    pub async fn list(
        &self,
        pool_id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<ClientRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM user_pool_clients WHERE pool_id = $1 AND id > $2
                     ORDER BY id LIMIT $3"
                ),
                args![pool_id, after.unwrap_or(""), fetch_limit(limit)],
                decode,
            )
            .await?;
        Ok(into_page(rows, limit, |client| client.id.clone()))
    }

    /// Replaces name and configuration (the secret never changes).
    pub async fn update(
        &self,
        pool_id: &str,
        id: &str,
        name: &str,
        config: &str,
        updated_at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE user_pool_clients SET name = $3, config = $4, updated_at = $5
                 WHERE pool_id = $1 AND id = $2",
                args![pool_id, id, name, config, updated_at],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("client `{id}`")));
        }
        tx.commit().await
    }

    /// Deletes the client and, by cascade, the refresh tokens issued to it.
    pub async fn delete(&self, pool_id: &str, id: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "DELETE FROM user_pool_clients WHERE pool_id = $1 AND id = $2",
                args![pool_id, id],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("client `{id}`")));
        }
        // Its hosted pages' branding goes with it (the pool's own, `ALL`, is no client).
        tx.conn()
            .execute(
                "DELETE FROM ui_customizations WHERE pool_id = $1 AND client_id = $2",
                args![pool_id, id],
            )
            .await?;
        tx.commit().await
    }
}

fn decode(row: &dyn DbRow) -> Result<ClientRecord, StorageError> {
    Ok(ClientRecord {
        id: row.text("id")?,
        pool_id: row.text("pool_id")?,
        name: row.text("name")?,
        secret: row.opt_bytes("secret")?,
        config: row.text("config")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
