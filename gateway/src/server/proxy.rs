//! HTTP integrations: the backend request (URI from the template with path parameters and
//! stage variables, parameter mappings, forwarded headers, hop-by-hop headers removed), the
//! pooled keep-alive client (`http://`, and `https://` over TLS with HTTP/2 when the backend
//! offers it, see [`crate::server::backend_tls`]), and the backend response on its way back.
//!
//! Bodies stream both ways: the client's body goes to the backend as it arrives (limited to
//! the API's maximum when its length is not announced) and the backend's body comes back
//! frame by frame. A WebSocket upgrade is passed through: the `Upgrade`/`Connection` pair is
//! kept, and after the backend's 101 both upgraded connections are spliced together.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{Method, Request, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use crate::definition::mapping::{self, MappingSource, ParamLocation, RequestParam};
use crate::definition::model::{HeaderValueSource, HttpIntegration, HttpMethod};
use crate::definition::path::{check_path_value, percent_decode};
use crate::definition::template::encode_path_value;
use crate::server::backend_http1::{
    self, Checkin, Conn, Http1Error, IdleConns, Outgoing, check_transfer_coding,
};
use crate::server::backend_tls::BackendTls;
use crate::server::body::GatewayBody;
use crate::server::error::GatewayError;
use crate::server::steps::RequestContext;
use http_body::Body as _;

/// Keep-alive HTTP/1.1 connections to backends, one pool per [`crate::server::GatewayService`]
/// (so per worker runtime when each worker has its own service).
///
/// A request with no body to a plain `http://` backend (and no upgrade) is written and read
/// by the request's own task on a connection of [`crate::server::backend_http1`] (`plain`): no connection
/// task, no channel between them. An idle one is lent again only if nothing is waiting to be
/// read on it (a backend that closed it left an end of file), and a request that met a
/// connection closed before a byte of an answer arrived is sent again on a new one when its
/// method is idempotent. The others — bodies, upgrades — go through hyper as follows.
///
/// A pooled connection is hyper's bare `SendRequest` with its connection driven by a task on
/// the runtime that opened it: no checkout future, no pool-key hashing of scheme and
/// authority objects, no executor indirection — the pooled legacy client did all of that per
/// request. A sender goes back to the pool when the response head arrives; it is handed out
/// again only once hyper reports it ready (its previous response fully read), so a streaming
/// response never blocks a new request. A request that could not be written on a pooled
/// connection (the backend closed it while idle) is retried once on a new one.
///
/// Connections idle past the idle timeout are dropped (and so closed) by the next check-in
/// after it, for every backend: those of a backend no route uses any more do not linger.
///
/// `https://` backends have a pool of their own, keyed by the TLS settings' id and the
/// authority (so a connection is only lent to requests made under the same trust settings):
/// an HTTP/1.1 connection is lent to one request at a time as above, an HTTP/2 connection
/// (when the backend chose `h2` through ALPN) to every request at once.
#[derive(Debug)]
pub(crate) struct BackendPool {
    /// Connections of bodiless requests to `http://` backends (see above).
    plain: Arc<Mutex<IdleConns>>,
    idle: Mutex<IdleConnections>,
    secure: Mutex<SecureConnections>,
    idle_timeout: Duration,
    max_idle_per_host: usize,
}

#[derive(Debug)]
struct SecureConnections {
    by_backend: HashMap<(u64, Authority), Vec<SecureIdle>>,
    swept: Instant,
}

#[derive(Debug)]
struct SecureIdle {
    sender: SecureSender,
    since: Instant,
}

/// A connection to an `https://` backend, in the protocol ALPN agreed on.
#[derive(Debug)]
enum SecureSender {
    Http1(SendRequest<GatewayBody>),
    Http2(http2::SendRequest<GatewayBody>),
}

impl SecureSender {
    fn is_closed(&self) -> bool {
        match self {
            Self::Http1(sender) => sender.is_closed(),
            Self::Http2(sender) => sender.is_closed(),
        }
    }
}

#[derive(Debug)]
struct IdleConnections {
    by_authority: HashMap<String, Vec<Idle>>,
    /// When every list was last cleared of expired and closed connections.
    swept: Instant,
}

#[derive(Debug)]
struct Idle {
    sender: SendRequest<GatewayBody>,
    since: Instant,
}

impl Idle {
    /// Still open and not idle for `timeout` yet.
    fn usable(&self, now: Instant, timeout: Duration) -> bool {
        !self.sender.is_closed() && now.duration_since(self.since) < timeout
    }
}

