//! The DynamoDB row-level proxy: requests signed with temporary credentials are checked
//! against the caller's role policies, condition keys derived from the request itself, and,
//! when allowed, re-signed with the upstream's credentials and forwarded to any
//! DynamoDB-compatible endpoint.
//!
//! # Layout
//! - `request`: the [`Check`]s a request asks (pure).
//! - `expr`: the expression reader behind `dynamodb:LeadingKeys` and `dynamodb:Attributes`.
//!
//! # Decision
//! Every check must be allowed by [`Permissions::authorize`] for `dynamodb:<Operation>` on
//! `arn:aws:dynamodb:{region}:{account}:table/{name}` (`…/index/{index}` for an index). A
//! condition key that applies but cannot be derived (a key condition that does not provably
//! pin the partition key, a table whose key schema is unknown) is *unproven*: the check is
//! then evaluated twice, once without the key and once with a value no policy variable can
//! equal, and must be allowed both ways, so a policy whose answer depends on the key denies.
//!
//! # Key schemas
//! From a DescribeTable on the upstream, signed with its credentials, cached for
//! [`SCHEMA_TTL`] (a table deleted and made again with another key is noticed within it).

mod expr;
mod request;

pub use request::{
    Check, KeySchema, check_name, checks, is_item_level, is_served, parse_body, tables,
};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use gatehouse_policy::{Context, Outcome};
use http_body_util::{BodyExt as _, Full};
use hyper::header::{self, HeaderName, HeaderValue};

use crate::https::HttpsClient;
use crate::sigv4::{self, CachedSigner, SigningCredentials};
use crate::sts::{Permissions, Principal};

/// The `X-Amz-Target` prefix of DynamoDB's JSON 1.0 protocol.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";
/// DynamoDB's content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// How long a table's key schema is trusted.
pub const SCHEMA_TTL: Duration = Duration::from_secs(60);
/// Most key schemas kept.
const MAX_SCHEMAS: usize = 10_000;
/// The value an unproven condition key takes in the second evaluation: no identifier,
/// name or key a policy variable stands for contains a NUL.
const UNPROVEN_VALUE: &str = "\u{0}gatehouse:unproven";
/// Headers of the forwarded request, named once.
const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
/// Time allowed for one upstream call.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a DynamoDB request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DynamoDbError {
    /// The policies do not allow it (`AccessDeniedException`).
    #[error("{0}")]
    AccessDenied(String),
    /// A parameter the proxy must read is invalid (`ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// The body is not JSON the proxy can read with certainty (`SerializationException`).
    #[error("{0}")]
    Serialization(String),
    /// An operation the proxy does not serve (`UnknownOperationException`).
    #[error("unknown operation `{0}`")]
    UnknownOperation(String),
    /// The upstream could not be reached or answered nonsense (500); the cause is logged.
    #[error("internal error")]
    Upstream(String),
}

impl DynamoDbError {
    fn upstream(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "dynamodb upstream: {context}");
        Self::Upstream(format!("{context}: {cause}"))
    }
}

/// Where requests go and how they are signed there.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `http://host:port` or `https://host[:port]`, optionally with a base path.
    pub url: String,
    /// The region requests to the upstream are signed for.
    pub region: String,
    pub credentials: SigningCredentials,
}

/// The upstream's answer, ready to stream back unchanged.
pub type UpstreamResponse = hyper::Response<hyper::body::Incoming>;

/// The proxy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoDbProxy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    upstream: hyper::Uri,
    /// `host[:port]` for the `Host` header and the signature.
    authority: String,
    /// The same as the `Host` header's value, made once.
    host: HeaderValue,
    /// The upstream's base path, `/` at least.
    path: String,
    /// The upstream's credentials, region and the day's signing key.
    signer: CachedSigner,
    client: HttpsClient<Full<Bytes>>,
    schemas: Mutex<HashMap<String, (KeySchema, SystemTime)>>,
}

