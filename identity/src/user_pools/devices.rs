//! Remembered devices (the pool's `DeviceConfiguration`): a sign-in from a device the pool
//! has not seen gets `NewDeviceMetadata` and a device row; ConfirmDevice stores the device's
//! SRP verifier; a remembered, confirmed device proves its secret with device SRP and skips
//! MFA when `ChallengeRequiredOnNewDevice` allows it; GetDevice, ListDevices,
//! UpdateDeviceStatus, ForgetDevice and their Admin twins; `DEVICE_KEY` in
//! `REFRESH_TOKEN_AUTH` puts the device into the refreshed access token.
//!
//! A device is its user's: a key of another user's device is "Device does not exist.", as
//! an unknown one is (amazon-cognito-identity-js then forgets the key and signs in again
//! without it).

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_storage::{DeviceRecord, StorageError};

use super::challenges::SignIn;
use super::{NewDeviceMetadata, Page, User, UserPool, UserPoolError, UserPools};
use crate::time::{from_unix_millis, unix_millis};

/// Most devices one ListDevices page returns (Cognito's limit).
pub const MAX_DEVICES_PAGE: u32 = 60;

/// A device as GetDevice and ListDevices show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// `DeviceKey`.
    pub key: String,
    /// `DeviceAttributes`: `device_status`, `device_name`, `dev:device_remembered_status`,
    /// `last_ip_used`.
    pub attributes: Vec<(String, String)>,
    /// `DeviceCreateDate`.
    pub created_at: SystemTime,
    /// `DeviceLastModifiedDate`.
    pub updated_at: SystemTime,
    /// `DeviceLastAuthenticatedDate`.
    pub last_authenticated_at: SystemTime,
}

/// ConfirmDevice's `DeviceSecretVerifierConfig` and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfirmation {
    /// `DeviceKey`.
    pub device_key: String,
    /// `PasswordVerifier`, base64.
    pub password_verifier: String,
    /// `Salt`, base64.
    pub salt: String,
    /// `DeviceName`.
    pub name: Option<String>,
}

/// "Device does not exist." (Cognito's `ResourceNotFoundException`).
pub(crate) fn device_not_found() -> UserPoolError {
    UserPoolError::ResourceNotFound("Device does not exist.".into())
}

fn device_from_record(r: DeviceRecord) -> Device {
    let mut attributes = vec![("device_status".to_owned(), "valid".to_owned())];
    if let Some(name) = r.name {
        attributes.push(("device_name".to_owned(), name));
    }
    attributes.push((
        "dev:device_remembered_status".to_owned(),
        if r.remembered {
            "remembered"
        } else {
            "not_remembered"
        }
        .to_owned(),
    ));
    if let Some(ip) = r.last_ip {
        attributes.push(("last_ip_used".to_owned(), ip));
    }
    Device {
        key: r.device_key,
        attributes,
        created_at: from_unix_millis(r.created_at),
        updated_at: from_unix_millis(r.updated_at),
        last_authenticated_at: from_unix_millis(r.last_auth_at),
    }
}

/// A device group key as Cognito prints them: `-` and nine letters or digits.
fn new_group_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = crate::crypto::random_bytes::<9>();
    let mut out = String::from("-");
    for b in bytes {
        let i = usize::from(b) % ALPHABET.len();
        out.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'A')));
    }
    out
}

impl UserPools {
    /// The `DEVICE_KEY` a sign-in presented, checked to be one of the user's devices; `None`
    /// when none was given or the pool does not track devices.
    pub(crate) async fn presented_device(
        &self,
        pool: &UserPool,
        user: &User,
        device_key: Option<&String>,
    ) -> Result<Option<String>, UserPoolError> {
        self.device_of_sub(pool, &user.sub, device_key).await
    }

    /// [`UserPools::presented_device`] for the user with this `sub`.
    pub(crate) async fn device_of_sub(
        &self,
        pool: &UserPool,
        sub: &str,
        device_key: Option<&String>,
    ) -> Result<Option<String>, UserPoolError> {
        let Some(key) = device_key.filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        if pool.config.device_settings().is_none() {
            return Ok(None);
        }
        self.store()
            .devices()
            .get(&pool.id, sub, key)
            .await?
            .ok_or_else(device_not_found)?;
        Ok(Some(key.clone()))
    }

    /// `DEVICE_KEY` of `REFRESH_TOKEN_AUTH`: the user's device, for the refreshed access
    /// token's `device_key`.
    pub(crate) async fn refresh_device(
        &self,
        pool: &UserPool,
        user: &User,
        device_key: Option<&String>,
    ) -> Result<Option<String>, UserPoolError> {
        self.presented_device(pool, user, device_key).await
    }

