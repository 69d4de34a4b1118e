//! `x-amazon-apigateway-integration`: `http` and `http_proxy` integrations with their URI,
//! parameter mappings, timeout and cache keys, `mock` integrations with their request and
//! response templates, the integration responses of both, and `aws_proxy` integrations to a
//! Lambda function (served through the function registry, payload format 1.0 or 2.0).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Importer, string_list};
use crate::definition::error::Problem;
use crate::definition::functions::{FunctionRef, PayloadFormat};
use crate::definition::mapping::{MappingSource, MappingTarget, ParameterMapping, RequestParam};
use crate::definition::model::{
    DEFAULT_TIMEOUT_MS, FunctionIntegration, HeaderValueSource, HttpIntegration, HttpMethod,
    Integration, IntegrationResponse, MethodSettings, MockIntegration, PassthroughBehavior,
    SelectionPattern,
};
use crate::definition::template::UriTemplate;

// === impl Importer ===

impl Importer<'_> {
    pub(super) fn integration(
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
        let kind = match obj.get("type") {
            None => String::new(),
            Some(value) => self
                .as_text(value, &format!("{at}.type"))?
                .to_ascii_lowercase(),
        };
        match kind.as_str() {
            "http" | "http_proxy" | "mock" | "aws_proxy" => {}
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
        let connection = match obj.get("connectionType") {
            None => "INTERNET",
            Some(value) => self.as_text(value, &format!("{at}.connectionType"))?,
        };
        if connection != "INTERNET" || obj.contains_key("connectionId") {
            self.warn(
                format!("{at}.connectionType"),
                format!("connectionType: {connection}"),
                "private (VPC link) integrations are not supported; the method is not imported",
            );
            return None;
        }
        if kind == "aws_proxy" {
            return self.function_integration(obj, at, settings);
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
                    | "tlsConfig"
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
        let uri_text = match obj.get("uri") {
            None => "",
            Some(value) => self.as_text(value, &format!("{at}.uri"))?,
        };
        let uri = self.record(UriTemplate::parse(uri_text), format!("{at}.uri"))?;
        let mut http = HttpIntegration::new(uri);
        if let Some(method) = self.text(obj, "httpMethod", at) {
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
        if let Some(p) = self.text(obj, "passthroughBehavior", at) {
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
                let source = self
                    .as_text(source, &m_at)
                    .and_then(|source| self.record(MappingSource::parse(source), &m_at));
                if let (Some(target), Some(source)) = (target, source) {
                    http.request_parameters
                        .push(ParameterMapping { target, source });
                }
            }
        }
        if let Some(tls) = obj.get("tlsConfig") {
            self.tls_config(tls, &format!("{at}.tlsConfig"), &mut http);
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

    /// An `aws_proxy` integration: the Lambda function of its `uri`, which must be registered
    /// (checked here when the ARN is literal, when a stage completes it otherwise).
    fn function_integration(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        settings: &mut MethodSettings,
    ) -> Option<Integration> {
        for key in obj.keys() {
            let here = format!("{at}.{key}");
            match key.as_str() {
                "type" | "uri" | "httpMethod" | "payloadFormatVersion" | "timeoutInMillis"
                | "cacheKeyParameters" | "passthroughBehavior" | "contentHandling"
                | "connectionType" => {}
                "credentials" => self.warn(
                    here,
                    key.as_str(),
                    "gatehouse calls the endpoint registered for the function; no credentials are used",
                ),
                "responses" | "requestParameters" | "requestTemplates" => self.warn(
                    here,
                    key.as_str(),
                    "a Lambda proxy integration hands the whole request to the function and passes its answer through; ignored",
                ),
                other => self.warn(here, other, "not supported for integrations; ignored"),
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
        let payload_format = match self.text(obj, "payloadFormatVersion", at) {
            Some(text) => self.record(
                PayloadFormat::parse(text),
                format!("{at}.payloadFormatVersion"),
            )?,
            None => PayloadFormat::V1,
        };
        let timeout_ms = match obj.get("timeoutInMillis") {
            None => DEFAULT_TIMEOUT_MS,
            Some(v) => v
                .as_u64()
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(u32::MAX),
        };
        let Some(uri) = obj.get("uri") else {
            self.problems.push(at, Problem::Missing { field: "uri" });
            return None;
        };
        let location = format!("{at}.uri");
        let text = self.as_text(uri, &location)?;
        // A URI that names no Lambda function cannot be served; it is reported by name and
        // the method left out, as other integrations gatehouse cannot serve are. A function
        // that is not registered is an error: registering it is the way out.
        let function = match FunctionRef::parse(text) {
            Ok(function) => function,
            Err(problem) => {
                self.warn(
                    format!("{at}.type"),
                    "type: aws_proxy",
                    format!("{problem}; the method is not imported"),
                );
                return None;
            }
        };
        if let Some(arn) = function.literal() {
            let known = self.limits.functions.check(arn, "");
            self.record(known, &location)?;
        }
        Some(Integration::Function(FunctionIntegration {
            function,
            payload_format,
            timeout_ms,
        }))
    }

    /// `tlsConfig`: `insecureSkipVerification` is honoured as API Gateway does, with a
    /// warning naming the method (its location), since it turns certificate verification off.
    fn tls_config(&mut self, value: &Value, at: &str, http: &mut HttpIntegration) {
        let Some(obj) = value.as_object() else {
            self.problems.push(
                at,
                Problem::invalid("tlsConfig", value.to_string(), "expected a mapping"),
            );
            return;
        };
        for (key, value) in obj {
            match key.as_str() {
                "insecureSkipVerification" => match value.as_bool() {
                    Some(skip) => {
                        http.insecure_skip_verification = skip;
                        if skip {
                            self.warn(
                                format!("{at}.insecureSkipVerification"),
                                "insecureSkipVerification",
                                "the backend's certificate is not verified for this method: \
                                 anyone on the path can read and change its traffic",
                            );
                        }
                    }
                    None => self.problems.push(
                        format!("{at}.insecureSkipVerification"),
                        Problem::invalid(
                            "insecureSkipVerification",
                            value.to_string(),
                            "expected true or false",
                        ),
                    ),
                },
                other => self.warn(
                    format!("{at}.{other}"),
                    other,
                    "not supported in tlsConfig; ignored",
                ),
            }
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
                    let Some(source) = self.as_text(source, &p_at) else {
                        continue;
                    };
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
                        let t_at = format!("{r_at}.responseTemplates.{content_type}");
                        let Some(text) = self.as_text(template, &t_at) else {
                            continue;
                        };
                        if looks_like_vtl(text) {
                            self.warn(
                                t_at,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_status_templates() {
        assert_eq!(mock_status(r#"{"statusCode": 200}"#), Some(200));
        assert_eq!(mock_status(r#"{"statusCode": "404"}"#), Some(404));
        assert_eq!(mock_status("#set($x = 1) {\"statusCode\": 200}"), None);
        assert_eq!(mock_status(r#"{"statusCode": 70000}"#), None);
    }
}
