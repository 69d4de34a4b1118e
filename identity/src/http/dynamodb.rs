//! DynamoDB's JSON 1.0 protocol (`X-Amz-Target: DynamoDB_20120810.<Op>`) on `POST /`: the
//! row-level proxy's adapter. It verifies the signature ([`crate::sts::CredentialVerifier`],
//! service `dynamodb`, `x-amz-target` signed), asks [`DynamoDbProxy`] for the checks and the
//! decision, and streams the upstream's answer back unchanged. Refusals have DynamoDB's error
//! shape (`{"__type":"com.amazon.coral.service#AccessDeniedException","message":…}`), mapped
//! in one place ([`from_dynamodb_error`], [`from_credential_error`]); nothing refused is
//! forwarded.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::Poll;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_policy::Context;

use super::operator::with_sigv4_request;
use super::{FederationState, HttpState};
use crate::dynamodb::{CONTENT_TYPE, DynamoDbError, DynamoDbProxy, TARGET_PREFIX, is_served};
use crate::sigv4::{SigV4Error, VerifierConfig};
use crate::sts::{CredentialError, RequestFacts};

/// The SigV4 service name.
pub const SIGNING_SERVICE: &str = "dynamodb";

/// A DynamoDB error as botocore and the SDKs parse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoWireError {
    pub status: StatusCode,
    /// The full `__type`, namespace included.
    pub error_type: &'static str,
    pub message: String,
}

impl DynamoWireError {
    fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }

    fn into_response(self, request_id: &str) -> Response {
        let body = serde_json::json!({ "__type": self.error_type, "message": self.message });
        let response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response();
        super::with_request_id(response, request_id)
    }
}

/// The one mapping of [`DynamoDbError`] to DynamoDB's errors.
pub fn from_dynamodb_error(e: &DynamoDbError) -> DynamoWireError {
    let bad = StatusCode::BAD_REQUEST;
    match e {
        DynamoDbError::AccessDenied(m) => DynamoWireError::new(
            bad,
            "com.amazon.coral.service#AccessDeniedException",
            m.as_str(),
        ),
        DynamoDbError::Validation(m) => DynamoWireError::new(
            bad,
            "com.amazon.coral.validate#ValidationException",
            m.as_str(),
        ),
        DynamoDbError::Serialization(m) => DynamoWireError::new(
            bad,
            "com.amazon.coral.service#SerializationException",
            m.as_str(),
        ),
        DynamoDbError::UnknownOperation(_) => DynamoWireError::new(
            bad,
            "com.amazon.coral.service#UnknownOperationException",
            e.to_string(),
        ),
        DynamoDbError::Upstream(_) => DynamoWireError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "Internal server error",
        ),
    }
}

