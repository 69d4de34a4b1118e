//! Deployments (frozen, validated snapshots of an API), stages (named pointers to a deployment
//! with their own variables, throttling and cache settings), base-path mappings, and the
//! definition side of usage plans and API keys.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::definition::error::{Problem, Problems};
use crate::definition::limits::Limits;
use crate::definition::model::{Api, HttpMethod, Throttle};
use crate::definition::validate::is_identifier;

/// An immutable, validated snapshot of an API. A stage points at one by id, so rolling a stage
/// back is pointing it at an older deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    id: String,
    api: Arc<Api>,
    created_at: SystemTime,
    description: Option<String>,
}

/// A stage of an API.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub api_id: String,
    /// `[A-Za-z0-9_-]{1,128}`: the first path segment on the default endpoint and
    /// `$context.stage`.
    pub name: String,
    pub deployment_id: String,
    pub description: Option<String>,
    /// `${stageVariables.x}` values.
    pub variables: BTreeMap<String, String>,
    /// Default throttle for every method of the stage (below per-method settings).
    pub throttle: Option<Throttle>,
    /// Per-method overrides, keyed like API Gateway's `methodSettings`.
    pub method_settings: BTreeMap<MethodSettingsKey, StageMethodSettings>,
    pub cache: CacheSettings,
    /// Access log line format with `$context.…` variables; `None` disables access logs.
    pub access_log_format: Option<String>,
    /// Where the stage was defined, so that messages say where to change it.
    pub source: StageSource,
}

/// Where a stage was defined.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StageSource {
    /// A declarative file's `stages:` (or the operator API): its settings are written there.
    #[default]
    Stages,
    /// The stage an OpenAPI file names (its `basePath`), loaded on its own: the file (as given)
    /// has no place for stage settings until a declarative file imports it.
    OpenApiFile(String),
}

/// A `methodSettings` key: `RESOURCE_PATH/METHOD` where either side may be `*`
/// (`*/*` is every method of the stage, `/pets/*` every method of `/pets`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MethodSettingsKey {
    /// `None` is `*`.
    pub resource_path: Option<String>,
    /// `None` is `*`.
    pub method: Option<HttpMethod>,
}

/// Stage settings for some methods; each `None` inherits from a less specific key.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StageMethodSettings {
    pub throttle: Option<Throttle>,
    pub caching_enabled: Option<bool>,
    pub cache_ttl_seconds: Option<u32>,
    /// Whether `Cache-Control: max-age=0` needs `execute-api:InvalidateCache` (API Gateway's
    /// default, true) to refresh an entry.
    pub require_authorization_for_cache_control: Option<bool>,
}

/// A stage's response cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Off unless enabled. When on, GET methods are cached unless a method setting says
    /// otherwise; other methods only when a method setting enables them.
    pub enabled: bool,
    /// 0..=3600, default 300; 0 turns caching off.
    pub ttl_seconds: u32,
    /// Memory bound of the stage's cache, in bytes (default 64 MiB).
    pub capacity_bytes: u64,
}

/// Routes requests for `domain` + `base_path` to an API and stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasePathMapping {
    /// The `Host` (lower case, no port); `None` matches any host not mapped otherwise.
    pub domain: Option<String>,
    /// Path segments before the API's own paths, without slashes (`v1`, `v1/orders`); empty for
    /// the root.
    pub base_path: String,
    pub api_id: String,
    /// The stage; `None` takes it from the first path segment after the base path, as the
    /// default `execute-api` endpoint does.
    pub stage: Option<String>,
}

/// A usage plan: throttle and quota for the API keys bound to it, on some stages.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlan {
    pub name: String,
    pub description: Option<String>,
    pub stages: Vec<UsagePlanStage>,
    pub throttle: Option<Throttle>,
    pub quota: Option<Quota>,
}

/// A stage a usage plan covers, with per-method throttles for keys of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlanStage {
    pub api_id: String,
    pub stage: String,
    pub method_throttles: BTreeMap<MethodSettingsKey, Throttle>,
}

