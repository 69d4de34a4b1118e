//! Devices users signed in from (Cognito's device tracking): created when tokens are issued
//! with `NewDeviceMetadata`, confirmed with a device SRP verifier (sealed by the caller),
//! remembered or not, listed, forgotten.

use crate::db::{Db, DbRow, args};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// `{region}_{uuid}`, unique.
    pub device_key: String,
    pub pool_id: String,
    pub sub: String,
    /// `DeviceGroupKey`: the "pool name" of the device's SRP.
    pub group_key: String,
    /// `DeviceName` from ConfirmDevice.
    pub name: Option<String>,
    /// `remembered` (true) or `not_remembered`.
    pub remembered: bool,
    /// The sealed device verifier; `None` until ConfirmDevice.
    pub verifier: Option<Vec<u8>>,
    /// The client address of the last sign-in from the device.
    pub last_ip: Option<String>,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
    pub last_auth_at: EpochMillis,
}

/// Repository of devices.
#[derive(Debug)]
pub struct Devices<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "device_key, pool_id, sub, group_key, name, remembered, verifier, last_ip, \
                       created_at, updated_at, last_auth_at";

// === impl Devices ===

impl<'s> Devices<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Stores a new device of a user. [`StorageError::NotFound`] if the user is missing,
    /// [`StorageError::Conflict`] if the key is taken.
    pub async fn create(&self, device: &DeviceRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let inserted = tx
            .conn()
            .execute(
                format!(
                    "INSERT INTO user_devices ({COLUMNS})
                     SELECT $1, u.pool_id, u.sub, $4, $5, $6, $7, $8, $9, $10, $11 FROM users u
                     WHERE u.pool_id = $2 AND u.sub = $3"
                ),
                args![
                    &device.device_key,
                    &device.pool_id,
                    &device.sub,
                    &device.group_key,
                    &device.name,
                    device.remembered,
                    &device.verifier,
                    &device.last_ip,
                    device.created_at,
                    device.updated_at,
                    device.last_auth_at,
                ],
            )
            .await
            .map_err(|e| e.on_conflict(format!("device `{}`", device.device_key)))?;
        if inserted == 0 {
            return Err(StorageError::not_found(format!("user `{}`", device.sub)));
        }
        tx.commit().await
    }

    /// The user's device with this key.
    pub async fn get(
        &self,
        pool_id: &str,
        sub: &str,
        device_key: &str,
    ) -> Result<Option<DeviceRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {COLUMNS} FROM user_devices
                     WHERE device_key = $1 AND sub = $2 AND pool_id = $3"
                ),
                args![device_key, sub, pool_id],
                decode,
            )
            .await
    }

    /// The user's devices in key order, after the key `after`.
    pub async fn list(
        &self,
        pool_id: &str,
        sub: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<DeviceRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM user_devices
                     WHERE sub = $1 AND pool_id = $2 AND device_key > $3
                     ORDER BY device_key LIMIT $4"
                ),
                args![sub, pool_id, after.unwrap_or(""), fetch_limit(limit)],
                decode,
            )
            .await?;
        Ok(into_page(rows, limit, |d| d.device_key.clone()))
    }

    /// Stores the device's verifier, name and remembered status (ConfirmDevice); only once:
    /// returns `false` when the device is missing or already confirmed.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a distinct fact of the confirmation"
    )]
    pub async fn confirm(
        &self,
        pool_id: &str,
        sub: &str,
        device_key: &str,
        verifier: &[u8],
        name: Option<&str>,
        remembered: bool,
        at: EpochMillis,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE user_devices SET verifier = $4, name = $5, remembered = $6, updated_at = $7
                 WHERE device_key = $1 AND sub = $2 AND pool_id = $3 AND verifier IS NULL",
                args![device_key, sub, pool_id, verifier, name, remembered, at],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Sets whether the device is remembered; `false` when it is missing.
    pub async fn set_remembered(
        &self,
        pool_id: &str,
        sub: &str,
        device_key: &str,
        remembered: bool,
        at: EpochMillis,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE user_devices SET remembered = $4, updated_at = $5
                 WHERE device_key = $1 AND sub = $2 AND pool_id = $3",
                args![device_key, sub, pool_id, remembered, at],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Records a sign-in from the device at `at` from `ip`.
    pub async fn record_sign_in(
        &self,
        pool_id: &str,
        sub: &str,
        device_key: &str,
        ip: Option<&str>,
        at: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                "UPDATE user_devices SET last_auth_at = $4, last_ip = COALESCE($5, last_ip)
                 WHERE device_key = $1 AND sub = $2 AND pool_id = $3",
                args![device_key, sub, pool_id, at, ip],
            )
            .await?;
        tx.commit().await
    }

    /// Forgets the device; `false` when it is missing.
    pub async fn delete(
        &self,
        pool_id: &str,
        sub: &str,
        device_key: &str,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "DELETE FROM user_devices WHERE device_key = $1 AND sub = $2 AND pool_id = $3",
                args![device_key, sub, pool_id],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }
}

fn decode(row: &dyn DbRow) -> Result<DeviceRecord, StorageError> {
    Ok(DeviceRecord {
        device_key: row.text("device_key")?,
        pool_id: row.text("pool_id")?,
        sub: row.text("sub")?,
        group_key: row.text("group_key")?,
        name: row.opt_text("name")?,
        remembered: row.boolean("remembered")?,
        verifier: row.opt_bytes("verifier")?,
        last_ip: row.opt_text("last_ip")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        last_auth_at: row.int("last_auth_at")?,
    })
}
