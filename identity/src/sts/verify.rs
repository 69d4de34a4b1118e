//! Who signed a request, and what they may do: the one verifier of requests signed with
//! temporary credentials (or the operator's long-term ones), for every adapter that accepts
//! them (STS here; the DynamoDB proxy and the gateway's `AWS_IAM` methods use the same).
//!
//! ```text
//! let caller = verifier.authenticate(&request, &config, now)?;   // SigV4 + sealed token, no I/O
//! let permissions = verifier.permissions(&caller.principal);     // compiled, cached policies
//! caller.principal.fill_context(&mut context, &facts, &permissions);  // aws:*, cognito-identity…
//! let outcome = permissions.authorize(action, resource, &caller.principal, &context);
//! ```
//!
//! # Hot path
//! [`CredentialVerifier::authenticate`] parses the signature, opens the session token with
//! the master key (AES-GCM), checks its expiry and verifies the signature with the secret it
//! carries: no database read. Opened tokens are kept in a bounded cache, found by their
//! access key id and used only when the token presented is byte for byte the one that opened,
//! with the signing key of the day they last signed for (see [`MAX_CACHED_SESSIONS`]): a
//! client that signs many requests with the same credentials pays the AES-GCM open, its JSON
//! and the key derivation once, while the expiry and the signature are still checked on every
//! request. [`CredentialVerifier::permissions`] reads the IAM view
//! compiled in memory (see [`crate::iam::IamView`]); session policies passed inline are
//! compiled once per distinct text and kept in a bounded cache.
//!
//! # Refusals
//! A token that does not open (tampered, another master key, another access key id) and an
//! access key nobody issued are [`CredentialError::InvalidToken`] (`InvalidClientTokenId` /
//! `UnrecognizedClientException`); an expired one [`CredentialError::Expired`]
//! (`ExpiredToken`); a wrong secret the signature mismatch of [`SigV4Error`]. A session whose
//! role has since been deleted authenticates but is allowed nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use aws_lc_rs::digest;
use gatehouse_policy::{
    Context, Outcome, Policy, PolicySet, Principal as PolicyPrincipal, Request, evaluate,
};

use super::GUEST_SESSION_POLICY;
use super::token::{SessionClaims, SessionPolicy, SessionSource};
use crate::crypto::Sealer;
use crate::http::OperatorCredentials;
use crate::iam::{CompiledRole, Iam, IamView};
use crate::sigv4::{self, SecretKey, SigV4Error, SigningKey, VerifiedRequest, VerifierConfig};
use crate::time::unix_seconds;
use gatehouse_policy::calendar::format_rfc3339;

/// Most distinct inline session policies kept compiled.
const MAX_CACHED_SESSION_POLICIES: usize = 4096;

/// Most opened session tokens kept (each a few hundred bytes of claims and a signing key:
/// about 4 MiB when full). Only credentials whose signature verified are kept; when the cache
/// is full the expired entries go first, and everything if none has expired.
pub(crate) const MAX_CACHED_SESSIONS: usize = 4096;

/// Why a request's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The signature itself (syntax, scope, time, mismatch).
    #[error(transparent)]
    Signature(#[from] SigV4Error),
    /// An unknown access key, or a session token that does not open with it.
    #[error("the security token included in the request is invalid")]
    InvalidToken,
    /// The temporary credentials have expired.
    #[error("the security token included in the request is expired")]
    Expired,
    /// The access key's region is not one this node serves.
    #[error("credential should be scoped to a valid region, not `{0}`")]
    WrongRegion(String),
}

/// Who signed a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The operator's long-term credentials: the account itself.
    Operator {
        access_key_id: String,
        account_id: String,
    },
    /// Temporary credentials this service issued.
    Session(Arc<SessionClaims>),
}

/// A request whose signature and credentials verified.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub request: VerifiedRequest,
}

/// What a principal may do: compiled policies, ready to evaluate.
#[derive(Debug, Clone)]
pub enum Permissions {
    /// The operator: everything (the account's root).
    Unrestricted,
    /// A role session.
    Session {
        role: Arc<CompiledRole>,
        /// Each must allow (the guest scope-down, an inline policy, policy ARNs).
        session: Vec<Arc<Policy>>,
    },
    /// Nothing: the session's role or one of its session policies is gone or broken.
    Nothing,
}

/// Facts about a request that only the adapter knows.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts {
    /// The client address (`aws:SourceIp`), as [`crate::net`] resolved it.
    pub source_ip: Option<IpAddr>,
    /// Whether it came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The verifier's clock (`aws:CurrentTime`, `aws:EpochTime`).
    pub now: SystemTime,
}

