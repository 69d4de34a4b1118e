//! The STS subset and temporary credentials: issuing sealed session credentials
//! ([`Sts::issue`]), GetCallerIdentity, AssumeRole, and the verifier every adapter uses to
//! authenticate requests signed with them ([`CredentialVerifier`]).
//!
//! # Layout
//! - `token`: the sealed session token ([`SessionClaims`]).
//! - `verify`: [`CredentialVerifier`], [`Principal`], [`Permissions`], the request context.
//! - `web_identity`: AssumeRoleWithWebIdentity for a verified [`WebIdentity`].
//! - `error`: [`StsError`].
//!
//! Trust policies are evaluated by the policy engine as resource-based policies of the role,
//! with the caller as principal: a trust policy that names the caller allows on its own; one
//! that names only the account needs the caller's own policies to allow `sts:AssumeRole` too
//! (AWS's same-account rule).

mod error;
mod token;
mod verify;
mod web_identity;

pub use error::StsError;
pub use token::{SessionClaims, SessionPolicy, SessionSource, TokenRefusal};
pub use verify::{
    Authenticated, CredentialError, CredentialVerifier, Permissions, Principal, RequestFacts,
};
pub use web_identity::{
    AssumeRoleWithWebIdentity, TAGS_CLAIM, WebIdentity, WebIdentitySession, tags_from_claim,
};

use std::sync::Arc;
use std::time::SystemTime;

use gatehouse_policy::{
    Context, Effect, Policy, PolicySet, PolicySource, Principal as PolicyPrincipal, Request,
    evaluate,
};

use crate::clock::Clock;
use crate::crypto::Sealer;
use crate::iam::{CompiledRole, Iam, Tag};
use crate::ids;
use crate::time::{from_unix_seconds, unix_seconds};

/// How long credentials live unless asked otherwise (one hour, as Cognito and STS).
pub const DEFAULT_SESSION_SECS: i64 = 3600;
/// The shortest session STS allows (15 minutes).
pub const MIN_SESSION_SECS: i64 = 900;
/// The longest session policy text, in characters other than whitespace (STS's plaintext
/// limit).
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;
/// Most session policy ARNs (STS's limit).
pub const MAX_SESSION_POLICY_ARNS: usize = 10;
/// Most session tags (STS's limit).
pub const MAX_SESSION_TAGS: usize = 50;
/// Most bytes of session tag keys and values together: what keeps a session token, which
/// carries them, well inside the 32 KiB request head of the listeners and the 16 KiB most
/// clients and proxies take in one header.
pub const MAX_SESSION_TAG_BYTES: usize = 4096;
/// The session name of credentials for a Cognito identity.
pub const COGNITO_SESSION_NAME: &str = "CognitoIdentityCredentials";
/// The federated principal identity pools assume roles as.
pub const COGNITO_FEDERATED_PRINCIPAL: &str = "cognito-identity.amazonaws.com";

/// The scope-down policy applied to guest (unauthenticated) identities on top of the
/// unauthenticated role, as Cognito's enhanced flow does: whatever the role allows, a guest
/// reaches only these services (the services of Cognito's documented list that gatehouse
/// serves or may front: DynamoDB, API Gateway invocation, Cognito Identity and the other
/// mobile-facing services of that list).
pub const GUEST_SESSION_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "GatehouseGuestScopeDown",
    "Effect": "Allow",
    "Action": [
      "cognito-identity:*", "cognito-sync:*", "mobileanalytics:PutEvents",
      "dynamodb:*", "execute-api:Invoke", "s3:*", "sns:*", "sqs:*", "kinesis:*",
      "firehose:*", "lambda:InvokeFunction", "polly:*", "rekognition:*", "translate:*",
      "comprehend:*", "transcribe:*", "lex:*", "mobiletargeting:*", "personalize:*",
      "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "iot:*", "appsync:GraphQL",
      "rum:PutRumEvents", "geo:GetMap*", "geo:SearchPlaceIndex*"
    ],
    "Resource": "*"
  }]
}"#;

/// Temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// What a session is issued for (see [`Sts::issue`]).
#[derive(Debug, Clone)]
pub struct SessionRequest<'a> {
    pub role: &'a CompiledRole,
    pub source: SessionSource,
    pub session_name: String,
    pub duration_secs: i64,
    pub identity_id: Option<String>,
    pub identity_pool_id: Option<String>,
    pub amr: Vec<String>,
    pub web_identity_keys: Vec<(String, String)>,
    pub session_policy: Option<SessionPolicy>,
    pub policy_arns: Vec<String>,
    pub tags: Vec<Tag>,
}

/// GetCallerIdentity's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

/// What AssumeRole asks for.
#[derive(Debug, Clone, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub duration_secs: Option<i64>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub tags: Vec<Tag>,
}

/// AssumeRole's answer.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    pub credentials: Credentials,
    /// `arn:aws:sts::{account}:assumed-role/{role}/{session}`.
    pub assumed_role_arn: String,
    /// `{role id}:{session}`.
    pub assumed_role_id: String,
    /// The session policies' share of STS's packed limit, in percent.
    pub packed_policy_size: u32,
}

/// The STS service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sealer: Arc<Sealer>,
    iam: Iam,
    clock: Arc<dyn Clock>,
}

// === impl Sts ===

