//! The harness: a counting echo backend, an authorizer endpoint, and a gateway with the
//! key, throttle, quota, cache and authorizer stages over a test store.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_gateway::Limits;
use gatehouse_gateway::control::files::load_gateway;
use gatehouse_gateway::server::authorizers::{
    AuthorizerConfig, AuthorizerStep, IamAuthorizer, PoolTokenVerifier,
};
use gatehouse_gateway::server::cache::{CacheConfig, CacheStep};
use gatehouse_gateway::server::usage::{Usage, UsageConfig};
use gatehouse_gateway::server::{
    AccessLogSink, Clock, GatewayService, Live, Metrics, ServiceConfig, Step, Steps, SystemClock,
    serve,
};
use gatehouse_storage::Store;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub(super) struct Backend {
    pub(super) addr: SocketAddr,
    pub(super) hits: Arc<AtomicUsize>,
}

/// Echoes the request headers as JSON; `/big` answers 2 MiB; counts requests.
pub(super) async fn backend() -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    async move {
                        let body = if req.uri().path().ends_with("/big") {
                            Bytes::from(vec![b'x'; 2 * 1024 * 1024])
                        } else {
                            let headers: serde_json::Map<String, serde_json::Value> = req
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.as_str().to_owned(), v.to_str().unwrap_or("?").into())
                                })
                                .collect();
                            Bytes::from(serde_json::json!({"n": n, "headers": headers}).to_string())
                        };
                        let mut r = Response::new(Full::new(body));
                        r.headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Backend { addr, hits }
}

/// An authorizer endpoint: `Authorization: allow-*` → Allow on everything with a context and
/// `usageIdentifierKey` from `x-usage-key`; `deny` → explicit Deny; `other` → an Allow on
/// another API; `bad` → 401. Counts calls.
pub(super) async fn authorizer_endpoint() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        let token = event["headers"]["authorization"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned();
                        let arn = event["methodArn"].as_str().unwrap_or("").to_owned();
                        let (status, answer) = match token.as_str() {
                            "bad" => (401, serde_json::json!({"message": "Unauthorized"})),
                            t => {
                                let statements = policy_for(t);
                                (
                                    200,
                                    serde_json::json!({
                                        "principalId": format!("user-{t}"),
                                        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
                                        "context": {"tenant": "acme", "level": 3, "arn": arn},
                                        "usageIdentifierKey": event["headers"]["x-usage-key"],
                                    }),
                                )
                            }
                        };
                        let mut r = Response::new(Full::new(Bytes::from(answer.to_string())));
                        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, calls)
}

