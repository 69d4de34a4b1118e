//! Runs the gateway data plane on a definition file, for the benchmark (`benches/wrk.sh`)
//! and for trying definitions out until `gatehouse serve` hosts it. Reloads on SIGHUP and on
//! file change; `--access-log` writes access logs to standard error.
//!
//! `cargo run --release -p gatehouse-gateway --example bench_gateway -- --listen 127.0.0.1:18083 --api gateway/benches/bench-api.yaml`

use std::path::PathBuf;
use std::sync::Arc;

use gatehouse_gateway::Limits;
use gatehouse_gateway::server::{
    AccessLogSink, Clock, GatewayService, Live, Metrics, Reloader, ServiceConfig, Stages,
    SystemClock, load_gateway, serve,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:18083".to_owned();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut access_log = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "--api" => files.push(args.next().ok_or("--api needs a file")?.into()),
            "--access-log" => access_log = true,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (gateway, warnings) = load_gateway(&files, clock.now(), &Limits::default())?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let live = Arc::new(Live::new(
        gateway,
        Stages::default(),
        Arc::new(Metrics::new()),
    )?);
    let sink = if access_log {
        AccessLogSink::stderr()
    } else {
        AccessLogSink::disabled()
    };
    let service = GatewayService::new(
        ServiceConfig::default(),
        Arc::clone(&live),
        sink,
        Arc::clone(&clock),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!("bench_gateway listening on http://{listen}");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let reloader = Reloader::new(files, live, clock);
        let mut watch_stop = stopped.clone();
        tokio::spawn(reloader.run(async move {
            let _ = watch_stop.wait_for(|s| *s).await;
        }));
        let mut serve_stop = stopped;
        let shutdown = async move {
            let _ = serve_stop.wait_for(|s| *s).await;
        };
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
        });
        serve(listener, service, shutdown).await
    })?;
    Ok(())
}
