//! The live [`Snapshot`] behind an [`ArcSwap`]: what every request reads, and what the control
//! plane (hot reload, deployments) replaces.
//!
//! A request loads the current snapshot once (one atomic reference-count increment) and
//! keeps it to the end, so a swap never changes a request midway and in-flight requests
//! finish on the definition they started with. A new definition goes live only if it loads,
//! compiles and every pipeline step prepared for it; otherwise the reason is logged and the old one
//! keeps serving.
//!
//! Compiling is CPU work that never runs on a runtime serving requests: the control plane
//! calls [`Live::rebuild`] (which compiles on tokio's blocking pool) or the synchronous
//! functions from a blocking thread (the reloader), and the swap itself is one pointer store.
//! The lock that serialises compiles is only ever taken on such a thread, so a request, or an
//! operator or Cognito call waiting on its runtime, never blocks on it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::definition::compiled::Gateway;
use crate::definition::error::{LoadError, Problems, Warning};
use crate::definition::limits::Limits;
use crate::definition::mapping::{ParamLocation, RequestParam};
use crate::definition::sources::{DefinitionOverlay, SourceDefinition};
use crate::server::access_log::AccessLogFormat;
use crate::server::backend_tls::BackendTls;
use crate::server::cors::Cors;
use crate::server::metrics::{Metrics, RouteKey, RouteMetrics, StepCounters};
use crate::server::proxy;
use crate::server::schema::{Schema, SchemaError};
use crate::server::steps::{Prepared, Steps};

/// A gateway snapshot with everything the pipeline precomputes for it.
#[derive(Debug)]
pub struct Snapshot {
    pub gateway: Gateway,
    /// Per [`crate::definition::compiled::CompiledStage::index`].
    pub(crate) stages: Vec<StageRuntime>,
    /// Per pipeline step, in [`Steps`] order.
    pub(crate) prepared: Vec<Prepared>,
    /// The definition as loaded, before the overlay (run-time deployments and stage
    /// pointers): what a new deployment snapshots and what a rollback recompiles. `None` when
    /// the snapshot was built from a compiled [`Gateway`] alone.
    pub source: Option<Arc<SourceDefinition>>,
}

/// What the pipeline needs for one stage, built once per snapshot.
#[derive(Debug)]
pub(crate) struct StageRuntime {
    pub(crate) access_log: Option<AccessLogFormat>,
    pub(crate) cors: Option<Cors>,
    /// Per [`crate::definition::routes::RouteId`].
    pub(crate) routes: Vec<RouteRuntime>,
}

#[derive(Debug)]
pub(crate) struct RouteRuntime {
    pub(crate) metrics: Arc<RouteMetrics>,
    /// Required parameters, when the method's validator checks parameters.
    pub(crate) required: Vec<RequestParam>,
    /// Body models by content type, when the method's validator checks bodies.
    pub(crate) bodies: Vec<(String, Arc<Schema>)>,
    /// TLS settings for an `https://` backend, when the API has `tls_config` or the method
    /// skips verification; `None`: the Mozilla roots.
    pub(crate) backend_tls: Option<Arc<BackendTls>>,
    /// The backend URI without the client's query string, when it depends on nothing else
    /// of a request: sent as it is for `HTTP`, and for `HTTP_PROXY` when the request's query
    /// string is empty (see [`crate::server::proxy::fixed_backend_uri`]).
    pub(crate) backend_uri: Option<http::Uri>,
}

/// The live snapshot and what builds new ones.
#[derive(Debug)]
pub struct Live {
    current: ArcSwap<Snapshot>,
    steps: Steps,
    /// Outcome counters per pipeline step, in [`Steps`] order, fetched once.
    step_counters: Vec<Arc<StepCounters>>,
    metrics: Arc<Metrics>,
    /// Serializes compiles so two of them never race to store. Taken on blocking threads only
    /// (see the module's doc).
    reload: Mutex<()>,
    /// Applied to every source definition before it is compiled (see [`Live::set_overlay`]).
    overlay: Mutex<Option<Arc<dyn DefinitionOverlay>>>,
}