/// Why a backend request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    #[error("backend uri needs the http scheme and a host (scheme `{0}`)")]
    Uri(String),
    #[error("cannot connect to `{authority}`: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    #[error("tls with `{authority}` failed: {source}")]
    Tls {
        authority: String,
        source: std::io::Error,
    },
    #[error("backend tls settings: {0}")]
    TlsSettings(#[from] crate::server::tls::TlsError),
    #[error(transparent)]
    Http(#[from] hyper::Error),
    #[error(transparent)]
    Http1(#[from] Http1Error),
    #[error("no response head before the integration timeout")]
    TimedOut,
}

impl BackendPool {
    pub(crate) fn new(idle_timeout: Duration, max_idle_per_host: usize) -> Self {
        Self {
            plain: Arc::new(Mutex::new(IdleConns {
                by_authority: HashMap::default(),
                swept: Instant::now(),
            })),
            idle: Mutex::new(IdleConnections {
                by_authority: HashMap::new(),
                swept: Instant::now(),
            }),
            secure: Mutex::new(SecureConnections {
                by_backend: HashMap::new(),
                swept: Instant::now(),
            }),
            idle_timeout,
            max_idle_per_host,
        }
    }

    /// Sends `request` (absolute URI) on a pooled connection to its authority; an `https://`
    /// one with `tls` (the Mozilla roots when `None`). `websocket`: the request is a WebSocket
    /// upgrade, as the caller found with [`is_websocket_upgrade`] (mappings cannot set
    /// `Connection` or `Upgrade`, so the client's headers decide; an `https://` one goes on
    /// an HTTP/1.1 connection of its own). [`BackendError::TimedOut`] when the response head has
    /// not arrived by `deadline` (the integration timeout). `sent`: the time the caller read
    /// just before this call (the first pool look-up ages idle connections from it instead of
    /// reading the clock again; a retry reads the clock). `deferred`: the forwarding fields
    /// [`backend_request`] left out of the map, written into the head by the bodiless plain
    /// path and put into the map here for every other.
    pub(crate) async fn request(
        &self,
        mut request: Request<GatewayBody>,
        deferred: Deferred,
        websocket: bool,
        tls: Option<&Arc<BackendTls>>,
        sent: Instant,
        deadline: tokio::time::Instant,
    ) -> Result<http::Response<GatewayBody>, BackendError> {
        let direct = request.uri().scheme_str() == Some("http")
            && request.body().is_end_stream()
            && !websocket;
        // Decided here, once, for every way below: only the bodiless plain path writes the
        // head itself.
        let deferred = if direct {
            deferred
        } else {
            deferred.apply(request.headers_mut());
            Deferred::default()
        };
        let uri = request.uri();
        // The paths other than the bodiless plain one hold large futures (a TLS handshake,
        // hyper's): boxed, so every request's future stays small (it is moved into a box of
        // its own per request, and copied whole).
        if uri.scheme_str() == Some("https") {
            let answer =
                tokio::time::timeout_at(deadline, self.request_secure(request, tls, websocket));
            return match Box::pin(answer).await {
                Ok(answer) => Ok(answer?.map(GatewayBody::Incoming)),
                Err(_) => Err(BackendError::TimedOut),
            };
        }
        let (Some(authority), Some("http")) = (uri.authority(), uri.scheme_str()) else {
            // Not the whole URI: its user info may hold a password.
            return Err(BackendError::Uri(
                uri.scheme_str().unwrap_or("none").to_owned(),
            ));
        };
        // A reference count, not a copy: the pool is searched with the borrowed text.
        let authority = authority.clone();
        if direct {
            // The request's head only: a body (none here) need not be `Sync` across awaits.
            let (head, _) = request.into_parts();
            let answer = self
                .request_plain(&head, deferred, &authority, sent, deadline)
                .await;
            backend_http1::recycle_request_headers(head.headers);
            return answer;
        }
        let answer = tokio::time::timeout_at(deadline, self.request_hyper(request, authority));
        Box::pin(answer)
            .await
            .unwrap_or(Err(BackendError::TimedOut))
    }

    /// A request with a body, or an upgrade, to a plain backend: through hyper.
    async fn request_hyper(
        &self,
        mut request: Request<GatewayBody>,
        authority: Authority,
    ) -> Result<http::Response<GatewayBody>, BackendError> {
        let key = authority.as_str();
        // HTTP/1.1 to an origin server: the request target is the path and query.
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
        *request.uri_mut() = target;
        let host = key.rsplit_once('@').map_or(key, |(_, host)| host);
        if !request.headers().contains_key(header::HOST)
            && let Ok(host) = HeaderValue::from_str(host)
        {
            request.headers_mut().insert(header::HOST, host);
        }
        loop {
            let (mut sender, pooled) = match self.checkout(key) {
                Some(sender) => (sender, true),
                None => (self.connect(&authority).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    // Refused before the check-in: its connection is not lent again.
                    check_transfer_coding(response.headers())?;
                    self.checkin(key, sender);
                    return Ok(response.map(GatewayBody::Incoming));
                }
                Err(mut err) => match err.take_message() {
                    // Not written: a connection the backend closed while it was idle.
                    Some(unsent) if pooled => request = unsent,
                    _ => return Err(err.into_error().into()),
                },
            }
        }
    }

    /// A bodiless request on a connection driven by this task (see
    /// [`crate::server::backend_http1`]).
    async fn request_plain(
        &self,
        request: &http::request::Parts,
        deferred: Deferred,
        authority: &Authority,
        sent: Instant,
        deadline: tokio::time::Instant,
    ) -> Result<http::Response<GatewayBody>, BackendError> {
        let key = authority.as_str();
        let target = request
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        // The backend's own `Host`, unless the map has one of the request's own (from a
        // mapping); a client's `Host` the map still holds goes as `X-Forwarded-Host`.
        let host = (deferred.client_host || !request.headers.contains_key(header::HOST))
            .then(|| key.rsplit_once('@').map_or(key, |(_, host)| host));
        let outgoing = Outgoing {
            method: &request.method,
            target,
            host,
            headers: &request.headers,
            deferred,
        };
        let mut now = sent;
        loop {
            let (conn, pooled) = match self.checkout_plain(key, now) {
                Some(conn) => (conn, true),
                None => {
                    // The error names host and port only: user info may hold a password.
                    let (host, port) = socket_target(authority, 80);
                    let connected = tokio::time::timeout_at(deadline, Conn::connect(host, port))
                        .await
                        .map_err(|_| BackendError::TimedOut)?;
                    let conn = connected.map_err(|source| BackendError::Connect {
                        authority: format!("{host}:{port}"),
                        source,
                    })?;
                    (conn, false)
                }
            };
            let checkin = Checkin {
                pool: Arc::clone(&self.plain),
                key: authority.clone(),
                max_idle: self.max_idle_per_host,
            };
            match conn.send(outgoing, deadline, checkin).await {
                Ok(response) => return Ok(response),
                // Closed before a byte of an answer: the backend closed it while idle.
                Err(Http1Error::Closed) if pooled && request.method.is_idempotent() => {
                    // The failed attempt took time: the next look-up ages connections from now.
                    now = Instant::now();
                }
                Err(Http1Error::TimedOut) => return Err(BackendError::TimedOut),
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// An idle connection to `key`, not idle past the timeout at `now`. `now` may be a little
    /// earlier than a connection's check-in (read before another request put it back): its
    /// idle time is then zero.
    fn checkout_plain(&self, key: &str, now: Instant) -> Option<Conn> {
        let mut idle = self.plain.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(idle.swept) >= self.idle_timeout {
            idle.swept = now;
            idle.by_authority.retain(|_, list| {
                list.retain(|(_, since)| now.saturating_duration_since(*since) < self.idle_timeout);
                !list.is_empty()
            });
        }
        let list = idle.by_authority.get_mut(key)?;
        while let Some((conn, since)) = list.pop() {
            if now.saturating_duration_since(since) < self.idle_timeout && conn.idle_usable() {
                return Some(conn);
            }
        }
        None
    }

    fn checkout(&self, key: &str) -> Option<SendRequest<GatewayBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.by_authority.get_mut(key)?;
        let now = Instant::now();
        list.retain(|c| c.usable(now, self.idle_timeout));
        let ready = list.iter().rposition(|c| c.sender.is_ready())?;
        Some(list.swap_remove(ready).sender)
    }

    fn checkin(&self, key: &str, sender: SendRequest<GatewayBody>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if now.duration_since(idle.swept) >= self.idle_timeout {
            idle.swept = now;
            idle.by_authority.retain(|_, list| {
                list.retain(|c| c.usable(now, self.idle_timeout));
                !list.is_empty()
            });
        }
        let entry = Idle { sender, since: now };
        match idle.by_authority.get_mut(key) {
            Some(list) if list.len() < self.max_idle_per_host => list.push(entry),
            Some(_) => {}
            None => {
                idle.by_authority.insert(key.to_owned(), vec![entry]);
            }
        }
    }

    async fn connect(
        &self,
        authority: &Authority,
    ) -> Result<SendRequest<GatewayBody>, BackendError> {
        // The error names host and port only: user info may hold a password.
        let (host, port) = socket_target(authority, 80);
        let connect_error = |source| BackendError::Connect {
            authority: format!("{host}:{port}"),
            source,
        };
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            if let Err(err) = connection.with_upgrades().await {
                tracing::debug!(%err, "backend connection ended with an error");
            }
        });
        Ok(sender)
    }
}

// === https:// backends ===

impl BackendPool {
    /// [`Self::request`] to an `https://` backend.
    async fn request_secure(
        &self,
        mut request: Request<GatewayBody>,
        tls: Option<&Arc<BackendTls>>,
        upgrade: bool,
    ) -> Result<http::Response<Incoming>, BackendError> {
        let tls = match tls {
            Some(tls) => Arc::clone(tls),
            None => BackendTls::mozilla()?,
        };
        let uri = request.uri().clone();
        let Some(authority) = uri.authority().cloned() else {
            return Err(BackendError::Uri("https".to_owned()));
        };
        let origin_form = uri
            .path_and_query()
            .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
        // A WebSocket upgrade is HTTP/1.1's: such requests get connections of their own.
        let key = (tls.pool_id(upgrade), authority);
        loop {
            let (sender, pooled) = match self.checkout_secure(&key) {
                Some(sender) => (sender, true),
                None => {
                    let sender = self.connect_secure(&key.1, &tls, upgrade).await?;
                    // A new HTTP/2 connection is shared from now on, not once it answered.
                    if let SecureSender::Http2(shared) = &sender {
                        self.checkin_secure(&key, SecureSender::Http2(shared.clone()));
                    }
                    (sender, false)
                }
            };
            let (attempt, sender) = match sender {
                SecureSender::Http1(mut sender) => {
                    // HTTP/1.1 to an origin server: the request target is the path and query.
                    *request.uri_mut() = origin_form.clone();
                    *request.version_mut() = http::Version::HTTP_11;
                    let host = key.1.as_str();
                    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
                    if !request.headers().contains_key(header::HOST)
                        && let Ok(host) = HeaderValue::from_str(host)
                    {
                        request.headers_mut().insert(header::HOST, host);
                    }
                    let attempt = sender.try_send_request(request).await;
                    (attempt, SecureSender::Http1(sender))
                }
                SecureSender::Http2(mut sender) => {
                    // HTTP/2 names scheme and authority in the request itself; `Host` would
                    // be a second, possibly different, name for it.
                    *request.uri_mut() = uri.clone();
                    *request.version_mut() = http::Version::HTTP_2;
                    request.headers_mut().remove(header::HOST);
                    let attempt = sender.try_send_request(request).await;
                    (attempt, SecureSender::Http2(sender))
                }
            };
            match attempt {
                Ok(response) => {
                    // Refused before the check-in: its connection is not lent again (an
                    // HTTP/2 connection stays shared; HTTP/2 has no transfer codings).
                    check_transfer_coding(response.headers())?;
                    self.checkin_secure(&key, sender);
                    return Ok(response);
                }
                Err(mut err) => match err.take_message() {
                    // Not written: a connection the backend closed while it was idle.
                    Some(unsent) if pooled => request = unsent,
                    _ => return Err(err.into_error().into()),
                },
            }
        }
    }

    /// An idle HTTP/1.1 connection (taken out of the pool) or a shared HTTP/2 one (a handle
    /// to it; the connection stays in the pool for other requests).
    fn checkout_secure(&self, key: &(u64, Authority)) -> Option<SecureSender> {
        let mut secure = self.secure.lock().unwrap_or_else(|e| e.into_inner());
        let list = secure.by_backend.get_mut(key)?;
        let now = Instant::now();
        list.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < self.idle_timeout);
        let at = list.iter().rposition(|c| match &c.sender {
            SecureSender::Http1(sender) => sender.is_ready(),
            SecureSender::Http2(sender) => sender.is_ready(),
        })?;
        match list.get_mut(at) {
            Some(SecureIdle {
                sender: SecureSender::Http2(sender),
                since,
            }) => {
                *since = now;
                Some(SecureSender::Http2(sender.clone()))
            }
            _ => Some(list.swap_remove(at).sender),
        }
    }

    fn checkin_secure(&self, key: &(u64, Authority), sender: SecureSender) {
        let mut secure = self.secure.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if now.duration_since(secure.swept) >= self.idle_timeout {
            secure.swept = now;
            secure.by_backend.retain(|_, list| {
                list.retain(|c| {
                    !c.sender.is_closed() && now.duration_since(c.since) < self.idle_timeout
                });
                !list.is_empty()
            });
        }
        let list = secure.by_backend.entry(key.clone()).or_default();
        // A shared HTTP/2 connection is pooled once, when it is made.
        if matches!(sender, SecureSender::Http2(_))
            && list
                .iter()
                .any(|c| matches!(c.sender, SecureSender::Http2(_)))
        {
            return;
        }
        if list.len() < self.max_idle_per_host {
            list.push(SecureIdle { sender, since: now });
        }
    }

    async fn connect_secure(
        &self,
        authority: &Authority,
        tls: &BackendTls,
        http1_only: bool,
    ) -> Result<SecureSender, BackendError> {
        // The errors name host and port only: user info may hold a password.
        let (host, port) = socket_target(authority, 443);
        let where_to = || format!("{host}:{port}");
        let connect_error = |source| BackendError::Connect {
            authority: where_to(),
            source,
        };
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        // The name verified, and sent as SNI unless it is an address.
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| BackendError::Uri(format!("https with host `{host}`")))?;
        let stream = tls
            .connector(http1_only)
            .connect(name, stream)
            .await
            .map_err(|source| BackendError::Tls {
                authority: where_to(),
                source,
            })?;
        let http2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(stream);
        if http2 {
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(io)
                .await?;
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(%err, "backend connection ended with an error");
                }
            });
            let sender = SecureSender::Http2(sender);
            return Ok(sender);
        }
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            if let Err(err) = connection.with_upgrades().await {
                tracing::debug!(%err, "backend connection ended with an error");
            }
        });
        Ok(SecureSender::Http1(sender))
    }
}