/// A request quota per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub period: QuotaPeriod,
    /// Days (WEEK: 0..=6, MONTH: 0..=27) by which the period start is shifted; 0 for DAY.
    pub offset: u32,
}

/// Quota periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
}

/// An API key the definition expects to exist, by name. Key values are created at run time
/// (CLI or operator API) and stored; the file only binds names to usage plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRef {
    pub name: String,
    pub usage_plans: Vec<String>,
}

pub const DEFAULT_CACHE_TTL_SECONDS: u32 = 300;
pub const MAX_CACHE_TTL_SECONDS: u32 = 3_600;
pub const DEFAULT_CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

// === impl Deployment ===

impl Deployment {
    /// Validates `api` and freezes it. `created_at` is passed in (time is a parameter).
    pub fn new(
        id: &str,
        api: Api,
        created_at: SystemTime,
        description: Option<String>,
        limits: &Limits,
    ) -> Result<Self, Problems> {
        let mut problems = Problems::default();
        if !is_identifier(id, 128) {
            problems.push(
                format!("deployment `{id}`"),
                Problem::invalid(
                    "deployment id",
                    id,
                    "use 1 to 128 letters, digits, `-` and `_`",
                ),
            );
        }
        crate::definition::validate::validate_api(
            &api,
            limits,
            &crate::definition::validate::DeclarativeLocator,
            &mut problems,
        );
        problems.into_result(Self {
            id: id.to_owned(),
            api: Arc::new(api),
            created_at,
            description,
        })
    }

    /// Like [`Deployment::new`], naming problems with `locator` (OpenAPI import uses its own).
    pub(crate) fn new_located(
        id: &str,
        api: Api,
        created_at: SystemTime,
        limits: &Limits,
        locator: &dyn crate::definition::validate::Locator,
    ) -> Result<Self, Problems> {
        let mut problems = Problems::default();
        crate::definition::validate::validate_api(&api, limits, locator, &mut problems);
        problems.into_result(Self {
            id: id.to_owned(),
            api: Arc::new(api),
            created_at,
            description: None,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

// === impl Stage ===

impl Stage {
    /// A stage with defaults: no variables, no throttle, cache off, no access log.
    pub fn new(api_id: &str, name: &str, deployment_id: &str) -> Self {
        Self {
            api_id: api_id.to_owned(),
            name: name.to_owned(),
            deployment_id: deployment_id.to_owned(),
            description: None,
            variables: BTreeMap::new(),
            throttle: None,
            method_settings: BTreeMap::new(),
            cache: CacheSettings::default(),
            access_log_format: None,
            source: StageSource::Stages,
        }
    }
}

// === impl MethodSettingsKey ===

impl MethodSettingsKey {
    /// `*/*`.
    pub const ALL: Self = Self {
        resource_path: None,
        method: None,
    };

    /// Parses `RESOURCE_PATH/METHOD`: `*/*`, `/pets/GET`, `/pets/{id}/*`, or API Gateway's
    /// escaped form `~1pets~1{id}/GET`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let bad = || {
            Problem::invalid(
                "method settings key",
                text,
                "expected `RESOURCE_PATH/METHOD`, e.g. `/pets/GET`, `/pets/*` or `*/*`",
            )
        };
        let (path, method) = text.rsplit_once('/').ok_or_else(bad)?;
        let method = match method {
            "*" => None,
            m => Some(HttpMethod::parse(m).map_err(|_| bad())?),
        };
        let resource_path = match path {
            "*" => None,
            "" => Some("/".to_owned()),
            p if p.starts_with('/') => Some(p.to_owned()),
            p if p.starts_with("~1") => Some(p.replace("~1", "/")),
            _ => return Err(bad()),
        };
        if resource_path.is_none() && method.is_some() {
            return Err(Problem::invalid(
                "method settings key",
                text,
                "`*/METHOD` is not a key API Gateway accepts; use `*/*` or a resource path",
            ));
        }
        Ok(Self {
            resource_path,
            method,
        })
    }

    /// How specific the key is: 2 for path+method, 1 for path/*, 0 for */*.
    pub fn specificity(&self) -> u8 {
        match (&self.resource_path, &self.method) {
            (Some(_), Some(_)) => 2,
            (Some(_), None) => 1,
            (None, _) => 0,
        }
    }

    /// Whether the key applies to `method` on `resource_path`.
    pub fn applies_to(&self, resource_path: &str, method: HttpMethod) -> bool {
        self.resource_path
            .as_deref()
            .is_none_or(|p| p == resource_path)
            && self.method.is_none_or(|m| m == method)
    }
}

impl fmt::Display for MethodSettingsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.resource_path.as_deref().unwrap_or("*");
        let method = self.method.map_or("*", HttpMethod::as_str);
        if path == "/" {
            write!(f, "/{method}")
        } else {
            write!(f, "{path}/{method}")
        }
    }
}

