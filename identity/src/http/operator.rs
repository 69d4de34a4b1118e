//! The operator's SigV4 check, shared by every operator API on the identity listener: the
//! Cognito JSON protocol's operator operations and API Gateway's REST operator API (and the
//! protocols to come). One verification and one mapping of its failures to AWS's error names,
//! so no two APIs can drift apart on what they accept or how they refuse it.
//!
//! The two AWS protocol families differ only in how a refusal is framed:
//! - [`Protocol::AwsJson`] (`x-amz-json-1.1`, `X-Amz-Target` names the operation): HTTP 400
//!   and `{"__type", "message"}`; `x-amz-target` must be covered by the signature, or a
//!   captured request (or a presigned URL, valid up to seven days) could be replayed as another
//!   operation of the same service.
//! - [`Protocol::RestJson`] (the operation is the method and path, both always signed):
//!   HTTP 403 and `{"message"}` with `x-amzn-ErrorType`.
//!
//! Operator credentials are long-term: a request carrying a session token was signed with
//! temporary credentials these APIs did not issue, and is refused as an unknown key.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::OperatorCredentials;
use crate::clock::Clock;
use crate::sigv4::{self, Payload, SecretKey, SigV4Error, VerifierConfig};

/// How an AWS protocol names operations and frames errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target` names the operation (Cognito, Cognito Identity, DynamoDB).
    AwsJson,
    /// The method and path name the operation (API Gateway's management API).
    RestJson,
}

/// Who may call operator operations, and where signatures are scoped.
#[derive(Debug, Clone)]
pub struct OperatorAuth {
    credentials: OperatorCredentials,
    /// The regions credential scopes may name (empty: any; the region is signed either way).
    /// The region a request was signed for is the region it acts in.
    regions: Vec<String>,
    clock: Arc<dyn Clock>,
}

/// A refused operator request, in AWS's words; each protocol frames it its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRejection {
    /// 400 on the JSON protocols, 403 on REST ones (413 for an oversized body).
    pub status: StatusCode,
    /// `__type` / `x-amzn-ErrorType`.
    pub error_type: &'static str,
    /// The message; never contains a secret.
    pub message: String,
}

// === impl OperatorAuth ===

impl OperatorAuth {
    /// Requests must be signed by `credentials`, scoped to `region` when given, within the SigV4
    /// clock-skew window of `clock`.
    pub fn new(
        credentials: OperatorCredentials,
        region: Option<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::for_regions(credentials, region.into_iter().collect(), clock)
    }

    /// Requests must be signed by `credentials`, scoped to one of `regions` (any when empty).
    pub fn for_regions(
        credentials: OperatorCredentials,
        regions: Vec<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            credentials,
            regions,
            clock,
        }
    }

    /// The access key id operator requests are signed with.
    pub fn access_key_id(&self) -> &str {
        &self.credentials.access_key_id
    }

    /// Verifies a request to `service` (the SigV4 service name) of `protocol`: the signature,
    /// its scope and time, the body against the signed payload hash, and the headers the
    /// protocol requires signed. Returns the region the request was signed for.
    pub fn check(
        &self,
        service: &str,
        protocol: Protocol,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<String, AuthRejection> {
        let mut config = VerifierConfig::new(service);
        // One region: the verifier checks it. Several: any is verified, then the scope's
        // region must be one of them.
        if let [only] = self.regions.as_slice() {
            config.region = Some(only.clone());
        }
        if protocol == Protocol::AwsJson {
            config = config.require_signed("x-amz-target");
        }
        let operator = &self.credentials;
        let verified = with_sigv4_request(method, uri, headers, body, |request| {
            sigv4::verify(request, &config, self.clock.now(), |key_id| {
                (key_id == operator.access_key_id)
                    .then(|| SecretKey::new(operator.secret_access_key.clone()))
            })
        })
        .map_err(|err| rejection(&err, protocol))?;
        if verified.security_token.is_some() {
            return Err(rejection(&SigV4Error::UnknownAccessKey, protocol));
        }
        let region = verified.scope.region;
        if self.regions.len() > 1 && !self.regions.contains(&region) {
            let wrong = SigV4Error::WrongRegion {
                expected: self.regions.join(", "),
                found: region,
            };
            return Err(rejection(&wrong, protocol));
        }
        Ok(region)
    }
}

/// Runs `f` on the SigV4 view of a request (its head and whole body): the one place an
/// HTTP request becomes a [`sigv4::Request`] on this listener.
pub(crate) fn with_sigv4_request<R>(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    f: impl FnOnce(&sigv4::Request<'_>) -> R,
) -> R {
    let header_list: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    f(&sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &header_list,
        payload: Payload::Bytes(body),
    })
}

