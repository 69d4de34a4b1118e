//! The request pipeline: [`GatewayService`] takes a request from the listener, resolves it on
//! the live snapshot and runs it through the stages listed in [`crate::server::steps`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_identity::functions::{FunctionError, Functions};
use gatehouse_identity::https::error_chain;
use gatehouse_identity::net::TrustedProxies;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::definition::compiled::{Resolution, RouteHit, normalize_host};
use crate::definition::model::{
    Authorization, AuthorizerKind, FunctionIntegration, HttpIntegration, Integration,
    MockIntegration, PassthroughBehavior,
};
use crate::definition::path::{
    PathRejection, check_request_path, merge_slashes, split_encoded_slashes,
};
use crate::definition::responses::GatewayResponseType;
use crate::server::Clock;
use crate::server::access_log::{AccessLogSink, LogRecord};
use crate::server::authorizers::PayloadDigest;
use crate::server::body::{BodyError, GatewayBody};
use crate::server::cors::Cors;
use crate::server::error::GatewayError;
use crate::server::functions::{Caller, EventInput};
use crate::server::listener::ConnectionPermit;
use crate::server::live::{Live, RouteRuntime, Snapshot, StageRuntime};
use crate::server::proxy::{self, BackendPool, Forwarding, Query};
use crate::server::request_id::{REQUEST_ID_HEADER, RequestId, RequestIds};
use crate::server::steps::{Identity, Phase, RequestContext, Verdict};
use crate::server::tls::ServerTls;

/// Listener and pipeline settings (limits are API Gateway's where it has one).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Request body limit (default 10 MiB, API Gateway's payload limit) → 413.
    pub max_body_bytes: u64,
    /// Per-API overrides of `max_body_bytes`, by API id.
    pub api_max_body_bytes: BTreeMap<String, u64>,
    /// Request line plus headers (default 32 KiB, at least 8 KiB) → 431. Twice the 16 KiB
    /// token limit, so an oversized bearer token reaches the authorizer and gets its 401.
    pub max_header_bytes: usize,
    /// Header fields in one request (default 100) → 431.
    pub max_headers: usize,
    /// Client connections open at once on the gateway port, across workers (default 10 000);
    /// one past it is answered 503 and closed.
    pub max_connections: usize,
    /// Time a client gets to send a complete request head (default 10 s); past it the
    /// connection is closed (slowloris).
    pub header_read_timeout: Duration,
    /// Time a client gets to send a body the gateway reads whole itself, to validate it
    /// against the method's model or an `AWS_IAM` signature (default 30 s) → 400 `Invalid
    /// request body`. A body
    /// streamed to the backend is bounded by the integration's timeout instead.
    pub body_read_timeout: Duration,
    /// TLS on the gateway listener (`None`: plain HTTP). A request's `X-Forwarded-Proto`,
    /// `aws:SecureTransport` and `$context.protocol` follow the connection it came on.
    pub tls: Option<ServerTls>,
    /// HTTP/2 streams one client connection may have open at once (default 100).
    pub max_concurrent_streams: u32,
    /// Peers whose `X-Forwarded-For` / `Forwarded` / `X-Real-IP` name the client (default
    /// none: the TCP peer is the client). The one address resolved per request is
    /// `$context.identity.sourceIp`, the access log's, `aws:SourceIp` and what the backend
    /// gets in `X-Forwarded-For` (see [`ConnectionService::handle`]).
    pub trusted_proxies: TrustedProxies,
    /// How long an idle pooled backend connection is kept (default 90 s).
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per backend host (default 512).
    pub pool_max_idle_per_host: usize,
    /// On shutdown, how long in-flight requests get to finish (default 30 s).
    pub shutdown_grace: Duration,
    /// The function registry `aws_proxy` integrations call (`None`: every such method answers
    /// 500, as for a function that is not registered).
    pub functions: Option<Functions>,
    /// `requestContext.accountId` of Lambda proxy events.
    pub account_id: String,
}

/// The gateway as a service: cheap to clone, one per listener.
#[derive(Debug, Clone)]
pub struct GatewayService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ServiceConfig,
    live: Arc<Live>,
    client: BackendPool,
    ids: RequestIds,
    access_log: AccessLogSink,
    clock: Arc<dyn Clock>,
}

/// The service bound to one client connection (it knows the peer address).
#[derive(Debug, Clone)]
pub struct ConnectionService {
    inner: Arc<Inner>,
    /// The TCP peer's address (an IPv4-mapped IPv6 address as IPv4).
    peer: IpAddr,
    /// Whether the peer is a trusted proxy, decided once per connection: when it is not, the
    /// peer is the client of every request on the connection.
    peer_trusted: bool,
    /// The peer's address as a header value, formatted once per connection: the
    /// `X-Forwarded-For` of every request from an untrusted peer.
    peer_header: HeaderValue,
    /// The connection's place under the listener's cap, for a WebSocket upgrade's splice to
    /// hold (`None` outside a listener).
    permit: Option<ConnectionPermit>,
    /// Whether the connection is TLS: the backend's `X-Forwarded-Proto` and the policy
    /// context's `aws:SecureTransport`.
    secure: bool,
}

