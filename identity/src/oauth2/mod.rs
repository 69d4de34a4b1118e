//! The OAuth 2.0 / OpenID Connect provider of the user pools, as Cognito's hosted domain has
//! it: authorization requests and codes, the hosted pages' sign-in sessions, the token
//! endpoint's grants (`authorization_code` with PKCE, `refresh_token`, `client_credentials`),
//! client authentication, userInfo, revocation and logout. Transport-free: the adapter in
//! `http/oauth2` and the hosted pages (`gatehouse-web`) call [`OAuth2`]'s methods.
//!
//! # How a browser signs in
//! 1. `GET /oauth2/authorize` is checked by [`AuthorizeRequest::validate`]: an unknown client
//!    or a `redirect_uri` that is not exactly a registered callback can only be shown on a
//!    page ([`PageError`]); anything else wrong goes back to the callback as an RFC 6749 error
//!    ([`ErrorRedirect`]). A valid request with a usable hosted session (the `__Host-` cookie,
//!    see [`OAuth2::hosted_session`]) gets a code at once; `prompt=none` without one gets
//!    `login_required`; otherwise the browser is sent to the sign-in page with the request's
//!    own parameters ([`ValidRequest::to_pairs`]), as Cognito's `/login?client_id=…` does.
//! 2. The page checks the same request again on every GET and POST (nothing is kept between
//!    them on the server), then [`OAuth2::password_sign_in`] runs the user pool's own password
//!    step (lockout, uniform errors). When the pool asks more (a new password, a second
//!    factor), each next page answers through [`OAuth2::answer_challenge`] (the user pool's
//!    own challenge chain, for hosted sessions only). Once the sign-in is complete it opens a
//!    hosted session and issues a code: the page redirects to the callback with it.
//! 3. `POST /oauth2/token` redeems the code once ([`OAuth2::token`]).
//!
//! # What is stored
//! Codes and hosted sessions are random 256-bit values stored as SHA-256 hashes; a code lives
//! [`CODE_LIFETIME`], a hosted session [`HOSTED_SESSION_LIFETIME`]. A hosted session stops
//! working when its user is disabled, deleted, signed out globally or given another password.
//! What an OAuth sign-in was granted (scopes, `amr`) is kept by its `origin_jti`, so refreshed
//! tokens carry the same scopes.

mod account;
mod authorize;
mod challenge;
mod error;
mod federation;
mod hosted;
mod request;
mod token;

pub use account::{AccountError, FormAttribute, InputKind, NameKind, SignUpContext, SignedUp};
pub use authorize::{AuthorizeOutcome, LoginContext, SignInError, SignInStep, SignedInRedirect};
pub use challenge::{
    ChallengeAnswer, ChallengeError, ChallengeStep, MAX_ANSWER_ATTRIBUTES, MAX_ANSWER_FIELD_LEN,
    PageChallenge, totp_uri,
};
pub use error::{ErrorRedirect, OAuthError, PageError, Refusal};
pub use federation::{
    FEDERATION_STATE_LIFETIME, FederationOutcome, IdpResponse, MAX_STATE_LEN, UpstreamRedirect,
};
pub use hosted::HostedSession;
pub(crate) use hosted::purge_expired;
pub use request::{AuthorizeRequest, KnownProvider, Prompt, ValidRequest, redirect_with};
pub use token::{ClientAuth, TokenGrant, TokenResponse};

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::constant_time_eq;
use crate::user_pools::UserPools;

/// How long an authorization code can be redeemed (Cognito: 5 minutes).
pub const CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How long a hosted sign-in session lasts (Cognito's session cookie: 1 hour).
pub const HOSTED_SESSION_LIFETIME: Duration = Duration::from_secs(3600);
/// Longest `state`, `nonce`, `scope` or PKCE value accepted.
pub const MAX_PARAM_LEN: usize = 2048;
/// Longest redirect or sign-out URL (Cognito's limit on `CallbackURLs` entries).
pub const MAX_URL_LEN: usize = 1024;

/// The scopes every pool knows, besides its resource servers' `{identifier}/{name}`.
pub const STANDARD_SCOPES: &[&str] = &[
    "openid",
    "email",
    "phone",
    "profile",
    crate::user_pools::ADMIN_SCOPE,
];

/// The identity provider of the pool's own users in `SupportedIdentityProviders`.
pub const COGNITO_PROVIDER: &str = "COGNITO";

/// The OAuth 2.0 / OIDC service. Cheap to clone.
#[derive(Clone)]
pub struct OAuth2 {
    pools: UserPools,
    /// Signs the hosted pages' CSRF tokens (derived from the master key).
    csrf: hmac::Key,
    /// Federated providers' issuers: their keys and the client that reaches them.
    issuers: Arc<crate::oidc::OidcIssuers>,
}

impl std::fmt::Debug for OAuth2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2").finish_non_exhaustive()
    }
}

