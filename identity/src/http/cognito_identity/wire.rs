//! Request and response structs of the Cognito Identity protocol, and their conversion to
//! and from the service layer's types.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::identity_pools::{
    AmbiguousRoleResolution, CognitoProvider, IdentityDescription, IdentityPool,
    IdentityPoolConfig, IdentityPoolError, MappingRule, MatchType, RoleMapping, RoleMappingType,
};

/// A timestamp as the JSON protocol sends it: epoch seconds (with milliseconds).
pub(super) fn epoch(t: SystemTime) -> f64 {
    let millis = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // Millisecond epochs fit in f64's 53-bit mantissa for the next 280 000 years.
    #[expect(clippy::cast_precision_loss, reason = "see the comment above")]
    let millis = millis as f64;
    millis / 1000.0
}

pub(super) fn missing(member: &str) -> IdentityPoolError {
    IdentityPoolError::InvalidParameter(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

#[derive(Debug, Default, Serialize)]
pub(super) struct Empty {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProviderWire {
    provider_name: String,
    client_id: Option<String>,
    #[serde(default)]
    server_side_token_check: bool,
}

/// The `IdentityPool` shape: CreateIdentityPool's request (without the id), UpdateIdentityPool's,
/// and every answer describing a pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdentityPoolWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) identity_pool_id: Option<String>,
    identity_pool_name: Option<String>,
    allow_unauthenticated_identities: Option<bool>,
    #[serde(default)]
    allow_classic_flow: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    supported_login_providers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    developer_provider_name: Option<String>,
    #[serde(
        rename = "OpenIdConnectProviderARNs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    open_id_connect_provider_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cognito_identity_providers: Vec<ProviderWire>,
    #[serde(
        rename = "SamlProviderARNs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    saml_provider_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    identity_pool_tags: BTreeMap<String, String>,
}

impl IdentityPoolWire {
    pub(super) fn into_domain(self) -> Result<(String, IdentityPoolConfig), IdentityPoolError> {
        let name = self
            .identity_pool_name
            .ok_or_else(|| missing("identityPoolName"))?;
        let allow_unauthenticated = self
            .allow_unauthenticated_identities
            .ok_or_else(|| missing("allowUnauthenticatedIdentities"))?;
        if !self.saml_provider_arns.is_empty() {
            return Err(IdentityPoolError::InvalidParameter(
                "SAML providers are not supported".into(),
            ));
        }
        let cognito_providers = self
            .cognito_identity_providers
            .into_iter()
            .map(|p| {
                Ok(CognitoProvider {
                    provider_name: p.provider_name,
                    client_id: p.client_id.ok_or_else(|| missing("ClientId"))?,
                    server_side_token_check: p.server_side_token_check,
                })
            })
            .collect::<Result<Vec<_>, IdentityPoolError>>()?;
        Ok((
            name,
            IdentityPoolConfig {
                allow_unauthenticated,
                allow_classic_flow: self.allow_classic_flow,
                cognito_providers,
                open_id_connect_provider_arns: self.open_id_connect_provider_arns,
                supported_login_providers: self.supported_login_providers,
                developer_provider_name: self.developer_provider_name,
                roles: BTreeMap::new(),
                role_mappings: BTreeMap::new(),
                tags: self.identity_pool_tags,
            },
        ))
    }

    pub(super) fn from_domain(pool: IdentityPool) -> Self {
        let c = pool.config;
        Self {
            identity_pool_id: Some(pool.id),
            identity_pool_name: Some(pool.name),
            allow_unauthenticated_identities: Some(c.allow_unauthenticated),
            allow_classic_flow: c.allow_classic_flow,
            supported_login_providers: c.supported_login_providers,
            developer_provider_name: c.developer_provider_name,
            open_id_connect_provider_arns: c.open_id_connect_provider_arns,
            cognito_identity_providers: c
                .cognito_providers
                .into_iter()
                .map(|p| ProviderWire {
                    provider_name: p.provider_name,
                    client_id: Some(p.client_id),
                    server_side_token_check: p.server_side_token_check,
                })
                .collect(),
            saml_provider_arns: Vec::new(),
            identity_pool_tags: c.tags,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PoolId {
    pub(super) identity_pool_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListPools {
    pub(super) max_results: u32,
    pub(super) next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PoolShort {
    pub(super) identity_pool_id: String,
    pub(super) identity_pool_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListPoolsResponse {
    pub(super) identity_pools: Vec<PoolShort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RuleWire {
    claim: String,
    match_type: String,
    value: String,
    #[serde(rename = "RoleARN")]
    role_arn: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RulesConfiguration {
    rules: Vec<RuleWire>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RoleMappingWire {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ambiguous_role_resolution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules_configuration: Option<RulesConfiguration>,
}

fn enum_error(member: &str, value: &str) -> IdentityPoolError {
    IdentityPoolError::InvalidParameter(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set"
    ))
}

impl RoleMappingWire {
    pub(super) fn into_domain(self) -> Result<RoleMapping, IdentityPoolError> {
        let kind = match self.kind.as_str() {
            "Token" => RoleMappingType::Token,
            "Rules" => RoleMappingType::Rules,
            other => return Err(enum_error("type", other)),
        };
        let ambiguous = match self.ambiguous_role_resolution.as_deref() {
            None => None,
            Some("AuthenticatedRole") => Some(AmbiguousRoleResolution::AuthenticatedRole),
            Some("Deny") => Some(AmbiguousRoleResolution::Deny),
            Some(other) => return Err(enum_error("ambiguousRoleResolution", other)),
        };
        let rules = self
            .rules_configuration
            .unwrap_or_default()
            .rules
            .into_iter()
            .map(|r| {
                let match_type = match r.match_type.as_str() {
                    "Equals" => MatchType::Equals,
                    "Contains" => MatchType::Contains,
                    "StartsWith" => MatchType::StartsWith,
                    "NotEqual" => MatchType::NotEqual,
                    other => return Err(enum_error("matchType", other)),
                };
                Ok(MappingRule {
                    claim: r.claim,
                    match_type,
                    value: r.value,
                    role_arn: r.role_arn,
                })
            })
            .collect::<Result<Vec<_>, IdentityPoolError>>()?;
        Ok(RoleMapping {
            kind,
            ambiguous,
            rules,
        })
    }

    pub(super) fn from_domain(mapping: RoleMapping) -> Self {
        let kind = match mapping.kind {
            RoleMappingType::Token => "Token",
            RoleMappingType::Rules => "Rules",
        };
        let ambiguous = mapping.ambiguous.map(|a| {
            match a {
                AmbiguousRoleResolution::AuthenticatedRole => "AuthenticatedRole",
                AmbiguousRoleResolution::Deny => "Deny",
            }
            .to_owned()
        });
        let rules = (!mapping.rules.is_empty()).then(|| RulesConfiguration {
            rules: mapping
                .rules
                .into_iter()
                .map(|r| RuleWire {
                    claim: r.claim,
                    match_type: match r.match_type {
                        MatchType::Equals => "Equals",
                        MatchType::Contains => "Contains",
                        MatchType::StartsWith => "StartsWith",
                        MatchType::NotEqual => "NotEqual",
                    }
                    .to_owned(),
                    value: r.value,
                    role_arn: r.role_arn,
                })
                .collect(),
        });
        Self {
            kind: kind.to_owned(),
            ambiguous_role_resolution: ambiguous,
            rules_configuration: rules,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SetRoles {
    pub(super) identity_pool_id: String,
    pub(super) roles: Option<BTreeMap<String, String>>,
    pub(super) role_mappings: Option<BTreeMap<String, RoleMappingWire>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetRolesResponse {
    pub(super) identity_pool_id: String,
    pub(super) roles: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) role_mappings: BTreeMap<String, RoleMappingWire>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListIdentities {
    pub(super) identity_pool_id: String,
    pub(super) max_results: u32,
    pub(super) next_token: Option<String>,
    #[serde(default)]
    pub(super) hide_disabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdentityWire {
    identity_id: String,
    logins: Vec<String>,
    creation_date: f64,
    last_modified_date: f64,
}

impl IdentityWire {
    pub(super) fn from_domain(d: IdentityDescription) -> Self {
        Self {
            identity_id: d.identity_id,
            logins: d.logins,
            creation_date: epoch(d.created_at),
            last_modified_date: epoch(d.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListIdentitiesResponse {
    pub(super) identity_pool_id: String,
    pub(super) identities: Vec<IdentityWire>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdentityIdReq {
    pub(super) identity_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteIdentities {
    pub(super) identity_ids_to_delete: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Unprocessed {
    pub(super) identity_id: String,
    pub(super) error_code: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteIdentitiesResponse {
    pub(super) unprocessed_identity_ids: Vec<Unprocessed>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagResource {
    pub(super) resource_arn: String,
    pub(super) tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UntagResource {
    pub(super) resource_arn: String,
    pub(super) tag_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceArn {
    pub(super) resource_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagsResponse {
    pub(super) tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetId {
    pub(super) identity_pool_id: String,
    pub(super) logins: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdentityIdResponse {
    pub(super) identity_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetCredentials {
    pub(super) identity_id: String,
    pub(super) logins: Option<BTreeMap<String, String>>,
    pub(super) custom_role_arn: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CredentialsWire {
    pub(super) access_key_id: String,
    pub(super) secret_key: String,
    pub(super) session_token: String,
    pub(super) expiration: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CredentialsResponse {
    pub(super) identity_id: String,
    pub(super) credentials: CredentialsWire,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetOpenIdToken {
    pub(super) identity_id: String,
    pub(super) logins: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OpenIdTokenResponse {
    pub(super) identity_id: String,
    pub(super) token: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UnlinkIdentity {
    pub(super) identity_id: String,
    pub(super) logins: BTreeMap<String, String>,
    pub(super) logins_to_remove: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeveloperOpenIdToken {
    pub(super) identity_pool_id: String,
    pub(super) identity_id: Option<String>,
    pub(super) logins: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) principal_tags: BTreeMap<String, String>,
    pub(super) token_duration: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LookupDeveloperIdentity {
    pub(super) identity_pool_id: String,
    pub(super) identity_id: Option<String>,
    pub(super) developer_user_identifier: Option<String>,
    pub(super) max_results: Option<u32>,
    pub(super) next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LookupDeveloperIdentityResponse {
    pub(super) identity_id: String,
    pub(super) developer_user_identifier_list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MergeDeveloperIdentities {
    pub(super) identity_pool_id: String,
    pub(super) developer_provider_name: String,
    pub(super) source_user_identifier: String,
    pub(super) destination_user_identifier: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UnlinkDeveloperIdentity {
    pub(super) identity_pool_id: String,
    pub(super) identity_id: String,
    pub(super) developer_provider_name: String,
    pub(super) developer_user_identifier: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SetPrincipalTagAttributeMap {
    pub(super) identity_pool_id: String,
    pub(super) identity_provider_name: String,
    #[serde(default)]
    pub(super) use_defaults: bool,
    #[serde(default)]
    pub(super) principal_tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetPrincipalTagAttributeMap {
    pub(super) identity_pool_id: String,
    pub(super) identity_provider_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PrincipalTagAttributeMapResponse {
    pub(super) identity_pool_id: String,
    pub(super) identity_provider_name: String,
    pub(super) use_defaults: bool,
    pub(super) principal_tags: BTreeMap<String, String>,
}

impl PrincipalTagAttributeMapResponse {
    pub(super) fn from_domain(map: crate::identity_pools::PrincipalTagMap) -> Self {
        Self {
            identity_pool_id: map.pool_id,
            identity_provider_name: map.provider,
            use_defaults: map.use_defaults,
            principal_tags: map.tags,
        }
    }
}
