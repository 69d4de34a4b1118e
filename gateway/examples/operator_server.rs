//! Serves the operator API (`operator::router_with_deployments`) beside the gateway data plane
//! with the key, throttle, quota, authorizer and cache stages over one SQLite or PostgreSQL
//! store, so boto3's `apigateway` client can be pointed at it
//! (`tests/test_gateway_operator.py`). `gatehouse serve` mounts the same router on its
//! identity listener; this example is the crate-level way to drive it end to end.
//!
//! ```text
//! GATEHOUSE_OPERATOR_ACCESS_KEY_ID=… GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY=… \
//!   cargo run -p gatehouse-gateway --example operator_server -- \
//!   --database-url sqlite:///tmp/gw/gatehouse.db --api api.yaml
//! ```
//!
//! Prints `operator listening on http://…` and `gateway listening on http://…` on standard
//! output once both listeners are bound; stops on SIGTERM or SIGINT.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_gateway::Limits;
use gatehouse_gateway::authorizers::{AuthorizerConfig, AuthorizerStage};
use gatehouse_gateway::cache::{CacheConfig, CacheStage};
use gatehouse_gateway::deployments::Deployments;
use gatehouse_gateway::operator::{OperatorState, router_with_deployments};
use gatehouse_gateway::server::{
    AccessLogSink, Clock, GatewayService, Live, Metrics, Reloader, ServiceConfig, Stage, Stages,
    SystemClock, serve,
};
use gatehouse_gateway::sources::load_sources;
use gatehouse_gateway::usage::{Usage, UsageConfig};
use gatehouse_storage::{Store, StoreOptions};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let mut database_url = None;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database-url" => database_url = args.next(),
            "--api" => files.push(args.next().ok_or("--api needs a file")?.into()),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let database_url = database_url.ok_or("--database-url is required")?;
    let access_key_id = std::env::var("GATEHOUSE_OPERATOR_ACCESS_KEY_ID")?;
    let secret_access_key = std::env::var("GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(database_url, files, access_key_id, secret_access_key))
}

async fn run(
    database_url: String,
    files: Vec<PathBuf>,
    access_key_id: String,
    secret_access_key: String,
) -> Result<(), Error> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let limits = Limits::default();
    let store = Store::open(&database_url, StoreOptions::default()).await?;
    let usage = Usage::open(store.clone(), Arc::clone(&clock), UsageConfig::default()).await?;
    let cache = Arc::new(CacheStage::new(CacheConfig::default()));
    let mut stages: Vec<Arc<dyn Stage>> = usage.stages();
    stages.push(Arc::new(AuthorizerStage::new(
        AuthorizerConfig::default(),
        None,
        None,
    )));
    stages.push(Arc::clone(&cache) as Arc<dyn Stage>);
    let (source, warnings) = load_sources(&files, clock.now(), &limits)?;
    let (live, more) = Live::from_source(
        source,
        &limits,
        Stages::new(stages),
        Arc::new(Metrics::new()),
    )?;
    for warning in warnings.iter().chain(&more) {
        eprintln!("warning: {warning}");
    }
    let live = Arc::new(live);
    let deployments = Deployments::open(
        store.clone(),
        Arc::clone(&live),
        Arc::clone(&clock),
        limits,
        Duration::from_secs(1),
    )
    .await?;
    let operator = router_with_deployments(
        OperatorState {
            usage: Arc::clone(&usage),
            cache: Some(cache),
            access_key_id,
            secret_access_key,
            region: None,
            clock: Arc::clone(&clock),
        },
        Arc::clone(&deployments),
    );
    let operator_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gateway_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(Arc::clone(&usage).run(wait(stopped.clone())));
    tokio::spawn(deployments.run(wait(stopped.clone())));
    tokio::spawn(
        Reloader::new(files, Arc::clone(&live), Arc::clone(&clock)).run(wait(stopped.clone())),
    );
    let service = GatewayService::new(
        ServiceConfig::default(),
        live,
        AccessLogSink::disabled(),
        clock,
    );
    println!(
        "operator listening on http://{}",
        operator_listener.local_addr()?
    );
    println!(
        "gateway listening on http://{}",
        gateway_listener.local_addr()?
    );
    let data_plane = tokio::spawn(serve(gateway_listener, service, wait(stopped.clone())));
    let operator_api = tokio::spawn(async move {
        axum::serve(operator_listener, operator)
            .with_graceful_shutdown(wait(stopped))
            .await
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = stop.send(true);
    let _ = data_plane.await;
    let _ = operator_api.await;
    Ok(())
}
