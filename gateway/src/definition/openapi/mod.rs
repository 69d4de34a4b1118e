//! OpenAPI 3.0 and Swagger 2.0 import, honouring API Gateway's `x-amazon-apigateway-*`
//! extensions.
//!
//! Supported: `x-amazon-apigateway-integration` (`http`, `http_proxy`, `mock`, `aws_proxy` to a
//! registered Lambda function with `payloadFormatVersion` 1.0 or 2.0; `uri` with
//! `${stageVariables.x}`, `httpMethod`, `requestParameters`, `timeoutInMillis`,
//! `cacheKeyParameters`, `passthroughBehavior`, `responses` with `statusCode`,
//! `responseParameters` and — for mocks — `responseTemplates`, `requestTemplates` of the form
//! `{"statusCode": N}` for mocks), `x-amazon-apigateway-any-method`,
//! `x-amazon-apigateway-api-key-source`, `x-amazon-apigateway-request-validators`,
//! `x-amazon-apigateway-request-validator` (top level and operation), `x-amazon-apigateway-authorizer`
//! (`cognito_user_pools`, `jwt`, `token`, `request` with an HTTP `authorizerUri`, a registered
//! Lambda function's `authorizerUri`, or `x-gatehouse-endpoint`), `x-amazon-apigateway-authtype: awsSigv4` / `x-amazon-apigateway-auth`,
//! `x-amazon-apigateway-cors`, `x-amazon-apigateway-binary-media-types`, security schemes
//! `api_key` (`in: header`, `name: x-api-key`) with per-operation and top-level `security`,
//! path-level `parameters`, local `$ref`s, request bodies → models.
//!
//! Everything else that API Gateway would act on is reported by name in
//! [`ImportReport::warnings`] (the method is skipped when it cannot be served faithfully), or
//! is an error when ignoring it would open access (`x-amazon-apigateway-policy`, a security
//! scheme gatehouse cannot enforce).

mod integration;
mod models;
mod operation;
mod refs;
mod security;

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::definition::error::{LoadError, Problem, Problems, Warning};
use crate::definition::limits::Limits;
use crate::definition::model::{
    Api, ApiKeySource, CorsConfig, HttpMethod, RequestValidator, Resource,
};
use crate::definition::path::ResourcePath;
use crate::definition::stage::Deployment;
use crate::definition::validate::{Locator, Site, is_identifier, join};
use operation::OperationContext;

/// The result of an import.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub api: Api,
    pub version: SpecVersion,
    /// From `servers[].variables.basePath.default` (OpenAPI 3) or `basePath` (Swagger 2),
    /// slashes stripped; `prod` when absent.
    pub stage_name: String,
    pub report: ImportReport,
}

/// Which specification the document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecVersion {
    OpenApi3,
    Swagger2,
}

/// What the import did not carry over, by name and location.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub warnings: Vec<Warning>,
}

/// Imports an OpenAPI 3 or Swagger 2 document (YAML or JSON) as API `api_id`.
pub fn import(text: &str, api_id: &str, limits: &Limits) -> Result<Imported, LoadError> {
    import_named("openapi", text, api_id, limits)
}

pub(crate) fn import_named(
    name: &str,
    text: &str,
    api_id: &str,
    limits: &Limits,
) -> Result<Imported, LoadError> {
    let value = crate::definition::yaml::parse(
        name,
        text,
        crate::definition::yaml::Syntax::Yaml,
        limits.max_definition_bytes,
    )?;
    import_value(value, api_id, limits)
}

/// Validates an imported API and freezes it, naming problems by OpenAPI location.
pub fn deploy(
    api: Api,
    deployment_id: &str,
    now: SystemTime,
    limits: &Limits,
) -> Result<Deployment, Problems> {
    // Import has validated with the precise locator; this pass finds nothing new.
    Deployment::new_located(
        deployment_id,
        api,
        now,
        limits,
        &OpenApiLocator {
            version: SpecVersion::OpenApi3,
        },
    )
}

/// Extensions handled somewhere in this module; any other `x-amazon-apigateway-*` is reported.
const TOP_LEVEL_SUPPORTED: &[&str] = &[
    "x-amazon-apigateway-api-key-source",
    "x-amazon-apigateway-request-validators",
    "x-amazon-apigateway-request-validator",
    "x-amazon-apigateway-cors",
    "x-amazon-apigateway-binary-media-types",
    IMPORT_EXPORT_VERSION,
];

/// API Gateway's format marker in its exports (`"1.0"`, the only version there is): it says how
/// the document is written, not what the API does, so it loads without a word.
const IMPORT_EXPORT_VERSION: &str = "x-amazon-apigateway-importexport-version";