impl Sts {
    /// The service sealing session tokens with `sealer`.
    pub fn new(sealer: Arc<Sealer>, iam: Iam, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner { sealer, iam, clock }),
        }
    }

    /// The IAM service roles are read from.
    pub fn iam(&self) -> &Iam {
        &self.inner.iam
    }

    /// The clock's current time.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// New credentials for `request`, issued at `now`.
    pub fn issue(
        &self,
        request: SessionRequest<'_>,
        now: SystemTime,
    ) -> Result<Credentials, StsError> {
        let issued_at = unix_seconds(now);
        let expires_at = issued_at.saturating_add(request.duration_secs);
        let claims = SessionClaims {
            format: SessionClaims::FORMAT,
            access_key_id: ids::temporary_access_key_id(),
            secret_access_key: ids::secret_access_key(),
            source: request.source,
            role_name: request.role.name.clone(),
            role_id: request.role.role_id.clone(),
            role_arn: request.role.arn.clone(),
            session_name: request.session_name,
            identity_id: request.identity_id,
            identity_pool_id: request.identity_pool_id,
            amr: request.amr,
            web_identity_keys: request.web_identity_keys,
            session_policy: request.session_policy,
            policy_arns: request.policy_arns,
            tags: request.tags,
            issued_at,
            expires_at,
        };
        let session_token = claims
            .seal(&self.inner.sealer)
            .map_err(|e| StsError::internal("session token", e))?;
        Ok(Credentials {
            access_key_id: claims.access_key_id,
            secret_access_key: claims.secret_access_key,
            session_token,
            expiration: from_unix_seconds(expires_at),
        })
    }

    /// Whether `role`'s trust policy lets `principal` take `action` on it with `context`,
    /// the caller's own policies being `identity` (empty for federated callers).
    pub fn trusts(
        role: &CompiledRole,
        action: &str,
        principal: &PolicyPrincipal,
        identity: &[&Policy],
        context: &Context,
    ) -> bool {
        let Some(trust) = &role.trust else {
            return false;
        };
        if role.is_broken() {
            return false;
        }
        let set = PolicySet {
            identity: identity.to_vec(),
            boundary: None,
            session: Vec::new(),
            resource: vec![trust],
        };
        let request = Request {
            action,
            resource: &role.arn,
            principal: Some(principal),
            context,
        };
        // The trust policy itself must name the caller (exactly or by its account): the
        // caller's own policies only complete a grant to the account, never replace it.
        let decision = evaluate(&set, &request);
        decision.is_allowed()
            && decision
                .matched
                .iter()
                .any(|m| matches!(m.source, PolicySource::Resource(_)) && m.effect == Effect::Allow)
    }

    /// GetCallerIdentity: any valid credentials, the operator's included.
    pub fn get_caller_identity(&self, principal: &Principal) -> CallerIdentity {
        let account = self.inner.iam.account_id().to_owned();
        CallerIdentity {
            user_id: principal.user_id(),
            arn: principal.arn(&account),
            account,
        }
    }

    /// AssumeRole, for the operator (the account) and for role sessions whose policies
    /// allow `sts:AssumeRole` on the role (or whose session the trust policy names).
    pub async fn assume_role(
        &self,
        caller: &Principal,
        permissions: &Permissions,
        facts: &RequestFacts,
        request: AssumeRole,
    ) -> Result<AssumedRole, StsError> {
        let now = self.now();
        check_session_name(&request.session_name)?;
        let (session_policy, packed) = session_policies(
            request.policy.as_deref(),
            &request.policy_arns,
            &request.tags,
        )?;
        let account = self.inner.iam.account_id().to_owned();
        let denied = || {
            StsError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn(&account),
                request.role_arn
            ))
        };
        let name = self
            .inner
            .iam
            .role_name_of_arn(&request.role_arn)
            .ok_or_else(denied)?;
        let role = self
            .inner
            .iam
            .compiled_role(name)
            .await?
            .ok_or_else(denied)?;
        if role.arn != request.role_arn {
            return Err(denied());
        }
        for arn in &request.policy_arns {
            if self.inner.iam.view().managed_policy(arn).is_none() {
                return Err(StsError::Validation(format!(
                    "policy ARN `{arn}` is not a managed policy of this account"
                )));
            }
        }
        let duration = duration_within(request.duration_secs, role.max_session_duration)?;
        let mut context = Context::new();
        caller.fill_context(&mut context, facts, permissions, &account);
        context.set("sts:RoleSessionName", vec![request.session_name.clone()]);
        for tag in &request.tags {
            context.set(
                &format!("aws:RequestTag/{}", tag.key),
                vec![tag.value.clone()],
            );
        }
        let principal = caller.policy_principal(&account);
        let allowed = match permissions {
            Permissions::Nothing => false,
            // The account itself: its identity is the root, which every grant to the
            // account reaches.
            Permissions::Unrestricted => {
                let everything = operator_policy();
                Self::trusts(
                    &role,
                    "sts:AssumeRole",
                    &principal,
                    &[&everything],
                    &context,
                )
            }
            Permissions::Session { role: own, .. } => {
                // The caller's own policies, under its boundary and session policies: its
                // effective permission to call sts:AssumeRole on the role.
                let own_allows =
                    permissions.authorize("sts:AssumeRole", &role.arn, &principal, &context)
                        == gatehouse_policy::Outcome::Allowed;
                let identity: Vec<&Policy> = if own_allows {
                    own.identity.iter().map(AsRef::as_ref).collect()
                } else {
                    Vec::new()
                };
                Self::trusts(&role, "sts:AssumeRole", &principal, &identity, &context)
            }
        };
        if !allowed {
            return Err(denied());
        }
        let credentials = self.issue(
            SessionRequest {
                role: &role,
                source: SessionSource::AssumeRole,
                session_name: request.session_name.clone(),
                duration_secs: duration,
                identity_id: None,
                identity_pool_id: None,
                amr: Vec::new(),
                web_identity_keys: Vec::new(),
                session_policy,
                policy_arns: request.policy_arns,
                tags: request.tags,
            },
            now,
        )?;
        Ok(AssumedRole {
            credentials,
            assumed_role_arn: format!(
                "arn:aws:sts::{account}:assumed-role/{}/{}",
                role.name, request.session_name
            ),
            assumed_role_id: format!("{}:{}", role.role_id, request.session_name),
            packed_policy_size: packed,
        })
    }
}

/// The operator's identity policy: everything.
fn operator_policy() -> Policy {
    #[expect(
        clippy::expect_used,
        reason = "a constant document, compiled by the tests"
    )]
    Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    )
    .expect("the operator policy compiles")
}

