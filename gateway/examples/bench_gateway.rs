//! Runs the gateway data plane on a definition file, for the benchmark (`benches/wrk.sh`)
//! and for trying definitions out until `gatehouse serve` hosts it. Reloads on SIGHUP and on
//! file change; `--access-log` writes access logs to standard error.
//!
//! `--workers N` (default 1) runs N single-threaded runtimes, each with its own
//! `SO_REUSEPORT` listener and backend pool (`server::WorkerListeners`, what `gatehouse serve
//! --gateway-workers N` runs), as nginx runs N worker processes. `--stages CREDENTIALS_FILE` installs the key, throttle, quota, authorizer and
//! cache stages over a SQLite store in a temporary folder, creates a usage plan with limits
//! far above any benchmark rate, a key bound to it and a Cognito-style access token signed
//! by a local key ring (pool `us-east-1_Bench`), and writes `KEY=…` and `JWT=…` lines to the
//! file once the gateway is ready.
//!
//! `cargo run --release -p gatehouse-gateway --example bench_gateway -- --listen 127.0.0.1:18083 --api gateway/benches/bench-api.yaml`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use gatehouse_gateway::Limits;
use gatehouse_gateway::control::files::load_gateway;
use gatehouse_gateway::control::reload::Reloader;
use gatehouse_gateway::definition::model::Throttle;
use gatehouse_gateway::definition::plans::{PlanDocument, ThrottleDocument};
use gatehouse_gateway::server::authorizers::{
    AuthorizerConfig, AuthorizerStep, KeyRingVerifier, PoolTokenVerifier,
};
use gatehouse_gateway::server::cache::{CacheConfig, CacheStep};
use gatehouse_gateway::server::usage::manage::NewApiKey;
use gatehouse_gateway::server::usage::{Usage, UsageConfig};
use gatehouse_gateway::server::{
    AccessLogSink, Clock, GatewayService, Live, Metrics, ServiceConfig, Step, Steps, SystemClock,
    WorkerListeners,
};
use gatehouse_identity::tokens::{AccessTokenClaims, KeyRing, SigningKey, TokenUse};
use gatehouse_storage::{Store, StoreOptions};

/// The allocator `gatehouse` itself uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error + Send + Sync>;

const POOL_ID: &str = "us-east-1_Bench";
const ISSUER: &str = "http://127.0.0.1:8000/us-east-1_Bench";
/// The benchmark API and stage the usage plan covers (`benches/bench-api.yaml`).
const API_ID: &str = "bench";
const STAGE: &str = "bench";

struct Args {
    listen: SocketAddr,
    files: Vec<PathBuf>,
    access_log: bool,
    workers: usize,
    credentials: Option<PathBuf>,
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (gateway, warnings) = load_gateway(&args.files, clock.now(), &Limits::default())?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let sink = if args.access_log {
        AccessLogSink::stderr()
    } else {
        AccessLogSink::disabled()
    };
    // The setup and the background tasks (reloads, quota flushes) run on this runtime; the
    // workers on their own threads, as `gatehouse serve` runs them.
    let main = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _dir;
    let (stages, usage, credentials) = match &args.credentials {
        None => (Steps::default(), None, None),
        Some(_) => {
            let dir = tempfile::tempdir()?;
            let (stages, usage, credentials) = main.block_on(install_stages(&dir, &clock))?;
            _dir = dir;
            (stages, Some(usage), Some(credentials))
        }
    };
    let live = Arc::new(Live::new(gateway, stages, Arc::new(Metrics::new()))?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    main.block_on(async move {
        // Written before the port opens: the benchmark reads it once the port answers.
        if let (Some(path), Some(text)) = (&args.credentials, &credentials) {
            std::fs::write(path, text)?;
        }
        let reloader = Reloader::new(args.files, Arc::clone(&live), Arc::clone(&clock));
        let mut watch_stop = stopped.clone();
        tokio::spawn(reloader.run(async move {
            let _ = watch_stop.wait_for(|s| *s).await;
        }));
        if let Some(usage) = usage {
            let mut usage_stop = stopped.clone();
            tokio::spawn(usage.run(async move {
                let _ = usage_stop.wait_for(|s| *s).await;
            }));
        }
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
        });
        let listeners = WorkerListeners::bind(args.listen, args.workers)?;
        eprintln!(
            "bench_gateway listening on http://{} ({} worker(s))",
            listeners.local_addr(),
            args.workers
        );
        let workers = listeners.spawn(
            || {
                GatewayService::new(
                    ServiceConfig::default(),
                    Arc::clone(&live),
                    sink.clone(),
                    Arc::clone(&clock),
                )
            },
            stopped,
        )?;
        workers.join().await?;
        Ok::<(), Error>(())
    })?;
    Ok(())
}

