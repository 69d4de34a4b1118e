//! The Cognito user-pool JSON protocol (`x-amz-json-1.1`) on `POST /`.
//!
//! # Request pipeline
//! 1. `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>` names the operation; a missing
//!    header, another service or an unknown operation is `UnknownOperationException`.
//! 2. The body is read up to [`MAX_BODY_BYTES`] (larger: `SerializationException`).
//! 3. Operator operations (pool, client, group and `Admin*` management) must be SigV4-signed
//!    by the operator credentials for service `cognito-idp` in one of the server's regions
//!    within ±5 minutes, with `x-amz-target` among the signed headers; failures get the
//!    names of [`super::operator::rejection`], shared with every operator API. The region
//!    signed for is the region the request acts in: new pools are made there, listings show
//!    its pools, and a pool of another region is not found. Public operations need no
//!    signature and ignore one (their client id names the pool, and so its region).
//! 4. The body must be a JSON object; it is parsed into the operation's request struct.
//!    Malformed JSON or a member of the wrong type is `SerializationException`; a missing
//!    required member is `InvalidParameterException`. Unknown members are ignored, as AWS's
//!    JSON services do for forward compatibility (newer SDKs send members older servers lack).
//! 5. The handler converts to a service call; the result is serialised with PascalCase names,
//!    errors through [`error::from_user_pool_error`].
//!
//! # Adding an operation
//! Write the request/response structs and an
//! `async fn op(state: Arc<HttpState>, req: OpRequest) -> Result<OpResponse, UserPoolError>`
//! in the module of its area (`pools.rs`, `clients.rs`, `users.rs`, `groups.rs`, or a new
//! one), then add one line `OpName => Public|Operator, module::op;` to [`operations!`] below.

mod auth;
mod clients;
pub mod error;
mod groups;
mod import_jobs;
mod mfa;
mod oauth;
mod pools;
pub(crate) mod rate_limit;
mod self_service;
mod ui;
mod users;
mod wire;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod details_tests;

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::error::{WireError, from_user_pool_error};
use super::HttpState;
use super::operator::Protocol;
use crate::user_pools::UserPoolError;

/// The response content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Largest request body accepted (1 MiB; Cognito requests are a few KiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The `X-Amz-Target` prefix of this service.
pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
/// The SigV4 service name.
pub const SIGNING_SERVICE: &str = "cognito-idp";

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (signatures ignored).
    Public,
    /// SigV4 with the operator credentials.
    Operator,
}

/// Declares the operation table: the name (as in `X-Amz-Target`), its access and its handler.
macro_rules! operations {
    ($($name:ident => $access:ident, $handler:path;)*) => {
        /// The access rule of an operation, or `None` when it is unknown.
        pub fn access(operation: &str) -> Option<Access> {
            match operation {
                $(stringify!($name) => Some(Access::$access),)*
                _ => None,
            }
        }

        async fn run(
            operation: &str,
            state: Arc<HttpState>,
            body: &[u8],
        ) -> Result<Response, WireError> {
            match operation {
                $(stringify!($name) => call(state, body, $handler).await,)*
                _ => Err(unknown_operation(operation)),
            }
        }
    };
}

