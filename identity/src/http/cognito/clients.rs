//! Wire types and handlers of the app-client operations.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::{Empty, epoch, parse_enum, parse_enums};
use crate::http::HttpState;
use crate::user_pools::config::{
    ExplicitAuthFlow, OAuthFlow, RefreshTokenRotation, TimeUnit, TokenValidityUnits,
};
use crate::user_pools::{Client, ClientConfig, NewClient, UserPoolError};

/// The members of CreateUserPoolClient and UpdateUserPoolClient that make up the
/// configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ClientSettings {
    explicit_auth_flows: Option<Vec<String>>,
    prevent_user_existence_errors: Option<String>,
    access_token_validity: Option<u32>,
    id_token_validity: Option<u32>,
    refresh_token_validity: Option<u32>,
    #[serde(default, deserialize_with = "super::wire::object")]
    token_validity_units: Option<TokenValidityUnitsType>,
    read_attributes: Option<Vec<String>>,
    write_attributes: Option<Vec<String>>,
    #[serde(rename = "CallbackURLs")]
    callback_urls: Option<Vec<String>>,
    #[serde(rename = "LogoutURLs")]
    logout_urls: Option<Vec<String>>,
    #[serde(rename = "DefaultRedirectURI")]
    default_redirect_uri: Option<String>,
    #[serde(rename = "AllowedOAuthFlows")]
    allowed_oauth_flows: Option<Vec<String>>,
    #[serde(rename = "AllowedOAuthScopes")]
    allowed_oauth_scopes: Option<Vec<String>>,
    #[serde(rename = "AllowedOAuthFlowsUserPoolClient")]
    allowed_oauth_flows_user_pool_client: Option<bool>,
    supported_identity_providers: Option<Vec<String>>,
    enable_token_revocation: Option<bool>,
    enable_propagate_additional_user_context_data: Option<bool>,
    auth_session_validity: Option<u32>,
    #[serde(default, deserialize_with = "super::wire::object")]
    refresh_token_rotation: Option<RefreshTokenRotationType>,
}

