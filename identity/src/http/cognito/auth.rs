//! Wire types and handlers of the public sign-up and authentication operations (SignUp,
//! ConfirmSignUp, ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword,
//! InitiateAuth, RespondToAuthChallenge) and their operator twins (AdminInitiateAuth,
//! AdminRespondToAuthChallenge). `ClientMetadata` of the authentication operations goes to
//! the triggers; other members the service ignores (`ValidationData`, `AnalyticsMetadata`,
//! `UserContextData`, and `ClientMetadata` elsewhere) are accepted and dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::{AttributeType, Empty, attribute_pairs};
use crate::http::HttpState;
use crate::user_pools::{AuthOutcome, CodeDeliveryDetails, SignUp, UserPoolError};

/// `CodeDeliveryDetailsType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CodeDeliveryDetailsType {
    destination: String,
    delivery_medium: &'static str,
    attribute_name: String,
}

pub(super) fn delivery_details(d: &CodeDeliveryDetails) -> CodeDeliveryDetailsType {
    CodeDeliveryDetailsType {
        destination: d.destination.clone(),
        delivery_medium: d.channel.as_str(),
        attribute_name: d.attribute_name.clone(),
    }
}

// === SignUp ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SignUpRequest {
    client_id: String,
    #[serde(default)]
    secret_hash: Option<String>,
    username: String,
    password: String,
    #[serde(default)]
    user_attributes: Option<Vec<AttributeType>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SignUpResponse {
    user_confirmed: bool,
    user_sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_delivery_details: Option<CodeDeliveryDetailsType>,
}

pub(super) async fn sign_up(
    s: Arc<HttpState>,
    r: SignUpRequest,
) -> Result<SignUpResponse, UserPoolError> {
    let out = s
        .user_pools
        .sign_up(SignUp {
            client_id: r.client_id,
            secret_hash: r.secret_hash,
            username: r.username,
            password: r.password,
            attributes: attribute_pairs(r.user_attributes.unwrap_or_default()),
        })
        .await?;
    Ok(SignUpResponse {
        user_confirmed: out.user_confirmed,
        user_sub: out.user_sub,
        code_delivery_details: out.code_delivery.as_ref().map(delivery_details),
    })
}

// === ConfirmSignUp ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ConfirmSignUpRequest {
    client_id: String,
    #[serde(default)]
    secret_hash: Option<String>,
    username: String,
    confirmation_code: String,
    #[serde(default)]
    force_alias_creation: Option<bool>,
}

pub(super) async fn confirm_sign_up(
    s: Arc<HttpState>,
    r: ConfirmSignUpRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .confirm_sign_up(
            &r.client_id,
            &r.username,
            &r.confirmation_code,
            r.secret_hash.as_deref(),
            r.force_alias_creation.unwrap_or(false),
        )
        .await?;
    Ok(Empty {})
}

// === ResendConfirmationCode / ForgotPassword ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CodeRequest {
    client_id: String,
    #[serde(default)]
    secret_hash: Option<String>,
    username: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CodeResponse {
    code_delivery_details: CodeDeliveryDetailsType,
}

pub(super) async fn resend_confirmation_code(
    s: Arc<HttpState>,
    r: CodeRequest,
) -> Result<CodeResponse, UserPoolError> {
    let d = s
        .user_pools
        .resend_confirmation_code(&r.client_id, &r.username, r.secret_hash.as_deref())
        .await?;
    Ok(CodeResponse {
        code_delivery_details: delivery_details(&d),
    })
}

pub(super) async fn forgot_password(
    s: Arc<HttpState>,
    r: CodeRequest,
) -> Result<CodeResponse, UserPoolError> {
    let d = s
        .user_pools
        .forgot_password(&r.client_id, &r.username, r.secret_hash.as_deref())
        .await?;
    Ok(CodeResponse {
        code_delivery_details: delivery_details(&d),
    })
}

// === ConfirmForgotPassword ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ConfirmForgotPasswordRequest {
    client_id: String,
    #[serde(default)]
    secret_hash: Option<String>,
    username: String,
    confirmation_code: String,
    password: String,
}

pub(super) async fn confirm_forgot_password(
    s: Arc<HttpState>,
    r: ConfirmForgotPasswordRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .confirm_forgot_password(
            &r.client_id,
            &r.username,
            &r.confirmation_code,
            &r.password,
            r.secret_hash.as_deref(),
        )
        .await?;
    Ok(Empty {})
}

