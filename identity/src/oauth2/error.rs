//! How OAuth requests fail: [`OAuthError`], the RFC 6749 / OpenID Connect error codes (the
//! adapter maps each to its status and body), and for authorization requests the split
//! between what can only be shown on a page ([`PageError`]) and what goes back to the
//! client's callback ([`ErrorRedirect`]).

use crate::user_pools::UserPoolError;

/// An OAuth error: the code the RFCs name and a description a developer may read (never a
/// secret, never an internal cause).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// A parameter is missing, repeated, malformed or unsupported.
    #[error("{0}")]
    InvalidRequest(String),
    /// Unknown client, or its authentication failed.
    #[error("{0}")]
    InvalidClient(String),
    /// A code or refresh token that is unknown, expired, used, revoked, for another client or
    /// redirect URI, or whose PKCE verifier does not match.
    #[error("{0}")]
    InvalidGrant(String),
    /// The client may not use this grant or response type.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// A `grant_type` the server does not know.
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// A `response_type` other than `code`.
    #[error("{0}")]
    UnsupportedResponseType(String),
    /// A scope the client may not have, or that does not exist.
    #[error("{0}")]
    InvalidScope(String),
    /// `prompt=none` and the user would have to sign in.
    #[error("{0}")]
    LoginRequired(String),
    /// The access token is missing, malformed, expired or revoked (userInfo).
    #[error("{0}")]
    InvalidToken(String),
    /// The access token lacks the scope the endpoint needs (userInfo: `openid`).
    #[error("{0}")]
    InsufficientScope(String),
    /// Revocation of a token kind the server cannot revoke (access and ID tokens).
    #[error("{0}")]
    UnsupportedTokenType(String),
    /// The user or the upstream identity provider refused, or the provider's answer did
    /// not verify (federation).
    #[error("{0}")]
    AccessDenied(String),
    /// Overloaded (password hashing queue full, database busy): try again.
    #[error("{0}")]
    TemporarilyUnavailable(String),
    /// Something broke inside gatehouse; the cause is logged.
    #[error("internal error")]
    ServerError,
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::LoginRequired(_) => "login_required",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::AccessDenied(_) => "access_denied",
            Self::TemporarilyUnavailable(_) => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }

    /// The `error_description`.
    pub fn description(&self) -> String {
        self.to_string()
    }

    /// A service error that is not the caller's fault: busy or internal.
    pub(crate) fn from_service(e: &UserPoolError) -> Self {
        match e {
            UserPoolError::TooManyRequests(m) => Self::TemporarilyUnavailable(m.clone()),
            _ => Self::ServerError,
        }
    }
}

/// An authorization request that cannot be answered at the client's callback, because the
/// client or the callback is not known to be genuine: shown on a page, never redirected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    /// No `client_id`.
    MissingClientId,
    /// No app client with this id in this pool.
    UnknownClient,
    /// No `redirect_uri` and no `DefaultRedirectURI`.
    MissingRedirectUri,
    /// `redirect_uri` is not exactly one of the client's `CallbackURLs`.
    RedirectMismatch,
    /// `logout_uri` is not exactly one of the client's `LogoutURLs` (or is missing).
    LogoutMismatch,
    /// A parameter appears twice, so which callback is meant cannot be told.
    RepeatedParameter,
    /// An upstream identity provider's answer (`/oauth2/idpresponse`) whose `state` is
    /// missing, forged, expired, used before or from another browser.
    InvalidState,
    /// Busy or broken inside; the cause is logged.
    Unavailable,
}

impl PageError {
    /// A stable name for the page (and Cognito's `error` of its `/error` page where it has
    /// one: `redirect_mismatch`).
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingClientId => "missing_client_id",
            Self::UnknownClient => "invalid_client",
            Self::MissingRedirectUri => "missing_redirect_uri",
            Self::RedirectMismatch => "redirect_mismatch",
            Self::LogoutMismatch => "logout_mismatch",
            Self::RepeatedParameter => "invalid_request",
            Self::InvalidState => "invalid_state",
            Self::Unavailable => "server_error",
        }
    }
}

/// An RFC 6749 error sent back to the (registered, exactly matched) callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The client's callback.
    pub redirect_uri: String,
    /// What went wrong.
    pub error: OAuthError,
    /// The request's `state`, returned as given.
    pub state: Option<String>,
}

impl ErrorRedirect {
    /// The `Location`: the callback with `error`, `error_description` and `state`.
    pub fn location(&self) -> String {
        let description = self.error.description();
        let mut pairs: Vec<(&str, &str)> = vec![
            ("error", self.error.code()),
            ("error_description", description.as_str()),
        ];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        super::redirect_with(&self.redirect_uri, &pairs)
    }
}

/// Why an authorization request (or the sign-in page's copy of it) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Shown on a page.
    Page(PageError),
    /// Sent back to the callback.
    Redirect(ErrorRedirect),
}
