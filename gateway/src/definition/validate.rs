//! Whole-API validation: the cross-references and rules no single field can check (an
//! authorizer a method names exists, a URI's `{param}` has a value, sibling path parameters
//! agree, …). Runs when an API is frozen into a [`crate::definition::stage::Deployment`].

use std::collections::BTreeMap;

use crate::definition::error::{Problem, Problems};
use crate::definition::limits::Limits;
use crate::definition::mapping::{MappingSource, ParamLocation};
use crate::definition::model::{
    Api, Authorization, AuthorizerKind, EndpointAuthorizerKind, HeaderValueSource, HttpMethod,
    Integration, IntegrationResponse, JwtFlavor, MAX_AUTHORIZER_TTL_SECONDS, MAX_TIMEOUT_MS,
    MIN_TIMEOUT_MS, MODEL_REF_PREFIX, Method, Resource, is_loopback_url,
};
use crate::definition::path::Segment;

/// A place in an API, for error locations.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Site<'a> {
    Api,
    Resource(&'a str),
    Method(&'a str, HttpMethod),
    Authorizer(&'a str),
    Model(&'a str),
    Validator(&'a str),
}

/// Turns a [`Site`] and a field into a location in the input's own terms.
pub(crate) trait Locator {
    fn locate(&self, api_id: &str, site: Site<'_>, field: &str) -> String;
}

/// Locations in the declarative file: `apis.ID.resources./pets.GET.integration.uri`.
#[derive(Debug)]
pub(crate) struct DeclarativeLocator;

impl Locator for DeclarativeLocator {
    fn locate(&self, api_id: &str, site: Site<'_>, field: &str) -> String {
        let base = match site {
            Site::Api => format!("apis.{api_id}"),
            Site::Resource(path) => format!("apis.{api_id}.resources.{path}"),
            Site::Method(path, method) => format!("apis.{api_id}.resources.{path}.{method}"),
            Site::Authorizer(name) => format!("apis.{api_id}.authorizers.{name}"),
            Site::Model(name) => format!("apis.{api_id}.models.{name}"),
            Site::Validator(name) => format!("apis.{api_id}.request_validators.{name}"),
        };
        join(base, field)
    }
}

pub(crate) fn join(base: String, field: &str) -> String {
    if field.is_empty() {
        base
    } else {
        format!("{base}.{field}")
    }
}

/// `[A-Za-z0-9_-]{1,max}`.
pub(crate) fn is_identifier(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// Validates everything about `api`, recording each problem.
pub(crate) fn validate_api(api: &Api, limits: &Limits, at: &dyn Locator, problems: &mut Problems) {
    let id = api.id.as_str();
    if !is_identifier(id, 64) {
        problems.push(
            at.locate(id, Site::Api, ""),
            Problem::invalid("api id", id, "use 1 to 64 letters, digits, `-` and `_`"),
        );
    }
    if api.resources.len() > limits.max_resources_per_api {
        problems.push(
            at.locate(id, Site::Api, "resources"),
            Problem::TooMany {
                what: "resources",
                count: api.resources.len(),
                limit: limits.max_resources_per_api,
            },
        );
    }
    let routes = api.route_count();
    if routes > limits.max_routes_per_api {
        problems.push(
            at.locate(id, Site::Api, "resources"),
            Problem::TooMany {
                what: "methods",
                count: routes,
                limit: limits.max_routes_per_api,
            },
        );
    }
    for (key, resource) in &api.resources {
        let here = Site::Resource(key);
        if key != resource.path.as_str() {
            problems.push(
                at.locate(id, here, ""),
                Problem::invalid(
                    "resource key",
                    key.as_str(),
                    "it differs from the resource's path",
                ),
            );
        }
        if resource.path.segments().len() > limits.max_path_depth {
            problems.push(
                at.locate(id, here, ""),
                Problem::TooMany {
                    what: "path segments",
                    count: resource.path.segments().len(),
                    limit: limits.max_path_depth,
                },
            );
        }
        for (method, def) in &resource.methods {
            validate_method(api, resource, *method, def, at, problems);
        }
    }
    check_sibling_params(api, at, problems);
    for (name, authorizer) in &api.authorizers {
        validate_authorizer(api, name, authorizer, at, problems);
    }
    for (name, model) in &api.models {
        let here = Site::Model(name);
        if !is_identifier(name, 128) || name != &model.name {
            problems.push(
                at.locate(id, here, ""),
                Problem::invalid(
                    "model name",
                    name.as_str(),
                    "use letters, digits, `-` and `_`",
                ),
            );
        }
        if !model.schema.is_object() {
            problems.push(
                at.locate(id, here, "schema"),
                Problem::invalid(
                    "schema",
                    model.schema.to_string(),
                    "a JSON schema must be an object",
                ),
            );
        }
        let size = serde_json::to_vec(&model.schema).map_or(usize::MAX, |v| v.len());
        if size > limits.max_model_bytes {
            problems.push(
                at.locate(id, here, "schema"),
                Problem::TooMany {
                    what: "schema bytes",
                    count: size,
                    limit: limits.max_model_bytes,
                },
            );
        }
        let mut refs = Vec::new();
        collect_all_refs(&model.schema, &mut refs);
        for reference in refs {
            match reference.strip_prefix(MODEL_REF_PREFIX) {
                Some(target) if api.models.contains_key(target) => {}
                _ => problems.push(
                    at.locate(id, here, "schema"),
                    Problem::UnresolvedRef { reference },
                ),
            }
        }
    }
    for name in api.request_validators.keys() {
        if name.is_empty() || name.len() > 128 {
            problems.push(
                at.locate(id, Site::Validator(name), ""),
                Problem::invalid("validator name", name.as_str(), "use 1 to 128 characters"),
            );
        }
    }
    if let Some(name) = &api.default_request_validator
        && !api.request_validators.contains_key(name)
    {
        problems.push(
            at.locate(id, Site::Api, "request_validator"),
            Problem::unknown("request validator", name.as_str()),
        );
    }
    if let Some(cors) = &api.cors {
        let here = at.locate(id, Site::Api, "cors");
        if cors.allow_credentials && cors.allow_origins.iter().any(|o| o == "*") {
            problems.push(
                here.clone(),
                Problem::invalid(
                    "cors",
                    "allow_credentials",
                    "credentials cannot be allowed for every origin `*`; list the origins",
                ),
            );
        }
        for origin in &cors.allow_origins {
            let ok = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.trim_end_matches('/').ends_with(':')
                    && !origin.contains(char::is_whitespace));
            if !ok {
                problems.push(
                    here.clone(),
                    Problem::invalid(
                        "cors origin",
                        origin.as_str(),
                        "expected `*` or `scheme://host[:port]`",
                    ),
                );
            }
        }
        if cors.max_age_seconds.is_some_and(|age| age > 86_400) {
            problems.push(
                here,
                Problem::OutOfRange {
                    what: "cors max age",
                    value: format!("{:?}", cors.max_age_seconds),
                    range: "0..=86400 seconds",
                },
            );
        }
    }
    for media in &api.binary_media_types {
        if !media.contains('/') || media.contains(char::is_whitespace) {
            problems.push(
                at.locate(id, Site::Api, "binary_media_types"),
                Problem::invalid("media type", media.as_str(), "expected `type/subtype`"),
            );
        }
    }
}

fn validate_method(
    api: &Api,
    resource: &Resource,
    method: HttpMethod,
    def: &Method,
    at: &dyn Locator,
    problems: &mut Problems,
) {
    let id = api.id.as_str();
    let path = resource.path.as_str();
    let here = Site::Method(path, method);
    let settings = &def.settings;
    match &settings.authorization {
        Authorization::None | Authorization::AwsIam => {}
        Authorization::Authorizer { name, scopes } => match api.authorizers.get(name) {
            None => problems.push(
                at.locate(id, here, "authorizer"),
                Problem::unknown("authorizer", name.as_str()),
            ),
            Some(authorizer) => {
                if !scopes.is_empty() && !matches!(authorizer.kind, AuthorizerKind::Jwt(_)) {
                    problems.push(
                        at.locate(id, here, "scopes"),
                        Problem::invalid(
                            "scopes",
                            scopes.join(" "),
                            "authorization scopes need a Cognito or JWT authorizer",
                        ),
                    );
                }
            }
        },
    }
    if let Some(name) = &settings.request_validator
        && !api.request_validators.contains_key(name)
    {
        problems.push(
            at.locate(id, here, "request_validator"),
            Problem::unknown("request validator", name.as_str()),
        );
    }
    for (content_type, model) in &settings.request_models {
        if !api.models.contains_key(model) {
            problems.push(
                at.locate(id, here, &format!("request_models.{content_type}")),
                Problem::unknown("model", model.as_str()),
            );
        }
    }
    for param in settings.request_parameters.keys() {
        if param.location == ParamLocation::Path && !resource.path.has_param(&param.name) {
            problems.push(
                at.locate(id, here, "request_parameters"),
                Problem::invalid(
                    "request parameter",
                    param.to_string(),
                    "the resource path has no such parameter",
                ),
            );
        }
    }
    for param in &settings.cache_key_parameters {
        let declared = settings.request_parameters.contains_key(param)
            || (param.location == ParamLocation::Path && resource.path.has_param(&param.name));
        if !declared {
            problems.push(
                at.locate(id, here, "cache_key_parameters"),
                Problem::invalid(
                    "cache key parameter",
                    param.to_string(),
                    "declare it as a method request parameter first",
                ),
            );
        }
    }
    if let Some(throttle) = &settings.throttle
        && let Err(problem) = throttle.check()
    {
        problems.push(at.locate(id, here, "throttle"), problem);
    }
    match &def.integration {
        Integration::HttpProxy(http) | Integration::Http(http) => {
            let field = "integration";
            if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&http.timeout_ms) {
                problems.push(
                    at.locate(id, here, "integration.timeout_ms"),
                    Problem::OutOfRange {
                        what: "integration timeout",
                        value: http.timeout_ms.to_string(),
                        range: "50..=29000 ms",
                    },
                );
            }
            for name in http.uri.path_params() {
                if let MappingSource::Request(param) = http.path_value_source(name)
                    && param.location == ParamLocation::Path
                    && !resource.path.has_param(&param.name)
                {
                    problems.push(
                            at.locate(id, here, "integration.uri"),
                            Problem::invalid("endpoint uri", http.uri.as_str(), format!("`{{{name}}}` has no value: map `integration.request.path.{name}` or add `{{{name}}}` to the resource path")),
                        );
                }
            }
            for mapping in &http.request_parameters {
                if let MappingSource::Request(param) = &mapping.source
                    && param.location == ParamLocation::Path
                    && !resource.path.has_param(&param.name)
                {
                    problems.push(
                        at.locate(id, here, "integration.request_parameters"),
                        Problem::invalid(
                            "mapping source",
                            param.to_string(),
                            "the resource path has no such parameter",
                        ),
                    );
                }
            }
            if matches!(def.integration, Integration::HttpProxy(_)) && !http.responses.is_empty() {
                problems.push(
                    at.locate(id, here, "integration.responses"),
                    Problem::unsupported(
                        "responses",
                        "an HTTP proxy integration passes the backend's response through",
                    ),
                );
            }
            validate_responses(
                &http.responses,
                true,
                &at.locate(id, here, &format!("{field}.responses")),
                problems,
            );
        }
        Integration::Mock(mock) => {
            for (content_type, status) in &mock.status_by_content_type {
                if !(100..=599).contains(status) {
                    problems.push(
                        at.locate(
                            id,
                            here,
                            &format!("integration.request_templates.{content_type}"),
                        ),
                        Problem::OutOfRange {
                            what: "status code",
                            value: status.to_string(),
                            range: "100..=599",
                        },
                    );
                }
            }
            validate_responses(
                &mock.responses,
                false,
                &at.locate(id, here, "integration.responses"),
                problems,
            );
        }
        Integration::Function(function) => {
            if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&function.timeout_ms) {
                problems.push(
                    at.locate(id, here, "integration.timeout_ms"),
                    Problem::OutOfRange {
                        what: "integration timeout",
                        value: function.timeout_ms.to_string(),
                        range: "50..=29000 ms",
                    },
                );
            }
        }
    }
}

fn validate_responses(
    responses: &[IntegrationResponse],
    http: bool,
    location: &str,
    problems: &mut Problems,
) {
    if responses.iter().filter(|r| r.selection.is_none()).count() > 1 {
        problems.push(
            location,
            Problem::Duplicate {
                what: "response",
                name: "default".to_owned(),
            },
        );
    }
    for response in responses {
        if !(100..=599).contains(&response.status) {
            problems.push(
                location,
                Problem::OutOfRange {
                    what: "status code",
                    value: response.status.to_string(),
                    range: "100..=599",
                },
            );
        }
        for (name, source) in &response.headers {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                problems.push(
                    location,
                    Problem::invalid("header name", name.as_str(), "not a valid HTTP header name"),
                );
            }
            if let HeaderValueSource::BackendHeader(_) = source
                && !http
            {
                problems.push(
                    location,
                    Problem::invalid(
                        "response header",
                        name.as_str(),
                        "a mock has no backend headers; use a 'static' value",
                    ),
                );
            }
        }
        if http && !response.bodies.is_empty() {
            problems.push(location, Problem::unsupported("responseTemplates", "HTTP integration response bodies pass through; mapping templates are not evaluated"));
        }
    }
}

/// API Gateway allows one variable path part among siblings: `/pets/{id}` and
/// `/pets/{petId}/owner` would give one request two parameter names. (A `{param}` beside a
/// `{proxy+}` is allowed here: the more specific `{param}` is tried first.)
fn check_sibling_params(api: &Api, at: &dyn Locator, problems: &mut Problems) {
    // Key: the path of literal/param kinds up to the parent plus the variable kind; value: the
    // first resource that used a name there.
    let mut seen: BTreeMap<(Vec<String>, bool), (String, String)> = BTreeMap::new();
    for resource in api.resources.values() {
        let mut prefix: Vec<String> = Vec::new();
        for segment in resource.path.segments() {
            let (name, greedy) = match segment {
                Segment::Literal(lit) => {
                    prefix.push(format!("l:{lit}"));
                    continue;
                }
                Segment::Param(name) => (name, false),
                Segment::Greedy(name) => (name, true),
            };
            let key = (prefix.clone(), greedy);
            match seen.get(&key) {
                Some((other_name, other_path)) if other_name != name => {
                    problems.push(
                        at.locate(&api.id, Site::Resource(resource.path.as_str()), ""),
                        Problem::PathConflict {
                            path: resource.path.as_str().to_owned(),
                            other: other_path.clone(),
                            reason: "sibling path parameters must have the same name",
                        },
                    );
                    break;
                }
                Some(_) => {}
                None => {
                    seen.insert(key, (name.clone(), resource.path.as_str().to_owned()));
                }
            }
            prefix.push(if greedy {
                "g".to_owned()
            } else {
                "p".to_owned()
            });
        }
    }
}

fn validate_authorizer(
    api: &Api,
    name: &str,
    authorizer: &crate::definition::model::Authorizer,
    at: &dyn Locator,
    problems: &mut Problems,
) {
    let id = api.id.as_str();
    let here = Site::Authorizer(name);
    if name != authorizer.name || name.is_empty() || name.len() > 128 {
        problems.push(
            at.locate(id, here, ""),
            Problem::invalid(
                "authorizer name",
                name,
                "use 1 to 128 characters, the same as its key",
            ),
        );
    }
    match &authorizer.kind {
        AuthorizerKind::Jwt(jwt) => {
            match jwt.flavor {
                JwtFlavor::CognitoUserPools
                    if jwt.user_pools.is_empty() && jwt.issuers.is_empty() =>
                {
                    problems.push(
                        at.locate(id, here, "user_pools"),
                        Problem::Missing {
                            field: "user_pools",
                        },
                    );
                }
                JwtFlavor::Jwt if jwt.issuers.is_empty() && jwt.user_pools.is_empty() => {
                    problems.push(
                        at.locate(id, here, "issuer"),
                        Problem::Missing { field: "issuer" },
                    );
                }
                JwtFlavor::CognitoUserPools | JwtFlavor::Jwt => {}
            }
            for issuer in &jwt.issuers {
                let https = issuer
                    .strip_prefix("https://")
                    .is_some_and(|rest| !rest.is_empty())
                    && issuer.parse::<http::Uri>().is_ok();
                let local_http = issuer.starts_with("http://") && is_loopback_url(issuer);
                if !https && !local_http {
                    problems.push(
                        at.locate(id, here, "issuer"),
                        Problem::invalid(
                            "issuer",
                            issuer.as_str(),
                            "expected an `https://` URL (`http://` only on loopback: localhost, 127.0.0.1, [::1])",
                        ),
                    );
                }
            }
            // Without an audience any token of the issuer would pass — a Google or Microsoft
            // issuer signs tokens for every application that uses it. API Gateway requires one
            // for `jwt` authorizers.
            if jwt.audiences.is_empty() && (jwt.flavor == JwtFlavor::Jwt || !jwt.issuers.is_empty())
            {
                problems.push(
                    at.locate(id, here, "audiences"),
                    Problem::invalid(
                        "authorizer",
                        name,
                        "a `jwt` authorizer (and any authorizer of a remote issuer) needs `audiences`: the client ids whose tokens it accepts",
                    ),
                );
            }
            if !matches!(
                jwt.identity_source,
                crate::definition::mapping::IdentitySource::Header(_)
            ) {
                problems.push(
                    at.locate(id, here, "identity_source"),
                    Problem::invalid(
                        "identity source",
                        jwt.identity_source.to_string(),
                        "a JWT authorizer reads a header",
                    ),
                );
            }
        }
        AuthorizerKind::Endpoint(endpoint) => {
            if endpoint.result_ttl_seconds > MAX_AUTHORIZER_TTL_SECONDS {
                problems.push(
                    at.locate(id, here, "result_ttl_seconds"),
                    Problem::OutOfRange {
                        what: "authorizer result ttl",
                        value: endpoint.result_ttl_seconds.to_string(),
                        range: "0..=3600 seconds",
                    },
                );
            }
            match endpoint.kind {
                EndpointAuthorizerKind::Token => {
                    if !matches!(
                        endpoint.identity_sources.as_slice(),
                        [crate::definition::mapping::IdentitySource::Header(_)]
                    ) {
                        problems.push(
                            at.locate(id, here, "identity_source"),
                            Problem::invalid(
                                "identity source",
                                join_sources(&endpoint.identity_sources),
                                "a TOKEN authorizer reads exactly one header",
                            ),
                        );
                    }
                }
                EndpointAuthorizerKind::Request => {
                    if endpoint.identity_sources.is_empty() && endpoint.result_ttl_seconds > 0 {
                        problems.push(
                            at.locate(id, here, "identity_source"),
                            Problem::invalid("identity source", "", "a cached REQUEST authorizer needs at least one identity source to key its cache"),
                        );
                    }
                    if endpoint.identity_validation_expression.is_some() {
                        problems.push(
                            at.locate(id, here, "identity_validation_expression"),
                            Problem::unsupported(
                                "identityValidationExpression",
                                "it applies to TOKEN authorizers only",
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn join_sources(sources: &[crate::definition::mapping::IdentitySource]) -> String {
    sources
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn collect_all_refs(schema: &serde_json::Value, out: &mut Vec<String>) {
    match schema {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", serde_json::Value::String(reference)) => out.push(reference.clone()),
                    _ => collect_all_refs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| collect_all_refs(item, out))
        }
        serde_json::Value::Null
        | serde_json::Value::Bool(_)
        | serde_json::Value::Number(_)
        | serde_json::Value::String(_) => {}
    }
}
