//! The compiled gateway: every API, stage and base-path mapping compiled together, so a
//! request's `(Host, method, path)` resolves to `(api, stage, route)` in a few hash lookups.
//!
//! A [`Gateway`] is immutable once built and `Send + Sync`; the data plane holds it in its live
//! snapshot (`server::live::Snapshot`) and swaps the snapshot whole to apply a new definition,
//! so in-flight requests finish on the gateway they started with.
//!
//! Resolution order for a request:
//! 1. `Host` `{apiId}.execute-api.{anything}`: that API, stage from the first path segment
//!    (the default endpoint of API Gateway).
//! 2. Otherwise the base-path mappings of the host (lower-cased, port removed), else those of
//!    any host (`domain: None`); the longest matching base path wins.
//! 3. The stage: fixed by the mapping, or the next path segment.
//! 4. The rest of the path goes to the stage's [`RouteTable`].
//!
//! With no mapping at all and exactly one API, that API is served at `/{stage}/{path}` on
//! every host, which is what `gatehouse serve --api petstore.yaml` needs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::definition::error::{Problem, Problems, Warning};
use crate::definition::functions::{FunctionRef, KnownFunctions};
use crate::definition::limits::Limits;
use crate::definition::mapping::check_context_variable;
use crate::definition::model::{
    Api, AuthorizerTarget, HttpMethod, Integration, Method, Resource, Throttle,
};
use crate::definition::responses::GatewayResponseType;
use crate::definition::routes::{FastMap, Lookup, PathParams, RouteId, RouteTable};
use crate::definition::stage::{
    ApiKeyRef, BasePathMapping, CacheSettings, Deployment, MAX_CACHE_TTL_SECONDS,
    MethodSettingsKey, Stage, StageMethodSettings, StageSource, UsagePlan,
};
use crate::definition::template::{MAX_STAGE_VARIABLE_VALUE, is_stage_variable_name};
use crate::definition::validate::is_identifier;

/// Everything a gateway serves, before compilation: the output of the loaders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Definition {
    /// Validated deployments (possibly several per API, for rollback).
    pub deployments: Vec<Deployment>,
    pub stages: Vec<Stage>,
    pub base_path_mappings: Vec<BasePathMapping>,
    pub usage_plans: Vec<UsagePlan>,
    pub api_keys: Vec<ApiKeyRef>,
}

/// The compiled, immutable gateway: the route tables of every API and stage, and the mappings
/// that lead to them.
#[derive(Debug)]
pub struct Gateway {
    /// API id → its stages.
    apis: FastMap<String, ApiStages>,
    /// Host → its mappings.
    domains: FastMap<String, Mappings>,
    /// Mappings for any host.
    any_domain: Mappings,
    usage_plans: Vec<UsagePlan>,
    api_keys: Vec<ApiKeyRef>,
    /// Number of compiled stages; their [`CompiledStage::index`] values are `0..stage_count`.
    stage_count: usize,
}

/// A stage compiled for serving.
#[derive(Debug)]
pub struct CompiledStage {
    pub stage: Stage,
    pub deployment: Deployment,
    pub routes: Arc<RouteTable>,
    /// Effective settings per [`RouteId`].
    settings: Vec<RouteSettings>,
    /// Dense position among the gateway's stages (`0..Gateway::stage_count()`), so the
    /// request pipeline keeps per-stage side tables in a `Vec` instead of hashing names.
    index: usize,
}

/// The stage settings that apply to one route, resolved from the stage's `methodSettings`
/// (most specific key first), the method's own throttle and the stage defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteSettings {
    /// Precedence: `PATH/METHOD` > `PATH/*` > the method definition's throttle > `*/*` > the
    /// stage's default.
    pub throttle: Option<Throttle>,
    /// Whether the stage has a cache at all (and a non-zero TTL).
    pub stage_cache_enabled: bool,
    /// An explicit per-method cache switch; `None` caches GET only.
    pub caching_enabled: Option<bool>,
    pub cache_ttl_seconds: u32,
    pub require_authorization_for_cache_control: bool,
}

