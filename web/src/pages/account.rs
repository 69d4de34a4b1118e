//! The account pages, at Cognito's hosted-UI paths: `/signup`, `/confirmUser` (and
//! `/resendcode`, a new code), `/forgotPassword` and `/confirmForgotPassword`. Like the
//! sign-in page, each carries the authorization request in its URL and checks it again on
//! every GET and POST; every POST is limited per client address like the sign-in's and
//! checks its CSRF token before any field is used. The decisions are the user pool's
//! (`OAuth2::sign_up` and the others); these pages only show them.
//!
//! # From sign-up to the app
//! A sign-up answers with the confirmation form (the code went to the address shown) and
//! a `__Host-` cookie holding the sign-up's sealed proof ([`SIGN_UP_COOKIE`]). Once the code
//! confirms the account, the proof signs the user in (a hosted session and a code for the
//! app's callback) without the password typed again, or shows the page of the second factor
//! the pool asks for; without it (another browser, too late) the sign-in page follows,
//! saying the account is confirmed. A user
//! the pool's PreSignUp trigger confirmed goes straight on.
//!
//! # Forgotten passwords
//! `/forgotPassword` answers alike whether or not the name exists (the code's destination
//! shown is made up for nobody); `/confirmForgotPassword` takes the code and the new
//! password and ends on the sign-in page, saying the password changed.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_identity::http::oauth2::cookies::{clear_cookie, read_cookie, set_cookie};
use gatehouse_identity::oauth2::{
    AccountError, AuthorizeRequest, LoginContext, NameKind, SignInStep, SignUpContext,
};
use gatehouse_identity::user_pools::config::PasswordPolicyConfig;
use gatehouse_identity::user_pools::{CodeDeliveryDetails, HOSTED_SIGN_UP_PROOF_LIFETIME};

use super::challenge::challenge_page;
use super::login::{SignInPage, buttons, prefix_of, sign_in_page, signed_in_response};
use super::{
    FormFields, Frame, PreSession, WebState, authorize_request, client_address, html, page_url,
    read_form, refused,
};
use crate::strings::Strings;

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/{pool_id}/signup", get(sign_up_page).post(sign_up_submit))
        .route(
            "/{pool_id}/confirmUser",
            get(confirm_page).post(confirm_submit),
        )
        .route("/{pool_id}/resendcode", post(resend_submit))
        .route(
            "/{pool_id}/forgotPassword",
            get(forgot_page).post(forgot_submit),
        )
        .route(
            "/{pool_id}/confirmForgotPassword",
            get(reset_page).post(reset_submit),
        )
}

/// The cookie holding a sign-up's sealed proof, one per pool.
pub(crate) fn sign_up_cookie_name(pool_id: &str) -> String {
    format!("{SIGN_UP_COOKIE}-{pool_id}")
}

/// The name every pool's sign-up cookie starts with.
pub(crate) const SIGN_UP_COOKIE: &str = "__Host-gatehouse-signup";

/// One attribute field of the sign-up form.
struct AttributeField {
    name: String,
    id: String,
    label: String,
    input_type: &'static str,
    autocomplete: &'static str,
    value: String,
    max_length: Option<u32>,
    required: bool,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpTemplate<'a> {
    frame: &'a Frame,
    client_name: &'a str,
    action: &'a str,
    sign_in_url: &'a str,
    csrf: &'a str,
    name_label: &'a str,
    name_type: &'static str,
    name_autocomplete: &'static str,
    name: &'a str,
    rules: Vec<String>,
    attributes: Vec<AttributeField>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmTemplate<'a> {
    frame: &'a Frame,
    client_name: &'a str,
    action: &'a str,
    resend_action: &'a str,
    sign_in_url: &'a str,
    csrf: &'a str,
    name: &'a str,
    notice: Option<String>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotTemplate<'a> {
    frame: &'a Frame,
    client_name: &'a str,
    action: &'a str,
    sign_in_url: &'a str,
    csrf: &'a str,
    name: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetTemplate<'a> {
    frame: &'a Frame,
    client_name: &'a str,
    action: &'a str,
    forgot_url: &'a str,
    sign_in_url: &'a str,
    csrf: &'a str,
    name: &'a str,
    rules: Vec<String>,
    notice: Option<String>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticeTemplate<'a> {
    frame: &'a Frame,
    title: &'a str,
    message: &'a str,
    sign_in_url: &'a str,
}

