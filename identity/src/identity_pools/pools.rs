//! The operator operations: CreateIdentityPool, DescribeIdentityPool, ListIdentityPools,
//! UpdateIdentityPool, DeleteIdentityPool, SetIdentityPoolRoles, GetIdentityPoolRoles,
//! ListIdentities, DescribeIdentity, DeleteIdentities, TagResource, UntagResource and
//! ListTagsForResource; and the pool's configuration document.

use std::collections::BTreeMap;
use std::time::SystemTime;

use gatehouse_storage::{IdentityPoolRecord, IdentityRecord, StorageError};
use serde::{Deserialize, Serialize};

use super::{IdentityPoolError, IdentityPools};
use crate::time::{from_unix_millis, unix_millis};

/// Most rules in one role mapping (Cognito's limit).
const MAX_RULES: usize = 25;
/// Most tags on a pool.
const MAX_TAGS: usize = 50;
/// Most identities DeleteIdentities takes.
const MAX_DELETE: usize = 60;
/// Most identity pools or identities one listing returns.
pub(crate) const MAX_LIST: u32 = 60;

/// A user pool app client whose ID tokens the pool accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CognitoProvider {
    /// `cognito-idp.{region}.amazonaws.com/{userPoolId}`.
    pub provider_name: String,
    pub client_id: String,
    /// Also refuse tokens of users signed out or disabled since (reads storage).
    pub server_side_token_check: bool,
}

impl CognitoProvider {
    /// The user pool this provider names.
    pub fn user_pool_id(&self) -> &str {
        self.provider_name.rsplit('/').next().unwrap_or("")
    }
}

/// How a role mapping picks a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleMappingType {
    /// `cognito:preferred_role` / `cognito:roles` of the ID token (from user-pool groups).
    Token,
    /// The first rule whose claim matches.
    Rules,
}

/// What to do when a mapping finds no role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AmbiguousRoleResolution {
    /// The pool's authenticated role.
    AuthenticatedRole,
    /// Refuse credentials.
    Deny,
}

/// How a rule compares a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    NotEqual,
}

/// One rule of a `Rules` mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingRule {
    pub claim: String,
    pub match_type: MatchType,
    pub value: String,
    pub role_arn: String,
}

/// A role mapping for one login provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMapping {
    pub kind: RoleMappingType,
    pub ambiguous: Option<AmbiguousRoleResolution>,
    #[serde(default)]
    pub rules: Vec<MappingRule>,
}

/// A pool's configuration, stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityPoolConfig {
    pub allow_unauthenticated: bool,
    #[serde(default)]
    pub allow_classic_flow: bool,
    #[serde(default)]
    pub cognito_providers: Vec<CognitoProvider>,
    #[serde(default)]
    pub open_id_connect_provider_arns: Vec<String>,
    #[serde(default)]
    pub supported_login_providers: BTreeMap<String, String>,
    #[serde(default)]
    pub developer_provider_name: Option<String>,
    /// `authenticated` / `unauthenticated` → role ARN.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// Provider name → mapping.
    #[serde(default)]
    pub role_mappings: BTreeMap<String, RoleMapping>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// An identity pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPool {
    pub id: String,
    pub name: String,
    pub config: IdentityPoolConfig,
}

/// An identity as DescribeIdentity and ListIdentities show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDescription {
    pub identity_id: String,
    /// The providers of its logins.
    pub logins: Vec<String>,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

fn pool_not_found(id: &str) -> IdentityPoolError {
    IdentityPoolError::ResourceNotFound(format!("IdentityPool '{id}' not found."))
}

fn invalid(message: impl Into<String>) -> IdentityPoolError {
    IdentityPoolError::InvalidParameter(message.into())
}

fn is_role_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:iam::") && arn.contains(":role/") && arn.len() <= 2048
}

