//! The one place that turns [`OAuthError`] into the wire: RFC 6749 section 5.2 JSON
//! (`{"error", "error_description"}`) with its status, `WWW-Authenticate` where RFC 6749
//! (Basic) and RFC 6750 (Bearer) ask for it, and `Cache-Control: no-store`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::oauth2::OAuthError;

/// How the failed request presented its credentials, which decides the challenge header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presented {
    /// Form parameters or nothing.
    Form,
    /// `Authorization: Basic` (a refused client gets 401 and a Basic challenge).
    Basic,
    /// `Authorization: Bearer` (userInfo).
    Bearer,
}

/// The status of each error.
pub(crate) fn status(e: &OAuthError, presented: Presented) -> StatusCode {
    match e {
        OAuthError::InvalidClient(_) if presented == Presented::Basic => StatusCode::UNAUTHORIZED,
        OAuthError::InvalidClient(_)
        | OAuthError::InvalidRequest(_)
        | OAuthError::InvalidGrant(_)
        | OAuthError::UnauthorizedClient(_)
        | OAuthError::UnsupportedGrantType(_)
        | OAuthError::UnsupportedResponseType(_)
        | OAuthError::InvalidScope(_)
        | OAuthError::LoginRequired(_)
        | OAuthError::AccessDenied(_)
        | OAuthError::UnsupportedTokenType(_) => StatusCode::BAD_REQUEST,
        OAuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        OAuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
        OAuthError::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        OAuthError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The error as a response.
pub(crate) fn response(e: &OAuthError, presented: Presented) -> Response {
    let status = status(e, presented);
    let body = serde_json::json!({
        "error": e.code(),
        "error_description": e.description(),
    });
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    let challenge = match (presented, status) {
        (Presented::Basic, StatusCode::UNAUTHORIZED) => {
            Some("Basic realm=\"gatehouse\"".to_owned())
        }
        (Presented::Bearer, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
            Some(format!("Bearer error=\"{}\"", e.code()))
        }
        _ => None,
    };
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (error, how credentials came, status, `error`, challenge): every variant once.
    #[test]
    fn oauth_error_mapping_table() {
        use OAuthError as E;
        use Presented as P;
        let m = || "msg".to_owned();
        let cases: Vec<(E, P, u16, &str, Option<&str>)> = vec![
            (
                E::InvalidRequest(m()),
                P::Form,
                400,
                "invalid_request",
                None,
            ),
            (E::InvalidClient(m()), P::Form, 400, "invalid_client", None),
            (
                E::InvalidClient(m()),
                P::Basic,
                401,
                "invalid_client",
                Some("Basic realm=\"gatehouse\""),
            ),
            (E::InvalidGrant(m()), P::Basic, 400, "invalid_grant", None),
            (
                E::UnauthorizedClient(m()),
                P::Form,
                400,
                "unauthorized_client",
                None,
            ),
            (
                E::UnsupportedGrantType(m()),
                P::Form,
                400,
                "unsupported_grant_type",
                None,
            ),
            (
                E::UnsupportedResponseType(m()),
                P::Form,
                400,
                "unsupported_response_type",
                None,
            ),
            (E::InvalidScope(m()), P::Form, 400, "invalid_scope", None),
            (E::LoginRequired(m()), P::Form, 400, "login_required", None),
            (E::AccessDenied(m()), P::Form, 400, "access_denied", None),
            (
                E::InvalidToken(m()),
                P::Bearer,
                401,
                "invalid_token",
                Some("Bearer error=\"invalid_token\""),
            ),
            (
                E::InsufficientScope(m()),
                P::Bearer,
                403,
                "insufficient_scope",
                Some("Bearer error=\"insufficient_scope\""),
            ),
            (
                E::UnsupportedTokenType(m()),
                P::Form,
                400,
                "unsupported_token_type",
                None,
            ),
            (
                E::TemporarilyUnavailable(m()),
                P::Form,
                503,
                "temporarily_unavailable",
                None,
            ),
            (E::ServerError, P::Form, 500, "server_error", None),
        ];
        for (e, presented, code, error, challenge) in cases {
            let r = response(&e, presented);
            assert_eq!(r.status().as_u16(), code, "{e:?}");
            assert_eq!(e.code(), error);
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store", "{e:?}");
            assert_eq!(
                r.headers()
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.to_str().unwrap()),
                challenge,
                "{e:?}"
            );
        }
    }
}
