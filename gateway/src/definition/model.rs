//! The API definition model: what an API *is*, independent of how it was written down.
//!
//! Both the declarative file and OpenAPI import produce an [`Api`]; a [`crate::definition::stage::Deployment`]
//! validates it and freezes it; the route table and the request pipeline only ever see
//! validated, frozen APIs. Types that have a syntax of their own (paths, URI templates,
//! parameter expressions, regular expressions) are parsed when the model is built, so the
//! pipeline never parses per request.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::definition::error::Problem;
use crate::definition::functions::{FunctionRef, PayloadFormat};
use crate::definition::mapping::{IdentitySource, ParameterMapping, RequestParam};
use crate::definition::path::ResourcePath;
use crate::definition::template::UriTemplate;

/// An API: a tree of resources with their methods, plus what those methods refer to by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// Stable identifier (`[A-Za-z0-9_-]{1,64}`): the key in the declarative file, the
    /// `{apiId}` of `{apiId}.execute-api.…` hosts and `$context.apiId`.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Resources by path template; at most one per path.
    pub resources: BTreeMap<String, Resource>,
    /// Authorizers by name, referenced from [`Authorization::Authorizer`].
    pub authorizers: BTreeMap<String, Authorizer>,
    /// JSON-schema models by name, referenced from [`MethodSettings::request_models`].
    pub models: BTreeMap<String, Model>,
    /// Request validators by name, referenced from [`MethodSettings::request_validator`].
    pub request_validators: BTreeMap<String, RequestValidator>,
    /// The validator a method uses when it names none (`x-amazon-apigateway-request-validator`
    /// at the top level of an OpenAPI document).
    pub default_request_validator: Option<String>,
    /// CORS preflight handling at the gateway; `None` leaves `OPTIONS` to the methods.
    pub cors: Option<CorsConfig>,
    /// Where the API key of a method with `api_key_required` comes from.
    pub api_key_source: ApiKeySource,
    /// Media types (`image/png`, `*/*`) whose bodies are binary (the pipeline never treats them
    /// as text, e.g. for mock templates or logging).
    pub binary_media_types: Vec<String>,
    /// How the API's `https://` backends are verified and what the gateway presents to them.
    pub backend_tls: BackendTlsSettings,
}

/// TLS to an API's `https://` backends (`tls_config` of an API in the declarative format).
/// The files are named, not read: the data plane reads them when it builds a snapshot, so a
/// private key never enters a definition or a stored deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendTlsSettings {
    /// A PEM bundle of CA certificates the API's backends are verified against, instead of
    /// the Mozilla roots (a private CA).
    pub trusted_ca: Option<PathBuf>,
    /// A certificate the gateway presents to backends that ask for one (mTLS).
    pub client_certificate: Option<ClientCertificate>,
}

/// A client certificate chain and its private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// A resource: a path template and the methods defined on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub path: ResourcePath,
    pub methods: BTreeMap<HttpMethod, Method>,
}

/// An HTTP method of a definition. `Any` (API Gateway's `ANY`,
/// `x-amazon-apigateway-any-method`) serves every request method that has no entry of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Any,
}

/// One method of a resource: what to check (settings) and where to send the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    /// `operationId` from OpenAPI, for logs and metrics.
    pub operation_name: Option<String>,
    pub settings: MethodSettings,
    pub integration: Integration,
}

/// The per-method request checks that run before the integration.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSettings {
    pub authorization: Authorization,
    /// Require a valid API key (from [`Api::api_key_source`]) bound to a usage plan of the
    /// stage. Independent of `authorization`: "API key only" is `Authorization::None` with
    /// this set, and a method may require both a key and a JWT.
    pub api_key_required: bool,
    /// Name of a validator in [`Api::request_validators`]; `None` falls back to
    /// [`Api::default_request_validator`].
    pub request_validator: Option<String>,
    /// Body model per content type (`application/json`, or `$default` for any type).
    pub request_models: BTreeMap<String, String>,
    /// Declared method request parameters and whether each is required.
    pub request_parameters: BTreeMap<RequestParam, bool>,
    /// Parameters that take part in the cache key (in addition to method and path).
    pub cache_key_parameters: Vec<RequestParam>,
    /// A throttle for this method, overridden by a stage's per-method setting.
    pub throttle: Option<Throttle>,
}

