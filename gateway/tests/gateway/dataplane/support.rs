//! The data-plane harness: a real backend (hyper on 127.0.0.1:0) that echoes, streams,
//! sleeps and counts what reaches it; a WebSocket echo server (tokio-tungstenite); and the
//! gateway itself, served from a definition file in a temporary directory.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_gateway::Limits;
use gatehouse_gateway::control::files::load_gateway;
use gatehouse_gateway::control::reload::Reloader;
use gatehouse_gateway::server::{
    AccessLogSink, GatewayService, Live, Metrics, ServiceConfig, Steps, SystemClock, serve,
};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// What reached the backend.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub(super) requests: AtomicUsize,
    pub(super) paths: Mutex<Vec<String>>,
}

/// A running backend.
pub(super) struct Backend {
    pub(super) addr: SocketAddr,
    pub(super) seen: Arc<Seen>,
}

/// Starts the backend:
/// - `/echo…`, `/v2/…`, `/static/…`: JSON with method, path, query, headers and body size;
/// - `/slow`: answers after 500 ms;
/// - `/sink`: reads the body as it streams, answers `{"len", "first_chunk_lead_ms"}` (how long
///   before the end the first chunk arrived);
/// - `/stream`: a first 64 KiB chunk, a 400 ms pause, then 3 MiB more;
/// - `/status/503`: 503 with `x-backend: b1`.
pub(super) async fn backend() -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let state = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(answer(req, state).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Backend { addr, seen }
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn answer(req: Request<Incoming>, seen: Arc<Seen>) -> Response<BoxBody> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_owned();
    seen.paths.lock().unwrap().push(path.clone());
    let full = |status: u16, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        r
    };
    match path.as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            full(200, "{}".into())
        }
        "/status/503" => {
            let mut r = full(503, r#"{"down": true}"#.into());
            r.headers_mut().insert("x-backend", "b1".parse().unwrap());
            r
        }
        "/sink" => {
            let mut body = req.into_body();
            let mut len = 0usize;
            let mut first: Option<Instant> = None;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(data) = frame.data_ref() {
                    first.get_or_insert_with(Instant::now);
                    len += data.len();
                }
            }
            let lead = first.map_or(0, |t| t.elapsed().as_millis());
            full(
                200,
                format!(r#"{{"len": {len}, "first_chunk_lead_ms": {lead}}}"#),
            )
        }
        "/stream" => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
            tokio::spawn(async move {
                let _ = tx.send(Bytes::from(vec![b'a'; 64 * 1024])).await;
                tokio::time::sleep(Duration::from_millis(400)).await;
                for _ in 0..48 {
                    if tx.send(Bytes::from(vec![b'b'; 64 * 1024])).await.is_err() {
                        return;
                    }
                }
            });
            let body = ChannelBody(rx);
            Response::new(BodyExt::boxed(body))
        }
        _ => {
            let method = req.method().to_string();
            let query = req.uri().query().unwrap_or_default().to_owned();
            let headers: serde_json::Map<String, serde_json::Value> = req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        serde_json::Value::String(v.to_str().unwrap_or("?").to_owned()),
                    )
                })
                .collect();
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let body = body.unwrap_or_default();
            let echo = serde_json::json!({
                "method": method, "path": path, "query": query, "headers": headers,
                "body_len": body.len(), "body": String::from_utf8_lossy(&body),
            });
            full(200, echo.to_string())
        }
    }
}

