//! The one place that turns what went wrong with a request into API Gateway's wire shape:
//! a status and `{"message": "…"}`. Internal causes (a connection error, a missing stage
//! variable) go to logs and `$context.error.message`, never to the client.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use gatehouse_identity::functions::FunctionError;

use crate::definition::compiled::MissReason;
use crate::definition::path::PathRejection;
use crate::definition::responses::GatewayResponseType;
use crate::definition::template::RenderError;
use crate::server::body::GatewayBody;
use crate::server::functions::Malformed;
use crate::server::steps::Rejection;

/// Why the gateway answers a request itself.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no route ({0:?})")]
    NoRoute(MissReason),
    #[error("request path refused: {0}")]
    InvalidPath(#[from] PathRejection),
    #[error(
        "the request names its host ambiguously (two `Host` fields, or a target naming another host)"
    )]
    AmbiguousHost,
    #[error("missing required request parameters: [{0}]")]
    MissingParameters(String),
    #[error("invalid request body: {0}")]
    InvalidBody(&'static str),
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("a body was sent to a method whose passthrough behavior is NEVER")]
    UnsupportedMediaType,
    #[error("cannot build the endpoint uri: {0}")]
    Render(#[from] RenderError),
    #[error("the endpoint uri `{0}` is not a valid http uri")]
    BadEndpoint(String),
    #[error("no integration response matches status {0} and there is no default")]
    NoIntegrationResponse(u16),
    #[error("backend request failed: {0}")]
    Backend(String),
    /// The `https://` backend's certificate was refused (wrong name, expired, unknown
    /// issuer) or the handshake failed: 502, the backend is not who it should be.
    #[error("backend refused: {0}")]
    BackendTls(String),
    #[error("backend did not answer within {0} ms")]
    Timeout(u32),
    #[error("the request body could not be read: {0}")]
    ClientBody(String),
    #[error("rejected by a pipeline stage: {}", .0.kind.name())]
    Rejected(Rejection),
    /// A Lambda proxy integration's function could not be called, or failed (as API Gateway
    /// answers a Lambda error: 502; an unregistered function is a configuration error: 500).
    #[error(transparent)]
    Function(FunctionError),
    /// The function answered, but not with a Lambda proxy response: 502.
    #[error("the answer of function `{arn}` is not a Lambda proxy response: {why}")]
    MalformedAnswer { arn: String, why: Malformed },
}

// === impl GatewayError ===

impl GatewayError {
    /// API Gateway's response type for this error.
    pub fn response_type(&self) -> GatewayResponseType {
        use GatewayResponseType as G;
        match self {
            Self::NoRoute(_) => G::MissingAuthenticationToken,
            Self::InvalidPath(_) | Self::AmbiguousHost => G::Default4xx,
            Self::MissingParameters(_) => G::BadRequestParameters,
            Self::InvalidBody(_) | Self::ClientBody(_) => G::BadRequestBody,
            Self::BodyTooLarge { .. } => G::RequestTooLarge,
            Self::UnsupportedMediaType => G::UnsupportedMediaType,
            Self::Render(_) | Self::BadEndpoint(_) | Self::NoIntegrationResponse(_) => {
                G::ApiConfigurationError
            }
            Self::Backend(_) | Self::BackendTls(_) => G::IntegrationFailure,
            Self::Timeout(_) => G::IntegrationTimeout,
            Self::Rejected(rejection) => rejection.kind,
            Self::Function(err) => match err {
                FunctionError::NotRegistered { .. } | FunctionError::InvalidArn { .. } => {
                    G::ApiConfigurationError
                }
                FunctionError::EventTooLarge { .. } => G::RequestTooLarge,
                FunctionError::Unreachable { .. }
                | FunctionError::Timeout { .. }
                | FunctionError::Transport { .. }
                | FunctionError::Failed { .. }
                | FunctionError::AnswerTooLarge { .. }
                | FunctionError::NotJson { .. } => G::IntegrationFailure,
            },
            Self::MalformedAnswer { .. } => G::IntegrationFailure,
        }
    }

    /// The client-facing message (API Gateway's words).
    pub fn message(&self) -> String {
        match self {
            // API Gateway names the missing parameters: `Missing required request
            // parameters: [x-tenant, page]`.
            Self::MissingParameters(names) => {
                format!("Missing required request parameters: [{names}]")
            }
            // Which rule refused it stays in the logs.
            Self::InvalidPath(_) => "Invalid request path".to_owned(),
            Self::AmbiguousHost => "Invalid Host header".to_owned(),
            Self::NoRoute(_)
            | Self::InvalidBody(_)
            | Self::ClientBody(_)
            | Self::BodyTooLarge { .. }
            | Self::UnsupportedMediaType
            | Self::Render(_)
            | Self::BadEndpoint(_)
            | Self::NoIntegrationResponse(_)
            | Self::Backend(_)
            | Self::BackendTls(_)
            | Self::Timeout(_)
            | Self::Rejected(_)
            | Self::Function(_)
            | Self::MalformedAnswer { .. } => self.response_type().message().to_owned(),
        }
    }

