//! API keys and usage plans at run time: the service layer the CLI and the operator API call
//! ([`Usage::create_key`], [`Usage::create_plan`], …), the in-memory key table the data plane
//! reads, and the three pipeline stages built on it: API keys, throttling and quotas.
//!
//! No database access per request: keys (by SHA-256 of the value) and plans live in an
//! [`ArcSwap`]ped [`KeyTable`]. The table is rebuilt after every change made through this
//! service, whenever a new gateway definition goes live (its file-defined plans and key
//! bindings), and when another node changed something: [`Usage::run`] polls storage's
//! generation counter every second (one single-row read) and reloads when it moved.
//!
//! Throttling order for a keyed request, as API Gateway applies it: the plan's per-method
//! throttle for the key, the plan's throttle for the key, the stage/method throttle of the
//! route, then the account-wide limit (default 10 000 rps, burst 5 000). Unkeyed requests
//! pass the last two. Limiters are per node.

pub mod keys;
pub mod quota;
pub mod throttle;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use gatehouse_storage::{ApiKeyRecord, StorageError, Store, UsagePlanRecord};
use http::{HeaderName, HeaderValue};

use crate::definition::model::{ApiKeySource, HttpMethod, Throttle};
use crate::definition::plans::{PlanDocument, PlanError, day_start, format_day, period_bounds};
use crate::definition::responses::GatewayResponseType;
use crate::definition::snapshot::Gateway;
use crate::definition::stage::{ApiKeyRef, MethodSettingsKey, UsagePlan};
use crate::server::Clock;
use crate::server::hooks::{
    Decision, Phase, Prepared, Rejection, RequestContext, Stage, StageFuture,
};
use keys::{KeyHash, KeyValueError};
use quota::{QuotaCheck, QuotaCounters, QuotaSlot};
use throttle::Gcra;

/// Settings of the key, throttle and quota stages.
#[derive(Debug, Clone)]
pub struct UsageConfig {
    /// The account-wide limit (API Gateway's default: 10 000 rps, burst 5 000).
    pub account_throttle: Throttle,
    /// Largest number of requests a node counts before it must write them (see `quota`).
    pub quota_max_batch: u64,
    /// How often quota counters are written and re-read.
    pub flush_interval: Duration,
    /// How often the generation counter is polled for changes made by other nodes.
    pub refresh_interval: Duration,
}

/// The service: storage, the live key table, limiters and quota counters.
#[derive(Debug)]
pub struct Usage {
    store: Store,
    clock: Arc<dyn Clock>,
    config: UsageConfig,
    table: ArcSwap<KeyTable>,
    /// The last records read from storage (rebuilding the table needs no database).
    stored: Mutex<Stored>,
    /// Plans and key bindings of the definition that is live now.
    definition: Mutex<(Vec<UsagePlan>, Vec<ApiKeyRef>)>,
    /// The storage generation the table reflects.
    generation: AtomicI64,
    /// Limiters by (plan, key, stage, method key), kept across rebuilds while unchanged.
    limiters: Mutex<HashMap<String, Arc<Gcra>>>,
    account: Gcra,
    quota: QuotaCounters,
}

#[derive(Debug, Default)]
struct Stored {
    keys: Vec<ApiKeyRecord>,
    plans: Vec<UsagePlanRecord>,
    bindings: Vec<(String, String)>,
}

/// What the data plane reads: keys by hash.
#[derive(Debug, Default)]
pub struct KeyTable {
    by_hash: HashMap<KeyHash, Arc<KeyEntry>>,
}

/// A key as the data plane sees it.
#[derive(Debug)]
pub struct KeyEntry {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    plans: Vec<KeyPlan>,
}

/// A plan a key belongs to, with the key's limiters and quota counter in it.
#[derive(Debug)]
struct KeyPlan {
    plan: Arc<PlanEntry>,
    limiter: Option<Arc<Gcra>>,
    /// Per stage of the plan (same order as `plan.plan.stages`): per-method limiters.
    method_limiters: Vec<Vec<(MethodSettingsKey, Arc<Gcra>)>>,
    quota: Option<Arc<QuotaSlot>>,
}

