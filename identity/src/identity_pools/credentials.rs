//! GetId and GetCredentialsForIdentity: the enhanced (simplified) flow.
//!
//! # Identities
//! An identity id is `{region}:{uuid}`. GetId with logins returns the identity those logins
//! are linked to, making one on the first sign-in; logins linked to different identities are
//! merged into the first, as Cognito does. GetId without logins makes a new guest identity
//! (when the pool allows guests).
//!
//! # Credentials
//! An identity with logins gets credentials only when the call carries at least one of its
//! logins, verified again; a guest identity only without logins. The role is:
//! - for a guest, the pool's `unauthenticated` role, scoped down by the guest session
//!   policy ([`crate::sts::GUEST_SESSION_POLICY`]);
//! - otherwise the role mapping of the first login's provider that has one (`Token`:
//!   `CustomRoleArn` when it is among `cognito:roles`, else `cognito:preferred_role`;
//!   `Rules`: the first rule whose claim matches), falling back to — or, with
//!   `AmbiguousRoleResolution: Deny`, refusing instead of — the `authenticated` role.
//!   Without a mapping, `CustomRoleArn` may only name the `authenticated` role.
//!
//! Principal tags (see `principal_tags`) become session tags; the trust policy must then
//! also allow `sts:TagSession`.
//!
//! The role's trust policy must then allow `sts:AssumeRoleWithWebIdentity` for the
//! federated principal `cognito-identity.amazonaws.com` with the request's
//! `cognito-identity.amazonaws.com:aud` (the pool), `:amr` and `:sub` (the identity): a
//! role that does not exist or does not trust the identity is
//! `InvalidIdentityPoolConfigurationException`, as in Cognito.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use gatehouse_policy::{Context, Principal as PolicyPrincipal};

use gatehouse_storage::StorageError;

use super::logins::{LoginKind, VerifiedLogin};
use super::pools::{
    AmbiguousRoleResolution, IdentityPool, MatchType, RoleMapping, RoleMappingType,
};
use super::{IdentityPoolError, IdentityPools};
use crate::iam::{CompiledRole, Tag};
use crate::sts::{
    COGNITO_FEDERATED_PRINCIPAL, COGNITO_SESSION_NAME, Credentials, DEFAULT_SESSION_SECS,
    SessionPolicy, SessionRequest, SessionSource, Sts,
};
use crate::time::unix_millis;

/// GetCredentialsForIdentity's answer.
#[derive(Debug, Clone)]
pub struct IdentityCredentials {
    pub identity_id: String,
    pub credentials: Credentials,
}

/// An identity whose caller showed what it takes (see [`IdentityPools::authorize_identity`]).
#[derive(Debug)]
pub(super) struct AuthorizedIdentity {
    pub(super) pool: IdentityPool,
    /// The logins that verified: none for a guest.
    pub(super) verified: Vec<VerifiedLogin>,
    /// `cognito-identity.amazonaws.com:amr`.
    pub(super) amr: Vec<String>,
}

impl AuthorizedIdentity {
    pub(super) fn is_guest(&self) -> bool {
        self.verified.is_empty()
    }
}

/// What a session of an identity carries beside its role.
struct Session {
    /// `cognito-identity.amazonaws.com:amr`.
    amr: Vec<String>,
    /// The guest scope-down, for guests.
    session_policy: Option<SessionPolicy>,
    /// Principal tags.
    tags: Vec<Tag>,
}

fn bad_configuration() -> IdentityPoolError {
    IdentityPoolError::InvalidIdentityPoolConfiguration(
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.".into(),
    )
}

/// Whether `rule` matches `claims`.
fn rule_matches(
    claims: &serde_json::Map<String, serde_json::Value>,
    claim: &str,
    match_type: MatchType,
    value: &str,
) -> bool {
    let Some(found) = claims.get(claim) else {
        return false;
    };
    let values: Vec<String> = match found {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        other => vec![other.to_string()],
    };
    match match_type {
        MatchType::Equals => values.iter().any(|v| v == value),
        MatchType::Contains => values.iter().any(|v| v.contains(value)),
        MatchType::StartsWith => values.iter().any(|v| v.starts_with(value)),
        MatchType::NotEqual => values.iter().all(|v| v != value),
    }
}

