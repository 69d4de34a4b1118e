//! Authorizers: the `Phase::Authorize` stage. A method's `authorization` picks one:
//! `COGNITO_USER_POOLS`/`jwt` ([`jwt`]: gatehouse pools through a [`PoolTokenVerifier`] the
//! binary provides, remote OIDC issuers through discovery and a cached JWKS), `TOKEN`/`REQUEST`
//! endpoints and Lambda functions ([`endpoint`]), or `AWS_IAM` ([`iam`]: SigV4 with operator or temporary
//! credentials, `execute-api:Invoke` on the method ARN, through an [`IamAuthorizer`] — the
//! binary passes [`iam::CredentialAuthorizer`] over identity's credential verifier).
//!
//! What reaches the backend (any header of these names sent by the client — also spelt with
//! `_` for `-` — is removed first, on every request, by
//! [`crate::server::proxy::clean_client_headers`], so a backend can trust them):
//!
//! | header | value |
//! |---|---|
//! | `x-gatehouse-principal-id` | the `sub` of a JWT, or a TOKEN/REQUEST authorizer's `principalId` |
//! | `x-gatehouse-claim-sub` | the JWT's `sub` |
//! | `x-gatehouse-claims` | every JWT claim as base64url (no padding) of the JSON object |
//! | `x-gatehouse-authorizer-context` | a TOKEN/REQUEST authorizer's `context`, base64url JSON |
//! | `x-gatehouse-principal-id` (`AWS_IAM`) | the caller's ARN (`$context.identity.userArn`) |
//! | `x-gatehouse-cognito-identity-id` | an `AWS_IAM` caller's Cognito identity, when it has one |
//!
//! Steady state costs a hash lookup: verified JWTs are cached under their text until they
//! expire; endpoint answers by identity source for the authorizer's TTL.

pub mod endpoint;
pub mod iam;
pub mod jwt;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};

use crate::definition::model::{Authorization, AuthorizerKind};
use crate::definition::responses::GatewayResponseType;
use crate::server::body::GatewayBody;
use crate::server::steps::{
    AuthorizerOutput, Identity, Phase, Prepared, Rejection, RequestContext, Step, StepFuture,
    Verdict,
};

pub use jwt::{KeyRingVerifier, PoolTokenVerifier, TokenRejection};

/// Settings of the authorizer step.
#[derive(Debug, Clone)]
pub struct AuthorizerConfig {
    /// Region and account in method ARNs (`arn:aws:execute-api:{region}:{account}:…`).
    pub region: String,
    pub account_id: String,
    /// Clock skew allowed on `exp`/`nbf` of remote tokens (local tokens are checked exactly).
    pub leeway_secs: i64,
    /// Least time between two JWKS fetches of one issuer caused by unknown `kid`s.
    pub jwks_refetch_interval: Duration,
    /// Verified tokens kept (entries).
    pub token_cache_entries: usize,
    /// Endpoint-authorizer answers kept (entries).
    pub endpoint_cache_entries: usize,
    /// Time limit of a call to an authorizer endpoint or an OIDC issuer.
    pub call_timeout: Duration,
    /// Certificates (DER) trusted for `https://` OIDC issuers besides the Mozilla roots
    /// compiled in: a private issuer's CA, or a test's self-signed certificate.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

/// The `AWS_IAM` slot: verifies a SigV4-signed request and decides `execute-api:Invoke` on
/// its method ARN, synchronously (no I/O on this path). Without one, `AWS_IAM` methods answer
/// 403 `Missing Authentication Token` to every request.
pub trait IamAuthorizer: Send + Sync + std::fmt::Debug + 'static {
    /// Decides the request in `cx` (its body's digest, if it has a body, is in
    /// `cx.extensions` as a [`PayloadDigest`]).
    fn authorize(&self, cx: &RequestContext<'_>) -> Result<IamGrant, iam::IamRefusal>;
}

/// The SHA-256 of a request body the pipeline read whole before the authorizers ran
/// (`AWS_IAM` methods only: SigV4 covers the body).
#[derive(Debug, Clone, Copy)]
pub struct PayloadDigest(pub [u8; 32]);

impl PayloadDigest {
    pub fn of(body: &[u8]) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
        // A SHA-256 digest is 32 bytes.
        Self(digest.as_ref().try_into().unwrap_or([0; 32]))
    }
}

/// What an [`IamAuthorizer`] established.
#[derive(Debug, Clone)]
pub struct IamGrant {
    pub identity: Identity,
    /// The caller's policies, kept for `execute-api:InvalidateCache` checks.
    pub policies: Vec<Arc<gatehouse_policy::Policy>>,
}

/// Policies an authorizer established for the caller (a TOKEN/REQUEST answer's policy
/// document or an IAM caller's policies); the cache step evaluates
/// `execute-api:InvalidateCache` with them.
#[derive(Debug, Clone)]
pub struct CallerPolicies(pub Vec<Arc<gatehouse_policy::Policy>>);