#[derive(Debug)]
struct PlanEntry {
    id: String,
    plan: UsagePlan,
}

/// Set by the key stage for the throttle and quota stages.
#[derive(Debug, Clone)]
struct KeyContext {
    entry: Arc<KeyEntry>,
    plan: usize,
    stage: usize,
}

/// A key as listings show it (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The first characters of the value.
    pub prefix: String,
    pub enabled: bool,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    /// Ids of the plans the key belongs to.
    pub usage_plan_ids: Vec<String>,
}

/// A new key; the value is generated when `None`.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub value: Option<String>,
}

/// A key just created: the value is shown this once.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    pub key: ApiKeyInfo,
    pub value: String,
}

/// Changes to a key; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A usage plan as listings show it.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlanInfo {
    /// Generated for stored plans; the plan's name for plans of a definition file.
    pub id: String,
    pub name: String,
    pub document: PlanDocument,
    /// `false` for plans of a definition file (read-only here).
    pub stored: bool,
}

/// GetUsage: per key, per day, requests used and the quota remaining after that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    pub plan_id: String,
    pub start_day: String,
    pub end_day: String,
    /// Key id → one `(used, remaining)` per day from start to end.
    pub items: std::collections::BTreeMap<String, Vec<(u64, u64)>>,
}

/// Why a key or plan operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{0}")]
    InvalidValue(#[from] KeyValueError),
    #[error("{0}")]
    InvalidPlan(#[from] PlanError),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("usage plan `{0}` is defined in a file and cannot be changed here")]
    ReadOnlyPlan(String),
    #[error("storage failed: {0}")]
    Storage(#[source] StorageError),
}

impl From<StorageError> for UsageError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound { what } => Self::NotFound(what.into_owned()),
            StorageError::Conflict { what } => Self::Conflict(what.into_owned()),
            other => Self::Storage(other),
        }
    }
}

/// The stage that checks API keys.
#[derive(Debug)]
pub struct ApiKeyStage(pub Arc<Usage>);
/// The stage that applies throttles.
#[derive(Debug)]
pub struct ThrottleStage(pub Arc<Usage>);
/// The stage that counts quotas.
#[derive(Debug)]
pub struct QuotaStage(pub Arc<Usage>);

const API_KEY_HEADER: &str = "x-api-key";
/// How long a request waits for its node's quota batch to be written before giving up.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

// === impl UsageConfig ===

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            account_throttle: Throttle {
                rate_per_second: 10_000.0,
                burst: 5_000,
            },
            quota_max_batch: 100,
            flush_interval: Duration::from_secs(1),
            refresh_interval: Duration::from_secs(1),
        }
    }
}

// === impl Usage ===

impl Usage {
    /// Loads keys and plans from `store`.
    pub async fn open(
        store: Store,
        clock: Arc<dyn Clock>,
        config: UsageConfig,
    ) -> Result<Arc<Self>, UsageError> {
        let usage = Arc::new(Self {
            store,
            clock,
            account: Gcra::new(config.account_throttle),
            quota: QuotaCounters::new(config.quota_max_batch),
            config,
            table: ArcSwap::from_pointee(KeyTable::default()),
            stored: Mutex::new(Stored::default()),
            definition: Mutex::new((Vec::new(), Vec::new())),
            generation: AtomicI64::new(-1),
            limiters: Mutex::new(HashMap::new()),
        });
        usage.reload().await?;
        Ok(usage)
    }

    /// The key, throttle and quota stages (register them with the pipeline).
    pub fn stages(self: &Arc<Self>) -> Vec<Arc<dyn Stage>> {
        vec![
            Arc::new(ApiKeyStage(Arc::clone(self))),
            Arc::new(ThrottleStage(Arc::clone(self))),
            Arc::new(QuotaStage(Arc::clone(self))),
        ]
    }

