//! Federated identity providers of a pool (CreateIdentityProvider, DescribeIdentityProvider,
//! UpdateIdentityProvider, ListIdentityProviders, DeleteIdentityProvider,
//! GetIdentityProviderByIdentifier) and the links from upstream identities to users
//! (AdminLinkProviderForUser, AdminDisableProviderForUser). The sign-in through a provider
//! is `crate::oauth2`'s (`federation.rs`).
//!
//! # Provider types
//! - `OIDC`: `client_id`, `authorize_scopes` (with `openid`), `attributes_request_method`
//!   (`GET` or `POST`), `oidc_issuer` (`https://`, or `http://` on a loopback host) are
//!   required; `client_secret` is optional (a public client then, with PKCE); the endpoints
//!   `authorize_url`, `token_url`, `attributes_url` and `jwks_uri` are optional: each given
//!   one is used instead of the issuer's discovery document.
//! - `Google`: a preset of `OIDC` for `https://accounts.google.com`: `client_id`,
//!   `client_secret` and `authorize_scopes` are given, the rest is Google's (shown as
//!   Cognito shows them).
//!
//! # Secrets
//! `client_secret` is stored sealed with the master key, bound to the pool and the provider
//! name. DescribeIdentityProvider returns it, as Cognito does; ListIdentityProviders never.
//!
//! # Attribute mapping
//! Keys are pool attributes (each must be in the schema, or `username`), values the upstream
//! claim they come from. `username` always maps from `sub` (Cognito's default, added when
//! missing): the user's name is `{ProviderName}_{sub}`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_storage::{GroupRecord, IdentityProviderRecord, ProviderLinkRecord, StorageError};
use serde::{Deserialize, Serialize};

use super::pools::{decode_token, encode_token, page_size};
use super::{Page, UserPool, UserPoolError, UserPools};
use crate::time::{from_unix_millis, unix_millis};

/// Most providers a page of ListIdentityProviders holds.
pub const MAX_PROVIDERS_PAGE: u32 = 60;
/// Most `IdpIdentifiers` of one provider (Cognito's limit).
pub const MAX_IDP_IDENTIFIERS: usize = 50;
/// Most entries of `ProviderDetails` or `AttributeMapping`.
pub const MAX_DETAIL_ENTRIES: usize = 50;
/// Longest value of a `ProviderDetails` entry.
pub const MAX_DETAIL_LEN: usize = 2048;
/// Google's issuer (the `Google` preset).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The `ProviderDetails` keys of an `OIDC` provider.
const OIDC_KEYS: &[&str] = &[
    "client_id",
    "client_secret",
    "authorize_scopes",
    "attributes_request_method",
    "oidc_issuer",
    "authorize_url",
    "token_url",
    "attributes_url",
    "jwks_uri",
    // Cognito returns it (set by the service); accepted back, never used.
    "attributes_url_add_attributes",
];
/// The `ProviderDetails` keys of a `Google` provider a request may set.
const GOOGLE_KEYS: &[&str] = &[
    "client_id",
    "client_secret",
    "authorize_scopes",
    // Set by the service and returned; accepted back unchanged, never used.
    "attributes_url",
    "attributes_url_add_attributes",
    "authorize_url",
    "oidc_issuer",
    "token_request_method",
    "token_url",
];
/// Names another kind of provider owns.
const RESERVED_NAMES: &[&str] = &[
    "COGNITO",
    "Cognito",
    "Facebook",
    "Google",
    "LoginWithAmazon",
    "SignInWithApple",
];

/// `ProviderType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderType {
    /// Any OpenID Connect provider.
    Oidc,
    /// Google, as an OpenID Connect provider.
    Google,
}