impl DynamoDbProxy {
    /// A proxy to `config.url`; `extra_roots` (PEM) are trusted beside the Mozilla roots for
    /// an `https` upstream.
    pub fn new(config: UpstreamConfig) -> Result<Self, String> {
        let upstream: hyper::Uri = config
            .url
            .parse()
            .map_err(|_| format!("`{}` is not a valid url", config.url))?;
        match upstream.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(format!("`{}` must be an http or https url", config.url)),
        }
        if upstream.query().is_some() {
            return Err(format!("`{}` must not have a query", config.url));
        }
        let authority = upstream
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| format!("`{}` has no host", config.url))?;
        let host = HeaderValue::from_str(&authority)
            .map_err(|_| format!("`{}` has no usable host", config.url))?;
        let path = match upstream.path() {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        let client = crate::https::client(&[], Duration::from_secs(10))?;
        Ok(Self {
            inner: Arc::new(Inner {
                upstream,
                authority,
                host,
                path,
                signer: CachedSigner::new(config.credentials, &config.region, "dynamodb"),
                client,
                schemas: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The checks of a request, with the key schemas of its tables loaded (cached).
    pub async fn checks(
        &self,
        operation: &str,
        body: &serde_json::Map<String, serde_json::Value>,
        now: SystemTime,
    ) -> Result<Vec<Check>, DynamoDbError> {
        let mut schemas = HashMap::new();
        let item_level = request::is_item_level(operation);
        for table in tables(operation, body)? {
            if item_level && let Some(schema) = self.key_schema(&table, now).await? {
                schemas.insert(table, schema);
            }
        }
        checks(operation, body, &schemas)
    }

    /// Decides every check for `principal` (see the module docs); `region` and `account`
    /// make the resource ARNs. `context` is the request's (from [`Principal::fill_context`]):
    /// each check's own keys are set in it for that check's decision and taken out again, so
    /// it is left as it came, and no copy of it is made per check.
    pub fn authorize(
        checks: &[Check],
        principal: &Principal,
        permissions: &Permissions,
        context: &mut Context,
        region: &str,
        account: &str,
    ) -> Result<(), DynamoDbError> {
        let policy_principal = principal.policy_principal(account);
        // The values a check's keys replaced, put back before the next check.
        let mut replaced: Vec<(&str, Option<Vec<String>>)> = Vec::new();
        for check in checks {
            let resource = match (&check.table, &check.index) {
                (None, _) => "*".to_owned(),
                (Some(t), None) => format!("arn:aws:dynamodb:{region}:{account}:table/{t}"),
                (Some(t), Some(i)) => {
                    format!("arn:aws:dynamodb:{region}:{account}:table/{t}/index/{i}")
                }
            };
            let allowed = |context: &Context| {
                permissions.authorize(&check.action, &resource, &policy_principal, context)
                    == Outcome::Allowed
            };
            for (key, values) in &check.context {
                replaced.push((*key, context.remove(key)));
                context.set(key, values.clone());
            }
            let mut ok = allowed(context);
            if ok && !check.unproven.is_empty() {
                for key in &check.unproven {
                    replaced.push((*key, context.remove(key)));
                    context.set(key, vec![UNPROVEN_VALUE.to_owned()]);
                }
                ok = allowed(context);
            }
            // Last replaced first: a key set twice gets its first (original) values back.
            for (key, values) in replaced.drain(..).rev() {
                match values {
                    Some(values) => context.set(key, values),
                    None => {
                        context.remove(key);
                    }
                }
            }
            if !ok {
                return Err(DynamoDbError::AccessDenied(format!(
                    "User: {} is not authorized to perform: {} on resource: {resource}",
                    principal.arn(account),
                    check.action
                )));
            }
        }
        Ok(())
    }

    /// Signs `body` for `target` with the upstream's credentials and sends it.
    /// `payload_sha256` is the lower-case hex SHA-256 of `body` when the caller already has it
    /// (the incoming request's verification computed it); `None` hashes it here.
    pub async fn forward(
        &self,
        target: &str,
        body: Bytes,
        payload_sha256: Option<&str>,
        now: SystemTime,
    ) -> Result<UpstreamResponse, DynamoDbError> {
        let inner = &self.inner;
        let headers = [("content-type", CONTENT_TYPE), ("x-amz-target", target)];
        let outgoing = sigv4::Outgoing {
            method: "POST",
            path: &inner.path,
            host: &inner.authority,
            headers: &headers,
            body: &body,
        };
        let signed = inner
            .signer
            .sign(&outgoing, payload_sha256, now)
            .map_err(|e| DynamoDbError::upstream("signing", e))?;
        // Built in place: the header names are known, the `Host` value is made once, and
        // no builder moves the request head from call to call.
        let header_value = |value: String| {
            HeaderValue::try_from(value).map_err(|e| DynamoDbError::upstream("request", e))
        };
        let mut request = hyper::Request::new(Full::new(body));
        *request.method_mut() = hyper::Method::POST;
        *request.uri_mut() = inner.upstream.clone();
        let headers = request.headers_mut();
        headers.reserve(3 + signed.len());
        headers.insert(header::HOST, inner.host.clone());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert(
            X_AMZ_TARGET,
            HeaderValue::from_str(target).map_err(|e| DynamoDbError::upstream("request", e))?,
        );
        for (name, value) in signed {
            let name = match name {
                "x-amz-date" => X_AMZ_DATE,
                "x-amz-security-token" => X_AMZ_SECURITY_TOKEN,
                "authorization" => header::AUTHORIZATION,
                other => HeaderName::from_bytes(other.as_bytes())
                    .map_err(|e| DynamoDbError::upstream("request", e))?,
            };
            headers.insert(name, header_value(value)?);
        }
        match tokio::time::timeout(UPSTREAM_TIMEOUT, inner.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(DynamoDbError::upstream("request", e)),
            Err(_) => Err(DynamoDbError::upstream("request", "timed out")),
        }
    }

    /// The key schema of `table` (`None` when the upstream does not know the table).
    async fn key_schema(
        &self,
        table: &str,
        now: SystemTime,
    ) -> Result<Option<KeySchema>, DynamoDbError> {
        let cached = self
            .inner
            .schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(table)
            .filter(|(_, at)| now.duration_since(*at).unwrap_or_default() < SCHEMA_TTL)
            .map(|(schema, _)| schema.clone());
        if cached.is_some() {
            return Ok(cached);
        }
        // Boxed: the upstream call is a large future, needed once a minute per table, that
        // would otherwise be carried (and moved) by every request's future.
        Box::pin(self.describe_key_schema(table, now)).await
    }

    /// Asks the upstream for `table`'s key schema, and caches it.
    async fn describe_key_schema(
        &self,
        table: &str,
        now: SystemTime,
    ) -> Result<Option<KeySchema>, DynamoDbError> {
        let body = serde_json::to_vec(&serde_json::json!({ "TableName": table }))
            .map_err(|e| DynamoDbError::upstream("describe table", e))?;
        let response = self
            .forward(
                &format!("{TARGET_PREFIX}DescribeTable"),
                Bytes::from(body),
                None,
                now,
            )
            .await?;
        let status = response.status();
        let bytes = tokio::time::timeout(UPSTREAM_TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| DynamoDbError::upstream("describe table", "timed out"))?
            .map_err(|e| DynamoDbError::upstream("describe table", e))?
            .to_bytes();
        if !status.is_success() {
            // A table the upstream does not know: no schema, so its keys stay unproven.
            tracing::debug!(%status, table, "describe table refused upstream");
            return Ok(None);
        }
        let schema = parse_key_schema(&bytes)
            .ok_or_else(|| DynamoDbError::upstream("describe table", "no key schema"))?;
        let mut schemas = self
            .inner
            .schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if schemas.len() >= MAX_SCHEMAS {
            schemas.clear();
        }
        schemas.insert(table.to_owned(), (schema.clone(), now));
        Ok(Some(schema))
    }
}

/// The partition keys of a DescribeTable answer.
fn parse_key_schema(body: &[u8]) -> Option<KeySchema> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let table = value.get("Table")?;
    let hash_key = |schema: &serde_json::Value| {
        schema.as_array()?.iter().find_map(|k| {
            (k.get("KeyType")?.as_str()? == "HASH")
                .then(|| k.get("AttributeName")?.as_str().map(str::to_owned))
                .flatten()
        })
    };
    let partition_key = hash_key(table.get("KeySchema")?)?;
    let mut indexes = HashMap::new();
    for field in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        for index in table
            .get(field)
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(name), Some(key)) = (
                index.get("IndexName").and_then(serde_json::Value::as_str),
                index.get("KeySchema").and_then(hash_key),
            ) {
                indexes.insert(name.to_owned(), key);
            }
        }
    }
    Some(KeySchema {
        partition_key,
        indexes,
    })
}

