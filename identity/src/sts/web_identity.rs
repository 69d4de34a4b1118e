//! AssumeRoleWithWebIdentity: a verified web identity (a Cognito Identity OpenID token, or a
//! registered OpenID Connect provider's token) becomes a role session when the role's trust
//! policy lets that federated principal in.
//!
//! The token is verified before it gets here (by [`crate::identity_pools::IdentityPools`],
//! which knows the issuers): this module only decides and issues. The trust policy is
//! evaluated for `sts:AssumeRoleWithWebIdentity` with the federated principal the token's
//! provider names (`cognito-identity.amazonaws.com`, or the provider's host and path) and the
//! condition keys AWS fills for it: `cognito-identity.amazonaws.com:aud` / `:sub` / `:amr`
//! for Cognito, `{provider}:aud` / `:sub` / `:amr` otherwise.

use gatehouse_policy::{Context, Principal as PolicyPrincipal};
use serde_json::Value;

use super::{
    Credentials, SessionRequest, SessionSource, Sts, StsError, check_session_name,
    check_session_tags, duration_within, session_policies,
};
use crate::iam::Tag;

/// The claim a web identity token carries session tags in, as AWS reads it.
pub const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// A web identity token that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The prefix of the condition keys: `cognito-identity.amazonaws.com`, or an OIDC
    /// provider's URL without its scheme.
    pub provider: String,
    /// The federated principal trust policies name: `cognito-identity.amazonaws.com`, or
    /// the OIDC provider's ARN (`arn:aws:iam::{account}:oidc-provider/{url}`).
    pub principal: String,
    /// `sub`.
    pub subject: String,
    /// `aud` (the identity pool id for Cognito tokens, the client id otherwise).
    pub audience: String,
    /// `amr`, when the token carries one.
    pub amr: Vec<String>,
    /// For Cognito tokens: the identity and the identity pool.
    pub cognito: Option<(String, String)>,
    /// Session tags from the token's [`TAGS_CLAIM`].
    pub tags: Vec<Tag>,
}

/// What AssumeRoleWithWebIdentity asks for, beside the token.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleWithWebIdentity {
    pub role_arn: String,
    pub session_name: String,
    pub duration_secs: Option<i64>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
}

/// AssumeRoleWithWebIdentity's answer.
#[derive(Debug, Clone)]
pub struct WebIdentitySession {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
    pub assumed_role_id: String,
    pub packed_policy_size: u32,
    pub subject: String,
    pub audience: String,
    pub provider: String,
}

impl WebIdentity {
    /// The condition keys of this identity, as the trust policy and later requests see them.
    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        let p = &self.provider;
        let mut keys = vec![
            (format!("{p}:aud"), vec![self.audience.clone()]),
            (format!("{p}:sub"), vec![self.subject.clone()]),
        ];
        if !self.amr.is_empty() {
            keys.push((format!("{p}:amr"), self.amr.clone()));
        }
        keys
    }
}

impl Sts {
    /// AssumeRoleWithWebIdentity for an already verified `identity`.
    pub async fn assume_role_with_web_identity(
        &self,
        identity: &WebIdentity,
        request: AssumeRoleWithWebIdentity,
    ) -> Result<WebIdentitySession, StsError> {
        let now = self.now();
        check_session_name(&request.session_name)?;
        let (session_policy, packed) =
            session_policies(request.policy.as_deref(), &request.policy_arns, &[])?;
        let denied = || {
            StsError::AccessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity".into())
        };
        let iam = self.iam();
        let name = iam.role_name_of_arn(&request.role_arn).ok_or_else(denied)?;
        let role = iam.compiled_role(name).await?.ok_or_else(denied)?;
        if role.arn != request.role_arn {
            return Err(denied());
        }
        for arn in &request.policy_arns {
            if iam.view().managed_policy(arn).is_none() {
                return Err(StsError::Validation(format!(
                    "policy ARN `{arn}` is not a managed policy of this account"
                )));
            }
        }
        let duration = duration_within(request.duration_secs, role.max_session_duration)?;
        let mut context = Context::new();
        for (key, values) in identity.condition_keys() {
            context.set(&key, values);
        }
        let principal = PolicyPrincipal::Federated(identity.principal.clone());
        if !Self::trusts(
            &role,
            "sts:AssumeRoleWithWebIdentity",
            &principal,
            &[],
            &context,
        ) {
            return Err(denied());
        }
        // Session tags need the trust policy's leave too, as in AWS.
        if !identity.tags.is_empty() {
            for tag in &identity.tags {
                context.set(
                    &format!("aws:RequestTag/{}", tag.key),
                    vec![tag.value.clone()],
                );
            }
            context.set(
                "aws:TagKeys",
                identity.tags.iter().map(|t| t.key.clone()).collect(),
            );
            if !Self::trusts(&role, "sts:TagSession", &principal, &[], &context) {
                return Err(StsError::AccessDenied(
                    "Not authorized to perform sts:TagSession".into(),
                ));
            }
        }
        let (identity_id, identity_pool_id) = match &identity.cognito {
            Some((id, pool)) => (Some(id.clone()), Some(pool.clone())),
            None => (None, None),
        };
        // Cognito's keys travel as the session's identity fields; other providers' as keys.
        let web_identity_keys = if identity.cognito.is_some() {
            Vec::new()
        } else {
            identity
                .condition_keys()
                .into_iter()
                .flat_map(|(k, values)| values.into_iter().map(move |v| (k.clone(), v)))
                .collect()
        };
        let credentials = self.issue(
            SessionRequest {
                role: &role,
                source: SessionSource::WebIdentity,
                session_name: request.session_name.clone(),
                duration_secs: duration,
                identity_id,
                identity_pool_id,
                amr: if identity.cognito.is_some() {
                    identity.amr.clone()
                } else {
                    Vec::new()
                },
                web_identity_keys,
                session_policy,
                policy_arns: request.policy_arns,
                tags: identity.tags.clone(),
            },
            now,
        )?;
        let account = iam.account_id();
        Ok(WebIdentitySession {
            credentials,
            assumed_role_arn: format!(
                "arn:aws:sts::{account}:assumed-role/{}/{}",
                role.name, request.session_name
            ),
            assumed_role_id: format!("{}:{}", role.role_id, request.session_name),
            packed_policy_size: packed,
            subject: identity.subject.clone(),
            audience: identity.audience.clone(),
            provider: identity.provider.clone(),
        })
    }
}

/// The session tags of a token's [`TAGS_CLAIM`] (`{"principal_tags": {"key": ["value"]},
/// "transitive_tag_keys": [...]}`): one value per key, within STS's session-tag limits.
/// No claim is no tags; a claim of any other shape refuses the token.
pub fn tags_from_claim(claim: Option<&Value>) -> Result<Vec<Tag>, String> {
    let Some(claim) = claim else {
        return Ok(Vec::new());
    };
    let malformed = || format!("the `{TAGS_CLAIM}` claim is malformed");
    let principal_tags = claim
        .get("principal_tags")
        .and_then(Value::as_object)
        .ok_or_else(malformed)?;
    let mut tags = Vec::with_capacity(principal_tags.len());
    for (key, values) in principal_tags {
        let value = match values {
            Value::Array(items) => match items.as_slice() {
                [Value::String(one)] => one.clone(),
                _ => return Err(format!("session tag `{key}` must have exactly one value")),
            },
            Value::String(one) => one.clone(),
            _ => return Err(malformed()),
        };
        tags.push(Tag {
            key: key.clone(),
            value,
        });
    }
    check_session_tags(&tags)?;
    Ok(tags)
}