/// How callers of a method are authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// Open (an API key may still be required, see [`MethodSettings::api_key_required`]).
    None,
    /// A named authorizer of the API; `scopes` are the OAuth scopes of which the token must
    /// carry at least one (Cognito/JWT authorizers only; empty means no scope check).
    Authorizer { name: String, scopes: Vec<String> },
    /// SigV4 with gatehouse credentials (`AWS_IAM`), evaluated against `execute-api:Invoke`.
    AwsIam,
}

/// Where a method's request goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Integration {
    /// `HTTP_PROXY`: the request is passed through to the endpoint and the response back.
    HttpProxy(HttpIntegration),
    /// `HTTP` (non-proxy): like the proxy, with parameter mappings, and the backend's status
    /// selects an [`IntegrationResponse`] that sets the method response's status and headers.
    /// Mapping templates (VTL) are not supported: bodies pass through unchanged.
    Http(HttpIntegration),
    /// `MOCK`: the gateway answers from the definition.
    Mock(MockIntegration),
    /// `AWS_PROXY` to a Lambda function: the request becomes API Gateway's Lambda proxy event,
    /// POSTed to the endpoint registered for the function, and its answer the response.
    Function(FunctionIntegration),
}

/// A Lambda proxy integration.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionIntegration {
    pub function: FunctionRef,
    pub payload_format: PayloadFormat,
    /// The integration's own limit (`timeoutInMillis`, 50..=29000, default 29000) → 504; the
    /// function's registered time limit applies inside it (→ 502, as a Lambda timing out).
    pub timeout_ms: u32,
}

/// An HTTP backend.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpIntegration {
    pub uri: UriTemplate,
    /// The backend method; `Any` sends the request's own method.
    pub method: HttpMethod,
    /// 50..=29000, default 29000; past it the pipeline answers 504.
    pub timeout_ms: u32,
    /// Integration request parameters to set. A `{name}` in the URI with no
    /// `integration.request.path.name` mapping takes the method path parameter of that name.
    pub request_parameters: Vec<ParameterMapping>,
    /// What happens to a body when no mapping template applies (always the case here).
    pub passthrough: PassthroughBehavior,
    /// Non-proxy only: responses selected by the backend's status code. Empty means the
    /// backend's status and headers pass through.
    pub responses: Vec<IntegrationResponse>,
    /// OpenAPI's `tlsConfig.insecureSkipVerification`: an `https://` backend's certificate is
    /// not verified (the connection is still encrypted). Warned about at load time.
    pub insecure_skip_verification: bool,
}

/// API Gateway's `passthroughBehavior`. gatehouse evaluates no mapping templates, so
/// `WhenNoMatch` and `WhenNoTemplates` pass bodies through and `Never` refuses a request that
/// has a body with 415 Unsupported Media Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PassthroughBehavior {
    #[default]
    WhenNoMatch,
    WhenNoTemplates,
    Never,
}

/// A mock integration: the status comes from the request template (`{"statusCode": 200}`)
/// chosen by the request's `Content-Type`, then selects one of `responses`.
#[derive(Debug, Clone, PartialEq)]
pub struct MockIntegration {
    /// Integration status per request content type (from `requestTemplates`).
    pub status_by_content_type: BTreeMap<String, u16>,
    pub responses: Vec<IntegrationResponse>,
}

/// An integration response: when `selection` matches the integration's status, the method
/// responds with `status`, `headers` and (mock only) `bodies`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationResponse {
    /// `None` is the default response (API Gateway's `default` key or an empty pattern).
    pub selection: Option<SelectionPattern>,
    pub status: u16,
    /// Response headers: a static value or a header of the backend's response.
    pub headers: Vec<(String, HeaderValueSource)>,
    /// Body per content type; served verbatim (no VTL evaluation).
    pub bodies: BTreeMap<String, String>,
}

