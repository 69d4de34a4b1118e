//! API keys and usage plans at run time: the [`Usage`] service with the in-memory key table the
//! data plane reads, kept in step with storage and with the live definition.
//!
//! - [`manage`]: the operations the CLI and the operator API call ([`Usage::create_key`],
//!   [`Usage::create_plan`], GetUsage, …);
//! - [`steps`]: the three pipeline steps built on the table: API keys, throttling, quotas;
//! - [`keys`] (key values: generation, hashing), [`throttle`] (one GCRA limiter) and
//!   [`quota`] (counters batched to storage).
//!
//! No database access per request: keys (by SHA-256 of the value) and plans live in an
//! [`ArcSwap`]ped [`KeyTable`], which also remembers the values requests presented for its
//! keys, so a key in use is found without a digest. The table is rebuilt after every change made through this
//! service, whenever a new gateway definition goes live (its file-defined plans and key
//! bindings), and when another node changed something: [`Usage::run`] polls storage's
//! generation counter every second (one single-row read) and reloads when it moved.
//!
//! Throttling order for a keyed request, as API Gateway applies it: the plan's per-method
//! throttle for the key, the plan's throttle for the key, the stage/method throttle of the
//! route, then the account-wide limit when one is set ([`UsageConfig::account_throttle`]: off
//! by default; API Gateway's own is 10 000 rps, burst 5 000). Unkeyed requests pass the last
//! two. Limiters are per node.

pub mod keys;
pub mod manage;
pub mod quota;
pub mod steps;
pub mod throttle;

use steps::{ApiKeyStep, QuotaStep, ThrottleStep};

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use gatehouse_identity::crypto::constant_time_eq;
use gatehouse_policy::calendar;
use gatehouse_storage::{ApiKeyRecord, StorageError, Store, UsagePlanRecord};

use crate::definition::compiled::Gateway;
use crate::definition::model::Throttle;
use crate::definition::plans::{PlanDocument, PlanError, day_start};
use crate::definition::stage::{ApiKeyRef, MethodSettingsKey, UsagePlan};
use crate::server::Clock;
use crate::server::steps::Step;
use keys::{KeyHash, KeyValueError};
use quota::{QuotaCounters, QuotaSlot};
use throttle::Gcra;

/// Settings of the key, throttle and quota stages.
#[derive(Debug, Clone)]
pub struct UsageConfig {
    /// The account-wide limit over every request of the node; `None` (the default): none, as
    /// a self-hosted gateway has no account to share. [`AWS_ACCOUNT_THROTTLE`] mirrors API
    /// Gateway's.
    pub account_throttle: Option<Throttle>,
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
    /// The account-wide limiter, when one is set.
    account: Option<Gcra>,
    quota: QuotaCounters,
}

#[derive(Debug, Default)]
struct Stored {
    keys: Vec<ApiKeyRecord>,
    plans: Vec<UsagePlanRecord>,
    bindings: Vec<(String, String)>,
}

/// What the data plane reads: keys by hash, and the values requests presented for them.
#[derive(Debug)]
pub struct KeyTable {
    by_hash: HashMap<KeyHash, Arc<KeyEntry>>,
    /// Values whose SHA-256 found an entry of this table, by the value itself, so a key in
    /// use costs a hash-table lookup rather than a digest per request. Part of the table: a
    /// rebuild (a key disabled, deleted or rebound here or on another node) starts empty, so
    /// no value outlives the entry it found. Unknown values are never added; at most one
    /// value per entry, so it holds no more than the table's keys.
    by_value: KeyValueCache,
}

type KeyValueCache = quick_cache::sync::Cache<KeyValue, Arc<KeyEntry>>;

/// A key value presented by a request, compared in constant time (see [`KeyTable::by_value`]).
/// A secret: its debug form names its length only.
struct KeyValue(Box<[u8]>);

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyValue(<{} bytes>)", self.0.len())
    }
}

/// A request's key value, looked up without a copy.
struct KeyValueRef<'a>(&'a [u8]);

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

/// API Gateway's account-wide default (10 000 rps, burst 5 000), for those who want a
/// gatehouse to throttle as their AWS account does.
pub const AWS_ACCOUNT_THROTTLE: Throttle = Throttle {
    rate_per_second: 10_000.0,
    burst: 5_000,
};

// === impl KeyTable ===

impl KeyTable {
    fn new(by_hash: HashMap<KeyHash, Arc<KeyEntry>>) -> Self {
        Self {
            by_value: KeyValueCache::new(by_hash.len().max(1)),
            by_hash,
        }
    }

