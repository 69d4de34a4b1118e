//! `gatehouse serve`: bind the listener, open the state, serve until SIGTERM/SIGINT, then stop
//! accepting, let in-flight requests finish and close the store.

use gatehouse_identity::http::{HttpState, router};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::{StartError, State};

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Rotate(String),
}

pub(crate) async fn run(config: Config) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let bound = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let state = State::open(&config, &public_url).await?;
    if state.generated_operator {
        eprintln!(
            "gatehouse: generated operator credentials (stored in {}):\n  access key id:     {}\n  secret access key: {}",
            config.data_dir.join("operator-credentials.json").display(),
            state.operator.access_key_id,
            state.operator.secret_access_key,
        );
    }
    let app = router(HttpState {
        user_pools: state.user_pools.clone(),
        operator: state.operator.clone(),
        region: config.region.clone(),
        clock: state.clock.clone(),
    });
    let shutdown = shutdown_signal()?;
    tracing::info!(%bound, %public_url, database = ?state.store.backend(), "serving");
    // The one line harnesses wait for: the service accepts requests from here on.
    println!("gatehouse listening on http://{bound}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("stopped accepting; in-flight requests finished");
    state.store.close().await;
    Ok(())
}

/// Registers for SIGTERM and SIGINT now — before the "listening" line, so that a signal sent
/// right after it is never left to the default action — and returns a future that resolves on
/// the first of them.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutdown signal received");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown signal received");
    })
}