/// Where a response header's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValueSource {
    /// `'value'`.
    Literal(String),
    /// `integration.response.header.NAME` (HTTP integrations only).
    BackendHeader(String),
}

/// A `selectionPattern`: a regular expression matched against the whole status code.
#[derive(Debug, Clone)]
pub struct SelectionPattern {
    source: String,
    regex: regex::Regex,
}

/// API key sources (`x-amazon-apigateway-api-key-source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    #[default]
    Header,
    /// The `usageIdentifierKey` returned by a request/token authorizer.
    Authorizer,
}

/// A rate limit: a steady rate and a burst (token bucket / GCRA).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    /// Requests per second, finite and ≥ 0 (0 blocks every request).
    pub rate_per_second: f64,
    /// Bucket size.
    pub burst: u32,
}

/// A named authorizer.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorizer {
    pub name: String,
    pub kind: AuthorizerKind,
}

/// The kinds of authorizers.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizerKind {
    /// `COGNITO_USER_POOLS` (REST APIs) or `jwt` (HTTP APIs): verify a JWT.
    Jwt(JwtAuthorizer),
    /// `TOKEN` / `REQUEST`: call an HTTP endpoint with API Gateway's authorizer event and
    /// evaluate the policy document it answers.
    Endpoint(EndpointAuthorizer),
}

/// A JWT authorizer.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtAuthorizer {
    pub flavor: JwtFlavor,
    /// Accepted `iss` values (remote OIDC issuers). Gatehouse pools are named by
    /// `user_pools` instead, because their issuer depends on the public URL.
    pub issuers: Vec<String>,
    /// Accepted `aud` (id tokens) / `client_id` (access tokens). Required (non-empty) for
    /// `jwt` authorizers and whenever `issuers` names a remote issuer, which other
    /// applications share; empty only for `cognito_user_pools` authorizers of gatehouse
    /// pools, where it accepts any client of the pool, as REST API Cognito authorizers do.
    pub audiences: Vec<String>,
    /// User pools from `providerARNs`.
    pub user_pools: Vec<UserPoolRef>,
    /// Where the token is read from (default `Authorization` header).
    pub identity_source: IdentitySource,
}

/// `COGNITO_USER_POOLS` vs HTTP API `jwt`: they differ in what they check by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtFlavor {
    CognitoUserPools,
    Jwt,
}

/// A Cognito user pool named by ARN: `arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPoolRef {
    pub arn: String,
    pub region: String,
    pub account: String,
    pub pool_id: String,
}

/// A `TOKEN` or `REQUEST` authorizer: the authorizer event goes as a JSON `POST` to an HTTP
/// endpoint, or to the endpoint registered for a Lambda function.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointAuthorizer {
    pub kind: EndpointAuthorizerKind,
    pub target: AuthorizerTarget,
    /// `TOKEN`: exactly one header. `REQUEST`: one or more sources; a request missing any of
    /// them is refused with 401 before the endpoint is called.
    pub identity_sources: Vec<IdentitySource>,
    /// Seconds to cache a result per identity (0..=3600, default 300; 0 disables caching).
    pub result_ttl_seconds: u32,
    /// `TOKEN` only: a token that does not match is refused without calling the endpoint.
    pub identity_validation_expression: Option<SelectionPattern>,
}

/// Where an authorizer's event goes.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizerTarget {
    /// `x-gatehouse-endpoint` (or an HTTP `authorizerUri`; `endpoint` in the declarative
    /// format).
    Endpoint(UriTemplate),
    /// A Lambda function's `authorizerUri` (`function` in the declarative format), called
    /// through the function registry.
    Function(FunctionRef),
}

/// `TOKEN` vs `REQUEST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointAuthorizerKind {
    Token,
    Request,
}

