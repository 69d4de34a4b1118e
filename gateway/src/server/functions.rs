//! Lambda proxy integrations (`aws_proxy`): the request as API Gateway's Lambda proxy event
//! and the function's answer as the response, for both payload format versions.
//!
//! The event is POSTed through the function registry (identity's `functions`: the endpoint
//! registered for the ARN, signed, within the function's time limit). Its shape:
//!
//! - **1.0** (REST APIs): `resource`, `path` (below the stage), `httpMethod`, `headers` (the
//!   last value of each) and `multiValueHeaders`, `queryStringParameters` (the last value) and
//!   `multiValueQueryStringParameters`, `pathParameters` (decoded), `stageVariables` — each
//!   `null` when empty — `requestContext` (`accountId`, `apiId`, `authorizer`, `domainName`,
//!   `domainPrefix`, `extendedRequestId`, `httpMethod`, `identity` with `sourceIp`,
//!   `userAgent`, the API key and the `AWS_IAM` caller, `path` as requested, `protocol`,
//!   `requestId`, `requestTime`, `requestTimeEpoch`, `resourceId`, `resourcePath`, `stage`),
//!   `body` and `isBase64Encoded`. `authorizer` is `{"claims": {…}}` behind a Cognito/JWT
//!   authorizer and `{"principalId", "integrationLatency", …context}` behind a Lambda one.
//! - **2.0** (HTTP APIs): `version`, `routeKey`, `rawPath`, `rawQueryString`, `cookies` (the
//!   `Cookie` header split, and left out of `headers`), `headers` (repeated ones joined with
//!   `,`), `queryStringParameters` (joined with `,`), `pathParameters`, `stageVariables`,
//!   `requestContext` (`accountId`, `apiId`, `authorizer` as `{"jwt": {"claims", "scopes"}}`,
//!   `{"lambda": {…}}` or `{"iam": {…}}`, `domainName`, `domainPrefix`, `http` with `method`,
//!   `path`, `protocol`, `sourceIp`, `userAgent`, `requestId`, `routeKey`, `stage`, `time`,
//!   `timeEpoch`), `body`, `isBase64Encoded`; empty fields are left out.
//!
//! Header names are lower case (HTTP/2 and hyper know no other). The gateway's own
//! `x-gatehouse-*` headers are not in the event: what they say is in `requestContext`. A body
//! is sent base64-encoded (`isBase64Encoded: true`) when its media type is one of the API's
//! binary media types (1.0) or is not a text type (2.0), and whenever it is not UTF-8.
//!
//! The answer: `statusCode`, `headers` and `multiValueHeaders` (for a name in both, the
//! latter's values), `cookies` (2.0: one `Set-Cookie` each), `body`, `isBase64Encoded`. In
//! 2.0 an answer that is JSON but not an object with `statusCode` is a 200
//! `application/json` body, as API Gateway assumes. Anything else — not JSON, no or a bad
//! `statusCode`, a body that is not a string, bad base64, a header name or value HTTP does not
//! allow (no header injection), an unknown key in a 1.0 answer — is a malformed answer: 502
//! `{"message": "Internal server error"}` and a log line saying why, never the answer itself.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::definition::functions::PayloadFormat;
use crate::server::body::GatewayBody;
use crate::server::steps::Identity;

/// What a Lambda proxy event is made of (everything the pipeline knows about the request).
#[derive(Debug)]
pub(crate) struct EventInput<'a> {
    pub(crate) format: PayloadFormat,
    /// The request's method.
    pub(crate) method: &'a str,
    /// The method as defined: `ANY` when the `ANY` method serves the request (2.0's
    /// `routeKey`).
    pub(crate) route_method: &'a str,
    /// The resource's path template (`/items/{id}`).
    pub(crate) resource_path: &'a str,
    /// The path below the base path and stage, with its leading `/`.
    pub(crate) api_path: String,
    /// The path as requested.
    pub(crate) raw_path: &'a str,
    pub(crate) raw_query: Option<&'a str>,
    /// Decoded query pairs, in order.
    pub(crate) query: Vec<(&'a str, &'a str)>,
    pub(crate) headers: &'a HeaderMap,
    /// Decoded path parameters.
    pub(crate) path_parameters: Vec<(&'a str, String)>,
    pub(crate) stage_variables: &'a BTreeMap<String, String>,
    pub(crate) stage: &'a str,
    pub(crate) api_id: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) source_ip: String,
    pub(crate) protocol: &'a str,
    /// Whether the client's connection is TLS (`X-Forwarded-Proto`).
    pub(crate) secure: bool,
    pub(crate) request_time: SystemTime,
    pub(crate) caller: Caller<'a>,
    pub(crate) identity: &'a Identity,
    pub(crate) body: &'a [u8],
    /// The request's media type is one of the API's binary media types.
    pub(crate) binary_media_type: bool,
}

