//! OpenAPI 3.0 and Swagger 2.0 import, honouring API Gateway's `x-amazon-apigateway-*`
//! extensions.
//!
//! Supported: `x-amazon-apigateway-integration` (`http`, `http_proxy`, `mock`; `uri` with
//! `${stageVariables.x}`, `httpMethod`, `requestParameters`, `timeoutInMillis`,
//! `cacheKeyParameters`, `passthroughBehavior`, `responses` with `statusCode`,
//! `responseParameters` and — for mocks — `responseTemplates`, `requestTemplates` of the form
//! `{"statusCode": N}` for mocks), `x-amazon-apigateway-any-method`,
//! `x-amazon-apigateway-api-key-source`, `x-amazon-apigateway-request-validators`,
//! `x-amazon-apigateway-request-validator` (top level and operation), `x-amazon-apigateway-authorizer`
//! (`cognito_user_pools`, `jwt`, `token`, `request` with an HTTP `authorizerUri` or
//! `x-gatehouse-endpoint`), `x-amazon-apigateway-authtype: awsSigv4` / `x-amazon-apigateway-auth`,
//! `x-amazon-apigateway-cors`, `x-amazon-apigateway-binary-media-types`, security schemes
//! `api_key` (`in: header`, `name: x-api-key`) with per-operation and top-level `security`,
//! path-level `parameters`, local `$ref`s, request bodies → models.
//!
//! Everything else that API Gateway would act on is reported by name in
//! [`ImportReport::warnings`] (the method is skipped when it cannot be served faithfully), or
//! is an error when ignoring it would open access (`x-amazon-apigateway-policy`, a security
//! scheme gatehouse cannot enforce).