/// Checks a configuration against Cognito's rules.
fn validate(name: &str, config: &IdentityPoolConfig) -> Result<(), IdentityPoolError> {
    let name_ok = !name.is_empty()
        && name.chars().count() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '_');
    if !name_ok {
        return Err(invalid(
            "1 validation error detected: Value at 'identityPoolName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
        ));
    }
    if config.cognito_providers.len() > 50 {
        return Err(IdentityPoolError::LimitExceeded(
            "an identity pool accepts at most 50 user pool clients".into(),
        ));
    }
    for provider in &config.cognito_providers {
        let ok = provider
            .provider_name
            .strip_prefix("cognito-idp.")
            .and_then(|rest| rest.split_once(".amazonaws.com/"))
            .is_some_and(|(region, pool)| {
                !region.is_empty() && pool.starts_with(&format!("{region}_"))
            });
        if !ok {
            return Err(invalid(format!(
                "Invalid provider name `{}`: expected cognito-idp.{{region}}.amazonaws.com/{{userPoolId}}",
                provider.provider_name
            )));
        }
        if provider.client_id.is_empty() || provider.client_id.len() > 128 {
            return Err(invalid("ClientId must have 1 to 128 characters"));
        }
    }
    if let Some(name) = &config.developer_provider_name {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(invalid("Invalid DeveloperProviderName"));
        }
    }
    for (key, arn) in &config.roles {
        if key != "authenticated" && key != "unauthenticated" {
            return Err(invalid(format!(
                "Invalid role key `{key}`: expected authenticated or unauthenticated"
            )));
        }
        if !is_role_arn(arn) {
            return Err(invalid(format!("Invalid role ARN `{arn}`")));
        }
    }
    for (provider, mapping) in &config.role_mappings {
        let known = config
            .cognito_providers
            .iter()
            .any(|p| &p.provider_name == provider)
            || config.supported_login_providers.contains_key(provider)
            || config
                .open_id_connect_provider_arns
                .iter()
                .any(|arn| arn.ends_with(&format!("oidc-provider/{provider}")));
        if !known {
            return Err(invalid(format!(
                "Role mapping for provider `{provider}` names no provider of this identity pool"
            )));
        }
        if mapping.ambiguous.is_none() {
            return Err(invalid(
                "AmbiguousRoleResolution must be specified for a role mapping",
            ));
        }
        match mapping.kind {
            RoleMappingType::Token => {
                if !mapping.rules.is_empty() {
                    return Err(invalid("a Token role mapping takes no rules"));
                }
            }
            RoleMappingType::Rules => {
                if mapping.rules.is_empty() || mapping.rules.len() > MAX_RULES {
                    return Err(invalid(format!(
                        "a Rules role mapping has 1 to {MAX_RULES} rules"
                    )));
                }
                for rule in &mapping.rules {
                    if rule.claim.is_empty()
                        || rule.claim.len() > 64
                        || rule.value.is_empty()
                        || rule.value.len() > 128
                        || !is_role_arn(&rule.role_arn)
                    {
                        return Err(invalid(
                            "a rule has a Claim (1 to 64 characters), a Value (1 to 128) and a role ARN",
                        ));
                    }
                }
            }
        }
    }
    if config.tags.len() > MAX_TAGS {
        return Err(IdentityPoolError::LimitExceeded(format!(
            "an identity pool has at most {MAX_TAGS} tags"
        )));
    }
    Ok(())
}

fn from_record(record: IdentityPoolRecord) -> Result<IdentityPool, IdentityPoolError> {
    let config = serde_json::from_str(&record.config)
        .map_err(|e| IdentityPoolError::internal("identity pool config", e))?;
    Ok(IdentityPool {
        id: record.id,
        name: record.name,
        config,
    })
}

fn describe(record: IdentityRecord) -> IdentityDescription {
    IdentityDescription {
        identity_id: record.id,
        logins: record
            .logins
            .into_iter()
            .map(|(provider, _)| provider)
            .collect(),
        created_at: from_unix_millis(record.created_at),
        updated_at: from_unix_millis(record.updated_at),
    }
}

impl IdentityPools {
    /// The pool, or `ResourceNotFound`.
    pub async fn identity_pool(&self, id: &str) -> Result<IdentityPool, IdentityPoolError> {
        match self.store().identity_pools().get(id).await? {
            Some(record) => from_record(record),
            None => Err(pool_not_found(id)),
        }
    }

