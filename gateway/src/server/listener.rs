//! The gateway listener: HTTP/1.1 connections served by hyper with the limits that keep a
//! slow or hostile client from holding resources — a bounded request head (431 past it), a
//! deadline to send it (slowloris), RFC 9112 message framing (hyper refuses a request with
//! both `Content-Length` and `Transfer-Encoding` or with conflicting lengths, and closes the
//! connection, so nothing can be smuggled behind it) — and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, watch};

use crate::server::pipeline::GatewayService;

/// hyper's smallest read buffer; the header limit cannot be set below it.
const MIN_HEADER_BYTES: usize = 8 * 1024;

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

/// Serves `service` on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish (up to the configured grace period) and returns.
pub async fn serve(
    listener: TcpListener,
    service: GatewayService,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = service.config().clone();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes.max(MIN_HEADER_BYTES))
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
                        tracing::warn!(%err, "gateway: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service.for_connection(remote))
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
                        tracing::debug!(%err, %remote, "gateway connection ended with an error");
                    }
                    drop(alive);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    if tokio::time::timeout(config.shutdown_grace, done.recv())
        .await
        .is_err()
    {
        tracing::warn!("gateway: grace period over; closing the remaining connections");
    }
    Ok(())
}
