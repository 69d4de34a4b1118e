//! Wire types and handlers of the operations a user performs with an access token (GetUser,
//! UpdateUserAttributes, GetUserAttributeVerificationCode, VerifyUserAttribute,
//! ChangePassword, DeleteUser, GlobalSignOut), RevokeToken, and the operator's
//! AdminUserGlobalSignOut.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::auth::{CodeDeliveryDetailsType, delivery_details};
use super::wire::{AttributeType, Empty, attribute_list, attribute_pairs};
use crate::http::HttpState;
use crate::user_pools::UserPoolError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AccessTokenRequest {
    access_token: String,
}

// === GetUser ===

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetUserResponse {
    username: String,
    user_attributes: Vec<AttributeType>,
    #[serde(rename = "UserMFASettingList", skip_serializing_if = "Vec::is_empty")]
    user_mfa_setting_list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_mfa_setting: Option<String>,
}

pub(super) async fn get_user(
    s: Arc<HttpState>,
    r: AccessTokenRequest,
) -> Result<GetUserResponse, UserPoolError> {
    let (username, attributes) = s.user_pools.get_user(&r.access_token).await?;
    let mfa = s.user_pools.own_mfa_settings(&r.access_token).await?;
    Ok(GetUserResponse {
        username,
        user_attributes: attribute_list(&attributes),
        user_mfa_setting_list: mfa.enabled,
        preferred_mfa_setting: mfa.preferred,
    })
}

// === UpdateUserAttributes ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateUserAttributesRequest {
    access_token: String,
    user_attributes: Vec<AttributeType>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateUserAttributesResponse {
    code_delivery_details_list: Vec<CodeDeliveryDetailsType>,
}

pub(super) async fn update_user_attributes(
    s: Arc<HttpState>,
    r: UpdateUserAttributesRequest,
) -> Result<UpdateUserAttributesResponse, UserPoolError> {
    let deliveries = s
        .user_pools
        .update_own_attributes(&r.access_token, &attribute_pairs(r.user_attributes))
        .await?;
    Ok(UpdateUserAttributesResponse {
        code_delivery_details_list: deliveries.iter().map(delivery_details).collect(),
    })
}

// === GetUserAttributeVerificationCode / VerifyUserAttribute ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeCodeRequest {
    access_token: String,
    attribute_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeCodeResponse {
    code_delivery_details: CodeDeliveryDetailsType,
}

pub(super) async fn get_user_attribute_verification_code(
    s: Arc<HttpState>,
    r: AttributeCodeRequest,
) -> Result<AttributeCodeResponse, UserPoolError> {
    let d = s
        .user_pools
        .get_user_attribute_verification_code(&r.access_token, &r.attribute_name)
        .await?;
    Ok(AttributeCodeResponse {
        code_delivery_details: delivery_details(&d),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VerifyUserAttributeRequest {
    access_token: String,
    attribute_name: String,
    code: String,
}

pub(super) async fn verify_user_attribute(
    s: Arc<HttpState>,
    r: VerifyUserAttributeRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .verify_user_attribute(&r.access_token, &r.attribute_name, &r.code)
        .await?;
    Ok(Empty {})
}

// === ChangePassword ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ChangePasswordRequest {
    access_token: String,
    #[serde(default)]
    previous_password: Option<String>,
    proposed_password: String,
}

pub(super) async fn change_password(
    s: Arc<HttpState>,
    r: ChangePasswordRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .change_password(
            &r.access_token,
            r.previous_password.as_deref().unwrap_or_default(),
            &r.proposed_password,
        )
        .await?;
    Ok(Empty {})
}

// === DeleteUser / GlobalSignOut ===

pub(super) async fn delete_user(
    s: Arc<HttpState>,
    r: AccessTokenRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools.delete_own_user(&r.access_token).await?;
    Ok(Empty {})
}

pub(super) async fn global_sign_out(
    s: Arc<HttpState>,
    r: AccessTokenRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools.global_sign_out(&r.access_token).await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminUserGlobalSignOutRequest {
    user_pool_id: String,
    username: String,
}

pub(super) async fn admin_user_global_sign_out(
    s: Arc<HttpState>,
    r: AdminUserGlobalSignOutRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_user_global_sign_out(&r.user_pool_id, &r.username)
        .await?;
    Ok(Empty {})
}

// === RevokeToken ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RevokeTokenRequest {
    token: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

pub(super) async fn revoke_token(
    s: Arc<HttpState>,
    r: RevokeTokenRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .revoke_token(&r.client_id, r.client_secret.as_deref(), &r.token)
        .await?;
    Ok(Empty {})
}