/// The outcome of resolving a request.
#[derive(Debug)]
pub enum Resolution<'g> {
    Route(RouteHit<'g>),
    Miss(Miss<'g>),
}

/// A request resolved to a route.
#[derive(Debug)]
pub struct RouteHit<'g> {
    pub api: &'g Arc<Api>,
    pub stage: &'g CompiledStage,
    pub resource: &'g Resource,
    /// The method as defined (`Any` when the `ANY` method serves the request).
    pub method: HttpMethod,
    pub definition: &'g Method,
    pub path_params: PathParams<'g>,
    pub route: RouteId,
    pub settings: &'g RouteSettings,
    /// The matched base path (`v1`), empty for the root.
    pub base_path: &'g str,
    /// The path the API sees: after the base path and the stage (`$context.path` minus those).
    pub resource_request_path: String,
}

/// A request no route serves, with what to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss<'g> {
    pub reason: MissReason,
    pub api_id: Option<&'g str>,
    pub stage: Option<&'g str>,
    /// What to answer: API Gateway answers every one of these with 403
    /// `{"message":"Missing Authentication Token"}`.
    pub response: GatewayResponseType,
}

/// Why a request has no route (for logs and metrics; the client sees the same 403 for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissReason {
    NoMapping,
    UnknownStage,
    NoResource,
    MethodNotDefined,
}

#[derive(Debug)]
struct ApiStages {
    stages: FastMap<String, Arc<CompiledStage>>,
}

#[derive(Debug, Default)]
struct Mappings {
    by_base_path: FastMap<String, Target>,
    max_depth: usize,
}

#[derive(Debug, Clone)]
struct Target {
    api_id: String,
    stage: Option<Arc<CompiledStage>>,
}

// === impl Gateway ===