/// What the method's authorizer established.
#[derive(Debug)]
pub(crate) enum Caller<'a> {
    /// No authorizer.
    Anonymous,
    /// A Cognito or JWT authorizer: the token's claims (stringified).
    Jwt {
        claims: &'a BTreeMap<String, String>,
    },
    /// A Lambda (TOKEN/REQUEST) authorizer: its `principalId` and `context`.
    Lambda {
        principal_id: &'a str,
        context: &'a BTreeMap<String, String>,
    },
    /// `AWS_IAM`: the caller is in [`EventInput::identity`].
    Iam,
}

/// A usable answer, ready to become the response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ProxyAnswer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
}

/// Why an answer is not a Lambda proxy response (for the log; never the answer's content).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("it is not JSON")]
    NotJson,
    #[error("it is not a JSON object")]
    NotAnObject,
    #[error("`statusCode` is missing")]
    NoStatus,
    #[error("`statusCode` is not a status from 200 to 599")]
    BadStatus,
    #[error("`{0}` is not what a Lambda proxy response has there")]
    BadField(&'static str),
    #[error("key `{0}` is not part of a 1.0 Lambda proxy response")]
    UnknownKey(String),
    #[error("`body` is not valid base64, and `isBase64Encoded` says it is")]
    BadBase64,
    #[error("header `{0}` has a name or a value HTTP does not allow")]
    BadHeader(String),
}

/// Headers a function does not set: the connection's and the body's framing are the gateway's.
const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The gateway's own request headers, left out of events.
const GATEWAY_HEADER_PREFIX: &str = "x-gatehouse-";

// === the registry as the definitions' catalog ===

impl crate::definition::functions::FunctionCatalog for gatehouse_identity::functions::Functions {
    fn is_registered(&self, function_arn: &str) -> bool {
        gatehouse_identity::functions::Functions::is_registered(self, function_arn)
    }
}

// === the event ===

/// The event for `input`, as JSON text.
pub(crate) fn event(input: &EventInput<'_>) -> Value {
    match input.format {
        PayloadFormat::V1 => event_v1(input),
        PayloadFormat::V2 => event_v2(input),
    }
}