    /// The entry of a key value: from the values seen before, or by its SHA-256 (and then
    /// remembered).
    fn lookup(&self, value: &[u8]) -> Option<Arc<KeyEntry>> {
        if let Some(entry) = self.by_value.get(&KeyValueRef(value)) {
            return Some(entry);
        }
        let entry = Arc::clone(self.by_hash.get(&keys::hash_bytes(value))?);
        self.by_value
            .insert(KeyValue(value.into()), Arc::clone(&entry));
        Some(entry)
    }
}

impl Default for KeyTable {
    fn default() -> Self {
        Self::new(HashMap::new())
    }
}

impl Hash for KeyValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

impl Hash for KeyValueRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0);
    }
}

impl PartialEq for KeyValue {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for KeyValue {}

impl quick_cache::Equivalent<KeyValue> for KeyValueRef<'_> {
    fn equivalent(&self, key: &KeyValue) -> bool {
        constant_time_eq(self.0, &key.0)
    }
}

// === impl UsageConfig ===

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            account_throttle: None,
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
            account: config.account_throttle.map(Gcra::new),
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
    pub fn steps(self: &Arc<Self>) -> Vec<Arc<dyn Step>> {
        vec![
            Arc::new(ApiKeyStep(Arc::clone(self))),
            Arc::new(ThrottleStep(Arc::clone(self))),
            Arc::new(QuotaStep(Arc::clone(self))),
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
        let mut by_hash = HashMap::new();
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
            by_hash.insert(
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
        self.table.store(Arc::new(KeyTable::new(by_hash)));
    }

    fn now_ms(&self) -> i64 {
        calendar::unix_millis(self.clock.now())
    }

    /// The current key table (tests and diagnostics).
    pub fn key_count(&self) -> usize {
        self.table.load().by_hash.len()
    }

    /// The most quota requests one (plan, key) has held unwritten at once on this node: the
    /// `u` of the multi-node bound `limit + (N − 1) × u` (see `quota`).
    pub fn most_unwritten(&self) -> u64 {
        self.quota.most_unwritten()
    }

    /// `UsageConfig` in effect.
    pub fn config(&self) -> &UsageConfig {
        &self.config
    }

    /// Today's start in epoch ms (UTC) by the service clock.
    pub fn today(&self) -> String {
        calendar::format_day(day_start(self.now_ms()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_values_debug_form_hides_the_value() {
        let value = KeyValue(
            b"secret-api-key-value-0123456789"
                .to_vec()
                .into_boxed_slice(),
        );
        let shown = format!("{value:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("115, 101"), "{shown}"); // nor as a list of bytes
        assert!(shown.contains("31 bytes"), "{shown}");
    }

    fn table(values: &[(&str, bool)]) -> KeyTable {
        let by_hash = values
            .iter()
            .enumerate()
            .map(|(i, (value, enabled))| {
                let entry = KeyEntry {
                    id: format!("key-{i}"),
                    name: format!("name-{i}"),
                    enabled: *enabled,
                    plans: Vec::new(),
                };
                (keys::hash_value(value), Arc::new(entry))
            })
            .collect();
        KeyTable::new(by_hash)
    }

    #[test]
    fn only_values_whose_digest_found_a_key_are_remembered() {
        let known = "k".repeat(40);
        let t = table(&[(&known, true), (&"d".repeat(40), false)]);
        // (rule, value, found)
        for (rule, value, found) in [
            ("an unknown value", "u".repeat(40), None),
            (
                "one character off at the end",
                format!("{}j", "k".repeat(39)),
                None,
            ),
            (
                "one character off at the start",
                format!("j{}", "k".repeat(39)),
                None,
            ),
            ("a prefix of a key", "k".repeat(39), None),
            ("a key extended", "k".repeat(41), None),
            ("a key", known.clone(), Some("key-0")),
            (
                "a disabled key (refused by the step)",
                "d".repeat(40),
                Some("key-1"),
            ),
        ] {
            for _ in 0..2 {
                let got = t.lookup(value.as_bytes());
                assert_eq!(got.as_ref().map(|e| e.id.as_str()), found, "{rule}");
            }
        }
        // The two keys looked up are remembered; none of the unknown values is.
        assert_eq!(t.by_value.len(), 2);
        assert!(t.by_value.get(&KeyValueRef(known.as_bytes())).is_some());
        assert!(t.by_value.get(&KeyValueRef(&[b'u'; 40])).is_none());
    }
}