/// What happened in the integration, for metrics and the access log.
#[derive(Debug, Default)]
struct Outcome {
    integration_latency: Option<Duration>,
    integration_status: Option<u16>,
    error: Option<(GatewayResponseType, String)>,
}

/// The parts of the request head the end of the pipeline still needs after the headers went
/// to the backend.
#[derive(Debug, Default)]
struct Remembered {
    origin: Option<HeaderValue>,
    host: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
}

const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

// === impl ServiceConfig ===

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            api_max_body_bytes: BTreeMap::new(),
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            tls: None,
            max_concurrent_streams: 100,
            trusted_proxies: TrustedProxies::none(),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 512,
            shutdown_grace: Duration::from_secs(30),
            functions: None,
            account_id: "000000000000".to_owned(),
        }
    }
}

impl ServiceConfig {
    fn body_limit(&self, api_id: &str) -> u64 {
        self.api_max_body_bytes
            .get(api_id)
            .copied()
            .unwrap_or(self.max_body_bytes)
    }
}

// === impl GatewayService ===

impl GatewayService {
    /// A service serving `live`'s current snapshot, logging to `access_log`, reading the
    /// time from `clock`.
    pub fn new(
        config: ServiceConfig,
        live: Arc<Live>,
        access_log: AccessLogSink,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let client = BackendPool::new(config.pool_idle_timeout, config.pool_max_idle_per_host);
        Self {
            inner: Arc::new(Inner {
                config,
                live,
                client,
                ids: RequestIds::new(),
                access_log,
                clock,
            }),
        }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    pub fn live(&self) -> &Arc<Live> {
        &self.inner.live
    }

    /// The service for one accepted connection, holding its place under the connection cap;
    /// `secure` when the connection is TLS.
    pub fn for_connection(
        &self,
        remote: SocketAddr,
        permit: Option<ConnectionPermit>,
        secure: bool,
    ) -> ConnectionService {
        let proxies = &self.inner.config.trusted_proxies;
        // With no forwarding header the resolver answers the peer itself, canonical.
        let peer = proxies.client_ip(remote.ip(), &HeaderMap::new());
        let peer_header =
            HeaderValue::from_str(&peer.to_string()).unwrap_or(HeaderValue::from_static("0.0.0.0"));
        ConnectionService {
            inner: Arc::clone(&self.inner),
            peer,
            peer_trusted: proxies.contains(peer),
            peer_header,
            permit,
            secure,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<GatewayBody>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<GatewayBody>, Self::Error>> + Send>,
    >;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(request.map(GatewayBody::Incoming)).await) })
    }
}

// === impl ConnectionService ===

impl ConnectionService {
    /// Serves one request; every failure becomes API Gateway's error response.
    ///
    /// Before anything else the path is checked ([`check_request_path`]: `.`/`..` segments
    /// however encoded → 400) and its runs of slashes merged ([`merge_slashes`]); after
    /// routing, an encoded slash may not take a greedy route around another resource
    /// ([`check_greedy_slashes`]), then the client's headers are cleaned and the client
    /// resolved once ([`Self::client`]).
    ///
    /// The body is what the listener read: [`GatewayBody::Incoming`] from hyper's HTTP/1.1
    /// and HTTP/2 connections, [`GatewayBody::Empty`] from the listener's own HTTP/1.1 loop
    /// (which serves only requests without a body; see [`crate::server::edge_http1`]).
    ///
    /// The response carries the request's id as its one `x-amzn-RequestId`.
    pub async fn handle(&self, request: Request<GatewayBody>) -> Response<GatewayBody> {
        let (mut response, request_id) = self.serve(request).await;
        set_request_id(response.headers_mut(), &request_id);
        response
    }

