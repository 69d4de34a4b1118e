//! Principal tags (attributes for access control): which claims of a login's token become
//! session tags of the credentials an identity gets, so role policies can say
//! `${aws:PrincipalTag/team}`.
//!
//! # Sources
//! - The principal-tag attribute map of the login's provider (SetPrincipalTagAttributeMap):
//!   `{tag key: claim name}`, or with `UseDefaults` Cognito's default map
//!   ([`DEFAULT_PRINCIPAL_TAGS`]: `client` ← `aud`, `username` ← `sub`). A claim the token
//!   lacks, or whose value is a list or an object, gives no tag. Without a map, a provider
//!   gives no tags.
//! - The `PrincipalTags` of GetOpenIdTokenForDeveloperIdentity, carried in the token's
//!   `https://aws.amazon.com/tags` claim: the tags of a login under
//!   `cognito-identity.amazonaws.com` (the enhanced flow) or of AssumeRoleWithWebIdentity.
//!
//! With several logins, the first that names a tag key wins. The tags must meet STS's
//! session-tag rules and gatehouse's byte budget ([`crate::sts::check_session_tags`]): they
//! travel in the sealed session token. Credentials with tags need the role's trust policy to
//! allow `sts:TagSession` too, as in AWS.

use std::collections::BTreeMap;

use gatehouse_storage::{StorageError, TagMapRecord};
use serde_json::Value;

use super::logins::{LoginKind, VerifiedLogin};
use super::pools::IdentityPool;
use super::{IdentityPoolError, IdentityPools};
use crate::iam::Tag;
use crate::sts::{MAX_SESSION_TAGS, check_session_tags};
use crate::time::unix_millis;

/// Cognito's default attribute map: tag key ← claim name.
pub const DEFAULT_PRINCIPAL_TAGS: [(&str, &str); 2] = [("client", "aud"), ("username", "sub")];
/// Longest claim name a map may name.
const MAX_CLAIM_NAME_LEN: usize = 256;

/// The principal-tag attribute map of one identity provider of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalTagMap {
    pub pool_id: String,
    pub provider: String,
    pub use_defaults: bool,
    /// Tag key ← claim name (the defaults when `use_defaults`).
    pub tags: BTreeMap<String, String>,
}

fn invalid(message: impl Into<String>) -> IdentityPoolError {
    IdentityPoolError::InvalidParameter(message.into())
}