impl Gateway {
    /// Compiles a definition, checking every cross-reference. Warnings are returned for
    /// things that load but will fail at request time (an undefined stage variable).
    pub fn build(
        definition: &Definition,
        limits: &Limits,
    ) -> Result<(Self, Vec<Warning>), Problems> {
        let mut problems = Problems::default();
        let mut warnings = Vec::new();

        let mut deployments: HashMap<&str, &Deployment> = HashMap::new();
        let mut api_ids: BTreeSet<&str> = BTreeSet::new();
        for deployment in &definition.deployments {
            api_ids.insert(deployment.api().id.as_str());
            if deployments.insert(deployment.id(), deployment).is_some() {
                problems.push(
                    format!("deployments.{}", deployment.id()),
                    Problem::Duplicate {
                        what: "deployment",
                        name: deployment.id().to_owned(),
                    },
                );
            }
        }
        if api_ids.len() > limits.max_apis {
            problems.push(
                "apis",
                Problem::TooMany {
                    what: "apis",
                    count: api_ids.len(),
                    limit: limits.max_apis,
                },
            );
        }

        let mut tables: HashMap<&str, Arc<RouteTable>> = HashMap::new();
        let mut apis: FastMap<String, ApiStages> = FastMap::default();
        let mut stage_count = 0usize;
        for stage in &definition.stages {
            let here = format!("stages.{}.{}", stage.api_id, stage.name);
            let Some(deployment) = deployments.get(stage.deployment_id.as_str()) else {
                problems.push(
                    here,
                    Problem::unknown("deployment", stage.deployment_id.as_str()),
                );
                continue;
            };
            if deployment.api().id != stage.api_id {
                problems.push(
                    here,
                    Problem::invalid(
                        "deployment",
                        stage.deployment_id.as_str(),
                        format!(
                            "it deploys api `{}`, not `{}`",
                            deployment.api().id,
                            stage.api_id
                        ),
                    ),
                );
                continue;
            }
            let table = tables
                .entry(deployment.id())
                .or_insert_with(|| Arc::new(RouteTable::new(Arc::clone(deployment.api()))))
                .clone();
            check_stage(
                stage,
                deployment.api(),
                &here,
                &limits.functions,
                &mut problems,
                &mut warnings,
            );
            let settings = resolve_settings(stage, &table);
            let compiled = CompiledStage {
                stage: stage.clone(),
                deployment: (*deployment).clone(),
                routes: table,
                settings,
                index: stage_count,
            };
            stage_count += 1;
            let entry = apis
                .entry(stage.api_id.clone())
                .or_insert_with(|| ApiStages {
                    stages: FastMap::default(),
                });
            if entry
                .stages
                .insert(stage.name.clone(), Arc::new(compiled))
                .is_some()
            {
                problems.push(
                    format!("stages.{}.{}", stage.api_id, stage.name),
                    Problem::Duplicate {
                        what: "stage",
                        name: stage.name.clone(),
                    },
                );
            }
        }

        let mut domains: FastMap<String, Mappings> = FastMap::default();
        let mut any_domain = Mappings::default();
        let mut mappings = definition.base_path_mappings.clone();
        if mappings.is_empty()
            && api_ids.len() == 1
            && let Some(only) = api_ids.first()
        {
            mappings.push(BasePathMapping {
                domain: None,
                base_path: String::new(),
                api_id: (*only).to_owned(),
                stage: None,
            });
        }
        for (i, mapping) in mappings.iter().enumerate() {
            let here = format!("base_path_mappings.{i}");
            let base_path = mapping.base_path.trim_matches('/');
            let depth = if base_path.is_empty() {
                0
            } else {
                base_path.split('/').count()
            };
            if depth > limits.max_path_depth
                || base_path
                    .split('/')
                    .any(|s| depth > 0 && (s.is_empty() || s.contains(['{', '}', '%', ' '])))
            {
                problems.push(
                    here.clone(),
                    Problem::invalid(
                        "base path",
                        mapping.base_path.as_str(),
                        "use `/`-separated literal segments",
                    ),
                );
                continue;
            }
            let Some(api) = apis.get(&mapping.api_id) else {
                problems.push(
                    here,
                    Problem::unknown("api (or it has no stage)", mapping.api_id.as_str()),
                );
                continue;
            };
            let stage = match &mapping.stage {
                None => None,
                Some(name) => match api.stages.get(name) {
                    Some(stage) => Some(Arc::clone(stage)),
                    None => {
                        problems.push(here, Problem::unknown("stage", name.as_str()));
                        continue;
                    }
                },
            };
            let table = match &mapping.domain {
                None => &mut any_domain,
                Some(domain) => {
                    let domain = domain.to_ascii_lowercase();
                    if domain.is_empty() || domain.contains(['/', ' ', ':']) {
                        problems.push(
                            here,
                            Problem::invalid(
                                "domain",
                                domain.as_str(),
                                "expected a host name without port",
                            ),
                        );
                        continue;
                    }
                    domains.entry(domain).or_default()
                }
            };
            table.max_depth = table.max_depth.max(depth);
            let target = Target {
                api_id: mapping.api_id.clone(),
                stage,
            };
            if table
                .by_base_path
                .insert(base_path.to_owned(), target)
                .is_some()
            {
                problems.push(
                    format!("base_path_mappings.{i}"),
                    Problem::Duplicate {
                        what: "base path mapping",
                        name: format!("{}/{}", mapping.domain.as_deref().unwrap_or("*"), base_path),
                    },
                );
            }
        }

        check_usage_plans(definition, &apis, &mut problems);
        let gateway = Self {
            apis,
            domains,
            any_domain,
            usage_plans: definition.usage_plans.clone(),
            api_keys: definition.api_keys.clone(),
            stage_count,
        };
        problems.into_result((gateway, warnings))
    }