    /// [`Self::handle`] but for the request id: returns the response and its request id,
    /// which the response does not carry yet. Whatever writes the response must send the
    /// id as the one `x-amzn-RequestId` field, in place of any the response holds (a backend
    /// may send its own). The listener's own HTTP/1.1 loop writes it straight into the
    /// head, which spares a header value and a header-map insert per request;
    /// [`Self::handle`] puts it in the map.
    pub(crate) async fn serve(
        &self,
        request: Request<GatewayBody>,
    ) -> (Response<GatewayBody>, RequestId) {
        let inner = &*self.inner;
        let started = Instant::now();
        let now = inner.clock.now();
        let snapshot = inner.live.snapshot();
        let (mut head, body) = request.into_parts();
        let request_id = head
            .headers
            // A `HeaderName`, not the text: a name given as text is parsed on every look-up.
            .get(const { HeaderName::from_static(REQUEST_ID_HEADER) })
            .and_then(|v| RequestId::parse(v.as_bytes()))
            .unwrap_or_else(|| inner.ids.next_id());
        if let Err(rejection) = check_request_path(head.uri.path()) {
            return (refuse_path(inner, rejection, &request_id), request_id);
        }
        // Routing, method ARNs, the cache key and the backend all see the merged path.
        if let Some(merged) = merge_slashes(head.uri.path()) {
            match with_path(&head.uri, &merged) {
                Some(uri) => head.uri = uri,
                // Removing `/`s from a valid path leaves a valid one; were it ever refused,
                // the request is refused rather than routed unmerged.
                None => {
                    let response = refuse_path(inner, PathRejection::SlashRun, &request_id);
                    return (response, request_id);
                }
            }
        }
        // An HTTP/2 request names its host in `:authority` (the URI), not in `Host`; the
        // pipeline (routing, `X-Forwarded-Host`, `$context.domainName`) reads `Host`.
        if head.version == http::Version::HTTP_2
            && !head.headers.contains_key(header::HOST)
            && let Some(authority) = head.uri.authority()
            && let Ok(host) = HeaderValue::from_str(authority.as_str())
        {
            head.headers.insert(header::HOST, host);
        }
        let host = match request_host(&head) {
            Ok(host) => host,
            Err(err) => {
                tracing::debug!(%request_id, %err, "request refused");
                return (err.into_response(), request_id);
            }
        };
        let hit = match snapshot
            .gateway
            .resolve(host, head.method.as_str(), head.uri.path())
        {
            Resolution::Route(hit) => hit,
            Resolution::Miss(miss) => {
                // A preflight needs no route: the API's CORS configuration answers it.
                let cors = Cors::is_preflight(&head.method, &head.headers)
                    .then(|| {
                        let stage = snapshot.gateway.stage(miss.api_id?, miss.stage?)?;
                        snapshot.stage(stage.index())?.cors.as_ref()
                    })
                    .flatten();
                let response = match cors {
                    Some(cors) => preflight(cors, &head.headers),
                    None => {
                        inner.live.metrics().miss(miss.reason);
                        GatewayError::NoRoute(miss.reason).into_response()
                    }
                };
                return (response, request_id);
            }
        };
        if let Err(rejection) =
            check_greedy_slashes(&snapshot, host, head.method.as_str(), head.uri.path(), &hit)
        {
            return (refuse_path(inner, rejection, &request_id), request_id);
        }
        let (source_ip, websocket) =
            proxy::clean_client_headers(&mut head.headers, |headers| self.client(headers));
        let stage_rt = snapshot.stage(hit.stage.index());
        let route_rt = stage_rt.and_then(|s| s.routes.get(hit.route.0 as usize));
        // Only CORS and the access log look at these after the headers went to the backend:
        // skip three header look-ups per request when neither is on.
        let remembered = if stage_rt.is_some_and(|s| {
            s.cors.is_some() || (s.access_log.is_some() && inner.access_log.is_enabled())
        }) {
            Remembered {
                origin: head.headers.get(header::ORIGIN).cloned(),
                host: head.headers.get(header::HOST).cloned(),
                user_agent: head.headers.get(header::USER_AGENT).cloned(),
            }
        } else {
            Remembered::default()
        };
        let mut cx = RequestContext {
            request_id,
            now,
            source_ip,
            secure: self.secure,
            hit,
            head,
            identity: Identity::default(),
            authorizer: None,
            response_headers: Vec::new(),
            extensions: http::Extensions::new(),
            usage_key: None,
            websocket,
        };
        let mut outcome = Outcome::default();
        let cors = stage_rt.and_then(|s| s.cors.as_ref());
        let mut response = match cors {
            Some(cors) if Cors::is_preflight(&cx.head.method, &cx.head.headers) => {
                preflight(cors, &cx.head.headers)
            }
            _ => {
                self.run(&snapshot, &mut cx, body, route_rt, &mut outcome)
                    .await
            }
        };
        let headers = response.headers_mut();
        for (name, value) in cx.response_headers.drain(..) {
            headers.append(name, value);
        }
        if let (Some(cors), Some(origin)) = (cors, &remembered.origin) {
            let mut request_headers = HeaderMap::new();
            request_headers.insert(header::ORIGIN, origin.clone());
            cors.response_headers(&request_headers, headers);
        }
        let latency = started.elapsed();
        let status = response.status().as_u16();
        if let Some(route) = route_rt {
            route
                .metrics
                .record(status, latency, outcome.integration_latency);
        }
        if let Some(stage_rt) = stage_rt {
            self.log(stage_rt, &cx, &remembered, &response, latency, &outcome);
        }
        (response, cx.request_id)
    }