    /// The status to send: the response type's, but 502 Bad Gateway for a backend whose TLS
    /// handshake failed (an answer from the wrong party, not a missing one) and for a Lambda
    /// function that failed or answered what API Gateway calls a malformed Lambda proxy
    /// response.
    pub fn status(&self) -> u16 {
        match self {
            Self::BackendTls(_) | Self::MalformedAnswer { .. } => 502,
            Self::Function(_) => match self.response_type() {
                GatewayResponseType::IntegrationFailure => 502,
                other => other.status(),
            },
            Self::NoRoute(_)
            | Self::InvalidPath(_)
            | Self::AmbiguousHost
            | Self::MissingParameters(_)
            | Self::InvalidBody(_)
            | Self::ClientBody(_)
            | Self::BodyTooLarge { .. }
            | Self::UnsupportedMediaType
            | Self::Render(_)
            | Self::BadEndpoint(_)
            | Self::NoIntegrationResponse(_)
            | Self::Backend(_)
            | Self::Timeout(_)
            | Self::Rejected(_) => self.response_type().status(),
        }
    }

    /// The response to send.
    pub fn into_response(self) -> Response<GatewayBody> {
        let body = serde_json::json!({ "message": self.message() }).to_string();
        let mut response = json_response(self.status(), Bytes::from(body));
        if let Self::Rejected(rejection) = self {
            let headers = response.headers_mut();
            for (name, value) in rejection.headers {
                headers.append(name, value);
            }
        }
        response
    }
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: u16, body: Bytes) -> Response<GatewayBody> {
    let mut response = Response::new(GatewayBody::full(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn wire(err: GatewayError) -> (u16, String) {
        let response = err.into_response();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn every_error_has_api_gateways_shape() {
        let cases: Vec<(GatewayError, u16, &str)> = vec![
            (
                GatewayError::NoRoute(MissReason::NoResource),
                403,
                "Missing Authentication Token",
            ),
            (
                GatewayError::InvalidPath(PathRejection::DotSegment),
                400,
                "Invalid request path",
            ),
            (GatewayError::AmbiguousHost, 400, "Invalid Host header"),
            (
                GatewayError::MissingParameters("x-tenant, page".into()),
                400,
                "Missing required request parameters: [x-tenant, page]",
            ),
            (
                GatewayError::InvalidBody("schema"),
                400,
                "Invalid request body",
            ),
            (
                GatewayError::ClientBody("reset".into()),
                400,
                "Invalid request body",
            ),
            (
                GatewayError::BodyTooLarge { limit: 10 },
                413,
                "Request Too Long",
            ),
            (
                GatewayError::UnsupportedMediaType,
                415,
                "Unsupported Media Type",
            ),
            (
                GatewayError::Render(RenderError::MissingStageVariable("h".into())),
                500,
                "Internal server error",
            ),
            (
                GatewayError::BadEndpoint("x".into()),
                500,
                "Internal server error",
            ),
            (
                GatewayError::NoIntegrationResponse(418),
                500,
                "Internal server error",
            ),
            (
                GatewayError::Backend("refused".into()),
                504,
                "Internal server error",
            ),
            (
                GatewayError::BackendTls("certificate not valid for name".into()),
                502,
                "Internal server error",
            ),
            (GatewayError::Timeout(50), 504, "Endpoint request timed out"),
            (
                GatewayError::Function(FunctionError::NotRegistered { arn: "a".into() }),
                500,
                "Internal server error",
            ),
            (
                GatewayError::Function(FunctionError::InvalidArn { arn: "a".into() }),
                500,
                "Internal server error",
            ),
            (
                GatewayError::Function(FunctionError::EventTooLarge {
                    arn: "a".into(),
                    limit: 1,
                }),
                413,
                "Request Too Long",
            ),
            (
                GatewayError::Function(FunctionError::Unreachable {
                    arn: "a".into(),
                    attempts: 3,
                    reason: "refused".into(),
                }),
                502,
                "Internal server error",
            ),
            (
                GatewayError::Function(FunctionError::Timeout {
                    arn: "a".into(),
                    timeout_ms: 5000,
                }),
                502,
                "Internal server error",
            ),
            (
                GatewayError::Function(FunctionError::Transport {
                    arn: "a".into(),
                    reason: "reset".into(),
                }),
                502,
                "Internal server error",
            ),
            (
                GatewayError::Function(FunctionError::Failed {
                    arn: "a".into(),
                    status: 500,
                    error_type: Some("Error".into()),
                    error_message: Some("the function's own words".into()),
                }),
                502,
                "Internal server error",
            ),
            (
                GatewayError::Function(FunctionError::AnswerTooLarge {
                    arn: "a".into(),
                    limit: 1,
                }),
                502,
                "Internal server error",
            ),
            (
                GatewayError::Function(FunctionError::NotJson { arn: "a".into() }),
                502,
                "Internal server error",
            ),
            (
                GatewayError::MalformedAnswer {
                    arn: "a".into(),
                    why: Malformed::NoStatus,
                },
                502,
                "Internal server error",
            ),
            (
                GatewayError::Rejected(Rejection::new(GatewayResponseType::Throttled)),
                429,
                "Too Many Requests",
            ),
        ];
        for (err, status, message) in cases {
            let expected = serde_json::json!({ "message": message }).to_string();
            assert_eq!(wire(err).await, (status, expected));
        }
    }
}
