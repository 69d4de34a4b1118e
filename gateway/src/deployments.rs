//! Deployments at run time: snapshot an API's current definition as a new deployment, list
//! them, and point a stage at one (a rollback is pointing it at an older one). The service
//! layer behind the operator API's `/restapis/{api}/deployments` and `/stages/{stage}`.
//!
//! A deployment is stored with the text of the definition file its API came from (the
//! compiled model is not serialised): a restart or another node loads that text again and
//! freezes the API under the same id. Stage pointers are stored too. The [`Overlay`] adds the
//! stored deployments to every definition the live gateway compiles and points stages at
//! them, so a file reload keeps a stage on its deployment (as in API Gateway, where editing
//! an API changes nothing until it is deployed). Every change is swapped in like a reload;
//! other nodes notice within `refresh_interval` by polling the storage generation counter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use gatehouse_storage::{DeploymentRecord, StageDeploymentRecord, StorageError, Store};

use crate::keys::generate_id;
use crate::limits::Limits;
use crate::server::{Clock, Live, ReloadError};
use crate::snapshot::Definition;
use crate::sources::{DefinitionOverlay, SourceFile};
use crate::stage::Deployment;
use crate::usage::{epoch_ms, from_epoch_ms};

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
    state: Mutex<OverlayState>,
}

#[derive(Debug, Default)]
struct OverlayState {
    deployments: Vec<Deployment>,
    /// `(api, stage)` → deployment id.
    pointers: BTreeMap<(String, String), String>,
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

/// A stage and the deployment it serves now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageInfo {
    pub api_id: String,
    pub stage: String,
    pub deployment_id: String,
}

/// Why a deployment operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("the definition does not compile with this change: {0}")]
    Rebuild(#[source] ReloadError),
    #[error("storage failed: {0}")]
    Storage(#[source] StorageError),
}

impl From<StorageError> for DeploymentError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound { what } => Self::NotFound(what.into_owned()),
            StorageError::Conflict { what } => Self::Invalid(format!("{what} already exists")),
            other => Self::Storage(other),
        }
    }
}

const ID_LEN: usize = 10;

// === impl Overlay ===

impl DefinitionOverlay for Overlay {
    fn apply(&self, definition: &mut Definition) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for deployment in &state.deployments {
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
            if let Some(id) = state.pointers.get(&key)
                && state
                    .deployments
                    .iter()
                    .any(|d| d.id() == id && d.api().id == stage.api_id)
            {
                stage.deployment_id.clone_from(id);
            }
        }
    }
}

// === impl Deployments ===

impl Deployments {
    /// Loads stored deployments and pointers, installs the overlay on `live` and recompiles
    /// it. `live` must have been built from sources ([`Live::from_source`]).
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

    /// Re-reads deployments and pointers from storage and recompiles the live gateway.
    pub async fn reload(&self) -> Result<(), DeploymentError> {
        let _change = self.change.lock().await;
        let records = self.store.gateway();
        let generation = records.generation().await?;
        let stored = records.list_deployments().await?;
        let pointers = records.list_stage_deployments().await?;
        let known: Vec<(String, String)> = {
            let state = self.overlay.state.lock().unwrap_or_else(|e| e.into_inner());
            state
                .deployments
                .iter()
                .map(|d| (d.api().id.clone(), d.id().to_owned()))
                .collect()
        };
        let mut fresh = Vec::new();
        for record in &stored {
            if known.contains(&(record.api_id.clone(), record.id.clone())) {
                continue;
            }
            match self.restore(record) {
                Ok(deployment) => fresh.push(deployment),
                Err(err) => {
                    tracing::warn!(api = %record.api_id, deployment = %record.id, error = %err, "stored deployment skipped")
                }
            }
        }
        let pointers: BTreeMap<(String, String), String> = pointers
            .into_iter()
            .map(|p| ((p.api_id, p.stage), p.deployment_id))
            .collect();
        let changed = {
            let mut state = self.overlay.state.lock().unwrap_or_else(|e| e.into_inner());
            let changed = !fresh.is_empty() || state.pointers != pointers;
            state.deployments.extend(fresh);
            state.pointers = pointers;
            changed
        };
        let first = self.generation.swap(generation, Ordering::AcqRel) < 0;
        // The generation also moves for key and plan changes: recompiling then would restart
        // route limiters for nothing, so only a change of deployments or pointers does.
        if first || changed {
            self.live
                .rebuild(&self.limits)
                .map_err(DeploymentError::Rebuild)?;
        }
        Ok(())
    }

