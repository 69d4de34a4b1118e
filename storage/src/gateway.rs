//! The gateway's run-time records: API keys (hashed by the caller), usage plans created at run
//! time (a JSON document storage does not interpret), plan–key bindings, quota counters and
//! daily usage, run-time deployments, stage pointers and run-time stages, and the generation
//! counter that every change to those bumps in the same transaction, so nodes poll one row to
//! learn that they must reload.

use crate::db::{Conn, Db, DbRow, args};
use crate::{EpochMillis, StorageError};

/// A stored API key. The plaintext never reaches storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// SHA-256 of the key value.
    pub key_hash: Vec<u8>,
    /// The first characters of the value, shown in listings.
    pub prefix: String,
    pub enabled: bool,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// A usage plan created through the operator API; `document` is the caller's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsagePlanRecord {
    pub id: String,
    pub name: String,
    pub document: String,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// Requests to add to a key's counters: the quota period's and the day's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageDelta {
    pub plan_id: String,
    pub key_id: String,
    /// First instant of the quota period (epoch milliseconds, UTC).
    pub period_start: EpochMillis,
    /// UTC midnight of the day the requests were counted in.
    pub day: EpochMillis,
    pub count: i64,
}

/// One day of one key's usage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyUsage {
    pub key_id: String,
    pub day: EpochMillis,
    pub used: i64,
}

/// A deployment created at run time; `source` is the gateway's JSON, not interpreted here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentRecord {
    pub api_id: String,
    pub id: String,
    pub description: Option<String>,
    pub source: String,
    pub created_at: EpochMillis,
}

/// Which stored deployment a stage serves (set by a rollback or a deployment to the stage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageDeploymentRecord {
    pub api_id: String,
    pub stage: String,
    pub deployment_id: String,
    pub updated_at: EpochMillis,
}

/// A stage created at run time; `document` is the gateway's JSON of its settings, not
/// interpreted here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageRecord {
    pub api_id: String,
    pub name: String,
    pub deployment_id: String,
    pub document: String,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// Which stage a new deployment goes to, in the transaction that stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployTo<'a> {
    /// No stage: the deployment is only stored.
    Nowhere,
    /// A stage of the definition file: its pointer is set (inserted or replaced).
    FileStage { stage: &'a str },
    /// A run-time stage: created, or moved to the deployment, with `document` as its settings
    /// (its creation time stays).
    RuntimeStage { stage: &'a str, document: &'a str },
}

/// What [`GatewayRecords::delete_deployment`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeploymentDeletion {
    Deleted,
    NotFound,
    /// Nothing was deleted: these stages (run-time stages or stage pointers) still name it.
    InUse {
        stages: Vec<String>,
    },
}

/// Repository of the gateway's records.
#[derive(Debug)]
pub struct GatewayRecords<'s> {
    db: &'s Db,
}

const KEY_COLUMNS: &str =
    "id, name, description, key_hash, prefix, enabled, created_at, updated_at";
const PLAN_COLUMNS: &str = "id, name, document, created_at, updated_at";

// === impl GatewayRecords ===

