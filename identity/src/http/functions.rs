//! gatehouse's own operator API for the function registry ([`crate::functions`]), REST-JSON
//! like API Gateway's management API and guarded the same way: every request SigV4-signed
//! with the operator credentials, for the service name `gatehouse`; refusals as
//! `{"message"}` with `x-amzn-ErrorType`.
//!
//! | request | answer |
//! |---|---|
//! | `POST /gatehouse/functions` `{"functionArn", "url", "timeoutMillis"?, "secret"?}` | 201 (new) or 200 (replaced): the function, with `secret` when one was generated (shown once) |
//! | `GET /gatehouse/functions` | 200 `{"functions": [...]}`, configured and registered, never a secret |
//! | `GET /gatehouse/functions/{functionArn}` | 200 the function |
//! | `DELETE /gatehouse/functions/{functionArn}` | 204 |
//!
//! A function is `{"functionArn", "url", "timeoutMillis", "source", "createdDate"?,
//! "lastModifiedDate"?}`, `source` being `configuration` (flags, environment, config file:
//! read-only here, and it wins on a clash) or `operator` (stored, on every node); dates are
//! Unix seconds.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::functions::{FunctionInfo, FunctionSource, Functions, FunctionsError, NewFunction};
use crate::http::operator::{OperatorAuth, RestGuard, require_operator};
use crate::time::unix_seconds;

/// The SigV4 service name of gatehouse's own operator API.
pub const SIGNING_SERVICE: &str = "gatehouse";

/// Largest request body (a registration is a few hundred bytes).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The registry's routes, each behind the operator's signature check.
pub fn routes(functions: Functions, auth: Arc<OperatorAuth>) -> Router {
    let guard = RestGuard {
        auth,
        service: SIGNING_SERVICE,
        max_body_bytes: MAX_BODY_BYTES,
    };
    Router::new()
        .route("/gatehouse/functions", post(register).get(list))
        .route("/gatehouse/functions/{arn}", get(describe).delete(remove))
        .route_layer(axum::middleware::from_fn_with_state(
            guard,
            require_operator,
        ))
        .with_state(functions)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterRequest {
    function_arn: String,
    url: String,
    timeout_millis: Option<u64>,
    secret: Option<String>,
}

async fn register(State(functions): State<Functions>, body: Bytes) -> Response {
    let request: RegisterRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        // serde's message names the field, never a value.
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                format!("invalid request body: {err}"),
            );
        }
    };
    let new = NewFunction {
        arn: request.function_arn,
        url: request.url,
        timeout_ms: request.timeout_millis,
        secret: request.secret,
    };
    match functions.register(new).await {
        Ok(registration) => {
            let mut body = function_json(&registration.function);
            if let (Some(secret), Some(obj)) =
                (&registration.generated_secret, body.as_object_mut())
            {
                obj.insert("secret".into(), json!(secret.expose()));
            }
            let status = if registration.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            ok(status, &body)
        }
        Err(err) => refusal(&err),
    }
}

async fn list(State(functions): State<Functions>) -> Response {
    // Another node's change a moment ago is seen now rather than at the next tick.
    if let Err(err) = functions.refresh().await {
        return refusal(&err);
    }
    let items: Vec<Value> = functions.list().iter().map(function_json).collect();
    ok(StatusCode::OK, &json!({ "functions": items }))
}

async fn describe(State(functions): State<Functions>, Path(arn): Path<String>) -> Response {
    if let Err(err) = functions.refresh().await {
        return refusal(&err);
    }
    match functions.get(&arn) {
        Ok(info) => ok(StatusCode::OK, &function_json(&info)),
        Err(err) => refusal(&err),
    }
}

async fn remove(State(functions): State<Functions>, Path(arn): Path<String>) -> Response {
    if let Err(err) = functions.refresh().await {
        return refusal(&err);
    }
    match functions.delete(&arn).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => refusal(&err),
    }
}