/// What every account page has from its URL, read before the body is.
struct Page {
    pool_id: String,
    params: AuthorizeRequest,
    frame: Frame,
    headers: HeaderMap,
    /// This page's URL (a form's `action`).
    action: String,
    /// The other pages' URLs, with the same authorization request.
    sign_in_url: String,
    sign_up_url: String,
    confirm_url: String,
    resend_url: String,
    forgot_url: String,
    reset_url: String,
    /// The challenge page (a second factor after the sign-up's sign-in).
    challenge_url: String,
    /// The pages' path prefix (the federated providers' buttons link under it).
    prefix: String,
    /// `username` in the query (the confirmation pages: Cognito's links carry it).
    username: String,
    client: std::net::IpAddr,
}

impl Page {
    /// The page `page` of `request` (its body handed back, for the forms).
    async fn read(
        state: &WebState,
        pool_id: String,
        request: Request,
        page: &str,
    ) -> (Self, axum::body::Body) {
        let params = authorize_request(&request);
        let username = form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "username")
            .map(|(_, v)| v.chars().take(256).collect())
            .unwrap_or_default();
        // (In a block: a closure holding the request is not `Send` across an await.)
        let [
            action,
            sign_in_url,
            sign_up_url,
            confirm_url,
            resend_url,
            forgot_url,
            reset_url,
            challenge_url,
        ] = {
            let url = |page: &str| page_url(&request, &pool_id, page);
            [
                url(page),
                url("login"),
                url("signup"),
                url("confirmUser"),
                url("resendcode"),
                url("forgotPassword"),
                url("confirmForgotPassword"),
                url("challenge"),
            ]
        };
        let prefix = prefix_of(&request, &pool_id);
        let client = client_address(state, &request);
        let (parts, body) = request.into_parts();
        let frame = Frame::load(state, &parts.headers, &pool_id, params.client_id.as_deref()).await;
        let page = Self {
            pool_id,
            params,
            frame,
            headers: parts.headers,
            action,
            sign_in_url,
            sign_up_url,
            confirm_url,
            resend_url,
            forgot_url,
            reset_url,
            challenge_url,
            prefix,
            username,
            client,
        };
        (page, body)
    }

    /// [`Page::read`] for a page of the sign-in's family (confirmation, forgotten password):
    /// the page, its sign-in context and the body, or the refusal's page.
    async fn open(
        state: &WebState,
        pool_id: String,
        request: Request,
        page: &str,
    ) -> Result<(Self, LoginContext, axum::body::Body), Response> {
        let (page, body) = Self::read(state, pool_id, request, page).await;
        match state.oauth.login_context(&page.pool_id, &page.params).await {
            Ok(context) => Ok((page, context, body)),
            Err(refusal) => Err(refused(refusal, &page.frame)),
        }
    }

    fn strings(&self) -> &'static Strings {
        self.frame.strings
    }

    /// A form page `build` renders with a CSRF token of the pre-session cookie (set here
    /// when the browser has none).
    fn render(&self, state: &WebState, build: impl FnOnce(&str) -> Response) -> Response {
        let pre_session = PreSession::of(&self.headers);
        let csrf = pre_session.csrf_token(&state.oauth);
        let mut response = build(&csrf);
        pre_session.set_on(&mut response);
        response
    }

    /// The sign-in page with `notice` (after a confirmation or a reset).
    fn sign_in(&self, state: &WebState, context: &LoginContext, notice: &str) -> Response {
        sign_in_page(
            state,
            &self.headers,
            &self.sign_in_form(context),
            StatusCode::OK,
            None,
            Some(notice),
        )
    }

    /// What the sign-in form shows, for this page's request.
    fn sign_in_form<'a>(&'a self, context: &'a LoginContext) -> SignInPage<'a> {
        SignInPage {
            frame: &self.frame,
            client_name: &context.client_name,
            action: &self.sign_in_url,
            callback: &context.request.redirect_uri,
            username: "",
            sign_up_url: &self.sign_up_url,
            forgot_url: &self.forgot_url,
            buttons: buttons(&self.prefix, context),
            password_form: context.password_form(),
        }
    }

    /// Whether this address may post another form now (the sign-in's per-address limit).
    fn within_limit(&self, state: &WebState) -> bool {
        state
            .oauth
            .user_pools()
            .source_limits()
            .check(self.client, state.clock.now())
            .is_ok()
    }
}