/// Where to connect for an authority: its host (without user info, IPv6 literals without
/// their brackets; names are resolved by the connect) and its port, `default_port` when it
/// names none.
fn socket_target(authority: &Authority, default_port: u16) -> (&str, u16) {
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (host, authority.port_u16().unwrap_or(default_port))
}

/// The decoded query string of a request, parsed once when a mapping needs it.
#[derive(Debug, Default)]
pub(crate) struct Query<'q> {
    pairs: Vec<(Cow<'q, str>, Cow<'q, str>)>,
}

impl<'q> Query<'q> {
    pub(crate) fn parse(raw: Option<&'q str>) -> Self {
        // Most requests have no query: no splitter to set up.
        let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
            return Self { pairs: Vec::new() };
        };
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Self { pairs }
    }

    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// Every pair, in order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// Whether a request parameter is present (for required-parameter validation).
pub(crate) fn has_param(param: &RequestParam, headers: &HeaderMap, query: &Query<'_>) -> bool {
    match param.location {
        ParamLocation::Header | ParamLocation::MultiValueHeader => {
            headers.contains_key(param.name.as_str())
        }
        ParamLocation::QueryString | ParamLocation::MultiValueQueryString => {
            query.first(&param.name).is_some()
        }
        // Path parameters are always present once a route matched.
        ParamLocation::Path => true,
    }
}