/// The one mapping of credential refusals to DynamoDB's errors (the JSON protocols'
/// vocabulary, see [`crate::sigv4`]).
pub fn from_credential_error(e: &CredentialError) -> DynamoWireError {
    use SigV4Error as S;
    let bad = StatusCode::BAD_REQUEST;
    match e {
        CredentialError::InvalidToken => DynamoWireError::new(
            bad,
            "com.amazon.coral.service#UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        CredentialError::Expired => DynamoWireError::new(
            bad,
            "com.amazon.coral.service#ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        CredentialError::WrongRegion(_) => DynamoWireError::new(
            bad,
            "com.amazon.coral.service#InvalidSignatureException",
            e.to_string(),
        ),
        CredentialError::Signature(s) => match s {
            S::MissingAuthentication => DynamoWireError::new(
                bad,
                "com.amazon.coral.service#MissingAuthenticationTokenException",
                "Request is missing Authentication Token",
            ),
            S::Incomplete(_) | S::TooLarge { .. } => DynamoWireError::new(
                bad,
                "com.amazon.coral.service#IncompleteSignatureException",
                s.to_string(),
            ),
            S::UnknownAccessKey => DynamoWireError::new(
                bad,
                "com.amazon.coral.service#UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            S::SignatureMismatch
            | S::WrongService { .. }
            | S::WrongRegion { .. }
            | S::ScopeDateMismatch { .. }
            | S::HeaderNotSigned(_)
            | S::SignedHeaderMissing(_)
            | S::Expired { .. }
            | S::NotYetValid { .. }
            | S::PresignExpired { .. }
            | S::PayloadHashMismatch
            | S::UnsupportedPayloadHash(_) => DynamoWireError::new(
                bad,
                "com.amazon.coral.service#InvalidSignatureException",
                s.to_string(),
            ),
        },
    }
}

/// The identity listener with DynamoDB's requests taken first: `POST /` with a
/// `DynamoDB_20120810.*` target goes straight to the proxy, before the listener's other
/// layers (the domain routing, the router, the per-address limits of Cognito's
/// unauthenticated operations, none of which applies to it); everything else goes to `rest`
/// as it is. The proxy keeps the listener's body rules ([`super::MAX_REQUEST_BODY_BYTES`],
/// [`super::BODY_READ_TIMEOUT`], the same refusals) and its `x-amzn-RequestId` on every
/// answer. Without a proxy, `rest` is returned unchanged.
pub fn route_first(rest: Router, state: HttpState, federation: FederationState) -> Router {
    let Some(proxy) = federation.dynamodb.clone() else {
        return rest;
    };
    Router::new().fallback_service(RouteFirst {
        state: Arc::new(state),
        federation: Arc::new(federation),
        proxy,
        rest,
    })
}

/// The service behind [`route_first`].
#[derive(Clone)]
struct RouteFirst {
    state: Arc<HttpState>,
    federation: Arc<FederationState>,
    proxy: DynamoDbProxy,
    /// Every other request.
    rest: Router,
}

impl tower::Service<Request> for RouteFirst {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !is_dynamodb_request(&request) {
            // A router is always ready: no `poll_ready` needed first.
            let mut rest = self.rest.clone();
            return Box::pin(async move { tower::Service::call(&mut rest, request).await });
        }
        let (state, federation, proxy) = (
            self.state.clone(),
            self.federation.clone(),
            self.proxy.clone(),
        );
        Box::pin(async move {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip());
            let (parts, body) = request.into_parts();
            let response = match super::read_limited_body(&parts.headers, body).await {
                Ok(body) => proxy_request(&state, &federation, &proxy, peer, parts, body).await,
                Err(refused) => refused,
            };
            Ok(super::ensure_request_id(response))
        })
    }
}

/// `POST /` whose (first) `X-Amz-Target` is DynamoDB's: what the root route would hand to
/// [`handle`].
fn is_dynamodb_request(request: &Request) -> bool {
    request.method() == Method::POST
        && request.uri().path() == "/"
        && request
            .headers()
            .get("x-amz-target")
            .is_some_and(|v| v.as_bytes().starts_with(TARGET_PREFIX.as_bytes()))
}

/// What every DynamoDB request is verified against: service `dynamodb`, the operation's
/// header signed.
static VERIFIER_CONFIG: LazyLock<VerifierConfig> =
    LazyLock::new(|| VerifierConfig::new(SIGNING_SERVICE).require_signed("x-amz-target"));

/// `POST /` with a `DynamoDB_20120810.*` target, from the root route (the listener's layers
/// have run).
pub(crate) async fn handle(
    state: Arc<HttpState>,
    federation: Arc<FederationState>,
    proxy: DynamoDbProxy,
    request: Request,
) -> Response {
    let Some((peer, parts, body)) = super::query::read_whole(request).await else {
        return refuse(from_dynamodb_error(&DynamoDbError::Serialization(
            "the request body could not be read".into(),
        )));
    };
    proxy_request(&state, &federation, &proxy, peer, parts, body).await
}

/// A refusal: its body and `x-amzn-RequestId` name the same id (an answer that went through
/// keeps the upstream's).
fn refuse(e: DynamoWireError) -> Response {
    e.into_response(&super::request_id())
}

