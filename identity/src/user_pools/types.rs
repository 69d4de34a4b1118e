//! Domain types the service layer returns: pools, clients, users, groups, pages, tokens. No
//! wire names here; the adapters translate.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use super::config::{ClientConfig, PoolConfig, named_enum};
use crate::delivery::Channel;

/// A user pool.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPool {
    /// `us-east-1_AbC123xyZ`.
    pub id: String,
    /// `PoolName`.
    pub name: String,
    /// `arn:aws:cognito-idp:{region}:{account}:userpool/{id}`.
    pub arn: String,
    /// The configuration document.
    pub config: PoolConfig,
    /// Creation time.
    pub created_at: SystemTime,
    /// Last change.
    pub updated_at: SystemTime,
}

/// An app client.
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    /// 26 lower-case letters or digits.
    pub id: String,
    /// Its pool.
    pub pool_id: String,
    /// `ClientName`.
    pub name: String,
    /// The client secret (opened from its sealed form), for confidential clients.
    pub secret: Option<String>,
    /// The configuration document.
    pub config: ClientConfig,
    /// Creation time.
    pub created_at: SystemTime,
    /// Last change.
    pub updated_at: SystemTime,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("pool_id", &self.pool_id)
            .field("name", &self.name)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

named_enum!(
    /// Cognito's `UserStatus`.
    UserStatus {
        Unconfirmed = "UNCONFIRMED",
        Confirmed = "CONFIRMED",
        Archived = "ARCHIVED",
        Compromised = "COMPROMISED",
        Unknown = "UNKNOWN",
        ResetRequired = "RESET_REQUIRED",
        ForceChangePassword = "FORCE_CHANGE_PASSWORD",
        ExternalProvider = "EXTERNAL_PROVIDER",
    }
);

/// A user.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Its pool.
    pub pool_id: String,
    /// The username (a UUID in pools whose usernames are emails or phone numbers).
    pub username: String,
    /// The immutable id (a UUID), also in `attributes["sub"]`.
    pub sub: String,
    /// Status.
    pub status: UserStatus,
    /// Whether the user may sign in.
    pub enabled: bool,
    /// Every attribute, `sub` included, by name.
    pub attributes: BTreeMap<String, String>,
    /// The argon2id PHC string; `None` for users without a password.
    pub password_hash: Option<String>,
    /// The SRP verifier of the same password, sealed with the master key; `None` for a
    /// password set before SRP existed.
    pub srp_verifier: Option<Vec<u8>>,
    /// Creation time.
    pub created_at: SystemTime,
    /// Last change.
    pub updated_at: SystemTime,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("pool_id", &self.pool_id)
            .field("username", &self.username)
            .field("sub", &self.sub)
            .field("status", &self.status)
            .field("enabled", &self.enabled)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl User {
    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// Whether `email_verified` / `phone_number_verified` is `true`.
    pub fn is_verified(&self, channel: Channel) -> bool {
        let flag = match channel {
            Channel::Email => "email_verified",
            Channel::Sms => "phone_number_verified",
        };
        self.attribute(flag) == Some("true")
    }
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its pool.
    pub pool_id: String,
    /// `GroupName`.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// `Precedence` (lower wins).
    pub precedence: Option<i64>,
    /// `RoleArn`.
    pub role_arn: Option<String>,
    /// Creation time.
    pub created_at: SystemTime,
    /// Last change.
    pub updated_at: SystemTime,
}

/// One page of a listing and the opaque token of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Tokens issued after a successful authentication or refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The ID token (JWT).
    pub id_token: String,
    /// The access token (JWT).
    pub access_token: String,
    /// A new refresh token (absent on refresh).
    pub refresh_token: Option<String>,
    /// Lifetime of the access token, in seconds (`ExpiresIn`).
    pub expires_in: u64,
    /// The device this sign-in came from, new to the pool (`NewDeviceMetadata`): the client
    /// confirms it with ConfirmDevice.
    pub new_device: Option<NewDeviceMetadata>,
}

/// `NewDeviceMetadata` of a sign-in with device tracking on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeviceMetadata {
    /// `DeviceKey`: `{region}_{uuid}`.
    pub device_key: String,
    /// `DeviceGroupKey`.
    pub device_group_key: String,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Whether tokens start a session or continue one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOrigin {
    /// A fresh authentication: new `origin_jti`, and a refresh token is issued and stored.
    NewSession,
    /// A refresh: the session's `origin_jti` is kept and no new refresh token is issued.
    Refresh {
        /// The session's `origin_jti`.
        origin_jti: String,
    },
}

/// What [`super::UserPools::rotate_signing_keys`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedKeys {
    /// The new ID-token key.
    pub id_kid: String,
    /// The new access-token key.
    pub access_kid: String,
    /// Keys that stopped signing now.
    pub retired_kids: Vec<String>,
    /// When the retired keys leave the JWKS (every token they signed has expired by then).
    pub retired_until: SystemTime,
}

/// Where a code or invitation was sent (`CodeDeliveryDetails`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDeliveryDetails {
    /// The destination, masked (`j***@e***`, `+*******1234`).
    pub destination: String,
    /// EMAIL or SMS.
    pub channel: Channel,
    /// `email` or `phone_number`.
    pub attribute_name: String,
}

/// Masks a destination as Cognito does in `CodeDeliveryDetails`.
pub fn mask_destination(channel: Channel, destination: &str) -> String {
    match channel {
        Channel::Email => match destination.split_once('@') {
            Some((local, domain)) => {
                let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
                format!("{}***@{}***", first(local), first(domain))
            }
            None => "***".into(),
        },
        Channel::Sms => {
            let n = destination.chars().count();
            let tail: String = destination.chars().skip(n.saturating_sub(4)).collect();
            format!("+{}{tail}", "*".repeat(n.saturating_sub(5)))
        }
    }
}
