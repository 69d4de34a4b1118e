//! The pages and their routes: the sign-in page (GET shows the form, POST signs in) and the
//! error page of requests that cannot go back to the app.
//!
//! # The sign-in page and the authorization request
//! The page's URL carries the authorization request itself, as Cognito's
//! `/login?client_id=…&redirect_uri=…&response_type=code&…` does: `/oauth2/authorize` sends
//! the browser here with the request's own parameters, and every GET and POST checks them
//! again with [`OAuth2::login_context`] / [`OAuth2::password_sign_in`]. Nothing is kept on
//! the server between showing the form and its answer, any node can answer either, and a
//! tampered URL is just another request, checked like the first (its callback must still be
//! registered, its PKCE challenge is what the code gets bound to).
//!
//! # CSRF
//! The first page a browser sees sets a `__Host-` pre-session cookie (random, 256 bits);
//! each form carries the HMAC of that value ([`OAuth2::csrf_token`]). A POST without the
//! cookie, or with a token of another cookie, is refused before any password is checked.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_identity::clock::Clock;
use gatehouse_identity::http::oauth2::cookies::{
    PRE_SESSION_COOKIE, read_cookie, session_cookie_name, set_cookie,
};
use gatehouse_identity::http::oauth2::{ErrorPages, MountedAt};
use gatehouse_identity::net::TrustedProxies;
use gatehouse_identity::oauth2::{
    AuthorizeRequest, HOSTED_SESSION_LIFETIME, LoginContext, OAuth2, PageError, Refusal,
    SignInError,
};

use crate::security::{STYLE, add_page_headers};
use crate::strings::{self, Strings};

/// What the pages need.
#[derive(Debug, Clone)]
pub struct WebState {
    /// The OAuth provider (requests, sign-in, CSRF tokens).
    pub oauth: OAuth2,
    /// Who the client is, for the per-address limit of sign-in attempts.
    pub trusted_proxies: TrustedProxies,
    /// The service's clock (the limits).
    pub clock: Arc<dyn Clock>,
}

/// The pages' routes, to merge into the identity listener's router.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/{pool_id}/login", get(login_page).post(login_submit))
        .route("/{pool_id}/error", get(error_route))
        .with_state(Arc::new(state))
}

/// The error pages, for the identity adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostedPages;

