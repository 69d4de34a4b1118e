//! Deployments and stages at run time: snapshot an API's current definition as a new
//! deployment, list, get and delete deployments, create, list, update and delete stages, and
//! point a stage at a deployment (a rollback is pointing it at an older one). The service
//! layer behind the operator API's `/restapis/{api}/deployments` and `/stages`.
//!
//! A deployment is stored with the text of the definition file its API came from (the
//! compiled model is not serialised): a restart or another node loads that text again and
//! freezes the API under the same id. Pointers of the file's stages are stored too, and so are
//! stages created at run time (with their settings as a JSON document). The [`Overlay`] adds
//! the stored deployments and run-time stages to every definition the live gateway compiles
//! and points stages at their deployments, so a file reload keeps a stage on its deployment
//! (as in API Gateway, where editing an API changes nothing until it is deployed).
//!
//! Nodes agree because every decision is made from the stored state, read again from storage
//! under the change lock before each change, never from this node's definition files: a
//! stage name that has a stored run-time stage is that run-time stage, on every node (it
//! replaces a stage of the same name in a file, with a warning); one with a stored pointer is a
//! file stage whose deployment the pointer sets (UpdateStage and CreateDeployment move the
//! pointer from any node, even one whose files lack the stage); only a name with neither is
//! looked up in this node's files. DeleteDeployment is refused while any stored pointer or
//! run-time stage names the deployment, whatever the files say.
//!
//! Every change is compiled before it is stored (a change the definition refuses stores
//! nothing), stored in one transaction, and swapped in like a reload; other nodes notice
//! within `refresh_interval` by polling the storage generation counter. Parsing stored
//! deployments and compiling run on tokio's blocking pool, never on the runtime that serves
//! the operator and Cognito APIs; the overlay is read through an [`ArcSwap`], so no lock is
//! held while anything compiles.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use gatehouse_policy::calendar::{from_unix_millis, unix_millis};
use gatehouse_storage::{
    DeployTo, DeploymentDeletion, DeploymentRecord, StageDeploymentRecord, StageRecord,
    StorageError, Store,
};
use serde::{Deserialize, Serialize};

use crate::definition::compiled::{Definition, Gateway};
use crate::definition::limits::Limits;
use crate::definition::model::Throttle;
use crate::definition::sources::{DefinitionOverlay, SourceFile};
use crate::definition::stage::{
    CacheSettings, DEFAULT_CACHE_TTL_SECONDS, Deployment, MethodSettingsKey, Stage,
    StageMethodSettings,
};
use crate::definition::template::stage_variable_value_problem;
use crate::definition::validate::is_identifier;
use crate::server::usage::keys::generate_id;
use crate::server::{Clock, Live, ReloadError};

/// The service.
#[derive(Debug)]
pub struct Deployments {
    store: Store,
    live: Arc<Live>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    overlay: Arc<Overlay>,
    /// The storage generation the overlay reflects.
    generation: AtomicI64,
    refresh_interval: Duration,
    /// Serializes changes so a stored pointer and the swapped-in snapshot agree.
    change: tokio::sync::Mutex<()>,
}

/// Stored deployments and stage pointers, applied to every compiled definition.
#[derive(Debug, Default)]
pub struct Overlay {
    state: ArcSwap<OverlayState>,
}

#[derive(Debug, Default, Clone, PartialEq)]
struct OverlayState {
    deployments: Vec<Deployment>,
    /// `(api, stage)` → deployment id, for stages of the definition file.
    pointers: BTreeMap<(String, String), String>,
    /// `(api, stage)` → a stage created at run time.
    stages: BTreeMap<(String, String), RuntimeStage>,
}

/// What a stage name of an API is, as decided from the stored state (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StageKind {
    /// A stored run-time stage.
    Runtime,
    /// A stage of a definition file: one with a stored pointer, or in this node's files.
    File,
    /// Neither.
    Unknown,
}

/// A stage created at run time, as stored.
#[derive(Debug, Clone, PartialEq)]
struct RuntimeStage {
    deployment_id: String,
    settings: StageSettings,
    created_at: SystemTime,
    updated_at: SystemTime,
}

/// The settings of a run-time stage: what CreateStage and UpdateStage set. Stored as the
/// stage record's JSON document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub cache_cluster_enabled: bool,
    /// API Gateway's cluster size in GB (`0.5`, `1.6`, …); the cache's memory bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_cluster_size: Option<String>,
    /// `methodSettings` by key (`*/*`, `/pets/GET`).
    #[serde(default)]
    pub method_settings: BTreeMap<String, MethodSetting>,
}

/// One `methodSettings` entry of a run-time stage; unset fields inherit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodSetting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_rate_limit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling_burst_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caching_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_ttl_in_seconds: Option<u32>,
}

