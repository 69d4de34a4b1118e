//! Wiring of the API gateway: the definition files, the pipeline stages (keys, plans,
//! throttling, quotas, authorizers, cache) and the operator API, built once at start-up.

use std::sync::Arc;

use std::time::Duration;

use gatehouse_gateway::Limits;
use gatehouse_gateway::control::deployments::Deployments;
use gatehouse_gateway::control::files::read_sources;
use gatehouse_gateway::control::operator::{self, OperatorState};
use gatehouse_gateway::control::reload::{Reloader, rebuild_on_changes};
use gatehouse_gateway::definition::functions::KnownFunctions;
use gatehouse_gateway::definition::model::Throttle;
use gatehouse_gateway::definition::sources::SourceDefinition;
use gatehouse_gateway::server::authorizers::iam::CredentialAuthorizer;
use gatehouse_gateway::server::authorizers::{
    AuthorizerConfig, AuthorizerStep, IamAuthorizer, KeyRingVerifier,
};
use gatehouse_gateway::server::cache::{CacheConfig, CacheStep};
use gatehouse_gateway::server::usage::{Usage, UsageConfig};
use gatehouse_gateway::server::{
    AccessLogSink, Clock, GatewayService, Live, Metrics, ServerTls, ServiceConfig, Step, Steps,
};
use gatehouse_identity::functions::Functions;
use gatehouse_identity::http::operator::OperatorAuth;
use gatehouse_identity::sts::CredentialVerifier;

use crate::config::Config;
use crate::state::State;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GatewayStartError {
    #[error("api definitions: {0}")]
    Definitions(String),
    #[error("api keys and usage plans: {0}")]
    Usage(String),
    #[error("deployments: {0}")]
    Deployments(String),
}

/// How often a node looks for keys, plans and deployments changed by another node.
const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The running gateway's shared parts.
#[derive(Debug)]
pub(crate) struct GatewayParts {
    pub(crate) live: Arc<Live>,
    pub(crate) usage: Arc<Usage>,
    pub(crate) cache: Arc<CacheStep>,
    /// Deployments made through the operator API, stored so restarts and other nodes serve them.
    pub(crate) deployments: Arc<Deployments>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The listener and pipeline settings every worker's service gets: the connection cap,
    /// and the trusted proxies of the configuration, so the gateway resolves clients (logs,
    /// `$context.identity.sourceIp`, `aws:SourceIp`, `X-Forwarded-For`) by the same rule as
    /// the identity listener.
    pub(crate) service_config: ServiceConfig,
    /// What definitions are loaded and compiled with (the functions they may name).
    pub(crate) limits: Limits,
    /// The function registry, whose changes make definitions load again.
    pub(crate) functions: Functions,
}

