//! The data plane: the listener, the request pipeline, the HTTP proxy and mock integrations,
//! Lambda proxy integrations through identity's function registry ([`functions`]),
//! the steps a request passes (authorizers, API keys and usage plans, throttle, quota, cache)
//! and the live snapshot they all read. It depends on [`crate::definition`] and receives new
//! definitions from the control plane ([`crate::control`]), never the other way.
//!
//! What the binary wires:
//!
//! ```text
//! let (gateway, warnings) = control::files::load_gateway(&files, clock.now(), &Limits::default())?;
//! let live = Arc::new(Live::new(gateway, Steps::new(steps), Arc::new(Metrics::new()))?);
//! tokio::spawn(control::reload::Reloader::new(files, live.clone(), clock.clone()).run(shutdown.clone()));
//! let service = GatewayService::new(ServiceConfig::default(), live.clone(), AccessLogSink::stderr(), clock);
//! serve(listener, service, shutdown).await?;          // and `live.metrics().render()` at /metrics
//! ```
//!
//! or, one single-threaded runtime per core ([`workers`]):
//! `WorkerListeners::bind(addr, n)?.spawn(|| GatewayService::new(…), stopped)?.join().await`.
//!
//! Hot-path rules: no database and no file access per request; the route table, compiled
//! validators, CORS headers and log formats are built once per snapshot; the request head's
//! header map is handed to the backend rather than rebuilt.

pub mod access_log;
pub mod authorizers;
pub mod backend_http1;
pub mod backend_tls;
pub mod body;
pub mod cache;
pub mod cors;
pub mod edge_http1;
pub mod error;
pub mod functions;
pub mod listener;
pub mod live;
pub mod metrics;
pub mod pipeline;
pub mod proxy;
pub mod request_id;
pub mod schema;
pub mod steps;
pub mod tls;
pub mod usage;
pub mod workers;

pub use access_log::AccessLogSink;
pub use body::GatewayBody;
pub use error::GatewayError;
pub use listener::{
    ConnectionCap, ConnectionPermit, EdgeLimits, RouterService, serve, serve_capped, serve_router,
    shared_listener,
};
pub use live::{Live, ReloadError, Snapshot, SnapshotError};
pub use metrics::Metrics;
pub use pipeline::{ConnectionService, GatewayService, ServiceConfig};
pub use steps::{
    AuthorizerOutput, Identity, Phase, Prepared, Rejection, RequestContext, Step, StepFuture,
    Steps, Verdict,
};
pub use tls::{ServerTls, TlsError, TlsFiles};
pub use workers::{MAX_WORKERS, WorkerListeners, Workers};

/// Where the data plane reads the time (`$context.requestTime`, what stages get as `now`):
/// the same clock abstraction as the identity services, so the binary has one clock.
pub use gatehouse_identity::clock::{Clock, SystemClock};
