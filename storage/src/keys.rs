//! Token signing keys per pool: the private key (encrypted by the caller), its public JWK,
//! and the retirement times that keep an old key in the JWKS until its tokens expire.

use crate::db::{Conn, Db, DbRow, args};
use crate::{EpochMillis, StorageError};

/// Which tokens a key signs: Cognito signs ID and access tokens with different keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    Id,
    Access,
}

/// A stored signing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub pool_id: String,
    pub purpose: KeyPurpose,
    /// JWS algorithm, e.g. `RS256`.
    pub algorithm: String,
    /// The private key, encrypted by the caller under the master key.
    pub private_key: Vec<u8>,
    /// The public half as a JWK document, served in the JWKS.
    pub public_jwk: String,
    pub created_at: EpochMillis,
    /// When a newer key took over signing; `None` for the key that signs now.
    pub retired_at: Option<EpochMillis>,
    /// After this time no token signed by the key is still valid, so it may leave the JWKS.
    pub not_after: Option<EpochMillis>,
}

/// Repository of signing keys.
#[derive(Debug)]
pub struct SigningKeys<'s> {
    db: &'s Db,
}

const COLUMNS: &str =
    "kid, pool_id, purpose, algorithm, private_key, public_jwk, created_at, retired_at, not_after";

// === impl KeyPurpose ===

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Access => "access",
        }
    }

    fn parse(text: &str) -> Result<Self, StorageError> {
        match text {
            "id" => Ok(Self::Id),
            "access" => Ok(Self::Access),
            _ => Err(StorageError::corrupt(format!(
                "signing key purpose `{text}`"
            ))),
        }
    }
}

// === impl SigningKeys ===

impl<'s> SigningKeys<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Adds a key; [`StorageError::NotFound`] if the pool is missing,
    /// [`StorageError::Conflict`] if the kid is taken.
    pub async fn insert(&self, key: &SigningKeyRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        insert_key(&mut tx.conn(), key).await?;
        tx.commit().await
    }

    /// Every key of the pool, retired ones included, oldest first.
    pub async fn list(&self, pool_id: &str) -> Result<Vec<SigningKeyRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM signing_keys WHERE pool_id = $1
                     ORDER BY created_at, kid"
                ),
                args![pool_id],
                decode,
            )
            .await
    }

    /// Makes `key` the signing key of its pool and purpose: in one transaction, every
    /// active key of that pool and purpose is retired at `retired_at` with `not_after`,
    /// and `key` is added. Returns how many keys were retired.
    pub async fn rotate(
        &self,
        key: &SigningKeyRecord,
        retired_at: EpochMillis,
        not_after: EpochMillis,
    ) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let retired = conn
            .execute(
                "UPDATE signing_keys SET retired_at = $3, not_after = $4
                 WHERE pool_id = $1 AND purpose = $2 AND retired_at IS NULL",
                args![&key.pool_id, key.purpose.as_str(), retired_at, not_after],
            )
            .await?;
        insert_key(&mut conn, key).await?;
        tx.commit().await?;
        Ok(retired)
    }

    /// Deletes keys whose `not_after` has passed; returns how many.
    pub async fn purge_expired(&self, now: EpochMillis) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM signing_keys WHERE not_after IS NOT NULL AND not_after <= $1",
                args![now],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

pub(crate) async fn insert_key(
    conn: &mut Conn<'_>,
    key: &SigningKeyRecord,
) -> Result<(), StorageError> {
    conn.execute(
        format!("INSERT INTO signing_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
        args![
            &key.kid,
            &key.pool_id,
            key.purpose.as_str(),
            &key.algorithm,
            &key.private_key,
            &key.public_jwk,
            key.created_at,
            key.retired_at,
            key.not_after,
        ],
    )
    .await
    .map_err(|e| {
        e.on_conflict(format!("signing key `{}`", key.kid))
            .on_missing(format!("user pool `{}`", key.pool_id))
    })?;
    Ok(())
}

fn decode(row: &dyn DbRow) -> Result<SigningKeyRecord, StorageError> {
    Ok(SigningKeyRecord {
        kid: row.text("kid")?,
        pool_id: row.text("pool_id")?,
        purpose: KeyPurpose::parse(&row.text("purpose")?)?,
        algorithm: row.text("algorithm")?,
        private_key: row.bytes("private_key")?,
        public_jwk: row.text("public_jwk")?,
        created_at: row.int("created_at")?,
        retired_at: row.opt_int("retired_at")?,
        not_after: row.opt_int("not_after")?,
    })
}