/// The value of a mapping source for this request.
pub(crate) fn source_value<'c>(
    source: &'c MappingSource,
    cx: &'c RequestContext<'_>,
    query: &'c Query<'_>,
) -> Option<Cow<'c, str>> {
    match source {
        MappingSource::Literal(value) => Some(Cow::Borrowed(value)),
        MappingSource::StageVariable(name) => cx
            .hit
            .stage
            .stage
            .variables
            .get(name)
            .map(|v| Cow::Borrowed(v.as_str())),
        MappingSource::Request(param) => match param.location {
            ParamLocation::Path => cx.hit.path_params.get(&param.name).map(Cow::Borrowed),
            ParamLocation::QueryString => query.first(&param.name).map(Cow::Borrowed),
            ParamLocation::MultiValueQueryString => {
                let values: Vec<&str> = query.all(&param.name).collect();
                (!values.is_empty()).then(|| Cow::Owned(values.join(",")))
            }
            ParamLocation::Header => cx
                .head
                .headers
                .get(param.name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(Cow::Borrowed),
            ParamLocation::MultiValueHeader => {
                let values: Vec<&str> = cx
                    .head
                    .headers
                    .get_all(param.name.as_str())
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                (!values.is_empty()).then(|| Cow::Owned(values.join(",")))
            }
        },
        MappingSource::Context(var) => context_value(var, cx),
    }
}

/// `context.NAME` for mappings.
fn context_value<'c>(var: &str, cx: &'c RequestContext<'_>) -> Option<Cow<'c, str>> {
    let hit = &cx.hit;
    Some(match var {
        "requestId" | "extendedRequestId" => Cow::Owned(cx.request_id.as_str().to_owned()),
        "apiId" => Cow::Borrowed(hit.api.id.as_str()),
        "stage" => Cow::Borrowed(hit.stage.stage.name.as_str()),
        "httpMethod" => Cow::Borrowed(cx.head.method.as_str()),
        "resourcePath" | "resourceId" => Cow::Borrowed(hit.resource.path.as_str()),
        "path" => Cow::Borrowed(cx.head.uri.path()),
        "protocol" => Cow::Borrowed(cx.protocol()),
        "identity.sourceIp" => Cow::Owned(cx.source_ip.to_string()),
        "identity.userAgent" => Cow::Borrowed(
            cx.head
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())?,
        ),
        "requestTimeEpoch" => {
            Cow::Owned(gatehouse_policy::calendar::unix_millis(cx.now).to_string())
        }
        "domainName" => Cow::Borrowed(
            cx.head
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())?,
        ),
        other => {
            if let Some(name) = other.strip_prefix("identity.") {
                Cow::Borrowed(cx.identity.get(name)?)
            } else if let Some(name) = other.strip_prefix("authorizer.") {
                Cow::Borrowed(cx.authorizer.as_ref()?.get(name)?)
            } else {
                return None;
            }
        }
    })
}