impl ProviderType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "OIDC",
            Self::Google => "Google",
        }
    }

    /// The type of a wire name; `SAML`, `Facebook`, … are not supported here.
    pub fn parse(name: &str) -> Result<Self, UserPoolError> {
        match name {
            "OIDC" => Ok(Self::Oidc),
            "Google" => Ok(Self::Google),
            other => Err(UserPoolError::invalid(format!(
                "provider type `{}` is not supported (OIDC or Google)",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// A federated identity provider.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    /// Its pool.
    pub pool_id: String,
    /// `ProviderName`.
    pub name: String,
    /// `ProviderType`.
    pub provider_type: ProviderType,
    /// `ProviderDetails` as stored (the client secret opened), without the preset values.
    pub details: BTreeMap<String, String>,
    /// `AttributeMapping`: pool attribute → upstream claim.
    pub attribute_mapping: BTreeMap<String, String>,
    /// `IdpIdentifiers`.
    pub idp_identifiers: Vec<String>,
    /// Creation time.
    pub created_at: std::time::SystemTime,
    /// Last change.
    pub updated_at: std::time::SystemTime,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("pool_id", &self.pool_id)
            .field("name", &self.name)
            .field("provider_type", &self.provider_type)
            .field("client_id", &self.details.get("client_id"))
            .field("idp_identifiers", &self.idp_identifiers)
            .finish_non_exhaustive()
    }
}

impl IdentityProvider {
    /// A `ProviderDetails` value.
    pub fn detail(&self, key: &str) -> Option<&str> {
        self.details
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The upstream issuer.
    pub fn issuer(&self) -> &str {
        match self.provider_type {
            ProviderType::Google => GOOGLE_ISSUER,
            ProviderType::Oidc => self.detail("oidc_issuer").unwrap_or_default(),
        }
    }

    /// The scopes asked of the upstream (space-separated, as Cognito stores them), with
    /// `openid` first when the stored list lacks it (Google's preset may).
    pub fn scopes(&self) -> String {
        let stored = self.detail("authorize_scopes").unwrap_or("openid");
        if stored.split([' ', ',']).any(|s| s == "openid") {
            stored.replace(',', " ")
        } else {
            format!("openid {}", stored.replace(',', " "))
        }
    }

    /// An explicit endpoint (`authorize_url`, `token_url`, `attributes_url`, `jwks_uri`) of
    /// an `OIDC` provider; Google's come from its discovery document.
    pub fn endpoint(&self, key: &str) -> Option<&str> {
        match self.provider_type {
            ProviderType::Oidc => self.detail(key),
            ProviderType::Google => None,
        }
    }

    /// Whether userInfo is read after the token exchange, and how: `GET` or `POST`.
    pub fn attributes_request_method(&self) -> &str {
        self.detail("attributes_request_method").unwrap_or("GET")
    }

    /// `ProviderDetails` as Cognito returns them: Google's preset values filled in.
    pub fn details_shown(&self) -> BTreeMap<String, String> {
        let mut shown = self.details.clone();
        if self.provider_type == ProviderType::Google {
            for (k, v) in [
                (
                    "attributes_url",
                    "https://people.googleapis.com/v1/people/me?personFields=",
                ),
                ("attributes_url_add_attributes", "true"),
                (
                    "authorize_url",
                    "https://accounts.google.com/o/oauth2/v2/auth",
                ),
                ("oidc_issuer", GOOGLE_ISSUER),
                ("token_request_method", "POST"),
                ("token_url", "https://www.googleapis.com/oauth2/v4/token"),
            ] {
                shown.insert(k.into(), v.into());
            }
        } else {
            shown
                .entry("attributes_url_add_attributes".into())
                .or_insert_with(|| "false".into());
        }
        shown
    }

    /// The pool group its users are put in: `{poolId}_{ProviderName}`.
    pub fn group_name(&self) -> String {
        format!("{}_{}", self.pool_id, self.name)
    }
}

/// What storage keeps of `ProviderDetails`: the secret sealed (base64).
#[derive(Debug, Serialize, Deserialize)]
struct StoredDetails {
    details: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_secret: Option<String>,
}

fn secret_aad(pool_id: &str, name: &str) -> Vec<u8> {
    format!("gatehouse idp client secret v1|{pool_id}|{name}").into_bytes()
}

fn not_found(name: &str) -> UserPoolError {
    UserPoolError::ResourceNotFound(format!("Identity provider {name} does not exist."))
}

/// Cognito's `ProviderName`: 1 to 32 characters, no spaces and no `_` (the separator of
/// the federated usernames), not a name another kind of provider owns.
fn check_name(name: &str, provider_type: ProviderType) -> Result<(), UserPoolError> {
    if provider_type == ProviderType::Google {
        return if name == "Google" {
            Ok(())
        } else {
            Err(UserPoolError::invalid(
                "a provider of type Google must be named Google",
            ))
        };
    }
    let len = name.chars().count();
    if !(1..=32).contains(&len)
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '_')
    {
        return Err(UserPoolError::invalid(
            "ProviderName must be 1 to 32 characters without spaces or `_`",
        ));
    }
    if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(UserPoolError::invalid(format!(
            "ProviderName `{name}` is reserved"
        )));
    }
    Ok(())
}

/// An issuer or endpoint URL: `https://`, or `http://` on a loopback host (a development
/// provider on this machine); no fragment, at most [`MAX_DETAIL_LEN`].
fn check_url(key: &str, value: &str) -> Result<(), UserPoolError> {
    let secure = value.starts_with("https://");
    let local = value.starts_with("http://") && crate::iam::is_loopback_url(value);
    let parsed = value.parse::<hyper::Uri>().ok();
    if !(secure || local)
        || value.contains('#')
        || value.chars().any(char::is_whitespace)
        || parsed.as_ref().and_then(hyper::Uri::host).is_none()
    {
        return Err(UserPoolError::invalid(format!(
            "{key} must be an https URL (http only on a loopback host)"
        )));
    }
    Ok(())
}

/// Checks `ProviderDetails` for `provider_type` (see the module docs).
fn check_details(
    provider_type: ProviderType,
    details: &BTreeMap<String, String>,
) -> Result<(), UserPoolError> {
    if details.len() > MAX_DETAIL_ENTRIES {
        return Err(UserPoolError::invalid("too many ProviderDetails"));
    }
    let allowed = match provider_type {
        ProviderType::Oidc => OIDC_KEYS,
        ProviderType::Google => GOOGLE_KEYS,
    };
    for (key, value) in details {
        if !allowed.contains(&key.as_str()) {
            return Err(UserPoolError::invalid(format!(
                "ProviderDetails key `{}` is not valid for {}",
                key.chars().take(64).collect::<String>(),
                provider_type.as_str()
            )));
        }
        if value.len() > MAX_DETAIL_LEN || value.chars().any(char::is_control) {
            return Err(UserPoolError::invalid(format!(
                "ProviderDetails `{key}` must be at most {MAX_DETAIL_LEN} bytes of text"
            )));
        }
    }
    let required: &[&str] = match provider_type {
        ProviderType::Oidc => &[
            "client_id",
            "authorize_scopes",
            "attributes_request_method",
            "oidc_issuer",
        ],
        ProviderType::Google => &["client_id", "client_secret", "authorize_scopes"],
    };
    for key in required {
        if details.get(*key).is_none_or(|v| v.trim().is_empty()) {
            return Err(UserPoolError::invalid(format!(
                "ProviderDetails `{key}` is required for {}",
                provider_type.as_str()
            )));
        }
    }
    if provider_type == ProviderType::Oidc {
        if !details
            .get("authorize_scopes")
            .is_some_and(|s| s.split([' ', ',']).any(|s| s == "openid"))
        {
            return Err(UserPoolError::invalid(
                "authorize_scopes must include openid",
            ));
        }
        if !matches!(
            details.get("attributes_request_method").map(String::as_str),
            Some("GET" | "POST")
        ) {
            return Err(UserPoolError::invalid(
                "attributes_request_method must be GET or POST",
            ));
        }
        for key in [
            "oidc_issuer",
            "authorize_url",
            "token_url",
            "attributes_url",
            "jwks_uri",
        ] {
            if let Some(value) = details.get(key).filter(|v| !v.is_empty()) {
                check_url(key, value)?;
            }
        }
    }
    Ok(())
}

/// `AttributeMapping` against the pool's schema, with `username` ← `sub` added.
fn checked_mapping(
    pool: &UserPool,
    mapping: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, UserPoolError> {
    if mapping.len() > MAX_DETAIL_ENTRIES {
        return Err(UserPoolError::invalid("too many AttributeMapping entries"));
    }
    for (attribute, claim) in mapping {
        if attribute != "username" && pool.config.attribute(attribute).is_none() {
            return Err(UserPoolError::invalid(format!(
                "attribute `{}` of AttributeMapping does not exist in the schema",
                attribute.chars().take(64).collect::<String>()
            )));
        }
        if attribute == "sub" {
            return Err(UserPoolError::invalid("sub cannot be mapped"));
        }
        if claim.is_empty() || claim.len() > 131 || claim.chars().any(char::is_control) {
            return Err(UserPoolError::invalid(format!(
                "the upstream attribute of `{attribute}` must be 1 to 131 characters"
            )));
        }
    }
    let mut out = mapping.clone();
    out.entry("username".into()).or_insert_with(|| "sub".into());
    Ok(out)
}

/// `IdpIdentifiers`: at most [`MAX_IDP_IDENTIFIERS`], each 1 to 40 letters, digits, spaces
/// or `_+=.@-`, no repeats.
fn check_identifiers(identifiers: &[String]) -> Result<(), UserPoolError> {
    if identifiers.len() > MAX_IDP_IDENTIFIERS {
        return Err(UserPoolError::invalid(format!(
            "at most {MAX_IDP_IDENTIFIERS} IdpIdentifiers"
        )));
    }
    for (i, id) in identifiers.iter().enumerate() {
        let len = id.chars().count();
        if !(1..=40).contains(&len)
            || !id
                .chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || "_+=.@-".contains(c))
        {
            return Err(UserPoolError::invalid(
                "each IdpIdentifier must be 1 to 40 letters, digits, spaces or `_+=.@-`",
            ));
        }
        if identifiers.iter().take(i).any(|other| other == id) {
            return Err(UserPoolError::invalid(format!(
                "IdpIdentifier `{id}` is listed twice"
            )));
        }
    }
    Ok(())
}

/// What CreateIdentityProvider and UpdateIdentityProvider carry (an update's `None`s keep
/// what is stored). Its Debug names the details' keys, never their values (one is the
/// client secret).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProviderInput {
    /// `ProviderDetails`.
    pub details: Option<BTreeMap<String, String>>,
    /// `AttributeMapping`.
    pub attribute_mapping: Option<BTreeMap<String, String>>,
    /// `IdpIdentifiers`.
    pub idp_identifiers: Option<Vec<String>>,
}

impl std::fmt::Debug for ProviderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let detail_keys = self.details.as_ref().map(|d| d.keys().collect::<Vec<_>>());
        f.debug_struct("ProviderInput")
            .field("detail_keys", &detail_keys)
            .field("attribute_mapping", &self.attribute_mapping)
            .field("idp_identifiers", &self.idp_identifiers)
            .finish()
    }
}

