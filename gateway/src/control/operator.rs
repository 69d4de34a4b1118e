//! The operator HTTP API: API Gateway's REST paths and JSON shapes for API keys, usage plans,
//! usage and cache flushes, so `boto3.client("apigateway", endpoint_url=…)` works for them.
//! Every request must be SigV4-signed with the operator credentials (service `apigateway`),
//! checked by the identity crate's operator middleware that every operator API shares.
//! With a [`Deployments`] service ([`router_with_deployments`]) it also manages deployments
//! and stages: `POST|GET /restapis/{api}/deployments`, `GET|DELETE
//! /restapis/{api}/deployments/{id}`, `POST|GET /restapis/{api}/stages` and `GET|PATCH|DELETE
//! /restapis/{api}/stages/{stage}` (UpdateStage's `/deploymentId` for every stage; variables,
//! description, cache and method settings for stages created at run time).
//! The binary mounts [`router`] on the identity listener; the Cognito API there uses only
//! `POST /`, so these paths do not collide.
//!
//! Lists answer API Gateway's wire member `item` and GetUsage's per-key days are under
//! `values` (the `locationName`s botocore's model reads into `items`).
//!
//! Errors use API Gateway's shape: status plus `{"message": …}` and `x-amzn-ErrorType`
//! (`NotFoundException`, `ConflictException`, `BadRequestException`, …).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use gatehouse_identity::http::operator::{OperatorAuth, RestGuard, require_operator};
use gatehouse_policy::calendar::unix_seconds;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::control::deployments::{
    DeploymentError, DeploymentInfo, Deployments, NewStage, StageInfo, StagePatch, StageSettings,
};
use crate::definition::plans::PlanDocument;
use crate::server::Clock;
use crate::server::cache::CacheStep;
use crate::server::usage::manage::{ApiKeyInfo, ApiKeyUpdate, NewApiKey, UsagePlanInfo};
use crate::server::usage::{Usage, UsageError};

/// What the operator API needs.
#[derive(Debug, Clone)]
pub struct OperatorState {
    pub usage: Arc<Usage>,
    pub cache: Option<Arc<CacheStep>>,
    /// The operator's signature check, shared with the other operator APIs of the identity
    /// listener (service `apigateway`, API Gateway's REST error shape).
    pub auth: Arc<OperatorAuth>,
    pub clock: Arc<dyn Clock>,
}

/// An operator API failure in API Gateway's words.
#[derive(Debug)]
pub struct OperatorError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

/// What the handlers share: the state and the optional deployments service.
#[derive(Debug)]
struct Shared {
    state: OperatorState,
    deployments: Option<Arc<Deployments>>,
}

impl std::ops::Deref for Shared {
    type Target = OperatorState;

    fn deref(&self) -> &OperatorState {
        &self.state
    }
}

/// The operator API's routes (SigV4 checked on each): keys, plans, usage, cache flushes.
pub fn router(state: OperatorState) -> Router {
    routes(Shared {
        state,
        deployments: None,
    })
}

/// [`router`] plus deployments and stages.
pub fn router_with_deployments(state: OperatorState, deployments: Arc<Deployments>) -> Router {
    routes(Shared {
        state,
        deployments: Some(deployments),
    })
}

