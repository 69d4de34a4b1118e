//! `TOKEN` and `REQUEST` authorizers: gatehouse POSTs API Gateway's authorizer event (version
//! 1.0, the REST API shape) as JSON to the configured endpoint, or — for a Lambda authorizer —
//! to the endpoint registered for the function (signed, through the function registry), and
//! reads the answer a Lambda authorizer returns:
//! `{"principalId", "policyDocument", "context", "usageIdentifierKey"}`. A function that fails
//! with the error message `Unauthorized` (how a Lambda authorizer asks for a 401) gives 401.
//!
//! The policy document is evaluated with gatehouse-policy for `execute-api:Invoke` on the
//! method ARN: an explicit deny answers 403 "… with an explicit deny", no matching allow 403
//! "User is not authorized to access this resource". The endpoint answering 401 (a Lambda's
//! `Unauthorized` error) gives 401; anything else unusable gives 500 (`AUTHORIZER_FAILURE`,
//! `AUTHORIZER_CONFIGURATION_ERROR` for a bad policy document).
//!
//! Answers are cached per authorizer and identity-source values for the authorizer's TTL
//! (default 300 s, 0 = off); a cached policy is evaluated again for each method ARN.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_identity::functions::FunctionError;
use gatehouse_policy::calendar::unix_seconds;
use gatehouse_policy::{Outcome, Policy, PolicySet, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Map, Value, json};

use crate::definition::mapping::IdentitySource;
use crate::definition::model::{AuthorizerTarget, EndpointAuthorizer, EndpointAuthorizerKind};
use crate::definition::responses::GatewayResponseType;
use crate::server::authorizers::{
    AuthorizerConfig, CONTEXT_HEADER, CallerPolicies, denied, encoded_header, method_arn, record,
    unauthorized,
};
use crate::server::steps::{Rejection, RequestContext, Verdict};

/// Calls authorizer endpoints and caches their answers.
#[derive(Debug)]
pub(crate) struct EndpointCaller {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    cache: quick_cache::sync::Cache<String, Arc<Answer>>,
    /// Lambda authorizers' functions (`None`: every one fails with 500).
    pub(crate) functions: Option<gatehouse_identity::functions::Functions>,
}

/// A usable answer.
#[derive(Debug)]
struct Answer {
    principal_id: String,
    policy: Arc<Policy>,
    context: Arc<BTreeMap<String, String>>,
    usage_identifier_key: Option<String>,
    /// The response cache's principal: the authorizer's name and `principalId`.
    principal_key: Arc<str>,
    /// Unix seconds after which the cached answer is not used.
    expires_at: i64,
}

/// Largest answer read from an endpoint.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

// === impl EndpointCaller ===