    /// The time on the service's clock (the `date` of the listener's own responses).
    pub(crate) fn now(&self) -> std::time::SystemTime {
        self.inner.clock.now()
    }

    /// The client of a request and the `X-Forwarded-For` its backend gets.
    ///
    /// From an untrusted peer (every peer by default): the peer, and `X-Forwarded-For: peer`
    /// — whatever the client wrote is replaced. From a trusted proxy: the address the shared
    /// resolver reads from the forwarding headers (from the right, past trusted hops), and
    /// `X-Forwarded-For: client, proxy` (just `proxy` when the headers named nobody else),
    /// so the leftmost address a backend reads is always the one gatehouse resolved and
    /// nothing a client prepended survives. No allocation unless the peer is trusted.
    fn client(&self, headers: &HeaderMap) -> (IpAddr, HeaderValue) {
        if !self.peer_trusted {
            return (self.peer, self.peer_header.clone());
        }
        let client = self
            .inner
            .config
            .trusted_proxies
            .client_ip(self.peer, headers);
        if client == self.peer {
            return (client, self.peer_header.clone());
        }
        let chain = format!("{client}, {}", self.peer);
        let value = HeaderValue::from_str(&chain).unwrap_or_else(|_| self.peer_header.clone());
        (client, value)
    }

    /// Pipeline steps, validation and the integration; errors become responses here, and every
    /// stage that ran sees the response.
    async fn run(
        &self,
        snapshot: &Snapshot,
        cx: &mut RequestContext<'_>,
        body: GatewayBody,
        route_rt: Option<&RouteRuntime>,
        outcome: &mut Outcome,
    ) -> Response<GatewayBody> {
        let steps = self.inner.live.steps();
        let mut ran = 0usize;
        let result = self
            .before_integration(snapshot, cx, body, route_rt, outcome, &mut ran)
            .await;
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                let kind = err.response_type();
                if kind.status() >= 500 {
                    tracing::warn!(request_id = %cx.request_id, error = %err, "gateway error");
                }
                outcome.error = Some((kind, err.to_string()));
                err.into_response()
            }
        };
        for i in (0..ran).rev() {
            if let (Some(stage), Some(prepared)) = (steps.get(i), snapshot.prepared.get(i)) {
                stage.on_response(cx, prepared, &mut response);
            }
        }
        response
    }

    async fn before_integration(
        &self,
        snapshot: &Snapshot,
        cx: &mut RequestContext<'_>,
        body: GatewayBody,
        route_rt: Option<&RouteRuntime>,
        outcome: &mut Outcome,
        ran: &mut usize,
    ) -> Result<Response<GatewayBody>, GatewayError> {
        let inner = &*self.inner;
        let limit = inner.config.body_limit(&cx.hit.api.id);
        let hint = body.size_hint();
        if hint.lower() > limit {
            return Err(GatewayError::BodyTooLarge { limit });
        }
        let has_body = !body.is_end_stream();
        // A streamed body of unknown length (chunked) is counted as it passes.
        let mut body = match body {
            GatewayBody::Incoming(body) if hint.exact().is_none() => {
                GatewayBody::limited(body, limit)
            }
            body => body,
        };
        // SigV4 covers the body: an `AWS_IAM` method reads it whole (within the limit) and
        // hands its digest to the authorizer before anything reaches the backend.
        if has_body && cx.hit.definition.settings.authorization == Authorization::AwsIam {
            let bytes = self.read_body(body, limit).await?;
            cx.extensions.insert(PayloadDigest::of(&bytes));
            body = GatewayBody::full(bytes);
        }

        // Pipeline steps before validation: authorizers, keys, throttling, quotas.
        if let Some(response) = self
            .run_steps(snapshot, cx, ran, |p| p < Phase::Cache)
            .await?
        {
            return Ok(response);
        }

        // Request validation.
        // A clone of the URI is a few reference counts; the parsed query borrows it while
        // the stages below may change the request head.
        let uri = cx.head.uri.clone();
        let query = Query::parse(uri.query());
        if let Some(route) = route_rt {
            if !route.required.is_empty() {
                let missing: Vec<&str> = route
                    .required
                    .iter()
                    .filter(|p| !proxy::has_param(p, &cx.head.headers, &query))
                    .map(|p| p.name.as_str())
                    .collect();
                if !missing.is_empty() {
                    return Err(GatewayError::MissingParameters(missing.join(", ")));
                }
            }
            if !route.bodies.is_empty() {
                let media_type = media_type(&cx.head.headers);
                let schema = route
                    .bodies
                    .iter()
                    .find(|(ct, _)| *ct == media_type)
                    .or_else(|| route.bodies.iter().find(|(ct, _)| ct == "$default"));
                if let Some((_, schema)) = schema {
                    let bytes = self.read_body(body, limit).await?;
                    let value: serde_json::Value = serde_json::from_slice(&bytes)
                        .map_err(|_| GatewayError::InvalidBody("not JSON"))?;
                    if !schema.is_valid(&value) {
                        return Err(GatewayError::InvalidBody("does not match the model"));
                    }
                    body = GatewayBody::full(bytes);
                }
            }
        }

        // Pipeline steps after validation: the cache.
        if let Some(response) = self
            .run_steps(snapshot, cx, ran, |p| p >= Phase::Cache)
            .await?
        {
            return Ok(response);
        }

        match &cx.hit.definition.integration {
            Integration::Mock(mock) => mock_response(mock, &cx.head.headers),
            Integration::HttpProxy(http) => {
                self.http(cx, http, true, has_body, body, &query, route_rt, outcome)
                    .await
            }
            Integration::Http(http) => {
                self.http(cx, http, false, has_body, body, &query, route_rt, outcome)
                    .await
            }
            Integration::Function(function) => {
                self.function(cx, function, body, limit, &query, outcome)
                    .await
            }
        }
    }

    /// A Lambda proxy integration: the event to the function's endpoint, its answer back.
    async fn function(
        &self,
        cx: &mut RequestContext<'_>,
        integration: &FunctionIntegration,
        body: GatewayBody,
        limit: u64,
        query: &Query<'_>,
        outcome: &mut Outcome,
    ) -> Result<Response<GatewayBody>, GatewayError> {
        let inner = &*self.inner;
        let arn = integration.function.render(&cx.hit.stage.stage.variables)?;
        let Some(functions) = &inner.config.functions else {
            return Err(GatewayError::Function(FunctionError::NotRegistered { arn }));
        };
        let bytes = self.read_body(body, limit).await?;
        let event = {
            let cx = &*cx;
            let content_type = cx
                .head
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let caller = match &cx.hit.definition.settings.authorization {
                Authorization::None => Caller::Anonymous,
                Authorization::AwsIam => Caller::Iam,
                Authorization::Authorizer { name, .. } => {
                    match (
                        cx.hit.api.authorizers.get(name).map(|a| &a.kind),
                        &cx.authorizer,
                    ) {
                        (Some(AuthorizerKind::Jwt(_)), Some(output)) => Caller::Jwt {
                            claims: &output.claims,
                        },
                        (Some(AuthorizerKind::Endpoint(_)), Some(output)) => Caller::Lambda {
                            principal_id: &output.principal_id,
                            context: &output.context,
                        },
                        _ => Caller::Anonymous,
                    }
                }
            };
            let input = EventInput {
                format: integration.payload_format,
                method: cx.head.method.as_str(),
                route_method: cx.hit.method.as_str(),
                resource_path: cx.hit.resource.path.as_str(),
                api_path: format!("/{}", cx.hit.resource_request_path.trim_start_matches('/')),
                raw_path: cx.head.uri.path(),
                raw_query: cx.head.uri.query(),
                query: query.pairs().collect(),
                headers: &cx.head.headers,
                path_parameters: cx
                    .hit
                    .path_params
                    .iter()
                    .map(|(k, v)| (k, crate::definition::path::percent_decode(v).into_owned()))
                    .collect(),
                stage_variables: &cx.hit.stage.stage.variables,
                stage: &cx.hit.stage.stage.name,
                api_id: &cx.hit.api.id,
                account_id: &inner.config.account_id,
                request_id: cx.request_id.as_str(),
                source_ip: cx.source_ip.to_string(),
                protocol: cx.protocol(),
                secure: self.secure,
                request_time: cx.now,
                caller,
                identity: &cx.identity,
                body: &bytes,
                binary_media_type: crate::server::functions::is_binary_media_type(
                    content_type,
                    &cx.hit.api.binary_media_types,
                ),
            };
            crate::server::functions::event(&input)
        };
        let event = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
        let sent = Instant::now();
        let timeout = Duration::from_millis(u64::from(integration.timeout_ms));
        let called = tokio::time::timeout(timeout, functions.invoke(&arn, event)).await;
        outcome.integration_latency = Some(sent.elapsed());
        let answer = match called {
            Err(_) => return Err(GatewayError::Timeout(integration.timeout_ms)),
            Ok(Err(err)) => return Err(GatewayError::Function(err)),
            Ok(Ok(answer)) => answer,
        };
        let answer = crate::server::functions::answer(integration.payload_format, &answer)
            .map_err(|why| GatewayError::MalformedAnswer { arn, why })?;
        outcome.integration_status = Some(answer.status);
        Ok(answer.into_response())
    }

    /// Reads a body whole, within `limit` bytes and the body read timeout.
    async fn read_body(&self, body: GatewayBody, limit: u64) -> Result<Bytes, GatewayError> {
        let deadline = self.inner.config.body_read_timeout;
        tokio::time::timeout(deadline, collect(body, limit))
            .await
            .map_err(|_| {
                GatewayError::ClientBody(format!(
                    "the body did not arrive within {} ms",
                    deadline.as_millis()
                ))
            })?
    }

    /// Runs the pipeline steps whose phase passes `which`, from position `*ran` on.
    async fn run_steps(
        &self,
        snapshot: &Snapshot,
        cx: &mut RequestContext<'_>,
        ran: &mut usize,
        which: impl Fn(Phase) -> bool,
    ) -> Result<Option<Response<GatewayBody>>, GatewayError> {
        let steps = self.inner.live.steps();
        let live = &*self.inner.live;
        while let (Some(stage), Some(prepared)) = (steps.get(*ran), snapshot.prepared.get(*ran)) {
            if !which(stage.phase()) {
                break;
            }
            let counters = live.step_counters(*ran);
            *ran += 1;
            // Outcome positions: continue, reject, respond (see `metrics::STAGE_OUTCOMES`).
            let (outcome, result) = match stage.on_request(cx, prepared).await {
                Verdict::Continue => (0, None),
                Verdict::Reject(rejection) => (1, Some(Err(GatewayError::Rejected(rejection)))),
                Verdict::Respond(response) => (2, Some(Ok(Some(*response)))),
            };
            if let Some(counters) = counters {
                counters.add(outcome);
            }
            if let Some(result) = result {
                return result;
            }
        }
        Ok(None)
    }

    /// `HTTP_PROXY` and `HTTP` integrations.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the pieces of one request"
    )]
    async fn http(
        &self,
        cx: &mut RequestContext<'_>,
        http: &HttpIntegration,
        proxy: bool,
        has_body: bool,
        body: GatewayBody,
        query: &Query<'_>,
        route_rt: Option<&RouteRuntime>,
        outcome: &mut Outcome,
    ) -> Result<Response<GatewayBody>, GatewayError> {
        let inner = &*self.inner;
        let tls = route_rt.and_then(|r| r.backend_tls.as_ref());
        let fixed_uri = route_rt.and_then(|r| r.backend_uri.as_ref());
        if has_body && http.passthrough == PassthroughBehavior::Never {
            return Err(GatewayError::UnsupportedMediaType);
        }
        // Only the client can ask for an upgrade (`cx.websocket`, from its own headers); the
        // headers are read again in case a stage removed the fields since.
        let websocket = cx.websocket && proxy::is_websocket_upgrade(&cx.head.headers);
        let client_upgrade = if websocket {
            cx.head.extensions.remove::<hyper::upgrade::OnUpgrade>()
        } else {
            None
        };
        // The headers go to the backend as they are, not copied: a stage that needs a request
        // header in `on_response` keeps it in `cx.extensions` (see `Step::on_response`).
        let headers = std::mem::take(&mut cx.head.headers);
        let forwarding = Forwarding {
            secure: self.secure,
            websocket,
        };
        let (request, deferred) = proxy::backend_request(
            cx,
            headers,
            http,
            fixed_uri,
            proxy,
            query,
            &forwarding,
            body,
        )?;
        let sent = Instant::now();
        let deadline = tokio::time::Instant::from_std(sent)
            + Duration::from_millis(u64::from(http.timeout_ms));
        let answer = inner
            .client
            .request(request, deferred, websocket, tls, sent, deadline)
            .await;
        outcome.integration_latency = Some(sent.elapsed());
        let response = match answer {
            Err(proxy::BackendError::TimedOut) => {
                return Err(GatewayError::Timeout(http.timeout_ms));
            }
            Err(err) => {
                if let Some(limit) = body_too_large(&err) {
                    return Err(GatewayError::BodyTooLarge { limit });
                }
                if matches!(err, proxy::BackendError::Tls { .. }) || tls_failure(&err) {
                    return Err(GatewayError::BackendTls(error_chain(&err)));
                }
                return Err(GatewayError::Backend(error_chain(&err)));
            }
            Ok(response) => response,
        };
        outcome.integration_status = Some(response.status().as_u16());
        let (mut parts, body) = response.into_parts();
        if parts.status == StatusCode::SWITCHING_PROTOCOLS {
            let mut backend = Response::from_parts(parts, ());
            let backend_upgrade = hyper::upgrade::on(&mut backend);
            let (parts_back, ()) = backend.into_parts();
            parts = parts_back;
            match client_upgrade {
                Some(client_upgrade) => {
                    tokio::spawn(splice(client_upgrade, backend_upgrade, self.permit.clone()));
                    proxy::strip_hop_by_hop(&mut parts.headers, true);
                    parts
                        .headers
                        .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                    return Ok(Response::from_parts(parts, GatewayBody::Empty));
                }
                None => {
                    return Err(GatewayError::Backend(
                        "unexpected 101 from the backend".into(),
                    ));
                }
            }
        }
        proxy::strip_hop_by_hop(&mut parts.headers, false);
        let mut response = Response::from_parts(parts, body);
        if !proxy {
            proxy::apply_integration_response(&mut response, http)?;
        }
        Ok(response)
    }

    fn log(
        &self,
        stage_rt: &StageRuntime,
        cx: &RequestContext<'_>,
        remembered: &Remembered,
        response: &Response<GatewayBody>,
        latency: Duration,
        outcome: &Outcome,
    ) {
        let inner = &*self.inner;
        let Some(format) = &stage_rt.access_log else {
            return;
        };
        if !inner.access_log.is_enabled() {
            return;
        }
        fn text(v: &Option<HeaderValue>) -> Option<&str> {
            v.as_ref().and_then(|v| v.to_str().ok())
        }
        let response_length = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .or_else(|| response.body().size_hint().exact());
        let source_ip = cx.source_ip.to_string();
        let record = LogRecord {
            request_id: cx.request_id.as_str(),
            api_id: &cx.hit.api.id,
            stage: &cx.hit.stage.stage.name,
            http_method: cx.head.method.as_str(),
            resource_path: cx.hit.resource.path.as_str(),
            path: cx.head.uri.path(),
            protocol: cx.protocol(),
            status: response.status().as_u16(),
            response_length,
            response_latency: latency,
            integration_latency: outcome.integration_latency,
            integration_status: outcome.integration_status,
            integration_error: outcome.error.as_ref().map(|(_, m)| m.as_str()),
            request_time: cx.now,
            domain_name: text(&remembered.host).unwrap_or("-"),
            source_ip: &source_ip,
            user_agent: text(&remembered.user_agent),
            error_message: outcome.error.as_ref().map(|(k, _)| k.message()),
            error_response_type: outcome.error.as_ref().map(|(k, _)| k.name()),
            identity: &cx.identity,
            authorizer: cx.authorizer.as_ref(),
        };
        inner
            .access_log
            .send(format.render(&record), inner.live.metrics());
    }
}