/// `RefreshTokenRotationType`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RefreshTokenRotationType {
    feature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_grace_period_seconds: Option<u32>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokenValidityUnitsType {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl ClientSettings {
    fn into_config(self) -> Result<ClientConfig, UserPoolError> {
        let d = ClientConfig::default();
        let units = match self.token_validity_units {
            Some(u) => {
                let unit = |member: &str, v: Option<String>, default: TimeUnit| {
                    v.map_or(Ok(default), |v| parse_enum(member, &v, TimeUnit::parse))
                };
                let def = TokenValidityUnits::default();
                Some(TokenValidityUnits {
                    access_token: unit("AccessToken", u.access_token, def.access_token)?,
                    id_token: unit("IdToken", u.id_token, def.id_token)?,
                    refresh_token: unit("RefreshToken", u.refresh_token, def.refresh_token)?,
                })
            }
            None => None,
        };
        Ok(ClientConfig {
            explicit_auth_flows: parse_enums(
                "ExplicitAuthFlows",
                self.explicit_auth_flows.unwrap_or_default(),
                ExplicitAuthFlow::parse,
            )?,
            prevent_user_existence_errors: match self.prevent_user_existence_errors.as_deref() {
                None | Some("LEGACY") => false,
                Some("ENABLED") => true,
                Some(other) => {
                    return Err(UserPoolError::InvalidParameter(format!(
                        "value `{other}` at `PreventUserExistenceErrors` failed to satisfy constraint: member must satisfy enum value set"
                    )));
                }
            },
            access_token_validity: self.access_token_validity,
            id_token_validity: self.id_token_validity,
            refresh_token_validity: self.refresh_token_validity,
            token_validity_units: units,
            read_attributes: self.read_attributes.unwrap_or_default(),
            write_attributes: self.write_attributes.unwrap_or_default(),
            callback_urls: self.callback_urls.unwrap_or_default(),
            logout_urls: self.logout_urls.unwrap_or_default(),
            default_redirect_uri: self.default_redirect_uri,
            allowed_oauth_flows: parse_enums(
                "AllowedOAuthFlows",
                self.allowed_oauth_flows.unwrap_or_default(),
                OAuthFlow::parse,
            )?,
            allowed_oauth_scopes: self.allowed_oauth_scopes.unwrap_or_default(),
            allowed_oauth_flows_user_pool_client: self
                .allowed_oauth_flows_user_pool_client
                .unwrap_or(false),
            supported_identity_providers: self.supported_identity_providers.unwrap_or_default(),
            enable_token_revocation: self
                .enable_token_revocation
                .unwrap_or(d.enable_token_revocation),
            enable_propagate_additional_user_context_data: self
                .enable_propagate_additional_user_context_data
                .unwrap_or(false),
            auth_session_validity: self
                .auth_session_validity
                .unwrap_or(d.auth_session_validity),
            refresh_token_rotation: self
                .refresh_token_rotation
                .map(|r| {
                    let enabled = parse_enum("Feature", &r.feature, |f| match f {
                        "ENABLED" => Some(true),
                        "DISABLED" => Some(false),
                        _ => None,
                    })?;
                    Ok::<_, UserPoolError>(RefreshTokenRotation {
                        enabled,
                        retry_grace_period_seconds: r.retry_grace_period_seconds.unwrap_or(0),
                    })
                })
                .transpose()?,
        })
    }
}

/// `UserPoolClientType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserPoolClientType {
    user_pool_id: String,
    client_name: String,
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    last_modified_date: f64,
    creation_date: f64,
    refresh_token_validity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token_validity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_validity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_validity_units: Option<TokenValidityUnitsType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    read_attributes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    write_attributes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    explicit_auth_flows: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    supported_identity_providers: Vec<String>,
    #[serde(rename = "CallbackURLs", skip_serializing_if = "Vec::is_empty")]
    callback_urls: Vec<String>,
    #[serde(rename = "LogoutURLs", skip_serializing_if = "Vec::is_empty")]
    logout_urls: Vec<String>,
    #[serde(rename = "DefaultRedirectURI", skip_serializing_if = "Option::is_none")]
    default_redirect_uri: Option<String>,
    #[serde(rename = "AllowedOAuthFlows", skip_serializing_if = "Vec::is_empty")]
    allowed_oauth_flows: Vec<&'static str>,
    #[serde(rename = "AllowedOAuthScopes", skip_serializing_if = "Vec::is_empty")]
    allowed_oauth_scopes: Vec<String>,
    #[serde(rename = "AllowedOAuthFlowsUserPoolClient")]
    allowed_oauth_flows_user_pool_client: bool,
    prevent_user_existence_errors: &'static str,
    enable_token_revocation: bool,
    enable_propagate_additional_user_context_data: bool,
    auth_session_validity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_rotation: Option<RefreshTokenRotationType>,
}