fn event_v1(input: &EventInput<'_>) -> Value {
    let mut headers = Map::new();
    let mut multi_headers: Map<String, Value> = Map::new();
    for (name, value) in event_headers(input) {
        headers.insert(name.to_owned(), Value::String(value.clone()));
        push_to(&mut multi_headers, name, value);
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (name, value) in &input.query {
        query.insert((*name).to_owned(), Value::String((*value).to_owned()));
        push_to(&mut multi_query, name, (*value).to_owned());
    }
    let (body, encoded) = body_of(input);
    let millis = gatehouse_policy::calendar::unix_millis(input.request_time);
    let authorizer = match &input.caller {
        Caller::Anonymous | Caller::Iam => None,
        Caller::Jwt { claims } => Some(json!({ "claims": claims })),
        Caller::Lambda {
            principal_id,
            context,
        } => {
            let mut map: Map<String, Value> = context
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            map.insert("principalId".into(), json!(principal_id));
            map.insert("integrationLatency".into(), json!(0));
            Some(Value::Object(map))
        }
    };
    let mut context = json!({
        "accountId": input.account_id,
        "apiId": input.api_id,
        "domainName": domain_name(input),
        "domainPrefix": domain_prefix(input),
        "extendedRequestId": input.request_id,
        "httpMethod": input.method,
        "identity": identity_v1(input),
        "path": input.raw_path,
        "protocol": input.protocol,
        "requestId": input.request_id,
        "requestTime": gatehouse_policy::calendar::format_clf(millis.div_euclid(1000)),
        "requestTimeEpoch": millis,
        "resourceId": route_key(input),
        "resourcePath": input.resource_path,
        "stage": input.stage,
    });
    if let (Some(authorizer), Some(obj)) = (authorizer, context.as_object_mut()) {
        obj.insert("authorizer".into(), authorizer);
    }
    json!({
        "resource": input.resource_path,
        "path": input.api_path,
        "httpMethod": input.method,
        "headers": or_null(headers),
        "multiValueHeaders": or_null(multi_headers),
        "queryStringParameters": or_null(query),
        "multiValueQueryStringParameters": or_null(multi_query),
        "pathParameters": or_null(path_parameters(input)),
        "stageVariables": or_null(stage_variables(input)),
        "requestContext": context,
        "body": body,
        "isBase64Encoded": encoded,
    })
}

fn event_v2(input: &EventInput<'_>) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in event_headers(input) {
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_owned())),
            );
            continue;
        }
        join_into(&mut headers, name, &value);
    }
    let mut query: Map<String, Value> = Map::new();
    for (name, value) in &input.query {
        join_into(&mut query, name, value);
    }
    let (body, encoded) = body_of(input);
    let millis = gatehouse_policy::calendar::unix_millis(input.request_time);
    let route_key = route_key(input);
    let mut context = json!({
        "accountId": input.account_id,
        "apiId": input.api_id,
        "domainName": domain_name(input),
        "domainPrefix": domain_prefix(input),
        "http": {
            "method": input.method,
            "path": input.raw_path,
            "protocol": input.protocol,
            "sourceIp": input.source_ip,
            "userAgent": header_text(input.headers, header::USER_AGENT).unwrap_or_default(),
        },
        "requestId": input.request_id,
        "routeKey": route_key,
        "stage": input.stage,
        "time": gatehouse_policy::calendar::format_clf(millis.div_euclid(1000)),
        "timeEpoch": millis,
    });
    let authorizer = match &input.caller {
        Caller::Anonymous => None,
        Caller::Jwt { claims } => {
            let scopes: Vec<&str> = claims
                .get("scope")
                .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            Some(json!({ "jwt": { "claims": claims, "scopes": scopes } }))
        }
        Caller::Lambda { context, .. } => Some(json!({ "lambda": context })),
        Caller::Iam => {
            let id = input.identity;
            Some(json!({ "iam": {
                "accessKey": id.access_key,
                "accountId": id.account_id,
                "callerId": id.caller,
                "cognitoIdentity": id.cognito_identity_id.as_ref().map(|identity_id| json!({
                    "amr": id.cognito_authentication_provider.as_deref().map(|p| vec![
                        id.cognito_authentication_type.clone().unwrap_or_default(),
                        p.to_owned(),
                    ]).unwrap_or_default(),
                    "identityId": identity_id,
                    "identityPoolId": id.cognito_identity_pool_id,
                })),
                "principalOrgId": null,
                "userArn": id.user_arn,
                "userId": id.user,
            }}))
        }
    };
    if let (Some(authorizer), Some(obj)) = (authorizer, context.as_object_mut()) {
        obj.insert("authorizer".into(), authorizer);
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": input.raw_path,
        "rawQueryString": input.raw_query.unwrap_or_default(),
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": encoded,
    });
    if let Some(obj) = event.as_object_mut() {
        if !cookies.is_empty() {
            obj.insert("cookies".into(), Value::Array(cookies));
        }
        if !query.is_empty() {
            obj.insert("queryStringParameters".into(), Value::Object(query));
        }
        let params = path_parameters(input);
        if !params.is_empty() {
            obj.insert("pathParameters".into(), Value::Object(params));
        }
        let variables = stage_variables(input);
        if !variables.is_empty() {
            obj.insert("stageVariables".into(), Value::Object(variables));
        }
        if !body.is_null() {
            obj.insert("body".into(), body);
        }
    }
    event
}

