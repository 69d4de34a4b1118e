//! The edge listener: HTTP/1.1 and HTTP/2 connections, over TLS or in the clear, served by
//! hyper with the limits that keep a slow or hostile client from holding resources — a
//! bounded request head (431 past its size or its number of header fields; HTTP/2's header
//! list size), a deadline to finish the TLS handshake and send a request head (slowloris), a
//! cap on open connections (503 and close past it), RFC 9112 message framing (hyper refuses
//! conflicting lengths, reads a request with both `Content-Length` and `Transfer-Encoding` by
//! the latter and closes the connection after it, so nothing can be smuggled behind either),
//! HTTP/2's concurrent
//! streams and the resets and CONTINUATION frames a client may send (the rapid-reset and
//! CONTINUATION floods end the connection with GOAWAY) — and graceful shutdown.
//!
//! Which protocol a connection speaks is read from its first bytes: the HTTP/2 connection
//! preface means HTTP/2 (prior knowledge on a plain listener, or what ALPN agreed on over
//! TLS), anything else HTTP/1.1. TLS is the [`ServerTls`] of the listener, if it has one.
//!
//! Every public listener of the binary is served here: the gateway's ([`serve`], with a
//! [`GatewayService`]) and the identity listener's ([`serve_router`], with an axum router),
//! so both meet the same limits. The limits are [`EdgeLimits`]; request bodies are limited by
//! the services, which know their protocol's error shape.
//!
//! The gateway's HTTP/1.1 connections (plain, or TLS where ALPN chose `http/1.1` or nothing)
//! start on the listener's own request loop ([`edge_http1`]): it serves requests without a
//! body or framing headers in the connection's task, with one header deadline per
//! connection, and hands the rest of a connection to hyper's HTTP/1.1 server at the first
//! request it does not serve itself (bodies, chunked framing, `Expect`, upgrades, malformed or
//! oversized heads), so those get hyper's handling and hyper's 400/414/431 answers. HTTP/2 and
//! the identity and metrics listeners are hyper's throughout.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::server::edge_http1;
use crate::server::pipeline::{ConnectionService, GatewayService, ServiceConfig};
use crate::server::tls::ServerTls;

/// hyper's smallest read buffer; the header limit cannot be set below it.
const MIN_HEADER_BYTES: usize = 8 * 1024;

/// The header fields per request hyper's HTTP/1 server accepts when no limit is named (its
/// `DEFAULT_MAX_HEADERS`); past it the request gets 431, as past a named limit.
const HYPER_MAX_HEADERS: usize = 100;

/// What a connection over the cap is told before it is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 34\r\nretry-after: 1\r\nconnection: close\r\n\r\n{\"message\":\"Too many connections\"}";

/// How long a connection over the cap gets to take its 503.
const OVER_CAPACITY_WRITE: Duration = Duration::from_secs(1);

/// What an HTTP/2 client sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// HTTP/2 streams a client may open and reset before the server has taken them up; one more
/// ends the connection with GOAWAY `ENHANCE_YOUR_CALM` (the rapid-reset attack,
/// CVE-2023-44487).
const MAX_PENDING_RESETS: usize = 20;

/// HTTP/2 streams the server may have to reset because the client broke the protocol on
/// them; one more ends the connection with GOAWAY `ENHANCE_YOUR_CALM`.
const MAX_ERROR_RESETS: usize = 100;

