//! The claim sets of Cognito user-pool ID and access tokens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `token_use`: which kind of token a JWT is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    /// An OIDC ID token (`"id"`).
    Id,
    /// An OAuth2 access token (`"access"`).
    Access,
}

/// Claims of a Cognito ID token. User attributes the client may read (`email`,
/// `email_verified`, `phone_number`, `custom:*`, …) go in `attributes` with their JSON types
/// (`email_verified` is a boolean in Cognito's tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The user's immutable id (a UUID).
    pub sub: String,
    /// Group names, in precedence order; omitted when empty, as Cognito does.
    #[serde(
        rename = "cognito:groups",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// `{public_url}/{userPoolId}`.
    pub iss: String,
    /// The user name.
    #[serde(rename = "cognito:username")]
    pub username: String,
    /// The `jti` of the first token of this session (kept across refreshes, for revocation).
    pub origin_jti: String,
    /// The app client id.
    pub aud: String,
    /// The authentication event id.
    pub event_id: String,
    /// Always [`TokenUse::Id`].
    pub token_use: TokenUse,
    /// When the user authenticated (Unix seconds); survives refreshes.
    pub auth_time: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// This token's id.
    pub jti: String,
    /// User attributes and any other claims.
    #[serde(flatten)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// Claims of a Cognito access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The user's immutable id.
    pub sub: String,
    /// Group names; omitted when empty.
    #[serde(
        rename = "cognito:groups",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// `{public_url}/{userPoolId}`.
    pub iss: String,
    /// Cognito's access-token format version (2).
    #[serde(default = "default_version")]
    pub version: u32,
    /// The app client id (access tokens have no `aud`).
    pub client_id: String,
    /// The `jti` of the first token of this session; empty (and left out) in a
    /// client-credentials token, which has no user and no session.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin_jti: String,
    /// The authentication event id; empty (and left out) in a client-credentials token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_id: String,
    /// Always [`TokenUse::Access`].
    pub token_use: TokenUse,
    /// Space-separated scopes (`aws.cognito.signin.user.admin` for SDK logins).
    pub scope: String,
    /// When the user authenticated (Unix seconds); survives refreshes.
    pub auth_time: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// This token's id.
    pub jti: String,
    /// The user name; empty (and left out) in a client-credentials token, whose `sub` is the
    /// client id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// The remembered device, when device tracking is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// Claims a PreTokenGeneration trigger (V2_0 / V3_0) added.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn default_version() -> u32 {
    2
}

/// Claim names an ID token's `attributes` may not use: they would duplicate standard claims.
pub(crate) const RESERVED_ID_CLAIMS: &[&str] = &[
    "sub",
    "cognito:groups",
    "iss",
    "cognito:username",
    "origin_jti",
    "aud",
    "event_id",
    "token_use",
    "auth_time",
    "exp",
    "iat",
    "jti",
    "nbf",
];

/// Claims every verified token has, for checks common to both kinds.
pub(crate) trait CommonClaims {
    fn token_use(&self) -> TokenUse;
    fn exp(&self) -> i64;
    fn iss(&self) -> &str;
}

impl CommonClaims for IdTokenClaims {
    fn token_use(&self) -> TokenUse {
        self.token_use
    }
    fn exp(&self) -> i64 {
        self.exp
    }
    fn iss(&self) -> &str {
        &self.iss
    }
}

impl CommonClaims for AccessTokenClaims {
    fn token_use(&self) -> TokenUse {
        self.token_use
    }
    fn exp(&self) -> i64 {
        self.exp
    }
    fn iss(&self) -> &str {
        &self.iss
    }
}
