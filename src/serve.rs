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
    tracing::info!(%bound, %public_url, database = ?state.store.backend(), "serving");
    // The one line harnesses wait for: the service accepts requests from here on.
    println!("gatehouse listening on http://{bound}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped accepting; in-flight requests finished");
    state.store.close().await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