/// The statements the authorizer endpoint answers for a token.
fn policy_for(token: &str) -> Vec<serde_json::Value> {
    use serde_json::json;
    let invoke = |effect: &str, resource: &str| json!({"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource});
    let everything = "arn:aws:execute-api:*:*:*/*";
    match token {
        "deny" => vec![invoke("Deny", "*")],
        "other" => vec![invoke("Allow", "arn:aws:execute-api:*:*:otherapi/*")],
        "allow-admin" => vec![
            invoke("Allow", everything),
            json!({"Effect": "Allow", "Action": "execute-api:InvalidateCache", "Resource": "*"}),
        ],
        // Everything but the admin routes, however the path is spelt.
        "no-admin" => vec![
            invoke("Allow", everything),
            invoke("Deny", "arn:aws:execute-api:*:*:shop/prod/GET/admin*"),
        ],
        // May refresh one cached route only, named as its resource path.
        "refresher" => vec![
            invoke("Allow", everything),
            json!({"Effect": "Allow", "Action": "execute-api:InvalidateCache",
                   "Resource": "arn:aws:execute-api:*:*:shop/prod/GET/cached-auth"}),
        ],
        // May refresh anything, but not from loopback (where the tests' client is).
        "refresher-not-on-loopback" => vec![
            invoke("Allow", everything),
            json!({"Effect": "Allow", "Action": "execute-api:InvalidateCache", "Resource": "*"}),
            json!({"Effect": "Deny", "Action": "execute-api:InvalidateCache", "Resource": "*",
                   "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}),
        ],
        // Only from the documentation network 198.51.100.0/24.
        "from-doc-net" => vec![json!({
            "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": everything,
            "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}},
        })],
        _ => vec![invoke("Allow", everything)],
    }
}

pub(super) struct Gateway {
    pub(super) addr: SocketAddr,
    pub(super) usage: Arc<Usage>,
    pub(super) cache: Arc<CacheStep>,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

pub(super) fn usage_config() -> UsageConfig {
    UsageConfig {
        flush_interval: Duration::from_millis(100),
        refresh_interval: Duration::from_millis(100),
        quota_max_batch: 2,
        ..UsageConfig::default()
    }
}

/// A gateway serving `definition` with every stage, over `store`.
pub(super) async fn gateway(
    store: Store,
    definition: &str,
    pools: Option<Arc<dyn PoolTokenVerifier>>,
) -> Gateway {
    gateway_with(
        store,
        definition,
        pools,
        AuthorizerConfig {
            jwks_refetch_interval: Duration::from_millis(200),
            ..AuthorizerConfig::default()
        },
    )
    .await
}

/// [`gateway`] with the authorizer stage configured by `authorizer`.
pub(super) async fn gateway_with(
    store: Store,
    definition: &str,
    pools: Option<Arc<dyn PoolTokenVerifier>>,
    authorizer: AuthorizerConfig,
) -> Gateway {
    gateway_on(
        store,
        definition,
        pools,
        authorizer,
        ServiceConfig::default(),
        Arc::new(SystemClock),
    )
    .await
}

/// [`gateway_with`] with the listener's `service` settings (trusted proxies) and the
/// data plane's `clock` (the stages read the request time from it).
pub(super) async fn gateway_on(
    store: Store,
    definition: &str,
    pools: Option<Arc<dyn PoolTokenVerifier>>,
    authorizer: AuthorizerConfig,
    service: ServiceConfig,
    clock: Arc<dyn Clock>,
) -> Gateway {
    gateway_with_iam(store, definition, pools, None, authorizer, service, clock).await
}

/// [`gateway_on`] with an `AWS_IAM` authorizer.
pub(super) async fn gateway_with_iam(
    store: Store,
    definition: &str,
    pools: Option<Arc<dyn PoolTokenVerifier>>,
    iam: Option<Arc<dyn IamAuthorizer>>,
    authorizer: AuthorizerConfig,
    service: ServiceConfig,
    clock: Arc<dyn Clock>,
) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, definition).unwrap();
    let (compiled, _warnings) = load_gateway(
        std::slice::from_ref(&file),
        std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        &Limits::default(),
    )
    .unwrap();
    let usage = Usage::open(store, Arc::new(SystemClock), usage_config())
        .await
        .unwrap();
    let cache = Arc::new(CacheStep::new(CacheConfig::default()));
    let mut steps: Vec<Arc<dyn Step>> = usage.steps();
    steps.push(Arc::new(AuthorizerStep::new(authorizer, pools, iam)));
    steps.push(Arc::clone(&cache) as Arc<dyn Step>);
    let live = Arc::new(Live::new(compiled, Steps::new(steps), Arc::new(Metrics::new())).unwrap());
    let service = GatewayService::new(service, live, AccessLogSink::disabled(), clock);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let (stop_usage, usage_stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, service, async move {
        let _ = stopped.await;
        let _ = stop_usage.send(());
    }));
    tokio::spawn(Arc::clone(&usage).run(async move {
        let _ = usage_stopped.await;
    }));
    Gateway {
        addr,
        usage,
        cache,
        _dir: dir,
        _stop: stop,
    }
}

#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: http::HeaderMap,
    pub(super) body: Bytes,
}

impl Answer {
    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

pub(super) type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

pub(super) fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

impl Gateway {
    pub(super) async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        send(&client(), self.addr, "GET", path, headers).await
    }
}

pub(super) async fn send(
    client: &Client,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}
