//! The OAuth 2.0 / OpenID Connect adapter: `{public_url}/{poolId}/oauth2/authorize`,
//! `/oauth2/token`, `/oauth2/userInfo`, `/oauth2/revoke`, `/oauth2/idpresponse` (where a
//! federated provider sends the browser back) and `/{poolId}/logout`, and the same
//! paths at the root for a `Host` that is a pool's domain ([`route_domains`]). It only turns
//! the wire (query strings, form bodies, `Authorization` headers, cookies) into calls of
//! [`OAuth2`] and its errors into RFC 6749 responses (`error.rs`); requests that cannot be
//! answered at the client's callback are rendered by [`ErrorPages`] (the hosted pages, or a
//! plain page without them).
//!
//! # Responses
//! Token and userInfo answers carry `Cache-Control: no-store`; redirects carrying a code
//! carry `Referrer-Policy: no-referrer` too. Form bodies are limited by the listener's body
//! limit; each parameter once (a repeated one is `invalid_request`).

pub mod cookies;
mod error;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use self::error::Presented;
use crate::oauth2::{
    AuthorizeOutcome, AuthorizeRequest, ClientAuth, FEDERATION_STATE_LIFETIME, FederationOutcome,
    HOSTED_SESSION_LIFETIME, IdpResponse, OAuth2, OAuthError, PageError, TokenGrant,
};

/// Renders what cannot go back to the client's callback (an unknown client, a redirect or
/// sign-out URL that is not registered). The hosted pages implement it; the binary wires it.
pub trait ErrorPages: Send + Sync + fmt::Debug {
    /// The page for `error`, for the request with these headers (its language).
    fn error_page(&self, error: PageError, headers: &HeaderMap) -> Response;
}

/// A plain-text page, for an identity listener without the hosted pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainErrorPages;

impl ErrorPages for PlainErrorPages {
    fn error_page(&self, error: PageError, _: &HeaderMap) -> Response {
        let status = match error {
            PageError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "This sign-in request cannot be completed ({}).\n",
                error.code()
            ),
        )
            .into_response()
    }
}

/// What the adapter needs.
#[derive(Debug, Clone)]
pub struct OAuthHttp {
    /// The provider.
    pub oauth: OAuth2,
    /// Pages for errors that are never redirected.
    pub pages: Arc<dyn ErrorPages>,
}

/// Where a request reached the pool's endpoints: under the issuer (`/{poolId}/…`) or at the
/// root of the pool's domain. Set by [`route_domains`]; links the pages and the adapter
/// build (the sign-in page) stay on the same host and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedAt {
    /// The path prefix of the pool's endpoints: `""` on a domain, `/{poolId}` otherwise.
    pub prefix: String,
}

impl MountedAt {
    /// The prefix for a request to `pool_id` that carries `mounted` (or none). The pool id
    /// comes from the request's path, decoded, and is not known to exist: it is encoded back
    /// into one path segment, so a `Location` or a link made of it stays on this host (a
    /// `/%2F%2Fevil.example/…` or `/%5Cevil.example/…` request never yields `//evil.example`
    /// or `/\evil.example`, which a browser reads as another host).
    pub fn prefix_for(mounted: Option<&MountedAt>, pool_id: &str) -> String {
        mounted.map_or_else(
            || {
                let mut prefix = String::with_capacity(pool_id.len() + 1);
                prefix.push('/');
                for b in pool_id.bytes() {
                    if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~') {
                        prefix.push(char::from(b));
                    } else {
                        prefix.push_str(&format!("%{b:02X}"));
                    }
                }
                prefix
            },
            |m| m.prefix.clone(),
        )
    }
}

/// Root paths that a pool's domain serves (as Cognito's hosted domain): requests to them
/// with such a `Host` are routed to `/{poolId}/…`.
pub const DOMAIN_PATHS: &[&str] = &[
    "/oauth2/authorize",
    "/oauth2/token",
    "/oauth2/userInfo",
    "/oauth2/revoke",
    "/oauth2/idpresponse",
    "/logout",
    "/login",
    "/challenge",
    "/signup",
    "/confirm",
    "/confirmUser",
    "/resendcode",
    "/forgotPassword",
    "/confirmForgotPassword",
    "/error",
];

/// The routes, to merge into the identity listener's router.
pub fn router(state: OAuthHttp) -> Router {
    Router::new()
        .route("/{pool_id}/oauth2/authorize", get(authorize))
        .route("/{pool_id}/oauth2/token", post(token))
        .route("/{pool_id}/oauth2/userInfo", get(user_info).post(user_info))
        .route("/{pool_id}/oauth2/revoke", post(revoke))
        .route("/{pool_id}/oauth2/idpresponse", get(idp_response))
        .route("/{pool_id}/logout", get(logout))
        .with_state(Arc::new(state))
}