/// Where a code went, masked (`j***@e***`).
fn destination(delivery: &CodeDeliveryDetails) -> &str {
    &delivery.destination
}

/// The password policy, as the list shown beside the field.
fn password_rules(strings: &Strings, policy: &PasswordPolicyConfig) -> Vec<String> {
    let mut out = vec![
        strings
            .rule_min_length
            .replace("{n}", &policy.minimum_length.to_string()),
    ];
    if policy.require_lowercase {
        out.push(strings.rule_lowercase.to_owned());
    }
    if policy.require_uppercase {
        out.push(strings.rule_uppercase.to_owned());
    }
    if policy.require_numbers {
        out.push(strings.rule_number.to_owned());
    }
    if policy.require_symbols {
        out.push(strings.rule_symbol.to_owned());
    }
    out
}

/// An account error the form is shown again with: its status and words.
fn form_error<'a>(strings: &'a Strings, error: &'a AccountError) -> (StatusCode, &'a str) {
    match error {
        AccountError::Refused(message) => (StatusCode::BAD_REQUEST, message.as_str()),
        AccountError::CodeMismatch => (StatusCode::BAD_REQUEST, strings.code_mismatch),
        AccountError::ExpiredCode => (StatusCode::BAD_REQUEST, strings.code_expired),
        AccountError::TooManyAttempts => (StatusCode::TOO_MANY_REQUESTS, strings.too_many_attempts),
        AccountError::Request(_) | AccountError::Unavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, strings.unavailable)
        }
    }
}

/// A fresh form's fields, or the form again with why not.
async fn posted(
    state: &WebState,
    page: &Page,
    body: axum::body::Body,
) -> Result<FormFields, (StatusCode, &'static str)> {
    if !page.within_limit(state) {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            page.strings().too_many_requests,
        ));
    }
    read_form(&state.oauth, &page.headers, body)
        .await
        .map_err(|e| (e.status(), page.strings().form_expired))
}

// === Sign-up ===

struct SignUpForm<'a> {
    context: &'a SignUpContext,
    name: &'a str,
    values: Option<&'a FormFields>,
}

fn sign_up_form(
    state: &WebState,
    page: &Page,
    form: &SignUpForm<'_>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let strings = page.strings();
    let context = form.context;
    if !context.allowed {
        return notice_page(
            page,
            &context.login.request.redirect_uri,
            strings.sign_up_title,
            strings.sign_up_unavailable,
        );
    }
    let (name_label, name_type, name_autocomplete) = match context.name {
        NameKind::Username => (strings.username_only_label, "text", "username"),
        NameKind::Email => (strings.email_label, "email", "email"),
        NameKind::Phone => (strings.phone_label, "tel", "tel"),
        NameKind::EmailOrPhone => (strings.email_or_phone_label, "text", "username"),
    };
    let attributes = context
        .attributes
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (input_type, autocomplete) = super::attribute_input(a.input, &a.name);
            AttributeField {
                id: format!("attr-{i}"),
                label: strings.attribute_label(&a.name),
                input_type,
                autocomplete,
                value: form
                    .values
                    .map(|v| v.get(&a.name).chars().take(2048).collect())
                    .unwrap_or_default(),
                max_length: a.max_length,
                required: a.required,
                name: a.name.clone(),
            }
        })
        .collect();
    page.render(state, |csrf| {
        let template = SignUpTemplate {
            frame: &page.frame,
            client_name: &context.login.client_name,
            action: &page.action,
            sign_in_url: &page.sign_in_url,
            csrf,
            name_label,
            name_type,
            name_autocomplete,
            name: form.name,
            rules: password_rules(strings, &context.password_policy),
            attributes,
            error,
        };
        html(
            status,
            &page.frame,
            &template,
            Some(&context.login.request.redirect_uri),
        )
    })
}

