//! Authorization requests, checked without I/O: [`AuthorizeRequest`] holds the parameters as
//! sent, [`AuthorizeRequest::validate`] checks them against the app client (and the pool's
//! resource-server scopes) into a [`ValidRequest`] or a [`Refusal`].
//!
//! # Rules (in this order)
//! 1. Page errors: a repeated parameter, no `client_id`, an unknown client (the caller looks
//!    it up), no `redirect_uri` without a `DefaultRedirectURI`, or a `redirect_uri` that is not
//!    byte for byte one of the client's `CallbackURLs` (no prefix, wildcard or normalisation).
//! 2. Back to the callback: the client must allow the `code` flow with OAuth on
//!    (`AllowedOAuthFlowsUserPoolClient`) and at least one identity provider that exists
//!    (`COGNITO`, or a federated provider of the pool, in `SupportedIdentityProviders`);
//!    `response_type=code`; every scope allowed to the client
//!    and existing (standard, or a resource server's), `email`, `phone` and `profile` only
//!    with `openid` (no `scope`: all the client's scopes); PKCE with `S256` only (`plain` and
//!    a challenge without a method are refused; a client without a secret must send one);
//!    `prompt` `none` or `login`; `max_age` a whole number of seconds; `state`, `nonce` and
//!    the challenge of bounded length; `identity_provider` one of the client's providers
//!    (a federated one is gone to at once), or `idp_identifier` one of the `IdpIdentifiers`
//!    of a federated provider the client supports.

use super::error::{ErrorRedirect, OAuthError, PageError, Refusal};
use super::{COGNITO_PROVIDER, MAX_PARAM_LEN, MAX_URL_LEN, STANDARD_SCOPES};
use crate::user_pools::Client;
use crate::user_pools::config::OAuthFlow;

/// The parameters of `GET /oauth2/authorize` (and of the sign-in page's URL), as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub identity_provider: Option<String>,
    pub idp_identifier: Option<String>,
    /// A parameter of the request appeared more than once (RFC 6749 section 3.1).
    pub repeated: bool,
}

/// `prompt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Use a session if there is one, else show the sign-in page.
    Default,
    /// Never show a page: a code from the session, or `login_required`.
    None,
    /// Always ask for the password again.
    Login,
}

/// An authorization request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRequest {
    pub client_id: String,
    /// The callback (the one sent, or the client's `DefaultRedirectURI`).
    pub redirect_uri: String,
    /// Granted scopes, deduplicated, in request order.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    /// Longest time since the user authenticated that a session may have, in seconds.
    pub max_age: Option<u64>,
    /// The request as sent, for links that carry it on (the sign-in page).
    pub request: AuthorizeRequest,
    /// The federated provider the request names (`identity_provider` or `idp_identifier`):
    /// the browser goes straight there.
    pub upstream: Option<String>,
    /// Whether the client lets the pool's own users sign in (`COGNITO`).
    pub cognito: bool,
    /// The federated providers of the pool the client supports (the sign-in page's buttons).
    pub providers: Vec<String>,
}

/// A federated provider of the pool, as the checks see it: its name and `IdpIdentifiers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownProvider {
    pub name: String,
    pub identifiers: Vec<String>,
}

// === impl AuthorizeRequest ===

