//! The sign-in page: GET shows the form, POST signs in with the username and password and
//! sends the browser back to the app with a code (the hosted session cookie set). Above the
//! form, a button per federated provider the client supports: a link to
//! `/oauth2/authorize` with the same request naming that provider. A client without
//! `COGNITO` gets only the buttons.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use gatehouse_identity::http::oauth2::MountedAt;
use gatehouse_identity::http::oauth2::cookies::{session_cookie_name, set_cookie};
use gatehouse_identity::oauth2::{HOSTED_SESSION_LIFETIME, LoginContext, SignInError};

use super::{
    Frame, PreSession, WebState, authorize_request, client_address, found, html, page_url,
    read_form, refused,
};

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/{pool_id}/login", get(login_page).post(login_submit))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate<'a> {
    frame: &'a Frame,
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

/// A federated provider's button.
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

/// What the sign-in form shows besides its error.
struct Form<'a> {
    frame: &'a Frame,
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
    let pre_session = PreSession::of(headers);
    let csrf = pre_session.csrf_token(&state.oauth);
    let page = LoginTemplate {
        frame: form.frame,
        client_name: form.client_name,
        action: form.action,
        csrf: &csrf,
        username: form.username,
        error,
        buttons: form.buttons,
        password_form: form.password_form,
    };
    let mut response = html(status, form.frame, &page, Some(form.callback));
    pre_session.set_on(&mut response);
    response
}

async fn login_page(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let params = authorize_request(&request);
    let action = page_url(&request, &pool_id, "login");
    let frame = Frame::load(
        &state,
        request.headers(),
        &pool_id,
        params.client_id.as_deref(),
    )
    .await;
    let context = match state.oauth.login_context(&pool_id, &params).await {
        Ok(context) => context,
        Err(refusal) => return refused(refusal, &frame),
    };
    let buttons = buttons(&request, &pool_id, &context);
    let form = Form {
        frame: &frame,
        client_name: &context.client_name,
        action: &action,
        callback: &context.request.redirect_uri,
        username: "",
        buttons: &buttons,
        password_form: context.password_form(),
    };
    form_page(&state, request.headers(), &form, StatusCode::OK, None)
}

async fn login_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let params = authorize_request(&request);
    let action = page_url(&request, &pool_id, "login");
    let client = client_address(&state, &request);
    let frame = Frame::load(
        &state,
        request.headers(),
        &pool_id,
        params.client_id.as_deref(),
    )
    .await;
    let strings = frame.strings;
    let context = match state.oauth.login_context(&pool_id, &params).await {
        Ok(context) => context,
        Err(refusal) => return refused(refusal, &frame),
    };
    let callback = context.request.redirect_uri.clone();
    let buttons = buttons(&request, &pool_id, &context);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let mut form = Form {
        frame: &frame,
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
    let fields = match read_form(&state.oauth, &headers, body).await {
        Ok(fields) => fields,
        Err(e) => {
            return form_page(
                &state,
                &headers,
                &form,
                e.status(),
                Some(strings.form_expired),
            );
        }
    };
    let username = fields.get("username").trim();
    let password = fields.get("password");
    form.username = username;
    let message = match state
        .oauth
        .password_sign_in(&pool_id, &params, username, password)
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
        Err(SignInError::Request(refusal)) => return refused(refusal, &frame),
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