/// Middleware for the whole identity listener (put it outside the router, so it runs
/// before routing): a request to one of [`DOMAIN_PATHS`] whose `Host` is a pool's domain
/// goes to `/{poolId}{path}`, marked [`MountedAt`] with an empty prefix. Other requests pass
/// as they are.
pub async fn route_domains(State(oauth): State<OAuth2>, request: Request, next: Next) -> Response {
    if !DOMAIN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    // Boxed: the domain lookup reads storage, a large future that would otherwise make every
    // request's middleware future (moved into a box per request) as large.
    Box::pin(route_domain(oauth, request, next)).await
}

/// [`route_domains`] for a request to one of [`DOMAIN_PATHS`].
async fn route_domain(oauth: OAuth2, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or("")
        .to_owned();
    let pool_id = match oauth.pool_for_host(&host).await {
        Ok(Some(pool_id)) => pool_id,
        Ok(None) => return next.run(request).await,
        Err(e) => {
            tracing::warn!(error = %e, "domain lookup");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
        }
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("/{pool_id}{path}?{query}"),
        None => format!("/{pool_id}{path}"),
    };
    let Ok(uri) = path_and_query.parse::<axum::http::Uri>() else {
        return next.run(request).await;
    };
    *request.uri_mut() = uri;
    request.extensions_mut().insert(MountedAt {
        prefix: String::new(),
    });
    next.run(request).await
}

/// The decoded query pairs of a request.
fn query_pairs(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Adds the headers every answer of these endpoints carries.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A `302 Found` to `location` (or the error page when it cannot be a header).
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => no_store((StatusCode::FOUND, [(header::LOCATION, v)]).into_response()),
        Err(_) => (StatusCode::BAD_REQUEST, "invalid redirect\n").into_response(),
    }
}

async fn authorize(
    State(state): State<Arc<OAuthHttp>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let params = AuthorizeRequest::from_pairs(query_pairs(&request));
    let session = cookies::read_cookie(request.headers(), &cookies::session_cookie_name(&pool_id));
    let idp_response = idp_response_url(&state.oauth, &request, &pool_id);
    match state
        .oauth
        .authorize_at(&pool_id, &params, session.as_deref(), &idp_response)
        .await
    {
        AuthorizeOutcome::Redirect(location) => found(&location),
        AuthorizeOutcome::Upstream(upstream) => {
            let mut response = found(&upstream.location);
            if let Some(cookie) = cookies::set_cookie(
                &cookies::federation_cookie_name(&upstream.state),
                &upstream.binding,
                Some(FEDERATION_STATE_LIFETIME.as_secs()),
            ) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        AuthorizeOutcome::SignIn(valid) => {
            let prefix = MountedAt::prefix_for(request.extensions().get::<MountedAt>(), &pool_id);
            let location =
                crate::oauth2::redirect_with(&format!("{prefix}/login"), &valid.to_pairs());
            found(&location)
        }
        AuthorizeOutcome::Page(error) => no_store(state.pages.error_page(error, request.headers())),
    }
}

/// Our `/oauth2/idpresponse` for a request: under the issuer, or at the root of the pool's
/// domain it came to (the public URL's scheme, the request's `Host`), as the provider must
/// have it registered.
fn idp_response_url(oauth: &OAuth2, request: &Request, pool_id: &str) -> String {
    let on_domain = request
        .extensions()
        .get::<MountedAt>()
        .is_some_and(|m| m.prefix.is_empty());
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.len() <= 255 && !h.contains(['/', '?', '#', '@']));
    match host {
        Some(host) if on_domain => {
            let scheme = oauth
                .user_pools()
                .config()
                .public_url
                .split_once("://")
                .map_or("https", |(scheme, _)| scheme);
            format!("{scheme}://{host}/oauth2/idpresponse")
        }
        _ => format!("{}/oauth2/idpresponse", oauth.user_pools().issuer(pool_id)),
    }
}