/// A body fed from a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// A WebSocket server that echoes text messages upper-cased.
pub(super) async fn websocket_backend() -> SocketAddr {
    use tokio_tungstenite::tungstenite::Message;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                use futures_util::{SinkExt, StreamExt};
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(text) = msg {
                        let reply = Message::Text(text.to_uppercase().into());
                        if ws.send(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A running gateway.
pub(super) struct Gateway {
    pub(super) addr: SocketAddr,
    pub(super) live: Arc<Live>,
    pub(super) file: PathBuf,
    pub(super) log: SharedLog,
    pub(super) backend: Backend,
    _dir: tempfile::TempDir,
    /// Dropped (or sent) to shut the listener down.
    stop: Option<oneshot::Sender<()>>,
}

/// Access-log lines collected in memory.
#[derive(Clone, Default)]
pub(super) struct SharedLog(pub(super) Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedLog {
    pub(super) fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The test API; `{backend}` and `{ws}` are replaced with addresses, `{extra}` with more
/// resources.
pub(super) const DEFINITION: &str = r##"
version: 1
apis:
  shop:
    name: Shop
    cors:
      allow_origins: [https://app.example.com]
      allow_methods: [GET, POST]
      allow_headers: [Content-Type, x-api-key]
      expose_headers: [x-amzn-RequestId]
      max_age_seconds: 600
      allow_credentials: true
    models:
      Order:
        content_type: application/json
        schema:
          type: object
          required: [sku, quantity]
          additionalProperties: false
          properties:
            sku: {type: string, pattern: "^[A-Z]{3}-[0-9]+$"}
            quantity: {type: integer, minimum: 1, maximum: 100}
            note: {$ref: "#/definitions/Note"}
      Note:
        schema: {type: string, maxLength: 10}
    request_validators:
      all: {body: true, parameters: true}
    resources:
      /echo:
        ANY:
          integration: {type: http_proxy, uri: "http://${stageVariables.backend}/echo"}
      /items/{id}:
        GET:
          integration:
            type: http_proxy
            uri: "http://${stageVariables.backend}/v2/items/{id}"
            request_parameters:
              header.x-item: method.request.path.id
              header.x-stage: stageVariables.label
              header.x-request: context.requestId
              querystring.source: "'gateway'"
      /files/{proxy+}:
        ANY:
          integration: {type: http_proxy, uri: "http://${stageVariables.backend}/static/{proxy}"}
      /download:
        GET:
          integration:
            type: http_proxy
            uri: "http://${stageVariables.backend}/static/{file}"
            request_parameters:
              path.file: method.request.querystring.name
      /whoami:
        GET:
          integration:
            type: http_proxy
            uri: "http://${stageVariables.backend}/echo"
            request_parameters:
              header.x-source-ip: context.identity.sourceIp
      /slow:
        GET:
          integration: {type: http_proxy, uri: "http://${stageVariables.backend}/slow", timeout_ms: 100}
      /down:
        GET:
          integration: {type: http_proxy, uri: "http://127.0.0.1:9/nothing"}
      /orders:
        POST:
          request_validator: all
          request_models: {application/json: Order}
          request_parameters: {header.x-tenant: true, querystring.region: true}
          integration: {type: http_proxy, uri: "http://${stageVariables.backend}/echo"}
      /upload:
        POST:
          integration: {type: http_proxy, uri: "http://${stageVariables.backend}/sink"}
      /stream:
        GET:
          integration: {type: http_proxy, uri: "http://${stageVariables.backend}/stream"}
      /ws:
        GET:
          integration: {type: http_proxy, uri: "http://${stageVariables.ws}/"}
      /mock:
        GET:
          integration:
            type: mock
            status: 201
            headers: {X-Mock: "yes"}
            body: '{"mock": true}'
      /legacy:
        GET:
          integration:
            type: http
            uri: "http://${stageVariables.backend}/status/503"
            responses:
              - status: 200
              - selection: '5\d{2}'
                status: 502
                headers: {X-Upstream: integration.response.header.x-backend}
{extra}
stages:
  shop:
    prod:
      variables: {backend: "{backend}", ws: "{ws}", label: prod-label}
      access_log_format: '{"requestId":"$context.requestId","status":"$context.status","route":"$context.httpMethod $context.resourcePath","path":"$context.path","ip":"$context.identity.sourceIp","integrationStatus":"$context.integrationStatus","error":"$context.error.responseType","detail":"$context.integration.error"}'
"##;

pub(super) fn definition(backend: SocketAddr, ws: SocketAddr, extra: &str) -> String {
    DEFINITION
        .replace("{backend}", &backend.to_string())
        .replace("{ws}", &ws.to_string())
        .replace("{extra}", extra)
}

/// Starts backend, WebSocket backend and gateway with `config`.
pub(super) async fn start_with(config: ServiceConfig) -> Gateway {
    start_routed(config, None).await
}

/// [`start_with`], with the `backend` stage variable pointing at `other` instead of the
/// harness's echo backend when given.
pub(super) async fn start_routed(config: ServiceConfig, other: Option<SocketAddr>) -> Gateway {
    start_full(config, other, "").await
}

/// [`start`] with `extra` resources (YAML, indented as the definition's resources) added to
/// the test API.
pub(super) async fn start_extended(extra: &str) -> Gateway {
    start_full(test_config(), None, extra).await
}

pub(super) async fn start_full(
    config: ServiceConfig,
    other: Option<SocketAddr>,
    extra: &str,
) -> Gateway {
    let backend = backend().await;
    let ws = websocket_backend().await;
    let text = definition(other.unwrap_or(backend.addr), ws, extra);
    start_defined(config, backend, &text).await
}

/// A gateway serving the definition `text` (the harness's echo `backend` kept beside it).
pub(super) async fn start_defined(config: ServiceConfig, backend: Backend, text: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, text).unwrap();
    let (gateway, _warnings) = load_gateway(
        std::slice::from_ref(&file),
        std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        &Limits::default(),
    )
    .unwrap();
    let live = Arc::new(Live::new(gateway, Steps::default(), Arc::new(Metrics::new())).unwrap());
    let log = SharedLog::default();
    let service = GatewayService::new(
        config,
        Arc::clone(&live),
        AccessLogSink::writer(log.clone(), 1024),
        Arc::new(SystemClock),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, service, async {
        let _ = stopped.await;
    }));
    Gateway {
        addr,
        live,
        file,
        log,
        backend,
        _dir: dir,
        stop: Some(stop),
    }
}

pub(super) async fn start() -> Gateway {
    start_with(test_config()).await
}

/// Small limits so the limit tests stay fast.
pub(super) fn test_config() -> ServiceConfig {
    ServiceConfig {
        max_body_bytes: 1024 * 1024,
        header_read_timeout: Duration::from_millis(500),
        ..ServiceConfig::default()
    }
}

/// A response, fully read.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: http::HeaderMap,
    pub(super) body: Bytes,
}

impl Answer {
    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

pub(super) type TestClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub(super) fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

impl Gateway {
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(super) async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        send(&client(), method, &self.url(path), headers, body.into()).await
    }

    pub(super) async fn get(&self, path: &str) -> Answer {
        self.request("GET", path, &[], Bytes::new()).await
    }

    /// Starts the listener's graceful shutdown (as the binary does on SIGTERM).
    pub(super) fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub(super) fn reloader(&self) -> Reloader {
        Reloader::new(
            vec![self.file.clone()],
            Arc::clone(&self.live),
            Arc::new(SystemClock),
        )
    }

    /// Waits until the access log has at least `n` lines.
    pub(super) async fn log_lines(&self, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let lines = self.log.lines();
            if lines.len() >= n {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.log.lines()
    }

    /// The first access-log line that contains `needle`, once one is written.
    pub(super) async fn log_line_with(&self, needle: &str) -> String {
        for _ in 0..100 {
            if let Some(line) = self.log.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no log line with {needle:?} in {:?}", self.log.lines());
    }
}

/// An access-log format with the status and the integration's error, for the tests that read
/// why an integration failed.
pub(super) const INTEGRATION_LOG: &str =
    r#"{\"status\":\"$context.status\",\"error\":\"$context.integration.error\"}"#;

pub(super) async fn send(
    client: &TestClient,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Answer {
    let mut request = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client
        .request(request.body(Full::new(body)).unwrap())
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

/// Sends raw bytes on a fresh connection and reads until the server closes it (or
/// `deadline` passes); returns everything read.
pub(super) async fn raw(addr: SocketAddr, bytes: &[u8], deadline: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(deadline, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}