    /// Resolves a request. `host` is the `Host` header (port allowed), `path` the request
    /// path without the query string.
    pub fn resolve<'g>(&'g self, host: Option<&str>, method: &str, path: &str) -> Resolution<'g> {
        let host = host.map(normalize_host);
        let miss = |reason, api_id, stage| {
            Resolution::Miss(Miss {
                reason,
                api_id,
                stage,
                response: GatewayResponseType::MissingAuthenticationToken,
            })
        };
        let rest = path.strip_prefix('/').unwrap_or(path);

        // 1. `{apiId}.execute-api.…`
        let execute_api = host.as_deref().and_then(|h| execute_api_id(h));
        // The base path is the mapping's own text, equal to the start of `rest`: the hit
        // borrows it rather than copying it, and the API's path starts after it.
        let (target_api, fixed_stage, base_path): (&str, Option<&Arc<CompiledStage>>, &'g str) =
            match execute_api.and_then(|id| self.apis.get_key_value(id)) {
                Some((id, _)) => (id.as_str(), None, ""),
                None => {
                    let mappings = host
                        .as_deref()
                        .and_then(|h| self.domains.get(h))
                        .unwrap_or(&self.any_domain);
                    match longest_base_path(mappings, rest) {
                        Some((base_path, target)) => {
                            (target.api_id.as_str(), target.stage.as_ref(), base_path)
                        }
                        None => return miss(MissReason::NoMapping, None, None),
                    }
                }
            };
        let Some((api_id, api)) = self.apis.get_key_value(target_api) else {
            return miss(MissReason::NoMapping, None, None);
        };
        let after_base = rest
            .get(base_path.len()..)
            .unwrap_or_default()
            .trim_start_matches('/');

        // 3. The stage.
        let (stage, api_path) = match fixed_stage {
            Some(stage) => (stage.as_ref(), after_base),
            None => {
                let (name, after) = after_base.split_once('/').unwrap_or((after_base, ""));
                match api.stages.get(name) {
                    Some(stage) => (stage.as_ref(), after),
                    None => return miss(MissReason::UnknownStage, Some(api_id.as_str()), None),
                }
            }
        };
        let stage_name = Some(stage.stage.name.as_str());
        // The API's path starts at the `/` before `api_path` in the request (or is the root).
        let api_path_with_slash = path
            .len()
            .checked_sub(api_path.len() + 1)
            .and_then(|start| path.get(start..))
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/");

        // 4. The route.
        match stage.routes.lookup(method, api_path_with_slash) {
            Lookup::Matched(m) => {
                let Some(settings) = stage.settings.get(m.route.0 as usize) else {
                    return miss(MissReason::NoResource, Some(api_id.as_str()), stage_name);
                };
                Resolution::Route(RouteHit {
                    api: stage.routes.api(),
                    stage,
                    resource: m.resource,
                    method: m.method,
                    definition: m.definition,
                    path_params: m.path_params,
                    route: m.route,
                    settings,
                    base_path,
                    resource_request_path: api_path_with_slash.to_owned(),
                })
            }
            Lookup::MethodNotDefined { .. } => miss(
                MissReason::MethodNotDefined,
                Some(api_id.as_str()),
                stage_name,
            ),
            Lookup::NoResource => miss(MissReason::NoResource, Some(api_id.as_str()), stage_name),
        }
    }

    /// A stage by API id and name (for the operator API and cache flushes).
    pub fn stage(&self, api_id: &str, stage: &str) -> Option<&Arc<CompiledStage>> {
        self.apis.get(api_id)?.stages.get(stage)
    }

    /// Number of compiled stages (see [`CompiledStage::index`]).
    pub fn stage_count(&self) -> usize {
        self.stage_count
    }

    /// Every compiled stage.
    pub fn stages(&self) -> impl Iterator<Item = &Arc<CompiledStage>> {
        self.apis.values().flat_map(|api| api.stages.values())
    }

    pub fn usage_plans(&self) -> &[UsagePlan] {
        &self.usage_plans
    }

    pub fn api_keys(&self) -> &[ApiKeyRef] {
        &self.api_keys
    }
}