fn parse_args() -> Result<Args, Error> {
    let mut listen = "127.0.0.1:18083".to_owned();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut access_log = false;
    let mut workers = 1usize;
    let mut credentials = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "--api" => files.push(args.next().ok_or("--api needs a file")?.into()),
            "--access-log" => access_log = true,
            "--workers" => workers = args.next().ok_or("--workers needs a number")?.parse()?,
            "--stages" => credentials = Some(args.next().ok_or("--stages needs a file")?.into()),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    Ok(Args {
        listen: listen.parse()?,
        files,
        access_log,
        workers: workers.max(1),
        credentials,
    })
}

/// The key, throttle, quota, authorizer and cache stages; a plan, a key and a token.
async fn install_stages(
    dir: &tempfile::TempDir,
    clock: &Arc<dyn Clock>,
) -> Result<(Steps, Arc<Usage>, String), Error> {
    let url = format!("sqlite://{}/usage.db", dir.path().display());
    let store = Store::open(&url, StoreOptions::default()).await?;
    let config = UsageConfig {
        // API Gateway's account default (10 000 rps) would be the benchmark's ceiling.
        account_throttle: Throttle {
            rate_per_second: 10_000_000.0,
            burst: 1_000_000,
        },
        ..UsageConfig::default()
    };
    let usage = Usage::open(store, Arc::clone(clock), config).await?;
    let mut plan: PlanDocument = serde_json::from_value(serde_json::json!({
        "apiStages": [{"apiId": API_ID, "stage": STAGE}],
    }))?;
    plan.throttle = Some(ThrottleDocument {
        rate_limit: 1_000_000.0,
        burst_limit: 100_000,
    });
    let plan = usage.create_plan("bench", plan).await?;
    let key = usage
        .create_key(NewApiKey {
            name: "bench".into(),
            enabled: true,
            ..NewApiKey::default()
        })
        .await?;
    usage.add_plan_key(&plan.id, &key.key.id).await?;

    let mut ring = KeyRing::new(ISSUER);
    ring.insert(SigningKey::generate(TokenUse::Access)?, None);
    let ring = Arc::new(ring);
    let now = i64::try_from(clock.now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let token = ring.sign_access_token(&AccessTokenClaims {
        sub: "bench-user".into(),
        groups: Vec::new(),
        iss: ISSUER.into(),
        version: 2,
        client_id: "bench-client".into(),
        origin_jti: "bench".into(),
        event_id: "bench".into(),
        token_use: TokenUse::Access,
        scope: "bench/read".into(),
        auth_time: now,
        exp: now + 24 * 3600,
        iat: now,
        jti: "bench".into(),
        username: "bench".into(),
        device_key: None,
    })?;
    let verifier: Arc<dyn PoolTokenVerifier> = Arc::new(KeyRingVerifier::new(move |pool: &str| {
        (pool == POOL_ID).then(|| Arc::clone(&ring))
    }));
    let mut steps: Vec<Arc<dyn Step>> = usage.steps();
    steps.push(Arc::new(AuthorizerStep::new(
        AuthorizerConfig {
            jwks_refetch_interval: Duration::from_secs(60),
            ..AuthorizerConfig::default()
        },
        Some(verifier),
        None,
    )));
    steps.push(Arc::new(CacheStep::new(CacheConfig::default())));
    let credentials = format!("KEY={}\nJWT={token}\n", key.value);
    Ok((Steps::new(steps), usage, credentials))
}
