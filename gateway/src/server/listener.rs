//! The edge listener: HTTP/1.1 connections served by hyper with the limits that keep a slow or
//! hostile client from holding resources — a bounded request head (431 past its size or its
//! number of header fields), a deadline to send it (slowloris), a cap on open connections
//! (503 and close past it), RFC 9112 message framing (hyper refuses a request with both
//! `Content-Length` and `Transfer-Encoding` or with conflicting lengths, and closes the
//! connection, so nothing can be smuggled behind it) — and graceful shutdown.
//!
//! Every public listener of the binary is served here: the gateway's ([`serve`], with a
//! [`GatewayService`]) and the identity listener's ([`serve_router`], with an axum router),
//! so both meet the same limits. The limits are [`EdgeLimits`]; request bodies are limited by
//! the services, which know their protocol's error shape.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::server::pipeline::{GatewayService, ServiceConfig};

/// hyper's smallest read buffer; the header limit cannot be set below it.
const MIN_HEADER_BYTES: usize = 8 * 1024;

/// What a connection over the cap is told before it is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 34\r\nretry-after: 1\r\nconnection: close\r\n\r\n{\"message\":\"Too many connections\"}";

/// How long a connection over the cap gets to take its 503.
const OVER_CAPACITY_WRITE: Duration = Duration::from_secs(1);

/// Connection-level limits of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Request line plus headers (at least 8 KiB, hyper's smallest buffer) → 431.
    pub max_header_bytes: usize,
    /// Header fields in one request → 431.
    pub max_headers: usize,
    /// Time a client gets to send a complete request head; past it the connection is closed
    /// (slowloris).
    pub header_read_timeout: Duration,
    /// Connections open at once; a connection past it is answered 503 and closed.
    pub max_connections: usize,
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
    /// 32 KiB of head in at most 100 fields within 10 s; 10 000 connections; 30 s to drain.
    fn default() -> Self {
        Self {
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
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

/// Serves `service` on `listener` until `shutdown` resolves, with the limits of its config and
/// a connection cap of its own; then stops accepting, lets in-flight requests finish (up to
/// the grace period) and returns.
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
    serve_connections(
        listener,
        &limits,
        cap,
        |remote, permit| service.for_connection(remote, Some(permit)),
        "gateway",
        shutdown,
    )
    .await
}

/// Serves an axum `router` on `listener` with `limits` (the identity listener, the metrics
/// listener) until `shutdown` resolves. Handlers can read the peer address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve_router(
    listener: TcpListener,
    limits: &EdgeLimits,
    router: axum::Router,
    name: &'static str,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let cap = ConnectionCap::new(limits.max_connections);
    serve_connections(
        listener,
        limits,
        &cap,
        // The identity and metrics routers do not upgrade connections: the accept loop's
        // permit covers the whole connection.
        |remote, _| RouterService::new(router.clone(), remote),
        name,
        shutdown,
    )
    .await
}

/// The accept loop every listener shares. `make_service` gets each connection's peer and its
/// place under the cap; `name` is for log lines.
async fn serve_connections<S, B>(
    listener: TcpListener,
    limits: &EdgeLimits,
    cap: &ConnectionCap,
    make_service: impl Fn(SocketAddr, ConnectionPermit) -> S,
    name: &'static str,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES))
        .max_headers(limits.max_headers)
        .keep_alive(true);
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
                    tokio::spawn(refuse(stream));
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let permit = ConnectionPermit {
                    _place: Arc::new(permit),
                };
                let connection = builder
                    .serve_connection(TokioIo::new(stream), make_service(remote, permit.clone()))
                    .with_upgrades();
                let mut stopped = stopped.clone();
                let alive = alive.clone();
                tokio::spawn(async move {
                    tokio::pin!(connection);
                    let result = tokio::select! {
                        result = connection.as_mut() => result,
                        () = async { drop(stopped.wait_for(|stop| *stop).await) } => {
                            // Finish the request in flight, then close.
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    };
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
