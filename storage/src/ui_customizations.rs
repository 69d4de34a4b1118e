//! The hosted pages' branding (SetUICustomization / GetUICustomization): a pool's own
//! (`client_id` = `ALL`) and each app client's, with the CSS as given and the logo's bytes.
//!
//! The CSS arrives already checked by the identity crate; the logo with its media type and
//! hash already worked out. Storage only keeps and finds them.

use crate::db::{Db, DbRow, args};
use crate::{EpochMillis, StorageError};

/// One pool's or app client's branding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiCustomizationRecord {
    pub pool_id: String,
    /// The app client, or `ALL` for the pool's own.
    pub client_id: String,
    pub css: Option<String>,
    /// How many times this row's CSS was set (1 at the first).
    pub css_version: i64,
    /// The logo, when there is one.
    pub logo: Option<UiLogo>,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// A logo image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiLogo {
    /// Its media type, as worked out from its bytes (`image/png`, `image/jpeg`).
    pub media_type: String,
    /// Hex SHA-256 of `bytes`: the logo's address.
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// Repository of UI customizations.
#[derive(Debug)]
pub struct UiCustomizations<'s> {
    db: &'s Db,
}

const COLUMNS: &str =
    "pool_id, client_id, css, css_version, image, image_type, image_hash, created_at, updated_at";

impl<'s> UiCustomizations<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Sets the branding of `(pool_id, client_id)`, replacing CSS and logo together (as
    /// SetUICustomization does); `created_at` is kept from the first time, `css_version`
    /// counts up. The stored row. [`StorageError::NotFound`] if the pool is missing.
    pub async fn put(
        &self,
        pool_id: &str,
        client_id: &str,
        css: Option<&str>,
        logo: Option<&UiLogo>,
        now: EpochMillis,
    ) -> Result<UiCustomizationRecord, StorageError> {
        let mut tx = self.db.write().await?;
        let row = tx
            .conn()
            .fetch_optional(
                format!(
                    "INSERT INTO ui_customizations ({COLUMNS})
                     VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $7)
                     ON CONFLICT (pool_id, client_id) DO UPDATE SET
                         css = excluded.css,
                         css_version = ui_customizations.css_version + 1,
                         image = excluded.image,
                         image_type = excluded.image_type,
                         image_hash = excluded.image_hash,
                         updated_at = excluded.updated_at
                     RETURNING {COLUMNS}"
                ),
                args![
                    pool_id,
                    client_id,
                    css,
                    logo.map(|l| l.bytes.as_slice()),
                    logo.map(|l| l.media_type.as_str()),
                    logo.map(|l| l.hash.as_str()),
                    now,
                ],
                decode,
            )
            .await
            .map_err(|e| e.on_missing(format!("user pool `{pool_id}`")))?;
        let row = row.ok_or_else(|| StorageError::not_found(format!("user pool `{pool_id}`")))?;
        tx.commit().await?;
        Ok(row)
    }

    /// The branding stored for exactly `(pool_id, client_id)`.
    pub async fn get(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<UiCustomizationRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {COLUMNS} FROM ui_customizations WHERE pool_id = $1 AND client_id = $2"
                ),
                args![pool_id, client_id],
                decode,
            )
            .await
    }

    /// What applies to `client_id`'s pages: its own row, else the pool's (`ALL`).
    pub async fn effective(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<UiCustomizationRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {COLUMNS} FROM ui_customizations
                     WHERE pool_id = $1 AND client_id IN ($2, 'ALL')
                     ORDER BY CASE WHEN client_id = 'ALL' THEN 1 ELSE 0 END
                     LIMIT 1"
                ),
                args![pool_id, client_id],
                decode,
            )
            .await
    }

    /// A logo of the pool by its hash (any row that has it).
    pub async fn logo(&self, pool_id: &str, hash: &str) -> Result<Option<UiLogo>, StorageError> {
        let mut lease = self.db.read().await?;
        let found = lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {COLUMNS} FROM ui_customizations
                     WHERE pool_id = $1 AND image_hash = $2 LIMIT 1"
                ),
                args![pool_id, hash],
                decode,
            )
            .await?;
        Ok(found.and_then(|r| r.logo))
    }
}

fn decode(row: &dyn DbRow) -> Result<UiCustomizationRecord, StorageError> {
    let logo = match (
        row.opt_bytes("image")?,
        row.opt_text("image_type")?,
        row.opt_text("image_hash")?,
    ) {
        (Some(bytes), Some(media_type), Some(hash)) => Some(UiLogo {
            media_type,
            hash,
            bytes,
        }),
        _ => None,
    };
    Ok(UiCustomizationRecord {
        pool_id: row.text("pool_id")?,
        client_id: row.text("client_id")?,
        css: row.opt_text("css")?,
        css_version: row.int("css_version")?,
        logo,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