/// `RoleSessionName`: 2–64 of `[\w+=,.@-]`.
pub fn check_session_name(name: &str) -> Result<(), StsError> {
    let ok = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StsError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
        )))
    }
}

/// `DurationSeconds` between [`MIN_SESSION_SECS`] and the role's maximum (an hour when
/// none is asked for, cut to the maximum).
pub fn duration_within(asked: Option<i64>, max: i64) -> Result<i64, StsError> {
    match asked {
        None => Ok(DEFAULT_SESSION_SECS.min(max)),
        Some(secs) if secs < MIN_SESSION_SECS => Err(StsError::Validation(format!(
            "1 validation error detected: Value '{secs}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_SESSION_SECS}"
        ))),
        Some(secs) if secs > max => Err(StsError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .into(),
        )),
        Some(secs) => Ok(secs),
    }
}

/// Checks session tags against STS's rules (at most [`MAX_SESSION_TAGS`], keys of 1 to 128
/// characters and values of at most 256 from letters, digits, spaces and `_.:/=+-@`, no
/// `aws:` keys, no key twice ignoring case) and gatehouse's byte budget
/// ([`MAX_SESSION_TAG_BYTES`]).
pub fn check_session_tags(tags: &[Tag]) -> Result<(), String> {
    if tags.len() > MAX_SESSION_TAGS {
        return Err(format!(
            "at most {MAX_SESSION_TAGS} session tags are allowed"
        ));
    }
    let allowed = |c: char| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c);
    let mut bytes = 0usize;
    let mut seen: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let key_chars = tag.key.chars().count();
        if key_chars == 0
            || key_chars > 128
            || tag.value.chars().count() > 256
            || !tag.key.chars().all(allowed)
            || !tag.value.chars().all(allowed)
        {
            return Err(format!(
                "session tag `{}`: keys have 1 to 128 characters, values at most 256, of letters, digits, spaces and _.:/=+-@",
                tag.key.chars().take(128).collect::<String>()
            ));
        }
        let folded = tag.key.to_lowercase();
        if folded.starts_with("aws:") {
            return Err("session tag keys starting with `aws:` are reserved".into());
        }
        if seen.contains(&folded) {
            return Err(format!("session tag `{}` is given twice", tag.key));
        }
        seen.push(folded);
        bytes = bytes
            .saturating_add(tag.key.len())
            .saturating_add(tag.value.len());
    }
    if bytes > MAX_SESSION_TAG_BYTES {
        return Err(format!(
            "session tags take {bytes} bytes, more than the {MAX_SESSION_TAG_BYTES} allowed"
        ));
    }
    Ok(())
}

/// Checks session policies and tags against STS's limits; returns the inline policy and the
/// packed size in percent.
pub fn session_policies(
    policy: Option<&str>,
    arns: &[String],
    tags: &[Tag],
) -> Result<(Option<SessionPolicy>, u32), StsError> {
    if arns.len() > MAX_SESSION_POLICY_ARNS {
        return Err(StsError::Validation(format!(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to {MAX_SESSION_POLICY_ARNS}"
        )));
    }
    if tags.len() > MAX_SESSION_TAGS {
        return Err(StsError::Validation(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_SESSION_TAGS}"
        )));
    }
    let mut packed = 0usize;
    let inline = match policy {
        None => None,
        Some(text) => {
            let chars = text.chars().filter(|c| !c.is_whitespace()).count();
            if chars > MAX_SESSION_POLICY_CHARS {
                return Err(StsError::PackedPolicyTooLarge(format!(
                    "Packed policy consumes more than 100% of the allotted space ({chars} characters, limit {MAX_SESSION_POLICY_CHARS})"
                )));
            }
            crate::iam::check_session_policy(text)?;
            packed = chars;
            Some(SessionPolicy::Inline(text.to_owned()))
        }
    };
    let percent =
        u32::try_from(packed.saturating_mul(100) / MAX_SESSION_POLICY_CHARS).unwrap_or(100);
    Ok((inline, percent))
}

#[cfg(test)]
mod tests;