    /// Background work until `shutdown`: polls the generation counter and writes quota
    /// counters. Run it on one task per node. On shutdown the counters are written once more.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let mut refresh = tokio::time::interval(self.config.refresh_interval);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush = tokio::time::interval(self.config.flush_interval);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    self.flush().await;
                    return;
                }
                _ = refresh.tick() => {
                    match self.store.gateway().generation().await {
                        Ok(g) if g != self.generation.load(Ordering::Acquire) => {
                            if let Err(err) = self.reload().await {
                                tracing::warn!(error = %err, "api keys and usage plans not reloaded");
                            }
                        }
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "cannot poll gateway generation"),
                    }
                }
                _ = flush.tick() => self.flush().await,
                () = self.quota.wake.notified() => self.flush().await,
            }
        }
    }

    /// Writes the quota counters now (the background task does this every second).
    pub async fn flush(&self) {
        self.quota.flush(&self.store, self.now_ms()).await;
    }

    /// Re-reads keys, plans and bindings from storage and rebuilds the table.
    pub async fn reload(&self) -> Result<(), UsageError> {
        let records = self.store.gateway();
        // Read the generation first: a change racing with the reads is seen next time.
        let generation = records.generation().await?;
        let stored = Stored {
            keys: records.list_api_keys().await?,
            plans: records.list_usage_plans().await?,
            bindings: records.list_plan_keys().await?,
        };
        *self.stored.lock().unwrap_or_else(|e| e.into_inner()) = stored;
        self.generation.store(generation, Ordering::Release);
        self.rebuild();
        Ok(())
    }

    /// Takes the plans and key bindings of a definition going live.
    fn set_definition(&self, gateway: &Gateway) {
        *self.definition.lock().unwrap_or_else(|e| e.into_inner()) =
            (gateway.usage_plans().to_vec(), gateway.api_keys().to_vec());
        self.rebuild();
    }

    fn rebuild(&self) {
        let stored = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        let definition = self.definition.lock().unwrap_or_else(|e| e.into_inner());
        let mut plans: HashMap<String, Arc<PlanEntry>> = HashMap::new();
        for plan in &definition.0 {
            plans.insert(
                plan.name.clone(),
                Arc::new(PlanEntry {
                    id: plan.name.clone(),
                    plan: plan.clone(),
                }),
            );
        }
        for record in &stored.plans {
            match serde_json::from_str::<PlanDocument>(&record.document)
                .map_err(|e| e.to_string())
                .and_then(|d| d.to_plan(&record.name).map_err(|e| e.to_string()))
            {
                Ok(plan) => {
                    plans.insert(
                        record.id.clone(),
                        Arc::new(PlanEntry {
                            id: record.id.clone(),
                            plan,
                        }),
                    );
                }
                Err(err) => {
                    tracing::warn!(plan = %record.id, error = %err, "stored usage plan skipped")
                }
            }
        }
        let mut bindings: HashMap<&str, Vec<&str>> = HashMap::new();
        for (plan_id, key_id) in &stored.bindings {
            bindings.entry(key_id).or_default().push(plan_id);
        }
        for key_ref in &definition.1 {
            for key in stored.keys.iter().filter(|k| k.name == key_ref.name) {
                for plan in &key_ref.usage_plans {
                    bindings.entry(&key.id).or_default().push(plan);
                }
            }
        }
        let mut limiters = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        let mut kept: HashMap<String, Arc<Gcra>> = HashMap::new();
        let mut limiter = |name: String, throttle: Throttle| -> Arc<Gcra> {
            let gcra = match limiters.get(&name) {
                Some(g) if g.throttle == throttle => Arc::clone(g),
                _ => Arc::new(Gcra::new(throttle)),
            };
            kept.insert(name, Arc::clone(&gcra));
            gcra
        };
        let mut table = KeyTable::default();
        for record in &stored.keys {
            let Ok(hash) = <KeyHash>::try_from(record.key_hash.as_slice()) else {
                continue;
            };
            let mut key_plans = Vec::new();
            let mut plan_ids: Vec<&str> = bindings
                .get(record.id.as_str())
                .cloned()
                .unwrap_or_default();
            plan_ids.sort_unstable();
            plan_ids.dedup();
            for plan_id in plan_ids {
                let Some(plan) = plans.get(plan_id) else {
                    continue;
                };
                let base = format!("{}\0{}", plan.id, record.id);
                let method_limiters = plan
                    .plan
                    .stages
                    .iter()
                    .map(|s| {
                        s.method_throttles
                            .iter()
                            .map(|(k, t)| {
                                let name = format!("{base}\0{}\0{}\0{k}", s.api_id, s.stage);
                                (k.clone(), limiter(name, *t))
                            })
                            .collect()
                    })
                    .collect();
                key_plans.push(KeyPlan {
                    limiter: plan.plan.throttle.map(|t| limiter(base.clone(), t)),
                    method_limiters,
                    quota: plan
                        .plan
                        .quota
                        .map(|_| self.quota.slot(&plan.id, &record.id)),
                    plan: Arc::clone(plan),
                });
            }
            table.by_hash.insert(
                hash,
                Arc::new(KeyEntry {
                    id: record.id.clone(),
                    name: record.name.clone(),
                    enabled: record.enabled,
                    plans: key_plans,
                }),
            );
        }
        *limiters = kept;
        self.table.store(Arc::new(table));
    }

    fn now_ms(&self) -> i64 {
        epoch_ms(self.clock.now())
    }

    fn info(&self, record: &ApiKeyRecord) -> ApiKeyInfo {
        let stored = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        let definition = self.definition.lock().unwrap_or_else(|e| e.into_inner());
        let mut usage_plan_ids: Vec<String> = stored
            .bindings
            .iter()
            .filter(|(_, k)| *k == record.id)
            .map(|(p, _)| p.clone())
            .collect();
        for key_ref in definition.1.iter().filter(|r| r.name == record.name) {
            usage_plan_ids.extend(key_ref.usage_plans.iter().cloned());
        }
        usage_plan_ids.sort();
        usage_plan_ids.dedup();
        ApiKeyInfo {
            id: record.id.clone(),
            name: record.name.clone(),
            description: record.description.clone(),
            prefix: record.prefix.clone(),
            enabled: record.enabled,
            created_at: from_epoch_ms(record.created_at),
            updated_at: from_epoch_ms(record.updated_at),
            usage_plan_ids,
        }
    }

    // --- keys ---

    /// Creates a key (generating the value unless given) and returns the value once.
    pub async fn create_key(&self, new: NewApiKey) -> Result<CreatedApiKey, UsageError> {
        if new.name.trim().is_empty() || new.name.len() > 1024 {
            return Err(UsageError::Invalid(
                "a key needs a name of 1 to 1024 characters".into(),
            ));
        }
        let value = match new.value {
            Some(v) => {
                keys::check_value(&v)?;
                v
            }
            None => keys::generate_value()?,
        };
        let now = self.now_ms();
        let record = ApiKeyRecord {
            id: keys::generate_id(10)?,
            name: new.name,
            description: new.description,
            key_hash: keys::hash_value(&value).to_vec(),
            prefix: keys::prefix_of(&value),
            enabled: new.enabled,
            created_at: now,
            updated_at: now,
        };
        self.store.gateway().insert_api_key(&record).await?;
        self.reload().await?;
        Ok(CreatedApiKey {
            key: self.info(&record),
            value,
        })
    }

    /// Every key, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<ApiKeyInfo>, UsageError> {
        let records = self.store.gateway().list_api_keys().await?;
        Ok(records.iter().map(|r| self.info(r)).collect())
    }

    pub async fn get_key(&self, id: &str) -> Result<ApiKeyInfo, UsageError> {
        let record = self
            .store
            .gateway()
            .get_api_key(id)
            .await?
            .ok_or_else(|| UsageError::NotFound(format!("api key `{id}`")))?;
        Ok(self.info(&record))
    }

    pub async fn update_key(
        &self,
        id: &str,
        update: ApiKeyUpdate,
    ) -> Result<ApiKeyInfo, UsageError> {
        let current = self.get_key(id).await?;
        let name = update.name.unwrap_or(current.name);
        let description = update.description.unwrap_or(current.description);
        let enabled = update.enabled.unwrap_or(current.enabled);
        self.store
            .gateway()
            .update_api_key(id, &name, description.as_deref(), enabled, self.now_ms())
            .await?;
        self.reload().await?;
        self.get_key(id).await
    }

    /// `gatehouse apikey disable|enable`.
    pub async fn set_key_enabled(&self, id: &str, enabled: bool) -> Result<ApiKeyInfo, UsageError> {
        self.update_key(
            id,
            ApiKeyUpdate {
                enabled: Some(enabled),
                ..ApiKeyUpdate::default()
            },
        )
        .await
    }

    pub async fn delete_key(&self, id: &str) -> Result<(), UsageError> {
        if !self.store.gateway().delete_api_key(id).await? {
            return Err(UsageError::NotFound(format!("api key `{id}`")));
        }
        self.reload().await
    }

    // --- plans ---

    pub async fn create_plan(
        &self,
        name: &str,
        document: PlanDocument,
    ) -> Result<UsagePlanInfo, UsageError> {
        if name.trim().is_empty() {
            return Err(UsageError::Invalid("a usage plan needs a name".into()));
        }
        document.to_plan(name)?;
        let now = self.now_ms();
        let text =
            serde_json::to_string(&document).map_err(|e| UsageError::Invalid(e.to_string()))?;
        let record = UsagePlanRecord {
            id: keys::generate_id(6)?,
            name: name.to_owned(),
            document: text,
            created_at: now,
            updated_at: now,
        };
        self.store.gateway().insert_usage_plan(&record).await?;
        self.reload().await?;
        Ok(UsagePlanInfo {
            id: record.id,
            name: record.name,
            document,
            stored: true,
        })
    }

    /// Stored plans, then the live definition's plans.
    pub async fn list_plans(&self) -> Result<Vec<UsagePlanInfo>, UsageError> {
        let mut out = Vec::new();
        for record in self.store.gateway().list_usage_plans().await? {
            let document = serde_json::from_str(&record.document).unwrap_or_default();
            out.push(UsagePlanInfo {
                id: record.id,
                name: record.name,
                document,
                stored: true,
            });
        }
        let definition = self.definition.lock().unwrap_or_else(|e| e.into_inner());
        for plan in &definition.0 {
            out.push(UsagePlanInfo {
                id: plan.name.clone(),
                name: plan.name.clone(),
                document: PlanDocument::from_plan(plan),
                stored: false,
            });
        }
        Ok(out)
    }

    pub async fn get_plan(&self, id: &str) -> Result<UsagePlanInfo, UsageError> {
        self.list_plans()
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| UsageError::NotFound(format!("usage plan `{id}`")))
    }

    pub async fn update_plan(
        &self,
        id: &str,
        name: &str,
        document: PlanDocument,
    ) -> Result<UsagePlanInfo, UsageError> {
        let current = self.get_plan(id).await?;
        if !current.stored {
            return Err(UsageError::ReadOnlyPlan(id.to_owned()));
        }
        document.to_plan(name)?;
        let text =
            serde_json::to_string(&document).map_err(|e| UsageError::Invalid(e.to_string()))?;
        self.store
            .gateway()
            .update_usage_plan(id, name, &text, self.now_ms())
            .await?;
        self.reload().await?;
        self.get_plan(id).await
    }

    pub async fn delete_plan(&self, id: &str) -> Result<(), UsageError> {
        let current = self.get_plan(id).await?;
        if !current.stored {
            return Err(UsageError::ReadOnlyPlan(id.to_owned()));
        }
        self.store.gateway().delete_usage_plan(id).await?;
        self.reload().await
    }

    /// Adds a key to a plan (stored or from the definition).
    pub async fn add_plan_key(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> Result<ApiKeyInfo, UsageError> {
        self.get_plan(plan_id).await?;
        self.store
            .gateway()
            .add_plan_key(plan_id, key_id, self.now_ms())
            .await?;
        self.reload().await?;
        self.get_key(key_id).await
    }

    pub async fn remove_plan_key(&self, plan_id: &str, key_id: &str) -> Result<(), UsageError> {
        if !self
            .store
            .gateway()
            .remove_plan_key(plan_id, key_id)
            .await?
        {
            return Err(UsageError::NotFound(format!(
                "key `{key_id}` in usage plan `{plan_id}`"
            )));
        }
        self.reload().await
    }

    /// The keys of a plan.
    pub async fn plan_keys(&self, plan_id: &str) -> Result<Vec<ApiKeyInfo>, UsageError> {
        self.get_plan(plan_id).await?;
        Ok(self
            .list_keys()
            .await?
            .into_iter()
            .filter(|k| k.usage_plan_ids.iter().any(|p| p == plan_id))
            .collect())
    }

    /// GetUsage: per key of the plan (or one key), per day in `[start, end]` (`YYYY-MM-DD`),
    /// requests used and the quota remaining after that day (`limit - used in the period up to
    /// that day`; the limit itself when the plan has no quota... API Gateway reports 0 then).
    pub async fn usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        start: &str,
        end: &str,
    ) -> Result<UsageReport, UsageError> {
        let plan = self.get_plan(plan_id).await?;
        let model = plan.document.to_plan(&plan.name)?;
        let parse = |d: &str| {
            crate::definition::plans::parse_day(d)
                .ok_or_else(|| UsageError::Invalid(format!("date `{d}` is not YYYY-MM-DD")))
        };
        let (from, to) = (parse(start)?, parse(end)?);
        if to < from || (to - from) / 86_400_000 > 366 {
            return Err(UsageError::Invalid(
                "the date range must be 1 to 367 days".into(),
            ));
        }
        // The counters written so far; this node's unwritten requests are written first.
        self.flush().await;
        let mut keys: Vec<String> = match key_id {
            Some(k) => vec![k.to_owned()],
            None => self
                .plan_keys(plan_id)
                .await?
                .into_iter()
                .map(|k| k.id)
                .collect(),
        };
        keys.sort();
        let rows = self
            .store
            .gateway()
            .daily_usage(plan_id, key_id, from, to)
            .await?;
        let mut items = std::collections::BTreeMap::new();
        for key in keys {
            let mut days = Vec::new();
            let mut day = from;
            while day <= to {
                let used = rows
                    .iter()
                    .find(|r| r.key_id == key && r.day == day)
                    .map_or(0, |r| u64::try_from(r.used).unwrap_or(0));
                let remaining = match &model.quota {
                    Some(q) => {
                        let (period_start, _) = period_bounds(q, day);
                        let in_period: u64 = rows
                            .iter()
                            .filter(|r| r.key_id == key && r.day >= period_start && r.day <= day)
                            .map(|r| u64::try_from(r.used).unwrap_or(0))
                            .sum();
                        let before: u64 = if period_start < from {
                            let earlier = self
                                .store
                                .gateway()
                                .daily_usage(plan_id, Some(&key), period_start, from - 1)
                                .await?;
                            earlier
                                .iter()
                                .map(|r| u64::try_from(r.used).unwrap_or(0))
                                .sum()
                        } else {
                            0
                        };
                        q.limit.saturating_sub(in_period + before)
                    }
                    None => 0,
                };
                days.push((used, remaining));
                day += 86_400_000;
            }
            items.insert(key, days);
        }
        Ok(UsageReport {
            plan_id: plan_id.to_owned(),
            start_day: format_day(from),
            end_day: format_day(to),
            items,
        })
    }

    /// The current key table (tests and diagnostics).
    pub fn key_count(&self) -> usize {
        self.table.load().by_hash.len()
    }

    /// `UsageConfig` in effect.
    pub fn config(&self) -> &UsageConfig {
        &self.config
    }

    /// Today's start in epoch ms (UTC) by the service clock.
    pub fn today(&self) -> String {
        format_day(day_start(self.now_ms()))
    }
}