/// A change UpdateStage makes.
#[derive(Debug, Clone, PartialEq)]
pub enum StagePatch {
    /// Point the stage at another deployment (the only change a file stage takes).
    Deployment(String),
    Description(Option<String>),
    SetVariable(String, String),
    RemoveVariable(String),
    CacheClusterEnabled(bool),
    CacheClusterSize(String),
    /// `/{resource}/{method}/{group}/{name}` of `methodSettings`, e.g.
    /// `/*/*/throttling/rateLimit`; the value is the patch's text.
    MethodSetting {
        key: String,
        setting: String,
        value: String,
    },
}

/// What CreateStage needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStage {
    pub name: String,
    pub deployment_id: String,
    pub settings: StageSettings,
}

/// A deployment as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentInfo {
    pub id: String,
    pub api_id: String,
    pub description: Option<String>,
    pub created_at: SystemTime,
    /// `false` for the deployment the definition file makes (not stored, re-made on reload).
    pub stored: bool,
}

/// A stage as GetStage shows it: the compiled stage (its deployment, variables, cache and
/// method settings) and, for a run-time stage, its stored settings and times.
#[derive(Debug, Clone, PartialEq)]
pub struct StageInfo {
    pub api_id: String,
    pub stage: String,
    pub deployment_id: String,
    pub description: Option<String>,
    pub variables: BTreeMap<String, String>,
    pub cache: CacheSettings,
    /// The cluster size a run-time stage was given, as given.
    pub cache_cluster_size: Option<String>,
    pub method_settings: BTreeMap<MethodSettingsKey, StageMethodSettings>,
    pub access_log_format: Option<String>,
    /// `None` for a stage of the definition file.
    pub runtime: Option<(SystemTime, SystemTime)>,
}

/// Why a deployment operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Conflict(String),
    /// DeleteDeployment while stages serve the deployment.
    #[error("stages {} point at this deployment", quoted(.stages))]
    InUse { stages: Vec<String> },
    #[error("the definition does not compile with this change: {0}")]
    Rebuild(#[source] ReloadError),
    #[error("storage failed: {0}")]
    Storage(#[source] StorageError),
}

impl From<StorageError> for DeploymentError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound { what } => Self::NotFound(what.into_owned()),
            StorageError::Conflict { what } => Self::Conflict(what.into_owned()),
            other => Self::Storage(other),
        }
    }
}

const ID_LEN: usize = 10;

/// Memory bound of a run-time stage's cache: the cluster size in GB as given, capped, since
/// one gatehouse node holds every stage's cache.
const MAX_RUNTIME_CACHE_BYTES: u64 = 1024 * 1024 * 1024;

/// The cluster sizes API Gateway accepts, in GB.
const CACHE_CLUSTER_SIZES: [&str; 8] = ["0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"];

// === impl Overlay ===

impl DefinitionOverlay for Overlay {
    fn apply(&self, definition: &mut Definition) {
        self.state.load().apply(definition);
    }
}

impl OverlayState {
    fn apply(&self, definition: &mut Definition) {
        for deployment in &self.deployments {
            if !definition
                .deployments
                .iter()
                .any(|d| d.id() == deployment.id())
            {
                definition.deployments.push(deployment.clone());
            }
        }
        for stage in &mut definition.stages {
            let key = (stage.api_id.clone(), stage.name.clone());
            if let Some(id) = self.pointers.get(&key)
                && self.has_deployment(&stage.api_id, id)
            {
                stage.deployment_id.clone_from(id);
            }
        }
        for ((api_id, name), runtime) in &self.stages {
            if !self.has_deployment(api_id, &runtime.deployment_id) {
                continue;
            }
            let stage = runtime
                .settings
                .to_stage(api_id, name, &runtime.deployment_id);
            // The stored stage is what every node serves under this name, whatever its files.
            match definition
                .stages
                .iter_mut()
                .find(|s| &s.api_id == api_id && &s.name == name)
            {
                Some(file_stage) => {
                    tracing::warn!(api = %api_id, stage = %name, "the definition file's stage is replaced by the stored run-time stage of that name; delete that stage (DeleteStage) to serve the file's");
                    *file_stage = stage;
                }
                None => definition.stages.push(stage),
            }
        }
    }

    fn has_deployment(&self, api_id: &str, id: &str) -> bool {
        self.deployments
            .iter()
            .any(|d| d.id() == id && d.api().id == api_id)
    }
}

/// A stage variable value being set through the operator API: API Gateway's set only.
fn check_variable_value(variable: &str, value: &str) -> Result<(), DeploymentError> {
    match stage_variable_value_problem(value) {
        Some(reason) => Err(DeploymentError::Invalid(format!(
            "value of the stage variable `{variable}`: {reason}"
        ))),
        None => Ok(()),
    }
}