mod refs;

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::definition::error::{LoadError, Problem, Problems, Warning};
use crate::definition::limits::Limits;
use crate::definition::mapping::{
    IdentitySource, MappingSource, MappingTarget, ParameterMapping, RequestParam,
};
use crate::definition::model::{
    Api, ApiKeySource, Authorization, Authorizer, AuthorizerKind, CorsConfig,
    DEFAULT_AUTHORIZER_TTL_SECONDS, DEFAULT_TIMEOUT_MS, EndpointAuthorizer, EndpointAuthorizerKind,
    HeaderValueSource, HttpIntegration, HttpMethod, Integration, IntegrationResponse,
    JwtAuthorizer, JwtFlavor, MODEL_REF_PREFIX, Method, MethodSettings, MockIntegration, Model,
    PassthroughBehavior, RequestValidator, Resource, SelectionPattern, UserPoolRef,
};
use crate::definition::path::ResourcePath;
use crate::definition::stage::Deployment;
use crate::definition::template::UriTemplate;
use crate::definition::validate::{Locator, Site, is_identifier, join};

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
];

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
        mut warnings,
        ..
    } = importer;
    if problems.is_empty() {
        // The whole-API rules (cross-references, timeouts, sibling parameters), located the
        // OpenAPI way, so an import that succeeds also deploys.
        let locator = OpenApiLocator { version };
        crate::definition::validate::validate_api(&api, limits, &locator, &mut problems);
        warnings.extend(crate::definition::validate::api_warnings(
            &api, &locator, "security",
        ));
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
        if let Some(source) = top.get("x-amazon-apigateway-api-key-source") {
            let at = "x-amazon-apigateway-api-key-source";
            let parsed = source
                .as_str()
                .ok_or_else(|| {
                    Problem::invalid("api key source", source.to_string(), "expected a string")
                })
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
        if let Some(name) = top
            .get("x-amazon-apigateway-request-validator")
            .and_then(Value::as_str)
        {
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

    fn security_schemes(&mut self, api: &mut Api) {
        let (pointer, base) = match self.version {
            SpecVersion::OpenApi3 => ("/components/securitySchemes", "components.securitySchemes"),
            SpecVersion::Swagger2 => ("/securityDefinitions", "securityDefinitions"),
        };
        let Some(schemes) = self.root.pointer(pointer).and_then(Value::as_object) else {
            return;
        };
        for (name, scheme) in schemes {
            let at = format!("{base}.{name}");
            let Some(scheme) = self.resolve(scheme, &at) else {
                continue;
            };
            let kind = scheme
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let meaning = if let Some(authorizer) = scheme.get("x-amazon-apigateway-authorizer") {
                let header = scheme.get("name").and_then(Value::as_str);
                match self.authorizer(
                    authorizer,
                    header,
                    &format!("{at}.x-amazon-apigateway-authorizer"),
                ) {
                    Some(kind) => {
                        api.authorizers.insert(
                            name.clone(),
                            Authorizer {
                                name: name.clone(),
                                kind,
                            },
                        );
                        Scheme::Authorizer
                    }
                    None => Scheme::Unsupported("its authorizer could not be imported".to_owned()),
                }
            } else if scheme
                .get("x-amazon-apigateway-authtype")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("awsSigv4"))
            {
                Scheme::Iam
            } else if kind == "apiKey" {
                let location = scheme.get("in").and_then(Value::as_str).unwrap_or_default();
                let header = scheme
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if location == "header" && header.eq_ignore_ascii_case("x-api-key") {
                    Scheme::ApiKey
                } else {
                    let why = format!(
                        "an API key scheme must be `in: header` with `name: x-api-key` (found `in: {location}`, `name: {header}`)"
                    );
                    self.warn(&at, name.as_str(), why.clone());
                    Scheme::Unsupported(why)
                }
            } else {
                let why = format!(
                    "security scheme type `{kind}` without `x-amazon-apigateway-authorizer` cannot be enforced"
                );
                self.warn(&at, name.as_str(), why.clone());
                Scheme::Unsupported(why)
            };
            self.schemes.insert(name.clone(), meaning);
        }
    }

    fn authorizer(
        &mut self,
        value: &Value,
        scheme_header: Option<&str>,
        at: &str,
    ) -> Option<AuthorizerKind> {
        let Some(obj) = value.as_object() else {
            self.problems.push(
                at,
                Problem::invalid("authorizer", value.to_string(), "expected a mapping"),
            );
            return None;
        };
        for key in obj.keys() {
            match key.as_str() {
                "type"
                | "authorizerUri"
                | "authorizerResultTtlInSeconds"
                | "identitySource"
                | "identityValidationExpression"
                | "providerARNs"
                | "jwtConfiguration"
                | "x-gatehouse-endpoint" => {}
                "authorizerCredentials" => self.warn(
                    format!("{at}.{key}"),
                    key.as_str(),
                    "gatehouse calls the endpoint directly; no credentials are used",
                ),
                other => self.warn(
                    format!("{at}.{other}"),
                    other,
                    "not supported for authorizers; ignored",
                ),
            }
        }
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let sources_text = obj.get("identitySource").map(|v| match v {
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            other => other.as_str().unwrap_or_default().to_owned(),
        });
        let mut identity_sources = Vec::new();
        for source in sources_text
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if let Some(parsed) = self.record(
                IdentitySource::parse(source),
                format!("{at}.identitySource"),
            ) {
                identity_sources.push(parsed);
            }
        }
        let ttl = match obj.get("authorizerResultTtlInSeconds") {
            None => DEFAULT_AUTHORIZER_TTL_SECONDS,
            Some(v) => match v.as_u64().and_then(|t| u32::try_from(t).ok()) {
                Some(t) => t,
                None => {
                    self.problems.push(
                        format!("{at}.authorizerResultTtlInSeconds"),
                        Problem::OutOfRange {
                            what: "authorizer result ttl",
                            value: v.to_string(),
                            range: "0..=3600 seconds",
                        },
                    );
                    DEFAULT_AUTHORIZER_TTL_SECONDS
                }
            },
        };
        match kind.as_str() {
            "cognito_user_pools" | "jwt" => {
                let mut user_pools = Vec::new();
                for arn in obj.get("providerARNs").map(string_list).unwrap_or_default() {
                    if let Some(pool) =
                        self.record(UserPoolRef::parse(&arn), format!("{at}.providerARNs"))
                    {
                        user_pools.push(pool);
                    }
                }
                let jwt_config = obj.get("jwtConfiguration");
                let issuers = jwt_config
                    .and_then(|c| c.get("issuer"))
                    .map(string_list)
                    .unwrap_or_default();
                let audiences = jwt_config
                    .and_then(|c| c.get("audience"))
                    .map(string_list)
                    .unwrap_or_default();
                let identity_source = identity_sources
                    .into_iter()
                    .next()
                    .or_else(|| scheme_header.map(IdentitySource::header))
                    .unwrap_or_else(|| IdentitySource::header("Authorization"));
                Some(AuthorizerKind::Jwt(JwtAuthorizer {
                    flavor: if kind == "jwt" {
                        JwtFlavor::Jwt
                    } else {
                        JwtFlavor::CognitoUserPools
                    },
                    issuers,
                    audiences,
                    user_pools,
                    identity_source,
                }))
            }
            "token" | "request" => {
                let endpoint_text = obj
                    .get("x-gatehouse-endpoint")
                    .or_else(|| obj.get("authorizerUri"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if endpoint_text.starts_with("arn:") {
                    self.problems.push(
                        format!("{at}.authorizerUri"),
                        Problem::unsupported(endpoint_text, "a Lambda authorizer has no gatehouse equivalent; set `x-gatehouse-endpoint` to an HTTP endpoint that answers the authorizer event"),
                    );
                    return None;
                }
                let endpoint = self.record(
                    UriTemplate::parse(endpoint_text),
                    format!("{at}.authorizerUri"),
                )?;
                let kind = if kind == "token" {
                    EndpointAuthorizerKind::Token
                } else {
                    EndpointAuthorizerKind::Request
                };
                if kind == EndpointAuthorizerKind::Token && identity_sources.is_empty() {
                    identity_sources.push(IdentitySource::header(
                        scheme_header.unwrap_or("Authorization"),
                    ));
                }
                let expression = match obj
                    .get("identityValidationExpression")
                    .and_then(Value::as_str)
                {
                    Some(e) => Some(self.record(
                        SelectionPattern::new(e),
                        format!("{at}.identityValidationExpression"),
                    )?),
                    None => None,
                };
                Some(AuthorizerKind::Endpoint(EndpointAuthorizer {
                    kind,
                    endpoint,
                    identity_sources,
                    result_ttl_seconds: ttl,
                    identity_validation_expression: expression,
                }))
            }
            other => {
                self.problems.push(
                    format!("{at}.type"),
                    Problem::invalid(
                        "authorizer type",
                        other,
                        "expected token, request, cognito_user_pools or jwt",
                    ),
                );
                None
            }
        }
    }

    fn operation(
        &mut self,
        api: &mut Api,
        operation: &Value,
        at: &str,
        method: HttpMethod,
        ctx: &OperationContext<'_>,
    ) -> Option<Method> {
        let operation = self.resolve(operation, at)?;
        let Some(op) = operation.as_object() else {
            self.problems.push(
                at,
                Problem::invalid("operation", operation.to_string(), "expected a mapping"),
            );
            return None;
        };
        for key in op.keys() {
            if key.starts_with("x-amazon-apigateway-")
                && !matches!(
                    key.as_str(),
                    "x-amazon-apigateway-integration"
                        | "x-amazon-apigateway-request-validator"
                        | "x-amazon-apigateway-auth"
                )
            {
                self.warn(
                    format!("{at}.{key}"),
                    key.as_str(),
                    "not supported on an operation; ignored",
                );
            }
        }
        let mut settings = MethodSettings::default();

        // Parameters: path level first, the operation's override by (in, name).
        let mut params: BTreeMap<(String, String), (bool, String)> = BTreeMap::new();
        let mut body_schema: Option<(Vec<String>, Value)> = None;
        for (list, list_at) in [
            (ctx.path_params, format!("paths.{}.parameters", ctx.path)),
            (op.get("parameters"), format!("{at}.parameters")),
        ] {
            let Some(list) = list.and_then(Value::as_array) else {
                continue;
            };
            for (i, param) in list.iter().enumerate() {
                let p_at = format!("{list_at}.{i}");
                let Some(param) = self.resolve(param, &p_at) else {
                    continue;
                };
                let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
                let name = param
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let required = param
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(location == "path");
                match location {
                    "path" | "query" | "header" => {
                        params.insert((location.to_owned(), name.to_owned()), (required, p_at));
                    }
                    "body" => {
                        let consumes = op
                            .get("consumes")
                            .map(string_list)
                            .unwrap_or_else(|| ctx.consumes_default.to_vec());
                        if let Some(schema) = param.get("schema") {
                            body_schema = Some((consumes, schema.clone()));
                        }
                    }
                    other => self.warn(
                        &p_at,
                        format!("in: {other}"),
                        format!(
                            "`{other}` parameters are not validated by gatehouse; `{name}` ignored"
                        ),
                    ),
                }
            }
        }
        for ((location, name), (required, p_at)) in params {
            let word = match location.as_str() {
                "path" => "path",
                "query" => "querystring",
                _ => "header",
            };
            if let Some(param) = self.record(
                RequestParam::parse(&format!("method.request.{word}.{name}"), false),
                p_at,
            ) {
                settings.request_parameters.insert(param, required);
            }
        }
        if let Some(body) = op.get("requestBody") {
            let b_at = format!("{at}.requestBody");
            if let Some(body) = self.resolve(body, &b_at)
                && let Some(content) = body.get("content").and_then(Value::as_object)
            {
                for (content_type, media) in content {
                    if let Some(schema) = media.get("schema") {
                        let model = self.body_model(
                            api,
                            schema,
                            &format!("{b_at}.content.{content_type}.schema"),
                            method,
                            ctx.path,
                            content_type,
                        );
                        if let Some(model) = model {
                            settings.request_models.insert(content_type.clone(), model);
                        }
                    }
                }
            }
        }
        if let Some((consumes, schema)) = body_schema {
            let types = if consumes.is_empty() {
                vec!["application/json".to_owned()]
            } else {
                consumes
            };
            for content_type in types {
                if let Some(model) = self.body_model(
                    api,
                    &schema,
                    &format!("{at}.parameters.body.schema"),
                    method,
                    ctx.path,
                    &content_type,
                ) {
                    settings.request_models.insert(content_type, model);
                }
            }
        }
        if let Some(name) = op
            .get("x-amazon-apigateway-request-validator")
            .and_then(Value::as_str)
        {
            settings.request_validator = Some(name.to_owned());
        }

        // Security: the operation's list, else the document's; `[]` is explicitly open.
        let security = op.get("security").or(ctx.default_security);
        if let Some(requirements) = security.and_then(Value::as_array) {
            let s_at = format!("{at}.security");
            for requirement in requirements {
                let Some(requirement) = requirement.as_object() else {
                    continue;
                };
                for (name, scopes) in requirement {
                    match self.schemes.get(name).cloned() {
                        Some(Scheme::ApiKey) => settings.api_key_required = true,
                        Some(Scheme::Iam) => settings.authorization = Authorization::AwsIam,
                        Some(Scheme::Authorizer) => {
                            if let Authorization::Authorizer { name: other, .. } =
                                &settings.authorization
                                && other != name
                            {
                                self.problems.push(
                                    &s_at,
                                    Problem::invalid(
                                        "security",
                                        name.as_str(),
                                        format!(
                                            "a method has one authorizer; `{other}` is already set"
                                        ),
                                    ),
                                );
                                continue;
                            }
                            settings.authorization = Authorization::Authorizer {
                                name: name.clone(),
                                scopes: string_list(scopes),
                            };
                        }
                        Some(Scheme::Unsupported(why)) => {
                            self.problems.push(
                                &s_at,
                                Problem::unsupported(
                                    name.as_str(),
                                    format!("this method requires it and {why}"),
                                ),
                            );
                        }
                        None => self
                            .problems
                            .push(&s_at, Problem::unknown("security scheme", name.as_str())),
                    }
                }
            }
        }
        if let Some(auth) = op.get("x-amazon-apigateway-auth") {
            match auth
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("AWS_IAM") => settings.authorization = Authorization::AwsIam,
                Some("NONE") => {}
                other => self.problems.push(
                    format!("{at}.x-amazon-apigateway-auth.type"),
                    Problem::invalid(
                        "auth type",
                        format!("{other:?}"),
                        "expected AWS_IAM or NONE",
                    ),
                ),
            }
        }

        let i_at = format!("{at}.x-amazon-apigateway-integration");
        let Some(integration) = op.get("x-amazon-apigateway-integration") else {
            self.warn(
                at,
                "x-amazon-apigateway-integration",
                "the operation has no integration; the method is not imported",
            );
            return None;
        };
        let integration = self.resolve(integration, &i_at)?;
        let integration = self.integration(integration, &i_at, &mut settings)?;
        Some(Method {
            operation_name: op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            settings,
            integration,
        })
    }

    /// Makes a model for a request body schema: a reference to a named schema becomes that
    /// model; an inline schema becomes a model named after the method and path.
    fn body_model(
        &mut self,
        api: &mut Api,
        schema: &Value,
        at: &str,
        method: HttpMethod,
        path: &ResourcePath,
        content_type: &str,
    ) -> Option<String> {
        if let Some(reference) = refs::ref_of(schema) {
            let name = self.schema_name(reference, at)?;
            if !self.queued_models.contains(&name) {
                self.queued_models.push(name.clone());
            }
            return Some(name);
        }
        let mut name: String = format!(
            "{}{}Body",
            method.as_str().to_ascii_lowercase(),
            path.as_str()
        )
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
        if api.models.contains_key(&name) {
            name.push_str("_2");
        }
        let converted = self.convert_schema(schema, at, 0)?;
        api.models.insert(
            name.clone(),
            Model {
                name: name.clone(),
                content_type: content_type.to_owned(),
                schema: converted,
            },
        );
        Some(name)
    }

    /// `#/components/schemas/Pet` or `#/definitions/Pet` → `Pet`.
    fn schema_name(&mut self, reference: &str, at: &str) -> Option<String> {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .or_else(|| reference.strip_prefix("#/definitions/"));
        match name {
            Some(name) if is_identifier(name, 128) => {
                // Check it exists (and is not a pure `$ref` loop).
                let target = self.root.pointer(reference.trim_start_matches('#'));
                match target {
                    None => {
                        self.problems.push(
                            at,
                            Problem::UnresolvedRef {
                                reference: reference.to_owned(),
                            },
                        );
                        None
                    }
                    Some(target) => {
                        if let Err(p) = refs::resolve(self.root, target) {
                            self.problems.push(at, p);
                            return None;
                        }
                        Some(name.to_owned())
                    }
                }
            }
            _ => {
                self.problems.push(at, Problem::unsupported(reference, "a schema reference must name `#/components/schemas/NAME` or `#/definitions/NAME` with NAME of letters, digits, `-` and `_`"));
                None
            }
        }
    }

    /// Copies a schema, turning references to named schemas into model references.
    fn convert_schema(&mut self, schema: &Value, at: &str, depth: usize) -> Option<Value> {
        if depth > 64 {
            self.problems.push(
                at,
                Problem::TooMany {
                    what: "schema nesting levels",
                    count: depth,
                    limit: 64,
                },
            );
            return None;
        }
        Some(match schema {
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, value) in map {
                    if key == "$ref" {
                        let reference = value.as_str().unwrap_or_default();
                        let name = self.schema_name(reference, at)?;
                        if !self.queued_models.contains(&name) {
                            self.queued_models.push(name.clone());
                        }
                        out.insert(
                            key.clone(),
                            Value::String(format!("{MODEL_REF_PREFIX}{name}")),
                        );
                    } else {
                        out.insert(key.clone(), self.convert_schema(value, at, depth + 1)?);
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.convert_schema(v, at, depth + 1))
                    .collect::<Option<_>>()?,
            ),
            other => other.clone(),
        })
    }

    fn create_queued_models(&mut self, api: &mut Api) {
        let base = match self.version {
            SpecVersion::OpenApi3 => "/components/schemas/",
            SpecVersion::Swagger2 => "/definitions/",
        };
        let mut i = 0;
        while let Some(name) = self.queued_models.get(i).cloned() {
            i += 1;
            if api.models.contains_key(&name) {
                continue;
            }
            let at = format!("{}{name}", base.trim_start_matches('/').replace('/', "."));
            let Some(schema) = self.root.pointer(&format!("{base}{name}")) else {
                // A Swagger 2 document may reference `#/components/…` by mistake (or vice versa).
                self.problems.push(
                    at,
                    Problem::UnresolvedRef {
                        reference: format!("#{base}{name}"),
                    },
                );
                continue;
            };
            if let Some(converted) = self.convert_schema(schema, &at, 0) {
                api.models.insert(
                    name.clone(),
                    Model {
                        name,
                        content_type: "application/json".to_owned(),
                        schema: converted,
                    },
                );
            }
        }
    }

    fn integration(
        &mut self,
        value: &Value,
        at: &str,
        settings: &mut MethodSettings,
    ) -> Option<Integration> {
        let Some(obj) = value.as_object() else {
            self.problems.push(
                at,
                Problem::invalid("integration", value.to_string(), "expected a mapping"),
            );
            return None;
        };
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        match kind.as_str() {
            "http" | "http_proxy" | "mock" => {}
            "aws_proxy" => {
                self.warn(format!("{at}.type"), "type: aws_proxy", "Lambda proxy integrations have no gatehouse equivalent; the method is not imported (use `http_proxy` to an HTTP backend)");
                return None;
            }
            "aws" => {
                self.warn(
                    format!("{at}.type"),
                    "type: aws",
                    "AWS service integrations are not supported; the method is not imported",
                );
                return None;
            }
            other => {
                self.problems.push(
                    format!("{at}.type"),
                    Problem::invalid(
                        "integration type",
                        other,
                        "expected http, http_proxy, mock, aws_proxy or aws",
                    ),
                );
                return None;
            }
        }
        let connection = obj
            .get("connectionType")
            .and_then(Value::as_str)
            .unwrap_or("INTERNET");
        if connection != "INTERNET" || obj.contains_key("connectionId") {
            self.warn(
                format!("{at}.connectionType"),
                format!("connectionType: {connection}"),
                "private (VPC link) integrations are not supported; the method is not imported",
            );
            return None;
        }
        for key in obj.keys() {
            let known = matches!(
                key.as_str(),
                "type"
                    | "uri"
                    | "httpMethod"
                    | "requestParameters"
                    | "timeoutInMillis"
                    | "cacheKeyParameters"
                    | "responses"
                    | "requestTemplates"
                    | "passthroughBehavior"
            );
            match key.as_str() {
                _ if known => {}
                "connectionType" | "connectionId" => {}
                "payloadFormatVersion" if obj.get(key).and_then(Value::as_str) == Some("1.0") => {}
                other => self.warn(
                    format!("{at}.{other}"),
                    other,
                    "not supported for integrations; ignored",
                ),
            }
        }
        for param in obj
            .get("cacheKeyParameters")
            .map(string_list)
            .unwrap_or_default()
        {
            if let Some(p) = self.record(
                RequestParam::parse(&param, false),
                format!("{at}.cacheKeyParameters"),
            ) {
                settings.cache_key_parameters.push(p);
            }
        }
        let responses = self.integration_responses(
            obj.get("responses"),
            &format!("{at}.responses"),
            kind == "mock",
            kind == "http_proxy",
        );
        if kind == "mock" {
            let mut status_by_content_type = BTreeMap::new();
            if let Some(templates) = obj.get("requestTemplates").and_then(Value::as_object) {
                for (content_type, template) in templates {
                    let t_at = format!("{at}.requestTemplates.{content_type}");
                    match template.as_str().and_then(mock_status) {
                        Some(status) => {
                            status_by_content_type.insert(content_type.to_ascii_lowercase(), status);
                        }
                        None => self.warn(t_at, "requestTemplates", "only `{\"statusCode\": N}` templates are understood (no VTL); status 200 is used"),
                    }
                }
            }
            return Some(Integration::Mock(MockIntegration {
                status_by_content_type,
                responses,
            }));
        }
        let uri_text = obj.get("uri").and_then(Value::as_str).unwrap_or_default();
        let uri = self.record(UriTemplate::parse(uri_text), format!("{at}.uri"))?;
        let mut http = HttpIntegration::new(uri);
        if let Some(method) = obj.get("httpMethod").and_then(Value::as_str) {
            http.method = self
                .record(HttpMethod::parse(method), format!("{at}.httpMethod"))
                .unwrap_or(HttpMethod::Any);
        }
        http.timeout_ms = match obj.get("timeoutInMillis") {
            None => DEFAULT_TIMEOUT_MS,
            Some(v) => v
                .as_u64()
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(u32::MAX),
        };
        if let Some(p) = obj.get("passthroughBehavior").and_then(Value::as_str) {
            http.passthrough = self
                .record(
                    PassthroughBehavior::parse(p),
                    format!("{at}.passthroughBehavior"),
                )
                .unwrap_or_default();
        }
        if let Some(mappings) = obj.get("requestParameters").and_then(Value::as_object) {
            for (target, source) in mappings {
                let m_at = format!("{at}.requestParameters.{target}");
                let target = self.record(
                    MappingTarget::parse(target).and_then(require_long_target(target)),
                    &m_at,
                );
                let source = self.record(
                    MappingSource::parse(source.as_str().unwrap_or_default()),
                    &m_at,
                );
                if let (Some(target), Some(source)) = (target, source) {
                    http.request_parameters
                        .push(ParameterMapping { target, source });
                }
            }
        }
        if obj.contains_key("requestTemplates") {
            self.warn(
                format!("{at}.requestTemplates"),
                "requestTemplates",
                "mapping templates (VTL) are not evaluated; request bodies pass through",
            );
        }
        if kind == "http" {
            http.responses = responses;
            Some(Integration::Http(http))
        } else {
            Some(Integration::HttpProxy(http))
        }
    }

    fn integration_responses(
        &mut self,
        value: Option<&Value>,
        at: &str,
        mock: bool,
        proxy: bool,
    ) -> Vec<IntegrationResponse> {
        let Some(map) = value.and_then(Value::as_object) else {
            return Vec::new();
        };
        if proxy {
            self.warn(
                at,
                "responses",
                "an HTTP proxy integration passes the backend's response through; ignored",
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        for (pattern, response) in map {
            let r_at = format!("{at}.{pattern}");
            let selection = if pattern == "default" || pattern.is_empty() {
                None
            } else {
                match self.record(SelectionPattern::new(pattern), &r_at) {
                    Some(p) => Some(p),
                    None => continue,
                }
            };
            let status = match response.get("statusCode") {
                Some(Value::String(s)) => s.parse::<u16>().ok(),
                Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                _ => None,
            };
            let Some(status) = status else {
                self.problems.push(
                    format!("{r_at}.statusCode"),
                    Problem::Missing {
                        field: "statusCode",
                    },
                );
                continue;
            };
            let mut headers = Vec::new();
            if let Some(params) = response
                .get("responseParameters")
                .and_then(Value::as_object)
            {
                for (target, source) in params {
                    let p_at = format!("{r_at}.responseParameters.{target}");
                    let Some(header) = target.strip_prefix("method.response.header.") else {
                        self.problems.push(
                            p_at,
                            Problem::invalid(
                                "response parameter",
                                target.as_str(),
                                "expected `method.response.header.NAME`",
                            ),
                        );
                        continue;
                    };
                    let source = source.as_str().unwrap_or_default();
                    if let Some(literal) =
                        source.strip_prefix('\'').and_then(|s| s.strip_suffix('\''))
                    {
                        headers.push((
                            header.to_owned(),
                            HeaderValueSource::Literal(literal.to_owned()),
                        ));
                    } else if let Some(backend) =
                        source.strip_prefix("integration.response.header.")
                    {
                        headers.push((
                            header.to_owned(),
                            HeaderValueSource::BackendHeader(backend.to_owned()),
                        ));
                    } else {
                        self.warn(p_at, source, "only 'static' values and `integration.response.header.NAME` are supported; header not set");
                    }
                }
            }
            let mut bodies = BTreeMap::new();
            if let Some(templates) = response.get("responseTemplates").and_then(Value::as_object) {
                if mock {
                    for (content_type, template) in templates {
                        let text = template.as_str().unwrap_or_default();
                        if looks_like_vtl(text) {
                            self.warn(
                                format!("{r_at}.responseTemplates.{content_type}"),
                                "responseTemplates",
                                "VTL is not evaluated; the template is served verbatim",
                            );
                        }
                        bodies.insert(content_type.to_ascii_lowercase(), text.to_owned());
                    }
                } else {
                    self.warn(format!("{r_at}.responseTemplates"), "responseTemplates", "mapping templates (VTL) are not evaluated; the backend body passes through");
                }
            }
            if let Some(obj) = response.as_object() {
                for key in obj.keys() {
                    if !matches!(
                        key.as_str(),
                        "statusCode" | "responseParameters" | "responseTemplates"
                    ) {
                        self.warn(
                            format!("{r_at}.{key}"),
                            key.as_str(),
                            "not supported for integration responses; ignored",
                        );
                    }
                }
            }
            out.push(IntegrationResponse {
                selection,
                status,
                headers,
                bodies,
            });
        }
        out
    }
}

struct OperationContext<'v> {
    path: &'v ResourcePath,
    path_params: Option<&'v Value>,
    default_security: Option<&'v Value>,
    consumes_default: &'v [String],
}

/// OpenAPI requires the full `integration.request.…` form.
fn require_long_target(
    text: &str,
) -> impl FnOnce(MappingTarget) -> Result<MappingTarget, Problem> + '_ {
    move |target| {
        if text.starts_with("integration.request.") {
            Ok(target)
        } else {
            Err(Problem::invalid(
                "mapping target",
                text,
                "expected `integration.request.{path|querystring|header}.NAME`",
            ))
        }
    }
}

/// `{"statusCode": 200}` (or `"200"`) → 200.
fn mock_status(template: &str) -> Option<u16> {
    let value: Value = serde_json::from_str(template).ok()?;
    let code = value.as_object()?.get("statusCode")?;
    match code {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn looks_like_vtl(text: &str) -> bool {
    [
        "$input",
        "$context",
        "$util",
        "$stageVariables",
        "#set",
        "#if",
        "#foreach",
    ]
    .iter()
    .any(|m| text.contains(m))
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
    fn mock_status_templates() {
        assert_eq!(mock_status(r#"{"statusCode": 200}"#), Some(200));
        assert_eq!(mock_status(r#"{"statusCode": "404"}"#), Some(404));
        assert_eq!(mock_status("#set($x = 1) {\"statusCode\": 200}"), None);
        assert_eq!(mock_status(r#"{"statusCode": 70000}"#), None);
    }

    #[test]
    fn duplicate_names_are_unique_sets() {
        let set: BTreeSet<&str> = TOP_LEVEL_SUPPORTED.iter().copied().collect();
        assert_eq!(set.len(), TOP_LEVEL_SUPPORTED.len());
    }
}