    /// Whether the sign-in's device is remembered and confirmed in a pool where such a
    /// device stands in for MFA (`ChallengeRequiredOnNewDevice`).
    pub(crate) async fn device_skips_mfa(
        &self,
        pool: &UserPool,
        user: &User,
        sign_in: &SignIn,
    ) -> Result<bool, UserPoolError> {
        let (Some(settings), Some(key)) = (pool.config.device_settings(), &sign_in.device) else {
            return Ok(false);
        };
        if !settings.challenge_required_on_new_device {
            return Ok(false);
        }
        Ok(self
            .store()
            .devices()
            .get(&pool.id, &user.sub, key)
            .await?
            .is_some_and(|d| d.remembered && d.verifier.is_some()))
    }

    /// The device a completed sign-in's tokens belong to: the one it presented (its sign-in
    /// recorded), or a new one (`NewDeviceMetadata`); none when the pool tracks no devices.
    pub(crate) async fn sign_in_device(
        &self,
        pool: &UserPool,
        user: &User,
        sign_in: &SignIn,
        now: SystemTime,
    ) -> Result<(Option<String>, Option<NewDeviceMetadata>), UserPoolError> {
        if pool.config.device_settings().is_none() {
            return Ok((None, None));
        }
        let at = unix_millis(now);
        if let Some(key) = &sign_in.device {
            self.store()
                .devices()
                .record_sign_in(&pool.id, &user.sub, key, None, at)
                .await?;
            return Ok((Some(key.clone()), None));
        }
        let region = pool.id.split_once('_').map_or("", |(r, _)| r);
        let metadata = NewDeviceMetadata {
            device_key: format!("{region}_{}", crate::ids::uuid_v4()),
            device_group_key: new_group_key(),
        };
        self.store()
            .devices()
            .create(&DeviceRecord {
                device_key: metadata.device_key.clone(),
                pool_id: pool.id.clone(),
                sub: user.sub.clone(),
                group_key: metadata.device_group_key.clone(),
                name: None,
                remembered: false,
                verifier: None,
                last_ip: None,
                created_at: at,
                updated_at: at,
                last_auth_at: at,
            })
            .await?;
        Ok((Some(metadata.device_key.clone()), Some(metadata)))
    }