pub(super) fn client_type(c: &Client) -> UserPoolClientType {
    let cfg = &c.config;
    let refresh_unit = cfg
        .token_validity_units
        .map_or(TimeUnit::Days, |u| u.refresh_token);
    UserPoolClientType {
        user_pool_id: c.pool_id.clone(),
        client_name: c.name.clone(),
        client_id: c.id.clone(),
        client_secret: c.secret.clone(),
        last_modified_date: epoch(c.updated_at),
        creation_date: epoch(c.created_at),
        refresh_token_validity: cfg.refresh_token_validity.unwrap_or_else(|| {
            let secs = cfg.refresh_token_lifetime().as_secs() / refresh_unit.seconds().max(1);
            u32::try_from(secs).unwrap_or(u32::MAX)
        }),
        access_token_validity: cfg.access_token_validity,
        id_token_validity: cfg.id_token_validity,
        token_validity_units: cfg.token_validity_units.map(|u| TokenValidityUnitsType {
            access_token: Some(u.access_token.as_str().to_owned()),
            id_token: Some(u.id_token.as_str().to_owned()),
            refresh_token: Some(u.refresh_token.as_str().to_owned()),
        }),
        read_attributes: cfg.read_attributes.clone(),
        write_attributes: cfg.write_attributes.clone(),
        explicit_auth_flows: cfg.explicit_auth_flows.iter().map(|f| f.as_str()).collect(),
        supported_identity_providers: cfg.supported_identity_providers.clone(),
        callback_urls: cfg.callback_urls.clone(),
        logout_urls: cfg.logout_urls.clone(),
        default_redirect_uri: cfg.default_redirect_uri.clone(),
        allowed_oauth_flows: cfg.allowed_oauth_flows.iter().map(|f| f.as_str()).collect(),
        allowed_oauth_scopes: cfg.allowed_oauth_scopes.clone(),
        allowed_oauth_flows_user_pool_client: cfg.allowed_oauth_flows_user_pool_client,
        prevent_user_existence_errors: if cfg.prevent_user_existence_errors {
            "ENABLED"
        } else {
            "LEGACY"
        },
        enable_token_revocation: cfg.enable_token_revocation,
        enable_propagate_additional_user_context_data: cfg
            .enable_propagate_additional_user_context_data,
        auth_session_validity: cfg.auth_session_validity,
        refresh_token_rotation: cfg
            .refresh_token_rotation
            .map(|r| RefreshTokenRotationType {
                feature: if r.enabled { "ENABLED" } else { "DISABLED" }.to_owned(),
                retry_grace_period_seconds: Some(r.retry_grace_period_seconds),
            }),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ClientResponse {
    user_pool_client: UserPoolClientType,
}

// === CreateUserPoolClient ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateUserPoolClientRequest {
    user_pool_id: String,
    client_name: String,
    #[serde(default)]
    generate_secret: Option<bool>,
    #[serde(flatten)]
    settings: ClientSettings,
}

pub(super) async fn create_user_pool_client(
    s: Arc<HttpState>,
    r: CreateUserPoolClientRequest,
) -> Result<ClientResponse, UserPoolError> {
    let new = NewClient {
        name: r.client_name,
        generate_secret: r.generate_secret.unwrap_or(false),
        config: r.settings.into_config()?,
    };
    let client = s
        .user_pools
        .create_user_pool_client(&r.user_pool_id, new)
        .await?;
    Ok(ClientResponse {
        user_pool_client: client_type(&client),
    })
}

// === DescribeUserPoolClient / DeleteUserPoolClient ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ClientIdRequest {
    user_pool_id: String,
    client_id: String,
}

pub(super) async fn describe_user_pool_client(
    s: Arc<HttpState>,
    r: ClientIdRequest,
) -> Result<ClientResponse, UserPoolError> {
    let client = s
        .user_pools
        .describe_user_pool_client(&r.user_pool_id, &r.client_id)
        .await?;
    Ok(ClientResponse {
        user_pool_client: client_type(&client),
    })
}

pub(super) async fn delete_user_pool_client(
    s: Arc<HttpState>,
    r: ClientIdRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .delete_user_pool_client(&r.user_pool_id, &r.client_id)
        .await?;
    Ok(Empty {})
}

// === ListUserPoolClients ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListUserPoolClientsRequest {
    user_pool_id: String,
    #[serde(default)]
    max_results: Option<u32>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ClientDescription {
    client_id: String,
    user_pool_id: String,
    client_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListUserPoolClientsResponse {
    user_pool_clients: Vec<ClientDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(super) async fn list_user_pool_clients(
    s: Arc<HttpState>,
    r: ListUserPoolClientsRequest,
) -> Result<ListUserPoolClientsResponse, UserPoolError> {
    let page = s
        .user_pools
        .list_user_pool_clients(&r.user_pool_id, r.max_results, r.next_token.as_deref())
        .await?;
    Ok(ListUserPoolClientsResponse {
        user_pool_clients: page
            .items
            .into_iter()
            .map(|c| ClientDescription {
                client_id: c.id,
                user_pool_id: c.pool_id,
                client_name: c.name,
            })
            .collect(),
        next_token: page.next,
    })
}

// === UpdateUserPoolClient ===

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateUserPoolClientRequest {
    user_pool_id: String,
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(flatten)]
    settings: ClientSettings,
}

pub(super) async fn update_user_pool_client(
    s: Arc<HttpState>,
    r: UpdateUserPoolClientRequest,
) -> Result<ClientResponse, UserPoolError> {
    let config = r.settings.into_config()?;
    let client = s
        .user_pools
        .update_user_pool_client(
            &r.user_pool_id,
            &r.client_id,
            r.client_name.as_deref(),
            config,
        )
        .await?;
    Ok(ClientResponse {
        user_pool_client: client_type(&client),
    })
}