impl OAuth2 {
    /// The provider of `pools`.
    pub fn new(pools: UserPools) -> Self {
        let key = pools.sealer().derive_key("gatehouse hosted pages csrf v1");
        Self {
            csrf: hmac::Key::new(hmac::HMAC_SHA256, &key),
            pools,
            issuers: Arc::new(crate::oidc::OidcIssuers::new(
                &crate::oidc::OidcFetchConfig::default(),
            )),
        }
    }

    /// The same provider reaching federated issuers through `issuers` (the node's one
    /// cache of issuer keys, with the operator's extra roots).
    #[must_use]
    pub fn with_issuers(mut self, issuers: Arc<crate::oidc::OidcIssuers>) -> Self {
        self.issuers = issuers;
        self
    }

    /// The user-pool service underneath.
    pub fn user_pools(&self) -> &UserPools {
        &self.pools
    }

    /// A fresh random value for a cookie (a hosted session or a page's pre-session): 256
    /// bits, base64url.
    pub fn random_token() -> String {
        URL_SAFE_NO_PAD.encode(crate::crypto::random_bytes::<32>())
    }

    /// The CSRF token of a form shown to the browser holding the pre-session cookie value
    /// `pre_session`: an HMAC of it, so the server keeps nothing and a token works only with
    /// its own cookie (signed double submit).
    pub fn csrf_token(&self, pre_session: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.csrf, pre_session.as_bytes()).as_ref())
    }

    /// Whether `token` is the CSRF token of `pre_session` (constant time).
    pub fn check_csrf(&self, pre_session: &str, token: &str) -> bool {
        !pre_session.is_empty()
            && constant_time_eq(self.csrf_token(pre_session).as_bytes(), token.as_bytes())
    }
}

// === domains ===

impl OAuth2 {
    /// The pool whose domain `host` (a `Host` header: name, maybe a port) is: a custom
    /// domain by its whole name, a prefix domain as `{prefix}.{host of the public URL}` or
    /// Cognito's `{prefix}.auth.{region}.amazoncognito.com` for a region this node serves.
    pub async fn pool_for_host(
        &self,
        host: &str,
    ) -> Result<Option<String>, crate::user_pools::UserPoolError> {
        let host = host_name(host);
        if host.is_empty() || host.len() > 253 {
            return Ok(None);
        }
        let domains = self.pools.store().domains();
        if host.contains('.')
            && let Some(custom) = domains.get(&host).await?
            && custom.custom_config.is_some()
        {
            return Ok(Some(custom.pool_id));
        }
        for suffix in self.domain_suffixes() {
            let Some(prefix) = host
                .strip_suffix(suffix.as_str())
                .and_then(|p| p.strip_suffix('.'))
                .filter(|p| !p.is_empty() && !p.contains('.'))
            else {
                continue;
            };
            if let Some(domain) = domains.get(prefix).await?
                && domain.custom_config.is_none()
            {
                return Ok(Some(domain.pool_id));
            }
        }
        Ok(None)
    }

    /// The host names under which prefix domains are served (see [`OAuth2::pool_for_host`]).
    pub fn domain_suffixes(&self) -> Vec<String> {
        Self::domain_suffixes_of(self.pools.config())
    }

    /// [`OAuth2::domain_suffixes`] of a node with `config`.
    pub fn domain_suffixes_of(config: &crate::user_pools::UserPoolsConfig) -> Vec<String> {
        let public = config
            .public_url
            .split_once("://")
            .map_or("", |(_, rest)| rest);
        let public = host_name(public.split('/').next().unwrap_or(""));
        std::iter::once(public)
            .chain(
                std::iter::once(&config.region)
                    .chain(&config.other_regions)
                    .map(|region| format!("auth.{region}.amazoncognito.com")),
            )
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The host name of a `Host` value: lower case, without port or final dot.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 literal: never a domain, kept whole.
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// SHA-256 of a code or cookie value, as storage keeps it.
pub(crate) fn secret_hash(value: &str) -> Vec<u8> {
    crate::user_pools::refresh_token_hash(value)
}

#[cfg(test)]
mod tests;