/// Verifies requests signed with temporary or operator credentials. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CredentialVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sealer: Arc<Sealer>,
    operator: OperatorCredentials,
    iam: Iam,
    /// Regions signatures may be scoped to (any when empty).
    regions: Vec<String>,
    guest_policy: Arc<Policy>,
    /// Inline session policies by SHA-256 of their text.
    session_policies: Mutex<HashMap<[u8; 32], Arc<Policy>>>,
    /// Opened session tokens by their access key id (the map's hasher is keyed at random,
    /// so the ids a client picks cannot be made to collide).
    sessions: Mutex<HashMap<String, OpenedSession>>,
    /// [`MAX_CACHED_SESSIONS`], smaller in tests.
    max_sessions: usize,
}

/// A session token that opened under its access key id (AES-GCM, the key id as associated
/// data) and verified a signature, and the signing key its secret last verified one with.
/// A request uses it only when it presents this very token: another token under the same key
/// id is opened on its own, as if nothing were cached. Comparing the token costs a `memcmp`;
/// keying by a digest of it cost a SHA-256 over a kilobyte and a half per request.
#[derive(Debug, Clone)]
struct OpenedSession {
    token: Box<str>,
    claims: Arc<SessionClaims>,
    signing: SigningKey,
}

// === impl Principal ===

impl Principal {
    /// `arn:aws:iam::{account}:root` or `arn:aws:sts::{account}:assumed-role/{role}/{session}`.
    pub fn arn(&self, account_id: &str) -> String {
        match self {
            Self::Operator { account_id, .. } => format!("arn:aws:iam::{account_id}:root"),
            Self::Session(claims) => format!(
                "arn:aws:sts::{account_id}:assumed-role/{}/{}",
                claims.role_name, claims.session_name
            ),
        }
    }

    /// `aws:userid`: the account id, or `{role id}:{session name}`.
    pub fn user_id(&self) -> String {
        match self {
            Self::Operator { account_id, .. } => account_id.clone(),
            Self::Session(claims) => format!("{}:{}", claims.role_id, claims.session_name),
        }
    }

    /// The session claims, for temporary credentials.
    pub fn session(&self) -> Option<&SessionClaims> {
        match self {
            Self::Operator { .. } => None,
            Self::Session(claims) => Some(claims),
        }
    }

    /// The principal as the policy engine matches it in `Principal` elements.
    pub fn policy_principal(&self, account_id: &str) -> PolicyPrincipal {
        PolicyPrincipal::Aws(self.arn(account_id))
    }