/// A JSON-schema (draft 4) model for request bodies.
///
/// References to other models are normalized to `#/definitions/NAME`, so
/// [`Api::schema_document`] can assemble a self-contained schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    pub content_type: String,
    pub schema: serde_json::Value,
}

/// A request validator: what to check before the integration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestValidator {
    pub validate_body: bool,
    pub validate_parameters: bool,
}

/// CORS handled at the gateway (`x-amazon-apigateway-cors`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsConfig {
    /// Origins (`https://app.example.com`) or `*`.
    pub allow_origins: Vec<String>,
    /// Methods, or `*`.
    pub allow_methods: Vec<String>,
    /// Request headers, or `*`.
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
    pub allow_credentials: bool,
}

/// Default and bounds of an HTTP integration's timeout, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 29_000;
pub const MIN_TIMEOUT_MS: u32 = 50;
pub const MAX_TIMEOUT_MS: u32 = 29_000;
/// Default authorizer result TTL, in seconds.
pub const DEFAULT_AUTHORIZER_TTL_SECONDS: u32 = 300;
pub const MAX_AUTHORIZER_TTL_SECONDS: u32 = 3_600;

// === impl Api ===

impl Api {
    /// An empty API with API Gateway's defaults.
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            description: None,
            resources: BTreeMap::new(),
            authorizers: BTreeMap::new(),
            models: BTreeMap::new(),
            request_validators: BTreeMap::new(),
            default_request_validator: None,
            cors: None,
            api_key_source: ApiKeySource::Header,
            binary_media_types: Vec::new(),
            backend_tls: BackendTlsSettings::default(),
        }
    }

    /// The validator that applies to `settings`, if any.
    pub fn validator_for(&self, settings: &MethodSettings) -> Option<&RequestValidator> {
        let name = settings
            .request_validator
            .as_ref()
            .or(self.default_request_validator.as_ref())?;
        self.request_validators.get(name)
    }

    /// The model `name` as a self-contained JSON schema: its schema plus a `definitions`
    /// object with every model it references, transitively (cycles are fine in JSON schema).
    pub fn schema_document(&self, name: &str) -> Option<serde_json::Value> {
        let model = self.models.get(name)?;
        let mut definitions = serde_json::Map::new();
        let mut pending = vec![name.to_owned()];
        while let Some(next) = pending.pop() {
            if definitions.contains_key(&next) {
                continue;
            }
            let Some(m) = self.models.get(&next) else {
                continue;
            };
            collect_model_refs(&m.schema, &mut pending);
            definitions.insert(next, m.schema.clone());
        }
        let mut document = model.schema.clone();
        if let serde_json::Value::Object(map) = &mut document {
            map.insert(
                "definitions".to_owned(),
                serde_json::Value::Object(definitions),
            );
        }
        Some(document)
    }

    /// Number of methods over all resources.
    pub fn route_count(&self) -> usize {
        self.resources.values().map(|r| r.methods.len()).sum()
    }
}

/// Names of models referenced as `#/definitions/NAME` anywhere in `schema`.
pub(crate) fn collect_model_refs(schema: &serde_json::Value, out: &mut Vec<String>) {
    match schema {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    if let Some(name) = value
                        .as_str()
                        .and_then(|r| r.strip_prefix(MODEL_REF_PREFIX))
                    {
                        out.push(name.to_owned());
                    }
                } else {
                    collect_model_refs(value, out);
                }
            }
        }
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| collect_model_refs(item, out))
        }
        serde_json::Value::Null
        | serde_json::Value::Bool(_)
        | serde_json::Value::Number(_)
        | serde_json::Value::String(_) => {}
    }
}

/// How models refer to each other inside a schema.
pub const MODEL_REF_PREFIX: &str = "#/definitions/";

// === impl HttpMethod ===

