//! Wire types and handlers of the operator user operations, ListUsers and
//! AdminListUserAuthEvents.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::{
    AttributeType, Empty, attribute_list, attribute_pairs, epoch, parse_enum, parse_enums,
    trigger_data,
};
use crate::delivery::Channel;
use crate::http::HttpState;
use crate::user_pools::{
    AdminCreateUser, AuthEvent, AuthEventKind, ListUsersRequest as ServiceListUsers, MessageAction,
    PasswordOutcome, User, UserPoolError,
};

/// `UserType` (AdminCreateUser, ListUsers, ListUsersInGroup).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserType {
    username: String,
    attributes: Vec<AttributeType>,
    user_create_date: f64,
    user_last_modified_date: f64,
    enabled: bool,
    user_status: &'static str,
}

pub(super) fn user_type(u: &User) -> UserType {
    UserType {
        username: u.username.clone(),
        attributes: attribute_list(&u.attributes),
        user_create_date: epoch(u.created_at),
        user_last_modified_date: epoch(u.updated_at),
        enabled: u.enabled,
        user_status: u.status.as_str(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserRequest {
    user_pool_id: String,
    username: String,
}

// === AdminCreateUser ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminCreateUserRequest {
    user_pool_id: String,
    username: String,
    #[serde(default)]
    user_attributes: Option<Vec<AttributeType>>,
    #[serde(default)]
    temporary_password: Option<String>,
    #[serde(default)]
    message_action: Option<String>,
    #[serde(default)]
    desired_delivery_mediums: Option<Vec<String>>,
    #[serde(default)]
    validation_data: Option<Vec<AttributeType>>,
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminCreateUserResponse {
    user: UserType,
}

fn channel(s: &str) -> Option<Channel> {
    match s {
        "EMAIL" => Some(Channel::Email),
        "SMS" => Some(Channel::Sms),
        _ => None,
    }
}

pub(super) async fn admin_create_user(
    s: Arc<HttpState>,
    r: AdminCreateUserRequest,
) -> Result<AdminCreateUserResponse, UserPoolError> {
    let message_action = r
        .message_action
        .map(|a| {
            parse_enum("MessageAction", &a, |a| match a {
                "SUPPRESS" => Some(MessageAction::Suppress),
                "RESEND" => Some(MessageAction::Resend),
                _ => None,
            })
        })
        .transpose()?;
    let request = AdminCreateUser {
        username: r.username,
        attributes: attribute_pairs(r.user_attributes.unwrap_or_default()),
        temporary_password: r.temporary_password,
        message_action,
        delivery_mediums: parse_enums(
            "DesiredDeliveryMediums",
            r.desired_delivery_mediums.unwrap_or_default(),
            channel,
        )?,
    };
    let data = trigger_data(r.client_metadata, r.validation_data)?;
    let user = s
        .user_pools
        .admin_create_user_with(&r.user_pool_id, request, &data)
        .await?;
    Ok(AdminCreateUserResponse {
        user: user_type(&user),
    })
}

// === AdminGetUser ===

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminGetUserResponse {
    username: String,
    user_attributes: Vec<AttributeType>,
    user_create_date: f64,
    user_last_modified_date: f64,
    enabled: bool,
    user_status: &'static str,
    #[serde(rename = "UserMFASettingList", skip_serializing_if = "Vec::is_empty")]
    user_mfa_setting_list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_mfa_setting: Option<String>,
}

pub(super) async fn admin_get_user(
    s: Arc<HttpState>,
    r: UserRequest,
) -> Result<AdminGetUserResponse, UserPoolError> {
    let u = s
        .user_pools
        .admin_get_user(&r.user_pool_id, &r.username)
        .await?;
    let mfa = s
        .user_pools
        .admin_mfa_settings(&r.user_pool_id, &u.username)
        .await?;
    Ok(AdminGetUserResponse {
        user_mfa_setting_list: mfa.enabled,
        preferred_mfa_setting: mfa.preferred,
        username: u.username.clone(),
        user_attributes: attribute_list(&u.attributes),
        user_create_date: epoch(u.created_at),
        user_last_modified_date: epoch(u.updated_at),
        enabled: u.enabled,
        user_status: u.status.as_str(),
    })
}

// === AdminDeleteUser / AdminDisableUser / AdminEnableUser / AdminConfirmSignUp ===

pub(super) async fn admin_delete_user(
    s: Arc<HttpState>,
    r: UserRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_delete_user(&r.user_pool_id, &r.username)
        .await?;
    Ok(Empty {})
}

pub(super) async fn admin_disable_user(
    s: Arc<HttpState>,
    r: UserRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_set_user_enabled(&r.user_pool_id, &r.username, false)
        .await?;
    Ok(Empty {})
}

pub(super) async fn admin_enable_user(
    s: Arc<HttpState>,
    r: UserRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_set_user_enabled(&r.user_pool_id, &r.username, true)
        .await?;
    Ok(Empty {})
}

/// AdminResetUserPassword (`ClientMetadata` is accepted and dropped).
pub(super) async fn admin_reset_user_password(
    s: Arc<HttpState>,
    r: UserRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_reset_user_password(&r.user_pool_id, &r.username)
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminConfirmSignUpRequest {
    user_pool_id: String,
    username: String,
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
}

pub(super) async fn admin_confirm_sign_up(
    s: Arc<HttpState>,
    r: AdminConfirmSignUpRequest,
) -> Result<Empty, UserPoolError> {
    let data = trigger_data(r.client_metadata, None)?;
    s.user_pools
        .admin_confirm_sign_up_with(&r.user_pool_id, &r.username, &data)
        .await?;
    Ok(Empty {})
}

// === AdminSetUserPassword ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminSetUserPasswordRequest {
    user_pool_id: String,
    username: String,
    password: String,
    #[serde(default)]
    permanent: Option<bool>,
}

pub(super) async fn admin_set_user_password(
    s: Arc<HttpState>,
    r: AdminSetUserPasswordRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_set_user_password(
            &r.user_pool_id,
            &r.username,
            &r.password,
            r.permanent.unwrap_or(false),
        )
        .await?;
    Ok(Empty {})
}

// === AdminUpdateUserAttributes / AdminDeleteUserAttributes ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminUpdateUserAttributesRequest {
    user_pool_id: String,
    username: String,
    user_attributes: Vec<AttributeType>,
}

pub(super) async fn admin_update_user_attributes(
    s: Arc<HttpState>,
    r: AdminUpdateUserAttributesRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_update_user_attributes(
            &r.user_pool_id,
            &r.username,
            &attribute_pairs(r.user_attributes),
        )
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminDeleteUserAttributesRequest {
    user_pool_id: String,
    username: String,
    user_attribute_names: Vec<String>,
}

pub(super) async fn admin_delete_user_attributes(
    s: Arc<HttpState>,
    r: AdminDeleteUserAttributesRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_delete_user_attributes(&r.user_pool_id, &r.username, &r.user_attribute_names)
        .await?;
    Ok(Empty {})
}

// === ListUsers ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListUsersRequest {
    user_pool_id: String,
    #[serde(default)]
    attributes_to_get: Option<Vec<String>>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    pagination_token: Option<String>,
    #[serde(default)]
    filter: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListUsersResponse {
    users: Vec<UserType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination_token: Option<String>,
}

pub(super) async fn list_users(
    s: Arc<HttpState>,
    r: ListUsersRequest,
) -> Result<ListUsersResponse, UserPoolError> {
    let page = s
        .user_pools
        .list_users(
            &r.user_pool_id,
            &ServiceListUsers {
                filter: r.filter,
                limit: r.limit,
                pagination_token: r.pagination_token,
                attributes_to_get: r.attributes_to_get,
            },
        )
        .await?;
    Ok(ListUsersResponse {
        users: page.items.iter().map(user_type).collect(),
        pagination_token: page.next,
    })
}

// === AdminListUserAuthEvents ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminListUserAuthEventsRequest {
    user_pool_id: String,
    username: String,
    #[serde(default)]
    max_results: Option<u32>,
    #[serde(default)]
    next_token: Option<String>,
}

/// `ChallengeResponseType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ChallengeResponseType {
    challenge_name: &'static str,
    challenge_response: &'static str,
}

/// `EventRiskType`: gatehouse has no risk scoring; an attempt the lockout refused is shown
/// blocked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EventRiskType {
    risk_decision: &'static str,
    compromised_credentials_detected: bool,
}