// === InitiateAuth / AdminInitiateAuth ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct InitiateAuthRequest {
    client_id: String,
    auth_flow: String,
    #[serde(default)]
    auth_parameters: Option<BTreeMap<String, String>>,
    /// Handed to the triggers as `clientMetadata`.
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminInitiateAuthRequest {
    user_pool_id: String,
    client_id: String,
    auth_flow: String,
    #[serde(default)]
    auth_parameters: Option<BTreeMap<String, String>>,
    /// Handed to the triggers as `clientMetadata`.
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
}

/// `AuthenticationResultType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AuthenticationResult {
    access_token: String,
    expires_in: u64,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_device_metadata: Option<NewDeviceMetadataType>,
}

/// `NewDeviceMetadataType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NewDeviceMetadataType {
    device_key: String,
    device_group_key: String,
}

/// The answer of every authentication step: tokens, or the next challenge.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AuthResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
    challenge_parameters: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication_result: Option<AuthenticationResult>,
}

fn auth_response(outcome: AuthOutcome) -> AuthResponse {
    match outcome {
        AuthOutcome::Tokens(t) => AuthResponse {
            challenge_name: None,
            session: None,
            challenge_parameters: BTreeMap::new(),
            authentication_result: Some(AuthenticationResult {
                access_token: t.access_token,
                expires_in: t.expires_in,
                token_type: "Bearer",
                refresh_token: t.refresh_token,
                id_token: t.id_token,
                new_device_metadata: t.new_device.map(|d| NewDeviceMetadataType {
                    device_key: d.device_key,
                    device_group_key: d.device_group_key,
                }),
            }),
        },
        AuthOutcome::Challenge(c) => AuthResponse {
            challenge_name: Some(c.name),
            // PASSWORD_VERIFIER carries its state in SECRET_BLOCK and has no session.
            session: (!c.session.is_empty()).then_some(c.session),
            challenge_parameters: c.parameters,
            authentication_result: None,
        },
    }
}

pub(super) async fn initiate_auth(
    s: Arc<HttpState>,
    r: InitiateAuthRequest,
) -> Result<AuthResponse, UserPoolError> {
    let parameters = r.auth_parameters.unwrap_or_default();
    let metadata = r.client_metadata.unwrap_or_default();
    s.user_pools
        .initiate_auth_with(&r.client_id, &r.auth_flow, &parameters, &metadata)
        .await
        .map(auth_response)
}

pub(super) async fn admin_initiate_auth(
    s: Arc<HttpState>,
    r: AdminInitiateAuthRequest,
) -> Result<AuthResponse, UserPoolError> {
    let parameters = r.auth_parameters.unwrap_or_default();
    let metadata = r.client_metadata.unwrap_or_default();
    s.user_pools
        .admin_initiate_auth_with(
            &r.user_pool_id,
            &r.client_id,
            &r.auth_flow,
            &parameters,
            &metadata,
        )
        .await
        .map(auth_response)
}

// === RespondToAuthChallenge / AdminRespondToAuthChallenge ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RespondToAuthChallengeRequest {
    client_id: String,
    challenge_name: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    challenge_responses: Option<BTreeMap<String, String>>,
    /// Handed to the triggers as `clientMetadata`.
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AdminRespondToAuthChallengeRequest {
    user_pool_id: String,
    client_id: String,
    challenge_name: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    challenge_responses: Option<BTreeMap<String, String>>,
    /// Handed to the triggers as `clientMetadata`.
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
}

pub(super) async fn respond_to_auth_challenge(
    s: Arc<HttpState>,
    r: RespondToAuthChallengeRequest,
) -> Result<AuthResponse, UserPoolError> {
    let responses = r.challenge_responses.unwrap_or_default();
    let metadata = r.client_metadata.unwrap_or_default();
    s.user_pools
        .respond_to_auth_challenge_with(
            &r.client_id,
            &r.challenge_name,
            r.session.as_deref(),
            &responses,
            &metadata,
        )
        .await
        .map(auth_response)
}