impl AuthorizeRequest {
    /// The request from decoded query pairs; unknown parameters are ignored (RFC 6749
    /// section 3.1), a repeated known one is remembered as [`AuthorizeRequest::repeated`].
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut out = Self::default();
        for (key, value) in pairs {
            let slot = match key.as_ref() {
                "response_type" => &mut out.response_type,
                "client_id" => &mut out.client_id,
                "redirect_uri" => &mut out.redirect_uri,
                "scope" => &mut out.scope,
                "state" => &mut out.state,
                "nonce" => &mut out.nonce,
                "code_challenge" => &mut out.code_challenge,
                "code_challenge_method" => &mut out.code_challenge_method,
                "prompt" => &mut out.prompt,
                "max_age" => &mut out.max_age,
                "identity_provider" => &mut out.identity_provider,
                "idp_identifier" => &mut out.idp_identifier,
                _ => continue,
            };
            if slot.is_some() {
                out.repeated = true;
            }
            *slot = Some(value.into());
        }
        out
    }

    /// The parameters that were sent, as pairs (to carry the request to another page).
    pub fn to_pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("prompt", &self.prompt),
            ("max_age", &self.max_age),
            ("identity_provider", &self.identity_provider),
            ("idp_identifier", &self.idp_identifier),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// The client and callback checks that decide whether errors may be redirected at all:
    /// the callback to answer at, or the page to show. `client` is the client named by
    /// `client_id` in the request's pool (`None`: unknown).
    pub fn check_callback(&self, client: Option<&Client>) -> Result<String, PageError> {
        if self.repeated {
            return Err(PageError::RepeatedParameter);
        }
        if self.client_id.as_deref().is_none_or(str::is_empty) {
            return Err(PageError::MissingClientId);
        }
        let client = client.ok_or(PageError::UnknownClient)?;
        match self.redirect_uri.as_deref() {
            None | Some("") => client
                .config
                .default_redirect_uri
                .clone()
                .filter(|d| client.config.callback_urls.contains(d))
                .ok_or(PageError::MissingRedirectUri),
            Some(uri)
                if uri.len() <= MAX_URL_LEN
                    && client.config.callback_urls.iter().any(|c| c == uri) =>
            {
                Ok(uri.to_owned())
            }
            Some(_) => Err(PageError::RedirectMismatch),
        }
    }

    /// Every check (see the module docs) for a pool without federated providers.
    /// `resource_scopes` are the pool's resource-server scopes (`{identifier}/{name}`).
    pub fn validate(
        &self,
        client: Option<&Client>,
        resource_scopes: &[String],
    ) -> Result<ValidRequest, Refusal> {
        self.validate_with(client, resource_scopes, &[])
    }

    /// Every check (see the module docs); `providers` are the pool's federated providers.
    pub fn validate_with(
        &self,
        client: Option<&Client>,
        resource_scopes: &[String],
        providers: &[KnownProvider],
    ) -> Result<ValidRequest, Refusal> {
        let redirect_uri = self.check_callback(client).map_err(Refusal::Page)?;
        let Some(client) = client else {
            return Err(Refusal::Page(PageError::UnknownClient));
        };
        let refuse = |error: OAuthError| {
            Refusal::Redirect(ErrorRedirect {
                redirect_uri: redirect_uri.clone(),
                error,
                // A `state` too long to echo is dropped: the client sees the refusal anyway.
                state: self.state.clone().filter(|s| s.len() <= MAX_PARAM_LEN),
            })
        };
        let config = &client.config;
        if !config.allowed_oauth_flows_user_pool_client
            || !config.allowed_oauth_flows.contains(&OAuthFlow::Code)
        {
            return Err(refuse(OAuthError::UnauthorizedClient(
                "the client is not allowed the authorization code flow".into(),
            )));
        }
        match self.response_type.as_deref() {
            Some("code") => {}
            None | Some("") => {
                return Err(refuse(OAuthError::InvalidRequest(
                    "response_type is required".into(),
                )));
            }
            Some(other) => {
                return Err(refuse(OAuthError::UnsupportedResponseType(format!(
                    "response_type `{}` is not supported: use `code`",
                    shorten(other)
                ))));
            }
        }
        for (name, value) in [
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("scope", &self.scope),
            ("code_challenge", &self.code_challenge),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_PARAM_LEN) {
                return Err(refuse(OAuthError::InvalidRequest(format!(
                    "{name} is longer than {MAX_PARAM_LEN} bytes"
                ))));
            }
        }
        let scopes =
            check_scopes(self.scope.as_deref(), client, resource_scopes).map_err(refuse)?;
        let code_challenge = check_pkce(
            self.code_challenge.as_deref(),
            self.code_challenge_method.as_deref(),
            client.secret.is_some(),
        )
        .map_err(refuse)?;
        let prompt = check_prompt(self.prompt.as_deref()).map_err(refuse)?;
        let max_age = match self.max_age.as_deref() {
            None | Some("") => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                refuse(OAuthError::InvalidRequest(
                    "max_age must be a whole number of seconds".into(),
                ))
            })?),
        };
        let supported = &config.supported_identity_providers;
        let cognito = supported.iter().any(|p| p == COGNITO_PROVIDER);
        // A client may still name a provider deleted since: it is not offered.
        let federated: Vec<&KnownProvider> = providers
            .iter()
            .filter(|p| supported.contains(&p.name))
            .collect();
        if !cognito && federated.is_empty() {
            return Err(refuse(OAuthError::UnauthorizedClient(
                "the client allows no identity provider of this user pool".into(),
            )));
        }
        let upstream = match (
            self.identity_provider.as_deref().filter(|p| !p.is_empty()),
            self.idp_identifier.as_deref().filter(|p| !p.is_empty()),
        ) {
            (Some(COGNITO_PROVIDER), _) if cognito => None,
            (Some(named), _) => match federated.iter().find(|p| p.name == named) {
                Some(p) => Some(p.name.clone()),
                None => {
                    return Err(refuse(OAuthError::InvalidRequest(format!(
                        "identity provider `{}` is not configured for this client",
                        shorten(named)
                    ))));
                }
            },
            (None, Some(identifier)) => {
                match federated
                    .iter()
                    .find(|p| p.identifiers.iter().any(|i| i == identifier))
                {
                    Some(p) => Some(p.name.clone()),
                    None => {
                        return Err(refuse(OAuthError::InvalidRequest(
                            "no identity provider of this client has that identifier".into(),
                        )));
                    }
                }
            }
            (None, None) => None,
        };
        Ok(ValidRequest {
            client_id: client.id.clone(),
            redirect_uri,
            scopes,
            state: self.state.clone(),
            nonce: self.nonce.clone(),
            code_challenge,
            prompt,
            max_age,
            request: self.clone(),
            upstream,
            cognito,
            providers: federated.iter().map(|p| p.name.clone()).collect(),
        })
    }
}