/// `AuthEventType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AuthEventType {
    event_id: String,
    event_type: &'static str,
    creation_date: f64,
    event_response: &'static str,
    event_risk: EventRiskType,
    challenge_responses: Vec<ChallengeResponseType>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminListUserAuthEventsResponse {
    auth_events: Vec<AuthEventType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn auth_event_type(e: &AuthEvent) -> AuthEventType {
    let checked = match e.outcome {
        PasswordOutcome::Right => Some("Success"),
        PasswordOutcome::Wrong | PasswordOutcome::WrongAndLocked => Some("Failure"),
        PasswordOutcome::RefusedWhileLocked => None,
    };
    AuthEventType {
        event_id: e.id.clone(),
        event_type: match e.kind {
            AuthEventKind::SignIn => "SignIn",
            AuthEventKind::PasswordChange => "PasswordChange",
        },
        creation_date: epoch(e.at),
        event_response: if e.passed() { "Pass" } else { "Fail" },
        event_risk: EventRiskType {
            risk_decision: match e.outcome {
                PasswordOutcome::RefusedWhileLocked => "Block",
                PasswordOutcome::Right
                | PasswordOutcome::Wrong
                | PasswordOutcome::WrongAndLocked => "NoRisk",
            },
            compromised_credentials_detected: false,
        },
        challenge_responses: checked
            .map(|response| ChallengeResponseType {
                challenge_name: "Password",
                challenge_response: response,
            })
            .into_iter()
            .collect(),
    }
}

pub(super) async fn admin_list_user_auth_events(
    s: Arc<HttpState>,
    r: AdminListUserAuthEventsRequest,
) -> Result<AdminListUserAuthEventsResponse, UserPoolError> {
    let page = s
        .user_pools
        .admin_list_user_auth_events(
            &r.user_pool_id,
            &r.username,
            r.max_results,
            r.next_token.as_deref(),
        )
        .await?;
    Ok(AdminListUserAuthEventsResponse {
        auth_events: page.items.iter().map(auth_event_type).collect(),
        next_token: page.next,
    })
}