impl<'s> GatewayRecords<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// The generation counter: it changes whenever keys, plans or bindings change.
    pub async fn generation(&self) -> Result<i64, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT generation FROM gateway_generation WHERE id = 1",
                &[],
                |row| row.int("generation"),
            )
            .await
            .map(|g| g.unwrap_or(0))
    }

    /// Adds a key; [`StorageError::Conflict`] if the id or the value (its hash) is taken.
    pub async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            format!("INSERT INTO gateway_api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            args![
                &key.id,
                &key.name,
                &key.description,
                &key.key_hash,
                &key.prefix,
                key.enabled,
                key.created_at,
                key.updated_at,
            ],
        )
        .await
        .map_err(|e| e.on_conflict("api key"))?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Every key, oldest first (the gateway keeps them all in memory).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!("SELECT {KEY_COLUMNS} FROM gateway_api_keys ORDER BY created_at, id"),
                &[],
                decode_key,
            )
            .await
    }

    pub async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {KEY_COLUMNS} FROM gateway_api_keys WHERE id = $1"),
                args![id],
                decode_key,
            )
            .await
    }

    /// Replaces name, description and enabled flag; [`StorageError::NotFound`] if missing.
    pub async fn update_api_key(
        &self,
        id: &str,
        name: &str,
        description: Option<&str>,
        enabled: bool,
        now: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "UPDATE gateway_api_keys SET name = $2, description = $3, enabled = $4,
                 updated_at = $5 WHERE id = $1",
                args![id, name, description, enabled, now],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("api key `{id}`")));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Deletes a key and its plan bindings; returns whether it existed.
    pub async fn delete_api_key(&self, id: &str) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "DELETE FROM gateway_usage_plan_keys WHERE key_id = $1",
            args![id],
        )
        .await?;
        let deleted = conn
            .execute("DELETE FROM gateway_api_keys WHERE id = $1", args![id])
            .await?;
        bump(&mut conn).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    pub async fn insert_usage_plan(&self, plan: &UsagePlanRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            format!("INSERT INTO gateway_usage_plans ({PLAN_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
            args![
                &plan.id,
                &plan.name,
                &plan.document,
                plan.created_at,
                plan.updated_at
            ],
        )
        .await
        .map_err(|e| e.on_conflict(format!("usage plan `{}`", plan.id)))?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    pub async fn list_usage_plans(&self) -> Result<Vec<UsagePlanRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!("SELECT {PLAN_COLUMNS} FROM gateway_usage_plans ORDER BY created_at, id"),
                &[],
                decode_plan,
            )
            .await
    }

    pub async fn get_usage_plan(&self, id: &str) -> Result<Option<UsagePlanRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {PLAN_COLUMNS} FROM gateway_usage_plans WHERE id = $1"),
                args![id],
                decode_plan,
            )
            .await
    }

    /// Replaces a plan's name and document; [`StorageError::NotFound`] if missing.
    pub async fn update_usage_plan(
        &self,
        id: &str,
        name: &str,
        document: &str,
        now: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let changed = conn
            .execute(
                "UPDATE gateway_usage_plans SET name = $2, document = $3, updated_at = $4
                 WHERE id = $1",
                args![id, name, document, now],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("usage plan `{id}`")));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Deletes a plan and its key bindings; returns whether it existed.
    pub async fn delete_usage_plan(&self, id: &str) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "DELETE FROM gateway_usage_plan_keys WHERE plan_id = $1",
            args![id],
        )
        .await?;
        let deleted = conn
            .execute("DELETE FROM gateway_usage_plans WHERE id = $1", args![id])
            .await?;
        bump(&mut conn).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Binds a key to a plan (stored or defined in a file); [`StorageError::NotFound`] if the
    /// key is missing, [`StorageError::Conflict`] if already bound.
    pub async fn add_plan_key(
        &self,
        plan_id: &str,
        key_id: &str,
        now: EpochMillis,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            "INSERT INTO gateway_usage_plan_keys (plan_id, key_id, created_at) VALUES ($1, $2, $3)",
            args![plan_id, key_id, now],
        )
        .await
        .map_err(|e| {
            e.on_conflict(format!("key `{key_id}` in usage plan `{plan_id}`"))
                .on_missing(format!("api key `{key_id}`"))
        })?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Unbinds a key from a plan; returns whether it was bound.
    pub async fn remove_plan_key(&self, plan_id: &str, key_id: &str) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let deleted = conn
            .execute(
                "DELETE FROM gateway_usage_plan_keys WHERE plan_id = $1 AND key_id = $2",
                args![plan_id, key_id],
            )
            .await?;
        bump(&mut conn).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Every `(plan_id, key_id)` binding.
    pub async fn list_plan_keys(&self) -> Result<Vec<(String, String)>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT plan_id, key_id FROM gateway_usage_plan_keys ORDER BY plan_id, key_id",
                &[],
                |row| Ok((row.text("plan_id")?, row.text("key_id")?)),
            )
            .await
    }

    /// Adds a batch of counts in one transaction (`used = used + n`, so concurrent nodes never
    /// lose each other's counts) and returns each period counter's new total, in order.
    pub async fn add_usage(&self, batch: &[UsageDelta]) -> Result<Vec<i64>, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let mut totals = Vec::with_capacity(batch.len());
        for delta in batch {
            let total = conn
                .fetch_optional(
                    "INSERT INTO gateway_quota_usage (plan_id, key_id, period_start, used)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (plan_id, key_id, period_start)
                     DO UPDATE SET used = gateway_quota_usage.used + excluded.used
                     RETURNING used",
                    args![
                        &delta.plan_id,
                        &delta.key_id,
                        delta.period_start,
                        delta.count
                    ],
                    |row| row.int("used"),
                )
                .await?
                .unwrap_or(delta.count);
            conn.execute(
                "INSERT INTO gateway_daily_usage (plan_id, key_id, day, used)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (plan_id, key_id, day)
                 DO UPDATE SET used = gateway_daily_usage.used + excluded.used",
                args![&delta.plan_id, &delta.key_id, delta.day, delta.count],
            )
            .await?;
            totals.push(total);
        }
        tx.commit().await?;
        Ok(totals)
    }

    /// A period counter's total (0 when nothing was counted yet).
    pub async fn quota_used(
        &self,
        plan_id: &str,
        key_id: &str,
        period_start: EpochMillis,
    ) -> Result<i64, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT used FROM gateway_quota_usage
                 WHERE plan_id = $1 AND key_id = $2 AND period_start = $3",
                args![plan_id, key_id, period_start],
                |row| row.int("used"),
            )
            .await
            .map(|u| u.unwrap_or(0))
    }

    /// Daily usage of a plan's keys (or one key) for days in `from..=to`, by key then day.
    pub async fn daily_usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        from: EpochMillis,
        to: EpochMillis,
    ) -> Result<Vec<DailyUsage>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT key_id, day, used FROM gateway_daily_usage
                 WHERE plan_id = $1 AND ($2 IS NULL OR key_id = $2) AND day >= $3 AND day <= $4
                 ORDER BY key_id, day",
                args![plan_id, key_id, from, to],
                |row| {
                    Ok(DailyUsage {
                        key_id: row.text("key_id")?,
                        day: row.int("day")?,
                        used: row.int("used")?,
                    })
                },
            )
            .await
    }
}

