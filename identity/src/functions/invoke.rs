//! One call to a function's endpoint: the signed POST, the retry of connections that could not
//! be made, the time limit over the whole exchange and the size limit on the answer.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use serde_json::Value;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::signature::{FUNCTION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use super::{FunctionError, FunctionSettings, FunctionSpec};
use crate::https::HttpsClient;

/// Longest `errorType` / `errorMessage` kept from a failed function's answer.
const MAX_ERROR_TEXT: usize = 4096;

/// The header Lambda's invoke API (and its runtime interface emulator) sets when the function
/// failed, with a 200 status.
const FUNCTION_ERROR_HEADER: &str = "x-amz-function-error";

/// Calls `spec`'s endpoint with `event` at `now` (Unix seconds); `called` is the ARN as the
/// caller named it.
pub(super) async fn call(
    client: &HttpsClient<Full<Bytes>>,
    spec: &FunctionSpec,
    called: &str,
    event: Bytes,
    now: i64,
    settings: &FunctionSettings,
) -> Result<Bytes, FunctionError> {
    let deadline = Instant::now() + spec.timeout;
    let timed_out = || FunctionError::Timeout {
        arn: called.to_owned(),
        timeout_ms: u64::try_from(spec.timeout.as_millis()).unwrap_or(u64::MAX),
    };
    let signature = sign(spec.secret.expose(), now, &event);
    let timestamp = now.to_string();
    let mut backoff = settings.retry_backoff;
    let mut attempt = 0u32;
    let response = loop {
        attempt += 1;
        let request = hyper::Request::post(spec.url.as_str())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static("gatehouse"))
            .header(TIMESTAMP_HEADER, timestamp.as_str())
            .header(SIGNATURE_HEADER, signature.as_str())
            .header(FUNCTION_HEADER, called)
            .body(Full::new(event.clone()))
            .map_err(|err| FunctionError::Unreachable {
                arn: called.to_owned(),
                attempts: attempt,
                reason: err.to_string(),
            })?;
        match timeout_at(deadline, client.request(request)).await {
            Err(_) => return Err(timed_out()),
            Ok(Ok(response)) => break response,
            // The connection was never made: the endpoint saw nothing, so trying again cannot
            // run the function twice.
            Ok(Err(err)) if err.is_connect() => {
                if attempt >= settings.connect_attempts.max(1) {
                    return Err(FunctionError::Unreachable {
                        arn: called.to_owned(),
                        attempts: attempt,
                        reason: error_chain(&err),
                    });
                }
                let pause = Instant::now() + backoff;
                if pause >= deadline {
                    return Err(timed_out());
                }
                sleep_until(pause).await;
                backoff = backoff.saturating_mul(2).min(Duration::from_secs(1));
            }
            Ok(Err(err)) => {
                return Err(FunctionError::Transport {
                    arn: called.to_owned(),
                    reason: error_chain(&err),
                });
            }
        }
    };
    let status = response.status();
    let failed = !status.is_success() || response.headers().contains_key(FUNCTION_ERROR_HEADER);
    let body = read_answer(
        response.into_body(),
        called,
        deadline,
        settings.max_answer_bytes,
    )
    .await
    .map_err(|err| match err {
        ReadError::Timeout => timed_out(),
        ReadError::TooLarge => FunctionError::AnswerTooLarge {
            arn: called.to_owned(),
            limit: settings.max_answer_bytes,
        },
        ReadError::Broken(reason) => FunctionError::Transport {
            arn: called.to_owned(),
            reason,
        },
    })?;
    if failed {
        let (error_type, error_message) = lambda_error(&body);
        return Err(FunctionError::Failed {
            arn: called.to_owned(),
            status: status.as_u16(),
            error_type,
            error_message,
        });
    }
    Ok(body)
}

enum ReadError {
    Timeout,
    TooLarge,
    Broken(String),
}

async fn read_answer(
    body: Incoming,
    called: &str,
    deadline: Instant,
    limit: usize,
) -> Result<Bytes, ReadError> {
    match timeout_at(deadline, Limited::new(body, limit).collect()).await {
        Err(_) => Err(ReadError::Timeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => Err(ReadError::TooLarge),
        Ok(Err(err)) => {
            tracing::debug!(arn = called, %err, "function answer broke off");
            Err(ReadError::Broken(err.to_string()))
        }
    }
}

/// `errorType` and `errorMessage` of a Lambda-shaped error body, each bounded.
fn lambda_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    let text = |key: &str| {
        map.get(key).and_then(Value::as_str).map(|s| {
            let mut end = s.len().min(MAX_ERROR_TEXT);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.get(..end).unwrap_or_default().to_owned()
        })
    };
    (text("errorType"), text("errorMessage"))
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        text.push_str(": ");
        text.push_str(&e.to_string());
        current = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_error_bodies() {
        let long = "x".repeat(MAX_ERROR_TEXT + 10);
        type TypeAndMessage = (Option<String>, Option<String>);
        let cases: Vec<(Vec<u8>, TypeAndMessage)> = vec![
            (
                br#"{"errorType":"Error","errorMessage":"no such user","trace":[]}"#.to_vec(),
                (Some("Error".into()), Some("no such user".into())),
            ),
            (
                br#"{"errorMessage":"Unauthorized"}"#.to_vec(),
                (None, Some("Unauthorized".into())),
            ),
            (br#"{"errorMessage":42}"#.to_vec(), (None, None)),
            (b"Internal Server Error".to_vec(), (None, None)),
            (br#"["errorMessage"]"#.to_vec(), (None, None)),
            (
                format!(r#"{{"errorMessage":"{long}"}}"#).into_bytes(),
                (None, Some("x".repeat(MAX_ERROR_TEXT))),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                lambda_error(&body),
                expected,
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}