/// The API id of an `{apiId}.execute-api.…` host: what comes before its first
/// `.execute-api.`. The dots are scanned instead of calling `split_once`, whose substring
/// searcher is set up anew on every call, and this runs on every request.
fn execute_api_id(host: &str) -> Option<&str> {
    const MARK: &[u8] = b".execute-api.";
    let bytes = host.as_bytes();
    let at = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .map(|(at, _)| at)
        .find(|&at| bytes.get(at..).is_some_and(|rest| rest.starts_with(MARK)))?;
    host.get(..at)
}

/// Lower-case, without a port (`[::1]:8080` → `[::1]`).
pub(crate) fn normalize_host(host: &str) -> std::borrow::Cow<'_, str> {
    // ASCII whitespace only: a host comes from a header value or a URI, both ASCII, and
    // `trim` would test each end for Unicode whitespace.
    let host = host.trim_ascii();
    let without_port = if host.starts_with('[') {
        host.find(']')
            .and_then(|end| host.get(..=end))
            .unwrap_or(host)
    } else {
        // By bytes: `rsplit_once(':')` sets up a searcher on every request.
        match host.bytes().rposition(|b| b == b':') {
            Some(colon)
                if host
                    .as_bytes()
                    .get(colon + 1..)
                    .is_some_and(|port| port.iter().all(u8::is_ascii_digit)) =>
            {
                host.get(..colon).unwrap_or(host)
            }
            _ => host,
        }
    };
    if without_port.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(without_port.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(without_port)
    }
}

/// The mapping with the longest base path that is a whole-segment prefix of `rest`, with
/// its base path (the mapping's own text, so also the start of `rest`).
fn longest_base_path<'m>(mappings: &'m Mappings, rest: &str) -> Option<(&'m str, &'m Target)> {
    if mappings.max_depth == 0 {
        // Only the empty base path can match (the usual case: no custom domain mappings).
        let (base_path, target) = mappings.by_base_path.get_key_value("")?;
        return Some((base_path.as_str(), target));
    }
    // Candidate prefix ends, shortest first: 0, then after each of the first max_depth
    // segments; kept on the stack (max_depth is bounded by the path depth limit).
    let mut ends = [0usize; 65];
    let mut count = 1usize;
    let mut offset = 0usize;
    for segment in rest.split('/').take(mappings.max_depth.min(64)) {
        offset += segment.len();
        if segment.is_empty() {
            break;
        }
        if let Some(slot) = ends.get_mut(count) {
            *slot = offset;
            count += 1;
        }
        offset += 1;
    }
    ends.get(..count)?.iter().rev().find_map(|&end| {
        let key = rest.get(..end)?;
        let (base_path, target) = mappings.by_base_path.get_key_value(key)?;
        Some((base_path.as_str(), target))
    })
}

fn resolve_settings(stage: &Stage, table: &RouteTable) -> Vec<RouteSettings> {
    let mut out = vec![
        RouteSettings {
            throttle: None,
            stage_cache_enabled: false,
            caching_enabled: None,
            cache_ttl_seconds: 0,
            require_authorization_for_cache_control: true
        };
        table.route_count()
    ];
    let all = stage
        .method_settings
        .get(&MethodSettingsKey::ALL)
        .copied()
        .unwrap_or_default();
    for (id, resource, method) in table.routes() {
        let path = resource.path.as_str();
        let mut specific = StageMethodSettings::default();
        let mut keys: Vec<(&MethodSettingsKey, &StageMethodSettings)> = stage
            .method_settings
            .iter()
            .filter(|(k, _)| k.specificity() > 0 && k.applies_to(path, method))
            .collect();
        keys.sort_by_key(|(k, _)| std::cmp::Reverse(k.specificity()));
        for (_, settings) in keys {
            specific = specific.or(*settings);
        }
        let definition_throttle = resource
            .methods
            .get(&method)
            .and_then(|m| m.settings.throttle);
        let merged = specific
            .or(StageMethodSettings {
                throttle: definition_throttle,
                ..Default::default()
            })
            .or(all);
        let ttl = merged.cache_ttl_seconds.unwrap_or(stage.cache.ttl_seconds);
        if let Some(slot) = out.get_mut(id.0 as usize) {
            *slot = RouteSettings {
                throttle: merged.throttle.or(stage.throttle),
                stage_cache_enabled: stage.cache.enabled && stage.cache.ttl_seconds > 0,
                caching_enabled: merged.caching_enabled,
                cache_ttl_seconds: ttl,
                require_authorization_for_cache_control: merged
                    .require_authorization_for_cache_control
                    .unwrap_or(true),
            };
        }
    }
    out
}