/// The authorizer step.
#[derive(Debug)]
pub struct AuthorizerStep {
    config: AuthorizerConfig,
    jwt: jwt::JwtVerifier,
    endpoint: endpoint::EndpointCaller,
    iam: Option<Arc<dyn IamAuthorizer>>,
}

/// The prefix of every header the authorizers add; a client's are removed before any stage.
pub(crate) const HEADER_PREFIX: &str = "x-gatehouse-";
pub const PRINCIPAL_HEADER: &str = "x-gatehouse-principal-id";
pub const CLAIM_SUB_HEADER: &str = "x-gatehouse-claim-sub";
pub const CLAIMS_HEADER: &str = "x-gatehouse-claims";
pub const CONTEXT_HEADER: &str = "x-gatehouse-authorizer-context";
pub const COGNITO_IDENTITY_HEADER: &str = "x-gatehouse-cognito-identity-id";

// === impl AuthorizerConfig ===

impl Default for AuthorizerConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            account_id: "000000000000".to_owned(),
            leeway_secs: 30,
            jwks_refetch_interval: Duration::from_secs(30),
            token_cache_entries: 100_000,
            endpoint_cache_entries: 100_000,
            call_timeout: Duration::from_secs(10),
            extra_root_certificates: Vec::new(),
        }
    }
}

// === impl AuthorizerStep ===

impl AuthorizerStep {
    /// `pools` verifies tokens of gatehouse user pools (`None`: pool authorizers refuse every
    /// token); `iam` fills the `AWS_IAM` slot.
    pub fn new(
        config: AuthorizerConfig,
        pools: Option<Arc<dyn PoolTokenVerifier>>,
        iam: Option<Arc<dyn IamAuthorizer>>,
    ) -> Self {
        Self {
            jwt: jwt::JwtVerifier::new(&config, pools),
            endpoint: endpoint::EndpointCaller::new(&config),
            config,
            iam,
        }
    }

