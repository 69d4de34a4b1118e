//! HTTP adapters. [`router`] serves the Cognito JSON protocol on `POST /` (its
//! unauthenticated operations limited per source address), the per-pool OIDC discovery
//! documents and `GET /health`. Only this module tree names axum.
//!
//! Every response carries `x-amzn-RequestId`. Errors from the well-known endpoints use the
//! Cognito error shape too (`{"__type": …, "message": …}`), with 404 for an unknown pool.

pub mod cognito;
pub mod operator;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::clock::Clock;
use crate::net::TrustedProxies;
use crate::user_pools::{UserPoolError, UserPools};
use operator::OperatorAuth;

/// The operator's long-term credentials: operator operations must be SigV4-signed with them.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorCredentials {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl fmt::Debug for OperatorCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .finish()
    }
}

/// What the HTTP adapters need.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The user-pool service.
    pub user_pools: UserPools,
    /// Who may call operator operations, and where their signatures are scoped.
    pub operator: OperatorAuth,
    /// The service's clock.
    pub clock: Arc<dyn Clock>,
    /// Peers whose forwarding headers name the client (see [`crate::net`]); the resolved
    /// client is what the per-address limits count.
    pub trusted_proxies: TrustedProxies,
}

/// The identity service's routes.
pub fn router(state: HttpState) -> Router {
    router_with(state, Router::new())
}

/// The identity service's routes and `others` (the operator APIs of other crates, mounted on
/// the same listener), all behind the listener's body limit and request ids.
pub fn router_with(state: HttpState, others: Router) -> Router {
    let state = Arc::new(state);
    // The unauthenticated operations are limited per source address before anything else.
    let limited =
        axum::middleware::from_fn_with_state(state.clone(), cognito::rate_limit::limit_sources);
    Router::new()
        .route("/", post(cognito::handle).layer(limited))
        .route("/health", get(health))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{pool_id}/.well-known/jwks.json", get(jwks))
        .fallback(not_found)
        .with_state(state)
        .merge(others)
        .layer(axum::middleware::map_response(add_request_id))
        .layer(axum::middleware::from_fn(limit_body))
}

/// Largest request body on the identity listener, whatever the route: every API served here
/// takes requests of a few KiB (the Cognito protocol and the operator APIs apply the same
/// bound with their own error names).
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;

/// Refuses a body announced larger than [`MAX_REQUEST_BODY_BYTES`] with 413 before any
/// handler runs, and cuts off a body streamed without a length at the same size.
async fn limit_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_REQUEST_BODY_BYTES as u64) {
        return json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &serde_json::json!({
                "__type": "SerializationException",
                "message": format!("request body is larger than {MAX_REQUEST_BODY_BYTES} bytes"),
            }),
        );
    }
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_REQUEST_BODY_BYTES);
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::new(limited),
    ))
    .await
}

/// A fresh request id (a UUID, as AWS sends).
pub(crate) fn request_id() -> String {
    crate::ids::uuid_v4()
}

async fn add_request_id(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key("x-amzn-requestid")
        && let Ok(v) = HeaderValue::from_str(&request_id())
    {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

async fn health() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

async fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"__type": "ResourceNotFoundException", "message": "not found"}),
    )
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// Errors of the discovery endpoints: the Cognito shape, 404 for unknown pools.
fn well_known_error(e: &UserPoolError) -> Response {
    let wire = cognito::error::from_user_pool_error(e);
    let status = match e {
        UserPoolError::ResourceNotFound(_) => StatusCode::NOT_FOUND,
        _ => wire.status,
    };
    json(
        status,
        &serde_json::json!({"__type": wire.error_type, "message": wire.message}),
    )
}

async fn openid_configuration(
    State(state): State<Arc<HttpState>>,
    Path(pool_id): Path<String>,
) -> Response {
    match state.user_pools.openid_configuration(&pool_id).await {
        Ok(doc) => json(StatusCode::OK, &doc),
        Err(e) => well_known_error(&e),
    }
}

async fn jwks(State(state): State<Arc<HttpState>>, Path(pool_id): Path<String>) -> Response {
    match state.user_pools.jwks(&pool_id).await {
        Ok(doc) => json(StatusCode::OK, &doc),
        Err(e) => well_known_error(&e),
    }
}
