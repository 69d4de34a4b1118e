//! `gatehouse serve`: bind the listener, open the state, serve until SIGTERM/SIGINT, then stop
//! accepting, let in-flight requests finish and close the store.

use std::sync::Arc;

use axum::routing::get;
use gatehouse_gateway::server::{EdgeLimits, ServerTls, TlsError, WorkerListeners, serve_router};
use gatehouse_identity::http::oauth2::{self as oauth2_http, OAuthHttp};
use gatehouse_identity::http::operator::OperatorAuth;
use gatehouse_identity::http::{FederationState, HttpState, router_with_federation};
use gatehouse_identity::oauth2::OAuth2;
use gatehouse_identity::sts::CredentialVerifier;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::gateway::{GatewayParts, GatewayStartError};
use crate::health::{self, Health};
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
    #[error(transparent)]
    Gateway(#[from] GatewayStartError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Command(String),
    #[error("token revocations: {0}")]
    Revocations(String),
    #[error("IAM: {0}")]
    Iam(String),
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    #[error("dynamodb upstream: {0}")]
    DynamoDb(String),
    #[error("key rings: {0}")]
    KeyRings(String),
    #[error("not ready: {0}")]
    NotReady(String),
}

/// How often the certificate files are looked at for a change.
const TLS_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) async fn run(config: Config) -> Result<(), ServeError> {
    // Certificates first: a pair that cannot be used stops the start before anything binds.
    let tls = config.tls.clone().map(ServerTls::load).transpose()?;
    let gateway_tls = config
        .gateway_tls
        .clone()
        .map(ServerTls::load)
        .transpose()?;
    let listener = bind(config.listen).await?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let gateway_listeners = WorkerListeners::bind(config.gateway_listen, config.gateway_workers)
        .map_err(|source| ServeError::Bind {
            addr: config.gateway_listen,
            source,
        })?;
    let bound = listener.local_addr()?;
    let gateway_bound = gateway_listeners.local_addr();
    let public_url = config.public_url_for(bound);
    let state = State::open(&config, &public_url).await?;
    if state.generated_operator {
        eprintln!(
            "gatehouse: generated operator credentials (stored in {}):\n  access key id:     {}\n  secret access key: {}",
            config.data_dir.join("operator-credentials.json").display(),
            state.operator.access_key_id,
            state.operator.secret_access_key,
        );
    }
    if let Some(secret) = &state.generated_function_secret {
        eprintln!(
            "gatehouse: generated the signing secret of the configured functions (stored in {}):\n  {}",
            config
                .data_dir
                .join(crate::state::FUNCTION_SECRET_FILE)
                .display(),
            secret.expose(),
        );
    }
    // Loaded before the gateway listens, so a token signed out before this start is refused
    // from the first request on.
    state
        .user_pools
        .refresh_revocations()
        .await
        .map_err(|err| ServeError::Revocations(err.to_string()))?;
    // Roles and policies compiled before the first request signed with temporary credentials.
    state
        .iam
        .refresh()
        .await
        .map_err(|err| ServeError::Iam(err.to_string()))?;
    // Every pool's signing keys opened with the master key before anything is served.
    let key_rings = state
        .user_pools
        .load_key_rings()
        .await
        .map_err(|err| ServeError::KeyRings(err.to_string()))?;
    let regions: Vec<String> = std::iter::once(&config.region)
        .chain(&config.other_regions)
        .cloned()
        .collect();
    // One verifier of temporary and operator credentials for the identity listener (STS,
    // the DynamoDB proxy) and the gateway's `AWS_IAM` methods.
    let verifier = CredentialVerifier::new(
        state.sealer.clone(),
        state.operator.clone(),
        state.iam.clone(),
        regions,
    );
    let gateway = Arc::new(
        GatewayParts::open(&config, &state, gateway_tls.clone(), Some(verifier.clone())).await?,
    );
    let health = Health::new(
        state.store.clone(),
        key_rings,
        gateway.live.snapshot().gateway.stage_count(),
    );
    // The same checks `/health/ready` answers with, once, before anything listens for
    // clients: a node that could not serve stops here with one line.
    if let Some(problem) = health.check().await.problem {
        return Err(ServeError::NotReady(problem));
    }
    // One signature check for every operator API on the identity listener.
    let operator_auth = OperatorAuth::for_regions(
        state.operator.clone(),
        std::iter::once(&config.region)
            .chain(&config.other_regions)
            .cloned()
            .collect(),
        state.clock.clone(),
    );
    let federation = FederationState {
        identity_pools: state.identity_pools.clone(),
        iam: state.iam.clone(),
        sts: state.sts.clone(),
        verifier,
        secure_transport: tls.is_some(),
        dynamodb: dynamodb_proxy(&config)?,
    };
    // The OAuth 2.0 / OIDC endpoints and the hosted pages, under each pool's issuer and, by
    // `Host`, at the root of each pool's domain.
    // Federated providers' issuers share the identity pools' key cache and outbound client.
    let oauth =
        OAuth2::new(state.user_pools.clone()).with_issuers(state.identity_pools.oidc_issuers());
    let hosted = oauth2_http::router(OAuthHttp {
        oauth: oauth.clone(),
        pages: Arc::new(gatehouse_web::HostedPages),
    })
    .merge(gatehouse_web::router(gatehouse_web::WebState {
        oauth: oauth.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        clock: state.clock.clone(),
    }));
    let http_state = HttpState {
        user_pools: state.user_pools.clone(),
        operator: operator_auth.clone(),
        clock: state.clock.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
    };
    let dynamodb_front = federation
        .dynamodb
        .is_some()
        .then(|| (http_state.clone(), federation.clone()));
    let app = router_with_federation(
        http_state,
        Some(federation),
        gateway
            .operator_router(operator_auth.clone())
            .merge(gatehouse_identity::http::functions::routes(
                state.functions.clone(),
                Arc::new(operator_auth),
            ))
            .merge(hosted),
    )
    .merge(health::router(health.clone()));
    // Domains are told apart before routing: a pool's domain serves its paths at the root.
    let app =
        axum::Router::new()
            .fallback_service(app)
            .layer(axum::middleware::from_fn_with_state(
                oauth,
                oauth2_http::route_domains,
            ));
    // DynamoDB's requests go to the proxy before any of those layers: none of them applies to
    // a DynamoDB request, and each costs every proxied request something.
    let app = match dynamodb_front {
        Some((http_state, federation)) => {
            gatehouse_identity::http::dynamodb::route_first(app, http_state, federation)
        }
        None => app,
    };
    // Metrics never share a public listener: they tell an outsider too much.
    let metrics = gateway.clone();
    let metrics_app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { metrics.metrics() }
            }),
        )
        .merge(health::router(health.clone()));
    let limits = EdgeLimits {
        max_connections: config.max_connections,
        shutdown_grace: config.shutdown_grace,
        ..EdgeLimits::default()
    };

    // One signal, many listeners: every task waits on the same watch channel.
    // The first SIGTERM/SIGINT drains (readiness turns 503, listeners stop accepting,
    // in-flight requests get the grace period); a second one ends the process at once.
    let mut signals = StopSignals::register()?;
    let (stop, stopped) = watch::channel(false);
    let draining = health.clone();
    let grace = config.shutdown_grace;
    tokio::spawn(async move {
        signals.next().await;
        tracing::info!(?grace, "stop signal received; draining");
        draining.set_stopping();
        let _ = stop.send(true);
        signals.next().await;
        eprintln!("gatehouse: second stop signal; stopping without draining");
        std::process::exit(EXIT_SECOND_SIGNAL);
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(gateway.usage.clone().run(wait(stopped.clone())));
    tasks.spawn(gateway.deployments.clone().run(wait(stopped.clone())));
    // Other nodes' sign-outs reach this node's gateway within a second; expired ones are purged.
    tasks.spawn(
        state
            .user_pools
            .clone()
            .run_revocation_refresh(wait(stopped.clone())),
    );
    // Other nodes' IAM changes reach this node's compiled policies within a second.
    tasks.spawn(state.iam.clone().run_refresh(wait(stopped.clone())));
    // And functions registered on another node reach this one's registry.
    tasks.spawn(state.functions.clone().run_refresh(wait(stopped.clone())));
    // Definitions load again when files change, on SIGHUP, and when the function registry
    // changes (a method naming a function registered since becomes servable).
    match gateway.reloader(&config) {
        Some(reloader) => {
            tasks.spawn(reloader.run(wait(stopped.clone())));
        }
        None => {
            tasks.spawn(gateway.rebuild_on_function_changes(wait(stopped.clone())));
        }
    }
    // Renewed certificates are picked up on change and on SIGHUP, connections kept.
    for tls in [&tls, &gateway_tls].into_iter().flatten() {
        tasks.spawn(tls.clone().watch(TLS_WATCH_INTERVAL, wait(stopped.clone())));
    }
    let metrics_bound = match metrics_listener {
        Some(listener) => {
            let bound = listener.local_addr()?;
            let (limits, stopped) = (limits.clone(), stopped.clone());
            tasks.spawn(async move {
                if let Err(err) = serve_router(
                    listener,
                    &limits,
                    None,
                    metrics_app,
                    "metrics",
                    wait(stopped),
                )
                .await
                {
                    tracing::error!(%err, "metrics listener stopped");
                }
            });
            Some(bound)
        }
        None => None,
    };
    // One single-threaded runtime per worker, each with its own listener on the gateway port
    // and its own backend pool (see `gatehouse_gateway::server::workers`).
    let data_plane = gateway_listeners.spawn(|| gateway.service(), stopped.clone())?;

    tracing::info!(
        %bound,
        %gateway_bound,
        metrics = ?metrics_bound,
        // What the runtime was built with (`--workers`), as the runtime counts it.
        workers = tokio::runtime::Handle::current().metrics().num_workers(),
        gateway_workers = config.gateway_workers,
        %public_url,
        database = ?state.store.backend(),
        "serving"
    );
    // Harnesses wait for the identity line (printed last): every listener accepts from here on.
    let scheme = |tls: &Option<ServerTls>| if tls.is_some() { "https" } else { "http" };
    println!(
        "gatehouse gateway listening on {}://{gateway_bound}",
        scheme(&gateway_tls)
    );
    if let Some(metrics_bound) = metrics_bound {
        println!("gatehouse metrics listening on http://{metrics_bound}");
    }
    println!("gatehouse listening on {}://{bound}", scheme(&tls));
    // The identity listener meets the gateway's edge limits; handlers get the peer address as
    // `ConnectInfo<SocketAddr>` (rate limits resolve the client from it and the trusted proxies).
    serve_router(
        listener,
        &limits,
        tls,
        app,
        "identity",
        wait(stopped.clone()),
    )
    .await?;
    data_plane.join().await?;
    // Flushes quota counters one last time, then stops polling.
    while tasks.join_next().await.is_some() {}
    tracing::info!("stopped accepting; in-flight requests finished");
    state.store.close().await;
    Ok(())
}

async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Resolves once the shutdown channel says so (or its sender is gone).
async fn wait(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Exit status after a second stop signal: 128 + SIGTERM, as if the signal had killed it.
const EXIT_SECOND_SIGNAL: i32 = 143;

/// SIGTERM and SIGINT, registered now — before the "listening" line, so that a signal sent
/// right after it is never left to the default action — and kept for the second one.
#[cfg(unix)]
struct StopSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on the next SIGTERM or SIGINT.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {},
            _ = self.interrupt.recv() => {},
        }
    }
}

#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn register() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The DynamoDB row-level proxy, with `--dynamodb-upstream`.
fn dynamodb_proxy(
    config: &Config,
) -> Result<Option<gatehouse_identity::dynamodb::DynamoDbProxy>, ServeError> {
    let Some(upstream) = &config.dynamodb_upstream else {
        return Ok(None);
    };
    gatehouse_identity::dynamodb::DynamoDbProxy::new(gatehouse_identity::dynamodb::UpstreamConfig {
        url: upstream.url.clone(),
        region: config.region.clone(),
        credentials: gatehouse_identity::sigv4::SigningCredentials {
            access_key_id: upstream.access_key_id.clone(),
            secret_access_key: upstream.secret_access_key.clone(),
            session_token: upstream.session_token.clone(),
        },
    })
    .map(Some)
    .map_err(ServeError::DynamoDb)
}