pub(super) async fn admin_respond_to_auth_challenge(
    s: Arc<HttpState>,
    r: AdminRespondToAuthChallengeRequest,
) -> Result<AuthResponse, UserPoolError> {
    let responses = r.challenge_responses.unwrap_or_default();
    let metadata = r.client_metadata.unwrap_or_default();
    s.user_pools
        .admin_respond_to_auth_challenge_with(
            &r.user_pool_id,
            &r.client_id,
            &r.challenge_name,
            r.session.as_deref(),
            &responses,
            &metadata,
        )
        .await
        .map(auth_response)
}

// === GetTokensFromRefreshToken ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetTokensFromRefreshTokenRequest {
    refresh_token: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetTokensFromRefreshTokenResponse {
    authentication_result: AuthenticationResult,
}

/// GetTokensFromRefreshToken (`DeviceKey` and `ClientMetadata` are accepted and dropped).
pub(super) async fn get_tokens_from_refresh_token(
    s: Arc<HttpState>,
    r: GetTokensFromRefreshTokenRequest,
) -> Result<GetTokensFromRefreshTokenResponse, UserPoolError> {
    let t = s
        .user_pools
        .get_tokens_from_refresh_token(&r.client_id, &r.refresh_token, r.client_secret.as_deref())
        .await?;
    Ok(GetTokensFromRefreshTokenResponse {
        authentication_result: AuthenticationResult {
            access_token: t.access_token,
            expires_in: t.expires_in,
            token_type: "Bearer",
            refresh_token: t.refresh_token,
            id_token: t.id_token,
            new_device_metadata: None,
        },
    })
}

#[cfg(test)]
mod tests {
    //! Handler tests of the public operations: the router called with `oneshot`, unsigned.

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use gatehouse_storage::StoreOptions;
    use gatehouse_storage::testkit::TestStore;
    use serde_json::{Value, json};
    use tower::ServiceExt as _;

    use crate::http::{HttpState, OperatorCredentials, router};
    use crate::user_pools::config::ExplicitAuthFlow;
    use crate::user_pools::tests::fixture;
    use crate::user_pools::{ClientConfig, NewClient, PoolConfig};