// === impl StageMethodSettings ===

impl StageMethodSettings {
    /// `self` with its unset fields taken from `base`.
    pub fn or(self, base: Self) -> Self {
        Self {
            throttle: self.throttle.or(base.throttle),
            caching_enabled: self.caching_enabled.or(base.caching_enabled),
            cache_ttl_seconds: self.cache_ttl_seconds.or(base.cache_ttl_seconds),
            require_authorization_for_cache_control: self
                .require_authorization_for_cache_control
                .or(base.require_authorization_for_cache_control),
        }
    }
}

// === impl CacheSettings ===

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            ttl_seconds: DEFAULT_CACHE_TTL_SECONDS,
            capacity_bytes: DEFAULT_CACHE_CAPACITY_BYTES,
        }
    }
}

// === impl QuotaPeriod ===

impl QuotaPeriod {
    pub fn parse(text: &str) -> Result<Self, Problem> {
        match text.to_ascii_uppercase().as_str() {
            "DAY" => Ok(Self::Day),
            "WEEK" => Ok(Self::Week),
            "MONTH" => Ok(Self::Month),
            _ => Err(Problem::invalid(
                "quota period",
                text,
                "expected DAY, WEEK or MONTH",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_settings_keys() {
        assert_eq!(
            MethodSettingsKey::parse("*/*").unwrap(),
            MethodSettingsKey::ALL
        );
        let k = MethodSettingsKey::parse("/pets/{id}/GET").unwrap();
        assert_eq!(k.resource_path.as_deref(), Some("/pets/{id}"));
        assert_eq!(k.method, Some(HttpMethod::Get));
        assert_eq!(k.to_string(), "/pets/{id}/GET");
        assert_eq!(
            MethodSettingsKey::parse("~1pets~1{id}/*")
                .unwrap()
                .resource_path
                .as_deref(),
            Some("/pets/{id}")
        );
        assert_eq!(
            MethodSettingsKey::parse("/GET")
                .unwrap()
                .resource_path
                .as_deref(),
            Some("/")
        );
        assert_eq!(
            MethodSettingsKey::parse("/GET").unwrap().to_string(),
            "/GET"
        );
        for bad in ["GET", "*/GET", "pets/GET", "/pets/FETCH"] {
            assert!(MethodSettingsKey::parse(bad).is_err(), "{bad}");
        }
        assert!(k.applies_to("/pets/{id}", HttpMethod::Get));
        assert!(!k.applies_to("/pets/{id}", HttpMethod::Post));
        assert!(MethodSettingsKey::ALL.applies_to("/x", HttpMethod::Delete));
    }

    #[test]
    fn settings_overlay() {
        let specific = StageMethodSettings {
            caching_enabled: Some(true),
            ..Default::default()
        };
        let base = StageMethodSettings {
            caching_enabled: Some(false),
            cache_ttl_seconds: Some(60),
            ..Default::default()
        };
        let merged = specific.or(base);
        assert_eq!(merged.caching_enabled, Some(true));
        assert_eq!(merged.cache_ttl_seconds, Some(60));
    }
}
