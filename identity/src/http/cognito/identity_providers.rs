//! Wire types and handlers of a pool's federated identity providers (CreateIdentityProvider,
//! DescribeIdentityProvider, UpdateIdentityProvider, ListIdentityProviders,
//! DeleteIdentityProvider, GetIdentityProviderByIdentifier) and of the links of upstream
//! identities to users (AdminLinkProviderForUser, AdminDisableProviderForUser).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::{Empty, epoch};
use crate::http::HttpState;
use crate::user_pools::{IdentityProvider, ProviderInput, UserPoolError};

/// `IdentityProviderType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdentityProviderType {
    user_pool_id: String,
    provider_name: String,
    provider_type: &'static str,
    provider_details: BTreeMap<String, String>,
    attribute_mapping: BTreeMap<String, String>,
    idp_identifiers: Vec<String>,
    last_modified_date: f64,
    creation_date: f64,
}

fn provider_type(p: IdentityProvider) -> IdentityProviderType {
    IdentityProviderType {
        provider_details: p.details_shown(),
        user_pool_id: p.pool_id,
        provider_name: p.name,
        provider_type: p.provider_type.as_str(),
        attribute_mapping: p.attribute_mapping,
        idp_identifiers: p.idp_identifiers,
        last_modified_date: epoch(p.updated_at),
        creation_date: epoch(p.created_at),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdentityProviderResponse {
    identity_provider: IdentityProviderType,
}

fn answer(p: IdentityProvider) -> IdentityProviderResponse {
    IdentityProviderResponse {
        identity_provider: provider_type(p),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateIdentityProviderRequest {
    user_pool_id: String,
    provider_name: String,
    provider_type: String,
    provider_details: BTreeMap<String, String>,
    #[serde(default)]
    attribute_mapping: Option<BTreeMap<String, String>>,
    #[serde(default)]
    idp_identifiers: Option<Vec<String>>,
}

pub(super) async fn create_identity_provider(
    s: Arc<HttpState>,
    r: CreateIdentityProviderRequest,
) -> Result<IdentityProviderResponse, UserPoolError> {
    let provider = s
        .user_pools
        .create_identity_provider(
            &r.user_pool_id,
            &r.provider_name,
            &r.provider_type,
            ProviderInput {
                details: Some(r.provider_details),
                attribute_mapping: r.attribute_mapping,
                idp_identifiers: r.idp_identifiers,
            },
        )
        .await?;
    Ok(answer(provider))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateIdentityProviderRequest {
    user_pool_id: String,
    provider_name: String,
    #[serde(default)]
    provider_details: Option<BTreeMap<String, String>>,
    #[serde(default)]
    attribute_mapping: Option<BTreeMap<String, String>>,
    #[serde(default)]
    idp_identifiers: Option<Vec<String>>,
}

pub(super) async fn update_identity_provider(
    s: Arc<HttpState>,
    r: UpdateIdentityProviderRequest,
) -> Result<IdentityProviderResponse, UserPoolError> {
    let provider = s
        .user_pools
        .update_identity_provider(
            &r.user_pool_id,
            &r.provider_name,
            ProviderInput {
                details: r.provider_details,
                attribute_mapping: r.attribute_mapping,
                idp_identifiers: r.idp_identifiers,
            },
        )
        .await?;
    Ok(answer(provider))
}

/// DescribeIdentityProvider and DeleteIdentityProvider.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProviderNameRequest {
    user_pool_id: String,
    provider_name: String,
}

pub(super) async fn describe_identity_provider(
    s: Arc<HttpState>,
    r: ProviderNameRequest,
) -> Result<IdentityProviderResponse, UserPoolError> {
    let provider = s
        .user_pools
        .describe_identity_provider(&r.user_pool_id, &r.provider_name)
        .await?;
    Ok(answer(provider))
}

pub(super) async fn delete_identity_provider(
    s: Arc<HttpState>,
    r: ProviderNameRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .delete_identity_provider(&r.user_pool_id, &r.provider_name)
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ByIdentifierRequest {
    user_pool_id: String,
    idp_identifier: String,
}

pub(super) async fn get_identity_provider_by_identifier(
    s: Arc<HttpState>,
    r: ByIdentifierRequest,
) -> Result<IdentityProviderResponse, UserPoolError> {
    let provider = s
        .user_pools
        .identity_provider_by_identifier(&r.user_pool_id, &r.idp_identifier)
        .await?;
    Ok(answer(provider))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListIdentityProvidersRequest {
    user_pool_id: String,
    #[serde(default)]
    max_results: Option<u32>,
    #[serde(default)]
    next_token: Option<String>,
}

/// `ProviderDescription`: no details (and so no secret) in a listing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProviderDescription {
    provider_name: String,
    provider_type: &'static str,
    last_modified_date: f64,
    creation_date: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListIdentityProvidersResponse {
    providers: Vec<ProviderDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(super) async fn list_identity_providers(
    s: Arc<HttpState>,
    r: ListIdentityProvidersRequest,
) -> Result<ListIdentityProvidersResponse, UserPoolError> {
    let page = s
        .user_pools
        .list_identity_providers(&r.user_pool_id, r.max_results, r.next_token.as_deref())
        .await?;
    Ok(ListIdentityProvidersResponse {
        providers: page
            .items
            .into_iter()
            .map(|p| ProviderDescription {
                provider_type: p.provider_type.as_str(),
                last_modified_date: epoch(p.updated_at),
                creation_date: epoch(p.created_at),
                provider_name: p.name,
            })
            .collect(),
        next_token: page.next,
    })
}

/// `ProviderUserIdentifierType`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProviderUser {
    provider_name: String,
    #[serde(default)]
    provider_attribute_name: Option<String>,
    provider_attribute_value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LinkRequest {
    user_pool_id: String,
    destination_user: ProviderUser,
    source_user: ProviderUser,
}

pub(super) async fn admin_link_provider_for_user(
    s: Arc<HttpState>,
    r: LinkRequest,
) -> Result<Empty, UserPoolError> {
    if !r
        .destination_user
        .provider_name
        .eq_ignore_ascii_case("Cognito")
    {
        return Err(UserPoolError::InvalidParameter(
            "DestinationUser must be a user of the pool (ProviderName Cognito)".into(),
        ));
    }
    s.user_pools
        .admin_link_provider_for_user(
            &r.user_pool_id,
            &r.destination_user.provider_attribute_value,
            &r.source_user.provider_name,
            r.source_user
                .provider_attribute_name
                .as_deref()
                .unwrap_or_default(),
            &r.source_user.provider_attribute_value,
        )
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DisableRequest {
    user_pool_id: String,
    user: ProviderUser,
}

pub(super) async fn admin_disable_provider_for_user(
    s: Arc<HttpState>,
    r: DisableRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .admin_disable_provider_for_user(
            &r.user_pool_id,
            &r.user.provider_name,
            r.user
                .provider_attribute_name
                .as_deref()
                .unwrap_or("Cognito_Subject"),
            &r.user.provider_attribute_value,
        )
        .await?;
    Ok(Empty {})
}
