//! The response cache (`Phase::Cache`): per stage, opt-in, bounded by bytes.
//!
//! - On when the stage's cache is enabled with a TTL > 0; GET only unless a method setting
//!   enables caching (see [`crate::definition::compiled::RouteSettings::caches`]).
//! - Key: method, path, the values of the method's cache key parameters, and the authorizer's
//!   principal when the method is authorized (one user never sees another's response): for
//!   a JWT its issuer and `sub` (a `sub` alone could be anybody's at another issuer), for a
//!   token without `sub` a digest of the token, for TOKEN/REQUEST authorizers their name and
//!   `principalId` (see [`crate::server::AuthorizerOutput::principal_key`]).
//! - Only 2xx responses of at most 1 MiB are stored (the body is copied while it streams to
//!   the client; a larger one is passed on and not stored). Memory per stage is bounded by
//!   the stage's `size_mb` (entries weighed by body and header bytes).
//! - `Cache-Control: max-age=0` refreshes the entry when the stage allows it: `AllowAll`;
//!   `RequireAuthorization` (API Gateway's default) when the caller's policies (a
//!   TOKEN/REQUEST authorizer's policy document, or IAM policies) allow
//!   `execute-api:InvalidateCache` on the method ARN — JWT callers have none, so it is
//!   ignored for them; `Ignore` never.
//! - Every cacheable response carries `X-Cache: Hit` or `X-Cache: Miss`;
//!   [`CacheStep::render_metrics`] gives hit/miss counters for `/metrics`.
//! - [`CacheStep::flush`] empties a stage's cache (the operator API's
//!   `DELETE /restapis/{api}/stages/{stage}/cache/data`).

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame};

use crate::definition::compiled::Gateway;
use crate::definition::mapping::ParamLocation;
use crate::server::authorizers::{AuthorizerConfig, CallerPolicies, method_arn, policy_context};
use crate::server::body::{BodyError, GatewayBody};
use crate::server::steps::{Phase, Prepared, RequestContext, Step, StepFuture, Verdict};

/// What `Cache-Control: max-age=0` may do on a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheControlMode {
    /// Never refresh on request.
    Ignore,
    /// Refresh when the caller may `execute-api:InvalidateCache` (API Gateway's default).
    RequireAuthorization,
    /// Any caller may refresh.
    AllowAll,
}

/// Settings of the cache step.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Per `(api, stage)`: overrides the stage's `require_authorization_for_cache_control`.
    pub cache_control: BTreeMap<(String, String), CacheControlMode>,
    /// Largest body stored (1 MiB).
    pub max_entry_bytes: usize,
    /// For method ARNs in `InvalidateCache` checks.
    pub arn: AuthorizerConfig,
}

/// The response header that says whether the cache answered.
pub const CACHE_HEADER: &str = "x-cache";

/// The cache step; keep an `Arc` to flush stages and render metrics.
#[derive(Debug)]
pub struct CacheStep {
    config: CacheConfig,
    caches: Mutex<HashMap<(String, String), Arc<StageCache>>>,
    hits: AtomicU64,
    misses: AtomicU64,
    stored: Arc<AtomicU64>,
}

#[derive(Debug)]
struct StageCache {
    capacity: u64,
    entries: quick_cache::sync::Cache<String, Arc<Entry>, Weight>,
}

#[derive(Debug, Clone)]
struct Weight;

#[derive(Debug)]
struct Entry {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    expires_at_ms: i64,
    weight: u64,
}

/// Per snapshot: the cache of each stage index (`None`: caching off).
#[derive(Debug)]
struct Caches(Vec<Option<Arc<StageCache>>>);

/// A miss to store when the response comes back.
#[derive(Debug, Clone)]
struct PendingStore {
    cache: Arc<StageCache>,
    key: String,
    expires_at_ms: i64,
}

// === impl CacheConfig ===

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            cache_control: BTreeMap::new(),
            max_entry_bytes: 1024 * 1024,
            arn: AuthorizerConfig::default(),
        }
    }
}

impl quick_cache::Weighter<String, Arc<Entry>> for Weight {
    fn weight(&self, _key: &String, entry: &Arc<Entry>) -> u64 {
        entry.weight
    }
}

// === impl CacheStep ===