// === impl RouteSettings ===

impl RouteSettings {
    /// Whether a request with `request_method` may be served from / stored in the cache.
    pub fn caches(&self, request_method: &str) -> bool {
        self.stage_cache_enabled
            && self.cache_ttl_seconds > 0
            && self.caching_enabled.unwrap_or(request_method == "GET")
    }
}

// === impl CompiledStage ===

impl CompiledStage {
    /// Dense index of this stage in its gateway, `0..Gateway::stage_count()`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Settings of a route of this stage.
    pub fn route_settings(&self, route: RouteId) -> Option<&RouteSettings> {
        self.settings.get(route.0 as usize)
    }
}

fn check_stage(
    stage: &Stage,
    api: &Api,
    here: &str,
    functions: &KnownFunctions,
    problems: &mut Problems,
    warnings: &mut Vec<Warning>,
) {
    if !is_identifier(&stage.name, 128) {
        problems.push(
            here,
            Problem::invalid(
                "stage name",
                stage.name.as_str(),
                "use 1 to 128 letters, digits, `-` and `_`",
            ),
        );
    }
    for (name, value) in &stage.variables {
        if !is_stage_variable_name(name) {
            problems.push(
                format!("{here}.variables"),
                Problem::invalid(
                    "stage variable name",
                    name.as_str(),
                    "use letters, digits and `_`",
                ),
            );
        }
        // What every stage is held to, a stored one included; a file's values and new ones
        // set through the operator API are held to API Gateway's set as well (see
        // `stage_variable_value_problem`), where they are read.
        if value.len() > MAX_STAGE_VARIABLE_VALUE || value.chars().any(char::is_control) {
            problems.push(
                format!("{here}.variables.{name}"),
                Problem::invalid(
                    "stage variable value",
                    name.as_str(),
                    "at most 2048 printable characters",
                ),
            );
        }
    }
    if let Some(throttle) = &stage.throttle
        && let Err(problem) = throttle.check()
    {
        problems.push(format!("{here}.throttle"), problem);
    }
    check_cache(&stage.cache, &format!("{here}.cache"), problems);
    for (key, settings) in &stage.method_settings {
        let at = format!("{here}.method_settings.{key}");
        check_settings_key(key, api, &at, problems);
        if let Some(throttle) = &settings.throttle
            && let Err(problem) = throttle.check()
        {
            problems.push(at.clone(), problem);
        }
        if settings
            .cache_ttl_seconds
            .is_some_and(|ttl| ttl > MAX_CACHE_TTL_SECONDS)
        {
            problems.push(
                at,
                Problem::OutOfRange {
                    what: "cache ttl",
                    value: format!("{:?}", settings.cache_ttl_seconds),
                    range: "0..=3600 seconds",
                },
            );
        }
    }
    if let Some(format) = &stage.access_log_format {
        check_access_log_format(format, &format!("{here}.access_log_format"), problems);
    }
    // Stage variables the integrations and authorizers need, and the Lambda functions they
    // name in this stage (each must be registered).
    let mut needed: BTreeMap<&str, String> = BTreeMap::new();
    let mut functions_named: Vec<(&FunctionRef, String)> = Vec::new();
    for resource in api.resources.values() {
        for (method, def) in &resource.methods {
            let user = || format!("{} {}", method, resource.path);
            match &def.integration {
                Integration::HttpProxy(http) | Integration::Http(http) => {
                    for var in http.uri.stage_variables() {
                        needed.entry(var).or_insert_with(user);
                    }
                }
                Integration::Function(function) => {
                    for var in function.function.stage_variables() {
                        needed.entry(var).or_insert_with(user);
                    }
                    functions_named.push((&function.function, user()));
                }
                Integration::Mock(_) => {}
            }
        }
    }
    for (name, authorizer) in &api.authorizers {
        if let crate::definition::model::AuthorizerKind::Endpoint(endpoint) = &authorizer.kind {
            let user = || format!("authorizer {name}");
            match &endpoint.target {
                AuthorizerTarget::Endpoint(uri) => {
                    for var in uri.stage_variables() {
                        needed.entry(var).or_insert_with(user);
                    }
                }
                AuthorizerTarget::Function(function) => {
                    for var in function.stage_variables() {
                        needed.entry(var).or_insert_with(user);
                    }
                    functions_named.push((function, user()));
                }
            }
        }
    }
    for (function, user) in functions_named {
        // An undefined variable is warned about below; the ARN is checked once complete.
        let Ok(arn) = function.render(&stage.variables) else {
            continue;
        };
        if let Err(problem) = functions.check(&arn, "") {
            problems.push(format!("{here} ({user})"), problem);
        }
    }
    for (var, user) in needed {
        if stage.variables.contains_key(var) {
            continue;
        }
        let problem = format!("not defined, but {user} uses it: requests there will fail with 500");
        warnings.push(match &stage.source {
            StageSource::Stages => Warning {
                location: format!("{here}.variables"),
                name: format!("stageVariables.{var}"),
                message: problem,
            },
            // `stages.…` is a place in no file here: say how to make one.
            StageSource::OpenApiFile(file) => {
                let file_name = file.rsplit(['/', '\\']).next().unwrap_or(file);
                let (api, name) = (&stage.api_id, &stage.name);
                Warning {
                    location: file.clone(),
                    name: format!("stageVariables.{var}"),
                    message: format!(
                        "{problem}; an OpenAPI file has no stage variables of its own: load it from a declarative file, `apis: {{{api}: {{openapi: {file_name}}}}}`, and set them in its `stages: {{{api}: {{{name}: {{variables: {{{var}: VALUE}}}}}}}}`"
                    ),
                }
            }
        });
    }
}

