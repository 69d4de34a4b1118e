//! The declarative definition file (YAML or TOML): APIs with their resources, methods and
//! integrations, authorizers, models and validators, then stages, base-path mappings, usage
//! plans and the names of API keys bound to them. `examples/gateway/gateway.yaml` is the
//! commented reference; `gateway/README.md` summarizes it.
//!
//! Parsing is strict (`deny_unknown_fields`): a misspelt field is an error that names its
//! location (`apis.petstore.resources./pets.GET: unknown field `integraton``), never a
//! silently ignored setting.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::definition::compiled::Definition;
use crate::definition::error::{LoadError, Problem, Problems, Warning};
use crate::definition::functions::{FunctionRef, KnownFunctions, PayloadFormat};
use crate::definition::limits::Limits;
use crate::definition::mapping::{
    IdentitySource, MappingSource, MappingTarget, ParameterMapping, RequestParam,
};
use crate::definition::model::{
    Api, ApiKeySource, Authorization, Authorizer, AuthorizerKind, AuthorizerTarget,
    BackendTlsSettings, ClientCertificate, CorsConfig, DEFAULT_AUTHORIZER_TTL_SECONDS,
    DEFAULT_TIMEOUT_MS, EndpointAuthorizer, EndpointAuthorizerKind, FunctionIntegration,
    HeaderValueSource, HttpIntegration, HttpMethod, Integration, IntegrationResponse,
    JwtAuthorizer, JwtFlavor, Method, MethodSettings, MockIntegration, Model, PassthroughBehavior,
    RequestValidator, Resource, SelectionPattern, Throttle, UserPoolRef,
};
use crate::definition::path::ResourcePath;
use crate::definition::stage::{
    ApiKeyRef, BasePathMapping, CacheSettings, DEFAULT_CACHE_CAPACITY_BYTES,
    DEFAULT_CACHE_TTL_SECONDS, Deployment, MethodSettingsKey, Quota, QuotaPeriod, Stage,
    StageMethodSettings, UsagePlan, UsagePlanStage,
};
use crate::definition::template::{UriTemplate, stage_variable_value_problem};

/// Reads a file another file refers to (`openapi: orders.yaml`); the caller decides where
/// files live. Returns the text or a message.
pub type Resolver<'a> = &'a dyn Fn(&str) -> Result<String, String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    apis: BTreeMap<String, serde_json::Value>,
    /// api id → stage name → stage.
    #[serde(default)]
    stages: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    base_path_mappings: Vec<serde_json::Value>,
    #[serde(default)]
    usage_plans: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    api_keys: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApi {
    name: Option<String>,
    description: Option<String>,
    /// Import this OpenAPI/Swagger file instead of listing resources here.
    openapi: Option<String>,
    api_key_source: Option<String>,
    #[serde(default)]
    binary_media_types: Vec<String>,
    cors: Option<FileCors>,
    #[serde(default)]
    authorizers: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    models: BTreeMap<String, FileModel>,
    #[serde(default)]
    request_validators: BTreeMap<String, FileValidator>,
    request_validator: Option<String>,
    /// path → method → definition.
    #[serde(default)]
    resources: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// TLS to the API's `https://` backends.
    tls_config: Option<FileApiTls>,
}

/// `tls_config` of an API: file names, relative to the definition file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApiTls {
    trusted_ca: Option<String>,
    client_certificate: Option<String>,
    client_key: Option<String>,
}