fn routes(shared: Shared) -> Router {
    let guard = RestGuard {
        auth: Arc::clone(&shared.state.auth),
        service: SIGNING_SERVICE,
        max_body_bytes: MAX_BODY_BYTES,
    };
    let state = Arc::new(shared);
    Router::new()
        .route("/apikeys", post(create_key).get(list_keys))
        .route(
            "/apikeys/{id}",
            get(get_key).patch(update_key).delete(delete_key),
        )
        .route("/usageplans", post(create_plan).get(list_plans))
        .route(
            "/usageplans/{id}",
            get(get_plan).patch(update_plan).delete(delete_plan),
        )
        .route("/usageplans/{id}/keys", post(add_plan_key).get(plan_keys))
        .route("/usageplans/{id}/keys/{key}", delete(remove_plan_key))
        .route("/usageplans/{id}/usage", get(usage))
        .route(
            "/restapis/{api}/stages/{stage}/cache/data",
            delete(flush_cache),
        )
        .route(
            "/restapis/{api}/deployments",
            post(create_deployment).get(list_deployments),
        )
        .route(
            "/restapis/{api}/deployments/{id}",
            get(get_deployment).delete(delete_deployment),
        )
        .route(
            "/restapis/{api}/stages",
            post(create_stage).get(list_stages),
        )
        .route(
            "/restapis/{api}/stages/{stage}",
            get(get_stage).patch(update_stage).delete(delete_stage),
        )
        // Every operator route is signed; unknown paths stay unauthenticated 404s.
        .route_layer(axum::middleware::from_fn_with_state(
            guard,
            require_operator,
        ))
        .with_state(state)
}

type Result<T> = std::result::Result<T, OperatorError>;
type St = State<Arc<Shared>>;

// === impl OperatorError ===

impl OperatorError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequestException", message)
    }
}

impl From<UsageError> for OperatorError {
    fn from(err: UsageError) -> Self {
        match &err {
            UsageError::InvalidValue(_)
            | UsageError::InvalidPlan(_)
            | UsageError::Invalid(_)
            | UsageError::ReadOnlyPlan(_) => Self::bad(err.to_string()),
            UsageError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "NotFoundException", err.to_string())
            }
            UsageError::Conflict(_) => {
                Self::new(StatusCode::CONFLICT, "ConflictException", err.to_string())
            }
            UsageError::Storage(_) => {
                tracing::error!(error = %err, "operator api");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    "internal error",
                )
            }
        }
    }
}