pub(crate) fn import_value(
    root: Value,
    api_id: &str,
    limits: &Limits,
) -> Result<Imported, LoadError> {
    let mut importer = Importer {
        root: &root,
        limits,
        problems: Problems::default(),
        warnings: Vec::new(),
        version: SpecVersion::OpenApi3,
        schemes: BTreeMap::new(),
        queued_models: Vec::new(),
    };
    let version = match (root.get("openapi"), root.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.") => SpecVersion::OpenApi3,
        (_, Some(Value::String(v))) if v == "2.0" => SpecVersion::Swagger2,
        (Some(v), _) | (_, Some(v)) => {
            importer.problems.push(
                "openapi",
                Problem::invalid(
                    "version",
                    v.to_string(),
                    "expected `openapi: 3.x` or `swagger: \"2.0\"`",
                ),
            );
            return Err(importer.problems.into());
        }
        (None, None) => {
            importer
                .problems
                .push("(top level)", Problem::Missing { field: "openapi" });
            return Err(importer.problems.into());
        }
    };
    importer.version = version;
    let api = importer.run(api_id);
    let stage_name = importer.stage_name();
    let Importer {
        mut problems,
        warnings,
        ..
    } = importer;
    if problems.is_empty() {
        // The whole-API rules (cross-references, timeouts, sibling parameters), located the
        // OpenAPI way, so an import that succeeds also deploys.
        let locator = OpenApiLocator { version };
        crate::definition::validate::validate_api(&api, limits, &locator, &mut problems);
    }
    problems
        .into_result(Imported {
            api,
            version,
            stage_name,
            report: ImportReport { warnings },
        })
        .map_err(LoadError::from)
}

/// What a security scheme means to gatehouse.
#[derive(Debug, Clone)]
enum Scheme {
    ApiKey,
    Iam,
    Authorizer,
    /// Cannot be enforced: a method that requires it is refused.
    Unsupported(String),
}

struct Importer<'a> {
    root: &'a Value,
    limits: &'a Limits,
    problems: Problems,
    warnings: Vec<Warning>,
    version: SpecVersion,
    schemes: BTreeMap<String, Scheme>,
    /// Schema names referenced by models, to create as models too.
    queued_models: Vec<String>,
}

// === impl Importer ===

impl<'a> Importer<'a> {
    fn warn(
        &mut self,
        location: impl Into<String>,
        name: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.warnings.push(Warning {
            location: location.into(),
            name: name.into(),
            message: message.into(),
        });
    }

    fn record<T>(&mut self, result: Result<T, Problem>, location: impl Into<String>) -> Option<T> {
        result.map_err(|p| self.problems.push(location, p)).ok()
    }