/// Why a snapshot could not be built from a compiled gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("api `{api}` model `{model}`: {source}")]
    Model {
        api: String,
        model: String,
        source: SchemaError,
    },
    #[error("pipeline stage `{step}` refused the definition: {message}")]
    Step { step: &'static str, message: String },
    #[error("api `{api}` backend tls: {message}")]
    BackendTls { api: String, message: String },
}

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}`: {source}")]
    Load { path: PathBuf, source: LoadError },
    #[error("{0}")]
    Build(Problems),
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),
    #[error("no definition files to load")]
    NoFiles,
    #[error("the live gateway was not built from a definition, so it cannot be rebuilt")]
    NoSource,
    #[error("compiling the definition failed: {0}")]
    Compile(String),
}

// === impl Snapshot ===

impl Snapshot {
    fn build(gateway: Gateway, steps: &Steps, metrics: &Metrics) -> Result<Self, SnapshotError> {
        let mut runtimes: Vec<Option<StageRuntime>> = Vec::new();
        runtimes.resize_with(gateway.stage_count(), || None);
        // Models compile once per deployment, whatever number of stages point at it.
        let mut schemas: std::collections::HashMap<(String, String), Arc<Schema>> =
            std::collections::HashMap::new();
        // Backend TLS settings once per deployment and verification mode: the files are read
        // here, never per request.
        let mut tls_settings: std::collections::HashMap<(String, bool), Arc<BackendTls>> =
            std::collections::HashMap::new();
        for compiled in gateway.stages() {
            let api = compiled.routes.api();
            let mut routes = Vec::with_capacity(compiled.routes.route_count());
            for (_id, resource, method) in compiled.routes.routes() {
                let key = RouteKey {
                    api: api.id.clone(),
                    stage: compiled.stage.name.clone(),
                    route: format!("{method} {}", resource.path),
                };
                let mut runtime = RouteRuntime {
                    metrics: metrics.route(key),
                    required: Vec::new(),
                    bodies: Vec::new(),
                    backend_tls: None,
                    backend_uri: None,
                };
                let http = resource
                    .methods
                    .get(&method)
                    .and_then(|m| m.integration.http());
                runtime.backend_uri =
                    http.and_then(|http| proxy::fixed_backend_uri(http, &compiled.stage.variables));
                let insecure = http.is_some_and(|http| http.insecure_skip_verification);
                if insecure || api.backend_tls != Default::default() {
                    let cache_key = (compiled.deployment.id().to_owned(), insecure);
                    let tls = match tls_settings.get(&cache_key) {
                        Some(tls) => Arc::clone(tls),
                        None => {
                            let tls =
                                Arc::new(BackendTls::build(&api.backend_tls, insecure).map_err(
                                    |err| SnapshotError::BackendTls {
                                        api: api.id.clone(),
                                        message: err.to_string(),
                                    },
                                )?);
                            tls_settings.insert(cache_key, Arc::clone(&tls));
                            tls
                        }
                    };
                    runtime.backend_tls = Some(tls);
                }
                if let Some(definition) = resource.methods.get(&method)
                    && let Some(validator) = api.validator_for(&definition.settings)
                {
                    if validator.validate_parameters {
                        runtime.required = definition
                            .settings
                            .request_parameters
                            .iter()
                            .filter(|(p, required)| **required && p.location != ParamLocation::Path)
                            .map(|(p, _)| p.clone())
                            .collect();
                    }
                    if validator.validate_body {
                        for (content_type, model) in &definition.settings.request_models {
                            let cache_key = (compiled.deployment.id().to_owned(), model.clone());
                            let schema = match schemas.get(&cache_key) {
                                Some(schema) => Arc::clone(schema),
                                None => {
                                    let Some(document) = api.schema_document(model) else {
                                        continue;
                                    };
                                    let schema =
                                        Arc::new(Schema::compile(&document).map_err(|source| {
                                            SnapshotError::Model {
                                                api: api.id.clone(),
                                                model: model.clone(),
                                                source,
                                            }
                                        })?);
                                    schemas.insert(cache_key, Arc::clone(&schema));
                                    schema
                                }
                            };
                            runtime
                                .bodies
                                .push((content_type.to_ascii_lowercase(), schema));
                        }
                    }
                }
                routes.push(runtime);
            }
            if let Some(slot) = runtimes.get_mut(compiled.index()) {
                *slot = Some(StageRuntime {
                    access_log: compiled
                        .stage
                        .access_log_format
                        .as_deref()
                        .map(AccessLogFormat::compile),
                    cors: api.cors.as_ref().map(Cors::new),
                    routes,
                });
            }
        }
        let mut prepared = Vec::with_capacity(steps.len());
        for step in steps.iter() {
            prepared.push(
                step.prepare(&gateway)
                    .map_err(|message| SnapshotError::Step {
                        step: step.name(),
                        message,
                    })?,
            );
        }
        Ok(Self {
            gateway,
            stages: runtimes
                .into_iter()
                .map(|r| {
                    r.unwrap_or(StageRuntime {
                        access_log: None,
                        cors: None,
                        routes: Vec::new(),
                    })
                })
                .collect(),
            prepared,
            source: None,
        })
    }

    pub(crate) fn stage(&self, index: usize) -> Option<&StageRuntime> {
        self.stages.get(index)
    }
}

// === impl Live ===

impl Live {
    /// The first snapshot. `steps` are the pipeline's steps (empty for a plain
    /// gateway); they prepare state for this and every later snapshot.
    pub fn new(
        gateway: Gateway,
        steps: Steps,
        metrics: Arc<Metrics>,
    ) -> Result<Self, SnapshotError> {
        let snapshot = Snapshot::build(gateway, &steps, &metrics)?;
        let step_counters = steps
            .iter()
            .map(|stage| metrics.step_counters(stage.name()))
            .collect();
        Ok(Self {
            current: ArcSwap::from_pointee(snapshot),
            steps,
            step_counters,
            metrics,
            reload: Mutex::new(()),
            overlay: Mutex::new(None),
        })
    }

    /// The first snapshot, from a loaded definition (kept as the snapshot's source, so
    /// run-time deployments can snapshot it and rollbacks recompile it).
    pub fn from_source(
        source: SourceDefinition,
        limits: &Limits,
        steps: Steps,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, Vec<Warning>), ReloadError> {
        let (gateway, _) =
            Gateway::build(&source.definition, limits).map_err(ReloadError::Build)?;
        let live = Self::new(gateway, steps, metrics)?;
        // Compiled once more with the source attached: start-up only, and it keeps one way
        // of building a snapshot.
        let warnings = live.replace_source(source, limits)?;
        Ok((live, warnings))
    }

    /// Sets what adjusts every source definition before it is compiled; takes effect at the
    /// next [`Live::replace_source`] or [`Live::rebuild`].
    pub fn set_overlay(&self, overlay: Arc<dyn DefinitionOverlay>) {
        *self.overlay.lock().unwrap_or_else(|e| e.into_inner()) = Some(overlay);
    }

    /// Compiles `source` with the overlay applied and swaps it in if it builds; otherwise the
    /// current snapshot stays.
    pub fn replace_source(
        &self,
        source: SourceDefinition,
        limits: &Limits,
    ) -> Result<Vec<Warning>, ReloadError> {
        let _guard = self.reload.lock().unwrap_or_else(|e| e.into_inner());
        self.swap_source(Arc::new(source), limits)
    }

    /// Recompiles the current source with the overlay as it is now (a stage was pointed at
    /// another deployment), on the blocking pool: the caller's runtime goes on serving while
    /// it compiles.
    pub async fn rebuild(self: &Arc<Self>, limits: &Limits) -> Result<Vec<Warning>, ReloadError> {
        let (this, limits) = (Arc::clone(self), limits.clone());
        tokio::task::spawn_blocking(move || this.rebuild_blocking(&limits))
            .await
            .map_err(|err| ReloadError::Compile(err.to_string()))?
    }

    /// [`Live::rebuild`] on the calling thread, which must not be a runtime's worker.
    pub fn rebuild_blocking(&self, limits: &Limits) -> Result<Vec<Warning>, ReloadError> {
        let _guard = self.reload.lock().unwrap_or_else(|e| e.into_inner());
        let source = self
            .snapshot()
            .source
            .clone()
            .ok_or(ReloadError::NoSource)?;
        self.swap_source(source, limits)
    }

    fn swap_source(
        &self,
        source: Arc<SourceDefinition>,
        limits: &Limits,
    ) -> Result<Vec<Warning>, ReloadError> {
        let overlay = self
            .overlay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let built = match &overlay {
            Some(overlay) => {
                let mut definition = source.definition.clone();
                overlay.apply(&mut definition);
                Gateway::build(&definition, limits)
            }
            None => Gateway::build(&source.definition, limits),
        };
        let (gateway, warnings) = match built {
            Ok(ok) => ok,
            Err(problems) => {
                self.metrics.reload(false);
                return Err(ReloadError::Build(problems));
            }
        };
        let built = Snapshot::build(gateway, &self.steps, &self.metrics);
        self.metrics.reload(built.is_ok());
        let mut snapshot = built?;
        snapshot.source = Some(source);
        self.current.store(Arc::new(snapshot));
        Ok(warnings)
    }

    /// The current snapshot; hold it for the whole request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Swaps in a new gateway if a snapshot can be built for it; otherwise the current one
    /// stays.
    pub fn replace(&self, gateway: Gateway) -> Result<(), SnapshotError> {
        let _guard = self.reload.lock().unwrap_or_else(|e| e.into_inner());
        let built = Snapshot::build(gateway, &self.steps, &self.metrics);
        self.metrics.reload(built.is_ok());
        self.current.store(Arc::new(built?));
        Ok(())
    }

    pub fn steps(&self) -> &Steps {
        &self.steps
    }

    /// The outcome counters of the pipeline step at `index` (in [`Steps`] order).
    pub(crate) fn step_counters(&self, index: usize) -> Option<&StepCounters> {
        self.step_counters.get(index).map(Arc::as_ref)
    }

    /// The metrics registry (render it at `/metrics`).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}