/// One DynamoDB request, its body read: verified, decided, and forwarded when allowed.
async fn proxy_request(
    state: &HttpState,
    federation: &FederationState,
    proxy: &DynamoDbProxy,
    peer: Option<IpAddr>,
    parts: Parts,
    body: Bytes,
) -> Response {
    // One target only: two readers must not pick different ones.
    if parts.headers.get_all("x-amz-target").iter().count() != 1 {
        return refuse(from_dynamodb_error(&DynamoDbError::Validation(
            "exactly one X-Amz-Target header is required".into(),
        )));
    }
    let now = state.clock.now();
    let facts = RequestFacts {
        source_ip: peer.map(|ip| state.trusted_proxies.client_ip(ip, &parts.headers)),
        secure_transport: federation.secure_transport,
        now,
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or("");
    let verified = with_sigv4_request(&parts.method, &parts.uri, &parts.headers, &body, |view| {
        federation
            .verifier
            .authenticate(view, &VERIFIER_CONFIG, now)
    });
    let caller = match verified {
        Ok(caller) => caller,
        Err(e) => return refuse(from_credential_error(&e)),
    };
    if !is_served(operation) {
        return refuse(from_dynamodb_error(&DynamoDbError::UnknownOperation(
            operation.to_owned(),
        )));
    }
    let decided = async {
        let parsed = crate::dynamodb::parse_body(&body)?;
        let checks = proxy.checks(operation, &parsed, now).await?;
        let permissions = federation
            .verifier
            .permissions_loaded(&caller.principal)
            .await;
        let account = federation.verifier.account_id();
        let mut context = Context::new();
        caller
            .principal
            .fill_context(&mut context, &facts, &permissions, account);
        DynamoDbProxy::authorize(
            &checks,
            &caller.principal,
            &permissions,
            &mut context,
            &caller.request.scope.region,
            account,
        )
    };
    if let Err(e) = decided.await {
        return refuse(from_dynamodb_error(&e));
    }
    // The body's hash, computed (and checked against any `x-amz-content-sha256`) by the
    // verification above, signs the forwarded request too: the body is hashed once. (A
    // client's upper-case hash is not reused; the forward hashes the body itself then.)
    let payload_hash = caller.request.payload_hash.as_str();
    let known_hash = (payload_hash.len() == 64
        && payload_hash
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    .then_some(payload_hash);
    match proxy.forward(target, body, known_hash, now).await {
        Ok(upstream) => {
            let (mut parts, body) = upstream.into_parts();
            for hop in ["connection", "keep-alive", "transfer-encoding", "upgrade"] {
                parts.headers.remove(hop);
            }
            Response::from_parts(parts, axum::body::Body::new(body))
        }
        Err(e) => refuse(from_dynamodb_error(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_error_mapping_table() {
        let m = || "msg".to_owned();
        let cases: Vec<(DynamoDbError, &str, u16)> = vec![
            (
                DynamoDbError::AccessDenied(m()),
                "com.amazon.coral.service#AccessDeniedException",
                400,
            ),
            (
                DynamoDbError::Validation(m()),
                "com.amazon.coral.validate#ValidationException",
                400,
            ),
            (
                DynamoDbError::Serialization(m()),
                "com.amazon.coral.service#SerializationException",
                400,
            ),
            (
                DynamoDbError::UnknownOperation(m()),
                "com.amazon.coral.service#UnknownOperationException",
                400,
            ),
            (
                DynamoDbError::Upstream("secret".into()),
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                500,
            ),
        ];
        for (e, ty, status) in cases {
            let w = from_dynamodb_error(&e);
            assert_eq!((w.error_type, w.status.as_u16()), (ty, status), "{e:?}");
            assert!(!w.message.contains("secret"));
        }
        let expired = from_credential_error(&CredentialError::Expired);
        assert_eq!(
            expired.error_type,
            "com.amazon.coral.service#ExpiredTokenException"
        );
    }
}
