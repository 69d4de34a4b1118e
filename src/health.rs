//! `/health/live` and `/health/ready`, served on the identity listener and on the metrics
//! listener: liveness says the process answers; readiness says this node can serve a request
//! end to end (the database answers with the schema this build expects, every pool's key ring
//! was opened with the master key, the gateway's definitions are loaded) and that it is not
//! stopping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_storage::Store;

/// How long the readiness probe waits for the database before calling it down (a probe that
/// hangs as long as the pool's acquire timeout is worse than one that says no).
const DATABASE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What readiness looks at; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Health {
    store: Store,
    /// Key rings opened at start (one per pool); a start that cannot open one fails.
    key_rings: usize,
    /// Stages of the gateway's definitions loaded at start (a broken definition stops the
    /// start, and a broken reload keeps the loaded one).
    gateway_stages: usize,
    /// Set by the first stop signal: a stopping node is not ready, so a load balancer that
    /// still reaches it over a kept-alive connection moves away.
    stopping: Arc<AtomicBool>,
}

/// The outcome of one readiness probe.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// `None` when ready; else a short reason naming the failing check (no secrets, no URLs).
    pub(crate) problem: Option<String>,
    pub(crate) body: serde_json::Value,
}

// === impl Health ===

impl Health {
    pub(crate) fn new(store: Store, key_rings: usize, gateway_stages: usize) -> Self {
        Self {
            store,
            key_rings,
            gateway_stages,
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// From now on readiness answers 503.
    pub(crate) fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Runs every check.
    pub(crate) async fn check(&self) -> Readiness {
        let expected = Store::schema_version();
        let (database, migrations) =
            match tokio::time::timeout(DATABASE_PROBE_TIMEOUT, self.store.applied_schema_version())
                .await
            {
                Ok(Ok(applied)) if applied == expected => ("ok".to_owned(), "ok".to_owned()),
                Ok(Ok(applied)) => (
                    "ok".to_owned(),
                    format!("schema version {applied}, this build needs {expected}"),
                ),
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "readiness: the database does not answer");
                    ("does not answer".to_owned(), "unknown".to_owned())
                }
                Err(_) => {
                    tracing::warn!("readiness: the database did not answer in time");
                    ("timed out".to_owned(), "unknown".to_owned())
                }
            };
        let stopping = self.stopping.load(Ordering::SeqCst);
        let problem = if stopping {
            Some("stopping".to_owned())
        } else if database != "ok" {
            Some(format!("database: {database}"))
        } else if migrations != "ok" {
            Some(format!("migrations: {migrations}"))
        } else {
            None
        };
        let body = serde_json::json!({
            "status": if problem.is_none() { "ready" } else { "not ready" },
            "checks": {
                "database": database,
                "migrations": migrations,
                "key_rings": format!("ok ({} pools)", self.key_rings),
                "gateway": format!("ok ({} stages)", self.gateway_stages),
                "stopping": stopping,
            },
        });
        Readiness { problem, body }
    }
}

/// The two routes, for any listener's router.
pub(crate) fn router(health: Health) -> Router {
    Router::new().route("/health/live", get(live)).route(
        "/health/ready",
        get(move || {
            let health = health.clone();
            async move { ready(&health).await }
        }),
    )
}

async fn live() -> Response {
    answer(StatusCode::OK, serde_json::json!({"status": "live"}))
}

async fn ready(health: &Health) -> Response {
    let readiness = health.check().await;
    let status = match readiness.problem {
        None => StatusCode::OK,
        Some(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    answer(status, readiness.body)
}

/// How long `gatehouse health` waits for the whole answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// `gatehouse health --url http://IP:PORT/PATH`: one GET, success on a 200. Plain HTTP to an
/// address only (the metrics listener of the same container), so no TLS or resolver is needed.
pub(crate) fn probe(url: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: std::net::SocketAddr = authority
        .parse()
        .map_err(|_| format!("`{authority}` is not IP:PORT"))?;
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = std::net::TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .map_err(|err| format!("{addr}: {err}"))?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|err| format!("{addr}: {err}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|err| format!("{addr}: {err}"))?;
    let mut head = [0u8; 64];
    let read = stream
        .read(&mut head)
        .map_err(|err| format!("{addr}: {err}"))?;
    let status_line = String::from_utf8_lossy(head.get(..read).unwrap_or_default());
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => Err(format!("{url} answered {code}")),
        None => Err(format!("{url} did not answer HTTP")),
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}