impl UserPools {
    fn provider_from_record(
        &self,
        r: IdentityProviderRecord,
    ) -> Result<IdentityProvider, UserPoolError> {
        let stored: StoredDetails = serde_json::from_str(&r.details)
            .map_err(|e| UserPoolError::internal("stored identity provider", e))?;
        let mut details = stored.details;
        if let Some(sealed) = stored.sealed_secret {
            let blob = STANDARD
                .decode(sealed)
                .map_err(|e| UserPoolError::internal("identity provider secret", e))?;
            let plain = self
                .sealer()
                .open(&blob, &secret_aad(&r.pool_id, &r.name))
                .map_err(|e| UserPoolError::internal("identity provider secret", e))?;
            let secret = String::from_utf8(plain)
                .map_err(|e| UserPoolError::internal("identity provider secret", e))?;
            details.insert("client_secret".into(), secret);
        }
        Ok(IdentityProvider {
            provider_type: ProviderType::parse(&r.provider_type)?,
            attribute_mapping: serde_json::from_str(&r.attribute_mapping)
                .map_err(|e| UserPoolError::internal("stored attribute mapping", e))?,
            idp_identifiers: serde_json::from_str(&r.idp_identifiers)
                .map_err(|e| UserPoolError::internal("stored idp identifiers", e))?,
            pool_id: r.pool_id,
            name: r.name,
            details,
            created_at: from_unix_millis(r.created_at),
            updated_at: from_unix_millis(r.updated_at),
        })
    }

