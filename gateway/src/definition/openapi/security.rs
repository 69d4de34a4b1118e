//! Security schemes and authorizers: `components.securitySchemes` (`securityDefinitions` in
//! Swagger 2) with `x-amazon-apigateway-authorizer` (`cognito_user_pools`, `jwt`, `token`,
//! `request` — an HTTP endpoint, or a Lambda function's `authorizerUri` served through the
//! function registry) and `x-amazon-apigateway-authtype`.

use serde_json::{Map, Value};

use super::{Importer, Scheme, SpecVersion, string_list};
use crate::definition::error::Problem;
use crate::definition::functions::FunctionRef;
use crate::definition::mapping::IdentitySource;
use crate::definition::model::{
    Api, Authorizer, AuthorizerKind, AuthorizerTarget, DEFAULT_AUTHORIZER_TTL_SECONDS,
    EndpointAuthorizer, EndpointAuthorizerKind, JwtAuthorizer, JwtFlavor, SelectionPattern,
    UserPoolRef,
};
use crate::definition::template::UriTemplate;

// === impl Importer ===

impl Importer<'_> {
    pub(super) fn security_schemes(&mut self, api: &mut Api) {
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
        let kind = match obj.get("type") {
            None => String::new(),
            Some(value) => self
                .as_text(value, &format!("{at}.type"))?
                .to_ascii_lowercase(),
        };
        let sources_at = format!("{at}.identitySource");
        let sources_text = match obj.get("identitySource") {
            None => None,
            Some(Value::Array(items)) => {
                let mut texts = Vec::with_capacity(items.len());
                for item in items {
                    texts.push(self.as_text(item, &sources_at)?);
                }
                Some(texts.join(","))
            }
            Some(other) => Some(self.as_text(other, &sources_at)?.to_owned()),
        };
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
                Some(self.jwt_authorizer(obj, &kind, identity_sources, scheme_header, at))
            }
            "token" | "request" => {
                self.endpoint_authorizer(obj, &kind, identity_sources, ttl, scheme_header, at)
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

    /// A `cognito_user_pools` or `jwt` authorizer: the pools of `providerARNs`, or the issuers
    /// and audiences of `jwtConfiguration`.
    fn jwt_authorizer(
        &mut self,
        obj: &Map<String, Value>,
        kind: &str,
        identity_sources: Vec<IdentitySource>,
        scheme_header: Option<&str>,
        at: &str,
    ) -> AuthorizerKind {
        let mut user_pools = Vec::new();
        for arn in obj.get("providerARNs").map(string_list).unwrap_or_default() {
            if let Some(pool) = self.record(UserPoolRef::parse(&arn), format!("{at}.providerARNs"))
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
        AuthorizerKind::Jwt(JwtAuthorizer {
            flavor: if kind == "jwt" {
                JwtFlavor::Jwt
            } else {
                JwtFlavor::CognitoUserPools
            },
            issuers,
            audiences,
            user_pools,
            identity_source,
        })
    }

    /// A `token` or `request` authorizer: the HTTP endpoint gatehouse calls with the
    /// authorizer event, or the Lambda function of `authorizerUri` (through the function
    /// registry).
    fn endpoint_authorizer(
        &mut self,
        obj: &Map<String, Value>,
        kind: &str,
        mut identity_sources: Vec<IdentitySource>,
        ttl: u32,
        scheme_header: Option<&str>,
        at: &str,
    ) -> Option<AuthorizerKind> {
        // `x-gatehouse-endpoint` wins over `authorizerUri`; each is reported at its own key.
        let target = match (obj.get("x-gatehouse-endpoint"), obj.get("authorizerUri")) {
            (Some(value), _) => {
                let location = format!("{at}.x-gatehouse-endpoint");
                let text = self.as_text(value, &location)?;
                AuthorizerTarget::Endpoint(self.record(UriTemplate::parse(text), location)?)
            }
            (None, Some(value)) => {
                let location = format!("{at}.authorizerUri");
                let text = self.as_text(value, &location)?;
                if text.starts_with("arn:") {
                    let function = self.record(
                        FunctionRef::parse(text).map_err(with_endpoint_advice),
                        &location,
                    )?;
                    if let Some(arn) = function.literal() {
                        let known = self.limits.functions.check(arn, ENDPOINT_ALTERNATIVE);
                        self.record(known, &location)?;
                    }
                    AuthorizerTarget::Function(function)
                } else {
                    AuthorizerTarget::Endpoint(self.record(
                        UriTemplate::parse(text).map_err(with_endpoint_advice),
                        location,
                    )?)
                }
            }
            (None, None) => {
                self.problems.push(
                    at,
                    Problem::Missing {
                        field: "x-gatehouse-endpoint",
                    },
                );
                return None;
            }
        };
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
        let expression = match self.text(obj, "identityValidationExpression", at) {
            Some(e) => Some(self.record(
                SelectionPattern::new(e),
                format!("{at}.identityValidationExpression"),
            )?),
            None => None,
        };
        Some(AuthorizerKind::Endpoint(EndpointAuthorizer {
            kind,
            target,
            identity_sources,
            result_ttl_seconds: ttl,
            identity_validation_expression: expression,
        }))
    }
}

/// What an unregistered Lambda authorizer may do instead of registering its function.
const ENDPOINT_ALTERNATIVE: &str =
    ", or set `x-gatehouse-endpoint` to an HTTP endpoint that answers the authorizer event";

/// An `authorizerUri` gatehouse cannot call (a template placeholder, text that is no URL): the
/// way out is an endpoint of its own beside it.
fn with_endpoint_advice(problem: Problem) -> Problem {
    match problem {
        Problem::Invalid {
            what,
            value,
            reason,
        } => Problem::Invalid {
            what,
            value,
            reason: format!(
                "{reason}; to call an HTTP endpoint that answers the authorizer event, set `x-gatehouse-endpoint` beside `authorizerUri`"
            ),
        },
        other => other,
    }
}