/// Connection-level limits of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Request line plus headers (at least 8 KiB, hyper's smallest buffer) → 431.
    pub max_header_bytes: usize,
    /// Header fields in one request → 431.
    pub max_headers: usize,
    /// Time a client gets to send a complete request head; past it the connection is closed
    /// (slowloris). At most a year is kept (`Duration::MAX` serves as a year).
    pub header_read_timeout: Duration,
    /// Connections open at once; a connection past it is answered 503 and closed.
    pub max_connections: usize,
    /// HTTP/2 streams one connection may have open at once (the
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` the server announces; a stream past it is refused).
    pub max_concurrent_streams: u32,
    /// On shutdown, how long in-flight requests get to finish.
    pub shutdown_grace: Duration,
}

/// A cap on open connections, shared by every listener of one port (the gateway's workers
/// each have their own listener, and the cap is the port's, not the worker's).
#[derive(Debug, Clone)]
pub struct ConnectionCap {
    permits: Arc<Semaphore>,
}

/// A connection's place under its [`ConnectionCap`], given back when the last clone is dropped.
/// The accept loop holds one until the connection's future ends; a WebSocket upgrade ends that
/// future while the socket stays open, so the gateway's connection service hands a clone to
/// the task that splices the upgraded connections (see `pipeline::splice`), and an upgraded
/// connection counts against the cap for as long as it is open.
#[derive(Debug, Clone)]
pub struct ConnectionPermit {
    /// Held, never read: dropping the last clone gives the place back.
    _place: Arc<OwnedSemaphorePermit>,
}

/// An axum router as a per-connection hyper service: each request carries the peer address as
/// axum's `ConnectInfo<SocketAddr>`.
#[derive(Debug, Clone)]
pub struct RouterService {
    router: axum::Router,
    remote: SocketAddr,
}

// === impl EdgeLimits ===

impl Default for EdgeLimits {
    /// 32 KiB of head in at most 100 fields within 10 s; 10 000 connections of at most 100
    /// concurrent HTTP/2 streams; 30 s to drain.
    fn default() -> Self {
        Self {
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_concurrent_streams: 100,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl From<&ServiceConfig> for EdgeLimits {
    fn from(config: &ServiceConfig) -> Self {
        Self {
            max_header_bytes: config.max_header_bytes,
            max_headers: config.max_headers,
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            max_concurrent_streams: config.max_concurrent_streams,
            shutdown_grace: config.shutdown_grace,
        }
    }
}

// === impl ConnectionCap ===

impl ConnectionCap {
    /// Room for `max` connections at once.
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
        }
    }

    fn admit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permits).try_acquire_owned().ok()
    }
}

// === impl RouterService ===

impl RouterService {
    /// `router` serving a connection from `remote`.
    pub fn new(router: axum::Router, remote: SocketAddr) -> Self {
        Self { router, remote }
    }
}

impl hyper::service::Service<Request<Incoming>> for RouterService {
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let mut router = self.router.clone();
        Box::pin(async move {
            tower::Service::call(&mut router, request.map(axum::body::Body::new)).await
        })
    }
}

// === listeners ===

/// A listener on `addr` that other listeners on the same address may share (`SO_REUSEPORT`
/// on Unix): run one single-threaded runtime per core, each with its own listener, its own
/// [`GatewayService`] (so its own backend pool) and `serve`, and the kernel spreads
/// connections between them. A client connection, its requests and the backend connections
/// they use then stay on one thread — no work stealing and no cross-thread wake-ups per
/// request, which on a proxy cost more than the request itself.
pub fn shared_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves `service` on `listener` until `shutdown` resolves, with the limits and TLS of its
/// config and a connection cap of its own; then stops accepting, lets in-flight requests
/// finish (up to the grace period) and returns.
pub async fn serve(
    listener: TcpListener,
    service: GatewayService,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = EdgeLimits::from(service.config());
    let cap = ConnectionCap::new(limits.max_connections);
    serve_capped(listener, service, &cap, shutdown).await
}

/// [`serve`] with a cap shared with other listeners of the same port.
pub async fn serve_capped(
    listener: TcpListener,
    service: GatewayService,
    cap: &ConnectionCap,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = EdgeLimits::from(service.config());
    let tls = service.config().tls.clone();
    serve_connections(
        listener,
        &limits,
        tls,
        cap,
        |remote, permit, secure| service.for_connection(remote, Some(permit), secure),
        "gateway",
        shutdown,
    )
    .await
}

/// Serves an axum `router` on `listener` with `limits` (the identity listener, the metrics
/// listener), over `tls` when given, until `shutdown` resolves. Handlers can read the peer
/// address as `ConnectInfo<SocketAddr>`.
pub async fn serve_router(
    listener: TcpListener,
    limits: &EdgeLimits,
    tls: Option<ServerTls>,
    router: axum::Router,
    name: &'static str,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let cap = ConnectionCap::new(limits.max_connections);
    serve_connections(
        listener,
        limits,
        tls,
        &cap,
        // The identity and metrics routers do not upgrade connections: the accept loop's
        // permit covers the whole connection.
        |remote, _, _| RouterService::new(router.clone(), remote),
        name,
        shutdown,
    )
    .await
}

/// How each connection of a listener is served: one HTTP/1.1 and one HTTP/2 configuration,
/// built once per listener and shared by its connections.
#[derive(Debug)]
struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    /// The gateway's own HTTP/1.1 loop: the same limits as `http1`.
    edge: edge_http1::Settings,
    /// From accept to a decided protocol: the TLS handshake and the first bytes.
    opening_deadline: Duration,
}

/// How a connection's service serves an HTTP/1.1 connection: the gateway's with the
/// listener's own request loop ([`edge_http1`]), which hands what it does not serve itself to
/// hyper; the identity and metrics routers with hyper alone.
trait ServeHttp1: Sized {
    fn serve_http1<IO>(
        self,
        io: Opened<IO>,
        protocols: &Protocols,
        stopped: watch::Receiver<bool>,
    ) -> impl Future<Output = Result<(), ConnectionError>> + Send
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static;
}

impl ServeHttp1 for RouterService {
    fn serve_http1<IO>(
        self,
        io: Opened<IO>,
        protocols: &Protocols,
        stopped: watch::Receiver<bool>,
    ) -> impl Future<Output = Result<(), ConnectionError>> + Send
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        serve_hyper_http1(io, &protocols.http1, self, stopped)
    }
}

impl ServeHttp1 for ConnectionService {
    fn serve_http1<IO>(
        self,
        mut io: Opened<IO>,
        protocols: &Protocols,
        stopped: watch::Receiver<bool>,
    ) -> impl Future<Output = Result<(), ConnectionError>> + Send
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (first, len) = io.take_unread();
        async move {
            let prefix = first.get(..len).unwrap_or_default();
            edge_http1::serve(io, prefix, self, &protocols.edge, &protocols.http1, stopped).await
        }
    }
}

/// hyper's HTTP/1.1 server (with upgrades) on `io` until the connection ends or `stopped`
/// turns true (then the request in flight finishes and the connection closes).
pub(super) async fn serve_hyper_http1<IO, S, B>(
    io: IO,
    http1: &http1::Builder,
    service: S,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), ConnectionError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stop = async move { drop(stopped.wait_for(|stop| *stop).await) };
    let connection = http1
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result?,
        () = stop => {
            // Finish the request in flight, then close.
            connection.as_mut().graceful_shutdown();
            connection.await?;
        }
    }
    Ok(())
}

/// What a connection speaks, read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Http1,
    Http2,
}

/// The longest header deadline kept: a year. The deadline is added to the current time for
/// every head (by the listener's loop and by hyper), and past what an `Instant` holds that
/// addition panics; an embedder's `Duration::MAX` ("never") is served as this.
const LONGEST_HEADER_DEADLINE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl Protocols {
    fn new(limits: &EdgeLimits) -> Self {
        let max_head = limits.max_header_bytes.max(MIN_HEADER_BYTES);
        let header_read_timeout = limits.header_read_timeout.min(LONGEST_HEADER_DEADLINE);
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .max_buf_size(max_head)
            .keep_alive(true);
        // hyper's own limit is the default's, 100 fields, kept in two arrays on the stack;
        // naming any limit (even 100) makes it fill two 100-slot vectors per request instead
        // (about 1 700 instructions), so it is only named when it differs.
        if limits.max_headers != HYPER_MAX_HEADERS {
            http1.max_headers(limits.max_headers);
        }
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_concurrent_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .max_pending_accept_reset_streams(MAX_PENDING_RESETS)
            .max_local_error_reset_streams(MAX_ERROR_RESETS);
        Self {
            http1,
            http2,
            edge: edge_http1::Settings {
                max_head,
                max_headers: limits.max_headers,
                header_read_timeout,
            },
            opening_deadline: header_read_timeout,
        }
    }
}

/// The accept loop every listener shares. `make_service` gets each connection's peer, its
/// place under the cap and whether it is TLS; `name` is for log lines.
async fn serve_connections<S, B>(
    listener: TcpListener,
    limits: &EdgeLimits,
    tls: Option<ServerTls>,
    cap: &ConnectionCap,
    make_service: impl Fn(SocketAddr, ConnectionPermit, bool) -> S,
    name: &'static str,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: ServeHttp1,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let protocols = Arc::new(Protocols::new(limits));
    // Connections watch `stop`; each holds a clone of `alive`, so `recv` on `done` returns
    // once the last one has finished. (hyper-util's graceful helper cannot watch upgradeable
    // connections, which WebSocket pass-through needs.)
    let (stop, stopped) = watch::channel(false);
    let (alive, mut done) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%err, listener = name, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(permit) = cap.admit() else {
                    tracing::warn!(%remote, listener = name, "connection cap reached; refusing a connection");
                    // A TLS client could not read a plain-text 503 (and a handshake is the
                    // work the cap saves): it is closed without a word.
                    if tls.is_none() {
                        tokio::spawn(refuse(stream));
                    }
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let permit = ConnectionPermit {
                    _place: Arc::new(permit),
                };
                let service = make_service(remote, permit.clone(), tls.is_some());
                let protocols = Arc::clone(&protocols);
                let acceptor = tls.as_ref().map(|tls| tls.acceptor().clone());
                let stopped = stopped.clone();
                let alive = alive.clone();
                tokio::spawn(async move {
                    let result = serve_accepted(stream, acceptor, &protocols, service, stopped).await;
                    if let Err(err) = result {
                        tracing::debug!(%err, %remote, listener = name, "connection ended with an error");
                    }
                    drop(permit);
                    drop(alive);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    if tokio::time::timeout(limits.shutdown_grace, done.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            "grace period over; closing the remaining connections"
        );
    }
    Ok(())
}

type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

/// Serves one accepted connection: the TLS handshake when the listener has TLS, then
/// [`serve_stream`]. A shutdown during the handshake or before the first bytes closes the
/// connection at once, as nothing is in flight on it yet.
async fn serve_accepted<S, B>(
    stream: TcpStream,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    protocols: &Protocols,
    service: S,
    stopped: watch::Receiver<bool>,
) -> Result<(), ConnectionError>
where
    S: ServeHttp1,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(acceptor) = acceptor else {
        return serve_stream(stream, protocols, service, stopped).await;
    };
    let mut stopping = stopped.clone();
    let handshake = tokio::time::timeout(protocols.opening_deadline, acceptor.accept(stream));
    tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => serve_stream(stream, protocols, service, stopped).await,
            Ok(Err(err)) => Err(format!("tls handshake failed: {err}").into()),
            Err(_) => Err("tls handshake not finished in time".into()),
        },
        () = async { drop(stopping.wait_for(|stop| *stop).await) } => Ok(()),
    }
}

/// Serves one connection (a TCP stream, or the TLS stream over it) in the protocol its first
/// bytes name, until it ends or `stopped` turns true (then the request in flight finishes
/// and the connection closes: HTTP/2 clients get GOAWAY).
async fn serve_stream<IO, S, B>(
    io: IO,
    protocols: &Protocols,
    service: S,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), ConnectionError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: ServeHttp1,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let opening = tokio::time::timeout(protocols.opening_deadline, Opened::read(io));
    let mut stopping = stopped.clone();
    let opened = tokio::select! {
        opened = opening => opened,
        () = async { drop(stopping.wait_for(|stop| *stop).await) } => return Ok(()),
    };
    let (version, io) = match opened {
        Ok(Ok(Some(opened))) => opened,
        // Closed before a byte: nothing to answer.
        Ok(Ok(None)) => return Ok(()),
        Ok(Err(err)) => return Err(err.into()),
        Err(_) => return Err("no request within the header deadline".into()),
    };
    match version {
        Version::Http1 => service.serve_http1(io, protocols, stopped).await?,
        Version::Http2 => {
            let io = TokioIo::new(io);
            let stop = async move { drop(stopped.wait_for(|stop| *stop).await) };
            let connection = protocols.http2.serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => result?,
                () = stop => {
                    // GOAWAY: the streams in flight finish, no new one starts.
                    connection.as_mut().graceful_shutdown();
                    connection.await?;
                }
            }
        }
    }
    Ok(())
}

/// A connection whose first bytes were read to tell HTTP/2 from HTTP/1.1, and are read again
/// by hyper: up to 24 bytes kept inline, then the stream itself.
#[derive(Debug)]
struct Opened<IO> {
    io: IO,
    first: [u8; 24],
    /// `first[at..len]` is still to be read.
    at: usize,
    len: usize,
}

impl<IO: AsyncRead + Unpin> Opened<IO> {
    /// Reads until the bytes either are the HTTP/2 preface or cannot be; `None` when the
    /// client closed before sending anything.
    async fn read(mut io: IO) -> std::io::Result<Option<(Version, Self)>> {
        let mut first = [0u8; 24];
        let mut len = 0;
        let version = loop {
            let free = match first.get_mut(len..) {
                Some(free) if !free.is_empty() => free,
                _ => break Version::Http2,
            };
            let n = io.read(free).await?;
            if n == 0 {
                if len == 0 {
                    return Ok(None);
                }
                break Version::Http1;
            }
            len += n;
            if first.get(..len) != H2_PREFACE.get(..len) {
                break Version::Http1;
            }
        };
        Ok(Some((
            version,
            Self {
                io,
                first,
                at: 0,
                len,
            },
        )))
    }
}

impl<IO> Opened<IO> {
    /// The bytes read but not yet read again, taken: the caller reads them from its copy.
    fn take_unread(&mut self) -> ([u8; 24], usize) {
        let mut copy = [0u8; 24];
        let unread = self.first.get(self.at..self.len).unwrap_or_default();
        if let Some(to) = copy.get_mut(..unread.len()) {
            to.copy_from_slice(unread);
        }
        self.at = self.len;
        (copy, unread.len())
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Opened<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.len {
            let pending = this.first.get(this.at..this.len).unwrap_or_default();
            let n = pending.len().min(buf.remaining());
            buf.put_slice(pending.get(..n).unwrap_or_default());
            this.at += n;
            return std::task::Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Opened<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Tells a connection over the cap to come back later, and closes it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(OVER_CAPACITY_WRITE, async {
        stream.write_all(OVER_CAPACITY).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the opening of `pieces` (delivered one read each) and everything after it.
    async fn open(pieces: &[&'static [u8]]) -> Option<(Version, Vec<u8>)> {
        let mut reader: Box<dyn AsyncRead + Unpin + Send> = Box::new(tokio::io::empty());
        for piece in pieces.iter().rev() {
            reader = Box::new((*piece).chain(reader));
        }
        let (version, mut opened) = Opened::read(reader).await.unwrap()?;
        let mut all = Vec::new();
        opened.read_to_end(&mut all).await.unwrap();
        Some((version, all))
    }

    #[tokio::test]
    async fn the_first_bytes_tell_http2_from_http11_and_are_read_again() {
        let preface: &'static [u8] = H2_PREFACE;
        /// The rule, the reads the client's bytes arrive in, the protocol they name.
        type Case<'a> = (&'a str, &'a [&'static [u8]], Option<Version>);
        let cases: &[Case] = &[
            (
                "an HTTP/1.1 request",
                &[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"],
                Some(Version::Http1),
            ),
            (
                "a method that starts like the preface",
                &[b"P", b"OST / HTTP/1.1\r\n\r\n"],
                Some(Version::Http1),
            ),
            (
                "a WebDAV method one letter from the preface",
                &[b"PR", b"OPFIND / HTTP/1.1\r\n\r\n"],
                Some(Version::Http1),
            ),
            (
                "the preface in one read",
                &[preface, b"\0\0\0"],
                Some(Version::Http2),
            ),
            (
                "the preface a byte at a time",
                &[
                    b"P",
                    b"R",
                    b"I",
                    b" * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                    b"frames",
                ],
                Some(Version::Http2),
            ),
            (
                "a preface cut short",
                &[b"PRI * HTTP/2.0"],
                Some(Version::Http1),
            ),
            ("nothing at all", &[], None),
        ];
        for (rule, pieces, expected) in cases {
            let sent: Vec<u8> = pieces.concat();
            match open(pieces).await {
                Some((version, replayed)) => {
                    assert_eq!(Some(version), *expected, "{rule}");
                    assert_eq!(replayed, sent, "{rule}: every byte reaches hyper");
                }
                None => assert_eq!(*expected, None, "{rule}"),
            }
        }
    }

    #[test]
    fn the_over_capacity_answer_is_well_framed() {
        let text = std::str::from_utf8(OVER_CAPACITY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
