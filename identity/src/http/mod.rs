//! HTTP adapters. [`router`] serves the Cognito JSON protocol on `POST /` (its
//! unauthenticated operations limited per source address), the per-pool OIDC discovery
//! documents and `GET /health`. Only this module tree names axum.
//!
//! Every response carries `x-amzn-RequestId`. Errors from the well-known endpoints use the
//! Cognito error shape too (`{"__type": …, "message": …}`), with 404 for an unknown pool.

pub mod cognito;
pub mod cognito_identity;
pub mod dynamodb;
pub mod functions;
pub mod oauth2;
pub mod operator;
pub mod query;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;

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

/// What the identity-pool, IAM and STS adapters need, beside [`HttpState`].
#[derive(Debug, Clone)]
pub struct FederationState {
    pub identity_pools: crate::identity_pools::IdentityPools,
    pub iam: crate::iam::Iam,
    pub sts: crate::sts::Sts,
    /// Verifies requests signed with operator or temporary credentials.
    pub verifier: crate::sts::CredentialVerifier,
    /// Whether the listener serves TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The DynamoDB row-level proxy, with `--dynamodb-upstream`.
    pub dynamodb: Option<crate::dynamodb::DynamoDbProxy>,
}

/// The identity service's routes.
pub fn router(state: HttpState) -> Router {
    router_with(state, Router::new())
}

/// The identity service's routes and `others` (the operator APIs of other crates, mounted on
/// the same listener), all behind the listener's body limit and request ids.
pub fn router_with(state: HttpState, others: Router) -> Router {
    router_with_federation(state, None, others)
}

/// [`router_with`], plus — with `federation` — Cognito Identity
/// (`AWSCognitoIdentityService.*` targets) and the IAM and STS query protocol (form bodies)
/// on the same `POST /`.
pub fn router_with_federation(
    state: HttpState,
    federation: Option<FederationState>,
    others: Router,
) -> Router {
    let state = Arc::new(state);
    let federation = federation.map(Arc::new);
    let others = match &federation {
        Some(federation) => others.merge(cognito_identity::well_known_routes(federation.clone())),
        None => others,
    };
    // The unauthenticated operations are limited per source address before anything else.
    let limited =
        axum::middleware::from_fn_with_state(state.clone(), cognito::rate_limit::limit_sources);
    // The protocols on `POST /` are boxed where they branch, but for DynamoDB's: a future
    // is as large as its largest branch, and this one is moved into a box on every request,
    // so the other protocols' large futures (storage calls held across awaits) would be
    // copied for every proxied DynamoDB request too.
    let root = move |State(state): State<Arc<HttpState>>, request: axum::extract::Request| {
        let federation = federation.clone();
        async move {
            if let Some(federation) = federation {
                let target = request
                    .headers()
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if target.starts_with(crate::dynamodb::TARGET_PREFIX)
                    && let Some(proxy) = federation.dynamodb.clone()
                {
                    return dynamodb::handle(state, federation, proxy, request).await;
                }
                if target.starts_with(cognito_identity::TARGET_PREFIX) {
                    return Box::pin(cognito_identity::handle(state, federation, request)).await;
                }
                if target.is_empty() && query::is_query_request(request.headers()) {
                    return Box::pin(query::handle(state, federation, request)).await;
                }
            }
            let (parts, body) = request.into_parts();
            Box::pin(cognito::handle(
                State(state),
                parts.method,
                parts.uri,
                parts.headers,
                body,
            ))
            .await
        }
    };
    Router::new()
        .route("/", post(root).layer(limited))
        .route("/health", get(health))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{pool_id}/.well-known/jwks.json", get(jwks))
        // CreateUserImportJob's PreSignedUrl: the CSV is PUT here, once.
        .route(
            "/user-import/{job_id}",
            axum::routing::put(upload_import_csv),
        )
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

/// Time a client gets to send a request's whole body once its head has arrived. The
/// listener's header deadline stops a client that trickles its head; without this one, a
/// client could announce a body and then trickle it, holding a place under the connection
/// cap for as long as it liked (a megabyte arrives in seconds on any working link).
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The body rules of every route on the identity listener, before any handler runs: a body
/// announced larger than [`MAX_REQUEST_BODY_BYTES`] is refused with 413, and the body is read
/// here, whole — every API served here reads it whole anyway — so one streamed past that size
/// gets 413 too, one not received within [`BODY_READ_TIMEOUT`] 408, and one that breaks off
/// 400. Errors have the Cognito shape (`{"__type", "message"}`).
async fn limit_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = request.into_parts();
    match read_limited_body(&parts.headers, body).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Err(refused) => refused,
    }
}

