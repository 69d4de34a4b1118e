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

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}