/// `$context.identity` of a 1.0 event.
fn identity_v1(input: &EventInput<'_>) -> Value {
    let id = input.identity;
    json!({
        "accessKey": id.access_key,
        "accountId": id.account_id,
        "apiKey": id.api_key,
        "apiKeyId": id.api_key_id,
        "caller": id.caller,
        "clientCert": null,
        "cognitoAuthenticationProvider": id.cognito_authentication_provider,
        "cognitoAuthenticationType": id.cognito_authentication_type,
        "cognitoIdentityId": id.cognito_identity_id,
        "cognitoIdentityPoolId": id.cognito_identity_pool_id,
        "principalOrgId": null,
        "sourceIp": input.source_ip,
        "user": id.user,
        "userAgent": header_text(input.headers, header::USER_AGENT),
        "userArn": id.user_arn,
    })
}

/// The request's headers as the event shows them: lower-case names, each value as text, the
/// gateway's own left out and `X-Forwarded-Proto` the gateway's.
fn event_headers<'h>(input: &'h EventInput<'_>) -> Vec<(&'h str, String)> {
    let mut out: Vec<(&str, String)> = input
        .headers
        .iter()
        .filter(|(name, _)| {
            !name.as_str().starts_with(GATEWAY_HEADER_PREFIX)
                && name.as_str() != "x-forwarded-proto"
        })
        .map(|(name, value)| {
            (
                name.as_str(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    out.push((
        "x-forwarded-proto",
        if input.secure { "https" } else { "http" }.to_owned(),
    ));
    out
}

fn push_to(map: &mut Map<String, Value>, name: &str, value: String) {
    if let Value::Array(list) = map
        .entry(name.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        list.push(Value::String(value));
    }
}

/// 2.0 joins repeated headers and query parameters with commas.
fn join_into(map: &mut Map<String, Value>, name: &str, value: &str) {
    match map.get_mut(name) {
        Some(Value::String(joined)) => {
            joined.push(',');
            joined.push_str(value);
        }
        _ => {
            map.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
}

fn or_null(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

fn path_parameters(input: &EventInput<'_>) -> Map<String, Value> {
    input
        .path_parameters
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect()
}

fn stage_variables(input: &EventInput<'_>) -> Map<String, Value> {
    input
        .stage_variables
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// `GET /items/{id}` (`ANY /items/{id}` behind the `ANY` method).
fn route_key(input: &EventInput<'_>) -> String {
    format!("{} {}", input.route_method, input.resource_path)
}

fn domain_name(input: &EventInput<'_>) -> String {
    header_text(input.headers, header::HOST)
        .map(|h| h.to_owned())
        .unwrap_or_default()
}

/// The first label of the host, without a port (an IPv6 literal whole).
fn domain_prefix(input: &EventInput<'_>) -> String {
    let host = domain_name(input);
    let name = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    name.split('.').next().unwrap_or_default().to_owned()
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body as the event carries it, and whether it is base64.
fn body_of(input: &EventInput<'_>) -> (Value, bool) {
    if input.body.is_empty() {
        return (Value::Null, false);
    }
    let text = std::str::from_utf8(input.body).ok();
    let binary = match input.format {
        PayloadFormat::V1 => input.binary_media_type,
        PayloadFormat::V2 => !is_text_type(header_text(input.headers, header::CONTENT_TYPE)),
    };
    match text {
        Some(text) if !binary => (Value::String(text.to_owned()), false),
        _ => (Value::String(STANDARD.encode(input.body)), true),
    }
}

/// A media type whose body HTTP APIs hand over as text: `text/*`, JSON, XML, JavaScript,
/// form data — or none at all.
fn is_text_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || matches!(
            media.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | ""
        )
}

/// Whether `content_type` matches one of an API's binary media types (`image/png`,
/// `image/*`, `*/*`).
pub(crate) fn is_binary_media_type(content_type: Option<&str>, binary: &[String]) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (kind, _) = media.split_once('/').unwrap_or((media.as_str(), ""));
    binary.iter().any(|pattern| {
        let pattern = pattern.trim().to_ascii_lowercase();
        pattern == "*/*"
            || pattern == media
            || pattern
                .strip_suffix("/*")
                .is_some_and(|prefix| prefix == kind)
    })
}

// === the answer ===

/// The response a function's answer stands for.
pub(crate) fn answer(format: PayloadFormat, raw: &Bytes) -> Result<ProxyAnswer, Malformed> {
    let value: Value = serde_json::from_slice(raw).map_err(|_| Malformed::NotJson)?;
    match format {
        PayloadFormat::V1 => {
            let Value::Object(map) = value else {
                return Err(Malformed::NotAnObject);
            };
            if let Some(unknown) = map.keys().find(|k| {
                !matches!(
                    k.as_str(),
                    "statusCode" | "headers" | "multiValueHeaders" | "body" | "isBase64Encoded"
                )
            }) {
                return Err(Malformed::UnknownKey(unknown.clone()));
            }
            structured(&map, false)
        }
        PayloadFormat::V2 => match value {
            Value::Object(map) if map.contains_key("statusCode") => structured(&map, true),
            // API Gateway's assumption for 2.0: the whole answer is a JSON body.
            _ => Ok(ProxyAnswer {
                status: 200,
                headers: vec![(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body: raw.clone(),
            }),
        },
    }
}

fn structured(map: &Map<String, Value>, cookies: bool) -> Result<ProxyAnswer, Malformed> {
    let status = match map.get("statusCode") {
        None | Some(Value::Null) => return Err(Malformed::NoStatus),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .filter(|n| (200..=599).contains(n))
    .ok_or(Malformed::BadStatus)?;
    let encoded = match map.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Malformed::BadField("isBase64Encoded")),
    };
    let body = match map.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if encoded => Bytes::from(
            STANDARD
                .decode(text.trim())
                .map_err(|_| Malformed::BadBase64)?,
        ),
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(_) => return Err(Malformed::BadField("body")),
    };
    let mut single: Vec<(String, String)> = Vec::new();
    match map.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(headers)) => {
            for (name, value) in headers {
                single.push((name.to_ascii_lowercase(), scalar(value, "headers")?));
            }
        }
        Some(_) => return Err(Malformed::BadField("headers")),
    }
    let mut multi: Vec<(String, Vec<String>)> = Vec::new();
    match map.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(headers)) => {
            for (name, values) in headers {
                let Value::Array(values) = values else {
                    return Err(Malformed::BadField("multiValueHeaders"));
                };
                let values = values
                    .iter()
                    .map(|v| scalar(v, "multiValueHeaders"))
                    .collect::<Result<Vec<_>, _>>()?;
                multi.push((name.to_ascii_lowercase(), values));
            }
        }
        Some(_) => return Err(Malformed::BadField("multiValueHeaders")),
    }
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    // For a name in both, `multiValueHeaders` has the values.
    for (name, value) in &single {
        if !multi.iter().any(|(m, _)| m == name) {
            headers.push(header(name, value)?);
        }
    }
    for (name, values) in &multi {
        for value in values {
            headers.push(header(name, value)?);
        }
    }
    if cookies {
        match map.get("cookies") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for cookie in list {
                    let Value::String(cookie) = cookie else {
                        return Err(Malformed::BadField("cookies"));
                    };
                    headers.push(header("set-cookie", cookie)?);
                }
            }
            Some(_) => return Err(Malformed::BadField("cookies")),
        }
    }
    headers.retain(|(name, _)| !FRAMING_HEADERS.contains(&name.as_str()));
    Ok(ProxyAnswer {
        status,
        headers,
        body,
    })
}

/// A header value as text: a string, a number or a boolean.
fn scalar(value: &Value, field: &'static str) -> Result<String, Malformed> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => Err(Malformed::BadField(field)),
    }
}

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Malformed> {
    let bad = || Malformed::BadHeader(name.chars().take(64).collect());
    Ok((
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?,
        HeaderValue::from_str(value).map_err(|_| bad())?,
    ))
}

// === impl ProxyAnswer ===

impl ProxyAnswer {
    pub(crate) fn into_response(self) -> Response<GatewayBody> {
        let mut response = Response::new(if self.body.is_empty() {
            GatewayBody::Empty
        } else {
            GatewayBody::full(self.body)
        });
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests;