    /// CreateIdentityPool in `region` (the region the request was signed for).
    pub async fn create_identity_pool(
        &self,
        region: Option<&str>,
        name: &str,
        mut config: IdentityPoolConfig,
    ) -> Result<IdentityPool, IdentityPoolError> {
        // Roles are set by SetIdentityPoolRoles, never at creation.
        config.roles.clear();
        config.role_mappings.clear();
        validate(name, &config)?;
        let region = region.unwrap_or(&self.inner.config.region);
        let id = format!("{region}:{}", crate::ids::uuid_v4());
        let now = unix_millis(self.now());
        let text = serde_json::to_string(&config)
            .map_err(|e| IdentityPoolError::internal("identity pool config", e))?;
        self.store()
            .identity_pools()
            .create(&IdentityPoolRecord {
                id: id.clone(),
                name: name.to_owned(),
                config: text,
                created_at: now,
                updated_at: now,
            })
            .await?;
        Ok(IdentityPool {
            id,
            name: name.to_owned(),
            config,
        })
    }

    /// DescribeIdentityPool.
    pub async fn describe_identity_pool(
        &self,
        id: &str,
    ) -> Result<IdentityPool, IdentityPoolError> {
        self.identity_pool(id).await
    }

    /// ListIdentityPools: `(id, name)` pairs and the next page's token.
    pub async fn list_identity_pools(
        &self,
        max_results: u32,
        next_token: Option<&str>,
    ) -> Result<(Vec<(String, String)>, Option<String>), IdentityPoolError> {
        if !(1..=MAX_LIST).contains(&max_results) {
            return Err(invalid(format!(
                "MaxResults must be between 1 and {MAX_LIST}"
            )));
        }
        let page = self
            .store()
            .identity_pools()
            .list(max_results, next_token)
            .await?;
        Ok((
            page.items.into_iter().map(|p| (p.id, p.name)).collect(),
            page.next,
        ))
    }

    /// UpdateIdentityPool: replaces the name and configuration (roles, mappings and tags
    /// stay: they have their own operations).
    pub async fn update_identity_pool(
        &self,
        pool: IdentityPool,
    ) -> Result<IdentityPool, IdentityPoolError> {
        let current = self.identity_pool(&pool.id).await?;
        let mut config = pool.config;
        config.roles = current.config.roles;
        config.role_mappings = current.config.role_mappings;
        config.tags = current.config.tags;
        // A mapping whose provider is gone would never apply: drop it.
        let providers = config.clone();
        config.role_mappings.retain(|provider, _| {
            providers
                .cognito_providers
                .iter()
                .any(|p| &p.provider_name == provider)
                || providers.supported_login_providers.contains_key(provider)
                || providers
                    .open_id_connect_provider_arns
                    .iter()
                    .any(|arn| arn.ends_with(&format!("oidc-provider/{provider}")))
        });
        validate(&pool.name, &config)?;
        self.write(&pool.id, &pool.name, &config).await?;
        Ok(IdentityPool {
            id: pool.id,
            name: pool.name,
            config,
        })
    }

