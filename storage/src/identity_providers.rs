//! Federation: the pools' upstream identity providers (CreateIdentityProvider) and the links
//! from an upstream identity (provider name, its subject) to the pool user it signs in as.
//!
//! JSON columns (`details`, `attribute_mapping`, `idp_identifiers`) belong to the identity
//! crate; storage never looks inside. The client secret inside `details` arrives sealed.

use crate::db::{Db, DbRow, args};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored identity provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityProviderRecord {
    pub pool_id: String,
    /// `ProviderName`, unique in the pool.
    pub name: String,
    /// `ProviderType` (`OIDC`, `Google`).
    pub provider_type: String,
    /// JSON owned by the identity crate.
    pub details: String,
    /// JSON owned by the identity crate.
    pub attribute_mapping: String,
    /// JSON owned by the identity crate.
    pub idp_identifiers: String,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// The pool user an upstream identity signs in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderLinkRecord {
    pub pool_id: String,
    /// `ProviderName`.
    pub provider: String,
    /// The upstream subject (`sub`, or the attribute the link names).
    pub subject: String,
    /// The pool user's `sub`.
    pub user_sub: String,
    pub created_at: EpochMillis,
}

/// Repository of identity providers and provider links.
#[derive(Debug)]
pub struct IdentityProviders<'s> {
    db: &'s Db,
}

const IDP_COLUMNS: &str = "pool_id, name, provider_type, details, attribute_mapping, \
                           idp_identifiers, created_at, updated_at";

impl<'s> IdentityProviders<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Adds a provider; [`StorageError::Conflict`] if the pool has one of that name,
    /// [`StorageError::NotFound`] if the pool is missing.
    pub async fn create(&self, idp: &IdentityProviderRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                format!(
                    "INSERT INTO identity_providers ({IDP_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                args![
                    &idp.pool_id,
                    &idp.name,
                    &idp.provider_type,
                    &idp.details,
                    &idp.attribute_mapping,
                    &idp.idp_identifiers,
                    idp.created_at,
                    idp.updated_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict(format!("identity provider `{}`", idp.name))
                    .on_missing(format!("user pool `{}`", idp.pool_id))
            })?;
        tx.commit().await
    }

    /// The pool's provider of this name.
    pub async fn get(
        &self,
        pool_id: &str,
        name: &str,
    ) -> Result<Option<IdentityProviderRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {IDP_COLUMNS} FROM identity_providers WHERE pool_id = $1 AND name = $2"
                ),
                args![pool_id, name],
                decode_idp,
            )
            .await
    }

    /// Replaces details, mapping and identifiers; [`StorageError::NotFound`] if there is no
    /// such provider.
    pub async fn update(&self, idp: &IdentityProviderRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE identity_providers
                 SET details = $3, attribute_mapping = $4, idp_identifiers = $5, updated_at = $6
                 WHERE pool_id = $1 AND name = $2",
                args![
                    &idp.pool_id,
                    &idp.name,
                    &idp.details,
                    &idp.attribute_mapping,
                    &idp.idp_identifiers,
                    idp.updated_at,
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!(
                "identity provider `{}`",
                idp.name
            )));
        }
        tx.commit().await
    }

    /// The pool's providers in name order, `limit` at a time, after `after`.
    pub async fn list(
        &self,
        pool_id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<IdentityProviderRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let items = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {IDP_COLUMNS} FROM identity_providers
                     WHERE pool_id = $1 AND ($2 IS NULL OR name > $2)
                     ORDER BY name LIMIT $3"
                ),
                args![pool_id, after, fetch_limit(limit)],
                decode_idp,
            )
            .await?;
        Ok(into_page(items, limit, |r| r.name.clone()))
    }

    /// Every provider of the pool, in name order.
    pub async fn all(&self, pool_id: &str) -> Result<Vec<IdentityProviderRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {IDP_COLUMNS} FROM identity_providers WHERE pool_id = $1 ORDER BY name"
                ),
                args![pool_id],
                decode_idp,
            )
            .await
    }

    /// Deletes one; [`StorageError::NotFound`] if there is no such provider. Links stay:
    /// users made by the provider keep their identities (as in Cognito).
    pub async fn delete(&self, pool_id: &str, name: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM identity_providers WHERE pool_id = $1 AND name = $2",
                args![pool_id, name],
            )
            .await?;
        if deleted == 0 {
            return Err(StorageError::not_found(format!(
                "identity provider `{name}`"
            )));
        }
        tx.commit().await
    }

    // --- links ---

    /// The user an upstream identity signs in as.
    pub async fn link(
        &self,
        pool_id: &str,
        provider: &str,
        subject: &str,
    ) -> Result<Option<ProviderLinkRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT pool_id, provider, subject, user_sub, created_at
                 FROM identity_provider_links
                 WHERE pool_id = $1 AND provider = $2 AND subject = $3",
                args![pool_id, provider, subject],
                decode_link,
            )
            .await
    }

    /// Every upstream identity linked to the user `user_sub`.
    pub async fn links_of(
        &self,
        pool_id: &str,
        user_sub: &str,
    ) -> Result<Vec<ProviderLinkRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT pool_id, provider, subject, user_sub, created_at
                 FROM identity_provider_links
                 WHERE pool_id = $1 AND user_sub = $2 ORDER BY provider, subject",
                args![pool_id, user_sub],
                decode_link,
            )
            .await
    }

    /// Links an upstream identity to a user; [`StorageError::Conflict`] if the identity is
    /// already linked (to anyone), [`StorageError::NotFound`] if the user is gone.
    pub async fn add_link(&self, link: &ProviderLinkRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                "INSERT INTO identity_provider_links
                     (pool_id, provider, subject, user_sub, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                args![
                    &link.pool_id,
                    &link.provider,
                    &link.subject,
                    &link.user_sub,
                    link.created_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict(format!("link of `{}`", link.provider))
                    .on_missing(format!("user `{}`", link.user_sub))
            })?;
        tx.commit().await
    }

    /// Removes an upstream identity's link; whether there was one.
    pub async fn remove_link(
        &self,
        pool_id: &str,
        provider: &str,
        subject: &str,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM identity_provider_links
                 WHERE pool_id = $1 AND provider = $2 AND subject = $3",
                args![pool_id, provider, subject],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }
}

fn decode_idp(row: &dyn DbRow) -> Result<IdentityProviderRecord, StorageError> {
    Ok(IdentityProviderRecord {
        pool_id: row.text("pool_id")?,
        name: row.text("name")?,
        provider_type: row.text("provider_type")?,
        details: row.text("details")?,
        attribute_mapping: row.text("attribute_mapping")?,
        idp_identifiers: row.text("idp_identifiers")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

fn decode_link(row: &dyn DbRow) -> Result<ProviderLinkRecord, StorageError> {
    Ok(ProviderLinkRecord {
        pool_id: row.text("pool_id")?,
        provider: row.text("provider")?,
        subject: row.text("subject")?,
        user_sub: row.text("user_sub")?,
        created_at: row.int("created_at")?,
    })
}
