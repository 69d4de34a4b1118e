//! The hosted pages and what every one of them shares: the [`Frame`] each template gets,
//! rendering with the page headers, redirects, the pre-session cookie and its CSRF tokens,
//! the bounded form reader, and the client's address.
//!
//! One file per page beside this one ([`login`], [`error`], …); each has a `routes()` that
//! [`router`] merges.
//!
//! # The authorization request travels in the URL
//! A page's URL carries the authorization request itself, as Cognito's
//! `/login?client_id=…&redirect_uri=…&response_type=code&…` does: `/oauth2/authorize` sends
//! the browser here with the request's own parameters, and every GET and POST checks them
//! again ([`OAuth2::login_context`]). Nothing is kept on the server between showing a form
//! and its answer, any node can answer either, and a tampered URL is just another request,
//! checked like the first.
//!
//! # CSRF
//! The first page a browser sees sets a `__Host-` pre-session cookie (random, 256 bits);
//! each form carries the HMAC of that value ([`OAuth2::csrf_token`]) in `_csrf`.
//! [`read_form`] refuses a POST without the cookie, or with a token of another cookie,
//! before any field is used.

mod account;
mod brand;
mod challenge;
mod error;
mod login;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_identity::clock::Clock;
use gatehouse_identity::http::MAX_REQUEST_BODY_BYTES;
use gatehouse_identity::http::oauth2::cookies::{PRE_SESSION_COOKIE, read_cookie, set_cookie};
use gatehouse_identity::http::oauth2::{ErrorPages, MountedAt};
use gatehouse_identity::net::TrustedProxies;
use gatehouse_identity::oauth2::{AuthorizeRequest, InputKind, OAuth2, PageError, Refusal};

use crate::security::{STYLE, add_page_headers, style_hash};
use crate::strings::{self, Strings};

pub(crate) use error::error_response;

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
        .merge(login::routes())
        .merge(account::routes())
        .merge(challenge::routes())
        .merge(error::routes())
        .merge(brand::routes())
        .with_state(Arc::new(state))
}

/// The error pages, for the identity adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostedPages;

impl ErrorPages for HostedPages {
    fn error_page(&self, error: PageError, headers: &HeaderMap) -> Response {
        error_response(error, &Frame::plain(strings::for_request(headers)))
    }
}

// === Frame ===

/// What every template gets and `base.html` reads: the words of the page's language, its
/// stylesheet and the branding of the pool or app. A page's own fields sit beside it in
/// its template struct (`frame: &'a Frame`), so branding changes this one place.
#[derive(Debug)]
pub(crate) struct Frame {
    /// The words, in the language the browser asks for.
    pub(crate) strings: &'static Strings,
    /// The page's inline stylesheet (the pages' own, then the branding's); the response's
    /// Content-Security-Policy allows exactly this text, by its hash.
    pub(crate) css: Cow<'static, str>,
    /// The pool's or app's branding; empty when there is none.
    pub(crate) brand: Brand,
}

/// The branding a page shows: what is set for the app, else for the pool, else nothing.
#[derive(Debug, Default)]
pub(crate) struct Brand {
    /// The logo's URL (served by the identity listener), shown above the title.
    pub(crate) logo_url: Option<String>,
}

impl Frame {
    /// The frame without branding (pages shown before the pool or app is known).
    pub(crate) fn plain(strings: &'static Strings) -> Self {
        Self {
            strings,
            css: Cow::Borrowed(STYLE),
            brand: Brand::default(),
        }
    }

    /// The frame of a page of `pool_id` (and of the app `client_id`, when the page knows
    /// it): the request's language and the branding that applies (the client's, else the
    /// pool's). Branding that cannot be read leaves the page plain: it never stops a sign-in.
    pub(crate) async fn load(
        state: &WebState,
        headers: &HeaderMap,
        pool_id: &str,
        client_id: Option<&str>,
    ) -> Self {
        let mut frame = Self::plain(strings::for_request(headers));
        let branding = match state.oauth.user_pools().branding(pool_id, client_id).await {
            Ok(Some(branding)) => branding,
            Ok(None) => return frame,
            Err(e) => {
                tracing::warn!(error = %e, "page branding");
                return frame;
            }
        };
        let extra = brand::branded_css(&branding);
        if !extra.is_empty() {
            frame.css = Cow::Owned(format!("{STYLE}{extra}"));
        }
        frame.brand.logo_url = branding
            .logo_hash
            .map(|hash| format!("/{pool_id}/logo/{hash}"));
        frame
    }
}

// === Responses ===