impl GatewayParts {
    /// Loads the definitions (refusing to start on a broken one) and opens the stages, on the
    /// service's store, user pools and clock; the gateway listener serves over `tls` when
    /// given, and `AWS_IAM` methods verify with `credentials` (`None`: they answer 403).
    pub(crate) async fn open(
        config: &Config,
        state: &State,
        tls: Option<ServerTls>,
        credentials: Option<CredentialVerifier>,
    ) -> Result<Self, GatewayStartError> {
        let (store, user_pools) = (&state.store, &state.user_pools);
        let clock = state.clock.clone();
        // Definitions may name the Lambda functions the registry serves.
        let limits = Limits {
            functions: KnownFunctions::new(Arc::new(state.functions.clone())),
            ..Limits::default()
        };
        // The source text is kept beside the compiled routes: deployments freeze it.
        let (source, mut warnings) = if config.apis.is_empty() {
            (SourceDefinition::default(), Vec::new())
        } else {
            read_sources(&config.apis, clock.now(), &limits)
                .map_err(|err| GatewayStartError::Definitions(err.to_string()))?
        };
        let usage_config = UsageConfig {
            account_throttle: config.gateway_account_limit.map(|(rate, burst)| Throttle {
                rate_per_second: f64::from(rate),
                burst,
            }),
            ..UsageConfig::default()
        };
        let usage = Usage::open(store.clone(), clock.clone(), usage_config)
            .await
            .map_err(|err| GatewayStartError::Usage(err.to_string()))?;
        let arn = AuthorizerConfig {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            extra_root_certificates: config.oidc_roots.clone(),
            ..AuthorizerConfig::default()
        };
        // Gatehouse's own pools verify from the identity service's in-memory key rings and
        // check sign-outs against its in-memory revocations: no database access per request.
        let pools = user_pools.clone();
        let revocations = user_pools.revocations().clone();
        let verifier = KeyRingVerifier::new(move |pool_id: &str| pools.key_ring_cached(pool_id))
            .with_revocations(move |pool_id, sub, origin_jti, iat| {
                revocations.is_revoked(pool_id, sub, origin_jti, iat)
            });
        // `AWS_IAM`: the identity listener's verifier, sealed tokens and compiled policies in
        // memory, so no database access per request either.
        let iam =
            credentials.map(|v| Arc::new(CredentialAuthorizer::new(v)) as Arc<dyn IamAuthorizer>);
        let authorizer = AuthorizerStep::new(arn.clone(), Some(Arc::new(verifier)), iam)
            .with_functions(state.functions.clone());
        let cache = Arc::new(CacheStep::new(CacheConfig {
            arn,
            ..CacheConfig::default()
        }));
        let mut steps: Vec<Arc<dyn Step>> = vec![Arc::new(authorizer)];
        steps.extend(usage.steps());
        steps.push(cache.clone());
        let (live, more) =
            Live::from_source(source, &limits, Steps::new(steps), Arc::new(Metrics::new()))
                .map_err(|err| GatewayStartError::Definitions(err.to_string()))?;
        warnings.extend(more);
        for warning in warnings {
            tracing::warn!(%warning, "api definition");
        }
        let live = Arc::new(live);
        let deployments = Deployments::open(
            store.clone(),
            live.clone(),
            clock.clone(),
            limits.clone(),
            REFRESH_INTERVAL,
        )
        .await
        .map_err(|err| GatewayStartError::Deployments(err.to_string()))?;
        let service_config = ServiceConfig {
            max_connections: config.max_connections,
            shutdown_grace: config.shutdown_grace,
            trusted_proxies: config.trusted_proxies.clone(),
            tls,
            functions: Some(state.functions.clone()),
            account_id: config.account_id.clone(),
            ..ServiceConfig::default()
        };
        Ok(Self {
            live,
            usage,
            cache,
            deployments,
            clock,
            service_config,
            limits,
            functions: state.functions.clone(),
        })
    }

    /// The data-plane service for the gateway listener.
    pub(crate) fn service(&self) -> GatewayService {
        GatewayService::new(
            self.service_config.clone(),
            self.live.clone(),
            AccessLogSink::stderr(),
            self.clock.clone(),
        )
    }

    /// Re-reads the definition files on change, on SIGHUP and when the function registry
    /// changes.
    pub(crate) fn reloader(&self, config: &Config) -> Option<Reloader> {
        (!config.apis.is_empty()).then(|| {
            Reloader::new(config.apis.clone(), self.live.clone(), self.clock.clone())
                .with_limits(self.limits.clone())
                .with_changes(self.functions.subscribe())
        })
    }

    /// Without definition files: recompiles the live definition (run-time deployments) when
    /// the function registry changes.
    pub(crate) fn rebuild_on_function_changes<F: std::future::Future<Output = ()>>(
        &self,
        shutdown: F,
    ) -> impl std::future::Future<Output = ()> + use<F> {
        rebuild_on_changes(
            self.live.clone(),
            self.limits.clone(),
            self.functions.subscribe(),
            shutdown,
        )
    }

    /// The operator API (keys, usage plans, usage, cache flush, deployments), mounted on the
    /// identity listener.
    pub(crate) fn operator_router(&self, auth: OperatorAuth) -> axum::Router {
        operator::router_with_deployments(
            OperatorState {
                usage: self.usage.clone(),
                cache: Some(self.cache.clone()),
                auth: Arc::new(auth),
                clock: self.clock.clone(),
            },
            self.deployments.clone(),
        )
    }

    /// Prometheus text for `/metrics`: the data plane's and the cache's series.
    pub(crate) fn metrics(&self) -> String {
        let mut text = self.live.metrics().render();
        text.push_str(&self.cache.render_metrics());
        text
    }
}