/// `GET /oauth2/idpresponse`: a federated provider's answer (see `crate::oauth2`'s
/// federation). The binding cookie is removed whatever the outcome: a state is used once.
async fn idp_response(
    State(state): State<Arc<OAuthHttp>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let pairs = query_pairs(&request);
    let mut repeated = false;
    let mut get = |name: &str| {
        let mut values = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        let first = values.next();
        repeated |= values.next().is_some();
        first
    };
    let params = IdpResponse {
        code: get("code"),
        state: get("state"),
        error: get("error"),
        error_description: get("error_description"),
    };
    // The binding cookie of the sign-in this `state` is (only that one is read, and cleared).
    let binding_cookie = params.state.as_deref().map(cookies::federation_cookie_name);
    let binding = binding_cookie
        .as_deref()
        .and_then(|name| cookies::read_cookie(request.headers(), name));
    let outcome = if repeated {
        FederationOutcome::Page(PageError::InvalidState)
    } else {
        state
            .oauth
            .federation_response(&pool_id, &params, binding.as_deref())
            .await
    };
    let mut response = match outcome {
        FederationOutcome::SignedIn(signed_in) => {
            let mut response = found(&signed_in.location);
            if let Some(cookie) = cookies::set_cookie(
                &cookies::session_cookie_name(&pool_id),
                &signed_in.session,
                Some(HOSTED_SESSION_LIFETIME.as_secs()),
            ) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        FederationOutcome::Redirect(location) => found(&location),
        FederationOutcome::Page(error) => {
            no_store(state.pages.error_page(error, request.headers()))
        }
    };
    if binding.is_some()
        && let Some(name) = binding_cookie
        && let Some(clear) = cookies::clear_cookie(&name)
    {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

/// A decoded `application/x-www-form-urlencoded` body with each parameter at most once.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let form_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !form_type {
            return Err(OAuthError::InvalidRequest(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some((name, _)) = pairs
            .iter()
            .enumerate()
            .find(|(i, (k, _))| pairs.iter().take(*i).any(|(other, _)| other == k))
            .map(|(_, p)| p)
        {
            return Err(OAuthError::InvalidRequest(format!(
                "parameter `{}` appears more than once",
                name.chars().take(64).collect::<String>()
            )));
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// Percent-decodes one component of a Basic credential (RFC 6749 section 2.3.1 encodes
/// id and secret as form values first).
fn form_decode(component: &str) -> String {
    form_urlencoded::parse(format!("v={}", component.replace('&', "%26")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The client's credentials from `Authorization: Basic` and the form, and how they came.
fn client_auth(
    headers: &HeaderMap,
    form: &Form,
) -> Result<(ClientAuth, Presented), (OAuthError, Presented)> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    if let Some(value) = authorization {
        let basic_failure = || {
            (
                OAuthError::InvalidClient("malformed Basic credentials".into()),
                Presented::Basic,
            )
        };
        let (scheme, credentials) = value.split_once(' ').ok_or_else(basic_failure)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err((
                OAuthError::InvalidClient("client authentication must use Basic".into()),
                Presented::Basic,
            ));
        }
        let decoded = STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(basic_failure)?;
        let (id, secret) = decoded.split_once(':').ok_or_else(basic_failure)?;
        let (client_id, client_secret) = (form_decode(id), form_decode(secret));
        if form.get("client_secret").is_some() {
            return Err((
                OAuthError::InvalidRequest(
                    "use one client authentication method, not Basic and client_secret".into(),
                ),
                Presented::Basic,
            ));
        }
        if form.get("client_id").is_some_and(|id| id != client_id) {
            return Err((
                OAuthError::InvalidRequest("client_id differs from the Basic credentials".into()),
                Presented::Basic,
            ));
        }
        return Ok((
            ClientAuth::Basic {
                client_id,
                client_secret,
            },
            Presented::Basic,
        ));
    }
    let client_id = form.get("client_id").ok_or((
        OAuthError::InvalidClient("client_id is required".into()),
        Presented::Form,
    ))?;
    Ok((
        ClientAuth::Post {
            client_id,
            client_secret: form.get("client_secret"),
        },
        Presented::Form,
    ))
}

/// A client's request to the token or revocation endpoint: its form and how it
/// authenticated, or the error and how the credentials came.
fn client_request(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Form, ClientAuth, Presented), (OAuthError, Presented)> {
    let form = Form::parse(headers, body).map_err(|e| (e, Presented::Form))?;
    let (auth, presented) = client_auth(headers, &form)?;
    Ok((form, auth, presented))
}

async fn token(
    State(state): State<Arc<OAuthHttp>>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (form, auth, presented) = match client_request(&headers, &body) {
        Ok(parts) => parts,
        Err((e, presented)) => return error::response(&e, presented),
    };
    let grant = match form.get("grant_type").as_deref() {
        Some("authorization_code") => TokenGrant::AuthorizationCode {
            code: form.get("code"),
            redirect_uri: form.get("redirect_uri"),
            code_verifier: form.get("code_verifier"),
        },
        Some("refresh_token") => TokenGrant::RefreshToken {
            refresh_token: form.get("refresh_token"),
            scope: form.get("scope"),
        },
        Some("client_credentials") => TokenGrant::ClientCredentials {
            scope: form.get("scope"),
        },
        None | Some("") => {
            let e = OAuthError::InvalidRequest("grant_type is required".into());
            return error::response(&e, presented);
        }
        Some(other) => {
            let e = OAuthError::UnsupportedGrantType(format!(
                "grant_type `{}` is not supported",
                other.chars().take(64).collect::<String>()
            ));
            return error::response(&e, presented);
        }
    };
    match state.oauth.token(&pool_id, &auth, grant).await {
        Ok(tokens) => {
            let mut body = serde_json::Map::new();
            body.insert("access_token".into(), tokens.access_token.into());
            if let Some(id_token) = tokens.id_token {
                body.insert("id_token".into(), id_token.into());
            }
            if let Some(refresh_token) = tokens.refresh_token {
                body.insert("refresh_token".into(), refresh_token.into());
            }
            body.insert("token_type".into(), "Bearer".into());
            body.insert("expires_in".into(), tokens.expires_in.into());
            no_store(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    serde_json::to_vec(&body).unwrap_or_default(),
                )
                    .into_response(),
            )
        }
        Err(e) => error::response(&e, presented),
    }
}

async fn user_info(
    State(state): State<Arc<OAuthHttp>>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = bearer.filter(|t| !t.is_empty()) else {
        let mut response = error::response(
            &OAuthError::InvalidToken("an access token is required (Authorization: Bearer)".into()),
            Presented::Bearer,
        );
        // RFC 6750 section 3.1: no error code when the request had no token at all.
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gatehouse\""),
        );
        return response;
    };
    match state.oauth.user_info(&pool_id, &token).await {
        Ok(claims) => no_store(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::to_vec(&claims).unwrap_or_default(),
            )
                .into_response(),
        ),
        Err(e) => error::response(&e, Presented::Bearer),
    }
}

async fn revoke(
    State(state): State<Arc<OAuthHttp>>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (form, auth, presented) = match client_request(&headers, &body) {
        Ok(parts) => parts,
        Err((e, presented)) => return error::response(&e, presented),
    };
    match state
        .oauth
        .revoke(&pool_id, &auth, form.get("token").as_deref())
        .await
    {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => error::response(&e, presented),
    }
}

async fn logout(
    State(state): State<Arc<OAuthHttp>>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let pairs = query_pairs(&request);
    let get = |name: &str| {
        let mut values = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        // A repeated parameter leaves no way to tell which one is meant.
        if values.next().is_some() {
            Some("")
        } else {
            first
        }
    };
    let cookie_name = cookies::session_cookie_name(&pool_id);
    let session = cookies::read_cookie(request.headers(), &cookie_name);
    match state
        .oauth
        .logout(
            &pool_id,
            get("client_id"),
            get("logout_uri"),
            session.as_deref(),
        )
        .await
    {
        Ok(target) => {
            let mut response = found(&target);
            if let Some(clear) = cookies::clear_cookie(&cookie_name) {
                response.headers_mut().append(header::SET_COOKIE, clear);
            }
            response
        }
        Err(error) => no_store(state.pages.error_page(error, request.headers())),
    }
}

#[cfg(test)]
mod tests {
    use super::MountedAt;

    #[test]
    fn a_prefix_made_of_the_path_stays_on_this_host() {
        // (pool id as decoded from the path, prefix)
        let cases = [
            ("us-east-1_AbC123", "/us-east-1_AbC123"),
            ("//evil.example", "/%2F%2Fevil.example"),
            ("\\evil.example", "/%5Cevil.example"),
            ("/\\evil.example", "/%2F%5Cevil.example"),
            ("a?b#c", "/a%3Fb%23c"),
            ("é", "/%C3%A9"),
        ];
        for (pool_id, expected) in cases {
            let prefix = MountedAt::prefix_for(None, pool_id);
            assert_eq!(prefix, expected, "{pool_id}");
            assert!(!prefix.starts_with("//") && !prefix.starts_with("/\\"));
        }
        let domain = MountedAt {
            prefix: String::new(),
        };
        assert_eq!(MountedAt::prefix_for(Some(&domain), "//evil.example"), "");
    }
}
