//! Wire types and handlers of MFA and devices: AssociateSoftwareToken, VerifySoftwareToken,
//! SetUserMFAPreference, AdminSetUserMFAPreference, SetUserPoolMfaConfig,
//! GetUserPoolMfaConfig, ConfirmDevice, GetDevice, ListDevices, UpdateDeviceStatus,
//! ForgetDevice and the Admin device twins. Members the service ignores (`SmsMfaConfiguration`
//! details, `WebAuthnConfiguration`) are accepted and dropped.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::{AttributeType, Empty, epoch};
use crate::http::HttpState;
use crate::user_pools::config::{EmailMfaSettings, MfaConfiguration};
use crate::user_pools::{
    Device, DeviceConfirmation, FactorPreference, MfaPreference, PoolMfaConfig, PoolMfaUpdate,
    UserPoolError,
};

fn either_token_or_session(
    access_token: &Option<String>,
    session: &Option<String>,
) -> Result<(), UserPoolError> {
    match (access_token, session) {
        (Some(_), Some(_)) => Err(UserPoolError::invalid(
            "give either AccessToken or Session, not both",
        )),
        (None, None) => Err(UserPoolError::invalid(
            "Missing required parameter AccessToken or Session",
        )),
        _ => Ok(()),
    }
}

// === AssociateSoftwareToken ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AssociateSoftwareTokenRequest {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    session: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AssociateSoftwareTokenResponse {
    secret_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
}

pub(super) async fn associate_software_token(
    s: Arc<HttpState>,
    r: AssociateSoftwareTokenRequest,
) -> Result<AssociateSoftwareTokenResponse, UserPoolError> {
    either_token_or_session(&r.access_token, &r.session)?;
    if let Some(token) = &r.access_token {
        let secret_code = s.user_pools.associate_software_token(token).await?;
        return Ok(AssociateSoftwareTokenResponse {
            secret_code,
            session: None,
        });
    }
    let session = r.session.unwrap_or_default();
    let (secret_code, session) = s
        .user_pools
        .associate_software_token_in_sign_in(&session)
        .await?;
    Ok(AssociateSoftwareTokenResponse {
        secret_code,
        session: Some(session),
    })
}

// === VerifySoftwareToken ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VerifySoftwareTokenRequest {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    session: Option<String>,
    user_code: String,
    #[serde(default)]
    friendly_device_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VerifySoftwareTokenResponse {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
}

pub(super) async fn verify_software_token(
    s: Arc<HttpState>,
    r: VerifySoftwareTokenRequest,
) -> Result<VerifySoftwareTokenResponse, UserPoolError> {
    either_token_or_session(&r.access_token, &r.session)?;
    let name = r.friendly_device_name.as_deref();
    if let Some(token) = &r.access_token {
        s.user_pools
            .verify_software_token(token, &r.user_code, name)
            .await?;
        return Ok(VerifySoftwareTokenResponse {
            status: "SUCCESS",
            session: None,
        });
    }
    let session = r.session.unwrap_or_default();
    let session = s
        .user_pools
        .verify_software_token_in_sign_in(&session, &r.user_code, name)
        .await?;
    Ok(VerifySoftwareTokenResponse {
        status: "SUCCESS",
        session: Some(session),
    })
}

// === SetUserMFAPreference / AdminSetUserMFAPreference ===

/// `SoftwareTokenMfaSettingsType`, `EmailMfaSettingsType`, `SMSMfaSettingsType`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MfaSettingsType {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    preferred_mfa: Option<bool>,
}