/// The backend URI: the template rendered with path parameters and stage variables, then
/// the query string (the request's own for proxies) and mapped query parameters.
pub(crate) fn backend_uri(
    cx: &RequestContext<'_>,
    http: &HttpIntegration,
    proxy: bool,
    query: &Query<'_>,
) -> Result<Uri, GatewayError> {
    let rendered = render_backend_uri(cx, http, proxy, query)?;
    // The rendered text becomes the URI's buffer, not a copy of it. It is checked as it is
    // parsed; the rare refusal renders it again for the message.
    Uri::from_maybe_shared(bytes::Bytes::from(rendered)).map_err(|_| {
        // The same inputs rendered the same text a moment ago; it cannot fail now.
        let uri = render_backend_uri(cx, http, proxy, query).unwrap_or_default();
        GatewayError::BadEndpoint(loggable_uri(&uri))
    })
}

/// The backend URI of an `HTTP` or `HTTP_PROXY` integration, without the client's query
/// string, when it is the same for every request of a stage: its template has no `{param}`
/// piece (only literals and stage variables) and no mapping adds to its query string. Built
/// once per snapshot. [`backend_request`] sends it as it is for `HTTP`, which passes no query
/// string on, and for `HTTP_PROXY` when the request's query string is empty; a proxy request
/// with a query string still renders its URI. `None` when the URI depends on the request, or
/// does not render or parse (each request then reports why, as without it).
pub(crate) fn fixed_backend_uri(
    http: &HttpIntegration,
    stage_variables: &std::collections::BTreeMap<String, String>,
) -> Option<Uri> {
    if http
        .request_parameters
        .iter()
        .any(|mapping| mapping.target.location.is_query_string())
    {
        return None;
    }
    let rendered = http.uri.render(|_| None, stage_variables).ok()?;
    Uri::try_from(rendered).ok()
}

/// The text of [`backend_uri`], not yet parsed.
fn render_backend_uri(
    cx: &RequestContext<'_>,
    http: &HttpIntegration,
    proxy: bool,
    query: &Query<'_>,
) -> Result<String, GatewayError> {
    let greedy = cx.hit.resource.path.greedy_param();
    // A value that would make a dot segment stops the rendering and the request (400).
    let refused = std::cell::Cell::new(None);
    let rendered = http.uri.render(
        |name| {
            let source = http.path_value_source(name);
            let keep_slashes = matches!(&source, MappingSource::Request(p)
                if p.location == ParamLocation::Path && Some(p.name.as_str()) == greedy);
            let value = source_value(&source, cx, query)?;
            // Stage variables are the operator's and may hold a scheme and host; everything
            // else may come from the client.
            if !matches!(source, MappingSource::StageVariable(_))
                && let Err(rejection) = check_path_value(&value)
            {
                refused.set(Some(rejection));
                return None;
            }
            Some(Cow::Owned(
                encode_path_value(&value, keep_slashes).into_owned(),
            ))
        },
        &cx.hit.stage.stage.variables,
    );
    if let Some(rejection) = refused.get() {
        return Err(GatewayError::InvalidPath(rejection));
    }
    let mut uri = rendered?;
    let mut separator = if uri.contains('?') { '&' } else { '?' };
    if proxy && let Some(raw) = cx.head.uri.query().filter(|q| !q.is_empty()) {
        uri.push(separator);
        uri.push_str(raw);
        separator = '&';
    }
    for mapping in &http.request_parameters {
        if !mapping.target.location.is_query_string() {
            continue;
        }
        let Some(value) = source_value(&mapping.source, cx, query) else {
            continue;
        };
        uri.push(separator);
        separator = '&';
        push_query_component(&mut uri, &mapping.target.name);
        uri.push('=');
        push_query_component(&mut uri, &value);
    }
    Ok(uri)
}

/// A backend URI as logs and `$context.integration.error` may show it: without the user info
/// (it may hold a password) and without the query string (mappings may have put a client's
/// token or key there).
fn loggable_uri(uri: &str) -> String {
    let before_query = uri.split(['?', '#']).next().unwrap_or_default();
    let cut = if before_query.len() < uri.len() {
        "?…"
    } else {
        ""
    };
    let Some((scheme, rest)) = before_query.split_once("://") else {
        return format!("{before_query}{cut}");
    };
    // Everything up to the last `@` goes, not only up to the first `/`: this text did not
    // parse, so a password holding a `/` may have put the authority's end in the wrong place.
    // (A path's own `@` then cuts the path too; the message still names where it goes.)
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
    format!("{scheme}://{host_and_path}{cut}")
}

