//! API Gateway's gateway response types: the answers the gateway itself gives (unknown route,
//! missing key, throttled, …), as data, so the pipeline renders each the way API Gateway does:
//! the status and `{"message": "…"}` body below.

/// A response the gateway produces without reaching an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GatewayResponseType {
    /// Unknown route, or a method the resource does not define: API Gateway answers 403
    /// `{"message":"Missing Authentication Token"}` (it does not reveal which paths exist).
    MissingAuthenticationToken,
    /// No API or stage is mapped for the request's host and path.
    ResourceNotFound,
    /// Missing or invalid API key.
    InvalidApiKey,
    /// Missing or invalid token.
    Unauthorized,
    /// A valid principal that is not allowed.
    AccessDenied,
    ExpiredToken,
    /// The authorizer endpoint failed or answered something unusable.
    AuthorizerFailure,
    AuthorizerConfigurationError,
    BadRequestParameters,
    BadRequestBody,
    UnsupportedMediaType,
    RequestTooLarge,
    Throttled,
    QuotaExceeded,
    IntegrationFailure,
    IntegrationTimeout,
    /// The definition cannot serve the request (an undefined stage variable, no integration
    /// response for a status): API Gateway's 500 "Internal server error".
    ApiConfigurationError,
    /// A client error no other type covers: a request path gatehouse refuses to route
    /// (`..` segments, see [`crate::definition::path::check_request_path`]), answered 400.
    Default4xx,
}

// === impl GatewayResponseType ===

impl GatewayResponseType {
    /// API Gateway's name (`MISSING_AUTHENTICATION_TOKEN`), for logs and `$context.error.responseType`.
    pub fn name(self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Self::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::AccessDenied => "ACCESS_DENIED",
            Self::ExpiredToken => "EXPIRED_TOKEN",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            Self::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            Self::BadRequestBody => "BAD_REQUEST_BODY",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::Throttled => "THROTTLED",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::IntegrationFailure => "INTEGRATION_FAILURE",
            Self::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Self::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            Self::Default4xx => "DEFAULT_4XX",
        }
    }

    /// The status API Gateway sends by default.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequestParameters | Self::BadRequestBody | Self::Default4xx => 400,
            Self::Unauthorized => 401,
            Self::MissingAuthenticationToken
            | Self::InvalidApiKey
            | Self::AccessDenied
            | Self::ExpiredToken => 403,
            Self::ResourceNotFound => 404,
            Self::RequestTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Throttled | Self::QuotaExceeded => 429,
            Self::AuthorizerFailure
            | Self::AuthorizerConfigurationError
            | Self::ApiConfigurationError => 500,
            // Both 504 in API Gateway's table of gateway response types: an unreachable or
            // failing HTTP endpoint is an `INTEGRATION_FAILURE` with status 504.
            Self::IntegrationFailure | Self::IntegrationTimeout => 504,
        }
    }

    /// The `message` of the default `{"message": "…"}` body.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "Missing Authentication Token",
            Self::ResourceNotFound => "Not Found",
            Self::InvalidApiKey => "Forbidden",
            Self::Unauthorized => "Unauthorized",
            Self::AccessDenied => "User is not authorized to access this resource",
            Self::ExpiredToken => "The security token included in the request is expired",
            Self::AuthorizerFailure
            | Self::AuthorizerConfigurationError
            | Self::ApiConfigurationError => "Internal server error",
            Self::BadRequestParameters => "Missing required request parameters",
            Self::BadRequestBody => "Invalid request body",
            Self::UnsupportedMediaType => "Unsupported Media Type",
            Self::RequestTooLarge => "Request Too Long",
            Self::Throttled => "Too Many Requests",
            Self::QuotaExceeded => "Limit Exceeded",
            Self::IntegrationFailure => "Internal server error",
            Self::IntegrationTimeout => "Endpoint request timed out",
            Self::Default4xx => "Bad Request",
        }
    }

    /// The default body, `{"message":"…"}`.
    pub fn body(self) -> String {
        serde_json::json!({ "message": self.message() }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::GatewayResponseType as G;

    #[test]
    fn defaults_match_api_gateway() {
        for (kind, status, body) in [
            (
                G::MissingAuthenticationToken,
                403,
                r#"{"message":"Missing Authentication Token"}"#,
            ),
            (G::InvalidApiKey, 403, r#"{"message":"Forbidden"}"#),
            (G::Unauthorized, 401, r#"{"message":"Unauthorized"}"#),
            (G::Throttled, 429, r#"{"message":"Too Many Requests"}"#),
            (G::QuotaExceeded, 429, r#"{"message":"Limit Exceeded"}"#),
            (
                G::BadRequestBody,
                400,
                r#"{"message":"Invalid request body"}"#,
            ),
            (
                G::IntegrationTimeout,
                504,
                r#"{"message":"Endpoint request timed out"}"#,
            ),
            (
                G::IntegrationFailure,
                504,
                r#"{"message":"Internal server error"}"#,
            ),
            (G::RequestTooLarge, 413, r#"{"message":"Request Too Long"}"#),
            (G::Default4xx, 400, r#"{"message":"Bad Request"}"#),
        ] {
            assert_eq!(
                (kind.status(), kind.body().as_str()),
                (status, body),
                "{}",
                kind.name()
            );
        }
    }
}