    fn provider_record(
        &self,
        p: &IdentityProvider,
    ) -> Result<IdentityProviderRecord, UserPoolError> {
        let mut details = p.details.clone();
        let sealed_secret = match details.remove("client_secret") {
            Some(secret) if !secret.is_empty() => Some(
                STANDARD.encode(
                    self.sealer()
                        .seal(secret.as_bytes(), &secret_aad(&p.pool_id, &p.name))
                        .map_err(|e| UserPoolError::internal("identity provider secret", e))?,
                ),
            ),
            _ => None,
        };
        Ok(IdentityProviderRecord {
            pool_id: p.pool_id.clone(),
            name: p.name.clone(),
            provider_type: p.provider_type.as_str().into(),
            details: to_json(&StoredDetails {
                details,
                sealed_secret,
            })?,
            attribute_mapping: to_json(&p.attribute_mapping)?,
            idp_identifiers: to_json(&p.idp_identifiers)?,
            created_at: unix_millis(p.created_at),
            updated_at: unix_millis(p.updated_at),
        })
    }

    /// Refuses identifiers another provider of the pool has.
    async fn check_identifiers_free(
        &self,
        pool_id: &str,
        name: &str,
        identifiers: &[String],
    ) -> Result<(), UserPoolError> {
        if identifiers.is_empty() {
            return Ok(());
        }
        for other in self.store().identity_providers().all(pool_id).await? {
            if other.name == name {
                continue;
            }
            let theirs: Vec<String> =
                serde_json::from_str(&other.idp_identifiers).unwrap_or_default();
            if let Some(taken) = identifiers.iter().find(|id| theirs.contains(id)) {
                return Err(UserPoolError::DuplicateProvider(format!(
                    "IdpIdentifier {taken} is already used by provider {}",
                    other.name
                )));
            }
        }
        Ok(())
    }