impl EndpointCaller {
    pub(crate) fn new(config: &AuthorizerConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.call_timeout));
        Self {
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
            timeout: config.call_timeout,
            cache: quick_cache::sync::Cache::new(config.endpoint_cache_entries.max(16)),
            functions: None,
        }
    }

    pub(crate) async fn authorize(
        &self,
        config: &AuthorizerConfig,
        cx: &mut RequestContext<'_>,
        name: &str,
        authorizer: &EndpointAuthorizer,
    ) -> Verdict {
        let now = unix_seconds(cx.now);
        let mut sources = Vec::with_capacity(authorizer.identity_sources.len());
        for source in &authorizer.identity_sources {
            match source_value(cx, source) {
                Some(v) if !v.is_empty() => sources.push(v),
                _ => return unauthorized(),
            }
        }
        if authorizer.kind == EndpointAuthorizerKind::Token
            && let (Some(pattern), Some(token)) =
                (&authorizer.identity_validation_expression, sources.first())
            && !pattern.is_match(token)
        {
            return unauthorized();
        }
        let arn = method_arn(config, cx);
        let cache_key = format!("{}\0{}\0{}", cx.hit.api.id, name, sources.join("\0"));
        let cached = (authorizer.result_ttl_seconds > 0)
            .then(|| self.cache.get(&cache_key))
            .flatten()
            .filter(|a| a.expires_at > now);
        let answer = match cached {
            Some(answer) => answer,
            None => match self.call(cx, name, authorizer, &arn, &sources, now).await {
                Ok(answer) => {
                    let answer = Arc::new(answer);
                    if authorizer.result_ttl_seconds > 0 {
                        self.cache.insert(cache_key, Arc::clone(&answer));
                    }
                    answer
                }
                Err(decision) => return decision,
            },
        };
        let context = crate::server::authorizers::policy_context(cx);
        let set = PolicySet {
            identity: vec![&answer.policy],
            ..PolicySet::default()
        };
        let decision = gatehouse_policy::evaluate(
            &set,
            &Request {
                action: "execute-api:Invoke",
                resource: &arn,
                principal: None,
                context: &context,
            },
        );
        match decision.outcome {
            Outcome::Allowed => {}
            Outcome::ExplicitDeny => return denied(true),
            Outcome::ImplicitDeny => return denied(false),
        }
        if !answer.context.is_empty() {
            let map: Map<String, Value> = answer
                .context
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            if let Some(value) = encoded_header(&Value::Object(map)) {
                cx.head.headers.insert(
                    const { http::HeaderName::from_static(CONTEXT_HEADER) },
                    value,
                );
            }
        }
        cx.extensions
            .insert(CallerPolicies(vec![Arc::clone(&answer.policy)]));
        record(
            cx,
            &answer.principal_id,
            Arc::clone(&answer.principal_key),
            Arc::default(),
            Arc::clone(&answer.context),
            answer.usage_identifier_key.clone(),
        );
        Verdict::Continue
    }

    async fn call(
        &self,
        cx: &RequestContext<'_>,
        name: &str,
        authorizer: &EndpointAuthorizer,
        arn: &str,
        sources: &[String],
        now: i64,
    ) -> Result<Answer, Verdict> {
        let failure = |what: &str| {
            tracing::warn!(api = %cx.hit.api.id, "authorizer endpoint: {what}");
            Verdict::Reject(Rejection::new(GatewayResponseType::AuthorizerFailure))
        };
        let event = match authorizer.kind {
            EndpointAuthorizerKind::Token => json!({
                "type": "TOKEN",
                "authorizationToken": sources.first().cloned().unwrap_or_default(),
                "methodArn": arn,
            }),
            EndpointAuthorizerKind::Request => request_event(cx, arn),
        };
        let body = match &authorizer.target {
            AuthorizerTarget::Endpoint(endpoint) => {
                let uri = endpoint
                    .render(|_| None, &cx.hit.stage.stage.variables)
                    .map_err(|e| failure(&e.to_string()))?;
                let request = http::Request::post(uri.as_str())
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(event.to_string())))
                    .map_err(|e| failure(&e.to_string()))?;
                let response = tokio::time::timeout(self.timeout, self.client.request(request))
                    .await
                    .map_err(|_| failure("timed out"))?
                    .map_err(|e| failure(&e.to_string()))?;
                let status = response.status();
                if status == http::StatusCode::UNAUTHORIZED {
                    return Err(unauthorized());
                }
                if !status.is_success() {
                    return Err(failure(&format!("answered {status}")));
                }
                http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                    .collect()
                    .await
                    .map_err(|e| failure(&e.to_string()))?
                    .to_bytes()
            }
            AuthorizerTarget::Function(function) => {
                let arn = function
                    .render(&cx.hit.stage.stage.variables)
                    .map_err(|e| failure(&e.to_string()))?;
                let Some(functions) = &self.functions else {
                    return Err(failure(&format!("function `{arn}` is not registered")));
                };
                let event = Bytes::from(event.to_string());
                match tokio::time::timeout(self.timeout, functions.invoke(&arn, event)).await {
                    Err(_) => return Err(failure("timed out")),
                    Ok(Ok(body)) => body,
                    // A Lambda authorizer that throws `Unauthorized` asks for a 401; so does
                    // an endpoint answering 401.
                    Ok(Err(err @ FunctionError::Failed { status, .. }))
                        if status == 401 || err.error_message() == Some("Unauthorized") =>
                    {
                        return Err(unauthorized());
                    }
                    Ok(Err(err)) => return Err(failure(&err.to_string())),
                }
            }
        };
        if body.len() > MAX_ANSWER_BYTES {
            return Err(failure("the answer is too large"));
        }
        let value: Value = serde_json::from_slice(&body).map_err(|e| failure(&e.to_string()))?;
        let principal_id = match value.get("principalId") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(failure("no `principalId`")),
        };
        let document = value
            .get("policyDocument")
            .ok_or_else(|| failure("no `policyDocument`"))?;
        let policy = Policy::from_value(document).map_err(|e| {
            tracing::warn!(error = %e, "authorizer policy document refused");
            Verdict::Reject(Rejection::new(
                GatewayResponseType::AuthorizerConfigurationError,
            ))
        })?;
        // API Gateway accepts only string, number and boolean context values.
        let mut context = BTreeMap::new();
        if let Some(Value::Object(map)) = value.get("context") {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(failure(
                            "a `context` value is not a string, number or boolean",
                        ));
                    }
                };
                context.insert(k.clone(), text);
            }
        }
        Ok(Answer {
            principal_key: format!("authorizer\0{name}\0{principal_id}").into(),
            principal_id,
            policy: Arc::new(policy),
            context: Arc::new(context),
            usage_identifier_key: value
                .get("usageIdentifierKey")
                .and_then(Value::as_str)
                .map(str::to_owned),
            expires_at: now + i64::from(authorizer.result_ttl_seconds),
        })
    }
}