/// `tls_config` of an integration (OpenAPI's `tlsConfig`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIntegrationTls {
    #[serde(default)]
    insecure_skip_verification: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCors {
    #[serde(default)]
    allow_origins: Vec<String>,
    #[serde(default)]
    allow_methods: Vec<String>,
    #[serde(default)]
    allow_headers: Vec<String>,
    #[serde(default)]
    expose_headers: Vec<String>,
    max_age_seconds: Option<u32>,
    #[serde(default)]
    allow_credentials: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    #[serde(default = "json_content_type")]
    content_type: String,
    schema: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileValidator {
    #[serde(default)]
    body: bool,
    #[serde(default)]
    parameters: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuthorizer {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    user_pools: Vec<String>,
    issuer: Option<String>,
    #[serde(default)]
    issuers: Vec<String>,
    #[serde(default)]
    audiences: Vec<String>,
    endpoint: Option<String>,
    /// A Lambda function (its ARN or API Gateway's invocation URI), served through the
    /// function registry; instead of `endpoint`.
    function: Option<String>,
    identity_source: Option<OneOrMany>,
    result_ttl_seconds: Option<u32>,
    identity_validation_expression: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMethod {
    operation_name: Option<String>,
    /// `NONE` (default) or `AWS_IAM`; an `authorizer` implies a custom/Cognito authorizer.
    authorization: Option<String>,
    authorizer: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    api_key_required: bool,
    request_validator: Option<String>,
    #[serde(default)]
    request_models: BTreeMap<String, String>,
    #[serde(default)]
    request_parameters: BTreeMap<String, bool>,
    #[serde(default)]
    cache_key_parameters: Vec<String>,
    throttle: Option<FileThrottle>,
    integration: FileIntegration,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileThrottle {
    rate: f64,
    burst: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIntegration {
    #[serde(rename = "type")]
    kind: String,
    uri: Option<String>,
    method: Option<String>,
    timeout_ms: Option<u32>,
    #[serde(default)]
    request_parameters: BTreeMap<String, String>,
    passthrough: Option<String>,
    // Mock shortcut for a single response:
    status: Option<u16>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    /// Mock: integration status per request content type.
    #[serde(default)]
    request_templates: BTreeMap<String, u16>,
    #[serde(default)]
    responses: Vec<FileResponse>,
    tls_config: Option<FileIntegrationTls>,
    /// `aws_proxy`: `1.0` (default) or `2.0`.
    payload_format_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileResponse {
    /// A regular expression on the status code; absent or `default` for the default response.
    selection: Option<String>,
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    #[serde(default)]
    bodies: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStage {
    description: Option<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    throttle: Option<FileThrottle>,
    #[serde(default)]
    method_settings: BTreeMap<String, FileMethodSettings>,
    cache: Option<FileCache>,
    access_log_format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMethodSettings {
    throttle: Option<FileThrottle>,
    caching_enabled: Option<bool>,
    cache_ttl_seconds: Option<u32>,
    require_authorization_for_cache_control: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCache {
    #[serde(default)]
    enabled: bool,
    ttl_seconds: Option<u32>,
    size_mb: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMapping {
    domain: Option<String>,
    #[serde(default)]
    base_path: String,
    api: String,
    stage: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePlan {
    description: Option<String>,
    #[serde(default)]
    stages: Vec<FilePlanStage>,
    throttle: Option<FileThrottle>,
    quota: Option<FileQuota>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePlanStage {
    api: String,
    stage: String,
    #[serde(default)]
    method_throttles: BTreeMap<String, FileThrottle>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuota {
    limit: u64,
    period: String,
    #[serde(default)]
    offset: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    #[serde(default)]
    usage_plans: Vec<String>,
}

fn json_content_type() -> String {
    "application/json".to_owned()
}

/// Reads a declarative document already parsed into a JSON value (see
/// [`crate::definition::load::load_definition`], which also tells the format apart).
pub(crate) fn from_value(
    value: serde_json::Value,
    base: &Path,
    now: SystemTime,
    limits: &Limits,
    resolve: Resolver<'_>,
) -> Result<(Definition, Vec<Warning>), LoadError> {
    let mut problems = Problems::default();
    let mut warnings = Vec::new();
    let Some(doc) = section::<FileDoc>(value, "", &mut problems) else {
        return Err(problems.into());
    };
    if doc.version.is_some_and(|v| v != 1) {
        problems.push(
            "version",
            Problem::OutOfRange {
                what: "version",
                value: format!("{:?}", doc.version),
                range: "1",
            },
        );
    }
    if doc.apis.len() > limits.max_apis {
        problems.push(
            "apis",
            Problem::TooMany {
                what: "apis",
                count: doc.apis.len(),
                limit: limits.max_apis,
            },
        );
        return Err(problems.into());
    }
    let stamp = gatehouse_policy::calendar::unix_seconds(now);
    let mut definition = Definition::default();
    let mut imported_stages: Vec<Stage> = Vec::new();
    for (api_id, value) in doc.apis {
        let here = format!("apis.{api_id}");
        let Some(mut file_api) = section::<FileApi>(value, &here, &mut problems) else {
            continue;
        };
        let deployment_id = format!("{api_id}-{stamp}");
        let backend_tls = file_api
            .tls_config
            .take()
            .map(|tls| convert_backend_tls(tls, base, &format!("{here}.tls_config"), &mut problems))
            .unwrap_or_default();
        if let Some(reference) = &file_api.openapi {
            if !file_api.resources.is_empty()
                || !file_api.authorizers.is_empty()
                || !file_api.models.is_empty()
            {
                problems.push(&here, Problem::invalid("api", api_id.as_str(), "`openapi` imports the whole API; remove `resources`, `authorizers` and `models`"));
                continue;
            }
            let text = match resolve(reference) {
                Ok(text) => text,
                Err(message) => {
                    problems.push(
                        format!("{here}.openapi"),
                        Problem::invalid("file", reference.as_str(), message),
                    );
                    continue;
                }
            };
            match crate::definition::openapi::import_named(reference, &text, &api_id, limits) {
                Ok(imported) => {
                    for warning in imported.report.warnings {
                        warnings.push(Warning {
                            location: format!("{reference}: {}", warning.location),
                            ..warning
                        });
                    }
                    let mut api = imported.api;
                    api.backend_tls = backend_tls;
                    match crate::definition::openapi::deploy(api, &deployment_id, now, limits) {
                        Ok(deployment) => {
                            imported_stages.push(Stage::new(
                                &api_id,
                                &imported.stage_name,
                                &deployment_id,
                            ));
                            definition.deployments.push(deployment);
                        }
                        Err(errors) => problems.0.extend(errors.0.into_iter().map(|mut e| {
                            e.location = format!("{reference}: {}", e.location);
                            e
                        })),
                    }
                }
                Err(LoadError::Invalid(errors)) => {
                    problems.0.extend(errors.0.into_iter().map(|mut e| {
                        e.location = format!("{reference}: {}", e.location);
                        e
                    }))
                }
                Err(other) => problems.push(
                    format!("{here}.openapi"),
                    Problem::invalid("file", reference.as_str(), other.to_string()),
                ),
            }
            continue;
        }
        let mut api = convert_api(&api_id, file_api, limits, &mut problems);
        api.backend_tls = backend_tls;
        warnings.extend(insecure_backends(&api, &here));
        match Deployment::new(
            &deployment_id,
            api,
            now,
            Some("loaded from the definition file".to_owned()),
            limits,
        ) {
            Ok(deployment) => definition.deployments.push(deployment),
            Err(errors) => problems.0.extend(errors.0),
        }
    }

    for (api_id, stages) in doc.stages {
        let deployment_id = format!("{api_id}-{stamp}");
        for (name, value) in stages {
            let here = format!("stages.{api_id}.{name}");
            if let Some(stage) = section::<FileStage>(value, &here, &mut problems) {
                definition.stages.push(convert_stage(
                    &api_id,
                    &name,
                    &deployment_id,
                    stage,
                    &here,
                    &mut problems,
                ));
            }
        }
    }
    // An imported API keeps the stage its document names unless the file defines stages for it.
    for stage in imported_stages {
        if !definition.stages.iter().any(|s| s.api_id == stage.api_id) {
            definition.stages.push(stage);
        }
    }
    for (i, value) in doc.base_path_mappings.into_iter().enumerate() {
        if let Some(m) =
            section::<FileMapping>(value, &format!("base_path_mappings.{i}"), &mut problems)
        {
            definition.base_path_mappings.push(BasePathMapping {
                domain: m
                    .domain
                    .filter(|d| d != "*")
                    .map(|d| d.to_ascii_lowercase()),
                base_path: m.base_path.trim_matches('/').to_owned(),
                api_id: m.api,
                stage: m.stage,
            });
        }
    }
    for (name, value) in doc.usage_plans {
        let here = format!("usage_plans.{name}");
        if let Some(plan) = section::<FilePlan>(value, &here, &mut problems) {
            definition
                .usage_plans
                .push(convert_plan(&name, plan, &here, &mut problems));
        }
    }
    for (name, value) in doc.api_keys {
        if let Some(key) = section::<FileKey>(value, &format!("api_keys.{name}"), &mut problems) {
            definition.api_keys.push(ApiKeyRef {
                name,
                usage_plans: key.usage_plans,
            });
        }
    }
    problems
        .into_result((definition, warnings))
        .map_err(LoadError::from)
}

/// An API's `tls_config`: the files relative to the definition file's folder `base`; a
/// client certificate needs its key and the other way round.
fn convert_backend_tls(
    file: FileApiTls,
    base: &Path,
    at: &str,
    problems: &mut Problems,
) -> BackendTlsSettings {
    let client_certificate = match (file.client_certificate, file.client_key) {
        (Some(certificate), Some(key)) => Some(ClientCertificate {
            certificate: base.join(certificate),
            key: base.join(key),
        }),
        (None, None) => None,
        (Some(_), None) => {
            problems.push(
                at,
                Problem::Missing {
                    field: "client_key",
                },
            );
            None
        }
        (None, Some(_)) => {
            problems.push(
                at,
                Problem::Missing {
                    field: "client_certificate",
                },
            );
            None
        }
    };
    BackendTlsSettings {
        trusted_ca: file.trusted_ca.map(|ca| base.join(ca)),
        client_certificate,
    }
}

/// A warning for every method whose backend certificate is not verified.
fn insecure_backends(api: &Api, here: &str) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (path, resource) in &api.resources {
        for (method, definition) in &resource.methods {
            if definition
                .integration
                .http()
                .is_some_and(|http| http.insecure_skip_verification)
            {
                warnings.push(Warning {
                    location: format!(
                        "{here}.resources.{path}.{method}.integration.tls_config.insecure_skip_verification"
                    ),
                    name: "insecure_skip_verification".to_owned(),
                    message: "the backend's certificate is not verified for this method: anyone \
                              on the path can read and change its traffic"
                        .to_owned(),
                });
            }
        }
    }
    warnings
}

/// Deserializes one section, recording a failure at `location`.
fn section<T: DeserializeOwned>(
    value: serde_json::Value,
    location: &str,
    problems: &mut Problems,
) -> Option<T> {
    match serde_json::from_value(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let location = if location.is_empty() {
                "(top level)"
            } else {
                location
            };
            problems.push(
                location,
                Problem::invalid("section", location, e.to_string()),
            );
            None
        }
    }
}

fn record<T>(
    result: Result<T, Problem>,
    location: impl Into<String>,
    problems: &mut Problems,
) -> Option<T> {
    result.map_err(|p| problems.push(location, p)).ok()
}

fn convert_api(api_id: &str, file: FileApi, limits: &Limits, problems: &mut Problems) -> Api {
    let here = format!("apis.{api_id}");
    let mut api = Api::new(api_id, file.name.as_deref().unwrap_or(api_id));
    api.description = file.description;
    api.binary_media_types = file.binary_media_types;
    api.default_request_validator = file.request_validator;
    if let Some(source) = file.api_key_source {
        api.api_key_source = record(
            ApiKeySource::parse(&source),
            format!("{here}.api_key_source"),
            problems,
        )
        .unwrap_or_default();
    }
    api.cors = file.cors.map(|c| CorsConfig {
        allow_origins: c.allow_origins,
        allow_methods: c.allow_methods,
        allow_headers: c.allow_headers,
        expose_headers: c.expose_headers,
        max_age_seconds: c.max_age_seconds,
        allow_credentials: c.allow_credentials,
    });
    for (name, value) in file.authorizers {
        let at = format!("{here}.authorizers.{name}");
        if let Some(file_auth) = section::<FileAuthorizer>(value, &at, problems)
            && let Some(kind) = convert_authorizer(file_auth, &at, &limits.functions, problems)
        {
            api.authorizers
                .insert(name.clone(), Authorizer { name, kind });
        }
    }
    for (name, model) in file.models {
        api.models.insert(
            name.clone(),
            Model {
                name,
                content_type: model.content_type,
                schema: model.schema,
            },
        );
    }
    for (name, v) in file.request_validators {
        api.request_validators.insert(
            name,
            RequestValidator {
                validate_body: v.body,
                validate_parameters: v.parameters,
            },
        );
    }
    if file.resources.len() > limits.max_resources_per_api {
        problems.push(
            format!("{here}.resources"),
            Problem::TooMany {
                what: "resources",
                count: file.resources.len(),
                limit: limits.max_resources_per_api,
            },
        );
        return api;
    }
    for (path_text, methods) in file.resources {
        let at = format!("{here}.resources.{path_text}");
        let Some(path) = record(
            ResourcePath::parse(&path_text, limits.max_path_depth, limits.max_path_len),
            &at,
            problems,
        ) else {
            continue;
        };
        let mut resource = Resource {
            path: path.clone(),
            methods: BTreeMap::new(),
        };
        for (method_text, value) in methods {
            let at = format!("{at}.{method_text}");
            let Some(method) = record(HttpMethod::parse(&method_text), &at, problems) else {
                continue;
            };
            let Some(file_method) = section::<FileMethod>(value, &at, problems) else {
                continue;
            };
            if let Some(def) = convert_method(file_method, &at, &limits.functions, problems)
                && resource.methods.insert(method, def).is_some()
            {
                problems.push(
                    &at,
                    Problem::Duplicate {
                        what: "method",
                        name: method.to_string(),
                    },
                );
            }
        }
        if api
            .resources
            .insert(path.as_str().to_owned(), resource)
            .is_some()
        {
            problems.push(
                &at,
                Problem::Duplicate {
                    what: "resource",
                    name: path_text,
                },
            );
        }
    }
    api
}

fn convert_authorizer(
    file: FileAuthorizer,
    at: &str,
    functions: &KnownFunctions,
    problems: &mut Problems,
) -> Option<AuthorizerKind> {
    let sources: Vec<String> = match file.identity_source {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => one
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(OneOrMany::Many(many)) => many,
    };
    let mut identity_sources = Vec::new();
    for source in &sources {
        // A bare name is a header, the common case (`identity_source: Authorization`).
        let parsed = if source.contains('.') {
            IdentitySource::parse(source)
        } else {
            Ok(IdentitySource::header(source))
        };
        if let Some(parsed) = record(parsed, format!("{at}.identity_source"), problems) {
            identity_sources.push(parsed);
        }
    }
    match file.kind.to_ascii_lowercase().as_str() {
        kind @ ("cognito_user_pools" | "jwt") => {
            let mut user_pools = Vec::new();
            for arn in &file.user_pools {
                if let Some(pool) = record(
                    UserPoolRef::parse(arn),
                    format!("{at}.user_pools"),
                    problems,
                ) {
                    user_pools.push(pool);
                }
            }
            let mut issuers = file.issuers;
            issuers.extend(file.issuer);
            if identity_sources.len() > 1 {
                problems.push(
                    format!("{at}.identity_source"),
                    Problem::invalid(
                        "identity source",
                        sources.join(", "),
                        "a JWT authorizer reads one header",
                    ),
                );
            }
            Some(AuthorizerKind::Jwt(JwtAuthorizer {
                flavor: if kind == "jwt" {
                    JwtFlavor::Jwt
                } else {
                    JwtFlavor::CognitoUserPools
                },
                issuers,
                audiences: file.audiences,
                user_pools,
                identity_source: identity_sources
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| IdentitySource::header("Authorization")),
            }))
        }
        kind @ ("token" | "request") => {
            let target = match (file.endpoint, file.function) {
                (Some(endpoint), None) => AuthorizerTarget::Endpoint(record(
                    UriTemplate::parse(&endpoint),
                    format!("{at}.endpoint"),
                    problems,
                )?),
                (None, Some(function)) => {
                    let location = format!("{at}.function");
                    let function = record(FunctionRef::parse(&function), &location, problems)?;
                    if let Some(arn) = function.literal() {
                        record(
                            functions.check(arn, ", or name an HTTP `endpoint` instead"),
                            &location,
                            problems,
                        )?;
                    }
                    AuthorizerTarget::Function(function)
                }
                (Some(_), Some(_)) => {
                    problems.push(
                        format!("{at}.function"),
                        Problem::invalid(
                            "field",
                            "function",
                            "set `endpoint` or `function`, not both",
                        ),
                    );
                    return None;
                }
                (None, None) => {
                    problems.push(at, Problem::Missing { field: "endpoint" });
                    return None;
                }
            };
            let expression = match file.identity_validation_expression {
                Some(e) => Some(record(
                    SelectionPattern::new(&e),
                    format!("{at}.identity_validation_expression"),
                    problems,
                )?),
                None => None,
            };
            let kind = if kind == "token" {
                EndpointAuthorizerKind::Token
            } else {
                EndpointAuthorizerKind::Request
            };
            if kind == EndpointAuthorizerKind::Token && identity_sources.is_empty() {
                identity_sources.push(IdentitySource::header("Authorization"));
            }
            Some(AuthorizerKind::Endpoint(EndpointAuthorizer {
                kind,
                target,
                identity_sources,
                result_ttl_seconds: file
                    .result_ttl_seconds
                    .unwrap_or(DEFAULT_AUTHORIZER_TTL_SECONDS),
                identity_validation_expression: expression,
            }))
        }
        other => {
            problems.push(
                format!("{at}.type"),
                Problem::invalid(
                    "authorizer type",
                    other,
                    "expected cognito_user_pools, jwt, token or request",
                ),
            );
            None
        }
    }
}

/// Accepts `method.request.querystring.x` or the short `querystring.x`.
fn parse_request_param(text: &str) -> Result<RequestParam, Problem> {
    if text.starts_with("method.request.") {
        RequestParam::parse(text, false)
    } else {
        RequestParam::parse(&format!("method.request.{text}"), false)
    }
}

fn convert_method(
    file: FileMethod,
    at: &str,
    functions: &KnownFunctions,
    problems: &mut Problems,
) -> Option<Method> {
    let authorization = match (
        file.authorization
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref(),
        file.authorizer,
    ) {
        (None | Some("NONE"), None) => Authorization::None,
        (Some("AWS_IAM"), None) => Authorization::AwsIam,
        (None | Some("CUSTOM") | Some("COGNITO_USER_POOLS"), Some(name)) => {
            Authorization::Authorizer {
                name,
                scopes: file.scopes.clone(),
            }
        }
        (Some(other), _) => {
            problems.push(
                format!("{at}.authorization"),
                Problem::invalid(
                    "authorization",
                    other,
                    "expected NONE or AWS_IAM, or name an `authorizer`",
                ),
            );
            Authorization::None
        }
    };
    if !file.scopes.is_empty() && !matches!(authorization, Authorization::Authorizer { .. }) {
        problems.push(
            format!("{at}.scopes"),
            Problem::invalid(
                "scopes",
                file.scopes.join(" "),
                "scopes need an `authorizer`",
            ),
        );
    }
    let mut settings = MethodSettings {
        authorization,
        api_key_required: file.api_key_required,
        request_validator: file.request_validator,
        request_models: file.request_models,
        throttle: file.throttle.map(|t| Throttle {
            rate_per_second: t.rate,
            burst: t.burst,
        }),
        ..MethodSettings::default()
    };
    for (name, required) in file.request_parameters {
        if let Some(param) = record(
            parse_request_param(&name),
            format!("{at}.request_parameters"),
            problems,
        ) {
            settings.request_parameters.insert(param, required);
        }
    }
    for name in file.cache_key_parameters {
        if let Some(param) = record(
            parse_request_param(&name),
            format!("{at}.cache_key_parameters"),
            problems,
        ) {
            settings.cache_key_parameters.push(param);
        }
    }
    let integration = convert_integration(
        file.integration,
        &format!("{at}.integration"),
        functions,
        problems,
    )?;
    Some(Method {
        operation_name: file.operation_name,
        settings,
        integration,
    })
}

fn convert_integration(
    file: FileIntegration,
    at: &str,
    functions: &KnownFunctions,
    problems: &mut Problems,
) -> Option<Integration> {
    let kind = file.kind.to_ascii_lowercase();
    let mut responses = Vec::new();
    for (i, response) in file.responses.into_iter().enumerate() {
        if let Some(r) = convert_response(response, &format!("{at}.responses.{i}"), problems) {
            responses.push(r);
        }
    }
    if kind != "aws_proxy" && file.payload_format_version.is_some() {
        problems.push(
            format!("{at}.payload_format_version"),
            Problem::invalid(
                "field",
                "payload_format_version",
                "only an aws_proxy integration has it",
            ),
        );
    }
    match kind.as_str() {
        "http_proxy" | "http" => {
            for (field, present) in [
                ("status", file.status.is_some()),
                ("body", file.body.is_some()),
                ("headers", !file.headers.is_empty()),
                ("request_templates", !file.request_templates.is_empty()),
            ] {
                if present {
                    problems.push(
                        format!("{at}.{field}"),
                        Problem::invalid("field", field, "only a mock integration has it"),
                    );
                }
            }
            let Some(uri) = file.uri else {
                problems.push(at, Problem::Missing { field: "uri" });
                return None;
            };
            let uri = record(UriTemplate::parse(&uri), format!("{at}.uri"), problems)?;
            let mut http = HttpIntegration::new(uri);
            if let Some(method) = file.method {
                http.method = record(HttpMethod::parse(&method), format!("{at}.method"), problems)
                    .unwrap_or(HttpMethod::Any);
            }
            http.timeout_ms = file.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
            http.insecure_skip_verification = file
                .tls_config
                .is_some_and(|tls| tls.insecure_skip_verification);
            if let Some(p) = file.passthrough {
                http.passthrough = record(
                    PassthroughBehavior::parse(&p),
                    format!("{at}.passthrough"),
                    problems,
                )
                .unwrap_or_default();
            }
            for (target, source) in file.request_parameters {
                let target = record(
                    MappingTarget::parse(&target),
                    format!("{at}.request_parameters"),
                    problems,
                );
                let source = record(
                    MappingSource::parse(&source),
                    format!(
                        "{at}.request_parameters.{}",
                        target.as_ref().map(ToString::to_string).unwrap_or_default()
                    ),
                    problems,
                );
                if let (Some(target), Some(source)) = (target, source) {
                    http.request_parameters
                        .push(ParameterMapping { target, source });
                }
            }
            http.responses = responses;
            Some(if kind == "http" {
                Integration::Http(http)
            } else {
                Integration::HttpProxy(http)
            })
        }
        "mock" => {
            for (field, present) in [
                ("uri", file.uri.is_some()),
                ("method", file.method.is_some()),
                ("timeout_ms", file.timeout_ms.is_some()),
                ("request_parameters", !file.request_parameters.is_empty()),
            ] {
                if present {
                    problems.push(
                        format!("{at}.{field}"),
                        Problem::invalid("field", field, "a mock integration has no backend"),
                    );
                }
            }
            let mut status_by_content_type = file.request_templates;
            if let Some(status) = file.status {
                // The single-response shortcut: that status, those headers, that body.
                status_by_content_type
                    .entry("application/json".to_owned())
                    .or_insert(status);
                let headers = file
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k, HeaderValueSource::Literal(v)))
                    .collect();
                let bodies = file
                    .body
                    .map(|b| BTreeMap::from([("application/json".to_owned(), b)]))
                    .unwrap_or_default();
                responses.push(IntegrationResponse {
                    selection: None,
                    status,
                    headers,
                    bodies,
                });
            } else if file.body.is_some() || !file.headers.is_empty() {
                problems.push(at, Problem::Missing { field: "status" });
            }
            Some(Integration::Mock(MockIntegration {
                status_by_content_type,
                responses,
            }))
        }
        "aws_proxy" => {
            for (field, present) in [
                ("method", file.method.is_some()),
                ("request_parameters", !file.request_parameters.is_empty()),
                ("passthrough", file.passthrough.is_some()),
                ("status", file.status.is_some()),
                ("headers", !file.headers.is_empty()),
                ("body", file.body.is_some()),
                ("request_templates", !file.request_templates.is_empty()),
                ("responses", !responses.is_empty()),
                ("tls_config", file.tls_config.is_some()),
            ] {
                if present {
                    problems.push(
                        format!("{at}.{field}"),
                        Problem::invalid(
                            "field",
                            field,
                            "a Lambda proxy integration hands the whole request to the function",
                        ),
                    );
                }
            }
            let Some(uri) = file.uri else {
                problems.push(at, Problem::Missing { field: "uri" });
                return None;
            };
            let location = format!("{at}.uri");
            let function = record(FunctionRef::parse(&uri), &location, problems)?;
            if let Some(arn) = function.literal() {
                record(functions.check(arn, ""), &location, problems)?;
            }
            let payload_format = match file.payload_format_version {
                Some(v) => record(
                    PayloadFormat::parse(&v),
                    format!("{at}.payload_format_version"),
                    problems,
                )?,
                None => PayloadFormat::V1,
            };
            Some(Integration::Function(FunctionIntegration {
                function,
                payload_format,
                timeout_ms: file.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            }))
        }
        other => {
            problems.push(
                format!("{at}.type"),
                Problem::invalid(
                    "integration type",
                    other,
                    "expected http_proxy, http, mock or aws_proxy",
                ),
            );
            None
        }
    }
}

fn convert_response(
    file: FileResponse,
    at: &str,
    problems: &mut Problems,
) -> Option<IntegrationResponse> {
    let selection = match file.selection.as_deref() {
        None | Some("default") | Some("") => None,
        Some(pattern) => Some(record(
            SelectionPattern::new(pattern),
            format!("{at}.selection"),
            problems,
        )?),
    };
    let headers = file
        .headers
        .into_iter()
        .map(|(name, value)| {
            let source = match value.strip_prefix("integration.response.header.") {
                Some(backend) => HeaderValueSource::BackendHeader(backend.to_owned()),
                None => HeaderValueSource::Literal(value),
            };
            (name, source)
        })
        .collect();
    let mut bodies = file.bodies;
    if let Some(body) = file.body {
        bodies.insert("application/json".to_owned(), body);
    }
    Some(IntegrationResponse {
        selection,
        status: file.status,
        headers,
        bodies,
    })
}

fn throttle(t: FileThrottle) -> Throttle {
    Throttle {
        rate_per_second: t.rate,
        burst: t.burst,
    }
}

fn convert_stage(
    api_id: &str,
    name: &str,
    deployment_id: &str,
    file: FileStage,
    at: &str,
    problems: &mut Problems,
) -> Stage {
    let mut stage = Stage::new(api_id, name, deployment_id);
    stage.description = file.description;
    for (variable, value) in &file.variables {
        if let Some(reason) = stage_variable_value_problem(value) {
            problems.push(
                format!("{at}.variables.{variable}"),
                Problem::invalid("value of the stage variable", variable.as_str(), reason),
            );
        }
    }
    stage.variables = file.variables;
    stage.throttle = file.throttle.map(throttle);
    stage.access_log_format = file.access_log_format;
    if let Some(cache) = file.cache {
        stage.cache = CacheSettings {
            enabled: cache.enabled,
            ttl_seconds: cache.ttl_seconds.unwrap_or(DEFAULT_CACHE_TTL_SECONDS),
            capacity_bytes: cache.size_mb.map_or(DEFAULT_CACHE_CAPACITY_BYTES, |mb| {
                mb.saturating_mul(1024 * 1024)
            }),
        };
    }
    for (key, settings) in file.method_settings {
        if let Some(key) = record(
            MethodSettingsKey::parse(&key),
            format!("{at}.method_settings.{key}"),
            problems,
        ) {
            stage.method_settings.insert(
                key,
                StageMethodSettings {
                    throttle: settings.throttle.map(throttle),
                    caching_enabled: settings.caching_enabled,
                    cache_ttl_seconds: settings.cache_ttl_seconds,
                    require_authorization_for_cache_control: settings
                        .require_authorization_for_cache_control,
                },
            );
        }
    }
    stage
}

fn convert_plan(name: &str, file: FilePlan, at: &str, problems: &mut Problems) -> UsagePlan {
    let quota = file.quota.and_then(|q| {
        let period = record(
            QuotaPeriod::parse(&q.period),
            format!("{at}.quota.period"),
            problems,
        )?;
        Some(Quota {
            limit: q.limit,
            period,
            offset: q.offset,
        })
    });
    let stages = file
        .stages
        .into_iter()
        .map(|s| {
            let mut method_throttles = BTreeMap::new();
            for (key, t) in s.method_throttles {
                if let Some(key) = record(
                    MethodSettingsKey::parse(&key),
                    format!("{at}.stages.method_throttles.{key}"),
                    problems,
                ) {
                    method_throttles.insert(key, throttle(t));
                }
            }
            UsagePlanStage {
                api_id: s.api,
                stage: s.stage,
                method_throttles,
            }
        })
        .collect();
    UsagePlan {
        name: name.to_owned(),
        description: file.description,
        stages,
        throttle: file.throttle.map(throttle),
        quota,
    }
}
