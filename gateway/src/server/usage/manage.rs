//! The operations on keys and plans that the CLI (`gatehouse apikey …`) and the operator API
//! call: create, list, update and delete keys and stored plans, add keys to plans, and
//! GetUsage. Every change is written to storage first, then the key table is rebuilt.

use std::time::SystemTime;

use gatehouse_storage::{ApiKeyRecord, UsagePlanRecord};

use super::keys;
use gatehouse_policy::calendar::{MILLIS_PER_DAY, format_day, from_unix_millis};

use super::{Usage, UsageError};
use crate::definition::plans::{PlanDocument, period_bounds};

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

// === impl Usage ===

impl Usage {
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
            created_at: from_unix_millis(record.created_at),
            updated_at: from_unix_millis(record.updated_at),
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
        if to < from || (to - from) / MILLIS_PER_DAY > 366 {
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
                day += MILLIS_PER_DAY;
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
}
