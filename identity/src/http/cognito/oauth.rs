//! Wire types and handlers of the OAuth settings of a pool: resource servers
//! (CreateResourceServer, DescribeResourceServer, UpdateResourceServer, ListResourceServers,
//! DeleteResourceServer) and its domain (CreateUserPoolDomain, DescribeUserPoolDomain,
//! DeleteUserPoolDomain).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::Empty;
use crate::http::HttpState;
use crate::user_pools::{ResourceServer, ResourceServerScope, UserPoolError};

/// `ResourceServerScopeType`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ScopeType {
    scope_name: String,
    scope_description: String,
}

/// `ResourceServerType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceServerType {
    user_pool_id: String,
    identifier: String,
    name: String,
    scopes: Vec<ScopeType>,
}

fn server_type(s: ResourceServer) -> ResourceServerType {
    ResourceServerType {
        user_pool_id: s.pool_id,
        identifier: s.identifier,
        name: s.name,
        scopes: s
            .scopes
            .into_iter()
            .map(|s| ScopeType {
                scope_name: s.name,
                scope_description: s.description,
            })
            .collect(),
    }
}

fn scopes(list: Option<Vec<ScopeType>>) -> Vec<ResourceServerScope> {
    list.unwrap_or_default()
        .into_iter()
        .map(|s| ResourceServerScope {
            name: s.scope_name,
            description: s.scope_description,
        })
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceServerResponse {
    resource_server: ResourceServerType,
}

/// CreateResourceServer and UpdateResourceServer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceServerRequest {
    user_pool_id: String,
    identifier: String,
    name: String,
    #[serde(default)]
    scopes: Option<Vec<ScopeType>>,
}

pub(super) async fn create_resource_server(
    s: Arc<HttpState>,
    r: ResourceServerRequest,
) -> Result<ResourceServerResponse, UserPoolError> {
    let server = s
        .user_pools
        .create_resource_server(&r.user_pool_id, &r.identifier, &r.name, scopes(r.scopes))
        .await?;
    Ok(ResourceServerResponse {
        resource_server: server_type(server),
    })
}

pub(super) async fn update_resource_server(
    s: Arc<HttpState>,
    r: ResourceServerRequest,
) -> Result<ResourceServerResponse, UserPoolError> {
    let server = s
        .user_pools
        .update_resource_server(&r.user_pool_id, &r.identifier, &r.name, scopes(r.scopes))
        .await?;
    Ok(ResourceServerResponse {
        resource_server: server_type(server),
    })
}

/// DescribeResourceServer and DeleteResourceServer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceServerIdRequest {
    user_pool_id: String,
    identifier: String,
}

pub(super) async fn describe_resource_server(
    s: Arc<HttpState>,
    r: ResourceServerIdRequest,
) -> Result<ResourceServerResponse, UserPoolError> {
    let server = s
        .user_pools
        .describe_resource_server(&r.user_pool_id, &r.identifier)
        .await?;
    Ok(ResourceServerResponse {
        resource_server: server_type(server),
    })
}

pub(super) async fn delete_resource_server(
    s: Arc<HttpState>,
    r: ResourceServerIdRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .delete_resource_server(&r.user_pool_id, &r.identifier)
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListResourceServersRequest {
    user_pool_id: String,
    max_results: u32,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListResourceServersResponse {
    resource_servers: Vec<ResourceServerType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(super) async fn list_resource_servers(
    s: Arc<HttpState>,
    r: ListResourceServersRequest,
) -> Result<ListResourceServersResponse, UserPoolError> {
    let page = s
        .user_pools
        .list_resource_servers(
            &r.user_pool_id,
            Some(r.max_results),
            r.next_token.as_deref(),
        )
        .await?;
    Ok(ListResourceServersResponse {
        resource_servers: page.items.into_iter().map(server_type).collect(),
        next_token: page.next,
    })
}

// === domains ===

/// `CustomDomainConfigType`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CustomDomainConfigType {
    certificate_arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateUserPoolDomainRequest {
    domain: String,
    user_pool_id: String,
    #[serde(default, deserialize_with = "super::wire::object")]
    custom_domain_config: Option<CustomDomainConfigType>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateUserPoolDomainResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud_front_domain: Option<String>,
}

pub(super) async fn create_user_pool_domain(
    s: Arc<HttpState>,
    r: CreateUserPoolDomainRequest,
) -> Result<CreateUserPoolDomainResponse, UserPoolError> {
    let arn = r.custom_domain_config.map(|c| c.certificate_arn);
    let domain = s
        .user_pools
        .create_user_pool_domain(&r.user_pool_id, &r.domain, arn.as_deref())
        .await?;
    Ok(CreateUserPoolDomainResponse {
        cloud_front_domain: domain.certificate_arn.is_some().then_some(domain.host),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeUserPoolDomainRequest {
    domain: String,
}

/// `DomainDescriptionType`; every member absent for a domain nobody has.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DomainDescriptionType {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_pool_id: Option<String>,
    #[serde(rename = "AWSAccountId", skip_serializing_if = "Option::is_none")]
    aws_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud_front_distribution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_domain_config: Option<CustomDomainConfigType>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeUserPoolDomainResponse {
    domain_description: DomainDescriptionType,
}

pub(super) async fn describe_user_pool_domain(
    s: Arc<HttpState>,
    r: DescribeUserPoolDomainRequest,
) -> Result<DescribeUserPoolDomainResponse, UserPoolError> {
    let description = match s.user_pools.describe_user_pool_domain(&r.domain).await? {
        Some(d) => DomainDescriptionType {
            user_pool_id: Some(d.pool_id),
            aws_account_id: Some(s.user_pools.config().account_id.clone()),
            domain: Some(d.domain),
            cloud_front_distribution: Some(d.host),
            version: Some("1".into()),
            status: Some("ACTIVE"),
            custom_domain_config: d
                .certificate_arn
                .map(|certificate_arn| CustomDomainConfigType { certificate_arn }),
        },
        None => DomainDescriptionType::default(),
    };
    Ok(DescribeUserPoolDomainResponse {
        domain_description: description,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteUserPoolDomainRequest {
    domain: String,
    user_pool_id: String,
}

pub(super) async fn delete_user_pool_domain(
    s: Arc<HttpState>,
    r: DeleteUserPoolDomainRequest,
) -> Result<Empty, UserPoolError> {
    s.user_pools
        .delete_user_pool_domain(&r.user_pool_id, &r.domain)
        .await?;
    Ok(Empty {})
}