fn check_cache(cache: &CacheSettings, here: &str, problems: &mut Problems) {
    if cache.ttl_seconds > MAX_CACHE_TTL_SECONDS {
        problems.push(
            here,
            Problem::OutOfRange {
                what: "cache ttl",
                value: cache.ttl_seconds.to_string(),
                range: "0..=3600 seconds",
            },
        );
    }
    if cache.enabled && cache.capacity_bytes == 0 {
        problems.push(
            here,
            Problem::OutOfRange {
                what: "cache size",
                value: "0".to_owned(),
                range: "at least 1 byte when enabled",
            },
        );
    }
}

fn check_settings_key(key: &MethodSettingsKey, api: &Api, at: &str, problems: &mut Problems) {
    let Some(path) = &key.resource_path else {
        return;
    };
    match api.resources.get(path) {
        None => problems.push(at, Problem::unknown("resource", path.as_str())),
        Some(resource) => {
            if let Some(method) = key.method
                && !resource.methods.contains_key(&method)
            {
                problems.push(at, Problem::unknown("method", format!("{method} {path}")));
            }
        }
    }
}

/// Access-log formats use `$context.NAME` variables; unknown ones are typos.
pub(crate) fn check_access_log_format(format: &str, at: &str, problems: &mut Problems) {
    if format.len() > 4096 {
        problems.push(
            at,
            Problem::OutOfRange {
                what: "access log format length",
                value: format.len().to_string(),
                range: "1..=4096",
            },
        );
        return;
    }
    let mut rest = format;
    while let Some(i) = rest.find("$context.") {
        let after = rest.get(i + "$context.".len()..).unwrap_or_default();
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
            .unwrap_or(after.len());
        let name = after.get(..end).unwrap_or_default().trim_end_matches('.');
        if let Err(problem) = check_context_variable(name) {
            problems.push(at, problem);
        }
        rest = after.get(end..).unwrap_or_default();
    }
}