fn defaults() -> BTreeMap<String, String> {
    DEFAULT_PRINCIPAL_TAGS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The tags claim of an OpenID token for `tags` (`{"principal_tags": {key: [value]}}`).
pub(super) fn tags_claim(tags: &[Tag]) -> Option<Value> {
    if tags.is_empty() {
        return None;
    }
    let principal_tags: serde_json::Map<String, Value> = tags
        .iter()
        .map(|t| {
            (
                t.key.clone(),
                Value::Array(vec![Value::String(t.value.clone())]),
            )
        })
        .collect();
    Some(serde_json::json!({
        "principal_tags": principal_tags,
        "transitive_tag_keys": [],
    }))
}

/// `PrincipalTags` given to GetOpenIdTokenForDeveloperIdentity, checked as session tags.
pub(super) fn developer_tags(
    given: &BTreeMap<String, String>,
) -> Result<Vec<Tag>, IdentityPoolError> {
    let tags: Vec<Tag> = given
        .iter()
        .map(|(key, value)| Tag {
            key: key.clone(),
            value: value.clone(),
        })
        .collect();
    check_session_tags(&tags).map_err(|m| invalid(format!("PrincipalTags: {m}")))?;
    Ok(tags)
}

/// The value of `claim` as a tag value, when it is one.
fn claim_value(claims: &serde_json::Map<String, Value>, claim: &str) -> Option<String> {
    match claims.get(claim)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

impl IdentityPools {
    /// Whether `name` names an identity provider of `pool` (a user pool, an OpenID Connect
    /// provider, a supported login provider).
    fn is_pool_provider(pool: &IdentityPool, name: &str) -> bool {
        pool.config
            .cognito_providers
            .iter()
            .any(|p| p.provider_name == name)
            || pool.config.supported_login_providers.contains_key(name)
            || pool.config.open_id_connect_provider_arns.iter().any(|arn| {
                arn.split_once(":oidc-provider/")
                    .is_some_and(|(_, url)| url == name)
            })
    }

    /// SetPrincipalTagAttributeMap.
    pub async fn set_principal_tag_attribute_map(
        &self,
        pool_id: &str,
        provider: &str,
        use_defaults: bool,
        tags: BTreeMap<String, String>,
    ) -> Result<PrincipalTagMap, IdentityPoolError> {
        let pool = self.identity_pool(pool_id).await?;
        if !Self::is_pool_provider(&pool, provider) {
            return Err(invalid(format!(
                "`{provider}` is not an identity provider of identity pool '{pool_id}'."
            )));
        }
        if tags.len() > MAX_SESSION_TAGS {
            return Err(invalid(format!(
                "PrincipalTags has at most {MAX_SESSION_TAGS} entries"
            )));
        }
        for (key, claim) in &tags {
            check_session_tags(&[Tag {
                key: key.clone(),
                value: String::new(),
            }])
            .map_err(|m| invalid(format!("PrincipalTags: {m}")))?;
            if claim.is_empty() || claim.chars().count() > MAX_CLAIM_NAME_LEN {
                return Err(invalid(format!(
                    "PrincipalTags: a claim name has 1 to {MAX_CLAIM_NAME_LEN} characters"
                )));
            }
        }
        let store = self.store().identity_pools();
        if !use_defaults && tags.is_empty() {
            store.delete_tag_map(pool_id, provider).await?;
        } else {
            let text = serde_json::to_string(&tags)
                .map_err(|e| IdentityPoolError::internal("principal tags", e))?;
            let record = TagMapRecord {
                pool_id: pool_id.to_owned(),
                provider: provider.to_owned(),
                use_defaults,
                tags: if use_defaults { "{}".into() } else { text },
                updated_at: unix_millis(self.now()),
            };
            match store.put_tag_map(&record).await {
                Ok(()) => {}
                Err(StorageError::NotFound { .. }) => {
                    return Err(IdentityPoolError::ResourceNotFound(format!(
                        "IdentityPool '{pool_id}' not found."
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(PrincipalTagMap {
            pool_id: pool_id.to_owned(),
            provider: provider.to_owned(),
            use_defaults,
            tags: if use_defaults { defaults() } else { tags },
        })
    }

    /// GetPrincipalTagAttributeMap.
    pub async fn get_principal_tag_attribute_map(
        &self,
        pool_id: &str,
        provider: &str,
    ) -> Result<PrincipalTagMap, IdentityPoolError> {
        let pool = self.identity_pool(pool_id).await?;
        if !Self::is_pool_provider(&pool, provider) {
            return Err(invalid(format!(
                "`{provider}` is not an identity provider of identity pool '{pool_id}'."
            )));
        }
        let maps = self.tag_maps(pool_id).await?;
        Ok(maps
            .into_iter()
            .find(|m| m.provider == provider)
            .unwrap_or_else(|| PrincipalTagMap {
                pool_id: pool_id.to_owned(),
                provider: provider.to_owned(),
                use_defaults: false,
                tags: BTreeMap::new(),
            }))
    }

    /// Every map of the pool, the defaults filled in.
    async fn tag_maps(&self, pool_id: &str) -> Result<Vec<PrincipalTagMap>, IdentityPoolError> {
        self.store()
            .identity_pools()
            .tag_maps(pool_id)
            .await?
            .into_iter()
            .map(|record| {
                let tags = if record.use_defaults {
                    defaults()
                } else {
                    serde_json::from_str(&record.tags)
                        .map_err(|e| IdentityPoolError::internal("principal tags", e))?
                };
                Ok(PrincipalTagMap {
                    pool_id: record.pool_id,
                    provider: record.provider,
                    use_defaults: record.use_defaults,
                    tags,
                })
            })
            .collect()
    }

    /// The session tags `logins` bring in `pool` (see the module docs).
    pub(super) async fn principal_tags(
        &self,
        pool: &IdentityPool,
        logins: &[VerifiedLogin],
    ) -> Result<Vec<Tag>, IdentityPoolError> {
        let mut tags: Vec<Tag> = Vec::new();
        let mut add = |key: &str, value: String| {
            if !tags.iter().any(|t| t.key.eq_ignore_ascii_case(key)) {
                tags.push(Tag {
                    key: key.to_owned(),
                    value,
                });
            }
        };
        let maps = if logins.iter().any(|l| !l.is_own_token()) {
            self.tag_maps(&pool.id).await?
        } else {
            Vec::new()
        };
        for login in logins {
            match &login.kind {
                LoginKind::CognitoIdentity { tags: own, .. } => {
                    for tag in own {
                        add(&tag.key, tag.value.clone());
                    }
                }
                LoginKind::UserPool | LoginKind::OpenIdConnect => {
                    let Some(map) = maps.iter().find(|m| m.provider == login.provider) else {
                        continue;
                    };
                    for (key, claim) in &map.tags {
                        if let Some(value) = claim_value(&login.claims, claim) {
                            add(key, value);
                        }
                    }
                }
            }
        }
        check_session_tags(&tags).map_err(|m| {
            IdentityPoolError::InvalidParameter(format!(
                "The principal tags of the logins cannot be session tags: {m}"
            ))
        })?;
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn developer_tags_round_trip_through_the_token_claim() {
        let given: BTreeMap<String, String> = [("team", "blue"), ("tier", "gold")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let tags = developer_tags(&given).unwrap();
        let claim = tags_claim(&tags);
        assert_eq!(crate::sts::tags_from_claim(claim.as_ref()).unwrap(), tags);
        assert_eq!(tags_claim(&[]), None);
    }

    /// (rule, tags, accepted)
    #[test]
    fn developer_tags_meet_the_session_tag_rules() {
        let many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        let big: Vec<(String, String)> = (0..20)
            .map(|i| (format!("k{i:0>100}"), "v".repeat(200)))
            .collect();
        type Case = (&'static str, Vec<(String, String)>, bool);
        let cases: Vec<Case> = vec![
            ("plain", vec![("team".into(), "blue".into())], true),
            (
                "aws: is reserved",
                vec![("aws:team".into(), "x".into())],
                false,
            ),
            ("no empty key", vec![(String::new(), "x".into())], false),
            ("no quotes", vec![("team".into(), "a\"b".into())], false),
            ("at most 50", many, false),
            ("at most 4 KiB together", big, false),
        ];
        for (rule, tags, accepted) in cases {
            let given: BTreeMap<String, String> = tags.into_iter().collect();
            assert_eq!(developer_tags(&given).is_ok(), accepted, "{rule}");
        }
    }
}