    /// ConfirmDevice: stores the device's verifier and name. Returns
    /// `UserConfirmationNecessary`: with `DeviceOnlyRememberedOnUserPrompt` the device is
    /// remembered only once the user says so (UpdateDeviceStatus); otherwise at once.
    pub async fn confirm_device(
        &self,
        access_token: &str,
        confirmation: DeviceConfirmation,
    ) -> Result<bool, UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        let settings = s.pool.config.device_settings().ok_or_else(|| {
            UserPoolError::invalid("device tracking is not enabled for this user pool")
        })?;
        let verifier = STANDARD
            .decode(&confirmation.password_verifier)
            .map_err(|_| UserPoolError::invalid("PasswordVerifier is not base64"))?;
        let salt = STANDARD
            .decode(&confirmation.salt)
            .map_err(|_| UserPoolError::invalid("Salt is not base64"))?;
        if let Some(name) = &confirmation.name
            && name.chars().count() > 1024
        {
            return Err(UserPoolError::invalid(
                "DeviceName must be at most 1024 characters",
            ));
        }
        let sealed =
            self.seal_device_verifier(&s.pool, &confirmation.device_key, &salt, &verifier)?;
        let remembered = !settings.device_only_remembered_on_user_prompt;
        let stored = self
            .store()
            .devices()
            .confirm(
                &s.pool.id,
                &s.user.sub,
                &confirmation.device_key,
                &sealed,
                confirmation.name.as_deref(),
                remembered,
                unix_millis(self.now()),
            )
            .await?;
        if !stored {
            // Missing, another user's, or confirmed before.
            return match self
                .store()
                .devices()
                .get(&s.pool.id, &s.user.sub, &confirmation.device_key)
                .await?
            {
                Some(_) => Err(UserPoolError::invalid("the device is already confirmed")),
                None => Err(device_not_found()),
            };
        }
        Ok(!remembered)
    }

    /// GetDevice (access token).
    pub async fn get_device(
        &self,
        access_token: &str,
        device_key: &str,
    ) -> Result<Device, UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.device_of(&s.pool, &s.user, device_key).await
    }

    /// AdminGetDevice.
    pub async fn admin_get_device(
        &self,
        pool_id: &str,
        username: &str,
        device_key: &str,
    ) -> Result<Device, UserPoolError> {
        let (pool, user) = self.admin_user(pool_id, username).await?;
        self.device_of(&pool, &user, device_key).await
    }

    async fn device_of(
        &self,
        pool: &UserPool,
        user: &User,
        key: &str,
    ) -> Result<Device, UserPoolError> {
        self.store()
            .devices()
            .get(&pool.id, &user.sub, key)
            .await?
            .map(device_from_record)
            .ok_or_else(device_not_found)
    }

    /// ListDevices (access token): up to `limit` (1..=60) after `token`.
    pub async fn list_devices(
        &self,
        access_token: &str,
        limit: Option<u32>,
        token: Option<&str>,
    ) -> Result<Page<Device>, UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.devices_of(&s.pool, &s.user, limit, token).await
    }

    /// AdminListDevices.
    pub async fn admin_list_devices(
        &self,
        pool_id: &str,
        username: &str,
        limit: Option<u32>,
        token: Option<&str>,
    ) -> Result<Page<Device>, UserPoolError> {
        let (pool, user) = self.admin_user(pool_id, username).await?;
        self.devices_of(&pool, &user, limit, token).await
    }

    async fn devices_of(
        &self,
        pool: &UserPool,
        user: &User,
        limit: Option<u32>,
        token: Option<&str>,
    ) -> Result<Page<Device>, UserPoolError> {
        let limit = limit.unwrap_or(MAX_DEVICES_PAGE);
        if !(1..=MAX_DEVICES_PAGE).contains(&limit) {
            return Err(UserPoolError::invalid(format!(
                "Limit must be between 1 and {MAX_DEVICES_PAGE}"
            )));
        }
        let page = self
            .store()
            .devices()
            .list(&pool.id, &user.sub, limit, token.filter(|t| !t.is_empty()))
            .await?;
        Ok(Page {
            items: page.items.into_iter().map(device_from_record).collect(),
            next: page.next,
        })
    }

    /// UpdateDeviceStatus (access token): `remembered` or `not_remembered`.
    pub async fn update_device_status(
        &self,
        access_token: &str,
        device_key: &str,
        status: Option<&str>,
    ) -> Result<(), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.set_device_status(&s.pool, &s.user, device_key, status)
            .await
    }

    /// AdminUpdateDeviceStatus.
    pub async fn admin_update_device_status(
        &self,
        pool_id: &str,
        username: &str,
        device_key: &str,
        status: Option<&str>,
    ) -> Result<(), UserPoolError> {
        let (pool, user) = self.admin_user(pool_id, username).await?;
        self.set_device_status(&pool, &user, device_key, status)
            .await
    }

    async fn set_device_status(
        &self,
        pool: &UserPool,
        user: &User,
        key: &str,
        status: Option<&str>,
    ) -> Result<(), UserPoolError> {
        let remembered = match status {
            Some("remembered") => true,
            Some("not_remembered") | None => false,
            Some(other) => {
                return Err(UserPoolError::invalid(format!(
                    "1 validation error detected: Value '{other}' at 'deviceRememberedStatus' failed to satisfy constraint: Member must satisfy enum value set: [remembered, not_remembered]"
                )));
            }
        };
        let changed = self
            .store()
            .devices()
            .set_remembered(
                &pool.id,
                &user.sub,
                key,
                remembered,
                unix_millis(self.now()),
            )
            .await?;
        if changed {
            Ok(())
        } else {
            Err(device_not_found())
        }
    }

    /// ForgetDevice (access token).
    pub async fn forget_device(
        &self,
        access_token: &str,
        device_key: &str,
    ) -> Result<(), UserPoolError> {
        let s = self.authenticate_access_token(access_token).await?;
        self.delete_device(&s.pool, &s.user, device_key).await
    }

    /// AdminForgetDevice.
    pub async fn admin_forget_device(
        &self,
        pool_id: &str,
        username: &str,
        device_key: &str,
    ) -> Result<(), UserPoolError> {
        let (pool, user) = self.admin_user(pool_id, username).await?;
        self.delete_device(&pool, &user, device_key).await
    }

    async fn delete_device(
        &self,
        pool: &UserPool,
        user: &User,
        key: &str,
    ) -> Result<(), UserPoolError> {
        match self
            .store()
            .devices()
            .delete(&pool.id, &user.sub, key)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(device_not_found()),
            Err(StorageError::NotFound { .. }) => Err(device_not_found()),
            Err(e) => Err(e.into()),
        }
    }

    async fn admin_user(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<(UserPool, User), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        Ok((pool, user))
    }
}
