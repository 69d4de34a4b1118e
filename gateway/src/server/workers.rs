//! The data plane on several threads: one single-threaded tokio runtime per worker, each with
//! its own listener on the shared port ([`shared_listener`]), its own [`GatewayService`] (so
//! its own backend connection pool) and its own [`serve_capped`] loop, under one connection
//! cap for the port. The kernel spreads new connections between the listeners; a connection,
//! its requests and the backend connections they use then stay on one thread, as in nginx's
//! worker processes.
//!
//! What the workers share lives behind `Arc`s in the service ([`Live`](crate::server::Live):
//! snapshot, stages, metrics); the background tasks (reloads, quota flushes) stay on the
//! caller's runtime. Shutdown is one watch channel: every worker stops accepting, lets its
//! in-flight requests finish within the grace period, and [`Workers::join`] returns when the
//! last one is done.

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::server::listener::{ConnectionCap, serve_capped, shared_listener};
use crate::server::pipeline::GatewayService;

/// Most worker threads a gateway runs.
pub const MAX_WORKERS: usize = 256;

/// Listeners bound for the workers, before any accepts (so the caller can print the address
/// and only then start serving).
#[derive(Debug)]
pub struct WorkerListeners {
    addr: SocketAddr,
    listeners: Vec<std::net::TcpListener>,
}

/// The running workers.
#[derive(Debug)]
pub struct Workers {
    threads: Vec<JoinHandle<io::Result<()>>>,
}

// === impl WorkerListeners ===

impl WorkerListeners {
    /// Binds `count` listeners (1..=[`MAX_WORKERS`]) on `addr`; port 0 binds a free port and
    /// every listener gets that one. Must run inside a tokio runtime.
    ///
    /// `SO_REUSEPORT` would let a second process bind a port this one serves, and the kernel
    /// would split the connections between them without a word; so a given port is first bound
    /// once without it, which fails with "address in use" as a plain bind does. Port 0 is
    /// not: the kernel picks a port nobody holds, and the first worker's listener keeps it
    /// from then on (binding it plainly first and closing that socket would free the port for
    /// anyone, a parallel test or another server, before the workers bind it).
    pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Self> {
        if count == 0 || count > MAX_WORKERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the gateway runs 1 to {MAX_WORKERS} workers, not {count}"),
            ));
        }
        let mut listeners = Vec::with_capacity(count);
        let addr = if addr.port() == 0 {
            let first = shared_listener(addr)?;
            let picked = first.local_addr()?;
            listeners.push(first.into_std()?);
            picked
        } else {
            std::net::TcpListener::bind(addr)?.local_addr()?
        };
        while listeners.len() < count {
            listeners.push(shared_listener(addr)?.into_std()?);
        }
        Ok(Self { addr, listeners })
    }

    /// The bound address (the port resolved if 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts one thread per listener, each serving a service from `make_service` until
    /// `stopped` turns true.
    pub fn spawn(
        self,
        make_service: impl Fn() -> GatewayService,
        stopped: watch::Receiver<bool>,
    ) -> io::Result<Workers> {
        let mut threads = Vec::with_capacity(self.listeners.len());
        // One cap for the port, whichever worker the kernel hands a connection to.
        let mut cap = None;
        for (index, listener) in self.listeners.into_iter().enumerate() {
            let service = make_service();
            let cap = cap
                .get_or_insert_with(|| ConnectionCap::new(service.config().max_connections))
                .clone();
            let mut stopped = stopped.clone();
            let thread = std::thread::Builder::new()
                .name(format!("gateway-worker-{index}"))
                .spawn(move || -> io::Result<()> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async move {
                        let listener = TcpListener::from_std(listener)?;
                        serve_capped(listener, service, &cap, async move {
                            let _ = stopped.wait_for(|stop| *stop).await;
                        })
                        .await
                    })
                })?;
            threads.push(thread);
        }
        Ok(Workers { threads })
    }
}

// === impl Workers ===

impl Workers {
    /// Waits for every worker to finish (without blocking the caller's runtime); the first
    /// error wins.
    pub async fn join(self) -> io::Result<()> {
        let threads = self.threads;
        tokio::task::spawn_blocking(move || {
            let mut result = Ok(());
            for thread in threads {
                let outcome = thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a gateway worker panicked")));
                if result.is_ok() {
                    result = outcome;
                }
            }
            result
        })
        .await
        .unwrap_or_else(|err| Err(io::Error::other(err)))
    }
}
