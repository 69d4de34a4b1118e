//! The pipeline's extension points: [`Step`]s (the API keys, throttle, quota, cache and
//! authorizer stages of API Gateway's request flow, named steps here so that a stage always
//! means an API stage) that run between route resolution and the
//! integration, plugged in without touching the pipeline.
//!
//! A request goes through, in this order (API Gateway's):
//!
//! ```text
//! request id ─► resolve ─► CORS preflight ─► body size limit
//!    ─► Phase::Authorize ─► Phase::ApiKey ─► Phase::Throttle ─► Phase::Quota   (steps)
//!    ─► request validation (parameters, JSON body)                            (built in)
//!    ─► Phase::Cache                                                          (steps)
//!    ─► integration (HTTP proxy / HTTP / mock)                                (built in)
//!    ◄─ on_response of every step that ran, in reverse order                  (steps)
//!    ◄─ CORS headers, metrics, access log                                     (built in)
//!    ◄─ x-amzn-RequestId (written into the head, or put in the map for hyper)  (built in)
//! ```
//!
//! A step sees the resolved route (API, stage, method settings such as `api_key_required`
//! and `authorization`, the stage's throttle and cache settings for this route), the request
//! head (it may add headers for the backend, e.g. verified claims), and writes what it learnt
//! into [`RequestContext::identity`] and [`RequestContext::authorizer`], which feed parameter
//! mappings (`context.authorizer.claims.sub`) and access logs (`$context.identity.apiKey`).
//!
//! Per-snapshot state (a limiter per route, a key table, compiled JWKS settings) is built by
//! [`Step::prepare`] whenever a new definition is swapped in and handed back with every
//! request of that snapshot, so a request never mixes an old route table with new state.
//! Synchronous steps (key lookup, GCRA throttling, cache hits) return
//! [`StepFuture::ready`] and cost no allocation; only steps that wait (a remote authorizer,
//! a JWKS fetch) box a future.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use http::{HeaderName, HeaderValue, Response};

use crate::definition::compiled::{Gateway, RouteHit};
use crate::definition::responses::GatewayResponseType;
use crate::server::body::GatewayBody;
use crate::server::request_id::RequestId;

/// Where a step runs. Steps of one phase run in the order they were registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Authorizers: `COGNITO_USER_POOLS`/JWT, `AWS_IAM`, `TOKEN`/`REQUEST` endpoints. Sets
    /// [`RequestContext::authorizer`] (and `identity` for IAM); rejects with
    /// `Unauthorized` (401) or `AccessDenied` (403).
    Authorize,
    /// API keys: reads `x-api-key` (or the authorizer's `usageIdentifierKey`) when the method
    /// has `api_key_required`; sets `identity.api_key`/`api_key_id`; rejects with
    /// `InvalidApiKey` (403 `Forbidden`).
    ApiKey,
    /// Throttling (usage-plan per key and per key-and-method, stage/method defaults,
    /// account-wide); rejects with `Throttled` (429) plus `Retry-After`.
    Throttle,
    /// Quotas per usage plan; rejects with `QuotaExceeded` (429) plus `Retry-After`.
    Quota,
    /// Response cache, after request validation: answers a hit with [`Verdict::Respond`];
    /// stores misses from [`Step::on_response`].
    Cache,
}

/// What a step decided about a request.
#[derive(Debug)]
pub enum Verdict {
    /// Go on with the next step.
    Continue,
    /// Answer with a gateway response (`{"message": …}` in API Gateway's words).
    Reject(Rejection),
    /// Answer with this response (a cache hit); the integration is skipped, the remaining
    /// steps' `on_request` too, but `on_response` of the steps that ran still applies.
    /// Boxed: a response is large and rare here, and every step's verdict is moved a few
    /// times on every request (see [`Verdict::respond`]).
    Respond(Box<Response<GatewayBody>>),
}

impl Verdict {
    /// Answer with `response` ([`Verdict::Respond`]).
    pub fn respond(response: Response<GatewayBody>) -> Self {
        Self::Respond(Box::new(response))
    }
}