/// The body rules of [`limit_body`], for a caller that needs the bytes: the whole body, or
/// the answer that refuses it.
async fn read_limited_body(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, Response> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        body_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "SerializationException",
            format!("request body is larger than {MAX_REQUEST_BODY_BYTES} bytes"),
        )
    };
    if announced.is_some_and(|length| length > MAX_REQUEST_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, MAX_REQUEST_BODY_BYTES);
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, limited.collect()).await;
    match read {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(body_error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "the request body could not be read".to_owned(),
        )),
        Err(_) => Err(body_error(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeoutException",
            format!(
                "the request body did not arrive within {} seconds",
                BODY_READ_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// A refused request body, in the Cognito shape every API of this listener understands
/// (`__type` also as `x-amzn-ErrorType`, as the Cognito adapter sends it).
fn body_error(status: StatusCode, error_type: &'static str, message: String) -> Response {
    let mut response = json(
        status,
        &serde_json::json!({ "__type": error_type, "message": message }),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

/// A fresh request id (a UUID, as AWS sends).
pub(crate) fn request_id() -> String {
    crate::ids::uuid_v4()
}

/// `response` with `x-amzn-RequestId: {request_id}`, the id the adapter chose (and logged
/// or put in an error body) rather than a fresh one from [`add_request_id`].
pub(crate) fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

async fn add_request_id(response: Response) -> Response {
    ensure_request_id(response)
}

/// `response` with a fresh `x-amzn-RequestId` unless it has one already.
fn ensure_request_id(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key("x-amzn-requestid")
        && let Ok(v) = HeaderValue::from_str(&request_id())
    {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

/// The upload URL's query: its single-use token.
#[derive(Debug, serde::Deserialize)]
struct UploadQuery {
    #[serde(default)]
    token: String,
}

/// `PUT /user-import/{job_id}?token=…`: answered as S3 answers a pre-signed PUT (an empty 200,
/// or an XML error), since that is what the URL stands in for.
async fn upload_import_csv(
    State(state): State<Arc<HttpState>>,
    Path(job_id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<UploadQuery>,
    body: axum::body::Bytes,
) -> Response {
    use crate::user_pools::UploadError as E;
    let (status, code, message) = match state
        .user_pools
        .upload_import_csv(&job_id, &query.token, &body)
        .await
    {
        Ok(()) => return StatusCode::OK.into_response(),
        Err(E::Denied) => (StatusCode::FORBIDDEN, "AccessDenied", "Access Denied"),
        Err(E::TooLarge) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        ),
        Err(E::Service(_)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], xml).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, Bytes};
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;
    use tower::ServiceExt as _;

    /// A route that answers its body's length, behind the listener's body rules.
    fn app() -> Router {
        Router::new()
            .route(
                "/",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .layer(axum::middleware::from_fn(limit_body))
    }

    /// A client that sends the start of its body and then nothing, never finishing it.
    struct Stalled(Option<Bytes>);

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
            match self.0.take() {
                Some(first) => Poll::Ready(Some(Ok(http_body::Frame::data(first)))),
                None => Poll::Pending,
            }
        }
    }

    async fn answer(body: Body, length: usize) -> (StatusCode, String) {
        let request = axum::extract::Request::post("/")
            .header(header::CONTENT_LENGTH, length)
            .body(body)
            .unwrap();
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_arrive_in_time_is_refused() {
        let stalled = Body::new(Stalled(Some(Bytes::from_static(b"{\"Us"))));
        // Paused time jumps to the next timer: the body deadline, else this guard.
        let (status, text) = tokio::time::timeout(Duration::from_secs(3600), answer(stalled, 100))
            .await
            .expect("the handler still waits for the body");
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["__type"], "RequestTimeoutException", "{body}");
        // A body that arrives is handed on whole.
        let (status, text) = answer(Body::from("{}"), 2).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "2"));
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_announced_or_not() {
        let big = vec![b' '; MAX_REQUEST_BODY_BYTES + 1];
        let request = axum::extract::Request::post("/")
            .body(Body::from(big))
            .unwrap();
        // No `Content-Length` here: the size shows only while reading.
        let response = app().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let (status, _) = answer(Body::from("x"), MAX_REQUEST_BODY_BYTES + 1).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "announced");
    }
}