/// Logs each variable of a stored stage whose value is outside API Gateway's set (stored
/// before values were held to it): served as stored, but refused if set again.
fn warn_outside_the_set(api_id: &str, stage: &str, settings: &StageSettings) {
    for (variable, value) in &settings.variables {
        if let Some(reason) = stage_variable_value_problem(value) {
            tracing::warn!(api = %api_id, %stage, %variable, %reason, "a stored stage variable is outside API Gateway's set: it is served as stored, and setting it again takes a value within the set");
        }
    }
}

// === impl StageSettings ===

impl StageSettings {
    fn to_stage(&self, api_id: &str, name: &str, deployment_id: &str) -> Stage {
        let mut stage = Stage::new(api_id, name, deployment_id);
        stage.description.clone_from(&self.description);
        stage.variables.clone_from(&self.variables);
        stage.cache = CacheSettings {
            enabled: self.cache_cluster_enabled,
            ttl_seconds: DEFAULT_CACHE_TTL_SECONDS,
            capacity_bytes: cache_bytes(self.cache_cluster_size.as_deref()),
        };
        for (key, setting) in &self.method_settings {
            // Keys were checked when they were set; one that no longer parses is skipped.
            let Ok(key) = MethodSettingsKey::parse(key) else {
                continue;
            };
            let throttle = setting.throttling_rate_limit.map(|rate| Throttle {
                rate_per_second: rate,
                burst: setting
                    .throttling_burst_limit
                    .unwrap_or_else(|| default_burst(rate)),
            });
            stage.method_settings.insert(
                key,
                StageMethodSettings {
                    throttle,
                    caching_enabled: setting.caching_enabled,
                    cache_ttl_seconds: setting.cache_ttl_in_seconds,
                    require_authorization_for_cache_control: None,
                },
            );
        }
        stage
    }

    /// [`Self::check`] for a stage being created, its variables' values held to API
    /// Gateway's set too. (A stage stored before values were held to it is served as stored,
    /// and an UpdateStage checks only the values it sets, so a rollback of such a stage is
    /// not refused for a value it does not touch.)
    fn check_new(&self) -> Result<(), DeploymentError> {
        for (variable, value) in &self.variables {
            check_variable_value(variable, value)?;
        }
        self.check()
    }

    /// Checks what the definition's compiler does not: the cluster size and the method
    /// settings keys' syntax.
    fn check(&self) -> Result<(), DeploymentError> {
        if let Some(size) = &self.cache_cluster_size
            && !CACHE_CLUSTER_SIZES.contains(&size.as_str())
        {
            return Err(DeploymentError::Invalid(format!(
                "cache cluster size `{size}` is not one of {}",
                CACHE_CLUSTER_SIZES.join(", ")
            )));
        }
        for key in self.method_settings.keys() {
            MethodSettingsKey::parse(key)
                .map_err(|e| DeploymentError::Invalid(format!("method settings `{key}`: {e}")))?;
        }
        Ok(())
    }