    async fn call(app: &axum::Router, op: &str, body: &[u8]) -> (StatusCode, Value, String) {
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                format!("AWSCognitoIdentityProviderService.{op}"),
            )
            .body(Body::from(body.to_vec()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let error_type = resp
            .headers()
            .get("x-amzn-errortype")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), error_type)
    }

    async fn ok(app: &axum::Router, op: &str, body: Value) -> Value {
        let (status, v, _) = call(app, op, &serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{op}: {v}");
        v
    }

    async fn err(app: &axum::Router, op: &str, body: Value) -> String {
        let (status, v, header) = call(app, op, &serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{op}: {v}");
        let ty = v["__type"].as_str().unwrap().to_owned();
        assert_eq!(header, ty, "x-amzn-ErrorType matches __type");
        ty
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn public_operations_over_the_wire() {
        let db = TestStore::sqlite(StoreOptions::default()).await;
        let f = fixture(&db.store);
        let app = router(HttpState {
            user_pools: f.pools.clone(),
            operator: crate::http::operator::OperatorAuth::new(
                OperatorCredentials {
                    access_key_id: "AKIAOPERATOR00000001".into(),
                    secret_access_key: "secret".into(),
                },
                Some("us-east-1".into()),
                f.clock.clone(),
            ),
            clock: f.clock.clone(),
            trusted_proxies: crate::net::TrustedProxies::none(),
        });
        let pool = f
            .pools
            .create_user_pool(
                "wire",
                PoolConfig {
                    auto_verified_attributes: vec![
                        crate::user_pools::config::VerifiedAttribute::Email,
                    ],
                    ..PoolConfig::default()
                },
            )
            .await
            .unwrap();
        let client = f
            .pools
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "app".into(),
                    generate_secret: false,
                    config: ClientConfig {
                        explicit_auth_flows: vec![
                            ExplicitAuthFlow::AllowUserPasswordAuth,
                            ExplicitAuthFlow::AllowRefreshTokenAuth,
                        ],
                        ..ClientConfig::default()
                    },
                },
            )
            .await
            .unwrap();
        let cid = client.id.as_str();
        let password = "Correct-Horse-1!";

        let signed_up = ok(
            &app,
            "SignUp",
            json!({"ClientId": cid, "Username": "lena", "Password": password,
                   "UserAttributes": [{"Name": "email", "Value": "lena@example.com"}],
                   "ValidationData": [{"Name": "ignored", "Value": "x"}]}),
        )
        .await;
        assert_eq!(signed_up["UserConfirmed"], false);
        assert_eq!(signed_up["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL");
        assert_eq!(signed_up["CodeDeliveryDetails"]["AttributeName"], "email");
        let sub = signed_up["UserSub"].as_str().unwrap().to_owned();
        let code = f.messages()[0]["code"].as_str().unwrap().to_owned();
        assert_eq!(
            err(
                &app,
                "InitiateAuth",
                json!({"ClientId": cid, "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": "lena", "PASSWORD": password}})
            )
            .await,
            "UserNotConfirmedException"
        );
        let confirmed = ok(
            &app,
            "ConfirmSignUp",
            json!({"ClientId": cid, "Username": "lena", "ConfirmationCode": code}),
        )
        .await;
        assert_eq!(confirmed, json!({}));

        let login = ok(
            &app,
            "InitiateAuth",
            json!({"ClientId": cid, "AuthFlow": "USER_PASSWORD_AUTH",
                   "AuthParameters": {"USERNAME": "lena", "PASSWORD": password}}),
        )
        .await;
        assert_eq!(login["ChallengeParameters"], json!({}));
        assert!(login.get("ChallengeName").is_none() && login.get("Session").is_none());
        let result = &login["AuthenticationResult"];
        assert_eq!(result["TokenType"], "Bearer");
        assert_eq!(result["ExpiresIn"], 3600);
        let access = result["AccessToken"].as_str().unwrap().to_owned();
        let refresh = result["RefreshToken"].as_str().unwrap().to_owned();

        let refreshed = ok(
            &app,
            "InitiateAuth",
            json!({"ClientId": cid, "AuthFlow": "REFRESH_TOKEN",
                   "AuthParameters": {"REFRESH_TOKEN": refresh}}),
        )
        .await;
        assert!(
            refreshed["AuthenticationResult"]
                .get("RefreshToken")
                .is_none()
        );

        let me = ok(&app, "GetUser", json!({"AccessToken": access})).await;
        assert_eq!(me["Username"], "lena");
        assert!(me.get("MFAOptions").is_none());
        let attrs = me["UserAttributes"].as_array().unwrap();
        assert!(attrs.contains(&json!({"Name": "sub", "Value": sub})));
        assert!(attrs.contains(&json!({"Name": "email_verified", "Value": "true"})));

        let updated = ok(
            &app,
            "UpdateUserAttributes",
            json!({"AccessToken": access,
                   "UserAttributes": [{"Name": "email", "Value": "lena@new.example"}]}),
        )
        .await;
        assert_eq!(
            updated["CodeDeliveryDetailsList"][0]["AttributeName"],
            "email"
        );

        // Error shapes of the public operations.
        assert_eq!(
            err(
                &app,
                "InitiateAuth",
                json!({"ClientId": cid, "AuthFlow": "NOPE"})
            )
            .await,
            "InvalidParameterException"
        );
        assert_eq!(
            err(
                &app,
                "RespondToAuthChallenge",
                json!({"ClientId": cid, "ChallengeName": "NEW_PASSWORD_REQUIRED"})
            )
            .await,
            "InvalidParameterException"
        );
        assert_eq!(
            err(&app, "GetUser", json!({"AccessToken": "not-a-token"})).await,
            "NotAuthorizedException"
        );
        assert_eq!(
            err(
                &app,
                "SignUp",
                json!({"ClientId": "a".repeat(26), "Username": "x",
                "Password": password})
            )
            .await,
            "ResourceNotFoundException"
        );
        assert_eq!(
            err(
                &app,
                "SignUp",
                json!({"ClientId": cid, "Username": "x", "Password": password,
                "UserAttributes": "email=x"})
            )
            .await,
            "SerializationException"
        );
        // Operator twins need a signature.
        assert_eq!(
            err(
                &app,
                "AdminInitiateAuth",
                json!({"UserPoolId": pool.id, "ClientId": cid,
                "AuthFlow": "ADMIN_USER_PASSWORD_AUTH"})
            )
            .await,
            "MissingAuthenticationTokenException"
        );

        assert_eq!(
            ok(&app, "GlobalSignOut", json!({"AccessToken": access})).await,
            json!({})
        );
        assert_eq!(
            err(&app, "GetUser", json!({"AccessToken": access})).await,
            "NotAuthorizedException"
        );
    }
}