impl From<DeploymentError> for OperatorError {
    fn from(err: DeploymentError) -> Self {
        match &err {
            DeploymentError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "NotFoundException", err.to_string())
            }
            DeploymentError::Invalid(_) | DeploymentError::Rebuild(_) => Self::bad(err.to_string()),
            DeploymentError::Conflict(_) => {
                Self::new(StatusCode::CONFLICT, "ConflictException", err.to_string())
            }
            // API Gateway's own words, then which stages.
            DeploymentError::InUse { stages } => Self::bad(format!(
                "Active stages pointing to this deployment must be moved or deleted (stages {})",
                stages
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            DeploymentError::Storage(_) => {
                tracing::error!(error = %err, "operator api");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for OperatorError {
    fn into_response(self) -> Response {
        (
            self.status,
            [
                ("content-type", "application/json"),
                ("x-amzn-errortype", self.kind),
            ],
            json!({ "message": self.message }).to_string(),
        )
            .into_response()
    }
}

/// Largest operator request body (API Gateway's requests are a few KiB).
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The SigV4 service name of API Gateway's management API.
const SIGNING_SERVICE: &str = "apigateway";

fn key_json(key: &ApiKeyInfo, value: Option<&str>) -> Value {
    let mut v = json!({
        "id": key.id,
        "name": key.name,
        "enabled": key.enabled,
        "createdDate": unix_seconds(key.created_at),
        "lastUpdatedDate": unix_seconds(key.updated_at),
        "stageKeys": [],
        "tags": {},
        "customerId": null,
        "valuePrefix": key.prefix,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(d) = &key.description {
            obj.insert("description".into(), json!(d));
        }
        if let Some(value) = value {
            obj.insert("value".into(), json!(value));
        }
        obj.remove("customerId");
    }
    v
}

fn plan_json(plan: &UsagePlanInfo) -> Value {
    let mut v = serde_json::to_value(&plan.document).unwrap_or_else(|_| json!({}));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("id".into(), json!(plan.id));
        obj.insert("name".into(), json!(plan.name));
    }
    v
}

fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| OperatorError::bad(format!("invalid request body: {e}")))
}

fn ok(status: StatusCode, value: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

// --- API keys ---

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateKeyRequest {
    name: String,
    description: Option<String>,
    #[serde(default)]
    enabled: bool,
    value: Option<String>,
}

async fn create_key(State(s): St, body: Bytes) -> Result<Response> {
    let req: CreateKeyRequest = json_body(&body)?;
    let created = s
        .usage
        .create_key(NewApiKey {
            name: req.name,
            description: req.description,
            enabled: req.enabled,
            value: req.value,
        })
        .await?;
    Ok(ok(
        StatusCode::CREATED,
        key_json(&created.key, Some(&created.value)),
    ))
}

async fn list_keys(State(s): St) -> Result<Response> {
    let keys = s.usage.list_keys().await?;
    let items: Vec<Value> = keys.iter().map(|k| key_json(k, None)).collect();
    Ok(ok(StatusCode::OK, json!({ "item": items })))
}

async fn get_key(State(s): St, Path(id): Path<String>) -> Result<Response> {
    Ok(ok(
        StatusCode::OK,
        key_json(&s.usage.get_key(&id).await?, None),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchRequest {
    #[serde(default)]
    patch_operations: Vec<PatchOperation>,
}

#[derive(Deserialize)]
struct PatchOperation {
    op: String,
    path: String,
    value: Option<String>,
}

async fn update_key(State(s): St, Path(id): Path<String>, body: Bytes) -> Result<Response> {
    let req: PatchRequest = json_body(&body)?;
    let mut update = ApiKeyUpdate::default();
    for op in req.patch_operations {
        match (op.op.as_str(), op.path.as_str()) {
            ("replace", "/name") => update.name = op.value,
            ("replace", "/description") => update.description = Some(op.value),
            ("replace", "/enabled") => {
                update.enabled = Some(op.value.as_deref() == Some("true"));
            }
            (o, p) => {
                return Err(OperatorError::bad(format!(
                    "unsupported patch operation `{o} {p}`"
                )));
            }
        }
    }
    Ok(ok(
        StatusCode::OK,
        key_json(&s.usage.update_key(&id, update).await?, None),
    ))
}

async fn delete_key(State(s): St, Path(id): Path<String>) -> Result<Response> {
    s.usage.delete_key(&id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

// --- usage plans ---

#[derive(Deserialize)]
struct CreatePlanRequest {
    name: String,
    #[serde(flatten)]
    document: PlanDocument,
}

async fn create_plan(State(s): St, body: Bytes) -> Result<Response> {
    let req: CreatePlanRequest = json_body(&body)?;
    let plan = s.usage.create_plan(&req.name, req.document).await?;
    Ok(ok(StatusCode::CREATED, plan_json(&plan)))
}

async fn list_plans(State(s): St) -> Result<Response> {
    let items: Vec<Value> = s.usage.list_plans().await?.iter().map(plan_json).collect();
    Ok(ok(StatusCode::OK, json!({ "item": items })))
}

async fn get_plan(State(s): St, Path(id): Path<String>) -> Result<Response> {
    Ok(ok(StatusCode::OK, plan_json(&s.usage.get_plan(&id).await?)))
}

async fn update_plan(State(s): St, Path(id): Path<String>, body: Bytes) -> Result<Response> {
    let req: PatchRequest = json_body(&body)?;
    let current = s.usage.get_plan(&id).await?;
    let mut name = current.name;
    let mut doc = current.document;
    for op in req.patch_operations {
        let value = op.value.clone().unwrap_or_default();
        let number = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| OperatorError::bad(format!("`{v}` is not a number")))
        };
        match (op.op.as_str(), op.path.as_str()) {
            ("replace", "/name") => name = value,
            ("replace", "/description") => doc.description = Some(value),
            ("replace", "/throttle/rateLimit") => {
                doc.throttle.get_or_insert_default().rate_limit = number(&value)?
            }
            ("replace", "/throttle/burstLimit") => {
                doc.throttle.get_or_insert_default().burst_limit = number(&value)? as u32
            }
            ("replace", "/quota/limit") => {
                if let Some(q) = doc.quota.as_mut() {
                    q.limit = number(&value)? as u64;
                }
            }
            ("replace", "/quota/period") => {
                if let Some(q) = doc.quota.as_mut() {
                    q.period = value;
                }
            }
            (o, p) => {
                return Err(OperatorError::bad(format!(
                    "unsupported patch operation `{o} {p}`"
                )));
            }
        }
    }
    Ok(ok(
        StatusCode::OK,
        plan_json(&s.usage.update_plan(&id, &name, doc).await?),
    ))
}

async fn delete_plan(State(s): St, Path(id): Path<String>) -> Result<Response> {
    s.usage.delete_plan(&id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanKeyRequest {
    key_id: String,
    key_type: Option<String>,
}

async fn add_plan_key(State(s): St, Path(id): Path<String>, body: Bytes) -> Result<Response> {
    let req: PlanKeyRequest = json_body(&body)?;
    if req.key_type.as_deref().is_some_and(|t| t != "API_KEY") {
        return Err(OperatorError::bad("keyType must be API_KEY"));
    }
    let key = s.usage.add_plan_key(&id, &req.key_id).await?;
    Ok(ok(
        StatusCode::CREATED,
        json!({"id": key.id, "type": "API_KEY", "name": key.name}),
    ))
}

async fn plan_keys(State(s): St, Path(id): Path<String>) -> Result<Response> {
    let items: Vec<Value> = s
        .usage
        .plan_keys(&id)
        .await?
        .iter()
        .map(|k| json!({"id": k.id, "type": "API_KEY", "name": k.name}))
        .collect();
    Ok(ok(StatusCode::OK, json!({ "item": items })))
}

async fn remove_plan_key(
    State(s): St,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    s.usage.remove_plan_key(&id, &key).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageQuery {
    key_id: Option<String>,
    start_date: String,
    end_date: String,
}

async fn usage(
    State(s): St,
    Path(id): Path<String>,
    Query(q): Query<UsageQuery>,
) -> Result<Response> {
    let report = s
        .usage
        .usage(&id, q.key_id.as_deref(), &q.start_date, &q.end_date)
        .await?;
    let items: serde_json::Map<String, Value> = report
        .items
        .iter()
        .map(|(k, days)| {
            (
                k.clone(),
                Value::Array(days.iter().map(|(u, r)| json!([u, r])).collect()),
            )
        })
        .collect();
    Ok(ok(
        StatusCode::OK,
        json!({
            "usagePlanId": report.plan_id,
            "startDate": report.start_day,
            "endDate": report.end_day,
            "values": items,
        }),
    ))
}

async fn flush_cache(State(s): St, Path((api, stage)): Path<(String, String)>) -> Result<Response> {
    let flushed = s.cache.as_ref().is_some_and(|c| c.flush(&api, &stage));
    if !flushed {
        return Err(OperatorError::new(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            format!("stage `{stage}` of api `{api}` has no cache"),
        ));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

// --- deployments and stages ---

fn deployments_of(s: &Shared) -> Result<&Arc<Deployments>> {
    s.deployments.as_ref().ok_or_else(|| {
        OperatorError::new(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "deployments are not managed by this gateway",
        )
    })
}

fn deployment_json(d: &DeploymentInfo) -> Value {
    let mut v = json!({"id": d.id, "createdDate": unix_seconds(d.created_at)});
    if let (Some(obj), Some(description)) = (v.as_object_mut(), &d.description) {
        obj.insert("description".into(), json!(description));
    }
    v
}

/// API Gateway's `Stage` shape.
fn stage_json(s: &StageInfo) -> Value {
    let method_settings: serde_json::Map<String, Value> = s
        .method_settings
        .iter()
        .map(|(key, m)| {
            let mut v = serde_json::Map::new();
            if let Some(t) = m.throttle {
                v.insert("throttlingRateLimit".into(), json!(t.rate_per_second));
                v.insert("throttlingBurstLimit".into(), json!(t.burst));
            }
            if let Some(on) = m.caching_enabled {
                v.insert("cachingEnabled".into(), json!(on));
            }
            if let Some(ttl) = m.cache_ttl_seconds {
                v.insert("cacheTtlInSeconds".into(), json!(ttl));
            }
            if let Some(required) = m.require_authorization_for_cache_control {
                v.insert(
                    "requireAuthorizationForCacheControl".into(),
                    json!(required),
                );
            }
            (settings_key(key), Value::Object(v))
        })
        .collect();
    let mut v = json!({
        "stageName": s.stage,
        "deploymentId": s.deployment_id,
        "variables": s.variables,
        "cacheClusterEnabled": s.cache.enabled,
        "cacheClusterStatus": if s.cache.enabled { "AVAILABLE" } else { "NOT_AVAILABLE" },
        "methodSettings": method_settings,
        "tracingEnabled": false,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(d) = &s.description {
            obj.insert("description".into(), json!(d));
        }
        if let Some(size) = &s.cache_cluster_size {
            obj.insert("cacheClusterSize".into(), json!(size));
        }
        if let Some(format) = &s.access_log_format {
            obj.insert("accessLogSettings".into(), json!({ "format": format }));
        }
        if let Some((created, updated)) = s.runtime {
            obj.insert("createdDate".into(), json!(unix_seconds(created)));
            obj.insert("lastUpdatedDate".into(), json!(unix_seconds(updated)));
        }
    }
    v
}

/// A `methodSettings` key as API Gateway writes it: `*/*`, `~1pets~1{id}/GET`.
fn settings_key(key: &crate::definition::stage::MethodSettingsKey) -> String {
    let method = key.method.map_or("*", |m| m.as_str());
    match &key.resource_path {
        None => format!("*/{method}"),
        Some(path) => format!("{}/{method}", path.replace('/', "~1")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDeploymentRequest {
    stage_name: Option<String>,
    description: Option<String>,
    /// These four apply when `stage_name` names a stage that does not exist yet.
    stage_description: Option<String>,
    #[serde(default)]
    variables: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    cache_cluster_enabled: bool,
    cache_cluster_size: Option<String>,
}

async fn create_deployment(State(s): St, Path(api): Path<String>, body: Bytes) -> Result<Response> {
    let req: CreateDeploymentRequest = json_body(&body)?;
    let new_stage = StageSettings {
        description: req.stage_description,
        variables: req.variables,
        cache_cluster_enabled: req.cache_cluster_enabled,
        cache_cluster_size: req.cache_cluster_size,
        method_settings: std::collections::BTreeMap::new(),
    };
    let created = deployments_of(&s)?
        .create(&api, req.stage_name.as_deref(), req.description, new_stage)
        .await?;
    Ok(ok(StatusCode::CREATED, deployment_json(&created)))
}

async fn list_deployments(State(s): St, Path(api): Path<String>) -> Result<Response> {
    let items: Vec<Value> = deployments_of(&s)?
        .list(&api)?
        .iter()
        .map(deployment_json)
        .collect();
    Ok(ok(StatusCode::OK, json!({ "item": items })))
}

async fn get_deployment(State(s): St, Path((api, id)): Path<(String, String)>) -> Result<Response> {
    Ok(ok(
        StatusCode::OK,
        deployment_json(&deployments_of(&s)?.deployment(&api, &id)?),
    ))
}

async fn delete_deployment(
    State(s): St,
    Path((api, id)): Path<(String, String)>,
) -> Result<Response> {
    deployments_of(&s)?.delete_deployment(&api, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStageRequest {
    stage_name: String,
    deployment_id: String,
    description: Option<String>,
    #[serde(default)]
    variables: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    cache_cluster_enabled: bool,
    cache_cluster_size: Option<String>,
}

async fn create_stage(State(s): St, Path(api): Path<String>, body: Bytes) -> Result<Response> {
    let req: CreateStageRequest = json_body(&body)?;
    let created = deployments_of(&s)?
        .create_stage(
            &api,
            NewStage {
                name: req.stage_name,
                deployment_id: req.deployment_id,
                settings: StageSettings {
                    description: req.description,
                    variables: req.variables,
                    cache_cluster_enabled: req.cache_cluster_enabled,
                    cache_cluster_size: req.cache_cluster_size,
                    method_settings: std::collections::BTreeMap::new(),
                },
            },
        )
        .await?;
    Ok(ok(StatusCode::CREATED, stage_json(&created)))
}

async fn list_stages(State(s): St, Path(api): Path<String>) -> Result<Response> {
    let items: Vec<Value> = deployments_of(&s)?
        .stages(&api)?
        .iter()
        .map(stage_json)
        .collect();
    Ok(ok(StatusCode::OK, json!({ "item": items })))
}

async fn get_stage(State(s): St, Path((api, stage)): Path<(String, String)>) -> Result<Response> {
    Ok(ok(
        StatusCode::OK,
        stage_json(&deployments_of(&s)?.stage(&api, &stage)?),
    ))
}

async fn delete_stage(
    State(s): St,
    Path((api, stage)): Path<(String, String)>,
) -> Result<Response> {
    deployments_of(&s)?.delete_stage(&api, &stage).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// UpdateStage's patch operations as service changes; anything else is refused by name.
fn stage_patch(op: PatchOperation) -> Result<StagePatch> {
    let unsupported = |op: &PatchOperation| {
        OperatorError::bad(format!(
            "unsupported patch operation `{} {}`",
            op.op, op.path
        ))
    };
    let flag = |v: Option<String>| match v.as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        other => Err(OperatorError::bad(format!(
            "`{}` is not `true` or `false`",
            other.unwrap_or("")
        ))),
    };
    let value = |op: &PatchOperation| {
        op.value
            .clone()
            .ok_or_else(|| OperatorError::bad(format!("`{} {}` needs a value", op.op, op.path)))
    };
    let variable = op.path.strip_prefix("/variables/").map(str::to_owned);
    Ok(match (op.op.as_str(), op.path.as_str()) {
        ("replace", "/deploymentId") => StagePatch::Deployment(value(&op)?),
        ("replace", "/description") => StagePatch::Description(op.value),
        ("replace", "/cacheClusterEnabled") => StagePatch::CacheClusterEnabled(flag(op.value)?),
        ("replace", "/cacheClusterSize") => StagePatch::CacheClusterSize(value(&op)?),
        ("replace", _) if variable.is_some() => {
            let v = value(&op)?;
            StagePatch::SetVariable(variable.unwrap_or_default(), v)
        }
        ("remove", _) if variable.is_some() => {
            StagePatch::RemoveVariable(variable.unwrap_or_default())
        }
        ("replace", path) => {
            // `/{resource}/{method}/{group}/{name}`, e.g. `/*/*/throttling/rateLimit`.
            let mut parts = path.rsplitn(3, '/');
            let (Some(name), Some(group), Some(key)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(unsupported(&op));
            };
            let Some(key) = key.strip_prefix('/').filter(|k| k.contains('/')) else {
                return Err(unsupported(&op));
            };
            if !matches!(group, "throttling" | "caching") {
                return Err(unsupported(&op));
            }
            StagePatch::MethodSetting {
                key: key.to_owned(),
                setting: format!("{group}/{name}"),
                value: value(&op)?,
            }
        }
        _ => return Err(unsupported(&op)),
    })
}

async fn update_stage(
    State(s): St,
    Path((api, stage)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let req: PatchRequest = json_body(&body)?;
    let deployments = deployments_of(&s)?;
    let patches = req
        .patch_operations
        .into_iter()
        .map(stage_patch)
        .collect::<Result<Vec<_>>>()?;
    let info = deployments.update_stage(&api, &stage, patches).await?;
    Ok(ok(StatusCode::OK, stage_json(&info)))
}
