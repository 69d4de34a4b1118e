//! The error page: requests that cannot go back to the app (unknown client, unregistered
//! callback, …), and `/{poolId}/error?error=…`, Cognito's page for links that land there.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use gatehouse_identity::oauth2::PageError;

use super::{Frame, WebState, html};
use crate::strings;

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/{pool_id}/error", get(error_route))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    frame: &'a Frame,
    message: &'a str,
}

/// The page of `error`.
pub(crate) fn error_response(error: PageError, frame: &Frame) -> Response {
    let strings = frame.strings;
    let (status, message) = match error {
        PageError::MissingClientId => (StatusCode::BAD_REQUEST, strings.error_missing_client),
        PageError::UnknownClient => (StatusCode::BAD_REQUEST, strings.error_unknown_client),
        PageError::MissingRedirectUri => (StatusCode::BAD_REQUEST, strings.error_missing_redirect),
        PageError::RedirectMismatch => (StatusCode::BAD_REQUEST, strings.error_redirect_mismatch),
        PageError::LogoutMismatch => (StatusCode::BAD_REQUEST, strings.error_logout_mismatch),
        PageError::RepeatedParameter => (StatusCode::BAD_REQUEST, strings.error_repeated_parameter),
        PageError::InvalidState => (StatusCode::BAD_REQUEST, strings.error_invalid_state),
        PageError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, strings.unavailable),
    };
    html(status, frame, &ErrorTemplate { frame, message }, None)
}

/// `GET /{poolId}/error?error=…`.
async fn error_route(request: Request) -> Response {
    let frame = Frame::plain(strings::for_request(request.headers()));
    let code = form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let error = match code.as_str() {
        "redirect_mismatch" => PageError::RedirectMismatch,
        "invalid_client" => PageError::UnknownClient,
        "missing_client_id" => PageError::MissingClientId,
        "missing_redirect_uri" => PageError::MissingRedirectUri,
        "logout_mismatch" => PageError::LogoutMismatch,
        "invalid_state" => PageError::InvalidState,
        _ => PageError::RepeatedParameter,
    };
    error_response(error, &frame)
}