impl CacheStep {
    pub fn new(config: CacheConfig) -> Self {
        Self {
            config,
            caches: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stored: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Empties a stage's cache; `false` when the stage has no cache.
    pub fn flush(&self, api_id: &str, stage: &str) -> bool {
        let caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        match caches.get(&(api_id.to_owned(), stage.to_owned())) {
            Some(cache) => {
                cache.entries.clear();
                true
            }
            None => false,
        }
    }

    /// `(hits, misses)` since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Prometheus text for the cache counters.
    pub fn render_metrics(&self) -> String {
        let (hits, misses) = self.counts();
        format!(
            "# HELP gatehouse_gateway_cache_hits_total Responses served from the cache.\n\
             # TYPE gatehouse_gateway_cache_hits_total counter\n\
             gatehouse_gateway_cache_hits_total {hits}\n\
             # HELP gatehouse_gateway_cache_misses_total Cacheable requests the cache could not answer.\n\
             # TYPE gatehouse_gateway_cache_misses_total counter\n\
             gatehouse_gateway_cache_misses_total {misses}\n\
             # HELP gatehouse_gateway_cache_stores_total Responses stored in the cache.\n\
             # TYPE gatehouse_gateway_cache_stores_total counter\n\
             gatehouse_gateway_cache_stores_total {}\n",
            self.stored.load(Ordering::Relaxed)
        )
    }

    fn mode(&self, cx: &RequestContext<'_>) -> CacheControlMode {
        let key = (cx.hit.api.id.clone(), cx.hit.stage.stage.name.clone());
        self.config.cache_control.get(&key).copied().unwrap_or(
            if cx.hit.settings.require_authorization_for_cache_control {
                CacheControlMode::RequireAuthorization
            } else {
                CacheControlMode::AllowAll
            },
        )
    }

    /// Whether this request asks for (and may get) a fresh response.
    fn refresh_requested(&self, cx: &RequestContext<'_>) -> bool {
        let asks = cx
            .head
            .headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|d| d.trim().eq_ignore_ascii_case("max-age=0"));
        if !asks {
            return false;
        }
        match self.mode(cx) {
            CacheControlMode::Ignore => false,
            CacheControlMode::AllowAll => true,
            CacheControlMode::RequireAuthorization => {
                let Some(CallerPolicies(policies)) = cx.extensions.get::<CallerPolicies>() else {
                    return false;
                };
                let arn = method_arn(&self.config.arn, cx);
                let context = policy_context(cx);
                let set = gatehouse_policy::PolicySet {
                    identity: policies.iter().map(|p| &**p).collect(),
                    ..Default::default()
                };
                gatehouse_policy::evaluate(
                    &set,
                    &gatehouse_policy::Request {
                        action: "execute-api:InvalidateCache",
                        resource: &arn,
                        principal: None,
                        context: &context,
                    },
                )
                .is_allowed()
            }
        }
    }
}

/// method, path, cache key parameters, principal.
fn cache_key(cx: &RequestContext<'_>) -> String {
    let mut key = String::with_capacity(128);
    key.push_str(cx.head.method.as_str());
    key.push('\0');
    key.push_str(cx.head.uri.path());
    let query = cx.head.uri.query().unwrap_or("");
    for param in &cx.hit.definition.settings.cache_key_parameters {
        key.push('\0');
        key.push_str(&param.name);
        key.push('=');
        match param.location {
            ParamLocation::Path => {
                if let Some((_, v)) = cx.hit.path_params.iter().find(|(k, _)| *k == param.name) {
                    key.push_str(v);
                }
            }
            ParamLocation::QueryString | ParamLocation::MultiValueQueryString => {
                for pair in query.split('&') {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if k == param.name {
                        key.push_str(v);
                        key.push('&');
                    }
                }
            }
            ParamLocation::Header | ParamLocation::MultiValueHeader => {
                for v in cx.head.headers.get_all(param.name.as_str()) {
                    key.push_str(&String::from_utf8_lossy(v.as_bytes()));
                    key.push('\n');
                }
            }
        }
    }
    if let Some(authorizer) = &cx.authorizer {
        key.push_str("\0principal=");
        key.push_str(&authorizer.principal_key);
    }
    if let Some(user) = &cx.identity.user_arn {
        key.push_str("\0user=");
        key.push_str(user);
    }
    key
}

impl Step for CacheStep {
    fn name(&self) -> &'static str {
        "cache"
    }

    fn phase(&self) -> Phase {
        Phase::Cache
    }