    fn patch(&mut self, patch: StagePatch) -> Result<(), DeploymentError> {
        match patch {
            StagePatch::Deployment(_) => {}
            StagePatch::Description(d) => self.description = d,
            StagePatch::SetVariable(name, value) => {
                check_variable_value(&name, &value)?;
                self.variables.insert(name, value);
            }
            StagePatch::RemoveVariable(name) => {
                if self.variables.remove(&name).is_none() {
                    return Err(DeploymentError::NotFound(format!(
                        "stage variable `{name}`"
                    )));
                }
            }
            StagePatch::CacheClusterEnabled(on) => self.cache_cluster_enabled = on,
            StagePatch::CacheClusterSize(size) => self.cache_cluster_size = Some(size),
            StagePatch::MethodSetting {
                key,
                setting,
                value,
            } => {
                let entry = self.method_settings.entry(key).or_default();
                let bad = |what: &str| {
                    DeploymentError::Invalid(format!("`{value}` is not {what} for `{setting}`"))
                };
                match setting.as_str() {
                    "throttling/rateLimit" => {
                        entry.throttling_rate_limit =
                            Some(value.parse().map_err(|_| bad("a number"))?);
                    }
                    "throttling/burstLimit" => {
                        entry.throttling_burst_limit =
                            Some(value.parse().map_err(|_| bad("a whole number"))?);
                    }
                    "caching/enabled" => {
                        entry.caching_enabled = Some(value.parse().map_err(|_| bad("a boolean"))?);
                    }
                    "caching/ttlInSeconds" => {
                        entry.cache_ttl_in_seconds =
                            Some(value.parse().map_err(|_| bad("a whole number"))?);
                    }
                    other => {
                        return Err(DeploymentError::Invalid(format!(
                            "unsupported method setting `{other}`"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

fn cache_bytes(size: Option<&str>) -> u64 {
    size.and_then(|s| s.parse::<f64>().ok()).map_or(
        crate::definition::stage::DEFAULT_CACHE_CAPACITY_BYTES,
        |gb| {
            // Finite and at most 237 by `check`, so the cast neither wraps nor saturates.
            let bytes = (gb * 1024.0 * 1024.0 * 1024.0) as u64;
            bytes.min(MAX_RUNTIME_CACHE_BYTES)
        },
    )
}

/// API Gateway asks for both limits; when only the rate is set, the bucket holds one
/// second of it.
fn default_burst(rate: f64) -> u32 {
    // Clamped to u32's range first, so the cast neither wraps nor saturates.
    rate.ceil().clamp(1.0, f64::from(u32::MAX)) as u32
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// === impl Deployments ===

impl Deployments {
    /// Loads stored deployments, pointers and run-time stages, installs the overlay on `live`
    /// and recompiles it. `live` must have been built from sources ([`Live::from_source`]).
    pub async fn open(
        store: Store,
        live: Arc<Live>,
        clock: Arc<dyn Clock>,
        limits: Limits,
        refresh_interval: Duration,
    ) -> Result<Arc<Self>, DeploymentError> {
        let overlay = Arc::new(Overlay::default());
        live.set_overlay(Arc::clone(&overlay) as Arc<dyn DefinitionOverlay>);
        let this = Arc::new(Self {
            store,
            live,
            clock,
            limits,
            overlay,
            generation: AtomicI64::new(-1),
            refresh_interval,
            change: tokio::sync::Mutex::new(()),
        });
        this.reload().await?;
        Ok(this)
    }

    /// Re-reads deployments, pointers and run-time stages from storage and recompiles the
    /// live gateway when they changed.
    pub async fn reload(&self) -> Result<(), DeploymentError> {
        let _change = self.change.lock().await;
        self.refresh().await
    }

    /// [`Deployments::reload`] with the change lock already held: every change starts here,
    /// so it is decided from what storage holds now rather than from the last poll.
    async fn refresh(&self) -> Result<(), DeploymentError> {
        let records = self.store.gateway();
        let generation = records.generation().await?;
        let stored = records.list_deployments().await?;
        let pointers = records.list_stage_deployments().await?;
        let stage_records = records.list_stages().await?;
        let current = self.state();
        // Parsing the stored definitions is CPU work: on the blocking pool.
        let (known, limits) = (current.deployments.clone(), self.limits.clone());
        let deployments = blocking(move || {
            let mut deployments = Vec::with_capacity(stored.len());
            for record in &stored {
                if let Some(known) = known
                    .iter()
                    .find(|d| d.api().id == record.api_id && d.id() == record.id)
                {
                    deployments.push(known.clone());
                    continue;
                }
                match restore(record, &limits) {
                    Ok(deployment) => deployments.push(deployment),
                    Err(err) => {
                        tracing::warn!(api = %record.api_id, deployment = %record.id, error = %err, "stored deployment skipped")
                    }
                }
            }
            deployments
        })
        .await?;
        let mut stages = BTreeMap::new();
        for record in stage_records {
            match serde_json::from_str::<StageSettings>(&record.document) {
                Ok(settings) => {
                    // Said when the stage is first read or has changed, not at every poll.
                    let key = (record.api_id.clone(), record.name.clone());
                    if current.stages.get(&key).map(|s| &s.settings) != Some(&settings) {
                        warn_outside_the_set(&record.api_id, &record.name, &settings);
                    }
                    stages.insert(
                        (record.api_id, record.name),
                        RuntimeStage {
                            deployment_id: record.deployment_id,
                            settings,
                            created_at: from_unix_millis(record.created_at),
                            updated_at: from_unix_millis(record.updated_at),
                        },
                    );
                }
                Err(err) => {
                    tracing::warn!(api = %record.api_id, stage = %record.name, error = %err, "stored stage skipped")
                }
            }
        }
        let next = OverlayState {
            deployments,
            pointers: pointers
                .into_iter()
                .map(|p| ((p.api_id, p.stage), p.deployment_id))
                .collect(),
            stages,
        };
        let changed = next != current;
        self.set_state(next);
        let first = self.generation.swap(generation, Ordering::AcqRel) < 0;
        // The generation also moves for key and plan changes: recompiling then would restart
        // route limiters for nothing, so only a change of deployments or stages does.
        if first || changed {
            self.live
                .rebuild(&self.limits)
                .await
                .map_err(DeploymentError::Rebuild)?;
        }
        Ok(())
    }

    /// Polls the storage generation every `refresh_interval` and reloads when it moved,
    /// until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let mut tick = tokio::time::interval(self.refresh_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {
                    match self.store.gateway().generation().await {
                        Ok(g) if g != self.generation.load(Ordering::Acquire) => {
                            if let Err(err) = self.reload().await {
                                tracing::warn!(error = %err, "deployments not reloaded");
                            }
                        }
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "cannot poll gateway generation"),
                    }
                }
            }
        }
    }

    /// CreateDeployment: freezes API `api_id` as the definition has it now, stores it, and
    /// points `stage` at it when given: a stage of the file, a run-time stage, or else a new
    /// run-time stage (as API Gateway creates one), given `new_stage` as its settings.
    pub async fn create(
        &self,
        api_id: &str,
        stage: Option<&str>,
        description: Option<String>,
        new_stage: StageSettings,
    ) -> Result<DeploymentInfo, DeploymentError> {
        let _change = self.change.lock().await;
        self.refresh().await?;
        let snapshot = self.live.snapshot();
        let source = snapshot
            .source
            .as_ref()
            .ok_or(DeploymentError::Rebuild(ReloadError::NoSource))?;
        let current = source
            .api_deployment(api_id)
            .ok_or_else(|| DeploymentError::NotFound(format!("api `{api_id}`")))?;
        let file = source
            .file_of(api_id)
            .ok_or_else(|| DeploymentError::NotFound(format!("api `{api_id}`")))?;
        let now = self.clock.now();
        let id = generate_id(ID_LEN).map_err(|e| DeploymentError::Invalid(e.to_string()))?;
        let (api, frozen_description, limits) = (
            (**current.api()).clone(),
            description.clone(),
            self.limits.clone(),
        );
        let frozen_id = id.clone();
        let deployment = blocking(move || {
            Deployment::new(&frozen_id, api, now, frozen_description, &limits)
                .map_err(|e| DeploymentError::Invalid(e.to_string()))
        })
        .await??;
        let mut next = self.state();
        next.deployments.push(deployment);
        let document: String;
        let to = match stage {
            None => DeployTo::Nowhere,
            Some(stage) if self.stage_kind(&next, api_id, stage) == StageKind::File => {
                next.pointers
                    .insert((api_id.to_owned(), stage.to_owned()), id.clone());
                DeployTo::FileStage { stage }
            }
            Some(stage) => {
                check_stage_name(stage)?;
                let key = (api_id.to_owned(), stage.to_owned());
                let runtime = match next.stages.remove(&key) {
                    Some(existing) => RuntimeStage {
                        deployment_id: id.clone(),
                        updated_at: now,
                        ..existing
                    },
                    None => {
                        new_stage.check_new()?;
                        RuntimeStage {
                            deployment_id: id.clone(),
                            settings: new_stage,
                            created_at: now,
                            updated_at: now,
                        }
                    }
                };
                document = to_document(&runtime.settings)?;
                next.stages.insert(key, runtime);
                DeployTo::RuntimeStage {
                    stage,
                    document: &document,
                }
            }
        };
        self.compiles(&next).await?;
        self.store
            .gateway()
            .deploy(
                &DeploymentRecord {
                    api_id: api_id.to_owned(),
                    id: id.clone(),
                    description: description.clone(),
                    source: serde_json::to_string(file)
                        .map_err(|e| DeploymentError::Invalid(e.to_string()))?,
                    created_at: unix_millis(now),
                },
                to,
            )
            .await?;
        self.swap(next).await?;
        Ok(DeploymentInfo {
            id,
            api_id: api_id.to_owned(),
            description,
            created_at: now,
            stored: true,
        })
    }

    /// GetDeployments: the definition file's deployment of the API, then the stored ones,
    /// oldest first.
    pub fn list(&self, api_id: &str) -> Result<Vec<DeploymentInfo>, DeploymentError> {
        let snapshot = self.live.snapshot();
        let mut out = Vec::new();
        if let Some(d) = snapshot
            .source
            .as_ref()
            .and_then(|s| s.api_deployment(api_id))
        {
            out.push(info(d, false));
        }
        let state = self.overlay.state.load();
        out.extend(
            state
                .deployments
                .iter()
                .filter(|d| d.api().id == api_id)
                .map(|d| info(d, true)),
        );
        if out.is_empty() {
            return Err(DeploymentError::NotFound(format!("api `{api_id}`")));
        }
        Ok(out)
    }

    /// GetDeployment.
    pub fn deployment(&self, api_id: &str, id: &str) -> Result<DeploymentInfo, DeploymentError> {
        self.list(api_id)?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| {
                DeploymentError::NotFound(format!("deployment `{id}` of api `{api_id}`"))
            })
    }

    /// DeleteDeployment: refused while a stored pointer or run-time stage names it (decided by
    /// storage, in the deleting transaction); the file's own deployment cannot be deleted.
    pub async fn delete_deployment(&self, api_id: &str, id: &str) -> Result<(), DeploymentError> {
        let _change = self.change.lock().await;
        self.refresh().await?;
        if self.is_file_deployment(api_id, id) {
            return Err(DeploymentError::Invalid(format!(
                "deployment `{id}` is made by the definition file; edit the file instead"
            )));
        }
        let mut next = self.state();
        match self
            .store
            .gateway()
            .delete_deployment(api_id, id, &[])
            .await?
        {
            DeploymentDeletion::Deleted => {}
            DeploymentDeletion::NotFound => {
                return Err(DeploymentError::NotFound(format!(
                    "deployment `{id}` of api `{api_id}`"
                )));
            }
            DeploymentDeletion::InUse { stages } => {
                return Err(DeploymentError::InUse { stages });
            }
        }
        next.deployments
            .retain(|d| !(d.id() == id && d.api().id == api_id));
        next.pointers.retain(|(a, _), d| !(a == api_id && d == id));
        self.swap(next).await
    }

    /// GetStage: the stage as compiled now.
    pub fn stage(&self, api_id: &str, stage: &str) -> Result<StageInfo, DeploymentError> {
        let snapshot = self.live.snapshot();
        let compiled = snapshot.gateway.stage(api_id, stage).ok_or_else(|| {
            DeploymentError::NotFound(format!("stage `{stage}` of api `{api_id}`"))
        })?;
        let state = self.overlay.state.load();
        Ok(stage_info(&compiled.stage, &state))
    }

    /// GetStages: every stage of the API as compiled now, by name.
    pub fn stages(&self, api_id: &str) -> Result<Vec<StageInfo>, DeploymentError> {
        // The API must exist (it has a deployment), even when it has no stage.
        self.list(api_id)?;
        let snapshot = self.live.snapshot();
        let state = self.overlay.state.load();
        let mut out: Vec<StageInfo> = snapshot
            .gateway
            .stages()
            .filter(|s| s.stage.api_id == api_id)
            .map(|s| stage_info(&s.stage, &state))
            .collect();
        out.sort_by(|a, b| a.stage.cmp(&b.stage));
        Ok(out)
    }

    /// Whether `stage` of `api_id` is defined in the definition file (and so takes only a
    /// change of deployment).
    pub fn is_file_stage(&self, api_id: &str, stage: &str) -> bool {
        let snapshot = self.live.snapshot();
        snapshot.source.as_ref().is_some_and(|s| {
            s.definition
                .stages
                .iter()
                .any(|x| x.api_id == api_id && x.name == stage)
        })
    }

    /// CreateStage: a stage that exists only at run time, on a stored deployment of its API.
    pub async fn create_stage(
        &self,
        api_id: &str,
        new: NewStage,
    ) -> Result<StageInfo, DeploymentError> {
        {
            let _change = self.change.lock().await;
            check_stage_name(&new.name)?;
            self.refresh().await?;
            let key = (api_id.to_owned(), new.name.clone());
            let mut next = self.state();
            if self.stage_kind(&next, api_id, &new.name) != StageKind::Unknown {
                return Err(DeploymentError::Conflict(format!(
                    "stage `{}` of api `{api_id}`",
                    new.name
                )));
            }
            self.check_deployment(&next, api_id, &new.deployment_id)?;
            new.settings.check_new()?;
            let now = self.clock.now();
            let record = StageRecord {
                api_id: api_id.to_owned(),
                name: new.name.clone(),
                deployment_id: new.deployment_id.clone(),
                document: to_document(&new.settings)?,
                created_at: unix_millis(now),
                updated_at: unix_millis(now),
            };
            next.stages.insert(
                key,
                RuntimeStage {
                    deployment_id: new.deployment_id,
                    settings: new.settings,
                    created_at: now,
                    updated_at: now,
                },
            );
            self.compiles(&next).await?;
            self.store.gateway().insert_stage(&record).await?;
            self.swap(next).await?;
        }
        self.stage(api_id, &new.name)
    }

    /// UpdateStage: applies `patches` in order. A stage of a definition file (or with a stored
    /// pointer) takes only [`StagePatch::Deployment`]; the others are refused for it.
    pub async fn update_stage(
        &self,
        api_id: &str,
        stage: &str,
        patches: Vec<StagePatch>,
    ) -> Result<StageInfo, DeploymentError> {
        {
            let _change = self.change.lock().await;
            self.refresh().await?;
            let key = (api_id.to_owned(), stage.to_owned());
            let mut next = self.state();
            match self.stage_kind(&next, api_id, stage) {
                StageKind::Unknown => {
                    return Err(DeploymentError::NotFound(format!(
                        "stage `{stage}` of api `{api_id}`"
                    )));
                }
                StageKind::File => {
                    if let Some(other) = patches
                        .iter()
                        .find(|p| !matches!(p, StagePatch::Deployment(_)))
                    {
                        return Err(DeploymentError::Invalid(format!(
                            "stage `{stage}` is defined in the definition file, which sets its {}; only its deployment can change at run time",
                            other.subject()
                        )));
                    }
                    if let Some(StagePatch::Deployment(id)) = patches.into_iter().last() {
                        self.point_file_stage(next, api_id, stage, &id).await?;
                    }
                }
                StageKind::Runtime => {
                    let Some(mut runtime) = next.stages.remove(&key) else {
                        return Err(DeploymentError::NotFound(format!(
                            "stage `{stage}` of api `{api_id}`"
                        )));
                    };
                    for patch in patches {
                        if let StagePatch::Deployment(id) = &patch {
                            self.check_deployment(&next, api_id, id)?;
                            runtime.deployment_id.clone_from(id);
                        }
                        runtime.settings.patch(patch)?;
                    }
                    runtime.settings.check()?;
                    let now = self.clock.now();
                    runtime.updated_at = now;
                    let record = StageRecord {
                        api_id: api_id.to_owned(),
                        name: stage.to_owned(),
                        deployment_id: runtime.deployment_id.clone(),
                        document: to_document(&runtime.settings)?,
                        created_at: unix_millis(runtime.created_at),
                        updated_at: unix_millis(now),
                    };
                    next.stages.insert(key, runtime);
                    self.compiles(&next).await?;
                    self.store.gateway().update_stage(&record).await?;
                    self.swap(next).await?;
                }
            }
        }
        self.stage_or_pointer(api_id, stage)
    }

    /// DeleteStage: run-time stages only. Its requests and its cache stop at the swap.
    pub async fn delete_stage(&self, api_id: &str, stage: &str) -> Result<(), DeploymentError> {
        let _change = self.change.lock().await;
        self.refresh().await?;
        let key = (api_id.to_owned(), stage.to_owned());
        let mut next = self.state();
        if self.stage_kind(&next, api_id, stage) == StageKind::File {
            return Err(DeploymentError::Invalid(format!(
                "stage `{stage}` is defined in the definition file; remove it there"
            )));
        }
        if next.stages.remove(&key).is_none() {
            return Err(DeploymentError::NotFound(format!(
                "stage `{stage}` of api `{api_id}`"
            )));
        }
        self.compiles(&next).await?;
        if !self.store.gateway().delete_stage(api_id, stage).await? {
            return Err(DeploymentError::NotFound(format!(
                "stage `{stage}` of api `{api_id}`"
            )));
        }
        self.swap(next).await
    }

    /// UpdateStage `replace /deploymentId` of a file stage: points it at a stored deployment
    /// of its API (a rollback when it is an older one). The change lock is held by the caller.
    async fn point_file_stage(
        &self,
        mut next: OverlayState,
        api_id: &str,
        stage: &str,
        deployment_id: &str,
    ) -> Result<(), DeploymentError> {
        self.check_deployment(&next, api_id, deployment_id)?;
        next.pointers.insert(
            (api_id.to_owned(), stage.to_owned()),
            deployment_id.to_owned(),
        );
        self.compiles(&next).await?;
        self.store
            .gateway()
            .set_stage_deployment(&StageDeploymentRecord {
                api_id: api_id.to_owned(),
                stage: stage.to_owned(),
                deployment_id: deployment_id.to_owned(),
                updated_at: unix_millis(self.clock.now()),
            })
            .await?;
        self.swap(next).await
    }

    /// What `stage` of `api_id` is: the stored state decides, this node's files only for a
    /// name storage knows nothing about.
    fn stage_kind(&self, state: &OverlayState, api_id: &str, stage: &str) -> StageKind {
        let key = (api_id.to_owned(), stage.to_owned());
        if state.stages.contains_key(&key) {
            StageKind::Runtime
        } else if state.pointers.contains_key(&key) || self.is_file_stage(api_id, stage) {
            StageKind::File
        } else {
            StageKind::Unknown
        }
    }

    /// GetStage, or for a file stage this node's files lack, what its stored pointer says.
    fn stage_or_pointer(&self, api_id: &str, stage: &str) -> Result<StageInfo, DeploymentError> {
        match self.stage(api_id, stage) {
            Err(DeploymentError::NotFound(what)) => {
                let state = self.overlay.state.load();
                let key = (api_id.to_owned(), stage.to_owned());
                let Some(deployment_id) = state.pointers.get(&key) else {
                    return Err(DeploymentError::NotFound(what));
                };
                // A pointer is a deployment id only: none of a run-time stage's settings.
                Ok(stage_info(
                    &Stage::new(api_id, stage, deployment_id),
                    &OverlayState::default(),
                ))
            }
            other => other,
        }
    }

    /// Whether `id` is the deployment this node's definition file makes for `api_id`.
    fn is_file_deployment(&self, api_id: &str, id: &str) -> bool {
        self.live
            .snapshot()
            .source
            .as_ref()
            .and_then(|s| s.api_deployment(api_id))
            .is_some_and(|d| d.id() == id)
    }

    fn check_deployment(
        &self,
        state: &OverlayState,
        api_id: &str,
        id: &str,
    ) -> Result<(), DeploymentError> {
        if state.has_deployment(api_id, id) {
            return Ok(());
        }
        if self.is_file_deployment(api_id, id) {
            // It is re-made with another id at every reload of the file, so nothing may
            // point at it for longer than that.
            return Err(DeploymentError::Invalid(format!(
                "deployment `{id}` is made by the definition file; create a deployment (CreateDeployment) and use its id"
            )));
        }
        Err(DeploymentError::NotFound(format!(
            "deployment `{id}` of api `{api_id}`"
        )))
    }

    fn state(&self) -> OverlayState {
        OverlayState::clone(&self.overlay.state.load())
    }

    fn set_state(&self, next: OverlayState) {
        self.overlay.state.store(Arc::new(next));
    }

    /// Refuses a change the definition would not compile with, before anything is stored.
    /// Compiles on the blocking pool.
    async fn compiles(&self, next: &OverlayState) -> Result<(), DeploymentError> {
        let snapshot = self.live.snapshot();
        let source = snapshot
            .source
            .clone()
            .ok_or(DeploymentError::Rebuild(ReloadError::NoSource))?;
        let (next, limits) = (next.clone(), self.limits.clone());
        blocking(move || {
            let mut definition = source.definition.clone();
            next.apply(&mut definition);
            Gateway::build(&definition, &limits)
                .map(|_| ())
                .map_err(|problems| DeploymentError::Invalid(problems.to_string()))
        })
        .await?
    }

    /// Installs the stored change and swaps in the recompiled gateway.
    async fn swap(&self, next: OverlayState) -> Result<(), DeploymentError> {
        self.set_state(next);
        self.live
            .rebuild(&self.limits)
            .await
            .map(|_| ())
            .map_err(DeploymentError::Rebuild)
    }
}

/// A stored deployment, parsed and validated again.
fn restore(record: &DeploymentRecord, limits: &Limits) -> Result<Deployment, String> {
    let file: SourceFile = serde_json::from_str(&record.source).map_err(|e| e.to_string())?;
    file.load_api(
        &record.api_id,
        &record.id,
        from_unix_millis(record.created_at),
        record.description.clone(),
        limits,
    )
}

/// Runs `work` (parsing, compiling) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DeploymentError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| DeploymentError::Rebuild(ReloadError::Compile(err.to_string())))
}

// === impl StagePatch ===

impl StagePatch {
    /// What the patch changes, for messages.
    fn subject(&self) -> String {
        match self {
            Self::Deployment(_) => "deployment".to_owned(),
            Self::Description(_) => "description".to_owned(),
            Self::SetVariable(name, _) | Self::RemoveVariable(name) => {
                format!("variable `{name}`")
            }
            Self::CacheClusterEnabled(_) | Self::CacheClusterSize(_) => "cache".to_owned(),
            Self::MethodSetting { key, setting, .. } => {
                format!("method setting `{key}/{setting}`")
            }
        }
    }
}

fn check_stage_name(name: &str) -> Result<(), DeploymentError> {
    if is_identifier(name, 128) {
        Ok(())
    } else {
        Err(DeploymentError::Invalid(format!(
            "stage name `{name}`: use 1 to 128 letters, digits, `-` and `_`"
        )))
    }
}

fn to_document(settings: &StageSettings) -> Result<String, DeploymentError> {
    serde_json::to_string(settings).map_err(|e| DeploymentError::Invalid(e.to_string()))
}

fn stage_info(stage: &Stage, state: &OverlayState) -> StageInfo {
    let runtime = state
        .stages
        .get(&(stage.api_id.clone(), stage.name.clone()))
        .filter(|r| r.deployment_id == stage.deployment_id);
    StageInfo {
        api_id: stage.api_id.clone(),
        stage: stage.name.clone(),
        deployment_id: stage.deployment_id.clone(),
        description: stage.description.clone(),
        variables: stage.variables.clone(),
        cache: stage.cache,
        cache_cluster_size: runtime.and_then(|r| r.settings.cache_cluster_size.clone()),
        method_settings: stage.method_settings.clone(),
        access_log_format: stage.access_log_format.clone(),
        runtime: runtime.map(|r| (r.created_at, r.updated_at)),
    }
}

fn info(d: &Deployment, stored: bool) -> DeploymentInfo {
    DeploymentInfo {
        id: d.id().to_owned(),
        api_id: d.api().id.clone(),
        description: d.description().map(str::to_owned),
        created_at: d.created_at(),
        stored,
    }
}