    /// CreateIdentityProvider; also makes the provider's group `{poolId}_{ProviderName}`
    /// (as Cognito does) when the pool has none of that name.
    pub async fn create_identity_provider(
        &self,
        pool_id: &str,
        name: &str,
        provider_type: &str,
        input: ProviderInput,
    ) -> Result<IdentityProvider, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let provider_type = ProviderType::parse(provider_type)?;
        check_name(name, provider_type)?;
        let details = input.details.unwrap_or_default();
        check_details(provider_type, &details)?;
        let attribute_mapping =
            checked_mapping(&pool, &input.attribute_mapping.unwrap_or_default())?;
        let idp_identifiers = input.idp_identifiers.unwrap_or_default();
        check_identifiers(&idp_identifiers)?;
        self.check_identifiers_free(pool_id, name, &idp_identifiers)
            .await?;
        let now = self.now();
        let provider = IdentityProvider {
            pool_id: pool_id.to_owned(),
            name: name.to_owned(),
            provider_type,
            details,
            attribute_mapping,
            idp_identifiers,
            created_at: now,
            updated_at: now,
        };
        match self
            .store()
            .identity_providers()
            .create(&self.provider_record(&provider)?)
            .await
        {
            Ok(()) => {}
            Err(StorageError::Conflict { .. }) => {
                return Err(UserPoolError::DuplicateProvider(format!(
                    "A provider with the name {name} already exists in this user pool."
                )));
            }
            Err(StorageError::NotFound { .. }) => {
                return Err(super::pools::pool_not_found(pool_id));
            }
            Err(e) => return Err(e.into()),
        }
        let now_ms = unix_millis(now);
        match self
            .store()
            .groups()
            .create(&GroupRecord {
                pool_id: pool_id.to_owned(),
                name: provider.group_name(),
                description: Some(format!(
                    "Autogenerated group for users who sign in using {name}"
                )),
                precedence: None,
                role_arn: None,
                created_at: now_ms,
                updated_at: now_ms,
            })
            .await
        {
            Ok(()) | Err(StorageError::Conflict { .. }) => Ok(provider),
            Err(e) => Err(e.into()),
        }
    }

    /// DescribeIdentityProvider.
    pub async fn describe_identity_provider(
        &self,
        pool_id: &str,
        name: &str,
    ) -> Result<IdentityProvider, UserPoolError> {
        self.user_pool(pool_id).await?;
        self.identity_provider(pool_id, name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// The pool's provider `name`, if there is one.
    pub async fn identity_provider(
        &self,
        pool_id: &str,
        name: &str,
    ) -> Result<Option<IdentityProvider>, UserPoolError> {
        if name.is_empty() || name.len() > 128 {
            return Ok(None);
        }
        self.store()
            .identity_providers()
            .get(pool_id, name)
            .await?
            .map(|r| self.provider_from_record(r))
            .transpose()
    }

    /// Every provider of the pool.
    pub async fn identity_providers(
        &self,
        pool_id: &str,
    ) -> Result<Vec<IdentityProvider>, UserPoolError> {
        self.store()
            .identity_providers()
            .all(pool_id)
            .await?
            .into_iter()
            .map(|r| self.provider_from_record(r))
            .collect()
    }

    /// UpdateIdentityProvider: what the request names replaces what is stored; a
    /// `ProviderDetails` without `client_secret` keeps the stored one.
    pub async fn update_identity_provider(
        &self,
        pool_id: &str,
        name: &str,
        input: ProviderInput,
    ) -> Result<IdentityProvider, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let mut provider = self.describe_identity_provider(pool_id, name).await?;
        if let Some(mut details) = input.details {
            // Cognito's Describe answers carry Google's preset values: accept them back.
            if provider.provider_type == ProviderType::Google {
                for k in [
                    "attributes_url",
                    "attributes_url_add_attributes",
                    "authorize_url",
                    "oidc_issuer",
                    "token_request_method",
                    "token_url",
                ] {
                    details.remove(k);
                }
            }
            if !details.contains_key("client_secret")
                && let Some(secret) = provider.details.get("client_secret")
            {
                details.insert("client_secret".into(), secret.clone());
            }
            check_details(provider.provider_type, &details)?;
            provider.details = details;
        }
        if let Some(mapping) = input.attribute_mapping {
            provider.attribute_mapping = checked_mapping(&pool, &mapping)?;
        }
        if let Some(identifiers) = input.idp_identifiers {
            check_identifiers(&identifiers)?;
            self.check_identifiers_free(pool_id, name, &identifiers)
                .await?;
            provider.idp_identifiers = identifiers;
        }
        provider.updated_at = self.now();
        self.store()
            .identity_providers()
            .update(&self.provider_record(&provider)?)
            .await
            .map_err(|e| match e {
                StorageError::NotFound { .. } => not_found(name),
                other => other.into(),
            })?;
        Ok(provider)
    }

    /// ListIdentityProviders: `max_results` 1..=60.
    pub async fn list_identity_providers(
        &self,
        pool_id: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<Page<IdentityProvider>, UserPoolError> {
        let limit = page_size(max_results, MAX_PROVIDERS_PAGE, "max results")?;
        self.user_pool(pool_id).await?;
        let after = next_token.map(decode_token).transpose()?;
        let page = self
            .store()
            .identity_providers()
            .list(pool_id, limit, after.as_deref())
            .await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|r| self.provider_from_record(r))
                .collect::<Result<_, _>>()?,
            next: page.next.as_deref().map(encode_token),
        })
    }

    /// DeleteIdentityProvider. Its users, group and links stay (as in Cognito: the users
    /// cannot sign in through it any more).
    pub async fn delete_identity_provider(
        &self,
        pool_id: &str,
        name: &str,
    ) -> Result<(), UserPoolError> {
        self.user_pool(pool_id).await?;
        self.store()
            .identity_providers()
            .delete(pool_id, name)
            .await
            .map_err(|e| match e {
                StorageError::NotFound { .. } => not_found(name),
                other => other.into(),
            })
    }

    /// GetIdentityProviderByIdentifier.
    pub async fn identity_provider_by_identifier(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<IdentityProvider, UserPoolError> {
        self.user_pool(pool_id).await?;
        self.identity_providers(pool_id)
            .await?
            .into_iter()
            .find(|p| p.idp_identifiers.iter().any(|i| i == identifier))
            .ok_or_else(|| {
                UserPoolError::ResourceNotFound(format!(
                    "Identity provider with identifier {identifier} does not exist."
                ))
            })
    }

    // === links ===

    /// AdminLinkProviderForUser: the upstream identity (`source_provider`'s user whose
    /// `source_attribute` — `Cognito_Subject` for its `sub` — is `source_value`) signs in
    /// as the existing user `destination_username` of this pool from now on.
    pub async fn admin_link_provider_for_user(
        &self,
        pool_id: &str,
        destination_username: &str,
        source_provider: &str,
        source_attribute: &str,
        source_value: &str,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        if self
            .identity_provider(pool_id, source_provider)
            .await?
            .is_none()
        {
            return Err(UserPoolError::invalid(format!(
                "provider {source_provider} does not exist in this user pool"
            )));
        }
        if source_attribute != "Cognito_Subject" {
            return Err(UserPoolError::invalid(
                "only ProviderAttributeName Cognito_Subject is supported for OIDC providers",
            ));
        }
        if source_value.is_empty() || source_value.len() > 255 {
            return Err(UserPoolError::invalid(
                "ProviderAttributeValue must be 1 to 255 characters",
            ));
        }
        let user = self.require_user(&pool, destination_username).await?;
        if user.status == super::UserStatus::ExternalProvider {
            return Err(UserPoolError::invalid(
                "the destination user must be a native user of the pool",
            ));
        }
        let store = self.store().identity_providers();
        if let Some(existing) = store.link(pool_id, source_provider, source_value).await? {
            let message = if existing.user_sub == user.sub {
                "the identity is already linked to this user"
            } else {
                "the identity is already linked to another user"
            };
            return Err(UserPoolError::AliasExists(message.into()));
        }
        store
            .add_link(&ProviderLinkRecord {
                pool_id: pool_id.to_owned(),
                provider: source_provider.to_owned(),
                subject: source_value.to_owned(),
                user_sub: user.sub.clone(),
                created_at: unix_millis(self.now()),
            })
            .await
            .map_err(|e| match e {
                StorageError::Conflict { .. } => UserPoolError::AliasExists(
                    "the identity is already linked to another user".into(),
                ),
                other => other.into(),
            })?;
        let provider_type = self
            .identity_provider(pool_id, source_provider)
            .await?
            .map_or(ProviderType::Oidc, |p| p.provider_type);
        self.add_identity_attribute(
            &pool,
            &user,
            source_provider,
            provider_type,
            source_value,
            false,
        )
        .await
    }

    /// AdminDisableProviderForUser: the upstream identity is unlinked; a user the provider
    /// made (`EXTERNAL_PROVIDER`) is disabled, a native user keeps signing in by itself.
    pub async fn admin_disable_provider_for_user(
        &self,
        pool_id: &str,
        provider: &str,
        attribute: &str,
        value: &str,
    ) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        if attribute != "Cognito_Subject" {
            return Err(UserPoolError::invalid(
                "only ProviderAttributeName Cognito_Subject is supported for OIDC providers",
            ));
        }
        let store = self.store().identity_providers();
        let Some(link) = store.link(pool_id, provider, value).await? else {
            return Err(UserPoolError::UserNotFound("User does not exist.".into()));
        };
        store.remove_link(pool_id, provider, value).await?;
        let Some(user) = self.find_user_by_sub(pool_id, &link.user_sub).await? else {
            return Ok(());
        };
        self.remove_identity_attribute(&pool, &user, provider, value)
            .await?;
        if user.status == super::UserStatus::ExternalProvider {
            self.admin_set_user_enabled(pool_id, &user.username, false)
                .await?;
        }
        Ok(())
    }

    /// Adds an entry to the user's `identities` attribute (Cognito's JSON list).
    pub(crate) async fn add_identity_attribute(
        &self,
        pool: &UserPool,
        user: &super::User,
        provider: &str,
        provider_type: ProviderType,
        subject: &str,
        primary: bool,
    ) -> Result<(), UserPoolError> {
        let mut attributes = user.attributes.clone();
        let mut list = identities_of(&attributes);
        list.retain(|i| !(i.provider_name == provider && i.user_id == subject));
        list.push(identity_entry(
            provider,
            provider_type,
            subject,
            primary,
            self.now(),
        ));
        attributes.insert("identities".into(), identities_json(&list)?);
        self.write_user_attributes(pool, user, &attributes).await
    }

    async fn remove_identity_attribute(
        &self,
        pool: &UserPool,
        user: &super::User,
        provider: &str,
        subject: &str,
    ) -> Result<(), UserPoolError> {
        let mut attributes = user.attributes.clone();
        let mut list = identities_of(&attributes);
        list.retain(|i| !(i.provider_name == provider && i.user_id == subject));
        if list.is_empty() {
            attributes.remove("identities");
        } else {
            attributes.insert("identities".into(), identities_json(&list)?);
        }
        self.write_user_attributes(pool, user, &attributes).await
    }

    /// Replaces a user's attributes (aliases recomputed), as stored.
    pub(crate) async fn write_user_attributes(
        &self,
        pool: &UserPool,
        user: &super::User,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), UserPoolError> {
        let aliases = if user.status == super::UserStatus::ExternalProvider {
            Vec::new()
        } else {
            self.aliases_for(pool, attributes)
        };
        self.store()
            .users()
            .update_attributes(
                &pool.id,
                &user.sub,
                &super::attributes::stored_attributes(attributes),
                &aliases,
                unix_millis(self.now()),
            )
            .await?;
        Ok(())
    }
}