operations! {
    CreateUserPool => Operator, pools::create_user_pool;
    DescribeUserPool => Operator, pools::describe_user_pool;
    ListUserPools => Operator, pools::list_user_pools;
    UpdateUserPool => Operator, pools::update_user_pool;
    DeleteUserPool => Operator, pools::delete_user_pool;
    AddCustomAttributes => Operator, pools::add_custom_attributes;
    CreateUserPoolClient => Operator, clients::create_user_pool_client;
    DescribeUserPoolClient => Operator, clients::describe_user_pool_client;
    ListUserPoolClients => Operator, clients::list_user_pool_clients;
    UpdateUserPoolClient => Operator, clients::update_user_pool_client;
    DeleteUserPoolClient => Operator, clients::delete_user_pool_client;
    AdminCreateUser => Operator, users::admin_create_user;
    AdminGetUser => Operator, users::admin_get_user;
    AdminDeleteUser => Operator, users::admin_delete_user;
    AdminDisableUser => Operator, users::admin_disable_user;
    AdminEnableUser => Operator, users::admin_enable_user;
    AdminSetUserPassword => Operator, users::admin_set_user_password;
    AdminResetUserPassword => Operator, users::admin_reset_user_password;
    AdminUpdateUserAttributes => Operator, users::admin_update_user_attributes;
    AdminDeleteUserAttributes => Operator, users::admin_delete_user_attributes;
    AdminConfirmSignUp => Operator, users::admin_confirm_sign_up;
    ListUsers => Operator, users::list_users;
    AdminListUserAuthEvents => Operator, users::admin_list_user_auth_events;
    CreateGroup => Operator, groups::create_group;
    GetGroup => Operator, groups::get_group;
    ListGroups => Operator, groups::list_groups;
    UpdateGroup => Operator, groups::update_group;
    DeleteGroup => Operator, groups::delete_group;
    AdminAddUserToGroup => Operator, groups::admin_add_user_to_group;
    AdminRemoveUserFromGroup => Operator, groups::admin_remove_user_from_group;
    AdminListGroupsForUser => Operator, groups::admin_list_groups_for_user;
    ListUsersInGroup => Operator, groups::list_users_in_group;
    SignUp => Public, auth::sign_up;
    ConfirmSignUp => Public, auth::confirm_sign_up;
    ResendConfirmationCode => Public, auth::resend_confirmation_code;
    ForgotPassword => Public, auth::forgot_password;
    ConfirmForgotPassword => Public, auth::confirm_forgot_password;
    InitiateAuth => Public, auth::initiate_auth;
    RespondToAuthChallenge => Public, auth::respond_to_auth_challenge;
    GetTokensFromRefreshToken => Public, auth::get_tokens_from_refresh_token;
    AdminInitiateAuth => Operator, auth::admin_initiate_auth;
    AdminRespondToAuthChallenge => Operator, auth::admin_respond_to_auth_challenge;
    GetUser => Public, self_service::get_user;
    UpdateUserAttributes => Public, self_service::update_user_attributes;
    GetUserAttributeVerificationCode => Public, self_service::get_user_attribute_verification_code;
    VerifyUserAttribute => Public, self_service::verify_user_attribute;
    ChangePassword => Public, self_service::change_password;
    DeleteUser => Public, self_service::delete_user;
    GlobalSignOut => Public, self_service::global_sign_out;
    RevokeToken => Public, self_service::revoke_token;
    AdminUserGlobalSignOut => Operator, self_service::admin_user_global_sign_out;
    AssociateSoftwareToken => Public, mfa::associate_software_token;
    VerifySoftwareToken => Public, mfa::verify_software_token;
    SetUserMFAPreference => Public, mfa::set_user_mfa_preference;
    AdminSetUserMFAPreference => Operator, mfa::admin_set_user_mfa_preference;
    SetUserPoolMfaConfig => Operator, mfa::set_user_pool_mfa_config;
    GetUserPoolMfaConfig => Operator, mfa::get_user_pool_mfa_config;
    ConfirmDevice => Public, mfa::confirm_device;
    GetDevice => Public, mfa::get_device;
    ListDevices => Public, mfa::list_devices;
    UpdateDeviceStatus => Public, mfa::update_device_status;
    ForgetDevice => Public, mfa::forget_device;
    AdminGetDevice => Operator, mfa::admin_get_device;
    AdminListDevices => Operator, mfa::admin_list_devices;
    AdminUpdateDeviceStatus => Operator, mfa::admin_update_device_status;
    AdminForgetDevice => Operator, mfa::admin_forget_device;
    GetCSVHeader => Operator, import_jobs::get_csv_header;
    CreateUserImportJob => Operator, import_jobs::create_user_import_job;
    StartUserImportJob => Operator, import_jobs::start_user_import_job;
    StopUserImportJob => Operator, import_jobs::stop_user_import_job;
    DescribeUserImportJob => Operator, import_jobs::describe_user_import_job;
    ListUserImportJobs => Operator, import_jobs::list_user_import_jobs;
    CreateResourceServer => Operator, oauth::create_resource_server;
    DescribeResourceServer => Operator, oauth::describe_resource_server;
    UpdateResourceServer => Operator, oauth::update_resource_server;
    ListResourceServers => Operator, oauth::list_resource_servers;
    DeleteResourceServer => Operator, oauth::delete_resource_server;
    CreateUserPoolDomain => Operator, oauth::create_user_pool_domain;
    DescribeUserPoolDomain => Operator, oauth::describe_user_pool_domain;
    DeleteUserPoolDomain => Operator, oauth::delete_user_pool_domain;
    SetUICustomization => Operator, ui::set_ui_customization;
    GetUICustomization => Operator, ui::get_ui_customization;
}