    fn prepare(&self, gateway: &Gateway) -> Result<Prepared, String> {
        let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        let mut per_stage: Vec<Option<Arc<StageCache>>> = vec![None; gateway.stage_count()];
        let mut live = HashMap::new();
        for compiled in gateway.stages() {
            let settings = compiled.stage.cache;
            if !settings.enabled || settings.ttl_seconds == 0 {
                continue;
            }
            let key = (compiled.stage.api_id.clone(), compiled.stage.name.clone());
            let cache = match caches.get(&key) {
                Some(c) if c.capacity == settings.capacity_bytes => Arc::clone(c),
                _ => Arc::new(StageCache {
                    capacity: settings.capacity_bytes,
                    entries: quick_cache::sync::Cache::with_weighter(
                        usize::try_from(settings.capacity_bytes / 4096)
                            .unwrap_or(1024)
                            .max(16),
                        settings.capacity_bytes,
                        Weight,
                    ),
                }),
            };
            if let Some(slot) = per_stage.get_mut(compiled.index()) {
                *slot = Some(Arc::clone(&cache));
            }
            live.insert(key, cache);
        }
        *caches = live;
        Ok(Arc::new(Caches(per_stage)))
    }

    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        prepared: &'a Prepared,
    ) -> StepFuture<'a> {
        if !cx.hit.settings.caches(cx.head.method.as_str()) {
            return StepFuture::ready(Verdict::Continue);
        }
        let Some(cache) = prepared
            .downcast_ref::<Caches>()
            .and_then(|c| c.0.get(cx.hit.stage.index()))
            .and_then(Option::as_ref)
        else {
            return StepFuture::ready(Verdict::Continue);
        };
        let key = cache_key(cx);
        let now_ms = gatehouse_policy::calendar::unix_millis(cx.now);
        if !self.refresh_requested(cx)
            && let Some(entry) = cache.entries.get(&key)
            && entry.expires_at_ms > now_ms
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            let mut response = Response::new(GatewayBody::full(entry.body.clone()));
            *response.status_mut() = entry.status;
            let headers = response.headers_mut();
            for (name, value) in &entry.headers {
                headers.append(name.clone(), value.clone());
            }
            cx.response_headers.push((
                const { HeaderName::from_static(CACHE_HEADER) },
                HeaderValue::from_static("Hit"),
            ));
            return StepFuture::ready(Verdict::respond(response));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        cx.response_headers.push((
            const { HeaderName::from_static(CACHE_HEADER) },
            HeaderValue::from_static("Miss"),
        ));
        cx.extensions.insert(PendingStore {
            cache: Arc::clone(cache),
            key,
            expires_at_ms: now_ms + i64::from(cx.hit.settings.cache_ttl_seconds) * 1000,
        });
        StepFuture::ready(Verdict::Continue)
    }

    fn on_response(
        &self,
        cx: &RequestContext<'_>,
        _prepared: &Prepared,
        response: &mut Response<GatewayBody>,
    ) {
        let Some(pending) = cx.extensions.get::<PendingStore>() else {
            return;
        };
        if !response.status().is_success() {
            return;
        }
        let limit = self.config.max_entry_bytes;
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return;
        }
        let headers: Vec<(HeaderName, HeaderValue)> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "content-length"
                        | "transfer-encoding"
                        | "connection"
                        | "keep-alive"
                        | "x-amzn-requestid"
                        | "date"
                        | "set-cookie"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let tee = Tee {
            inner: std::mem::take(response.body_mut()),
            buffer: BytesMut::new(),
            limit,
            sink: Some(Sink {
                pending: pending.clone(),
                status: response.status(),
                headers,
            }),
            stored: Arc::clone(&self.stored),
        };
        *response.body_mut() =
            GatewayBody::Boxed(http_body_util::combinators::UnsyncBoxBody::new(tee));
    }
}

/// Copies a response body while it streams; stores it when complete and small enough.
struct Tee {
    inner: GatewayBody,
    buffer: BytesMut,
    limit: usize,
    /// Where to store the copy; `None` once stored or given up.
    sink: Option<Sink>,
    stored: Arc<AtomicU64>,
}

struct Sink {
    pending: PendingStore,
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Tee {
    fn store(&mut self) {
        let Some(sink) = self.sink.take() else {
            return;
        };
        let body = std::mem::take(&mut self.buffer).freeze();
        let header_bytes: usize = sink
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        let weight = (body.len() + sink.pending.key.len() + header_bytes + 64) as u64;
        sink.pending.cache.entries.insert(
            sink.pending.key,
            Arc::new(Entry {
                status: sink.status,
                headers: sink.headers,
                body,
                expires_at_ms: sink.pending.expires_at_ms,
                weight,
            }),
        );
        self.stored.fetch_add(1, Ordering::Relaxed);
    }
}

impl Body for Tee {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if this.buffer.len() + data.len() > this.limit {
                        this.sink = None;
                        this.buffer = BytesMut::new();
                    } else if this.sink.is_some() {
                        this.buffer.extend_from_slice(data);
                    }
                }
                // hyper stops polling a body that says it has ended.
                if this.inner.is_end_stream() {
                    this.store();
                }
            }
            Poll::Ready(Some(Err(_))) => this.sink = None,
            Poll::Ready(None) => this.store(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