/// One entry of the `identities` attribute and claim, in Cognito's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdentityEntry {
    pub(crate) user_id: String,
    pub(crate) provider_name: String,
    pub(crate) provider_type: String,
    pub(crate) issuer: Option<String>,
    pub(crate) primary: String,
    pub(crate) date_created: String,
}

pub(crate) fn identity_entry(
    provider: &str,
    provider_type: ProviderType,
    subject: &str,
    primary: bool,
    now: std::time::SystemTime,
) -> IdentityEntry {
    IdentityEntry {
        user_id: subject.to_owned(),
        provider_name: provider.to_owned(),
        provider_type: provider_type.as_str().to_owned(),
        issuer: None,
        primary: primary.to_string(),
        date_created: unix_millis(now).to_string(),
    }
}

/// The user's `identities`, parsed (an unreadable value is none).
pub(crate) fn identities_of(attributes: &BTreeMap<String, String>) -> Vec<IdentityEntry> {
    attributes
        .get("identities")
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

pub(crate) fn identities_json(list: &[IdentityEntry]) -> Result<String, UserPoolError> {
    serde_json::to_string(list).map_err(|e| UserPoolError::internal("identities", e))
}

/// JSON text of a stored column.
fn to_json<T: Serialize>(value: &T) -> Result<String, UserPoolError> {
    serde_json::to_string(value).map_err(|e| UserPoolError::internal("identity provider", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_client_secret() {
        let input = ProviderInput {
            details: Some(oidc(&[("client_secret", "s3cret-upstream")])),
            ..ProviderInput::default()
        };
        let shown = format!("{input:?}");
        assert!(shown.contains("client_secret"), "{shown}");
        assert!(!shown.contains("s3cret-upstream"), "{shown}");
    }

    fn oidc(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut details: BTreeMap<String, String> = [
            ("client_id", "c"),
            ("authorize_scopes", "openid email"),
            ("attributes_request_method", "GET"),
            ("oidc_issuer", "https://login.example.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                details.remove(*k);
            } else {
                details.insert((*k).to_owned(), (*v).to_owned());
            }
        }
        details
    }

    /// (rule, details, accepted): Cognito's ProviderDetails rules for OIDC.
    #[test]
    fn oidc_details_rules() {
        let long = "x".repeat(MAX_DETAIL_LEN + 1);
        let cases: Vec<(&str, BTreeMap<String, String>, bool)> = vec![
            ("the required four", oidc(&[]), true),
            (
                "with a secret and explicit endpoints",
                oidc(&[
                    ("client_secret", "s"),
                    ("authorize_url", "https://login.example.com/a"),
                    ("token_url", "https://login.example.com/t"),
                    ("attributes_url", "https://login.example.com/u"),
                    ("jwks_uri", "https://login.example.com/k"),
                ]),
                true,
            ),
            (
                "a loopback http issuer",
                oidc(&[("oidc_issuer", "http://127.0.0.1:9000")]),
                true,
            ),
            (
                "http off loopback",
                oidc(&[("oidc_issuer", "http://login.example.com")]),
                false,
            ),
            (
                "not a URL",
                oidc(&[("oidc_issuer", "login.example.com")]),
                false,
            ),
            (
                "an endpoint with a fragment",
                oidc(&[("token_url", "https://x.example/t#f")]),
                false,
            ),
            ("no client_id", oidc(&[("client_id", "")]), false),
            ("no issuer", oidc(&[("oidc_issuer", "")]), false),
            (
                "scopes without openid",
                oidc(&[("authorize_scopes", "email profile")]),
                false,
            ),
            (
                "a request method other than GET or POST",
                oidc(&[("attributes_request_method", "PUT")]),
                false,
            ),
            ("an unknown key", oidc(&[("evil", "1")]), false),
            ("a value too long", oidc(&[("client_id", &long)]), false),
            ("a control character", oidc(&[("client_id", "a\nb")]), false),
        ];
        for (rule, details, accepted) in cases {
            assert_eq!(
                check_details(ProviderType::Oidc, &details).is_ok(),
                accepted,
                "{rule}"
            );
        }
    }

    #[test]
    fn provider_names_and_identifiers() {
        for (name, ok) in [
            ("Corp", true),
            ("corp-sso.2", true),
            ("", false),
            ("a_b", false),
            ("has space", false),
            (&"x".repeat(33), false),
            ("COGNITO", false),
            ("google", false),
        ] {
            assert_eq!(check_name(name, ProviderType::Oidc).is_ok(), ok, "{name:?}");
        }
        assert!(check_name("Google", ProviderType::Google).is_ok());
        assert!(check_name("Corp", ProviderType::Google).is_err());
        assert!(check_identifiers(&["corp.example".into(), "Corp SSO".into()]).is_ok());
        assert!(check_identifiers(&["a".into(), "a".into()]).is_err());
        assert!(check_identifiers(&["a/b".into()]).is_err());
        assert!(check_identifiers(&vec!["x".into(); MAX_IDP_IDENTIFIERS + 1]).is_err());
    }

    #[test]
    fn scopes_always_ask_for_openid() {
        let mut provider = IdentityProvider {
            pool_id: "p".into(),
            name: "Google".into(),
            provider_type: ProviderType::Google,
            details: [("authorize_scopes".to_owned(), "profile email".to_owned())].into(),
            attribute_mapping: BTreeMap::new(),
            idp_identifiers: Vec::new(),
            created_at: std::time::UNIX_EPOCH,
            updated_at: std::time::UNIX_EPOCH,
        };
        assert_eq!(provider.scopes(), "openid profile email");
        assert_eq!(provider.issuer(), GOOGLE_ISSUER);
        provider
            .details
            .insert("authorize_scopes".into(), "openid,email".into());
        assert_eq!(provider.scopes(), "openid email");
        // Google's shown details carry its preset endpoints.
        assert_eq!(
            provider
                .details_shown()
                .get("oidc_issuer")
                .map(String::as_str),
            Some(GOOGLE_ISSUER)
        );
    }
}