/// The `autocomplete` token of a standard text attribute.
fn notice_page(page: &Page, callback: &str, title: &str, message: &str) -> Response {
    let template = NoticeTemplate {
        frame: &page.frame,
        title,
        message,
        sign_in_url: &page.sign_in_url,
    };
    html(StatusCode::OK, &page.frame, &template, Some(callback))
}

async fn sign_up_page(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, _) = Page::read(&state, pool_id, request, "signup").await;
    let context = match state
        .oauth
        .sign_up_context(&page.pool_id, &page.params)
        .await
    {
        Ok(context) => context,
        Err(refusal) => return refused(refusal, &page.frame),
    };
    let form = SignUpForm {
        context: &context,
        name: "",
        values: None,
    };
    sign_up_form(&state, &page, &form, StatusCode::OK, None)
}

async fn sign_up_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, body) = Page::read(&state, pool_id, request, "signup").await;
    let context = match state
        .oauth
        .sign_up_context(&page.pool_id, &page.params)
        .await
    {
        Ok(context) => context,
        Err(refusal) => return refused(refusal, &page.frame),
    };
    let mut form = SignUpForm {
        context: &context,
        name: "",
        values: None,
    };
    let fields = match posted(&state, &page, body).await {
        Ok(fields) => fields,
        Err((status, message)) => {
            return sign_up_form(&state, &page, &form, status, Some(message));
        }
    };
    if !context.allowed {
        return sign_up_form(&state, &page, &form, StatusCode::OK, None);
    }
    let name = fields.get("username").trim().to_owned();
    form.name = &name;
    form.values = Some(&fields);
    let attributes = context
        .attributes
        .iter()
        .map(|a| (a.name.clone(), fields.get(&a.name).to_owned()))
        .collect();
    let signed_up = match state
        .oauth
        .sign_up(
            &page.pool_id,
            &page.params,
            &name,
            fields.get("password"),
            attributes,
        )
        .await
    {
        Ok(signed_up) => signed_up,
        Err(AccountError::Request(refusal)) => return refused(refusal, &page.frame),
        Err(e) => {
            let (status, message) = form_error(page.strings(), &e);
            return sign_up_form(&state, &page, &form, status, Some(message));
        }
    };
    let cookie = set_cookie(
        &sign_up_cookie_name(&page.pool_id),
        &signed_up.proof,
        Some(HOSTED_SIGN_UP_PROOF_LIFETIME.as_secs()),
    );
    let mut response = if signed_up.confirmed {
        // Confirmed by the pool's PreSignUp trigger: nothing to confirm.
        return signed_in_or_sign_in(
            &state,
            &page,
            &context.login,
            &signed_up.proof,
            &signed_up.name,
        )
        .await;
    } else if let Some(delivery) = &signed_up.delivery {
        let notice = page
            .strings()
            .code_sent_to
            .replace("{destination}", destination(delivery));
        confirm_form(
            &state,
            &page,
            &context.login,
            &signed_up.name,
            StatusCode::OK,
            Some(notice),
            None,
        )
    } else {
        notice_page(
            &page,
            &context.login.request.redirect_uri,
            page.strings().sign_up_title,
            page.strings().created_pending,
        )
    };
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Signs in with a sign-up's proof, or shows the sign-in page saying the account is
/// confirmed; either way the proof's cookie goes.
async fn signed_in_or_sign_in(
    state: &WebState,
    page: &Page,
    context: &LoginContext,
    proof: &str,
    name: &str,
) -> Response {
    let callback = &context.request.redirect_uri;
    let mut response = match state
        .oauth
        .sign_in_after_sign_up(&page.pool_id, &page.params, proof, name)
        .await
    {
        Ok(SignInStep::SignedIn(signed_in)) => {
            signed_in_response(&page.pool_id, &signed_in, callback)
        }
        Ok(SignInStep::Challenge(challenge)) => challenge_page(
            state,
            &page.headers,
            &page.sign_in_form(context),
            &page.challenge_url,
            &challenge,
        ),
        Err(_) => page.sign_in(state, context, page.strings().account_confirmed),
    };
    if let Some(v) = clear_cookie(&sign_up_cookie_name(&page.pool_id)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

// === Confirmation ===

fn confirm_form(
    state: &WebState,
    page: &Page,
    context: &LoginContext,
    name: &str,
    status: StatusCode,
    notice: Option<String>,
    error: Option<&str>,
) -> Response {
    let callback = &context.request.redirect_uri;
    page.render(state, |csrf| {
        let template = ConfirmTemplate {
            frame: &page.frame,
            client_name: &context.client_name,
            action: &page.confirm_url,
            resend_action: &page.resend_url,
            sign_in_url: &page.sign_in_url,
            csrf,
            name,
            notice,
            error,
        };
        html(status, &page.frame, &template, Some(callback))
    })
}

async fn confirm_page(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, context, _) = match Page::open(&state, pool_id, request, "confirmUser").await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    confirm_form(
        &state,
        &page,
        &context,
        &page.username,
        StatusCode::OK,
        None,
        None,
    )
}

async fn confirm_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, context, body) = match Page::open(&state, pool_id, request, "confirmUser").await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let fields = match posted(&state, &page, body).await {
        Ok(fields) => fields,
        Err((status, message)) => {
            return confirm_form(
                &state,
                &page,
                &context,
                &page.username,
                status,
                None,
                Some(message),
            );
        }
    };
    let name = fields.get("username").trim();
    match state
        .oauth
        .confirm_sign_up(&page.pool_id, &page.params, name, fields.get("code"))
        .await
    {
        Ok(()) => {}
        Err(AccountError::Request(refusal)) => return refused(refusal, &page.frame),
        Err(e) => {
            let (status, message) = form_error(page.strings(), &e);
            return confirm_form(&state, &page, &context, name, status, None, Some(message));
        }
    }
    match read_cookie(&page.headers, &sign_up_cookie_name(&page.pool_id)) {
        Some(proof) => signed_in_or_sign_in(&state, &page, &context, &proof, name).await,
        None => page.sign_in(&state, &context, page.strings().account_confirmed),
    }
}