    /// `obj[key]` as text: `None` when absent, and when it is not a string, which is recorded
    /// at `{at}.{key}` (`{key}` at the top level) saying what was found instead.
    fn text<'v>(&mut self, obj: &'v Map<String, Value>, key: &str, at: &str) -> Option<&'v str> {
        let value = obj.get(key)?;
        let location = if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        };
        self.as_text(value, &location)
    }

    /// `value` as text, or `None` with a problem at `location` saying what it is instead.
    fn as_text<'v>(&mut self, value: &'v Value, location: &str) -> Option<&'v str> {
        if let Some(text) = value.as_str() {
            return Some(text);
        }
        self.problems.push(location, not_a_string(value));
        None
    }

    fn resolve<'v>(&mut self, value: &'v Value, location: &str) -> Option<&'v Value>
    where
        'a: 'v,
    {
        let root = self.root;
        match refs::resolve(root, value) {
            Ok(v) => Some(v),
            Err(p) => {
                self.problems.push(location, p);
                None
            }
        }
    }

    fn stage_name(&mut self) -> String {
        let raw = match self.version {
            SpecVersion::OpenApi3 => {
                self.root
                    .get("servers")
                    .and_then(Value::as_array)
                    .and_then(|servers| {
                        servers
                            .iter()
                            .find_map(|s| s.pointer("/variables/basePath/default")?.as_str())
                    })
            }
            SpecVersion::Swagger2 => self.root.get("basePath").and_then(Value::as_str),
        };
        let Some(raw) = raw else {
            return "prod".to_owned();
        };
        let trimmed = raw.trim_matches('/');
        if trimmed.is_empty() {
            "prod".to_owned()
        } else if is_identifier(trimmed, 128) {
            trimmed.to_owned()
        } else {
            let field = if self.version == SpecVersion::Swagger2 {
                "basePath"
            } else {
                "servers.variables.basePath.default"
            };
            self.warn(
                field,
                "basePath",
                format!(
                    "`{raw}` is not a stage name (letters, digits, `-`, `_`); the stage is `prod`"
                ),
            );
            "prod".to_owned()
        }
    }

    fn run(&mut self, api_id: &str) -> Api {
        let root = self.root;
        let title = root
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or(api_id);
        let mut api = Api::new(api_id, title);
        api.description = root
            .pointer("/info/description")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(top) = root.as_object() else {
            return api;
        };

        for (key, value) in top {
            if key == "x-amazon-apigateway-policy" {
                self.problems.push(key.as_str(), Problem::unsupported(key.as_str(), "resource policies are not enforced by gatehouse; remove it or restrict access another way"));
            } else if key.starts_with("x-amazon-apigateway-")
                && !TOP_LEVEL_SUPPORTED.contains(&key.as_str())
            {
                self.warn(
                    key.as_str(),
                    key.as_str(),
                    "not supported by gatehouse; ignored",
                );
            }
            let _ = value;
        }
        if let Some(version) = top.get(IMPORT_EXPORT_VERSION)
            && version.as_str() != Some("1.0")
        {
            self.warn(
                IMPORT_EXPORT_VERSION,
                format!("{IMPORT_EXPORT_VERSION}: {version}"),
                "API Gateway knows version 1.0 only; the document is read as such",
            );
        }
        if let Some(source) = top.get("x-amazon-apigateway-api-key-source") {
            let at = "x-amazon-apigateway-api-key-source";
            let parsed = source
                .as_str()
                .ok_or_else(|| not_a_string(source))
                .and_then(ApiKeySource::parse);
            if let Some(s) = self.record(parsed, at) {
                api.api_key_source = s;
            }
        }
        if let Some(types) = top.get("x-amazon-apigateway-binary-media-types") {
            api.binary_media_types = string_list(types);
        }
        if let Some(validators) = top
            .get("x-amazon-apigateway-request-validators")
            .and_then(Value::as_object)
        {
            for (name, v) in validators {
                let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
                api.request_validators.insert(
                    name.clone(),
                    RequestValidator {
                        validate_body: flag("validateRequestBody"),
                        validate_parameters: flag("validateRequestParameters"),
                    },
                );
            }
        }
        if let Some(name) = self.text(top, "x-amazon-apigateway-request-validator", "") {
            api.default_request_validator = Some(name.to_owned());
        }
        if let Some(cors) = top.get("x-amazon-apigateway-cors") {
            api.cors = Some(self.cors(cors));
        }
        self.security_schemes(&mut api);

        let default_security = top.get("security");
        let consumes_default = top.get("consumes").map(string_list).unwrap_or_default();
        let Some(paths) = top.get("paths").and_then(Value::as_object) else {
            self.problems
                .push("paths", Problem::Missing { field: "paths" });
            return api;
        };
        if paths.len() > self.limits.max_resources_per_api {
            self.problems.push(
                "paths",
                Problem::TooMany {
                    what: "paths",
                    count: paths.len(),
                    limit: self.limits.max_resources_per_api,
                },
            );
            return api;
        }
        for (path_text, item) in paths {
            let at = format!("paths.{path_text}");
            let Some(path) = self.record(
                ResourcePath::parse(
                    path_text,
                    self.limits.max_path_depth,
                    self.limits.max_path_len,
                ),
                &at,
            ) else {
                continue;
            };
            let Some(item) = self.resolve(item, &at) else {
                continue;
            };
            let Some(item) = item.as_object() else {
                self.problems.push(
                    &at,
                    Problem::invalid("path item", path_text.as_str(), "expected a mapping"),
                );
                continue;
            };
            let path_params = item.get("parameters");
            let mut resource = Resource {
                path: path.clone(),
                methods: BTreeMap::new(),
            };
            for (key, operation) in item {
                let method = match key.as_str() {
                    "parameters" | "summary" | "description" | "servers" => continue,
                    "trace" => {
                        self.warn(
                            format!("{at}.trace"),
                            "trace",
                            "API Gateway has no TRACE method; skipped",
                        );
                        continue;
                    }
                    k if k.starts_with("x-") && k != "x-amazon-apigateway-any-method" => {
                        if k.starts_with("x-amazon-apigateway-") {
                            self.warn(
                                format!("{at}.{k}"),
                                k,
                                "not supported on a path item; ignored",
                            );
                        }
                        continue;
                    }
                    k => match HttpMethod::parse(k) {
                        Ok(m) => m,
                        Err(p) => {
                            self.problems.push(format!("{at}.{k}"), p);
                            continue;
                        }
                    },
                };
                let op_at = format!("{at}.{key}");
                let context = OperationContext {
                    path: &path,
                    path_params,
                    default_security,
                    consumes_default: &consumes_default,
                };
                if let Some(def) = self.operation(&mut api, operation, &op_at, method, &context) {
                    resource.methods.insert(method, def);
                }
            }
            if resource.methods.is_empty() && !path.is_root() {
                self.warn(
                    &at,
                    path_text.as_str(),
                    "no method could be imported for this path",
                );
            }
            api.resources.insert(path.as_str().to_owned(), resource);
        }
        self.create_queued_models(&mut api);
        api
    }

    fn cors(&mut self, value: &Value) -> CorsConfig {
        let list = |k: &str| value.get(k).map(string_list).unwrap_or_default();
        if let Some(obj) = value.as_object() {
            for key in obj.keys() {
                if !matches!(
                    key.as_str(),
                    "allowOrigins"
                        | "allowMethods"
                        | "allowHeaders"
                        | "exposeHeaders"
                        | "maxAge"
                        | "allowCredentials"
                ) {
                    self.warn(
                        format!("x-amazon-apigateway-cors.{key}"),
                        key.as_str(),
                        "unknown CORS setting; ignored",
                    );
                }
            }
        }
        CorsConfig {
            allow_origins: list("allowOrigins"),
            allow_methods: list("allowMethods"),
            allow_headers: list("allowHeaders"),
            expose_headers: list("exposeHeaders"),
            max_age_seconds: value
                .get("maxAge")
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok()),
            allow_credentials: value
                .get("allowCredentials")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

/// The problem of a value found where a string belongs. Templates written for CloudFormation
/// (SAM's `AWS::Include`, an API's `Body`) carry intrinsics there (`{"Fn::Sub": …}`,
/// `{"Ref": …}`), which CloudFormation resolves before API Gateway sees the document; gatehouse
/// reads the document as it is.
fn not_a_string(value: &Value) -> Problem {
    let found = match value {
        Value::Object(map)
            if map.len() == 1 && map.keys().all(|k| k == "Ref" || k.starts_with("Fn::")) =>
        {
            "a mapping (a CloudFormation intrinsic?)"
        }
        Value::Object(_) => "a mapping",
        Value::Array(_) => "a list",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "nothing (null)",
        Value::String(_) => "a string",
    };
    Problem::NotAString { found }
}

/// A string or a list of strings.
fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Names problems found by whole-API validation by their OpenAPI location.
#[derive(Debug)]
struct OpenApiLocator {
    version: SpecVersion,
}

impl Locator for OpenApiLocator {
    fn locate(&self, _api_id: &str, site: Site<'_>, field: &str) -> String {
        let field = field
            .replacen("integration.", "x-amazon-apigateway-integration.", 1)
            .replace("timeout_ms", "timeoutInMillis")
            .replace("request_parameters", "requestParameters")
            .replace("cache_key_parameters", "cacheKeyParameters")
            .replace("result_ttl_seconds", "authorizerResultTtlInSeconds")
            .replace("identity_source", "identitySource")
            .replace(
                "identity_validation_expression",
                "identityValidationExpression",
            )
            .replace("user_pools", "providerARNs")
            .replace("audiences", "jwtConfiguration.audience")
            .replace("issuer", "jwtConfiguration.issuer");
        let (schemes, schemas) = match self.version {
            SpecVersion::OpenApi3 => ("components.securitySchemes", "components.schemas"),
            SpecVersion::Swagger2 => ("securityDefinitions", "definitions"),
        };
        let base = match site {
            Site::Api => "(top level)".to_owned(),
            Site::Resource(path) => format!("paths.{path}"),
            Site::Method(path, HttpMethod::Any) => {
                format!("paths.{path}.x-amazon-apigateway-any-method")
            }
            Site::Method(path, method) => {
                format!("paths.{path}.{}", method.as_str().to_ascii_lowercase())
            }
            Site::Authorizer(name) => format!("{schemes}.{name}.x-amazon-apigateway-authorizer"),
            Site::Model(name) => format!("{schemas}.{name}"),
            Site::Validator(name) => format!("x-amazon-apigateway-request-validators.{name}"),
        };
        join(base, &field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn duplicate_names_are_unique_sets() {
        let set: BTreeSet<&str> = TOP_LEVEL_SUPPORTED.iter().copied().collect();
        assert_eq!(set.len(), TOP_LEVEL_SUPPORTED.len());
    }
}