impl From<MfaSettingsType> for FactorPreference {
    fn from(t: MfaSettingsType) -> Self {
        Self {
            enabled: t.enabled,
            preferred: t.preferred_mfa,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MfaPreferenceMembers {
    #[serde(default)]
    software_token_mfa_settings: Option<MfaSettingsType>,
    #[serde(default)]
    email_mfa_settings: Option<MfaSettingsType>,
    #[serde(default, rename = "SMSMfaSettings")]
    sms_mfa_settings: Option<MfaSettingsType>,
}

impl MfaPreferenceMembers {
    fn preference(&self) -> MfaPreference {
        MfaPreference {
            software_token: self.software_token_mfa_settings.map(Into::into),
            email: self.email_mfa_settings.map(Into::into),
            sms_requested: self
                .sms_mfa_settings
                .is_some_and(|s| s.enabled == Some(true) || s.preferred_mfa == Some(true)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SetUserMfaPreferenceRequest {
    access_token: String,
    #[serde(flatten)]
    members: MfaPreferenceMembers,
}

pub(super) async fn set_user_mfa_preference(
    s: Arc<HttpState>,
    r: SetUserMfaPreferenceRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .set_user_mfa_preference(&r.access_token, r.members.preference())
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminSetUserMfaPreferenceRequest {
    user_pool_id: String,
    username: String,
    #[serde(flatten)]
    members: MfaPreferenceMembers,
}

pub(super) async fn admin_set_user_mfa_preference(
    s: Arc<HttpState>,
    r: AdminSetUserMfaPreferenceRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_set_user_mfa_preference(&r.user_pool_id, &r.username, r.members.preference())
        .await?;
    Ok(Empty {})
}

// === SetUserPoolMfaConfig / GetUserPoolMfaConfig ===

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SoftwareTokenMfaConfigType {
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EmailMfaConfigType {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SetUserPoolMfaConfigRequest {
    user_pool_id: String,
    #[serde(default)]
    mfa_configuration: Option<String>,
    #[serde(default)]
    software_token_mfa_configuration: Option<SoftwareTokenMfaConfigType>,
    #[serde(default)]
    email_mfa_configuration: Option<EmailMfaConfigType>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserPoolMfaConfigResponse {
    mfa_configuration: &'static str,
    software_token_mfa_configuration: SoftwareTokenMfaConfigType,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_mfa_configuration: Option<EmailMfaConfigType>,
}

fn mfa_config_response(c: PoolMfaConfig) -> UserPoolMfaConfigResponse {
    UserPoolMfaConfigResponse {
        mfa_configuration: c.mode.as_str(),
        software_token_mfa_configuration: SoftwareTokenMfaConfigType {
            enabled: Some(c.software_token),
        },
        email_mfa_configuration: c.email.map(|e| EmailMfaConfigType {
            message: e.message,
            subject: e.subject,
        }),
    }
}

pub(super) async fn set_user_pool_mfa_config(
    s: Arc<HttpState>,
    r: SetUserPoolMfaConfigRequest,
) -> Result<UserPoolMfaConfigResponse, UserPoolError> {
    let mode = match r.mfa_configuration.as_deref() {
        None => None,
        Some(m) => Some(MfaConfiguration::parse(m).ok_or_else(|| {
            UserPoolError::invalid(format!(
                "1 validation error detected: Value '{m}' at 'mfaConfiguration' failed to satisfy constraint: Member must satisfy enum value set: [OFF, ON, OPTIONAL]"
            ))
        })?),
    };
    let update = PoolMfaUpdate {
        mode,
        software_token: r.software_token_mfa_configuration.and_then(|c| c.enabled),
        email: r.email_mfa_configuration.map(|e| EmailMfaSettings {
            message: e.message,
            subject: e.subject,
        }),
    };
    s.user_pools
        .set_user_pool_mfa_config(&r.user_pool_id, update)
        .await
        .map(mfa_config_response)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PoolRequest {
    user_pool_id: String,
}

pub(super) async fn get_user_pool_mfa_config(
    s: Arc<HttpState>,
    r: PoolRequest,
) -> Result<UserPoolMfaConfigResponse, UserPoolError> {
    s.user_pools
        .get_user_pool_mfa_config(&r.user_pool_id)
        .await
        .map(mfa_config_response)
}

// === devices ===

/// `DeviceType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeviceType {
    device_key: String,
    device_attributes: Vec<AttributeType>,
    device_create_date: f64,
    device_last_modified_date: f64,
    device_last_authenticated_date: f64,
}

fn device_type(d: Device) -> DeviceType {
    DeviceType {
        device_key: d.key,
        device_attributes: d
            .attributes
            .into_iter()
            .map(|(name, value)| AttributeType {
                name,
                value: Some(value),
            })
            .collect(),
        device_create_date: epoch(d.created_at),
        device_last_modified_date: epoch(d.updated_at),
        device_last_authenticated_date: epoch(d.last_authenticated_at),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeviceSecretVerifierConfigType {
    password_verifier: String,
    salt: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ConfirmDeviceRequest {
    access_token: String,
    device_key: String,
    device_secret_verifier_config: DeviceSecretVerifierConfigType,
    #[serde(default)]
    device_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ConfirmDeviceResponse {
    user_confirmation_necessary: bool,
}

pub(super) async fn confirm_device(
    s: Arc<HttpState>,
    r: ConfirmDeviceRequest,
) -> Result<ConfirmDeviceResponse, UserPoolError> {
    let user_confirmation_necessary = s
        .user_pools
        .confirm_device(
            &r.access_token,
            DeviceConfirmation {
                device_key: r.device_key,
                password_verifier: r.device_secret_verifier_config.password_verifier,
                salt: r.device_secret_verifier_config.salt,
                name: r.device_name,
            },
        )
        .await?;
    Ok(ConfirmDeviceResponse {
        user_confirmation_necessary,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeviceRequest {
    access_token: String,
    device_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminDeviceRequest {
    user_pool_id: String,
    username: String,
    device_key: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetDeviceResponse {
    device: DeviceType,
}

pub(super) async fn get_device(
    s: Arc<HttpState>,
    r: DeviceRequest,
) -> Result<GetDeviceResponse, UserPoolError> {
    let device = s
        .user_pools
        .get_device(&r.access_token, &r.device_key)
        .await?;
    Ok(GetDeviceResponse {
        device: device_type(device),
    })
}

pub(super) async fn admin_get_device(
    s: Arc<HttpState>,
    r: AdminDeviceRequest,
) -> Result<GetDeviceResponse, UserPoolError> {
    let device = s
        .user_pools
        .admin_get_device(&r.user_pool_id, &r.username, &r.device_key)
        .await?;
    Ok(GetDeviceResponse {
        device: device_type(device),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListDevicesRequest {
    access_token: String,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    pagination_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminListDevicesRequest {
    user_pool_id: String,
    username: String,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    pagination_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListDevicesResponse {
    devices: Vec<DeviceType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination_token: Option<String>,
}

pub(super) async fn list_devices(
    s: Arc<HttpState>,
    r: ListDevicesRequest,
) -> Result<ListDevicesResponse, UserPoolError> {
    let page = s
        .user_pools
        .list_devices(&r.access_token, r.limit, r.pagination_token.as_deref())
        .await?;
    Ok(ListDevicesResponse {
        devices: page.items.into_iter().map(device_type).collect(),
        pagination_token: page.next,
    })
}

pub(super) async fn admin_list_devices(
    s: Arc<HttpState>,
    r: AdminListDevicesRequest,
) -> Result<ListDevicesResponse, UserPoolError> {
    let page = s
        .user_pools
        .admin_list_devices(
            &r.user_pool_id,
            &r.username,
            r.limit,
            r.pagination_token.as_deref(),
        )
        .await?;
    Ok(ListDevicesResponse {
        devices: page.items.into_iter().map(device_type).collect(),
        pagination_token: page.next,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateDeviceStatusRequest {
    access_token: String,
    device_key: String,
    #[serde(default)]
    device_remembered_status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminUpdateDeviceStatusRequest {
    user_pool_id: String,
    username: String,
    device_key: String,
    #[serde(default)]
    device_remembered_status: Option<String>,
}

pub(super) async fn update_device_status(
    s: Arc<HttpState>,
    r: UpdateDeviceStatusRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .update_device_status(
            &r.access_token,
            &r.device_key,
            r.device_remembered_status.as_deref(),
        )
        .await?;
    Ok(Empty {})
}

pub(super) async fn admin_update_device_status(
    s: Arc<HttpState>,
    r: AdminUpdateDeviceStatusRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_update_device_status(
            &r.user_pool_id,
            &r.username,
            &r.device_key,
            r.device_remembered_status.as_deref(),
        )
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ForgetDeviceRequest {
    #[serde(default)]
    access_token: Option<String>,
    device_key: String,
}

pub(super) async fn forget_device(
    s: Arc<HttpState>,
    r: ForgetDeviceRequest,
) -> Result<Empty, UserPoolError> {
    let token = r
        .access_token
        .ok_or_else(|| UserPoolError::invalid("Missing required parameter AccessToken"))?;
    s.user_pools.forget_device(&token, &r.device_key).await?;
    Ok(Empty {})
}

pub(super) async fn admin_forget_device(
    s: Arc<HttpState>,
    r: AdminDeviceRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_forget_device(&r.user_pool_id, &r.username, &r.device_key)
        .await?;
    Ok(Empty {})
}