async fn resend_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, context, body) = match Page::open(&state, pool_id, request, "confirmUser").await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let fields = match posted(&state, &page, body).await {
        Ok(fields) => fields,
        Err((status, message)) => {
            return confirm_form(
                &state,
                &page,
                &context,
                &page.username,
                status,
                None,
                Some(message),
            );
        }
    };
    let name = fields.get("username").trim();
    match state
        .oauth
        .resend_code(&page.pool_id, &page.params, name)
        .await
    {
        Ok(delivery) => {
            let notice = page
                .strings()
                .code_resent_to
                .replace("{destination}", destination(&delivery));
            confirm_form(
                &state,
                &page,
                &context,
                name,
                StatusCode::OK,
                Some(notice),
                None,
            )
        }
        Err(AccountError::Request(refusal)) => refused(refusal, &page.frame),
        Err(e) => {
            let (status, message) = form_error(page.strings(), &e);
            confirm_form(&state, &page, &context, name, status, None, Some(message))
        }
    }
}

// === Forgotten password ===

fn forgot_form(
    state: &WebState,
    page: &Page,
    context: &LoginContext,
    name: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let callback = &context.request.redirect_uri;
    page.render(state, |csrf| {
        let template = ForgotTemplate {
            frame: &page.frame,
            client_name: &context.client_name,
            action: &page.forgot_url,
            sign_in_url: &page.sign_in_url,
            csrf,
            name,
            error,
        };
        html(status, &page.frame, &template, Some(callback))
    })
}