/// The value of one identity source.
fn source_value(cx: &RequestContext<'_>, source: &IdentitySource) -> Option<String> {
    match source {
        IdentitySource::Header(name) => cx
            .head
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        IdentitySource::QueryString(name) => query_pairs(cx.head.uri.query())
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v),
        IdentitySource::StageVariable(name) => cx.hit.stage.stage.variables.get(name).cloned(),
        IdentitySource::Context(name) => match name.as_str() {
            "identity.sourceIp" => Some(cx.source_ip.to_string()),
            "requestId" => Some(cx.request_id.as_str().to_owned()),
            "stage" => Some(cx.hit.stage.stage.name.clone()),
            "apiId" => Some(cx.hit.api.id.clone()),
            "protocol" => Some(cx.protocol().to_owned()),
            _ => None,
        },
    }
}

/// The REQUEST authorizer event (API Gateway's version 1.0 payload).
fn request_event(cx: &RequestContext<'_>, arn: &str) -> Value {
    let mut headers = Map::new();
    let mut multi_headers: Map<String, Value> = Map::new();
    for (name, value) in &cx.head.headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.insert(name.as_str().to_owned(), Value::String(text.clone()));
        if let Value::Array(list) = multi_headers
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(Value::String(text));
        }
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(cx.head.uri.query()) {
        query.insert(k.clone(), Value::String(v.clone()));
        if let Value::Array(list) = multi_query
            .entry(k)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(Value::String(v));
        }
    }
    let path_parameters: Map<String, Value> = cx
        .hit
        .path_params
        .iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v.to_string())))
        .collect();
    json!({
        "type": "REQUEST",
        "methodArn": arn,
        "resource": cx.hit.resource.path.as_str(),
        "path": cx.head.uri.path(),
        "httpMethod": cx.head.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": cx.hit.stage.stage.variables,
        "requestContext": {
            "path": cx.head.uri.path(),
            "resourcePath": cx.hit.resource.path.as_str(),
            "httpMethod": cx.head.method.as_str(),
            "stage": cx.hit.stage.stage.name,
            "apiId": cx.hit.api.id,
            "requestId": cx.request_id.as_str(),
            "protocol": cx.protocol(),
            "identity": {"sourceIp": cx.source_ip.to_string(), "apiKey": cx.identity.api_key},
        },
    })
}

/// Decoded `name=value` pairs of a query string.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