#[cfg(test)]
mod tests {
    //! The decision over several checks with one request context: each check sees its own
    //! condition keys (and, when unproven, the sentinel) and nothing a check before it set,
    //! and the context comes back as it went in.

    use std::sync::Arc;

    use gatehouse_policy::{Context, Policy};

    use super::{Check, DynamoDbError, DynamoDbProxy, UNPROVEN_VALUE};
    use crate::iam::CompiledRole;
    use crate::sts::{Permissions, Principal};

    const ACCOUNT: &str = "000000000000";

    /// Table `Open` allows GetItem whatever the keys; table `Bare` only while neither
    /// `dynamodb:Attributes` nor `dynamodb:LeadingKeys` is in the request.
    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"dynamodb:GetItem",
         "Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/Open"},
        {"Effect":"Allow","Action":"dynamodb:GetItem",
         "Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/Bare",
         "Condition":{"Null":{"dynamodb:Attributes":"true","dynamodb:LeadingKeys":"true"}}},
        {"Effect":"Deny","Action":"dynamodb:GetItem","Resource":"*",
         "Condition":{"StringEquals":{"dynamodb:Select":"SPECIFIC_ATTRIBUTES"}}}]}"#;

    fn permissions() -> Permissions {
        Permissions::Session {
            role: Arc::new(CompiledRole {
                name: "Auth".into(),
                arn: format!("arn:aws:iam::{ACCOUNT}:role/Auth"),
                role_id: "AROAEXAMPLE".into(),
                max_session_duration: 3600,
                trust: None,
                identity: vec![Arc::new(Policy::parse(POLICY).unwrap())],
                boundary: None,
                tags: Vec::new(),
            }),
            session: Vec::new(),
        }
    }

    fn check(table: &str, context: &[(&'static str, &str)], unproven: &[&'static str]) -> Check {
        Check {
            action: "dynamodb:GetItem".into(),
            table: Some(table.into()),
            index: None,
            context: context
                .iter()
                .map(|(key, value)| (*key, vec![(*value).to_owned()]))
                .collect(),
            unproven: unproven.to_vec(),
        }
    }

    #[test]
    fn each_check_sees_only_its_own_keys_and_the_context_comes_back_unchanged() {
        let principal = Principal::Operator {
            access_key_id: "AKIAEXAMPLE".into(),
            account_id: ACCOUNT.into(),
        };
        let permissions = permissions();
        let mut base = Context::new();
        base.insert("aws:SourceIp", "127.0.0.1");
        // A key of the request context that a check replaces for its own decision only.
        base.insert("dynamodb:Select", "ALL_ATTRIBUTES");
        let attributes = check("Open", &[("dynamodb:Attributes", "a")], &[]);
        let unproven = check("Open", &[], &["dynamodb:LeadingKeys"]);
        let bare = check("Bare", &[], &[]);
        let specific = check("Open", &[("dynamodb:Select", "SPECIFIC_ATTRIBUTES")], &[]);
        let cases: Vec<(&str, Vec<Check>, bool)> = vec![
            ("a bare check alone is allowed", vec![bare.clone()], true),
            (
                "keys of the check before do not reach the next",
                vec![attributes, bare.clone()],
                true,
            ),
            (
                "the unproven sentinel does not reach the next check",
                vec![unproven, bare.clone()],
                true,
            ),
            (
                "a request key a check replaced is back after it",
                vec![check("Open", &[("dynamodb:Select", "COUNT")], &[]), bare],
                true,
            ),
            (
                "a check's value replaces the request's",
                vec![specific],
                false,
            ),
            (
                "a check's own keys apply to it",
                vec![check("Bare", &[("dynamodb:Attributes", "a")], &[])],
                false,
            ),
            (
                "an unproven key is tried with the sentinel",
                vec![check("Bare", &[], &["dynamodb:LeadingKeys"])],
                false,
            ),
        ];
        for (name, checks, allowed) in cases {
            let mut context = base.clone();
            let decided = DynamoDbProxy::authorize(
                &checks,
                &principal,
                &permissions,
                &mut context,
                "us-east-1",
                ACCOUNT,
            );
            assert_eq!(decided.is_ok(), allowed, "{name}: {decided:?}");
            if let Err(e) = decided {
                assert!(matches!(e, DynamoDbError::AccessDenied(_)), "{name}");
            }
            assert_eq!(context, base, "{name}: the context changed");
            assert!(
                context
                    .iter()
                    .all(|(_, v)| !v.iter().any(|v| v == UNPROVEN_VALUE)),
                "{name}"
            );
        }
    }
}