    async fn write(
        &self,
        id: &str,
        name: &str,
        config: &IdentityPoolConfig,
    ) -> Result<(), IdentityPoolError> {
        let text = serde_json::to_string(config)
            .map_err(|e| IdentityPoolError::internal("identity pool config", e))?;
        match self
            .store()
            .identity_pools()
            .update(id, name, &text, unix_millis(self.now()))
            .await
        {
            Ok(()) => Ok(()),
            Err(StorageError::NotFound { .. }) => Err(pool_not_found(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// DeleteIdentityPool, with its identities.
    pub async fn delete_identity_pool(&self, id: &str) -> Result<(), IdentityPoolError> {
        match self.store().identity_pools().delete(id).await {
            Ok(()) => Ok(()),
            Err(StorageError::NotFound { .. }) => Err(pool_not_found(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// SetIdentityPoolRoles.
    pub async fn set_identity_pool_roles(
        &self,
        id: &str,
        roles: BTreeMap<String, String>,
        role_mappings: BTreeMap<String, RoleMapping>,
    ) -> Result<(), IdentityPoolError> {
        let pool = self.identity_pool(id).await?;
        let mut config = pool.config;
        config.roles = roles;
        config.role_mappings = role_mappings;
        validate(&pool.name, &config)?;
        self.write(id, &pool.name, &config).await
    }

    /// GetIdentityPoolRoles.
    pub async fn get_identity_pool_roles(
        &self,
        id: &str,
    ) -> Result<(BTreeMap<String, String>, BTreeMap<String, RoleMapping>), IdentityPoolError> {
        let pool = self.identity_pool(id).await?;
        Ok((pool.config.roles, pool.config.role_mappings))
    }

    /// ListIdentities (without disabled identities when `hide_disabled`).
    pub async fn list_identities(
        &self,
        pool_id: &str,
        max_results: u32,
        next_token: Option<&str>,
        hide_disabled: bool,
    ) -> Result<(Vec<IdentityDescription>, Option<String>), IdentityPoolError> {
        if !(1..=MAX_LIST).contains(&max_results) {
            return Err(invalid(format!(
                "MaxResults must be between 1 and {MAX_LIST}"
            )));
        }
        self.identity_pool(pool_id).await?;
        let page = self
            .store()
            .identity_pools()
            .list_identities(pool_id, max_results, next_token, hide_disabled)
            .await?;
        Ok((page.items.into_iter().map(describe).collect(), page.next))
    }

    /// DescribeIdentity.
    pub async fn describe_identity(
        &self,
        identity_id: &str,
    ) -> Result<IdentityDescription, IdentityPoolError> {
        match self
            .store()
            .identity_pools()
            .get_identity(identity_id)
            .await?
        {
            Some(record) => Ok(describe(record)),
            None => Err(IdentityPoolError::ResourceNotFound(format!(
                "Identity '{identity_id}' not found."
            ))),
        }
    }

    /// DeleteIdentities: returns the ids that could not be deleted (not found).
    pub async fn delete_identities(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<String>, IdentityPoolError> {
        if ids.is_empty() || ids.len() > MAX_DELETE {
            return Err(invalid(format!(
                "IdentityIdsToDelete must have 1 to {MAX_DELETE} members"
            )));
        }
        Ok(self
            .store()
            .identity_pools()
            .delete_identities(&ids)
            .await?)
    }

    fn pool_id_of_arn<'a>(&self, arn: &'a str) -> Result<&'a str, IdentityPoolError> {
        arn.strip_prefix("arn:aws:cognito-identity:")
            .and_then(|rest| rest.split_once(":identitypool/"))
            .map(|(_, id)| id)
            .ok_or_else(|| invalid(format!("Invalid ResourceArn `{arn}`")))
    }

    /// TagResource on an identity pool ARN.
    pub async fn tag_resource(
        &self,
        arn: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), IdentityPoolError> {
        let id = self.pool_id_of_arn(arn)?;
        let pool = self.identity_pool(id).await?;
        let mut config = pool.config;
        for (key, value) in tags {
            if key.is_empty() || key.len() > 128 || value.len() > 256 {
                return Err(invalid(
                    "tag keys have 1 to 128 characters, values at most 256",
                ));
            }
            config.tags.insert(key, value);
        }
        validate(&pool.name, &config)?;
        self.write(id, &pool.name, &config).await
    }

    /// UntagResource.
    pub async fn untag_resource(
        &self,
        arn: &str,
        keys: &[String],
    ) -> Result<(), IdentityPoolError> {
        let id = self.pool_id_of_arn(arn)?;
        let pool = self.identity_pool(id).await?;
        let mut config = pool.config;
        for key in keys {
            config.tags.remove(key);
        }
        self.write(id, &pool.name, &config).await
    }

    /// ListTagsForResource.
    pub async fn list_tags_for_resource(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, IdentityPoolError> {
        let id = self.pool_id_of_arn(arn)?;
        Ok(self.identity_pool(id).await?.config.tags)
    }
}