pub(crate) fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn from_epoch_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn retry_after(seconds: u64) -> (HeaderName, HeaderValue) {
    (http::header::RETRY_AFTER, HeaderValue::from(seconds.max(1)))
}

fn reject(kind: GatewayResponseType) -> StageFuture<'static> {
    StageFuture::ready(Decision::Reject(Rejection::new(kind)))
}

// === impl ApiKeyStage ===

impl Stage for ApiKeyStage {
    fn name(&self) -> &'static str {
        "api_key"
    }

    fn phase(&self) -> Phase {
        Phase::ApiKey
    }

    fn prepare(&self, gateway: &Gateway) -> Result<Prepared, String> {
        self.0.set_definition(gateway);
        Ok(Arc::new(()))
    }

    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        _prepared: &'a Prepared,
    ) -> StageFuture<'a> {
        if !cx.hit.definition.settings.api_key_required {
            return StageFuture::ready(Decision::Continue);
        }
        let value: Option<String> = match cx.hit.api.api_key_source {
            ApiKeySource::Header => cx
                .head
                .headers
                .get(API_KEY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ApiKeySource::Authorizer => cx
                .authorizer
                .as_ref()
                .and_then(|a| a.usage_identifier_key.clone()),
        };
        let Some(value) = value.filter(|v| v.len() <= keys::MAX_KEY_LEN) else {
            return reject(GatewayResponseType::InvalidApiKey);
        };
        let table = self.0.table.load();
        let Some(entry) = table.by_hash.get(&keys::hash_value(&value)) else {
            return reject(GatewayResponseType::InvalidApiKey);
        };
        if !entry.enabled {
            return reject(GatewayResponseType::InvalidApiKey);
        }
        let api_id = cx.hit.api.id.as_str();
        let stage_name = cx.hit.stage.stage.name.as_str();
        let found = entry.plans.iter().enumerate().find_map(|(i, p)| {
            p.plan
                .plan
                .stages
                .iter()
                .position(|s| s.api_id == api_id && s.stage == stage_name)
                .map(|s| (i, s))
        });
        // API Gateway: a key that is in no usage plan of this stage is refused.
        let Some((plan, stage)) = found else {
            return reject(GatewayResponseType::InvalidApiKey);
        };
        cx.identity.api_key = Some(value);
        cx.identity.api_key_id = Some(entry.id.clone());
        cx.extensions.insert(KeyContext {
            entry: Arc::clone(entry),
            plan,
            stage,
        });
        StageFuture::ready(Decision::Continue)
    }
}