fn function_json(info: &FunctionInfo) -> Value {
    let mut value = json!({
        "functionArn": info.arn,
        "url": info.url,
        "timeoutMillis": info.timeout_ms,
        "source": match info.source {
            FunctionSource::Configuration => "configuration",
            FunctionSource::OperatorApi => "operator",
        },
    });
    if let Some(obj) = value.as_object_mut() {
        if let Some(at) = info.created_at {
            obj.insert("createdDate".into(), json!(unix_seconds(at)));
        }
        if let Some(at) = info.updated_at {
            obj.insert("lastModifiedDate".into(), json!(unix_seconds(at)));
        }
    }
    value
}

/// The one mapping of the registry's errors to this API's wire.
fn refusal(err: &FunctionsError) -> Response {
    let (status, kind) = match err {
        FunctionsError::InvalidArn { .. }
        | FunctionsError::InvalidUrl(_)
        | FunctionsError::InvalidTimeout(_)
        | FunctionsError::InvalidSecret => (StatusCode::BAD_REQUEST, "BadRequestException"),
        FunctionsError::Configured(_) => (StatusCode::CONFLICT, "ConflictException"),
        FunctionsError::NotFound(_) => (StatusCode::NOT_FOUND, "NotFoundException"),
        FunctionsError::TooMany(_) => (StatusCode::BAD_REQUEST, "LimitExceededException"),
        FunctionsError::NoStore
        | FunctionsError::Client(_)
        | FunctionsError::Storage(_)
        | FunctionsError::Crypto(_) => {
            tracing::error!(error = %err, "function registry");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "internal error".to_owned(),
            );
        }
    };
    error(status, kind, err.to_string())
}