fn check_usage_plans(
    definition: &Definition,
    apis: &FastMap<String, ApiStages>,
    problems: &mut Problems,
) {
    let mut names = BTreeSet::new();
    for plan in &definition.usage_plans {
        let here = format!("usage_plans.{}", plan.name);
        if !names.insert(plan.name.as_str()) {
            problems.push(
                here.clone(),
                Problem::Duplicate {
                    what: "usage plan",
                    name: plan.name.clone(),
                },
            );
        }
        if let Some(throttle) = &plan.throttle
            && let Err(problem) = throttle.check()
        {
            problems.push(format!("{here}.throttle"), problem);
        }
        if let Some(quota) = &plan.quota {
            let max_offset = match quota.period {
                crate::definition::stage::QuotaPeriod::Day => 0,
                crate::definition::stage::QuotaPeriod::Week => 6,
                crate::definition::stage::QuotaPeriod::Month => 27,
            };
            if quota.limit == 0 || quota.offset > max_offset {
                problems.push(
                    format!("{here}.quota"),
                    Problem::invalid(
                        "quota",
                        format!(
                            "{} per {:?} offset {}",
                            quota.limit, quota.period, quota.offset
                        ),
                        format!("the limit must be positive and the offset at most {max_offset}"),
                    ),
                );
            }
        }
        for stage in &plan.stages {
            let at = format!("{here}.stages.{}/{}", stage.api_id, stage.stage);
            match apis
                .get(&stage.api_id)
                .and_then(|a| a.stages.get(&stage.stage))
            {
                None => problems.push(
                    at,
                    Problem::unknown("stage", format!("{}/{}", stage.api_id, stage.stage)),
                ),
                Some(compiled) => {
                    for (key, throttle) in &stage.method_throttles {
                        check_settings_key(
                            key,
                            compiled.routes.api(),
                            &format!("{at}.{key}"),
                            problems,
                        );
                        if let Err(problem) = throttle.check() {
                            problems.push(format!("{at}.{key}"), problem);
                        }
                    }
                }
            }
        }
    }
    let mut keys = BTreeSet::new();
    for key in &definition.api_keys {
        let here = format!("api_keys.{}", key.name);
        if !keys.insert(key.name.as_str()) {
            problems.push(
                here.clone(),
                Problem::Duplicate {
                    what: "api key",
                    name: key.name.clone(),
                },
            );
        }
        for plan in &key.usage_plans {
            if !names.contains(plan.as_str()) {
                problems.push(here.clone(), Problem::unknown("usage plan", plan.as_str()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(normalize_host("API.Example.com:8080"), "api.example.com");
        assert_eq!(normalize_host("[::1]:8080"), "[::1]");
        assert_eq!(normalize_host("localhost"), "localhost");
        assert_eq!(normalize_host("host:"), "host");
        assert_eq!(normalize_host("a:b:c"), "a:b:c");
        assert_eq!(normalize_host("a:b:80"), "a:b");
    }

    #[test]
    fn execute_api_hosts_name_their_api_before_the_first_marker() {
        for (host, expected) in [
            ("abc123.execute-api.us-east-1.amazonaws.com", Some("abc123")),
            ("abc.execute-api.", Some("abc")),
            ("a.b.execute-api.x", Some("a.b")),
            ("x.execute-api.y.execute-api.z", Some("x")),
            (".execute-api.x", Some("")),
            ("abc.execute-api", None),
            ("abc.execute-apix.y", None),
            ("execute-api.x", None),
            ("127.0.0.1", None),
            ("", None),
        ] {
            assert_eq!(execute_api_id(host), expected, "{host}");
            let split = host.split_once(".execute-api.").map(|(id, _)| id);
            assert_eq!(execute_api_id(host), split, "{host}: as split_once");
        }
    }

    #[test]
    fn gateway_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Gateway>();
        assert_send_sync::<Arc<Gateway>>();
    }
}