impl ErrorPages for HostedPages {
    fn error_page(&self, error: PageError, headers: &HeaderMap) -> Response {
        error_response(error, strings::for_request(headers))
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate<'a> {
    strings: &'a Strings,
    style: &'a str,
    client_name: &'a str,
    action: &'a str,
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    /// A link per federated provider the client supports.
    buttons: &'a [Button],
    /// Whether the client lets the pool's own users sign in (`COGNITO`).
    password_form: bool,
}

/// A federated provider's button: `/oauth2/authorize` with the same request, naming it.
struct Button {
    name: String,
    href: String,
}

/// The buttons of `context`'s providers, for a page of `pool_id` reached as `request`.
fn buttons(request: &Request, pool_id: &str, context: &LoginContext) -> Vec<Button> {
    let prefix = MountedAt::prefix_for(request.extensions().get::<MountedAt>(), pool_id);
    context
        .providers()
        .iter()
        .map(|name| {
            let mut pairs: Vec<(&str, &str)> = context
                .request
                .request
                .to_pairs()
                .into_iter()
                .filter(|(k, _)| !matches!(*k, "identity_provider" | "idp_identifier"))
                .collect();
            pairs.push(("identity_provider", name));
            Button {
                name: name.clone(),
                href: gatehouse_identity::oauth2::redirect_with(
                    &format!("{prefix}/oauth2/authorize"),
                    &pairs,
                ),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    strings: &'a Strings,
    style: &'a str,
    message: &'a str,
}

fn html(
    status: StatusCode,
    body: Result<String, askama::Error>,
    callback: Option<&str>,
) -> Response {
    let mut response = match body {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page template");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    };
    add_page_headers(response.headers_mut(), callback);
    response
}

fn error_response(error: PageError, strings: &Strings) -> Response {
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
    let page = ErrorTemplate {
        strings,
        style: STYLE,
        message,
    };
    html(status, page.render(), None)
}

/// `GET /{poolId}/error?error=…`: Cognito's error page, for links that land there.
async fn error_route(request: Request) -> Response {
    let strings = strings::for_request(request.headers());
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
    error_response(error, strings)
}

fn query_pairs(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The form's `action`: this page, same host and prefix, same query.
fn action(request: &Request, pool_id: &str) -> String {
    let prefix = MountedAt::prefix_for(request.extensions().get::<MountedAt>(), pool_id);
    match request.uri().query() {
        Some(query) => format!("{prefix}/login?{query}"),
        None => format!("{prefix}/login"),
    }
}

/// A redirect (the answer to a sign-in, or an error sent back to the app).
fn found(location: &str, callback: Option<&str>) -> Response {
    let Ok(value) = HeaderValue::from_str(location) else {
        return (StatusCode::BAD_REQUEST, "invalid redirect\n").into_response();
    };
    let mut response = (StatusCode::FOUND, [(header::LOCATION, value)]).into_response();
    add_page_headers(response.headers_mut(), callback);
    response
}

/// The pre-session cookie value of the request, or a new one to set.
fn pre_session(headers: &HeaderMap) -> (String, bool) {
    match read_cookie(headers, PRE_SESSION_COOKIE).filter(|v| v.len() <= 128) {
        Some(value) => (value, false),
        None => (OAuth2::random_token(), true),
    }
}

struct Form<'a> {
    strings: &'a Strings,
    client_name: &'a str,
    action: &'a str,
    callback: &'a str,
    username: &'a str,
    buttons: &'a [Button],
    password_form: bool,
}

/// The sign-in form (again, with `error`), with a CSRF token of the pre-session cookie
/// (set here when the browser has none).
fn form_page(
    state: &WebState,
    headers: &HeaderMap,
    form: &Form<'_>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (cookie, new) = pre_session(headers);
    let csrf = state.oauth.csrf_token(&cookie);
    let page = LoginTemplate {
        strings: form.strings,
        style: STYLE,
        client_name: form.client_name,
        action: form.action,
        csrf: &csrf,
        username: form.username,
        error,
        buttons: form.buttons,
        password_form: form.password_form,
    };
    let mut response = html(status, page.render(), Some(form.callback));
    if new && let Some(v) = set_cookie(PRE_SESSION_COOKIE, &cookie, None) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// An authorization request the page cannot serve: its page, or back to the app.
fn refused(refusal: Refusal, strings: &Strings) -> Response {
    match refusal {
        Refusal::Page(error) => error_response(error, strings),
        Refusal::Redirect(r) => found(&r.location(), Some(&r.redirect_uri)),
    }
}

/// The page's language, the authorization request its URL carries and the form's action
/// (the same page), read from the request before anything is awaited.
fn read_page(request: &Request, pool_id: &str) -> (&'static Strings, AuthorizeRequest, String) {
    (
        strings::for_request(request.headers()),
        AuthorizeRequest::from_pairs(query_pairs(request)),
        action(request, pool_id),
    )
}

async fn login_page(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (strings, params, action) = read_page(&request, &pool_id);
    let context = match state.oauth.login_context(&pool_id, &params).await {
        Ok(context) => context,
        Err(refusal) => return refused(refusal, strings),
    };
    let buttons = buttons(&request, &pool_id, &context);
    let form = Form {
        strings,
        client_name: &context.client_name,
        action: &action,
        callback: &context.request.redirect_uri,
        username: "",
        buttons: &buttons,
        password_form: context.password_form(),
    };
    form_page(&state, request.headers(), &form, StatusCode::OK, None)
}

/// The fields of the sign-in form.
#[derive(Default)]
struct Submitted {
    username: String,
    password: String,
    csrf: String,
}

fn submitted(headers: &HeaderMap, body: &[u8]) -> Option<Submitted> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return None;
    }
    let mut out = Submitted::default();
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "username" => out.username = v.trim().to_owned(),
            "password" => out.password = v.into_owned(),
            "_csrf" => out.csrf = v.into_owned(),
            _ => {}
        }
    }
    Some(out)
}

async fn login_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (strings, params, action) = read_page(&request, &pool_id);
    let context = match state.oauth.login_context(&pool_id, &params).await {
        Ok(context) => context,
        Err(refusal) => return refused(refusal, strings),
    };
    let callback = context.request.redirect_uri.clone();
    let buttons = buttons(&request, &pool_id, &context);
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| {
            state
                .trusted_proxies
                .client_ip(peer.ip(), request.headers())
        });
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let mut form = Form {
        strings,
        client_name: &context.client_name,
        action: &action,
        callback: &callback,
        username: "",
        buttons: &buttons,
        password_form: context.password_form(),
    };
    // The sign-in attempts of one address are limited like InitiateAuth's.
    if state
        .oauth
        .user_pools()
        .source_limits()
        .check(client, state.clock.now())
        .is_err()
    {
        return form_page(
            &state,
            &headers,
            &form,
            StatusCode::TOO_MANY_REQUESTS,
            Some(strings.too_many_requests),
        );
    }
    let body =
        match axum::body::to_bytes(body, gatehouse_identity::http::MAX_REQUEST_BODY_BYTES).await {
            Ok(body) => body,
            Err(_) => {
                return form_page(
                    &state,
                    &headers,
                    &form,
                    StatusCode::BAD_REQUEST,
                    Some(strings.form_expired),
                );
            }
        };
    let Some(fields) = submitted(&headers, &body) else {
        return form_page(
            &state,
            &headers,
            &form,
            StatusCode::BAD_REQUEST,
            Some(strings.form_expired),
        );
    };
    let csrf_ok = read_cookie(&headers, PRE_SESSION_COOKIE)
        .is_some_and(|cookie| state.oauth.check_csrf(&cookie, &fields.csrf));
    if !csrf_ok {
        return form_page(
            &state,
            &headers,
            &form,
            StatusCode::FORBIDDEN,
            Some(strings.form_expired),
        );
    }
    form.username = &fields.username;
    let message = match state
        .oauth
        .password_sign_in(&pool_id, &params, &fields.username, &fields.password)
        .await
    {
        Ok(signed_in) => {
            let mut response = found(&signed_in.location, Some(&callback));
            let name = session_cookie_name(&pool_id);
            if let Some(v) = set_cookie(
                &name,
                &signed_in.session,
                Some(HOSTED_SESSION_LIFETIME.as_secs()),
            ) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            return response;
        }
        Err(SignInError::Request(refusal)) => return refused(refusal, strings),
        Err(SignInError::IncorrectCredentials) => {
            (StatusCode::UNAUTHORIZED, strings.incorrect_credentials)
        }
        Err(SignInError::TooManyAttempts) => {
            (StatusCode::TOO_MANY_REQUESTS, strings.too_many_attempts)
        }
        Err(SignInError::NotConfirmed) => (StatusCode::FORBIDDEN, strings.not_confirmed),
        Err(SignInError::PasswordResetRequired) => {
            (StatusCode::FORBIDDEN, strings.password_reset_required)
        }
        Err(SignInError::NewPasswordRequired) => {
            (StatusCode::FORBIDDEN, strings.new_password_required)
        }
        Err(SignInError::SecondFactorRequired) => {
            (StatusCode::FORBIDDEN, strings.second_factor_required)
        }
        Err(SignInError::Unavailable) => (StatusCode::SERVICE_UNAVAILABLE, strings.unavailable),
    };
    form_page(&state, &headers, &form, message.0, Some(message.1))
}