impl ValidRequest {
    /// The request as sent, as pairs (the sign-in page's query).
    pub fn to_pairs(&self) -> Vec<(&'static str, &str)> {
        self.request.to_pairs()
    }

    /// The space-separated scopes.
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

/// `uri` with `pairs` added to its query (before any fragment, which callbacks may not have).
pub fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let query = query.finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}

/// A value quoted in a description, cut to a readable length.
fn shorten(value: &str) -> String {
    value.chars().take(64).collect()
}

/// The granted scopes: those asked for (all the client's when none), each allowed to the
/// client and existing now.
pub(crate) fn check_scopes(
    requested: Option<&str>,
    client: &Client,
    resource_scopes: &[String],
) -> Result<Vec<String>, OAuthError> {
    let allowed = &client.config.allowed_oauth_scopes;
    let mut scopes: Vec<String> = Vec::new();
    let asked: Vec<&str> = match requested {
        Some(s) if !s.trim().is_empty() => s.split(' ').filter(|s| !s.is_empty()).collect(),
        _ => allowed.iter().map(String::as_str).collect(),
    };
    for scope in asked {
        let exists = STANDARD_SCOPES.contains(&scope) || resource_scopes.iter().any(|s| s == scope);
        if !exists || !allowed.iter().any(|a| a == scope) {
            return Err(OAuthError::InvalidScope(format!(
                "scope `{}` is not allowed for this client",
                shorten(scope)
            )));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(OAuthError::InvalidScope("no scope was requested".into()));
    }
    let has_openid = scopes.iter().any(|s| s == "openid");
    if let Some(needs) = scopes
        .iter()
        .find(|s| matches!(s.as_str(), "email" | "phone" | "profile"))
        && !has_openid
    {
        return Err(OAuthError::InvalidScope(format!(
            "scope `{needs}` needs the `openid` scope"
        )));
    }
    Ok(scopes)
}

/// The S256 challenge, if any (see the module docs).
fn check_pkce(
    challenge: Option<&str>,
    method: Option<&str>,
    confidential: bool,
) -> Result<Option<String>, OAuthError> {
    match (
        challenge.filter(|c| !c.is_empty()),
        method.filter(|m| !m.is_empty()),
    ) {
        (None, None) if confidential => Ok(None),
        (None, None) => Err(OAuthError::InvalidRequest(
            "code_challenge is required for clients without a secret (PKCE, S256)".into(),
        )),
        (None, Some(_)) => Err(OAuthError::InvalidRequest(
            "code_challenge_method without code_challenge".into(),
        )),
        (Some(_), Some("plain") | None) => Err(OAuthError::InvalidRequest(
            "code_challenge_method `plain` is not supported: use `S256`".into(),
        )),
        (Some(challenge), Some("S256")) => {
            // The base64url SHA-256 of a verifier: 43 characters.
            if challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                Ok(Some(challenge.to_owned()))
            } else {
                Err(OAuthError::InvalidRequest(
                    "code_challenge must be the base64url SHA-256 of the verifier (43 characters)"
                        .into(),
                ))
            }
        }
        (Some(_), Some(other)) => Err(OAuthError::InvalidRequest(format!(
            "code_challenge_method `{}` is not supported: use `S256`",
            shorten(other)
        ))),
    }
}

fn check_prompt(prompt: Option<&str>) -> Result<Prompt, OAuthError> {
    let values: Vec<&str> = prompt
        .unwrap_or("")
        .split(' ')
        .filter(|v| !v.is_empty())
        .collect();
    match values.as_slice() {
        [] => Ok(Prompt::Default),
        ["none"] => Ok(Prompt::None),
        ["login"] => Ok(Prompt::Login),
        v if v.contains(&"none") => Err(OAuthError::InvalidRequest(
            "prompt `none` cannot be combined with other values".into(),
        )),
        _ => Err(OAuthError::InvalidRequest(
            "prompt must be `none` or `login`".into(),
        )),
    }
}

/// Whether `verifier` (RFC 7636: 43 to 128 unreserved characters) hashes to `challenge`.
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine as _;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    crate::crypto::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}