impl HttpMethod {
    /// Every method, in the order the route table indexes them.
    pub const ALL: [Self; 8] = [
        Self::Get,
        Self::Head,
        Self::Post,
        Self::Put,
        Self::Patch,
        Self::Delete,
        Self::Options,
        Self::Any,
    ];

    /// Parses a method of a definition, case-insensitively (`get`, `GET`, `ANY`, `x-amazon-apigateway-any-method`).
    pub fn parse(text: &str) -> Result<Self, Problem> {
        if text == "x-amazon-apigateway-any-method" {
            return Ok(Self::Any);
        }
        Self::from_request(&text.to_ascii_uppercase()).ok_or_else(|| {
            Problem::invalid(
                "http method",
                text,
                "expected GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or ANY",
            )
        })
    }

    /// The method of a request line: exact, upper case (methods are case-sensitive). Any other
    /// token is `None` and can only be served by an `ANY` method.
    pub fn from_request(method: &str) -> Option<Self> {
        Some(match method {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            "ANY" => Self::Any,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Any => "ANY",
        }
    }

    /// Position in [`HttpMethod::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl MethodSettings ===

impl Default for MethodSettings {
    fn default() -> Self {
        Self {
            authorization: Authorization::None,
            api_key_required: false,
            request_validator: None,
            request_models: BTreeMap::new(),
            request_parameters: BTreeMap::new(),
            cache_key_parameters: Vec::new(),
            throttle: None,
        }
    }
}

impl MethodSettings {
    /// "API key only": no authorizer, but a key is required.
    pub fn is_api_key_only(&self) -> bool {
        self.api_key_required && self.authorization == Authorization::None
    }
}

// === impl Integration ===

impl Integration {
    /// API Gateway's name for the integration type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::HttpProxy(_) => "HTTP_PROXY",
            Self::Http(_) => "HTTP",
            Self::Mock(_) => "MOCK",
            Self::Function(_) => "AWS_PROXY",
        }
    }

    /// The HTTP settings of an `HTTP` or `HTTP_PROXY` integration.
    pub fn http(&self) -> Option<&HttpIntegration> {
        match self {
            Self::HttpProxy(http) | Self::Http(http) => Some(http),
            Self::Mock(_) | Self::Function(_) => None,
        }
    }
}

// === impl HttpIntegration ===

impl HttpIntegration {
    /// An integration to `uri` with API Gateway's defaults (request's own method, 29 s).
    pub fn new(uri: UriTemplate) -> Self {
        Self {
            uri,
            method: HttpMethod::Any,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            request_parameters: Vec::new(),
            passthrough: PassthroughBehavior::WhenNoMatch,
            responses: Vec::new(),
            insecure_skip_verification: false,
        }
    }

    /// Where the value of the URI's `{name}` comes from: its explicit
    /// `integration.request.path.name` mapping, else the method path parameter `name`.
    pub fn path_value_source(&self, name: &str) -> crate::definition::mapping::MappingSource {
        self.request_parameters
            .iter()
            .find(|m| {
                m.target.location == crate::definition::mapping::ParamLocation::Path
                    && m.target.name == name
            })
            .map(|m| m.source.clone())
            .unwrap_or_else(|| {
                crate::definition::mapping::MappingSource::Request(RequestParam::path(name))
            })
    }

    /// Non-proxy: the response for the backend's `status` (see [`select_response`]).
    pub fn select_response(&self, status: u16) -> Option<&IntegrationResponse> {
        select_response(&self.responses, status)
    }
}

// === impl MockIntegration ===

impl MockIntegration {
    /// The integration status for a request with `content_type` (its media type, without
    /// parameters): the template for that type, else the `application/json` one (API
    /// Gateway's default when a request has no `Content-Type`), else 200.
    pub fn integration_status(&self, content_type: Option<&str>) -> u16 {
        let media_type = content_type.map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        media_type
            .and_then(|mt| self.status_by_content_type.get(&mt))
            .or_else(|| self.status_by_content_type.get("application/json"))
            .copied()
            .unwrap_or(200)
    }