    /// Fills the request context as AWS does for this principal: `aws:userid`,
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:PrincipalTag/*`
    /// (the role's tags under the session's), `aws:SourceIp`, `aws:CurrentTime`,
    /// `aws:EpochTime`, `aws:SecureTransport`, `aws:TokenIssueTime`, and for Cognito
    /// identities `cognito-identity.amazonaws.com:sub`, `:aud` and `:amr` (and a web
    /// identity's own keys).
    pub fn fill_context(
        &self,
        context: &mut Context,
        facts: &RequestFacts,
        permissions: &Permissions,
        account_id: &str,
    ) {
        let now = unix_seconds(facts.now);
        context.set("aws:CurrentTime", vec![format_rfc3339(now)]);
        context.set("aws:EpochTime", vec![now.to_string()]);
        context.set(
            "aws:SecureTransport",
            vec![facts.secure_transport.to_string()],
        );
        if let Some(ip) = facts.source_ip {
            context.set("aws:SourceIp", vec![ip.to_string()]);
        }
        context.set("aws:userid", vec![self.user_id()]);
        context.set("aws:PrincipalAccount", vec![account_id.to_owned()]);
        match self {
            Self::Operator { .. } => {
                context.set("aws:PrincipalArn", vec![self.arn(account_id)]);
                context.set("aws:PrincipalType", vec!["Account".into()]);
            }
            Self::Session(claims) => {
                context.set("aws:PrincipalArn", vec![claims.role_arn.clone()]);
                context.set("aws:PrincipalType", vec!["AssumedRole".into()]);
                context.set("aws:TokenIssueTime", vec![format_rfc3339(claims.issued_at)]);
                if let Permissions::Session { role, .. } = permissions {
                    for tag in &role.tags {
                        context.set(
                            &format!("aws:PrincipalTag/{}", tag.key),
                            vec![tag.value.clone()],
                        );
                    }
                }
                for tag in &claims.tags {
                    context.set(
                        &format!("aws:PrincipalTag/{}", tag.key),
                        vec![tag.value.clone()],
                    );
                }
                if let Some(identity) = &claims.identity_id {
                    context.set("cognito-identity.amazonaws.com:sub", vec![identity.clone()]);
                }
                if let Some(pool) = &claims.identity_pool_id {
                    context.set("cognito-identity.amazonaws.com:aud", vec![pool.clone()]);
                }
                if !claims.amr.is_empty() {
                    context.set("cognito-identity.amazonaws.com:amr", claims.amr.clone());
                }
                for (key, value) in &claims.web_identity_keys {
                    context.insert(key, value.clone());
                }
            }
        }
    }
}

// === impl Permissions ===

impl Permissions {
    /// The decision on `action` over `resource` with `context` (filled by
    /// [`Principal::fill_context`]).
    pub fn authorize(
        &self,
        action: &str,
        resource: &str,
        principal: &PolicyPrincipal,
        context: &Context,
    ) -> Outcome {
        match self {
            Self::Unrestricted => Outcome::Allowed,
            Self::Nothing => Outcome::ImplicitDeny,
            Self::Session { role, session } => {
                let boundary = match &role.boundary {
                    Some(Some(boundary)) => Some(boundary.as_ref()),
                    Some(None) => return Outcome::ImplicitDeny,
                    None => None,
                };
                let set = PolicySet {
                    identity: role.identity.iter().map(AsRef::as_ref).collect(),
                    boundary,
                    session: session.iter().map(AsRef::as_ref).collect(),
                    resource: Vec::new(),
                };
                let request = Request {
                    action,
                    resource,
                    principal: Some(principal),
                    context,
                };
                evaluate(&set, &request).outcome
            }
        }
    }
}

// === impl CredentialVerifier ===

impl CredentialVerifier {
    /// A verifier accepting the operator's credentials and the temporary credentials sealed
    /// by `sealer`, signed for one of `regions` (any when empty).
    pub fn new(
        sealer: Arc<Sealer>,
        operator: OperatorCredentials,
        iam: Iam,
        regions: Vec<String>,
    ) -> Self {
        #[expect(
            clippy::expect_used,
            reason = "the guest policy is a constant of this crate, compiled by its tests"
        )]
        let guest_policy =
            Arc::new(Policy::parse(GUEST_SESSION_POLICY).expect("the guest policy compiles"));
        Self {
            inner: Arc::new(Inner {
                sealer,
                operator,
                iam,
                regions,
                guest_policy,
                session_policies: Mutex::new(HashMap::new()),
                sessions: Mutex::new(HashMap::new()),
                max_sessions: MAX_CACHED_SESSIONS,
            }),
        }
    }

    /// A verifier keeping at most `max` opened session tokens.
    #[cfg(test)]
    pub(crate) fn with_session_cache_capacity(self, max: usize) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|_| unreachable!("not shared yet"));
        Self {
            inner: Arc::new(Inner {
                max_sessions: max,
                ..inner
            }),
        }
    }

    /// How many opened session tokens are cached.
    #[cfg(test)]
    pub(crate) fn cached_sessions(&self) -> usize {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The token cached under `access_key_id`.
    #[cfg(test)]
    pub(crate) fn cached_token(&self, access_key_id: &str) -> Option<String> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(access_key_id)
            .map(|opened| opened.token.to_string())
    }

    /// The IAM service whose view decides sessions.
    pub fn iam(&self) -> &Iam {
        &self.inner.iam
    }

    /// The account id in ARNs.
    pub fn account_id(&self) -> &str {
        self.inner.iam.account_id()
    }

    /// Verifies the signature and the credentials (see the module docs). No I/O.
    pub fn authenticate(
        &self,
        request: &sigv4::Request<'_>,
        config: &VerifierConfig,
        now: SystemTime,
    ) -> Result<Authenticated, CredentialError> {
        let mut config = config.clone();
        if config.region.is_none()
            && let [only] = self.inner.regions.as_slice()
        {
            config.region = Some(only.clone());
        }
        let signed = sigv4::parse(request, &config, now)?;
        if !self.inner.regions.is_empty()
            && !self
                .inner
                .regions
                .iter()
                .any(|r| *r == signed.scope().region)
        {
            return Err(CredentialError::WrongRegion(signed.scope().region.clone()));
        }
        let access_key_id = signed.access_key_id().to_owned();
        match signed.security_token() {
            None => {
                let operator = &self.inner.operator;
                if !crate::crypto::constant_time_eq(
                    access_key_id.as_bytes(),
                    operator.access_key_id.as_bytes(),
                ) {
                    return Err(CredentialError::InvalidToken);
                }
                let verified =
                    signed.verify(&SecretKey::new(operator.secret_access_key.clone()))?;
                Ok(Authenticated {
                    principal: Principal::Operator {
                        access_key_id,
                        account_id: self.account_id().to_owned(),
                    },
                    request: verified,
                })
            }
            Some(token) => {
                let cached = self
                    .inner
                    .sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(access_key_id.as_str())
                    .filter(|opened| *opened.token == *token)
                    .map(|opened| (Arc::clone(&opened.claims), opened.signing.clone()));
                let (claims, cached_key) = match cached {
                    Some((claims, signing)) => (claims, Some(signing)),
                    None => {
                        let claims = SessionClaims::open(&self.inner.sealer, &access_key_id, token)
                            .map_err(|_| CredentialError::InvalidToken)?;
                        (Arc::new(claims), None)
                    }
                };
                // Checked on every request, cached or not.
                if unix_seconds(now) >= claims.expires_at {
                    return Err(CredentialError::Expired);
                }
                let (signing, fresh) = match cached_key {
                    Some(key) if key.scope() == signed.scope() => (key, false),
                    _ => {
                        let secret = SecretKey::new(claims.secret_access_key.clone());
                        (SigningKey::derive(&secret, signed.scope()), true)
                    }
                };
                // Copied out before `verify_with` consumes the request it borrows from.
                let fresh_token: Option<Box<str>> = fresh.then(|| token.into());
                let verified = signed.verify_with(&signing)?;
                if let Some(token) = fresh_token {
                    self.remember_session(access_key_id, token, &claims, signing, now);
                }
                Ok(Authenticated {
                    principal: Principal::Session(claims),
                    request: verified,
                })
            }
        }
    }

    /// Keeps an opened token whose signature verified (see [`MAX_CACHED_SESSIONS`]), in place
    /// of any other under the same access key id.
    fn remember_session(
        &self,
        access_key_id: String,
        token: Box<str>,
        claims: &Arc<SessionClaims>,
        signing: SigningKey,
        now: SystemTime,
    ) {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= self.inner.max_sessions && !sessions.contains_key(&access_key_id) {
            let now = unix_seconds(now);
            sessions.retain(|_, opened| opened.claims.expires_at > now);
            if sessions.len() >= self.inner.max_sessions {
                sessions.clear();
            }
        }
        sessions.insert(
            access_key_id,
            OpenedSession {
                token,
                claims: Arc::clone(claims),
                signing,
            },
        );
    }

    /// What `principal` may do, from the compiled view (no I/O).
    pub fn permissions(&self, principal: &Principal) -> Permissions {
        match principal {
            Principal::Operator { .. } => Permissions::Unrestricted,
            Principal::Session(claims) => self.session_permissions(claims, &self.inner.iam.view()),
        }
    }

    /// [`CredentialVerifier::permissions`], checking storage's change counter first when the
    /// role is not in the view (a role made on another node a moment ago).
    pub async fn permissions_loaded(&self, principal: &Principal) -> Permissions {
        // The storage read is boxed: it is rare, and its future is large.
        if let Principal::Session(claims) = principal
            && self.inner.iam.view().role(&claims.role_name).is_none()
            && let Err(e) = Box::pin(self.inner.iam.compiled_role(&claims.role_name)).await
        {
            tracing::warn!(error = %e, "IAM view refresh on a missing role failed");
        }
        self.permissions(principal)
    }

    fn session_permissions(&self, claims: &SessionClaims, view: &IamView) -> Permissions {
        let Some(role) = view.role(&claims.role_name) else {
            return Permissions::Nothing;
        };
        // A role deleted and made again under the same name is another role.
        if role.role_id != claims.role_id || role.is_broken() {
            return Permissions::Nothing;
        }
        let mut session = Vec::new();
        match &claims.session_policy {
            None => {}
            Some(SessionPolicy::CognitoGuest) => session.push(Arc::clone(&self.inner.guest_policy)),
            Some(SessionPolicy::Inline(text)) => match self.inline_policy(text) {
                Some(policy) => session.push(policy),
                None => return Permissions::Nothing,
            },
        }
        // Several session policy ARNs act as one session policy: their union must allow
        // (AWS combines the inline policy and the ARNs into one packed policy). Here each
        // managed policy ARN is kept apart: a stricter reading that never allows more.
        for arn in &claims.policy_arns {
            match view.managed_policy(arn) {
                Some(policy) => session.push(Arc::clone(policy)),
                None => return Permissions::Nothing,
            }
        }
        Permissions::Session {
            role: Arc::clone(role),
            session,
        }
    }

    fn inline_policy(&self, text: &str) -> Option<Arc<Policy>> {
        let key: [u8; 32] = digest::digest(&digest::SHA256, text.as_bytes())
            .as_ref()
            .try_into()
            .unwrap_or([0; 32]);
        let mut cache = self
            .inner
            .session_policies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(policy) = cache.get(&key) {
            return Some(Arc::clone(policy));
        }
        let policy = Arc::new(Policy::parse(text).ok()?);
        if cache.len() >= MAX_CACHED_SESSION_POLICIES {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&policy));
        Some(policy)
    }

    /// Whether the session came from an identity pool.
    pub fn is_cognito_session(principal: &Principal) -> bool {
        principal
            .session()
            .is_some_and(|c| c.source == SessionSource::CognitoIdentity)
    }
}
