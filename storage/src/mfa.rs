//! Multi-factor settings of users: the software token (its secret sealed by the caller, a
//! secret waiting for its first code, the last accepted time step) and which factors are
//! enabled and preferred. One row per user, created on first write.

use crate::db::{Db, DbRow, args};
use crate::{EpochMillis, StorageError};

/// A user's MFA row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MfaRecord {
    pub pool_id: String,
    pub sub: String,
    /// The verified software-token secret, sealed by the caller.
    pub totp_secret: Option<Vec<u8>>,
    /// `FriendlyDeviceName` given when it was verified.
    pub totp_name: Option<String>,
    /// The time step of the last accepted code (−1: none): no code of this step or an
    /// earlier one is accepted again.
    pub totp_last_step: i64,
    /// A secret from AssociateSoftwareToken waiting for VerifySoftwareToken, sealed.
    pub totp_pending: Option<Vec<u8>>,
    pub flags: MfaFlags,
    pub updated_at: EpochMillis,
}

/// Which factors a user has enabled and prefers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MfaFlags {
    pub totp_enabled: bool,
    pub totp_preferred: bool,
    pub email_enabled: bool,
    pub email_preferred: bool,
}

/// Repository of MFA settings.
#[derive(Debug)]
pub struct Mfa<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "pool_id, sub, totp_secret, totp_name, totp_last_step, totp_pending, \
                       totp_enabled, totp_preferred, email_enabled, email_preferred, updated_at";

// === impl Mfa ===

impl<'s> Mfa<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// The user's row, if it has one.
    pub async fn get(&self, pool_id: &str, sub: &str) -> Result<Option<MfaRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM user_mfa WHERE sub = $1 AND pool_id = $2"),
                args![sub, pool_id],
                decode,
            )
            .await
    }

    /// Stores a secret waiting for its first code (replacing any earlier one).
    /// [`StorageError::NotFound`] if the user is missing.
    pub async fn set_pending_totp(
        &self,
        pool_id: &str,
        sub: &str,
        sealed_secret: &[u8],
        at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                "INSERT INTO user_mfa (sub, pool_id, totp_last_step, totp_pending, totp_enabled,
                                       totp_preferred, email_enabled, email_preferred, updated_at)
                 SELECT u.sub, u.pool_id, -1, $3, $4, $4, $4, $4, $5 FROM users u
                 WHERE u.sub = $1 AND u.pool_id = $2
                 ON CONFLICT (sub) DO UPDATE SET totp_pending = excluded.totp_pending,
                                                 updated_at = excluded.updated_at",
                args![sub, pool_id, sealed_secret, false, at],
            )
            .await?;
        tx.commit().await
    }

    /// Makes the pending secret the user's software token, as long as it still is
    /// `pending` (a newer AssociateSoftwareToken wins), with the step of the code that
    /// verified it and the given flags. Returns whether it was stored.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a distinct fact of the confirmation"
    )]
    pub async fn confirm_totp(
        &self,
        pool_id: &str,
        sub: &str,
        pending: &[u8],
        name: Option<&str>,
        step: i64,
        flags: MfaFlags,
        at: EpochMillis,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE user_mfa SET totp_secret = totp_pending, totp_pending = NULL,
                        totp_name = $4, totp_last_step = $5, totp_enabled = $6,
                        totp_preferred = $7, email_enabled = $8, email_preferred = $9,
                        updated_at = $10
                 WHERE sub = $1 AND pool_id = $2 AND totp_pending = $3",
                args![
                    sub,
                    pool_id,
                    pending,
                    name,
                    step,
                    flags.totp_enabled,
                    flags.totp_preferred,
                    flags.email_enabled,
                    flags.email_preferred,
                    at,
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Records that a code of `step` was accepted, unless a code of that step or a later one
    /// already was: returns `false` for a replay. Atomic across nodes.
    pub async fn accept_totp_step(
        &self,
        pool_id: &str,
        sub: &str,
        step: i64,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE user_mfa SET totp_last_step = $3
                 WHERE sub = $1 AND pool_id = $2 AND totp_secret IS NOT NULL
                   AND totp_last_step < $3",
                args![sub, pool_id, step],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Writes which factors are enabled and preferred (creating the row).
    /// [`StorageError::NotFound`] if the user is missing.
    pub async fn set_flags(
        &self,
        pool_id: &str,
        sub: &str,
        flags: MfaFlags,
        at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "INSERT INTO user_mfa (sub, pool_id, totp_last_step, totp_enabled, totp_preferred,
                                       email_enabled, email_preferred, updated_at)
                 SELECT u.sub, u.pool_id, -1, $3, $4, $5, $6, $7 FROM users u
                 WHERE u.sub = $1 AND u.pool_id = $2
                 ON CONFLICT (sub) DO UPDATE SET totp_enabled = excluded.totp_enabled,
                        totp_preferred = excluded.totp_preferred,
                        email_enabled = excluded.email_enabled,
                        email_preferred = excluded.email_preferred,
                        updated_at = excluded.updated_at",
                args![
                    sub,
                    pool_id,
                    flags.totp_enabled,
                    flags.totp_preferred,
                    flags.email_enabled,
                    flags.email_preferred,
                    at,
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("user `{sub}`")));
        }
        tx.commit().await
    }
}

fn decode(row: &dyn DbRow) -> Result<MfaRecord, StorageError> {
    Ok(MfaRecord {
        pool_id: row.text("pool_id")?,
        sub: row.text("sub")?,
        totp_secret: row.opt_bytes("totp_secret")?,
        totp_name: row.opt_text("totp_name")?,
        totp_last_step: row.int("totp_last_step")?,
        totp_pending: row.opt_bytes("totp_pending")?,
        flags: MfaFlags {
            totp_enabled: row.boolean("totp_enabled")?,
            totp_preferred: row.boolean("totp_preferred")?,
            email_enabled: row.boolean("email_enabled")?,
            email_preferred: row.boolean("email_preferred")?,
        },
        updated_at: row.int("updated_at")?,
    })
}