/// The host a request is for: its `Host` field, or without one (HTTP/1.0) the authority of an
/// absolute-form target. Refused ([`GatewayError::AmbiguousHost`]) when that is ambiguous — two `Host` fields, a `Host`
/// that is not text, or an absolute-form target naming another host than `Host` — since a
/// proxy in front could route by the other one (RFC 9112 §3.2 answers such requests 400).
fn request_host(head: &http::request::Parts) -> Result<Option<&str>, GatewayError> {
    let mut fields = head.headers.get_all(header::HOST).iter();
    let field = fields.next();
    if fields.next().is_some() {
        return Err(GatewayError::AmbiguousHost);
    }
    let Some(field) = field else {
        return Ok(head.uri.host());
    };
    let host = field.to_str().map_err(|_| GatewayError::AmbiguousHost)?;
    // Compared without port and case: `http://A.example:80/` is for `a.example`.
    match head.uri.host() {
        Some(target) if normalize_host(target) != normalize_host(host) => {
            Err(GatewayError::AmbiguousHost)
        }
        _ => Ok(Some(host)),
    }
}

/// `uri` with its path replaced by `path` (scheme, authority and query kept).
fn with_path(uri: &http::Uri, path: &str) -> Option<http::Uri> {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    http::Uri::from_parts(parts).ok()
}