/// A gateway response with extra headers (`Retry-After`, `WWW-Authenticate`).
#[derive(Debug, Clone)]
pub struct Rejection {
    pub kind: GatewayResponseType,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The future a step returns: ready at once (no allocation) or boxed.
#[derive(Debug)]
pub enum StepFuture<'a> {
    Ready(Option<Verdict>),
    Pending(PendingVerdict<'a>),
}

/// A boxed step future (a wrapper so `StepFuture` can implement `Debug`).
pub struct PendingVerdict<'a>(Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>);

/// State a step prepared for one snapshot (see [`Step::prepare`]); downcast it with
/// `prepared.downcast_ref::<MyState>()`.
pub type Prepared = Arc<dyn Any + Send + Sync>;

/// A pipeline step. See the module docs for the order and what each phase is for.
pub trait Step: Send + Sync + std::fmt::Debug + 'static {
    /// A short, fixed name (`api_key`, `throttle`, `cache`): the `stage` label of
    /// `gatehouse_gateway_stage_outcomes_total` and what logs say.
    fn name(&self) -> &'static str;

    fn phase(&self) -> Phase;

    /// Builds this step's state for a new snapshot, before it is swapped in. An error
    /// refuses the whole reload (the old snapshot keeps serving), so a definition the step
    /// cannot serve never goes live.
    fn prepare(&self, gateway: &Gateway) -> Result<Prepared, String> {
        let _ = gateway;
        Ok(Arc::new(()))
    }

    /// Looks at a request before the integration.
    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        prepared: &'a Prepared,
    ) -> StepFuture<'a>;

    /// Sees (and may change, replace or wrap the body of) the response of a request whose
    /// `on_request` ran, including gateway errors and other steps' `Respond`s. Default:
    /// unchanged. The response is lent, not passed by value: moving it in and out of every
    /// step would copy it twice per step.
    ///
    /// The request headers of an HTTP integration went to the backend without a copy, so
    /// `cx.head.headers` may be empty here: what `on_response` needs from the request,
    /// `on_request` keeps in `cx.extensions`.
    fn on_response(
        &self,
        cx: &RequestContext<'_>,
        prepared: &Prepared,
        response: &mut Response<GatewayBody>,
    ) {
        let _ = (cx, prepared, response);
    }
}

/// What the pipeline knows about a request while the steps run.
#[derive(Debug)]
pub struct RequestContext<'g> {
    pub request_id: RequestId,
    /// The time the request arrived (from the service's clock).
    pub now: SystemTime,
    pub source_ip: IpAddr,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure: bool,
    /// The resolved route: `hit.api`, `hit.stage` (variables, settings), `hit.definition`
    /// (method settings and integration), `hit.settings` (throttle and cache for this route),
    /// `hit.route` (dense id for per-route tables), `hit.path_params`.
    pub hit: RouteHit<'g>,
    /// The request head. Headers added here reach an `HTTP_PROXY` backend (mapped ones
    /// override them); `HTTP` backends only get mapped headers. `Connection` and `Upgrade`
    /// added here do not make the request a WebSocket upgrade: only the client's can
    /// ([`Self::websocket`]).
    pub head: http::request::Parts,
    /// Who the caller is, as far as the steps found out.
    pub identity: Identity,
    /// What the authorizer returned, if the method has one.
    pub authorizer: Option<AuthorizerOutput>,
    /// Headers to add to the final response (`X-Cache: Hit`).
    pub response_headers: Vec<(HeaderName, HeaderValue)>,
    /// Per-request data a step passes from its `on_request` to its `on_response` (a cache
    /// key); empty, and unallocated, unless a step uses it.
    pub extensions: http::Extensions,
    /// The key step's finding, for the throttle and quota steps: a field of its own, where an
    /// entry in `extensions` would allocate a map on every request with an API key.
    pub(crate) usage_key: Option<crate::server::usage::steps::KeyContext>,
    /// The client asked for a WebSocket upgrade (`Connection: upgrade`, `Upgrade:
    /// websocket`); read off the client's headers as they were cleaned.
    pub(crate) websocket: bool,
}

/// `$context.identity.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The API key the caller presented (after validation).
    pub api_key: Option<String>,
    /// Its id (the stored key's name or id, never the secret).
    pub api_key_id: Option<String>,
    /// `AWS_IAM` callers: `aws:userid` (`AROA…:session`, or the account id).
    pub caller: Option<String>,
    pub user: Option<String>,
    pub user_arn: Option<String>,
    pub account_id: Option<String>,
    /// The access key id the request was signed with (`AWS_IAM`).
    pub access_key: Option<String>,
    pub cognito_identity_id: Option<String>,
    pub cognito_identity_pool_id: Option<String>,
    /// `authenticated` or `unauthenticated` (a Cognito identity's credentials).
    pub cognito_authentication_type: Option<String>,
    /// The login providers of a Cognito identity, comma-separated.
    pub cognito_authentication_provider: Option<String>,
}