    /// The response for a request with `content_type`.
    pub fn response_for(&self, content_type: Option<&str>) -> Option<&IntegrationResponse> {
        select_response(&self.responses, self.integration_status(content_type))
    }
}

/// API Gateway's selection: the first response whose pattern matches the whole status code,
/// else the default one. `None` means no response applies: the pipeline answers 500 (API
/// Gateway's "no match for output mapping and no default output mapping configured").
pub fn select_response(
    responses: &[IntegrationResponse],
    status: u16,
) -> Option<&IntegrationResponse> {
    let code = status.to_string();
    responses
        .iter()
        .find(|r| r.selection.as_ref().is_some_and(|p| p.is_match(&code)))
        .or_else(|| responses.iter().find(|r| r.selection.is_none()))
}

/// Whether `url` is an absolute URL whose host is this machine: `localhost`, `127.0.0.0/8`
/// or `::1` (an IPv4-mapped `::ffff:127.x.y.z` too). Plain-HTTP OIDC issuers and JWKS are
/// accepted only there.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(std::net::IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

// === impl SelectionPattern ===

impl SelectionPattern {
    /// Compiles a pattern that must match a whole value (`2\d{2}`, `404|410`).
    pub fn new(source: &str) -> Result<Self, Problem> {
        if source.len() > 1024 {
            return Err(Problem::OutOfRange {
                what: "pattern length",
                value: source.len().to_string(),
                range: "1..=1024",
            });
        }
        let regex = regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                Problem::invalid("regular expression", source, first_line(&e.to_string()))
            })?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl PartialEq for SelectionPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_owned()
}

// === impl UserPoolRef ===

impl UserPoolRef {
    /// Parses `arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID` (any partition).
    pub fn parse(arn: &str) -> Result<Self, Problem> {
        let bad = || {
            Problem::invalid(
                "user pool ARN",
                arn,
                "expected `arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID`",
            )
        };
        let mut parts = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(_partition),
            Some("cognito-idp"),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(bad());
        };
        let pool_id = resource.strip_prefix("userpool/").ok_or_else(bad)?;
        if region.is_empty() || pool_id.is_empty() || pool_id.contains('/') {
            return Err(bad());
        }
        Ok(Self {
            arn: arn.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            pool_id: pool_id.to_owned(),
        })
    }
}

// === impl PassthroughBehavior ===

impl PassthroughBehavior {
    /// `when_no_match`, `when_no_templates` or `never`, in any case (both definition formats).
    pub(crate) fn parse(text: &str) -> Result<Self, Problem> {
        match text.to_ascii_lowercase().as_str() {
            "when_no_match" => Ok(Self::WhenNoMatch),
            "when_no_templates" => Ok(Self::WhenNoTemplates),
            "never" => Ok(Self::Never),
            _ => Err(Problem::invalid(
                "passthrough behavior",
                text,
                "expected when_no_match, when_no_templates or never",
            )),
        }
    }
}

// === impl ApiKeySource ===

impl ApiKeySource {
    /// `HEADER` or `AUTHORIZER`, in any case (both definition formats).
    pub(crate) fn parse(text: &str) -> Result<Self, Problem> {
        match text.to_ascii_uppercase().as_str() {
            "HEADER" => Ok(Self::Header),
            "AUTHORIZER" => Ok(Self::Authorizer),
            _ => Err(Problem::invalid(
                "api key source",
                text,
                "expected HEADER or AUTHORIZER",
            )),
        }
    }
}

// === impl Throttle ===