/// The 400 for a refused request path (see [`crate::definition::path`]).
fn refuse_path(
    inner: &Inner,
    rejection: PathRejection,
    request_id: &RequestId,
) -> Response<GatewayBody> {
    inner.live.metrics().refused_path();
    tracing::debug!(%request_id, %rejection, "request path refused");
    GatewayError::InvalidPath(rejection).into_response()
}

/// A request that reached a greedy resource through an encoded slash must reach the same
/// route with the slash written out, since the greedy parameter hands the backend a real
/// separator (see [`split_encoded_slashes`]); a run of slashes it would write is refused too
/// (runs in the raw path were merged before routing). Costs nothing unless the route is
/// greedy and the path has `%2F`.
fn check_greedy_slashes(
    snapshot: &Snapshot,
    host: Option<&str>,
    method: &str,
    path: &str,
    hit: &RouteHit<'_>,
) -> Result<(), PathRejection> {
    if hit.resource.path.greedy_param().is_none() {
        return Ok(());
    }
    let Some(split) = split_encoded_slashes(path) else {
        return Ok(());
    };
    if split.contains("//") {
        return Err(PathRejection::EncodedSlash);
    }
    match snapshot.gateway.resolve(host, method, &split) {
        Resolution::Route(other)
            if other.route == hit.route && other.stage.index() == hit.stage.index() =>
        {
            Ok(())
        }
        Resolution::Route(_) | Resolution::Miss(_) => Err(PathRejection::EncodedSlash),
    }
}