/// `$context.authorizer.*`: what an authorizer established.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerOutput {
    /// `principalId` (the `sub` of a JWT, or what a TOKEN/REQUEST authorizer answered).
    pub principal_id: String,
    /// Who the caller is for state kept per caller (the response cache's key): the issuer
    /// and `sub` of a JWT — a digest of the token itself when it has no `sub`, so such a
    /// token never shares an entry with another — or the authorizer's name and
    /// `principalId` for TOKEN/REQUEST. Made once per verified token or cached answer.
    pub principal_key: Arc<str>,
    /// JWT claims, stringified (`claims.sub`, `claims.cognito:groups`). Shared with the
    /// authorizer's cache: a cached token costs a reference count, not a copy of the map.
    pub claims: Arc<BTreeMap<String, String>>,
    /// A TOKEN/REQUEST authorizer's `context` map.
    pub context: Arc<BTreeMap<String, String>>,
    /// The API key to use when the API's key source is `AUTHORIZER`.
    pub usage_identifier_key: Option<String>,
}

// === impl RequestContext ===

impl RequestContext<'_> {
    /// `$context.protocol`: the HTTP version the client spoke (`HTTP/1.1`, `HTTP/2.0`).
    pub fn protocol(&self) -> &'static str {
        version_name(self.head.version)
    }
}

/// API Gateway's name of an HTTP version.
pub(crate) fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

// === impl Rejection ===

impl Rejection {
    pub fn new(kind: GatewayResponseType) -> Self {
        Self {
            kind,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

// === impl StepFuture ===

impl<'a> StepFuture<'a> {
    /// A decision made without waiting.
    pub fn ready(decision: Verdict) -> Self {
        Self::Ready(Some(decision))
    }

    /// A decision that needs to wait (a network call).
    pub fn boxed(future: impl Future<Output = Verdict> + Send + 'a) -> Self {
        Self::Pending(PendingVerdict(Box::pin(future)))
    }
}

impl Future for StepFuture<'_> {
    type Output = Verdict;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Verdict> {
        match self.get_mut() {
            // Polled again after completion: continue rather than panic.
            Self::Ready(decision) => Poll::Ready(decision.take().unwrap_or(Verdict::Continue)),
            Self::Pending(PendingVerdict(future)) => future.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for PendingVerdict<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingVerdict")
    }
}

// === impl Identity ===

impl Identity {
    /// The value of `identity.NAME` (`apiKey`, `apiKeyId`, `caller`, `user`, `userArn`, …).
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "apiKey" => self.api_key.as_deref(),
            "apiKeyId" => self.api_key_id.as_deref(),
            "caller" => self.caller.as_deref(),
            "user" => self.user.as_deref(),
            "userArn" => self.user_arn.as_deref(),
            "accountId" => self.account_id.as_deref(),
            "accessKey" => self.access_key.as_deref(),
            "cognitoIdentityId" => self.cognito_identity_id.as_deref(),
            "cognitoIdentityPoolId" => self.cognito_identity_pool_id.as_deref(),
            "cognitoAuthenticationType" => self.cognito_authentication_type.as_deref(),
            "cognitoAuthenticationProvider" => self.cognito_authentication_provider.as_deref(),
            _ => None,
        }
    }
}

// === impl AuthorizerOutput ===

impl AuthorizerOutput {
    /// The value of `authorizer.NAME`: `principalId`, `claims.X`, or a context key.
    pub fn get(&self, name: &str) -> Option<&str> {
        if name == "principalId" {
            return Some(&self.principal_id);
        }
        if let Some(claim) = name.strip_prefix("claims.") {
            return self.claims.get(claim).map(String::as_str);
        }
        self.context.get(name).map(String::as_str)
    }
}

/// The steps of a service, ordered by phase (stable within a phase).
#[derive(Debug, Clone, Default)]
pub struct Steps {
    list: Vec<Arc<dyn Step>>,
}

impl Steps {
    pub fn new(steps: impl IntoIterator<Item = Arc<dyn Step>>) -> Self {
        let mut list: Vec<Arc<dyn Step>> = steps.into_iter().collect();
        list.sort_by_key(|s| s.phase());
        Self { list }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Step>> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Arc<dyn Step>> {
        self.list.get(i)
    }
}