fn push_query_component(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// What the proxy adds about the request's way in.
#[derive(Debug)]
pub(crate) struct Forwarding {
    /// The client's connection is TLS: `X-Forwarded-Proto: https`.
    pub(crate) secure: bool,
    /// The request is a WebSocket upgrade ([`is_websocket_upgrade`]).
    pub(crate) websocket: bool,
}

/// `X-Forwarded-For`, set by the gateway on every request (see [`clean_client_headers`]).
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Host`: the gateway's, from the request's `Host` (see [`backend_request`]).
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The forwarding fields of a backend request left to whatever writes its head (see
/// [`backend_request`]): the backend gets `X-Forwarded-Proto`, and the client's `Host` as
/// `X-Forwarded-Host` with its own authority as `Host`. The pool's own HTTP/1.1 connections
/// write them straight into the head (`backend_http1`), which spares a header-map removal and
/// two inserts per request; every other way to a backend puts them in the map first
/// ([`Self::apply`]). The default leaves nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Deferred {
    /// `X-Forwarded-Proto`'s value.
    pub(crate) proto: Option<&'static str>,
    /// The map's `Host` field, if any, is the client's: it goes as `X-Forwarded-Host`.
    pub(crate) client_host: bool,
}

/// Headers only the gateway writes for the backend; a client's header of one of these names,
/// or of a name that differs only by `_` for `-`, is removed before any stage runs. The
/// underscore spellings matter because CGI and WSGI servers (and the frameworks on them) read
/// `X_Forwarded_For` and `X-Forwarded-For` alike, as `HTTP_X_FORWARDED_FOR`.
const GATEWAY_HEADERS: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Makes a client's request head safe for the stages and the backend, before any stage
/// runs:
///
/// 1. Hop-by-hop headers (`Connection` and every header it names but `Host`, `Keep-Alive`,
///    `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`) are removed now, from the
///    client's headers only, so a `Connection: x-gatehouse-claims` cannot remove what the
///    gateway adds later. A WebSocket upgrade keeps `Connection: upgrade` and `Upgrade`.
/// 2. `resolve` names the client from what is left (the trusted-proxy rules) and the
///    `X-Forwarded-For` the backend gets.
/// 3. The client's `X-Forwarded-For` is replaced by that value, never appended to, and the
///    other headers only the gateway writes ([`GATEWAY_HEADERS`] and `x-gatehouse-*`, also
///    spelt with `_`) are removed: what stages, mappings, authorizer events and backends read
///    is the gateway's word.
///
/// The common request (no hop-by-hop header, none of the gateway's) costs one pass over the
/// header names and one insert. Returns the client, and whether the request is a WebSocket
/// upgrade ([`is_websocket_upgrade`] of the client's headers, found here so that a request
/// without hop-by-hop headers needs no look-up for it).
pub(crate) fn clean_client_headers(
    headers: &mut HeaderMap,
    resolve: impl FnOnce(&HeaderMap) -> (std::net::IpAddr, HeaderValue),
) -> (std::net::IpAddr, bool) {
    let (mut hop_by_hop, mut gateways, mut websocket) = (false, false, false);
    for name in headers.keys() {
        hop_by_hop |= is_hop_by_hop(name);
        gateways |= is_gateways(name.as_str());
    }
    if hop_by_hop {
        websocket = is_websocket_upgrade(headers);
        remove_hop_by_hop(headers, websocket);
        if websocket {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        }
    }
    let (client, forwarded_for) = resolve(headers);
    if gateways {
        let forged: Vec<HeaderName> = headers
            .keys()
            .filter(|name| is_gateways(name.as_str()))
            .cloned()
            .collect();
        for name in forged {
            headers.remove(name);
        }
    }
    headers.insert(X_FORWARDED_FOR, forwarded_for);
    (client, websocket)
}

/// Whether a request mapping sets a backend request header.
fn sets_header(mapping: &mapping::ParameterMapping) -> bool {
    matches!(
        mapping.target.location,
        ParamLocation::Header | ParamLocation::MultiValueHeader
    )
}

// === impl Deferred ===

impl Deferred {
    /// Puts the fields into `headers`, for a head written from the map alone: the map's
    /// `Host` becomes its `X-Forwarded-Host`, in place of any the map held, and
    /// `X-Forwarded-Proto` replaces any the map held.
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        if self.client_host {
            match headers.remove(header::HOST) {
                Some(host) => {
                    headers.insert(X_FORWARDED_HOST, host);
                }
                None => {
                    headers.remove(X_FORWARDED_HOST);
                }
            }
        }
        if let Some(proto) = self.proto {
            headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
        }
    }

    /// The name a field of the map is written under beside the deferred fields, or `None`
    /// when a deferred field takes its place: the head comes out as [`Self::apply`] would
    /// leave the map (the writer adds `X-Forwarded-Proto` itself).
    pub(crate) fn wire_name(self, name: &HeaderName) -> Option<&str> {
        if self.client_host {
            if name == header::HOST {
                return Some("x-forwarded-host");
            }
            if name == X_FORWARDED_HOST {
                return None;
            }
        }
        if self.proto.is_some() && name == X_FORWARDED_PROTO {
            return None;
        }
        Some(name.as_str())
    }
}

/// Whether a header name is one only the gateway writes, `_` standing for `-` (see
/// [`GATEWAY_HEADERS`]).
fn is_gateways(name: &str) -> bool {
    // Byte by byte, `_` in `name` matching `-`: `x_forwarded_for` is `x-forwarded-for`.
    let alike = |a: u8, b: u8| a == b || (a == b'_' && b == b'-');
    let same = |owned: &str| {
        name.len() == owned.len() && name.bytes().zip(owned.bytes()).all(|(a, b)| alike(a, b))
    };
    let prefix = crate::server::authorizers::HEADER_PREFIX;
    let gatehouse =
        name.len() >= prefix.len() && name.bytes().zip(prefix.bytes()).all(|(a, b)| alike(a, b));
    gatehouse || GATEWAY_HEADERS.iter().any(|owned| same(owned))
}

/// The backend request, and the forwarding fields left to whatever writes its head (to
/// pass on to [`BackendPool::request`]). `headers` went through [`clean_client_headers`] (no
/// hop-by-hop header is left but a WebSocket upgrade's pair, `X-Forwarded-For` is the
/// gateway's).
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces of one request"
)]
pub(crate) fn backend_request(
    cx: &RequestContext<'_>,
    mut headers: HeaderMap,
    http: &HttpIntegration,
    fixed_uri: Option<&Uri>,
    proxy: bool,
    query: &Query<'_>,
    forwarding: &Forwarding,
    body: GatewayBody,
) -> Result<(Request<GatewayBody>, Deferred), GatewayError> {
    let websocket = forwarding.websocket;
    // A proxy passes the client's query string on, which the fixed URI does not have.
    let uri = match fixed_uri {
        Some(uri) if !proxy || cx.head.uri.query().is_none_or(str::is_empty) => uri.clone(),
        _ => backend_uri(cx, http, proxy, query)?,
    };
    let method = match http.method {
        HttpMethod::Any => cx.head.method.clone(),
        defined => Method::from_bytes(defined.as_str().as_bytes()).unwrap_or(Method::GET),
    };
    if !proxy {
        // `HTTP` integrations send only what is mapped (plus the body's type and who the
        // client is, and the `Host` it asked for, which goes as `X-Forwarded-Host`).
        let mut kept = HeaderMap::new();
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::ACCEPT,
            X_FORWARDED_FOR,
            header::HOST,
        ] {
            if let Some(value) = headers.remove(&name) {
                kept.insert(name, value);
            }
        }
        headers = kept;
    }
    // The body's framing is decided again for the backend connection, and hyper answered any
    // `Expect: 100-continue` already. Most requests have neither: one pass over the names
    // decides, rather than a hash and a probe for each.
    if headers
        .keys()
        .any(|name| name == header::CONTENT_LENGTH || name == header::EXPECT)
    {
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::EXPECT);
    }
    if websocket {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    // The forwarding fields (the client's own `X-Forwarded-Host` went in
    // `clean_client_headers`; without a `Host`, as in HTTP/1.0, the backend gets none). A
    // mapping that sets a header has the last word, so with one they go in the map now;
    // otherwise they are left to whatever writes the head.
    let forwarded = Deferred {
        proto: Some(if forwarding.secure { "https" } else { "http" }),
        client_host: true,
    };
    let deferred = if http.request_parameters.iter().any(sets_header) {
        forwarded.apply(&mut headers);
        Deferred::default()
    } else {
        forwarded
    };
    for mapping in http.request_parameters.iter().filter(|m| sets_header(m)) {
        let (Ok(name), Some(value)) = (
            HeaderName::from_bytes(mapping.target.name.as_bytes()),
            source_value(&mapping.source, cx, query),
        ) else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok((request, deferred))
}

/// `Connection: upgrade` with `Upgrade: websocket`.
pub(crate) fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has_token(header::CONNECTION, "upgrade") && has_token(header::UPGRADE, "websocket")
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1): `Connection` and every header it names,
/// `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`. With
/// `keep_upgrade` (a 101 answer to a WebSocket upgrade) `Connection: upgrade` and `Upgrade`
/// stay.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages carry none of them: one pass over the names decides, and the removals
    // below (a hash and a probe each) only run when one is there.
    if headers.keys().any(is_hop_by_hop) {
        remove_hop_by_hop(headers, keep_upgrade);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// Whether a header is hop-by-hop by itself (see [`mapping::is_hop_by_hop`]).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    mapping::is_hop_by_hop(name.as_str())
}

fn remove_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        // `Host` is end to end: routing used it, and it becomes the backend's
        // `X-Forwarded-Host`, which a client could otherwise leave to its own spelling.
        if (keep_upgrade && name == header::UPGRADE) || name == header::HOST {
            continue;
        }
        headers.remove(name);
    }
    let proxy_headers: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for name in proxy_headers {
        headers.remove(name);
    }
    for name in [header::TE, header::TRAILER, header::TRANSFER_ENCODING] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    if !keep_upgrade {
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
    }
}

/// Applies a non-proxy integration response: its status and headers (literals or copies of
/// the backend's headers).
pub(crate) fn apply_integration_response(
    response: &mut http::Response<GatewayBody>,
    http: &HttpIntegration,
) -> Result<(), GatewayError> {
    if http.responses.is_empty() {
        return Ok(());
    }
    let status = response.status().as_u16();
    let selected = http
        .select_response(status)
        .ok_or(GatewayError::NoIntegrationResponse(status))?;
    *response.status_mut() =
        http::StatusCode::from_u16(selected.status).unwrap_or(http::StatusCode::OK);
    for (name, source) in &selected.headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let value = match source {
            HeaderValueSource::Literal(value) => HeaderValue::from_str(value).ok(),
            HeaderValueSource::BackendHeader(backend) => {
                response.headers().get(backend.as_str()).cloned()
            }
        };
        if let Some(value) = value {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keep-alive backend answering `ok` to every request; counts the connections the
    /// client closed.
    async fn counting_backend() -> (
        std::net::SocketAddr,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let closed = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&closed);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = std::sync::Arc::clone(&counter);
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 8192];
                    loop {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => {
                                counter.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            Ok(_) => {
                                let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                                if stream.write_all(answer.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        (addr, closed)
    }

    async fn get(pool: &BackendPool, addr: std::net::SocketAddr) {
        use http_body_util::BodyExt;
        let request = Request::get(format!("http://{addr}/"))
            .body(GatewayBody::Empty)
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let response = pool
            .request(
                request,
                Deferred::default(),
                false,
                None,
                Instant::now(),
                deadline,
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
    }

    #[tokio::test]
    async fn idle_connections_to_a_backend_no_longer_used_are_closed() {
        use std::sync::atomic::Ordering;
        let (first, first_closed) = counting_backend().await;
        let (second, _) = counting_backend().await;
        let pool = BackendPool::new(Duration::from_millis(100), 8);
        get(&pool, first).await;
        get(&pool, first).await;
        // One pooled connection served both, and it stays open while it is fresh.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(first_closed.load(Ordering::SeqCst), 0);
        // Past the idle timeout, traffic to another backend sweeps the first one's connection.
        tokio::time::sleep(Duration::from_millis(150)).await;
        get(&pool, second).await;
        for _ in 0..100 {
            if first_closed.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(first_closed.load(Ordering::SeqCst), 1);
        let idle = pool.idle.lock().unwrap();
        assert!(!idle.by_authority.contains_key(&first.to_string()));
    }

    fn socket_target80(authority: &Authority) -> (&str, u16) {
        socket_target(authority, 80)
    }

    #[test]
    fn a_backend_uri_is_fixed_when_only_stage_variables_make_it() {
        use crate::definition::mapping::{MappingTarget, ParameterMapping};
        use crate::definition::model::PassthroughBehavior;
        use crate::definition::template::UriTemplate;
        let integration = |uri: &str, mappings: &[(&str, &str)]| HttpIntegration {
            uri: UriTemplate::parse(uri).unwrap(),
            method: HttpMethod::Any,
            timeout_ms: 29_000,
            request_parameters: mappings
                .iter()
                .map(|(target, source)| ParameterMapping {
                    target: MappingTarget::parse(target).unwrap(),
                    source: MappingSource::parse(source).unwrap(),
                })
                .collect(),
            passthrough: PassthroughBehavior::WhenNoMatch,
            responses: Vec::new(),
            insecure_skip_verification: false,
        };
        let variables: std::collections::BTreeMap<String, String> = [
            ("host", "backend.internal:8080"),
            ("bad", "backend internal"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let fixed = |uri: &str, mappings: &[(&str, &str)]| {
            fixed_backend_uri(&integration(uri, mappings), &variables).map(|u| u.to_string())
        };
        // Literals and stage variables, with mappings that do not touch the query string.
        assert_eq!(
            fixed(
                "http://${stageVariables.host}/v1/orders?from=gateway",
                &[
                    ("header.x-stage", "stageVariables.host"),
                    ("header.x-id", "context.requestId")
                ],
            )
            .as_deref(),
            Some("http://backend.internal:8080/v1/orders?from=gateway")
        );
        // What a request supplies is rendered per request.
        assert_eq!(fixed("http://${stageVariables.host}/items/{id}", &[]), None);
        assert_eq!(
            fixed("http://${stageVariables.host}/static/{proxy}", &[]),
            None
        );
        for target in ["querystring.source", "multivaluequerystring.source"] {
            assert_eq!(
                fixed(
                    "http://${stageVariables.host}/echo",
                    &[(target, "'gateway'")]
                ),
                None,
                "{target}"
            );
        }
        // A URI that does not render or parse is each request's error, as before.
        assert_eq!(fixed("http://${stageVariables.missing}/echo", &[]), None);
        assert_eq!(fixed("http://${stageVariables.bad}/echo", &[]), None);
    }

    #[test]
    fn backend_addresses_default_to_port_80_and_unwrap_ipv6() {
        assert_eq!(
            socket_target80(&Authority::from_static("backend.internal")),
            ("backend.internal", 80)
        );
        assert_eq!(
            socket_target80(&Authority::from_static("backend.internal:8080")),
            ("backend.internal", 8080)
        );
        assert_eq!(
            socket_target80(&Authority::from_static("127.0.0.1:9000")),
            ("127.0.0.1", 9000)
        );
        assert_eq!(
            socket_target80(&Authority::from_static("[::1]:8443")),
            ("::1", 8443)
        );
        assert_eq!(
            socket_target80(&Authority::from_static("[::1]")),
            ("::1", 80)
        );
        assert_eq!(
            socket_target80(&Authority::from_static("user:secret@backend:81")),
            ("backend", 81)
        );
    }

    #[test]
    fn hop_by_hop_headers_go_both_ways() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic x"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("x-kept", "yes"),
        ] {
            headers.append(k, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut headers, false);
        assert_eq!(
            headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["x-kept"]
        );
    }

    #[test]
    fn endpoint_uris_are_logged_without_secrets() {
        for (uri, logged) in [
            (
                "http://user:s3cret@bad host:81/items/1?token=abc",
                "http://bad host:81/items/1?…",
            ),
            ("http://bad host/x", "http://bad host/x"),
            ("http://a@b@host/x#frag", "http://host/x?…"),
            ("http://admin:pa/ss@host/x", "http://host/x"),
            ("http://admin:pa/ss@host/x?k=v", "http://host/x?…"),
            ("not a uri?key=1", "not a uri?…"),
        ] {
            assert_eq!(loggable_uri(uri), logged, "{uri}");
        }
    }

    #[test]
    fn the_gateways_header_names_in_any_spelling() {
        for (name, gateways) in [
            ("x-forwarded-for", true),
            ("x_forwarded_for", true),
            ("x-forwarded_host", true),
            ("forwarded", true),
            ("x_real_ip", true),
            ("x-gatehouse-claims", true),
            ("x_gatehouse_anything", true),
            ("x-gatehouse", false),
            ("x-forwarded-for-me", false),
            ("x_custom", false),
            ("x-api-key", false),
        ] {
            assert_eq!(is_gateways(name), gateways, "{name}");
        }
    }

    /// The cleaning pass says whether the client asked for a WebSocket upgrade, and leaves
    /// `Connection: upgrade` and `Upgrade` only then.
    #[test]
    fn cleaning_finds_a_websocket_upgrade() {
        let peer = || {
            (
                "127.0.0.1".parse().unwrap(),
                HeaderValue::from_static("127.0.0.1"),
            )
        };
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("connection", "keep-alive")], false),
            (&[("upgrade", "websocket")], false),
            (&[("connection", "upgrade")], false),
            (
                &[
                    ("connection", "keep-alive, Upgrade"),
                    ("upgrade", "websocket"),
                ],
                true,
            ),
            (&[("connection", "upgrade"), ("upgrade", "h2c")], false),
        ];
        for (fields, websocket) in cases {
            let mut headers = HeaderMap::new();
            for (name, value) in *fields {
                headers.append(*name, HeaderValue::from_static(value));
            }
            let (_, found) = clean_client_headers(&mut headers, |_| peer());
            assert_eq!(found, *websocket, "{fields:?}");
            assert_eq!(
                headers.contains_key(header::CONNECTION) && headers.contains_key(header::UPGRADE),
                *websocket,
                "{fields:?}: {headers:?}"
            );
        }
    }

    #[test]
    fn websocket_upgrade_is_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        headers.insert(header::UPGRADE, HeaderValue::from_static("WebSocket"));
        assert!(is_websocket_upgrade(&headers));
        headers.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
        assert!(!is_websocket_upgrade(&headers));
    }

    #[test]
    fn queries_decode_and_encode() {
        let q = Query::parse(Some("a=1&b=x%20y&a=2&flag"));
        assert_eq!(q.first("a"), Some("1"));
        assert_eq!(q.all("a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(q.first("b"), Some("x y"));
        assert_eq!(q.first("flag"), Some(""));
        let mut out = String::new();
        push_query_component(&mut out, "a b&c=é");
        assert_eq!(out, "a%20b%26c%3D%C3%A9");
    }
}