async fn forgot_page(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, context, _) = match Page::open(&state, pool_id, request, "forgotPassword").await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    forgot_form(&state, &page, &context, "", StatusCode::OK, None)
}

async fn forgot_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, context, body) = match Page::open(&state, pool_id, request, "forgotPassword").await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let fields = match posted(&state, &page, body).await {
        Ok(fields) => fields,
        Err((status, message)) => {
            return forgot_form(&state, &page, &context, "", status, Some(message));
        }
    };
    let name = fields.get("username").trim();
    match state
        .oauth
        .forgot_password(&page.pool_id, &page.params, name)
        .await
    {
        Ok(delivery) => {
            let notice = page
                .strings()
                .reset_code_sent_to
                .replace("{destination}", destination(&delivery));
            reset_form(
                &state,
                &page,
                &context,
                name,
                StatusCode::OK,
                Some(notice),
                None,
            )
            .await
        }
        Err(AccountError::Request(refusal)) => refused(refusal, &page.frame),
        Err(e) => {
            let (status, message) = form_error(page.strings(), &e);
            forgot_form(&state, &page, &context, name, status, Some(message))
        }
    }
}

async fn reset_form(
    state: &WebState,
    page: &Page,
    context: &LoginContext,
    name: &str,
    status: StatusCode,
    notice: Option<String>,
    error: Option<&str>,
) -> Response {
    let rules = match state.oauth.user_pools().user_pool(&page.pool_id).await {
        Ok(pool) => password_rules(page.strings(), &pool.config.password_policy),
        Err(_) => Vec::new(),
    };
    let callback = &context.request.redirect_uri;
    page.render(state, |csrf| {
        let template = ResetTemplate {
            frame: &page.frame,
            client_name: &context.client_name,
            action: &page.reset_url,
            forgot_url: &page.forgot_url,
            sign_in_url: &page.sign_in_url,
            csrf,
            name,
            rules,
            notice,
            error,
        };
        html(status, &page.frame, &template, Some(callback))
    })
}

async fn reset_page(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, context, _) =
        match Page::open(&state, pool_id, request, "confirmForgotPassword").await {
            Ok(opened) => opened,
            Err(refused) => return refused,
        };
    reset_form(
        &state,
        &page,
        &context,
        &page.username,
        StatusCode::OK,
        None,
        None,
    )
    .await
}

async fn reset_submit(
    State(state): State<Arc<WebState>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (page, context, body) =
        match Page::open(&state, pool_id, request, "confirmForgotPassword").await {
            Ok(opened) => opened,
            Err(refused) => return refused,
        };
    let fields = match posted(&state, &page, body).await {
        Ok(fields) => fields,
        Err((status, message)) => {
            return reset_form(
                &state,
                &page,
                &context,
                &page.username,
                status,
                None,
                Some(message),
            )
            .await;
        }
    };
    let name = fields.get("username").trim();
    match state
        .oauth
        .reset_password(
            &page.pool_id,
            &page.params,
            name,
            fields.get("code"),
            fields.get("password"),
        )
        .await
    {
        Ok(()) => page.sign_in(&state, &context, page.strings().password_changed),
        Err(AccountError::Request(refusal)) => refused(refusal, &page.frame),
        Err(e) => {
            let (status, message) = form_error(page.strings(), &e);
            reset_form(&state, &page, &context, name, status, None, Some(message)).await
        }
    }
}