/// Splices an upgraded client connection to the upgraded backend connection, holding the
/// client connection's place under the connection cap until both ends are closed.
async fn splice(
    client: hyper::upgrade::OnUpgrade,
    backend: hyper::upgrade::OnUpgrade,
    permit: Option<ConnectionPermit>,
) {
    match tokio::try_join!(client, backend) {
        Ok((client, backend)) => {
            let mut client = hyper_util::rt::TokioIo::new(client);
            let mut backend = hyper_util::rt::TokioIo::new(backend);
            if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
                tracing::debug!(%err, "upgraded connection ended");
            }
        }
        Err(err) => tracing::debug!(%err, "upgrade failed"),
    }
    drop(permit);
}

/// A preflight answer: 204 with the API's CORS headers.
fn preflight(cors: &Cors, request: &HeaderMap) -> Response<GatewayBody> {
    let mut response = Response::new(GatewayBody::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    cors.preflight_headers(request, response.headers_mut());
    response
}

/// A mock integration's answer.
fn mock_response(
    mock: &MockIntegration,
    request: &HeaderMap,
) -> Result<Response<GatewayBody>, GatewayError> {
    let content_type = request
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let status = mock.integration_status(content_type);
    let selected = mock
        .response_for(content_type)
        .ok_or(GatewayError::NoIntegrationResponse(status))?;
    let accept = request
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The body for the type the client accepts, else JSON, else any.
    let body = selected
        .bodies
        .iter()
        .find(|(ct, _)| accept.split(',').any(|a| a.trim().starts_with(ct.as_str())))
        .or_else(|| selected.bodies.get_key_value("application/json"))
        .or_else(|| selected.bodies.iter().next());
    let mut response = Response::new(match body {
        Some((_, text)) => GatewayBody::full(Bytes::copy_from_slice(text.as_bytes())),
        None => GatewayBody::Empty,
    });
    *response.status_mut() = StatusCode::from_u16(selected.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    if let Some((ct, _)) = body
        && let Ok(value) = HeaderValue::from_str(ct)
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    for (name, source) in &selected.headers {
        if let (Ok(name), crate::definition::model::HeaderValueSource::Literal(value)) =
            (HeaderName::from_bytes(name.as_bytes()), source)
            && let Ok(value) = HeaderValue::from_str(value)
        {
            headers.insert(name, value);
        }
    }
    if !headers.contains_key(header::CONTENT_TYPE) && body.is_some() {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(response)
}

fn set_request_id(headers: &mut HeaderMap, id: &RequestId) {
    if let Ok(value) = HeaderValue::from_bytes(id.as_bytes()) {
        headers.insert(const { HeaderName::from_static(REQUEST_ID_HEADER) }, value);
    }
}

/// The request's media type, lower case, without parameters (`application/json` when
/// absent, as API Gateway assumes).
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/json".to_owned())
}

/// Buffers a body up to `limit` bytes (only for bodies that must be validated).
async fn collect(body: GatewayBody, limit: u64) -> Result<Bytes, GatewayError> {
    let limited = http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => {
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
                || err
                    .downcast_ref::<BodyError>()
                    .is_some_and(|e| matches!(e, BodyError::TooLarge { .. }))
            {
                Err(GatewayError::BodyTooLarge { limit })
            } else {
                Err(GatewayError::ClientBody(err.to_string()))
            }
        }
    }
}

/// Whether a client error was our request body hitting its limit.
fn body_too_large(err: &(dyn std::error::Error + 'static)) -> Option<u64> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(BodyError::TooLarge { limit }) = e.downcast_ref::<BodyError>() {
            return Some(*limit);
        }
        current = e.source();
    }
    None
}

/// Whether a backend error came from TLS: a certificate refused or an alert received —
/// also after the handshake, as TLS 1.3 servers check a client certificate only then.
fn tls_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        // `io::Error::source` skips the error it wraps; look at it directly.
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        if wrapped || e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}
