//! The sign-in page: GET shows the form, POST signs in with the username and password and
//! sends the browser back to the app with a code (the hosted session cookie set), or shows
//! the page of the sign-in's next step (`challenge`). Above the form, a button per federated
//! provider the client supports: a link to `/oauth2/authorize` with the same request naming
//! that provider. A client without `COGNITO` gets only the buttons.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use gatehouse_identity::http::oauth2::MountedAt;
use gatehouse_identity::http::oauth2::cookies::{session_cookie_name, set_cookie};
use gatehouse_identity::oauth2::{
    AuthorizeRequest, HOSTED_SESSION_LIFETIME, LoginContext, SignedInRedirect,
};

use super::{
    FormFields, Frame, PreSession, WebState, authorize_request, client_address, found, html,
    page_url, read_form, refused,
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
    sign_up_url: &'a str,
    forgot_url: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    /// A link per federated provider the client supports.
    buttons: &'a [Button],
    /// Whether the client lets the pool's own users sign in (`COGNITO`).
    password_form: bool,
}

/// A federated provider's button.
pub(super) struct Button {
    name: String,
    href: String,
}

/// The pages' path prefix of `pool_id` for `request` (under the issuer, or on a domain).
pub(super) fn prefix_of(request: &Request, pool_id: &str) -> String {
    MountedAt::prefix_for(request.extensions().get::<MountedAt>(), pool_id)
}

/// The buttons of `context`'s providers, for the pages under `prefix`.
pub(super) fn buttons(prefix: &str, context: &LoginContext) -> Vec<Button> {
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
pub(super) struct SignInPage<'a> {
    pub(super) frame: &'a Frame,
    pub(super) client_name: &'a str,
    pub(super) action: &'a str,
    pub(super) callback: &'a str,
    pub(super) username: &'a str,
    /// The sign-up and forgotten-password pages, with the same authorization request.
    pub(super) sign_up_url: &'a str,
    pub(super) forgot_url: &'a str,
    /// The federated providers' buttons ([`buttons`]).
    pub(super) buttons: Vec<Button>,
    /// Whether the client lets the pool's own users sign in (`COGNITO`).
    pub(super) password_form: bool,
}

/// The sign-in form (again, with `error`; or after another page, with its `notice`), with
/// a CSRF token of the pre-session cookie (set here when the browser has none).
pub(super) fn sign_in_page(
    state: &WebState,
    headers: &HeaderMap,
    form: &SignInPage<'_>,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let pre_session = PreSession::of(headers);
    let csrf = pre_session.csrf_token(&state.oauth);
    let page = LoginTemplate {
        frame: form.frame,
        client_name: form.client_name,
        action: form.action,
        csrf: &csrf,
        username: form.username,
        sign_up_url: form.sign_up_url,
        forgot_url: form.forgot_url,
        error,
        notice,
        buttons: &form.buttons,
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
    let sign_up_url = page_url(&request, &pool_id, "signup");
    let forgot_url = page_url(&request, &pool_id, "forgotPassword");
    let prefix = prefix_of(&request, &pool_id);
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
    let form = SignInPage {
        frame: &frame,
        client_name: &context.client_name,
        action: &action,
        callback: &context.request.redirect_uri,
        username: "",
        sign_up_url: &sign_up_url,
        forgot_url: &forgot_url,
        buttons: buttons(&prefix, &context),
        password_form: context.password_form(),
    };
    sign_in_page(&state, request.headers(), &form, StatusCode::OK, None, None)
}

async fn login_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (post, fields) = match SignInPost::read(&state, &pool_id, request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let username = fields.get("username").trim();
    let password = fields.get("password");
    let mut form = post.form();
    form.username = username;
    let step = state
        .oauth
        .password_sign_in(&pool_id, &post.params, username, password)
        .await;
    super::challenge::step_response(
        &state,
        &post.headers,
        &form,
        &pool_id,
        &post.challenge_url,
        step,
    )
}

/// A posted form of a sign-in (the password, or a challenge's answer), read as far as both
/// go: the authorization request in its URL checked again, the per-address limit, then the
/// CSRF token. Refusals are the answer to send (the request's error, or the sign-in form
/// again saying why).
pub(super) struct SignInPost {
    /// The authorization request the page's URL carries.
    pub(super) params: AuthorizeRequest,
    pub(super) headers: HeaderMap,
    /// Where a challenge's answer posts.
    pub(super) challenge_url: String,
    frame: Frame,
    context: LoginContext,
    login_url: String,
    sign_up_url: String,
    forgot_url: String,
    prefix: String,
}

impl SignInPost {
    pub(super) async fn read(
        state: &WebState,
        pool_id: &str,
        request: Request,
    ) -> Result<(Self, FormFields), Response> {
        let params = authorize_request(&request);
        let [login_url, challenge_url, sign_up_url, forgot_url] =
            ["login", "challenge", "signup", "forgotPassword"]
                .map(|page| page_url(&request, pool_id, page));
        let prefix = prefix_of(&request, pool_id);
        let client = client_address(state, &request);
        let frame = Frame::load(
            state,
            request.headers(),
            pool_id,
            params.client_id.as_deref(),
        )
        .await;
        let context = match state.oauth.login_context(pool_id, &params).await {
            Ok(context) => context,
            Err(refusal) => return Err(refused(refusal, &frame)),
        };
        let (parts, body) = request.into_parts();
        let post = Self {
            params,
            headers: parts.headers,
            challenge_url,
            frame,
            context,
            login_url,
            sign_up_url,
            forgot_url,
            prefix,
        };
        let strings = post.frame.strings;
        // The sign-in attempts of one address are limited like InitiateAuth's.
        if state
            .oauth
            .user_pools()
            .source_limits()
            .check(client, state.clock.now())
            .is_err()
        {
            return Err(post.again(
                state,
                StatusCode::TOO_MANY_REQUESTS,
                strings.too_many_requests,
            ));
        }
        match read_form(&state.oauth, &post.headers, body).await {
            Ok(fields) => Ok((post, fields)),
            Err(e) => Err(post.again(state, e.status(), strings.form_expired)),
        }
    }

    /// The sign-in form of this request.
    pub(super) fn form(&self) -> SignInPage<'_> {
        SignInPage {
            frame: &self.frame,
            client_name: &self.context.client_name,
            action: &self.login_url,
            callback: &self.context.request.redirect_uri,
            username: "",
            sign_up_url: &self.sign_up_url,
            forgot_url: &self.forgot_url,
            buttons: buttons(&self.prefix, &self.context),
            password_form: self.context.password_form(),
        }
    }

    /// The sign-in form again, with `error`.
    fn again(&self, state: &WebState, status: StatusCode, error: &str) -> Response {
        sign_in_page(
            state,
            &self.headers,
            &self.form(),
            status,
            Some(error),
            None,
        )
    }
}

/// A completed sign-in: to the app's callback with the code, the hosted session set.
pub(super) fn signed_in_response(
    pool_id: &str,
    signed_in: &SignedInRedirect,
    callback: &str,
) -> Response {
    let mut response = found(&signed_in.location, Some(callback));
    let name = session_cookie_name(pool_id);
    if let Some(v) = set_cookie(
        &name,
        &signed_in.session,
        Some(HOSTED_SESSION_LIFETIME.as_secs()),
    ) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