    fn restore(&self, record: &DeploymentRecord) -> Result<Deployment, String> {
        let file: SourceFile = serde_json::from_str(&record.source).map_err(|e| e.to_string())?;
        file.load_api(
            &record.api_id,
            &record.id,
            from_epoch_ms(record.created_at),
            record.description.clone(),
            &self.limits,
        )
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
    /// points `stage` (which the definition must have) at it when given.
    pub async fn create(
        &self,
        api_id: &str,
        stage: Option<&str>,
        description: Option<String>,
    ) -> Result<DeploymentInfo, DeploymentError> {
        let _change = self.change.lock().await;
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
        if let Some(stage) = stage {
            self.check_stage(api_id, stage)?;
        }
        let now = self.clock.now();
        let id = generate_id(ID_LEN).map_err(|e| DeploymentError::Invalid(e.to_string()))?;
        let deployment = Deployment::new(
            &id,
            (**current.api()).clone(),
            now,
            description.clone(),
            &self.limits,
        )
        .map_err(|e| DeploymentError::Invalid(e.to_string()))?;
        let records = self.store.gateway();
        records
            .insert_deployment(&DeploymentRecord {
                api_id: api_id.to_owned(),
                id: id.clone(),
                description: description.clone(),
                source: serde_json::to_string(file)
                    .map_err(|e| DeploymentError::Invalid(e.to_string()))?,
                created_at: epoch_ms(now),
            })
            .await?;
        if let Some(stage) = stage {
            records
                .set_stage_deployment(&StageDeploymentRecord {
                    api_id: api_id.to_owned(),
                    stage: stage.to_owned(),
                    deployment_id: id.clone(),
                    updated_at: epoch_ms(now),
                })
                .await?;
        }
        {
            let mut state = self.overlay.state.lock().unwrap_or_else(|e| e.into_inner());
            state.deployments.push(deployment);
            if let Some(stage) = stage {
                state
                    .pointers
                    .insert((api_id.to_owned(), stage.to_owned()), id.clone());
            }
        }
        self.live
            .rebuild(&self.limits)
            .map_err(DeploymentError::Rebuild)?;
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
        let state = self.overlay.state.lock().unwrap_or_else(|e| e.into_inner());
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

    /// GetStage: the deployment the stage serves now.
    pub fn stage(&self, api_id: &str, stage: &str) -> Result<StageInfo, DeploymentError> {
        let snapshot = self.live.snapshot();
        let compiled = snapshot.gateway.stage(api_id, stage).ok_or_else(|| {
            DeploymentError::NotFound(format!("stage `{stage}` of api `{api_id}`"))
        })?;
        Ok(StageInfo {
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
            deployment_id: compiled.deployment.id().to_owned(),
        })
    }

    /// UpdateStage `replace /deploymentId`: points the stage at a stored deployment of its
    /// API (a rollback when it is an older one).
    pub async fn point_stage(
        &self,
        api_id: &str,
        stage: &str,
        deployment_id: &str,
    ) -> Result<StageInfo, DeploymentError> {
        {
            let _change = self.change.lock().await;
            self.check_stage(api_id, stage)?;
            let known = {
                let state = self.overlay.state.lock().unwrap_or_else(|e| e.into_inner());
                state
                    .deployments
                    .iter()
                    .any(|d| d.id() == deployment_id && d.api().id == api_id)
            };
            if !known {
                return Err(DeploymentError::NotFound(format!(
                    "deployment `{deployment_id}` of api `{api_id}`"
                )));
            }
            self.store
                .gateway()
                .set_stage_deployment(&StageDeploymentRecord {
                    api_id: api_id.to_owned(),
                    stage: stage.to_owned(),
                    deployment_id: deployment_id.to_owned(),
                    updated_at: epoch_ms(self.clock.now()),
                })
                .await?;
            self.overlay
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pointers
                .insert(
                    (api_id.to_owned(), stage.to_owned()),
                    deployment_id.to_owned(),
                );
            self.live
                .rebuild(&self.limits)
                .map_err(DeploymentError::Rebuild)?;
        }
        self.stage(api_id, stage)
    }

    fn check_stage(&self, api_id: &str, stage: &str) -> Result<(), DeploymentError> {
        let snapshot = self.live.snapshot();
        let defined = snapshot.source.as_ref().is_some_and(|s| {
            s.definition
                .stages
                .iter()
                .any(|x| x.api_id == api_id && x.name == stage)
        });
        if defined {
            Ok(())
        } else {
            Err(DeploymentError::NotFound(format!(
                "stage `{stage}` of api `{api_id}`"
            )))
        }
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