// === deployments ===

const DEPLOYMENT_COLUMNS: &str = "api_id, id, description, source, created_at";

impl GatewayRecords<'_> {
    /// Adds a deployment; [`StorageError::Conflict`] if the API already has one with this id.
    pub async fn insert_deployment(&self, d: &DeploymentRecord) -> Result<(), StorageError> {
        self.deploy(d, DeployTo::Nowhere).await
    }

    /// Adds a deployment and points `to` at it, in one transaction (CreateDeployment with a
    /// stage name); [`StorageError::Conflict`] if the API already has a deployment with
    /// this id.
    pub async fn deploy(&self, d: &DeploymentRecord, to: DeployTo<'_>) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        conn.execute(
            format!(
                "INSERT INTO gateway_deployments ({DEPLOYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
            ),
            args![&d.api_id, &d.id, &d.description, &d.source, d.created_at],
        )
        .await
        .map_err(|e| e.on_conflict(format!("deployment `{}`", d.id)))?;
        match to {
            DeployTo::Nowhere => {}
            DeployTo::FileStage { stage } => {
                upsert_pointer(&mut conn, &d.api_id, stage, &d.id, d.created_at).await?;
            }
            DeployTo::RuntimeStage { stage, document } => {
                conn.execute(
                    format!(
                        "INSERT INTO gateway_stages ({STAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $5)
                         ON CONFLICT (api_id, name) DO UPDATE SET
                             deployment_id = excluded.deployment_id,
                             document = excluded.document,
                             updated_at = excluded.updated_at"
                    ),
                    args![&d.api_id, stage, &d.id, document, d.created_at],
                )
                .await?;
            }
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Deletes a deployment unless a run-time stage or a stage pointer still names it.
    /// Pointers of `stale_stages` (stages the definition no longer has) to it are deleted
    /// with it, in the same transaction.
    pub async fn delete_deployment(
        &self,
        api_id: &str,
        id: &str,
        stale_stages: &[String],
    ) -> Result<DeploymentDeletion, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        for stage in stale_stages {
            conn.execute(
                "DELETE FROM gateway_stage_deployments
                 WHERE api_id = $1 AND stage = $2 AND deployment_id = $3",
                args![api_id, stage, id],
            )
            .await?;
        }
        let stages = conn
            .fetch_all(
                "SELECT name FROM gateway_stages WHERE api_id = $1 AND deployment_id = $2
                 UNION
                 SELECT stage AS name FROM gateway_stage_deployments
                 WHERE api_id = $1 AND deployment_id = $2
                 ORDER BY name",
                args![api_id, id],
                |row| row.text("name"),
            )
            .await?;
        if !stages.is_empty() {
            // Dropped uncommitted: the stale pointers stay too.
            return Ok(DeploymentDeletion::InUse { stages });
        }
        let deleted = conn
            .execute(
                "DELETE FROM gateway_deployments WHERE api_id = $1 AND id = $2",
                args![api_id, id],
            )
            .await?;
        if deleted == 0 {
            return Ok(DeploymentDeletion::NotFound);
        }
        bump(&mut conn).await?;
        tx.commit().await?;
        Ok(DeploymentDeletion::Deleted)
    }

    /// Deployments of every API, oldest first.
    pub async fn list_deployments(&self) -> Result<Vec<DeploymentRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM gateway_deployments ORDER BY created_at, api_id, id"
                ),
                &[],
                |row| {
                    Ok(DeploymentRecord {
                        api_id: row.text("api_id")?,
                        id: row.text("id")?,
                        description: row.opt_text("description")?,
                        source: row.text("source")?,
                        created_at: row.int("created_at")?,
                    })
                },
            )
            .await
    }

    /// Points a stage at a stored deployment of its API (insert or replace);
    /// [`StorageError::NotFound`] if that deployment is not stored.
    pub async fn set_stage_deployment(
        &self,
        pointer: &StageDeploymentRecord,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        require_deployment(&mut conn, &pointer.api_id, &pointer.deployment_id).await?;
        upsert_pointer(
            &mut conn,
            &pointer.api_id,
            &pointer.stage,
            &pointer.deployment_id,
            pointer.updated_at,
        )
        .await?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Every stage pointer.
    pub async fn list_stage_deployments(&self) -> Result<Vec<StageDeploymentRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                "SELECT api_id, stage, deployment_id, updated_at FROM gateway_stage_deployments
                 ORDER BY api_id, stage",
                &[],
                |row| {
                    Ok(StageDeploymentRecord {
                        api_id: row.text("api_id")?,
                        stage: row.text("stage")?,
                        deployment_id: row.text("deployment_id")?,
                        updated_at: row.int("updated_at")?,
                    })
                },
            )
            .await
    }
}

