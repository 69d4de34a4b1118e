//! The operator API over the wire: SigV4-signed requests (signed here by a small, independent
//! signer written from AWS's SigV4 description, service `apigateway` as botocore's `apigateway`
//! client signs) for API keys, usage plans, plan keys, GetUsage and stage cache flushes, and
//! API Gateway's error shape for unsigned and wrongly signed requests.

use std::sync::Arc;

use aws_lc_rs::{digest, hmac};
use axum::body::Body;
use gatehouse_gateway::control::operator::{OperatorState, router};
use gatehouse_gateway::server::{Clock as _, SystemClock};
use gatehouse_identity::http::OperatorCredentials;
use gatehouse_identity::http::operator::OperatorAuth;
use gatehouse_storage::StoreOptions;
use gatehouse_storage::testkit::TestStore;
use http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::support::{Gateway, authorizer_endpoint, backend, gateway};
use super::tests::definition;

pub(super) const ACCESS_KEY: &str = "AKIAOPERATORTEST0001";
pub(super) const SECRET: &str = "operator/secret/key/0123456789abcdefghij";
const REGION: &str = "us-east-1";
const SERVICE: &str = "apigateway";

/// What the operator API answered.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) error_type: Option<String>,
    pub(super) body: Value,
}

pub(super) fn operator_state(gw: &Gateway) -> OperatorState {
    OperatorState {
        usage: Arc::clone(&gw.usage),
        cache: Some(Arc::clone(&gw.cache)),
        auth: Arc::new(OperatorAuth::new(
            OperatorCredentials {
                access_key_id: ACCESS_KEY.into(),
                secret_access_key: SECRET.into(),
            },
            Some(REGION.into()),
            Arc::new(SystemClock),
        )),
        clock: Arc::new(SystemClock),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// RFC 3986 unreserved characters stay, everything else is `%XX` (SigV4's URI encoding).
fn uri_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Authorization` and `X-Amz-Date` for a request signed with `secret` at `now`.
pub(super) fn sign(
    method: &str,
    path: &str,
    query: &str,
    host: &str,
    body: &[u8],
    secret: &str,
    now: std::time::SystemTime,
) -> Vec<(String, String)> {
    let secs = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (date, time) = civil(secs);
    let amz_date = format!("{date}T{time}Z");
    // Every AWS service but S3 encodes each path segment twice; the ids here are URL-safe.
    let canonical_path = path
        .split('/')
        .map(|s| uri_encode(&uri_encode(s)))
        .collect::<Vec<_>>()
        .join("/");
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(k), uri_encode(v))
        })
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let payload = sha256_hex(body);
    let canonical = format!(
        "{method}\n{canonical_path}\n{canonical_query}\nhost:{host}\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n{payload}"
    );
    let scope = format!("{date}/{REGION}/{SERVICE}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [REGION, SERVICE, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    vec![
        ("x-amz-date".into(), amz_date),
        (
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders=host;x-amz-date, Signature={signature}"
            ),
        ),
    ]
}

/// `YYYYMMDD` and `HHMMSS` (UTC) of Unix seconds.
fn civil(secs: i64) -> (String, String) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

/// How a test request is signed.
#[derive(Clone, Copy)]
pub(super) enum Signing {
    Operator,
    WrongSecret,
    Unsigned,
    /// An `Authorization` header that is not a complete SigV4 signature.
    Malformed,
}

/// Sends one request to the operator router (no socket).
pub(super) async fn call(
    app: &axum::Router,
    signing: Signing,
    method: &str,
    path_and_query: &str,
    body: Option<Value>,
) -> Reply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let host = "operator.test";
    let mut request = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", host)
        .header("content-type", "application/json");
    let secret = match signing {
        Signing::Operator => Some(SECRET),
        Signing::WrongSecret => Some("not-the-operator-secret-0123456789abcdef"),
        Signing::Unsigned => None,
        Signing::Malformed => {
            request = request.header("authorization", "AWS4-HMAC-SHA256 Credential=AKIA");
            None
        }
    };
    if let Some(secret) = secret {
        for (k, v) in sign(
            method,
            path,
            query,
            host,
            body.as_bytes(),
            secret,
            // The operator API checks signatures against the system clock too.
            SystemClock.now(),
        ) {
            request = request.header(k, v);
        }
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Reply {
        status,
        error_type,
        body,
    }
}

#[tokio::test]
async fn unsigned_and_wrongly_signed_requests_are_refused_in_api_gateway_shape() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    let app = router(operator_state(&gw));
    // (rule, signing, method, path, status, x-amzn-ErrorType)
    let cases = [
        (
            "unsigned listing",
            Signing::Unsigned,
            "GET",
            "/apikeys",
            "MissingAuthenticationTokenException",
        ),
        (
            "unsigned creation",
            Signing::Unsigned,
            "POST",
            "/apikeys",
            "MissingAuthenticationTokenException",
        ),
        (
            "wrong secret",
            Signing::WrongSecret,
            "GET",
            "/usageplans",
            "InvalidSignatureException",
        ),
        (
            "wrong secret on a flush",
            Signing::WrongSecret,
            "DELETE",
            "/restapis/shop/stages/prod/cache/data",
            "InvalidSignatureException",
        ),
        // The same name the Cognito API gives it: one mapping for every operator API.
        (
            "malformed signature",
            Signing::Malformed,
            "GET",
            "/apikeys",
            "IncompleteSignatureException",
        ),
    ];
    for (rule, signing, method, path, kind) in cases {
        let body = (method == "POST").then(|| json!({"name": "x", "enabled": true}));
        let r = call(&app, signing, method, path, body).await;
        assert_eq!(r.status, 403, "{rule}: {r:?}");
        assert_eq!(r.error_type.as_deref(), Some(kind), "{rule}");
        let object = r.body.as_object().unwrap();
        assert_eq!(object.len(), 1, "{rule}: only `message`: {r:?}");
        assert!(object["message"].is_string(), "{rule}");
    }
    // Nothing was created by the refused requests.
    assert!(gw.usage.list_keys().await.unwrap().is_empty());
    // Signed with the operator credentials: accepted.
    let r = call(&app, Signing::Operator, "GET", "/apikeys", None).await;
    assert_eq!((r.status, r.body), (200, json!({"item": []})));
}

#[tokio::test]
async fn keys_plans_plan_keys_usage_and_cache_flush_through_the_operator_api() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let b = backend().await;
    let (auth, _) = authorizer_endpoint().await;
    let gw = gateway(store.store.clone(), &definition(b.addr, auth), None).await;
    let app = router(operator_state(&gw));
    let op = Signing::Operator;

    // CreateApiKey: the value is in this answer only.
    let created = call(
        &app,
        op,
        "POST",
        "/apikeys",
        Some(json!({"name": "mobile", "description": "the app", "enabled": true})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let key_id = created.body["id"].as_str().unwrap().to_owned();
    let value = created.body["value"].as_str().unwrap().to_owned();
    assert!((30..=128).contains(&value.len()));
    assert_eq!(created.body["name"], "mobile");
    assert_eq!(created.body["description"], "the app");
    assert_eq!(created.body["enabled"], true);
    // A caller-chosen value, and API Gateway's default of a disabled key.
    let chosen = call(
        &app,
        op,
        "POST",
        "/apikeys",
        Some(json!({"name": "partner", "value": "p".repeat(32)})),
    )
    .await;
    assert_eq!(chosen.status, 201);
    assert_eq!(chosen.body["value"], "p".repeat(32));
    assert_eq!(chosen.body["enabled"], false);
    let partner_id = chosen.body["id"].as_str().unwrap().to_owned();
    // Too short a value: 400 BadRequestException.
    let r = call(
        &app,
        op,
        "POST",
        "/apikeys",
        Some(json!({"name": "short", "value": "abc"})),
    )
    .await;
    assert_eq!(
        (r.status, r.error_type.as_deref()),
        (400, Some("BadRequestException"))
    );
    assert!(r.body["message"].is_string());

    // GetApiKeys / GetApiKey never show the value, even with includeValue (only its hash is
    // kept); the visible prefix identifies it.
    let listed = call(&app, op, "GET", "/apikeys", None).await;
    assert_eq!(listed.status, 200);
    let items = listed.body["item"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|k| k.get("value").is_none()));
    let got = call(
        &app,
        op,
        "GET",
        &format!("/apikeys/{key_id}?includeValue=true"),
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert!(got.body.get("value").is_none());
    assert_eq!(got.body["valuePrefix"], value[..8]);
    let missing = call(&app, op, "GET", "/apikeys/nosuchkey", None).await;
    assert_eq!(
        (missing.status, missing.error_type.as_deref()),
        (404, Some("NotFoundException"))
    );

    // UpdateApiKey with patch operations.
    let updated = call(
        &app,
        op,
        "PATCH",
        &format!("/apikeys/{partner_id}"),
        Some(json!({"patchOperations": [
            {"op": "replace", "path": "/enabled", "value": "true"},
            {"op": "replace", "path": "/name", "value": "partner-2"},
        ]})),
    )
    .await;
    assert_eq!(updated.status, 200);
    assert_eq!(
        (&updated.body["enabled"], &updated.body["name"]),
        (&json!(true), &json!("partner-2"))
    );
    let r = call(
        &app,
        op,
        "PATCH",
        &format!("/apikeys/{partner_id}"),
        Some(json!({"patchOperations": [{"op": "remove", "path": "/stages"}]})),
    )
    .await;
    assert_eq!(
        (r.status, r.error_type.as_deref()),
        (400, Some("BadRequestException"))
    );

    // CreateUsagePlan, GetUsagePlans, UpdateUsagePlan.
    let plan = call(
        &app,
        op,
        "POST",
        "/usageplans",
        Some(json!({
            "name": "basic",
            "apiStages": [{"apiId": "shop", "stage": "prod"}],
            "throttle": {"rateLimit": 100.0, "burstLimit": 50},
            "quota": {"limit": 1000, "period": "DAY"},
        })),
    )
    .await;
    assert_eq!(plan.status, 201, "{plan:?}");
    let plan_id = plan.body["id"].as_str().unwrap().to_owned();
    assert_eq!(plan.body["quota"]["limit"], 1000);
    assert_eq!(plan.body["apiStages"][0]["stage"], "prod");
    let r = call(
        &app,
        op,
        "POST",
        "/usageplans",
        Some(json!({"name": "bad", "quota": {"limit": 1, "period": "FORTNIGHT"}})),
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");
    let plans = call(&app, op, "GET", "/usageplans", None).await;
    assert_eq!(plans.body["item"].as_array().unwrap().len(), 1);
    let patched = call(
        &app,
        op,
        "PATCH",
        &format!("/usageplans/{plan_id}"),
        Some(json!({"patchOperations": [
            {"op": "replace", "path": "/quota/limit", "value": "500"},
            {"op": "replace", "path": "/throttle/rateLimit", "value": "200"},
        ]})),
    )
    .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["quota"]["limit"], 500);
    assert_eq!(patched.body["throttle"]["rateLimit"], 200.0);

    // CreateUsagePlanKey / GetUsagePlanKeys; the key now opens the keyed route.
    assert_eq!(
        gw.get("/prod/keyed", &[("x-api-key", &value)]).await.status,
        403
    );
    let bound = call(
        &app,
        op,
        "POST",
        &format!("/usageplans/{plan_id}/keys"),
        Some(json!({"keyId": key_id, "keyType": "API_KEY"})),
    )
    .await;
    assert_eq!(bound.status, 201, "{bound:?}");
    assert_eq!(
        bound.body,
        json!({"id": key_id, "type": "API_KEY", "name": "mobile"})
    );
    let again = call(
        &app,
        op,
        "POST",
        &format!("/usageplans/{plan_id}/keys"),
        Some(json!({"keyId": key_id, "keyType": "API_KEY"})),
    )
    .await;
    assert_eq!(
        (again.status, again.error_type.as_deref()),
        (409, Some("ConflictException"))
    );
    let plan_keys = call(
        &app,
        op,
        "GET",
        &format!("/usageplans/{plan_id}/keys"),
        None,
    )
    .await;
    assert_eq!(
        plan_keys.body["item"],
        json!([{"id": key_id, "type": "API_KEY", "name": "mobile"}])
    );
    for _ in 0..3 {
        assert_eq!(
            gw.get("/prod/keyed", &[("x-api-key", &value)]).await.status,
            200
        );
    }

    // GetUsage: API Gateway's shape, one [used, remaining] pair per day. Like API Gateway's,
    // it may lag by what a background flush is writing at that moment, so poll briefly.
    let today = gw.usage.today();
    let path =
        format!("/usageplans/{plan_id}/usage?keyId={key_id}&startDate={today}&endDate={today}");
    let mut usage = call(&app, op, "GET", &path, None).await;
    for _ in 0..40 {
        if usage.body["values"][key_id.as_str()] == json!([[3, 497]]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        usage = call(&app, op, "GET", &path, None).await;
    }
    assert_eq!(usage.status, 200, "{usage:?}");
    assert_eq!(
        usage.body,
        json!({
            "usagePlanId": plan_id,
            "startDate": today,
            "endDate": today,
            "values": {key_id.as_str(): [[3, 497]]},
        })
    );
    let r = call(
        &app,
        op,
        "GET",
        &format!("/usageplans/{plan_id}/usage?startDate=yesterday&endDate={today}"),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.error_type.as_deref()),
        (400, Some("BadRequestException"))
    );

    // Flush a stage's cache: a cached route misses again afterwards.
    assert_eq!(
        gw.get("/prod/cached/1", &[]).await.header("x-cache"),
        Some("Miss")
    );
    assert_eq!(
        gw.get("/prod/cached/1", &[]).await.header("x-cache"),
        Some("Hit")
    );
    let flushed = call(
        &app,
        op,
        "DELETE",
        "/restapis/shop/stages/prod/cache/data",
        None,
    )
    .await;
    assert_eq!(flushed.status, 202, "{flushed:?}");
    assert_eq!(
        gw.get("/prod/cached/1", &[]).await.header("x-cache"),
        Some("Miss")
    );
    let r = call(
        &app,
        op,
        "DELETE",
        "/restapis/shop/stages/nostage/cache/data",
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.error_type.as_deref()),
        (404, Some("NotFoundException"))
    );

    // DeleteUsagePlanKey, DeleteApiKey, DeleteUsagePlan.
    let r = call(
        &app,
        op,
        "DELETE",
        &format!("/usageplans/{plan_id}/keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        gw.get("/prod/keyed", &[("x-api-key", &value)]).await.status,
        403
    );
    let r = call(&app, op, "DELETE", &format!("/apikeys/{key_id}"), None).await;
    assert_eq!(r.status, 202);
    let r = call(&app, op, "GET", &format!("/apikeys/{key_id}"), None).await;
    assert_eq!(r.status, 404);
    let r = call(&app, op, "DELETE", &format!("/usageplans/{plan_id}"), None).await;
    assert_eq!(r.status, 202);
    let plans = call(&app, op, "GET", "/usageplans", None).await;
    assert_eq!(plans.body, json!({"item": []}));
}