// === impl ThrottleStage ===

/// Per stage index, per route: the route's stage/method limiter.
#[derive(Debug)]
struct RouteLimiters(Vec<Vec<Option<Gcra>>>);

impl Stage for ThrottleStage {
    fn name(&self) -> &'static str {
        "throttle"
    }

    fn phase(&self) -> Phase {
        Phase::Throttle
    }

    fn prepare(&self, gateway: &Gateway) -> Result<Prepared, String> {
        let mut per_stage: Vec<Vec<Option<Gcra>>> = Vec::new();
        per_stage.resize_with(gateway.stage_count(), Vec::new);
        for compiled in gateway.stages() {
            let routes = compiled
                .routes
                .routes()
                .map(|(id, _, _)| {
                    compiled
                        .route_settings(id)
                        .and_then(|s| s.throttle)
                        .map(Gcra::new)
                })
                .collect();
            if let Some(slot) = per_stage.get_mut(compiled.index()) {
                *slot = routes;
            }
        }
        Ok(Arc::new(RouteLimiters(per_stage)))
    }

    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        prepared: &'a Prepared,
    ) -> StageFuture<'a> {
        let mut checks: [Option<&Gcra>; 4] = [None; 4];
        let key = cx.extensions.get::<KeyContext>();
        if let Some(kc) = key
            && let Some(kp) = kc.entry.plans.get(kc.plan)
        {
            let method = HttpMethod::from_request(cx.head.method.as_str()).unwrap_or(cx.hit.method);
            let path = cx.hit.resource.path.as_str();
            checks[0] = kp
                .method_limiters
                .get(kc.stage)
                .and_then(|list| {
                    list.iter()
                        .filter(|(k, _)| k.applies_to(path, method))
                        .max_by_key(|(k, _)| k.specificity())
                })
                .map(|(_, g)| &**g);
            checks[1] = kp.limiter.as_deref();
        }
        checks[2] = prepared
            .downcast_ref::<RouteLimiters>()
            .and_then(|r| r.0.get(cx.hit.stage.index()))
            .and_then(|routes| routes.get(cx.hit.route.0 as usize))
            .and_then(Option::as_ref);
        checks[3] = Some(&self.0.account);
        for gcra in checks.into_iter().flatten() {
            if let Err(wait) = gcra.check() {
                let (name, value) = retry_after(wait);
                return StageFuture::ready(Decision::Reject(
                    Rejection::new(GatewayResponseType::Throttled).with_header(name, value),
                ));
            }
        }
        StageFuture::ready(Decision::Continue)
    }
}