fn error(status: StatusCode, kind: &'static str, message: String) -> Response {
    (
        status,
        [
            ("content-type", "application/json"),
            ("x-amzn-errortype", kind),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn ok(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CryptoError;
    use crate::functions::ArnError;

    use std::time::{Duration, SystemTime};

    use tower::ServiceExt as _;

    use crate::clock::FixedClock;
    use crate::functions::{FunctionSettings, FunctionSpec, SigningSecret};
    use crate::http::OperatorCredentials;
    use crate::sigv4::{Outgoing, SigningCredentials, sign};

    const KEY_ID: &str = "AKIAOPERATOREXAMPLE1";
    const SECRET_KEY: &str = "operator/secret/key/0123456789abcdefghij";
    const CONFIGURED: &str = "arn:aws:lambda:us-east-1:123456789012:function:configured";

    fn app(now: SystemTime) -> Router {
        let clock = Arc::new(FixedClock::new(now));
        let auth = OperatorAuth::new(
            OperatorCredentials {
                access_key_id: KEY_ID.into(),
                secret_access_key: SECRET_KEY.into(),
            },
            Some("us-east-1".into()),
            clock.clone(),
        );
        let spec = FunctionSpec::new(
            CONFIGURED,
            "http://127.0.0.1:9/configured",
            None,
            SigningSecret::new("configured-secret-0123").unwrap(),
        )
        .unwrap();
        let functions =
            Functions::new(vec![spec], None, clock, FunctionSettings::default()).unwrap();
        routes(functions, Arc::new(auth))
    }

    async fn call(
        app: Router,
        method: &str,
        path: &str,
        body: &[u8],
        signed_for: Option<(&str, SystemTime)>,
    ) -> (u16, Value) {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some((service, at)) = signed_for {
            let outgoing = Outgoing {
                method,
                path,
                host: "localhost",
                headers: &[],
                body,
            };
            let credentials = SigningCredentials {
                access_key_id: KEY_ID.into(),
                secret_access_key: SECRET_KEY.into(),
                session_token: None,
            };
            for (name, value) in sign(&outgoing, &credentials, "us-east-1", service, at).unwrap() {
                request = request.header(name, value);
            }
        }
        let response = app
            .oneshot(request.body(axum::body::Body::from(body.to_vec())).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn only_the_operator_signing_for_gatehouse_gets_in() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let path = "/gatehouse/functions";
        let (status, body) = call(app(now), "GET", path, b"", Some((SIGNING_SERVICE, now))).await;
        assert_eq!(status, 200);
        assert_eq!(body["functions"][0]["functionArn"], CONFIGURED);
        assert_eq!(body["functions"][0]["source"], "configuration");
        assert!(!body.to_string().contains("configured-secret"), "{body}");
        for (case, signed_for) in [
            ("unsigned", None),
            ("signed for another service", Some(("apigateway", now))),
            (
                "signed an hour ago",
                Some((SIGNING_SERVICE, now - Duration::from_secs(3600))),
            ),
        ] {
            let (status, body) = call(app(now), "GET", path, b"", signed_for).await;
            assert_eq!(status, 403, "{case}: {body}");
            assert!(body["message"].is_string(), "{case}: {body}");
        }
        // Without a store, registering is an internal failure, said without details.
        let body = br#"{"functionArn":"arn:aws:lambda:us-east-1:123456789012:function:x","url":"http://127.0.0.1:9/"}"#;
        let (status, answer) =
            call(app(now), "POST", path, body, Some((SIGNING_SERVICE, now))).await;
        assert_eq!(
            (status, answer["message"].as_str()),
            (500, Some("internal error"))
        );
        // A configured function cannot be removed here.
        let one = format!("{path}/{CONFIGURED}");
        let (status, answer) =
            call(app(now), "DELETE", &one, b"", Some((SIGNING_SERVICE, now))).await;
        assert_eq!(status, 409, "{answer}");
        let (status, answer) = call(app(now), "GET", &one, b"", Some((SIGNING_SERVICE, now))).await;
        assert_eq!(
            (status, &answer["url"]),
            (200, &json!("http://127.0.0.1:9/configured"))
        );
        let (status, _) = call(
            app(now),
            "POST",
            path,
            b"{\"functionArn\": 1}",
            Some((SIGNING_SERVICE, now)),
        )
        .await;
        assert_eq!(status, 400);
    }

    /// Every variant once, with the status and error name it answers.
    #[test]
    fn every_registry_error_has_its_status() {
        let cases: Vec<(FunctionsError, u16, &str)> = vec![
            (
                FunctionsError::InvalidArn {
                    arn: "x".into(),
                    reason: ArnError::Shape,
                },
                400,
                "BadRequestException",
            ),
            (
                FunctionsError::InvalidUrl("x".into()),
                400,
                "BadRequestException",
            ),
            (
                FunctionsError::InvalidTimeout(0),
                400,
                "BadRequestException",
            ),
            (FunctionsError::InvalidSecret, 400, "BadRequestException"),
            (
                FunctionsError::Configured("a".into()),
                409,
                "ConflictException",
            ),
            (
                FunctionsError::NotFound("a".into()),
                404,
                "NotFoundException",
            ),
            (FunctionsError::TooMany(1000), 400, "LimitExceededException"),
            (FunctionsError::NoStore, 500, "InternalFailure"),
            (FunctionsError::Client("x".into()), 500, "InternalFailure"),
            (
                FunctionsError::Crypto(CryptoError::Malformed),
                500,
                "InternalFailure",
            ),
            (
                FunctionsError::Storage(gatehouse_storage::StorageError::Busy),
                500,
                "InternalFailure",
            ),
        ];
        for (err, status, kind) in cases {
            let response = refusal(&err);
            assert_eq!(response.status().as_u16(), status, "{err:?}");
            assert_eq!(
                response
                    .headers()
                    .get("x-amzn-errortype")
                    .map(|v| v.as_bytes()),
                Some(kind.as_bytes()),
                "{err:?}"
            );
        }
    }
}