// === run-time stages ===

const STAGE_COLUMNS: &str = "api_id, name, deployment_id, document, created_at, updated_at";

impl GatewayRecords<'_> {
    /// Adds a run-time stage; [`StorageError::Conflict`] if the API has one of that name,
    /// [`StorageError::NotFound`] if its deployment is not stored.
    pub async fn insert_stage(&self, stage: &StageRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        require_deployment(&mut conn, &stage.api_id, &stage.deployment_id).await?;
        conn.execute(
            format!("INSERT INTO gateway_stages ({STAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            args![
                &stage.api_id,
                &stage.name,
                &stage.deployment_id,
                &stage.document,
                stage.created_at,
                stage.updated_at
            ],
        )
        .await
        .map_err(|e| e.on_conflict(format!("stage `{}`", stage.name)))?;
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Replaces a run-time stage's deployment, document and update time (its creation time
    /// stays); [`StorageError::NotFound`] if the stage or its deployment is missing.
    pub async fn update_stage(&self, stage: &StageRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        require_deployment(&mut conn, &stage.api_id, &stage.deployment_id).await?;
        let changed = conn
            .execute(
                "UPDATE gateway_stages SET deployment_id = $3, document = $4, updated_at = $5
                 WHERE api_id = $1 AND name = $2",
                args![
                    &stage.api_id,
                    &stage.name,
                    &stage.deployment_id,
                    &stage.document,
                    stage.updated_at
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StorageError::not_found(format!("stage `{}`", stage.name)));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// Deletes a run-time stage; returns whether it existed.
    pub async fn delete_stage(&self, api_id: &str, name: &str) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let deleted = conn
            .execute(
                "DELETE FROM gateway_stages WHERE api_id = $1 AND name = $2",
                args![api_id, name],
            )
            .await?;
        if deleted == 0 {
            return Ok(false);
        }
        bump(&mut conn).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every run-time stage, by API then name.
    pub async fn list_stages(&self) -> Result<Vec<StageRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_all(
                format!("SELECT {STAGE_COLUMNS} FROM gateway_stages ORDER BY api_id, name"),
                &[],
                |row| {
                    Ok(StageRecord {
                        api_id: row.text("api_id")?,
                        name: row.text("name")?,
                        deployment_id: row.text("deployment_id")?,
                        document: row.text("document")?,
                        created_at: row.int("created_at")?,
                        updated_at: row.int("updated_at")?,
                    })
                },
            )
            .await
    }
}

/// [`StorageError::NotFound`] unless API `api_id` has stored deployment `id`.
async fn require_deployment(
    conn: &mut Conn<'_>,
    api_id: &str,
    id: &str,
) -> Result<(), StorageError> {
    let exists = conn
        .fetch_optional(
            "SELECT id FROM gateway_deployments WHERE api_id = $1 AND id = $2",
            args![api_id, id],
            |row| row.text("id"),
        )
        .await?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StorageError::not_found(format!("deployment `{id}`"))),
    }
}

async fn upsert_pointer(
    conn: &mut Conn<'_>,
    api_id: &str,
    stage: &str,
    deployment_id: &str,
    at: EpochMillis,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO gateway_stage_deployments (api_id, stage, deployment_id, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (api_id, stage) DO UPDATE SET
             deployment_id = excluded.deployment_id, updated_at = excluded.updated_at",
        args![api_id, stage, deployment_id, at],
    )
    .await?;
    Ok(())
}

async fn bump(conn: &mut Conn<'_>) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE gateway_generation SET generation = generation + 1 WHERE id = 1",
        &[],
    )
    .await?;
    Ok(())
}

fn decode_key(row: &dyn DbRow) -> Result<ApiKeyRecord, StorageError> {
    Ok(ApiKeyRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        description: row.opt_text("description")?,
        key_hash: row.bytes("key_hash")?,
        prefix: row.text("prefix")?,
        enabled: row.boolean("enabled")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

fn decode_plan(row: &dyn DbRow) -> Result<UsagePlanRecord, StorageError> {
    Ok(UsagePlanRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        document: row.text("document")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