/// A rendered page with every page header. `callback` is the app's callback URL, when the
/// page's form may redirect there (the CSP's `form-action`).
pub(crate) fn html(
    status: StatusCode,
    frame: &Frame,
    page: &impl Template,
    callback: Option<&str>,
) -> Response {
    let mut response = match page.render() {
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
    add_page_headers(response.headers_mut(), &style_hash(&frame.css), callback);
    response
}

/// A redirect (the answer to a form, or an error sent back to the app).
pub(crate) fn found(location: &str, callback: Option<&str>) -> Response {
    let Ok(value) = HeaderValue::from_str(location) else {
        return (StatusCode::BAD_REQUEST, "invalid redirect\n").into_response();
    };
    let mut response = (StatusCode::FOUND, [(header::LOCATION, value)]).into_response();
    add_page_headers(response.headers_mut(), &style_hash(STYLE), callback);
    response
}

/// An authorization request a page cannot serve: its error page, or back to the app.
pub(crate) fn refused(refusal: Refusal, frame: &Frame) -> Response {
    match refusal {
        Refusal::Page(error) => error_response(error, frame),
        Refusal::Redirect(r) => found(&r.location(), Some(&r.redirect_uri)),
    }
}

// === The request ===

/// The query's pairs, in order (repeated names kept: the request parser refuses them).
pub(crate) fn query_pairs(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The authorization request a page's URL carries.
pub(crate) fn authorize_request(request: &Request) -> AuthorizeRequest {
    AuthorizeRequest::from_pairs(query_pairs(request))
}

/// The URL of the pool's page `page` (`"login"`, …) on the host and prefix this request
/// came through, with this request's query: a form's `action`, or a link between pages
/// that keeps the authorization request.
pub(crate) fn page_url(request: &Request, pool_id: &str, page: &str) -> String {
    let prefix = MountedAt::prefix_for(request.extensions().get::<MountedAt>(), pool_id);
    match request.uri().query() {
        Some(query) => format!("{prefix}/{page}?{query}"),
        None => format!("{prefix}/{page}"),
    }
}

/// The client's address (through trusted proxies), for the per-address limits.
pub(crate) fn client_address(state: &WebState, request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| {
            state
                .trusted_proxies
                .client_ip(peer.ip(), request.headers())
        })
}

// === Attribute inputs ===

/// The `type` and `autocomplete` of the input asking for attribute `name` of kind `input`
/// ([`InputKind::of`]): one mapping for the sign-up page and a new password's missing
/// attributes, so both ask for the same attribute the same way.
pub(crate) fn attribute_input(input: InputKind, name: &str) -> (&'static str, &'static str) {
    match input {
        InputKind::Email => ("email", "email"),
        InputKind::Tel => ("tel", "tel"),
        InputKind::Date => ("date", "bday"),
        InputKind::Url => ("url", "url"),
        InputKind::Number => ("number", "off"),
        InputKind::Text => (
            "text",
            match name {
                "name" => "name",
                "given_name" => "given-name",
                "family_name" => "family-name",
                "middle_name" => "additional-name",
                "nickname" | "preferred_username" => "nickname",
                "address" => "street-address",
                "gender" => "sex",
                "locale" => "language",
                _ => "off",
            },
        ),
    }
}

// === Pre-session cookie and CSRF ===

/// The browser's pre-session cookie, or a new one that the response must set.
#[derive(Debug)]
pub(crate) struct PreSession {
    value: String,
    new: bool,
}

impl PreSession {
    /// The request's pre-session cookie, or a new one.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        match read_cookie(headers, PRE_SESSION_COOKIE).filter(|v| v.len() <= 128) {
            Some(value) => Self { value, new: false },
            None => Self {
                value: OAuth2::random_token(),
                new: true,
            },
        }
    }

    /// The CSRF token a form shown with this cookie carries.
    pub(crate) fn csrf_token(&self, oauth: &OAuth2) -> String {
        oauth.csrf_token(&self.value)
    }

    /// Sets the cookie on `response` when the browser has none yet.
    pub(crate) fn set_on(&self, response: &mut Response) {
        if self.new
            && let Some(v) = set_cookie(PRE_SESSION_COOKIE, &self.value, None)
        {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

// === Forms ===

/// The most fields a page's form may post (every page's form has far fewer).
const MAX_FORM_FIELDS: usize = 64;

/// The most bytes of a page's form.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The fields of a posted form whose CSRF token was right.
#[derive(Debug, Default)]
pub(crate) struct FormFields {
    pairs: Vec<(String, String)>,
}

impl FormFields {
    /// Whether the form has a field `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Every field, in order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `name` (the first, when repeated), or `""`.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Why a posted form was not read; every page answers it by showing the form again,
/// with [`Strings::form_expired`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormError {
    /// Not `application/x-www-form-urlencoded`, too large, too many fields, unreadable.
    Malformed,
    /// No pre-session cookie, or a CSRF token of another one.
    Csrf,
}

impl FormError {
    /// The status the form is shown again with.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::Malformed => StatusCode::BAD_REQUEST,
            Self::Csrf => StatusCode::FORBIDDEN,
        }
    }
}

/// Reads a posted urlencoded form of at most [`MAX_FORM_BYTES`] and [`MAX_FORM_FIELDS`],
/// and checks its `_csrf` against the pre-session cookie.
pub(crate) async fn read_form(
    oauth: &OAuth2,
    headers: &HeaderMap,
    body: Body,
) -> Result<FormFields, FormError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(FormError::Malformed);
    }
    let body = axum::body::to_bytes(body, MAX_FORM_BYTES.min(MAX_REQUEST_BODY_BYTES))
        .await
        .map_err(|_| FormError::Malformed)?;
    let mut pairs = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        if pairs.len() == MAX_FORM_FIELDS {
            return Err(FormError::Malformed);
        }
        pairs.push((k.into_owned(), v.into_owned()));
    }
    let fields = FormFields { pairs };
    let csrf_ok = read_cookie(headers, PRE_SESSION_COOKIE)
        .is_some_and(|cookie| oauth.check_csrf(&cookie, fields.get("_csrf")));
    if csrf_ok {
        Ok(fields)
    } else {
        Err(FormError::Csrf)
    }
}