// === impl QuotaStage ===

impl Stage for QuotaStage {
    fn name(&self) -> &'static str {
        "quota"
    }

    fn phase(&self) -> Phase {
        Phase::Quota
    }

    fn on_request<'a>(
        &'a self,
        cx: &'a mut RequestContext<'_>,
        _prepared: &'a Prepared,
    ) -> StageFuture<'a> {
        let Some(kc) = cx.extensions.get::<KeyContext>().cloned() else {
            return StageFuture::ready(Decision::Continue);
        };
        let Some(kp) = kc.entry.plans.get(kc.plan) else {
            return StageFuture::ready(Decision::Continue);
        };
        let (Some(slot), Some(quota)) = (kp.quota.clone(), kp.plan.plan.quota) else {
            return StageFuture::ready(Decision::Continue);
        };
        let usage = &self.0;
        let now_ms = epoch_ms(cx.now);
        match usage.quota.check(&slot, &quota, now_ms) {
            QuotaCheck::Admitted => StageFuture::ready(Decision::Continue),
            QuotaCheck::Exceeded { retry_after: s } => StageFuture::ready(exceeded(s)),
            QuotaCheck::Flush => StageFuture::boxed(async move {
                for _ in 0..3 {
                    let notified = usage.quota.flushed.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    usage.quota.wake.notify_one();
                    let _ = tokio::time::timeout(FLUSH_WAIT, notified).await;
                    match usage.quota.check(&slot, &quota, now_ms) {
                        QuotaCheck::Admitted => return Decision::Continue,
                        QuotaCheck::Exceeded { retry_after: s } => return exceeded(s),
                        QuotaCheck::Flush => {}
                    }
                }
                exceeded(1)
            }),
        }
    }
}

fn exceeded(seconds: u64) -> Decision {
    let (name, value) = retry_after(seconds);
    Decision::Reject(Rejection::new(GatewayResponseType::QuotaExceeded).with_header(name, value))
}