impl Throttle {
    /// Checks the values: the rate finite and in 0..=1e6, the burst at most 1e6.
    pub fn check(&self) -> Result<(), Problem> {
        if !self.rate_per_second.is_finite() || !(0.0..=1_000_000.0).contains(&self.rate_per_second)
        {
            return Err(Problem::OutOfRange {
                what: "throttle rate",
                value: self.rate_per_second.to_string(),
                range: "0..=1000000 requests per second",
            });
        }
        if self.burst > 1_000_000 {
            return Err(Problem::OutOfRange {
                what: "throttle burst",
                value: self.burst.to_string(),
                range: "0..=1000000",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(pattern: Option<&str>, status: u16) -> IntegrationResponse {
        IntegrationResponse {
            selection: pattern.map(|p| SelectionPattern::new(p).unwrap()),
            status,
            headers: Vec::new(),
            bodies: BTreeMap::new(),
        }
    }

    #[test]
    fn selection_prefers_patterns_then_default() {
        let responses = vec![
            response(None, 200),
            response(Some(r"4\d{2}"), 400),
            response(Some("500|503"), 502),
        ];
        assert_eq!(
            select_response(&responses, 404).map(|r| r.status),
            Some(400)
        );
        assert_eq!(
            select_response(&responses, 503).map(|r| r.status),
            Some(502)
        );
        assert_eq!(
            select_response(&responses, 201).map(|r| r.status),
            Some(200)
        );
        // Whole-value match: `4\d{2}` does not match 4000.
        assert_eq!(
            select_response(&responses[1..], 4000).map(|r| r.status),
            None
        );
    }

    #[test]
    fn mock_status_follows_content_type() {
        let mock = MockIntegration {
            status_by_content_type: BTreeMap::from([
                ("application/json".into(), 200),
                ("text/plain".into(), 404),
            ]),
            responses: vec![response(None, 200), response(Some("404"), 404)],
        };
        assert_eq!(mock.integration_status(None), 200);
        assert_eq!(
            mock.integration_status(Some("text/plain; charset=utf-8")),
            404
        );
        assert_eq!(mock.integration_status(Some("application/xml")), 200);
        assert_eq!(
            mock.response_for(Some("text/plain")).map(|r| r.status),
            Some(404)
        );
    }

    #[test]
    fn parses_user_pool_arns() {
        let pool =
            UserPoolRef::parse("arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbC")
                .unwrap();
        assert_eq!(pool.pool_id, "us-east-1_AbC");
        assert_eq!(pool.region, "us-east-1");
        assert!(UserPoolRef::parse("arn:aws:iam::123:role/x").is_err());
        assert!(UserPoolRef::parse("arn:aws:cognito-idp:us-east-1:1:userpool/").is_err());
    }

    #[test]
    fn methods_parse_case_insensitively_but_match_requests_exactly() {
        assert_eq!(HttpMethod::parse("get").unwrap(), HttpMethod::Get);
        assert_eq!(
            HttpMethod::parse("x-amazon-apigateway-any-method").unwrap(),
            HttpMethod::Any
        );
        assert!(HttpMethod::parse("TRACE").is_err());
        assert_eq!(HttpMethod::from_request("get"), None);
        assert!(
            HttpMethod::ALL
                .iter()
                .enumerate()
                .all(|(i, m)| m.index() == i)
        );
    }

    #[test]
    fn bad_regex_is_a_problem_not_a_panic() {
        assert!(SelectionPattern::new("(").is_err());
        assert!(SelectionPattern::new(&"a".repeat(2000)).is_err());
    }

    #[test]
    fn schema_document_collects_referenced_models() {
        let mut api = Api::new("a", "A");
        for (name, schema) in [
            (
                "Pet",
                serde_json::json!({"type": "object", "properties": {"owner": {"$ref": "#/definitions/Owner"}}}),
            ),
            (
                "Owner",
                serde_json::json!({"type": "object", "properties": {"pets": {"type": "array", "items": {"$ref": "#/definitions/Pet"}}}}),
            ),
        ] {
            api.models.insert(
                name.into(),
                Model {
                    name: name.into(),
                    content_type: "application/json".into(),
                    schema,
                },
            );
        }
        let doc = api.schema_document("Pet").unwrap();
        let defs = doc["definitions"].as_object().unwrap();
        assert!(defs.contains_key("Pet") && defs.contains_key("Owner"));
        assert!(api.schema_document("Nope").is_none());
    }
}