/// The role a mapping picks for `login`, or `None` when it is ambiguous.
fn mapped_role(
    mapping: &RoleMapping,
    login: &VerifiedLogin,
    custom_role_arn: Option<&str>,
) -> Result<Option<String>, IdentityPoolError> {
    match mapping.kind {
        RoleMappingType::Token => {
            let roles: Vec<&str> = login
                .claims
                .get("cognito:roles")
                .and_then(|v| v.as_array())
                .map(|items| items.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if let Some(custom) = custom_role_arn {
                return if roles.contains(&custom) {
                    Ok(Some(custom.to_owned()))
                } else {
                    Err(IdentityPoolError::NotAuthorized(
                        "The role requested is not among the roles of the login token.".into(),
                    ))
                };
            }
            let preferred = login
                .claims
                .get("cognito:preferred_role")
                .and_then(|v| v.as_str())
                .filter(|p| roles.contains(p));
            Ok(preferred
                .or(match roles.as_slice() {
                    [only] => Some(*only),
                    _ => None,
                })
                .map(str::to_owned))
        }
        RoleMappingType::Rules => Ok(mapping
            .rules
            .iter()
            .find(|r| rule_matches(&login.claims, &r.claim, r.match_type, &r.value))
            .map(|r| r.role_arn.clone())),
    }
}

impl IdentityPools {
    /// GetId.
    pub async fn get_id(
        &self,
        pool_id: &str,
        logins: &BTreeMap<String, String>,
    ) -> Result<String, IdentityPoolError> {
        let pool = self.identity_pool(pool_id).await?;
        let now = unix_millis(self.now());
        let region = pool_id.split_once(':').map_or("", |(r, _)| r);
        let new_id = format!("{region}:{}", crate::ids::uuid_v4());
        if logins.is_empty() {
            if !pool.config.allow_unauthenticated {
                return Err(IdentityPoolError::NotAuthorized(
                    "Unauthenticated access is not supported for this identity pool.".into(),
                ));
            }
            self.store()
                .identity_pools()
                .create_identity(pool_id, &new_id, now)
                .await?;
            return Ok(new_id);
        }
        let verified = self.verify_logins(&pool, logins).await?;
        let keys: Vec<(String, String)> = verified
            .iter()
            .filter(|l| !l.is_own_token())
            .map(|l| (l.provider.clone(), l.subject.clone()))
            .collect();
        // This service's own token names the identity: the other logins join it.
        if let Some(own) = verified.iter().find(|l| l.is_own_token()) {
            let identity_id = own.subject.clone();
            self.usable_identity(pool_id, &identity_id).await?;
            if !keys.is_empty() {
                match self
                    .store()
                    .identity_pools()
                    .link(pool_id, &identity_id, &keys, now)
                    .await
                {
                    Ok(()) => {}
                    Err(StorageError::NotFound { .. }) => {
                        return Err(IdentityPoolError::ResourceNotFound(format!(
                            "Identity '{identity_id}' not found."
                        )));
                    }
                    Err(StorageError::Conflict { .. }) => {
                        return Err(IdentityPoolError::ResourceConflict(
                            "A login is already linked to another identity.".into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(identity_id);
        }
        let resolved = self
            .store()
            .identity_pools()
            .resolve(pool_id, &keys, &new_id, now)
            .await?;
        Ok(resolved.identity_id)
    }

    /// The identity a token of this service names, when it is still of `pool_id` and not
    /// disabled.
    async fn usable_identity(
        &self,
        pool_id: &str,
        identity_id: &str,
    ) -> Result<(), IdentityPoolError> {
        match self
            .store()
            .identity_pools()
            .get_identity(identity_id)
            .await?
        {
            Some(identity) if identity.pool_id == pool_id && !identity.disabled => Ok(()),
            Some(identity) if identity.pool_id == pool_id => Err(IdentityPoolError::NotAuthorized(
                format!("Access to Identity '{identity_id}' is forbidden."),
            )),
            _ => Err(IdentityPoolError::ResourceNotFound(format!(
                "Identity '{identity_id}' not found."
            ))),
        }
    }

    /// Who is asking for `identity_id` with `logins`: a guest identity without logins (while
    /// the pool allows guests), an authenticated one with at least one of its own logins,
    /// verified again. Shared by GetCredentialsForIdentity and GetOpenIdToken.
    pub(super) async fn authorize_identity(
        &self,
        identity_id: &str,
        logins: &BTreeMap<String, String>,
    ) -> Result<AuthorizedIdentity, IdentityPoolError> {
        let logins_dont_match = || {
            IdentityPoolError::NotAuthorized(
                "Logins don't match. Please include at least one valid login for this identity or identity pool.".into(),
            )
        };
        let no_guests = || {
            IdentityPoolError::NotAuthorized(
                "Unauthenticated access is not supported for this identity pool.".into(),
            )
        };
        let identity = self
            .store()
            .identity_pools()
            .get_identity(identity_id)
            .await?
            .ok_or_else(|| {
                IdentityPoolError::ResourceNotFound(format!("Identity '{identity_id}' not found."))
            })?;
        let pool = self.identity_pool(&identity.pool_id).await?;
        if identity.disabled {
            // Its last login was unlinked: it is nobody's, not a guest's.
            return Err(IdentityPoolError::NotAuthorized(format!(
                "Access to Identity '{identity_id}' is forbidden."
            )));
        }
        if identity.logins.is_empty() {
            if !logins.is_empty() {
                // A guest signing in: link the logins first (GetId does that), then ask.
                return Err(logins_dont_match());
            }
            if !pool.config.allow_unauthenticated {
                return Err(no_guests());
            }
            return Ok(AuthorizedIdentity {
                pool,
                verified: Vec::new(),
                amr: vec!["unauthenticated".into()],
            });
        }
        if logins.is_empty() {
            return Err(no_guests());
        }
        let verified = self.verify_logins(&pool, logins).await?;
        let linked = verified.iter().any(|l| match &l.kind {
            LoginKind::CognitoIdentity { .. } => l.subject == identity_id,
            LoginKind::UserPool | LoginKind::OpenIdConnect => identity
                .logins
                .iter()
                .any(|(p, s)| *p == l.provider && *s == l.subject),
        });
        if !linked {
            return Err(logins_dont_match());
        }
        let mut amr = super::developer::authenticated_amr(
            verified
                .iter()
                .filter(|l| !l.is_own_token())
                .map(|l| (l.provider.as_str(), format!("CognitoSignIn:{}", l.subject))),
        );
        // An own token brings the `amr` it was issued with (the developer provider).
        for login in &verified {
            if let LoginKind::CognitoIdentity { amr: own, .. } = &login.kind {
                for entry in own {
                    if !amr.contains(entry) {
                        amr.push(entry.clone());
                    }
                }
            }
        }
        Ok(AuthorizedIdentity {
            pool,
            verified,
            amr,
        })
    }

    /// GetCredentialsForIdentity.
    pub async fn get_credentials_for_identity(
        &self,
        identity_id: &str,
        logins: &BTreeMap<String, String>,
        custom_role_arn: Option<&str>,
    ) -> Result<IdentityCredentials, IdentityPoolError> {
        let now = self.now();
        let caller = self.authorize_identity(identity_id, logins).await?;
        let pool = &caller.pool;
        let tags = if caller.is_guest() {
            Vec::new()
        } else {
            self.principal_tags(pool, &caller.verified).await?
        };
        let (role_arn, session_policy) = if caller.is_guest() {
            if custom_role_arn.is_some() {
                return Err(IdentityPoolError::InvalidParameter(
                    "CustomRoleArn is only for authenticated identities".into(),
                ));
            }
            let role_arn = pool
                .config
                .roles
                .get("unauthenticated")
                .cloned()
                .ok_or_else(bad_configuration)?;
            (role_arn, Some(SessionPolicy::CognitoGuest))
        } else {
            (
                self.choose_role(pool, &caller.verified, custom_role_arn)?,
                None,
            )
        };
        let session = Session {
            amr: caller.amr,
            session_policy,
            tags,
        };
        let credentials = self
            .issue(pool, identity_id, &role_arn, session, now)
            .await?;
        Ok(IdentityCredentials {
            identity_id: identity_id.to_owned(),
            credentials,
        })
    }

    /// The role for an authenticated identity (see the module docs).
    fn choose_role(
        &self,
        pool: &IdentityPool,
        logins: &[VerifiedLogin],
        custom_role_arn: Option<&str>,
    ) -> Result<String, IdentityPoolError> {
        let authenticated = pool.config.roles.get("authenticated");
        for login in logins {
            let Some(mapping) = pool.config.role_mappings.get(&login.provider) else {
                continue;
            };
            if let Some(role) = mapped_role(mapping, login, custom_role_arn)? {
                return Ok(role);
            }
            return match mapping.ambiguous {
                Some(AmbiguousRoleResolution::AuthenticatedRole) | None => {
                    authenticated.cloned().ok_or_else(bad_configuration)
                }
                Some(AmbiguousRoleResolution::Deny) => Err(IdentityPoolError::NotAuthorized(
                    "Ambiguous role resolution: no role matched and the identity pool denies the request.".into(),
                )),
            };
        }
        let role = authenticated.cloned().ok_or_else(bad_configuration)?;
        match custom_role_arn {
            Some(custom) if custom != role => Err(IdentityPoolError::NotAuthorized(
                "CustomRoleArn needs a Token role mapping that grants it.".into(),
            )),
            _ => Ok(role),
        }
    }

    /// Checks the role's trust policy and issues credentials.
    async fn issue(
        &self,
        pool: &IdentityPool,
        identity_id: &str,
        role_arn: &str,
        session: Session,
        now: SystemTime,
    ) -> Result<Credentials, IdentityPoolError> {
        let Session {
            amr,
            session_policy,
            tags,
        } = session;
        let role = self
            .trusted_role(pool, identity_id, role_arn, &amr, &tags)
            .await?;
        let duration = DEFAULT_SESSION_SECS.min(role.max_session_duration);
        Ok(self.inner.sts.issue(
            SessionRequest {
                role: &role,
                source: SessionSource::CognitoIdentity,
                session_name: COGNITO_SESSION_NAME.into(),
                duration_secs: duration,
                identity_id: Some(identity_id.to_owned()),
                identity_pool_id: Some(pool.id.clone()),
                amr,
                web_identity_keys: Vec::new(),
                session_policy,
                policy_arns: Vec::new(),
                tags,
            },
            now,
        )?)
    }

    /// The role, when it exists and its trust policy lets this identity in (and, with
    /// session `tags`, lets it tag the session).
    async fn trusted_role(
        &self,
        pool: &IdentityPool,
        identity_id: &str,
        role_arn: &str,
        amr: &[String],
        tags: &[Tag],
    ) -> Result<Arc<CompiledRole>, IdentityPoolError> {
        let iam = &self.inner.iam;
        let name = iam
            .role_name_of_arn(role_arn)
            .ok_or_else(bad_configuration)?;
        let role = iam
            .compiled_role(name)
            .await?
            .ok_or_else(bad_configuration)?;
        if role.arn != role_arn {
            return Err(bad_configuration());
        }
        let mut context = Context::new();
        context.set("cognito-identity.amazonaws.com:aud", vec![pool.id.clone()]);
        context.set(
            "cognito-identity.amazonaws.com:sub",
            vec![identity_id.to_owned()],
        );
        context.set("cognito-identity.amazonaws.com:amr", amr.to_vec());
        let principal = PolicyPrincipal::Federated(COGNITO_FEDERATED_PRINCIPAL.into());
        if !Sts::trusts(
            &role,
            "sts:AssumeRoleWithWebIdentity",
            &principal,
            &[],
            &context,
        ) {
            return Err(bad_configuration());
        }
        if !tags.is_empty() {
            for tag in tags {
                context.set(
                    &format!("aws:RequestTag/{}", tag.key),
                    vec![tag.value.clone()],
                );
            }
            context.set("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect());
            if !Sts::trusts(&role, "sts:TagSession", &principal, &[], &context) {
                return Err(bad_configuration());
            }
        }
        Ok(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity_pools::MappingRule;

    fn login(claims: serde_json::Value) -> VerifiedLogin {
        VerifiedLogin {
            provider: "cognito-idp.us-east-1.amazonaws.com/us-east-1_a".into(),
            subject: "sub".into(),
            claims: claims.as_object().cloned().unwrap_or_default(),
            kind: LoginKind::UserPool,
        }
    }

    /// (rule, claims, match type, value, matches)
    #[test]
    fn rules_match_claims_as_cognito_documents() {
        let claims = serde_json::json!({
            "custom:dept": "engineering",
            "cognito:groups": ["admins", "readers"],
            "email_verified": true,
        });
        let claims = claims.as_object().cloned().unwrap_or_default();
        let cases = [
            (
                "Equals a string",
                "custom:dept",
                MatchType::Equals,
                "engineering",
                true,
            ),
            (
                "Equals is exact",
                "custom:dept",
                MatchType::Equals,
                "Engineering",
                false,
            ),
            (
                "Equals one element of a list",
                "cognito:groups",
                MatchType::Equals,
                "admins",
                true,
            ),
            (
                "Contains",
                "custom:dept",
                MatchType::Contains,
                "gineer",
                true,
            ),
            (
                "StartsWith",
                "custom:dept",
                MatchType::StartsWith,
                "eng",
                true,
            ),
            (
                "StartsWith is a prefix",
                "custom:dept",
                MatchType::StartsWith,
                "neer",
                false,
            ),
            (
                "NotEqual",
                "custom:dept",
                MatchType::NotEqual,
                "sales",
                true,
            ),
            (
                "NotEqual over a list",
                "cognito:groups",
                MatchType::NotEqual,
                "readers",
                false,
            ),
            (
                "a boolean claim as text",
                "email_verified",
                MatchType::Equals,
                "true",
                true,
            ),
            (
                "a missing claim matches nothing",
                "custom:none",
                MatchType::NotEqual,
                "x",
                false,
            ),
        ];
        for (rule, claim, match_type, value, expected) in cases {
            assert_eq!(
                rule_matches(&claims, claim, match_type, value),
                expected,
                "{rule}"
            );
        }
    }

    #[test]
    fn token_mappings_follow_the_groups_roles() {
        let mapping = RoleMapping {
            kind: RoleMappingType::Token,
            ambiguous: Some(AmbiguousRoleResolution::Deny),
            rules: Vec::new(),
        };
        let two = login(serde_json::json!({
            "cognito:roles": ["arn:aws:iam::0:role/A", "arn:aws:iam::0:role/B"],
            "cognito:preferred_role": "arn:aws:iam::0:role/A",
        }));
        assert_eq!(
            mapped_role(&mapping, &two, None).unwrap().as_deref(),
            Some("arn:aws:iam::0:role/A")
        );
        assert_eq!(
            mapped_role(&mapping, &two, Some("arn:aws:iam::0:role/B"))
                .unwrap()
                .as_deref(),
            Some("arn:aws:iam::0:role/B")
        );
        assert!(mapped_role(&mapping, &two, Some("arn:aws:iam::0:role/C")).is_err());
        let none = login(serde_json::json!({}));
        assert_eq!(
            mapped_role(&mapping, &none, None).unwrap(),
            None,
            "ambiguous"
        );
        let rules = RoleMapping {
            kind: RoleMappingType::Rules,
            ambiguous: Some(AmbiguousRoleResolution::AuthenticatedRole),
            rules: vec![
                MappingRule {
                    claim: "custom:dept".into(),
                    match_type: MatchType::Equals,
                    value: "sales".into(),
                    role_arn: "arn:aws:iam::0:role/Sales".into(),
                },
                MappingRule {
                    claim: "custom:dept".into(),
                    match_type: MatchType::StartsWith,
                    value: "eng".into(),
                    role_arn: "arn:aws:iam::0:role/Eng".into(),
                },
                MappingRule {
                    claim: "custom:dept".into(),
                    match_type: MatchType::Contains,
                    value: "n".into(),
                    role_arn: "arn:aws:iam::0:role/Second".into(),
                },
            ],
        };
        let eng = login(serde_json::json!({"custom:dept": "engineering"}));
        assert_eq!(
            mapped_role(&rules, &eng, None).unwrap().as_deref(),
            Some("arn:aws:iam::0:role/Eng"),
            "the first rule that matches wins"
        );
    }
}