    /// Lambda authorizers call their functions through `functions`.
    pub fn with_functions(mut self, functions: gatehouse_identity::functions::Functions) -> Self {
        self.endpoint.functions = Some(functions);
        self
    }

    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{VERB}/{path}`.
    pub fn method_arn(&self, cx: &RequestContext<'_>) -> String {
        method_arn(&self.config, cx)
    }
}

/// The method ARN policies are evaluated on: `{path}` is the path below the stage as
/// routing matched it — percent-decoded, without a trailing slash — as API Gateway builds
/// it, so `GET /prod/%61dmin` and `GET /prod/admin/` are both `…/GET/admin` and a `Deny` on
/// `…/GET/admin*` covers every spelling that reaches the `admin` route.
pub(crate) fn method_arn(config: &AuthorizerConfig, cx: &RequestContext<'_>) -> String {
    method_arn_in(&config.region, &config.account_id, cx)
}

/// [`method_arn`] in `region` and `account` (an `AWS_IAM` request's ARN names the region it
/// was signed for).
pub(crate) fn method_arn_in(region: &str, account: &str, cx: &RequestContext<'_>) -> String {
    use std::fmt::Write as _;
    let path = cx.hit.resource_request_path.as_str();
    let mut arn = String::with_capacity(48 + region.len() + cx.hit.api.id.len() + path.len());
    let _ = write!(
        arn,
        "arn:aws:execute-api:{}:{}:{}/{}/{}/",
        region,
        account,
        cx.hit.api.id,
        cx.hit.stage.stage.name,
        cx.head.method.as_str(),
    );
    crate::definition::path::push_decoded_path(&mut arn, path);
    arn
}

/// The request context every policy decision about a request is evaluated in —
/// `execute-api:Invoke` on an authorizer's policy and `execute-api:InvalidateCache` alike, so
/// a condition on the caller's address or the time means the same in both: `aws:SourceIp`
/// (the one resolved client address), `aws:CurrentTime` and `aws:EpochTime` (the request's
/// time), and `aws:SecureTransport` (whether the client's connection to the gateway is TLS).
pub(crate) fn policy_context(cx: &RequestContext<'_>) -> gatehouse_policy::Context {
    let now = gatehouse_policy::calendar::unix_seconds(cx.now);
    gatehouse_policy::Context::new()
        .with(
            "aws:CurrentTime",
            gatehouse_policy::calendar::format_rfc3339(now),
        )
        .with("aws:EpochTime", now.to_string())
        .with("aws:SourceIp", cx.source_ip.to_string())
        .with(
            "aws:SecureTransport",
            if cx.secure { "true" } else { "false" },
        )
}

impl Step for AuthorizerStep {
    fn name(&self) -> &'static str {
        "authorizer"
    }

    fn phase(&self) -> Phase {
        Phase::Authorize
    }

    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        _prepared: &'a Prepared,
    ) -> StepFuture<'a> {
        match &cx.hit.definition.settings.authorization {
            Authorization::None => StepFuture::ready(Verdict::Continue),
            Authorization::AwsIam => match &self.iam {
                None => StepFuture::ready(Verdict::Reject(Rejection::new(
                    GatewayResponseType::MissingAuthenticationToken,
                ))),
                Some(iam) => StepFuture::ready(match iam.authorize(cx) {
                    Ok(grant) => {
                        record_iam(cx, grant);
                        Verdict::Continue
                    }
                    Err(refusal) => {
                        tracing::debug!(request_id = %cx.request_id, %refusal, "AWS_IAM refused");
                        iam::refusal_verdict(&refusal)
                    }
                }),
            },
            Authorization::Authorizer { name, scopes } => {
                let Some(authorizer) = cx.hit.api.authorizers.get(name) else {
                    return StepFuture::ready(Verdict::Reject(Rejection::new(
                        GatewayResponseType::AuthorizerConfigurationError,
                    )));
                };
                match &authorizer.kind {
                    AuthorizerKind::Jwt(config) => self.jwt.authorize(cx, config, scopes),
                    AuthorizerKind::Endpoint(config) => StepFuture::boxed(self.endpoint.authorize(
                        &self.config,
                        cx,
                        &authorizer.name,
                        config,
                    )),
                }
            }
        }
    }
}

/// Records an `AWS_IAM` caller: `$context.identity.*`, the policies the cache step checks
/// `execute-api:InvalidateCache` with, the backend's headers, and an authorizer output whose
/// `principal_key` tells callers apart for per-caller state (two Cognito identities share a
/// role session ARN, so the key names the identity or the access key too).
fn record_iam(cx: &mut RequestContext<'_>, grant: IamGrant) {
    let user_arn = grant.identity.user_arn.clone().unwrap_or_default();
    let distinct = grant
        .identity
        .cognito_identity_id
        .as_deref()
        .or(grant.identity.access_key.as_deref())
        .unwrap_or_default();
    let key: Arc<str> = format!("iam\0{user_arn}\0{distinct}").into();
    let cognito_identity_id = grant.identity.cognito_identity_id.clone();
    cx.identity = Identity {
        api_key: cx.identity.api_key.take(),
        api_key_id: cx.identity.api_key_id.take(),
        ..grant.identity
    };
    cx.extensions.insert(CallerPolicies(grant.policies));
    // The principal header first, then the identity's: the backend sees them in that order.
    record(cx, &user_arn, key, Arc::default(), Arc::default(), None);
    if let Some(id) = cognito_identity_id {
        set_header(cx, COGNITO_IDENTITY_HEADER, &id);
    }
}

/// base64url JSON of a map, as a header value.
pub(crate) fn encoded_header(value: &serde_json::Value) -> Option<HeaderValue> {
    let json = serde_json::to_vec(value).ok()?;
    HeaderValue::from_str(&URL_SAFE_NO_PAD.encode(json)).ok()
}

pub(crate) fn set_header(cx: &mut RequestContext<'_>, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        cx.head.headers.insert(HeaderName::from_static(name), value);
    }
}

/// Records an authorizer's result in the context.
pub(crate) fn record(
    cx: &mut RequestContext<'_>,
    principal_id: &str,
    principal_key: Arc<str>,
    claims: Arc<BTreeMap<String, String>>,
    context: Arc<BTreeMap<String, String>>,
    usage_identifier_key: Option<String>,
) {
    set_header(cx, PRINCIPAL_HEADER, principal_id);
    record_only(
        cx,
        principal_id,
        principal_key,
        claims,
        context,
        usage_identifier_key,
    );
}

/// [`record`] without setting the principal header (the caller set it from a header value
/// it keeps).
pub(crate) fn record_only(
    cx: &mut RequestContext<'_>,
    principal_id: &str,
    principal_key: Arc<str>,
    claims: Arc<BTreeMap<String, String>>,
    context: Arc<BTreeMap<String, String>>,
    usage_identifier_key: Option<String>,
) {
    cx.authorizer = Some(AuthorizerOutput {
        principal_id: principal_id.to_owned(),
        principal_key,
        claims,
        context,
        usage_identifier_key,
    });
}

/// A 403 with API Gateway's ACCESS_DENIED body. It falls back to DEFAULT_4XX, whose template
/// is `{"message":$context.error.messageString}`: lower-case `message`, as AWS's
/// troubleshooting guide for Lambda-authorizer 403s shows
/// (`{"message": "User is not authorized to access this resource with an explicit deny"}`).
pub(crate) fn denied(explicit: bool) -> Verdict {
    let message = if explicit {
        "User is not authorized to access this resource with an explicit deny"
    } else {
        "User is not authorized to access this resource"
    };
    forbidden("AccessDeniedException", message)
}

/// A 403 with `{"message": …}` and `x-amzn-ErrorType: error_type`, as API Gateway answers.
pub(crate) fn forbidden(error_type: &'static str, message: &str) -> Verdict {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(GatewayBody::full(Bytes::from(body)));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        const { HeaderName::from_static("x-amzn-errortype") },
        HeaderValue::from_static(error_type),
    );
    Verdict::respond(response)
}

pub(crate) fn unauthorized() -> Verdict {
    Verdict::Reject(Rejection::new(GatewayResponseType::Unauthorized))
}