/// The one mapping of SigV4 failures to AWS's JSON-protocol error names and messages (the
/// table in [`crate::sigv4`]'s docs), framed with `protocol`'s status.
pub fn rejection(err: &SigV4Error, protocol: Protocol) -> AuthRejection {
    use SigV4Error as E;
    let error_type = match err {
        E::MissingAuthentication => "MissingAuthenticationTokenException",
        E::Incomplete(_) | E::TooLarge { .. } => "IncompleteSignatureException",
        E::UnknownAccessKey => "UnrecognizedClientException",
        E::WrongService { .. }
        | E::WrongRegion { .. }
        | E::ScopeDateMismatch { .. }
        | E::HeaderNotSigned(_)
        | E::SignedHeaderMissing(_)
        | E::Expired { .. }
        | E::NotYetValid { .. }
        | E::PresignExpired { .. }
        | E::PayloadHashMismatch
        | E::UnsupportedPayloadHash(_)
        | E::SignatureMismatch => "InvalidSignatureException",
    };
    let message = match err {
        E::MissingAuthentication => "Missing Authentication Token".to_owned(),
        E::UnknownAccessKey => "The security token included in the request is invalid.".to_owned(),
        E::SignatureMismatch => "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_owned(),
        E::Incomplete(_)
        | E::TooLarge { .. }
        | E::WrongService { .. }
        | E::WrongRegion { .. }
        | E::ScopeDateMismatch { .. }
        | E::HeaderNotSigned(_)
        | E::SignedHeaderMissing(_)
        | E::Expired { .. }
        | E::NotYetValid { .. }
        | E::PresignExpired { .. }
        | E::PayloadHashMismatch
        | E::UnsupportedPayloadHash(_) => err.to_string(),
    };
    AuthRejection {
        status: match protocol {
            Protocol::AwsJson => StatusCode::BAD_REQUEST,
            Protocol::RestJson => StatusCode::FORBIDDEN,
        },
        error_type,
        message,
    }
}

// === the REST middleware ===

/// What [`require_operator`] needs: the check, the service name and the body limit.
#[derive(Debug, Clone)]
pub struct RestGuard {
    /// The operator's credentials and scope.
    pub auth: Arc<OperatorAuth>,
    /// The SigV4 service name (`apigateway`).
    pub service: &'static str,
    /// Largest body read for the signature check (larger: 413).
    pub max_body_bytes: usize,
}

/// An axum middleware for REST-JSON operator APIs (`axum::middleware::from_fn_with_state`
/// with a [`RestGuard`]): reads the body once, checks the signature, hands the request on.
/// Refusals are API Gateway's shape: `{"message"}` with `x-amzn-ErrorType`.
pub async fn require_operator(
    State(guard): State<RestGuard>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, guard.max_body_bytes).await else {
        return rest_error(&AuthRejection {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error_type: "BadRequestException",
            message: format!("request body is larger than {} bytes", guard.max_body_bytes),
        });
    };
    if let Err(rejected) = guard.auth.check(
        guard.service,
        Protocol::RestJson,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &bytes,
    ) {
        return rest_error(&rejected);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A rejection as the REST-JSON protocols send it.
fn rest_error(rejected: &AuthRejection) -> Response {
    let body = serde_json::json!({ "message": rejected.message });
    let mut response = (
        rejected.status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
        .into_response();
    response.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static(rejected.error_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant once: the same name and message on both protocols, each with its status.
    #[test]
    fn sigv4_error_mapping_table() {
        use SigV4Error as E;
        let cases: Vec<(E, &str)> = vec![
            (
                E::MissingAuthentication,
                "MissingAuthenticationTokenException",
            ),
            (E::Incomplete("x".into()), "IncompleteSignatureException"),
            (
                E::TooLarge {
                    what: "x",
                    limit: 1,
                },
                "IncompleteSignatureException",
            ),
            (
                E::WrongService {
                    expected: "a".into(),
                    found: "b".into(),
                },
                "InvalidSignatureException",
            ),
            (
                E::WrongRegion {
                    expected: "a".into(),
                    found: "b".into(),
                },
                "InvalidSignatureException",
            ),
            (
                E::ScopeDateMismatch {
                    scope_date: "a".into(),
                    request_date: "b".into(),
                },
                "InvalidSignatureException",
            ),
            (
                E::Expired {
                    request_time: "a".into(),
                    earliest: "b".into(),
                },
                "InvalidSignatureException",
            ),
            (
                E::NotYetValid {
                    request_time: "a".into(),
                    latest: "b".into(),
                },
                "InvalidSignatureException",
            ),
            (
                E::PresignExpired {
                    expired_at: "a".into(),
                },
                "InvalidSignatureException",
            ),
            (
                E::HeaderNotSigned("x-amz-target"),
                "InvalidSignatureException",
            ),
            (
                E::SignedHeaderMissing("x".into()),
                "InvalidSignatureException",
            ),
            (E::UnknownAccessKey, "UnrecognizedClientException"),
            (E::PayloadHashMismatch, "InvalidSignatureException"),
            (
                E::UnsupportedPayloadHash("x".into()),
                "InvalidSignatureException",
            ),
            (E::SignatureMismatch, "InvalidSignatureException"),
        ];
        for (err, name) in cases {
            let json = rejection(&err, Protocol::AwsJson);
            let rest = rejection(&err, Protocol::RestJson);
            assert_eq!(
                (json.error_type, json.status),
                (name, StatusCode::BAD_REQUEST),
                "{err:?}"
            );
            assert_eq!(
                (rest.error_type, rest.status),
                (name, StatusCode::FORBIDDEN),
                "{err:?}"
            );
            assert_eq!(json.message, rest.message, "{err:?}");
        }
        assert_eq!(
            rejection(&E::HeaderNotSigned("x-amz-target"), Protocol::AwsJson).message,
            "`x-amz-target` must be a signed header"
        );
    }
}