fn unknown_operation(operation: &str) -> WireError {
    // A DynamoDB request lands here when the service runs without an upstream: say how to
    // turn the proxy on rather than leave the caller guessing.
    let hint = if operation.starts_with(crate::dynamodb::TARGET_PREFIX) {
        ": DynamoDB is served only when gatehouse runs with `--dynamodb-upstream URL`"
    } else {
        ""
    };
    WireError::bad_request(
        "UnknownOperationException",
        format!("unknown operation `{operation}`{hint}"),
    )
}

/// `POST /`.
pub(crate) async fn handle(
    State(state): State<Arc<HttpState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = super::request_id();
    match process(state, &method, &uri, &headers, body).await {
        Ok(response) => super::with_request_id(response, &request_id),
        Err(e) => e.into_response_with(&request_id),
    }
}

async fn process(
    state: Arc<HttpState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, WireError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or("");
    let Some(access) = access(operation) else {
        return Err(unknown_operation(target));
    };
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && !ct.to_str().is_ok_and(|ct| ct.contains("json"))
    {
        return Err(WireError::bad_request(
            "SerializationException",
            "content type must be application/x-amz-json-1.1",
        ));
    }
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            WireError::bad_request(
                "SerializationException",
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        })?;
    if access == Access::Operator {
        let region = state.operator.check(
            SIGNING_SERVICE,
            Protocol::AwsJson,
            method,
            uri,
            headers,
            &body,
        )?;
        check_pool_region(&state, &region, &body)?;
        return SIGNED_REGION
            .scope(region, run(operation, state, &body))
            .await;
    }
    run(operation, state, &body).await
}

tokio::task_local! {
    /// The region an operator request was signed for, while its handler runs: the region
    /// CreateUserPool makes a pool in and ListUserPools lists (see [`signed_region`]).
    static SIGNED_REGION: String;
}

/// The region the operator request being handled was signed for (`None` outside one).
pub(crate) fn signed_region() -> Option<String> {
    SIGNED_REGION.try_with(Clone::clone).ok()
}

/// An operator request names a pool of the region it was signed for: a pool id carries its
/// region (`us-west-2_…`), and a pool of another region this node serves is not found
/// there, as in AWS. Pools whose region the node no longer serves stay reachable.
fn check_pool_region(state: &HttpState, region: &str, body: &[u8]) -> Result<(), WireError> {
    #[derive(serde::Deserialize)]
    struct PoolOf {
        #[serde(rename = "UserPoolId")]
        user_pool_id: Option<String>,
    }
    let Ok(PoolOf {
        user_pool_id: Some(pool_id),
    }) = serde_json::from_slice::<PoolOf>(body)
    else {
        return Ok(());
    };
    let Some((pool_region, _)) = pool_id.split_once('_') else {
        return Ok(());
    };
    if pool_region != region && state.user_pools.serves_region(pool_region) {
        return Err(from_user_pool_error(&UserPoolError::ResourceNotFound(
            format!("User pool {pool_id} does not exist."),
        )));
    }
    Ok(())
}

/// Parses the body into `Req`, runs the handler and serialises its answer.
async fn call<Req, Resp, F, Fut>(
    state: Arc<HttpState>,
    body: &[u8],
    handler: F,
) -> Result<Response, WireError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: FnOnce(Arc<HttpState>, Req) -> Fut,
    Fut: Future<Output = Result<Resp, UserPoolError>>,
{
    let request: Req = parse_body(body)?;
    let response = handler(state, request)
        .await
        .map_err(|e| from_user_pool_error(&e))?;
    let bytes = serde_json::to_vec(&response)
        .map_err(|e| from_user_pool_error(&UserPoolError::internal("response", e)))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        bytes,
    )
        .into_response())
}

/// The body as `Req`: a JSON object whose members have the right types.
pub(crate) fn parse_body<Req: DeserializeOwned>(body: &[u8]) -> Result<Req, WireError> {
    // serde accepts a struct from a JSON array too; the protocol only sends objects.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(WireError::bad_request(
            "SerializationException",
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        match text.strip_prefix("missing field `") {
            Some(rest) => {
                let field = rest.split('`').next().unwrap_or_default();
                WireError::bad_request(
                    "InvalidParameterException",
                    format!("1 validation error detected: value null at `{field}` failed to satisfy constraint: member must not be null"),
                )
            }
            None => WireError::bad_request("SerializationException", text),
        }
    })
}
