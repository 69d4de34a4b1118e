//! The registry against endpoints on 127.0.0.1: signed calls verified on the receiving side,
//! Lambda's qualifier rule, failures as a Lambda reports them, the limits, the retry of
//! connections that could not be made (and no retry once one was), and registrations through
//! the store on both backends, seen by a second registry (another node).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_storage::testkit::{TestStore, each_backend};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::clock::SystemClock;
use crate::crypto::{MasterKey, Sealer};

const F: &str = "arn:aws:lambda:us-east-1:123456789012:function:hello";
const SECRET: &str = "test-secret-0123456789";

/// What an endpoint saw: the headers gatehouse signs with and the body.
#[derive(Debug, Clone)]
struct Seen {
    function: String,
    verified: Result<(), signature::SignatureError>,
    body: Bytes,
}

/// An endpoint that verifies each call with `secret` and answers `status`, `headers`, `body`.
async fn endpoint(
    secret: &'static str,
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: Bytes,
) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            let body = body.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let log = Arc::clone(&log);
                    let answer = body.clone();
                    async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let (timestamp, sig, function) = (
                            header(signature::TIMESTAMP_HEADER),
                            header(signature::SIGNATURE_HEADER),
                            header(signature::FUNCTION_HEADER),
                        );
                        let received = request.into_body().collect().await.unwrap().to_bytes();
                        let now = crate::time::unix_seconds(SystemClock.now());
                        log.lock().unwrap().push(Seen {
                            function,
                            verified: signature::verify(secret, &timestamp, &sig, &received, now),
                            body: received,
                        });
                        let mut response = hyper::Response::new(Full::new(answer));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        for (k, v) in headers {
                            response.headers_mut().insert(*k, v.parse().unwrap());
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

fn spec(arn: &str, addr: SocketAddr, timeout_ms: Option<u64>) -> FunctionSpec {
    FunctionSpec::new(
        arn,
        &format!("http://{addr}/invoke"),
        timeout_ms,
        SigningSecret::new(SECRET).unwrap(),
    )
    .unwrap()
}

fn registry(specs: Vec<FunctionSpec>, settings: FunctionSettings) -> Functions {
    Functions::new(specs, None, Arc::new(SystemClock), settings).unwrap()
}

#[tokio::test]
async fn a_call_is_signed_and_its_answer_handed_back() {
    let (addr, seen) = endpoint(SECRET, 200, &[], Bytes::from_static(br#"{"ok":true}"#)).await;
    let functions = registry(vec![spec(F, addr, None)], FunctionSettings::default());
    let answer = functions
        .invoke_json(F, &serde_json::json!({"hello": "world"}))
        .await
        .unwrap();
    assert_eq!(answer, serde_json::json!({"ok": true}));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].verified, Ok(()));
    assert_eq!(seen[0].function, F);
    assert_eq!(&seen[0].body[..], br#"{"hello":"world"}"#);
}

#[tokio::test]
async fn a_receiver_with_another_secret_refuses_the_call() {
    let (addr, seen) = endpoint(
        "another-secret-entirely",
        200,
        &[],
        Bytes::from_static(b"{}"),
    )
    .await;
    let functions = registry(vec![spec(F, addr, None)], FunctionSettings::default());
    functions
        .invoke(F, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap()[0].verified,
        Err(signature::SignatureError::Mismatch)
    );
}

#[tokio::test]
async fn qualifiers_find_their_registration_as_lambda_does() {
    let (plain, plain_seen) = endpoint(SECRET, 200, &[], Bytes::from_static(b"\"plain\"")).await;
    let (canary, canary_seen) = endpoint(SECRET, 200, &[], Bytes::from_static(b"\"canary\"")).await;
    let functions = registry(
        vec![
            spec(F, plain, None),
            spec(&format!("{F}:canary"), canary, None),
        ],
        FunctionSettings::default(),
    );
    for (called, expected) in [
        (F.to_owned(), "\"plain\""),
        (format!("{F}:$LATEST"), "\"plain\""),
        (format!("{F}:live"), "\"plain\""),
        (format!("{F}:7"), "\"plain\""),
        (format!("{F}:canary"), "\"canary\""),
    ] {
        let answer = functions
            .invoke(&called, Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert_eq!(&answer[..], expected.as_bytes(), "{called}");
        assert!(functions.is_registered(&called), "{called}");
    }
    // The endpoint is told the ARN as called, qualifier and all.
    let told = plain_seen.lock().unwrap()[2].function.clone();
    assert_eq!(told, format!("{F}:live"));
    assert_eq!(canary_seen.lock().unwrap().len(), 1);
    let other = "arn:aws:lambda:us-east-1:123456789012:function:other";
    assert!(!functions.is_registered(other));
    assert!(matches!(
        functions.invoke(other, Bytes::new()).await,
        Err(FunctionError::NotRegistered { arn }) if arn == other
    ));
    assert!(matches!(
        functions.invoke("hello", Bytes::new()).await,
        Err(FunctionError::InvalidArn { .. })
    ));
    // A qualified registration does not serve the function itself.
    let only_canary = registry(
        vec![spec(&format!("{F}:canary"), canary, None)],
        FunctionSettings::default(),
    );
    assert!(!only_canary.is_registered(F));
}

#[tokio::test]
async fn failures_are_reported_as_lambda_reports_them() {
    let error = Bytes::from_static(br#"{"errorType":"Error","errorMessage":"no such user"}"#);
    let (thrown, _) = endpoint(SECRET, 500, &[], error.clone()).await;
    let (emulator, _) =
        endpoint(SECRET, 200, &[("x-amz-function-error", "Unhandled")], error).await;
    let (plain, _) = endpoint(SECRET, 403, &[], Bytes::from_static(b"forbidden")).await;
    let (garbage, _) = endpoint(SECRET, 200, &[], Bytes::from_static(b"<html>")).await;
    let arn = |name: &str| format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
    let functions = registry(
        vec![
            spec(&arn("thrown"), thrown, None),
            spec(&arn("emulator"), emulator, None),
            spec(&arn("plain"), plain, None),
            spec(&arn("garbage"), garbage, None),
        ],
        FunctionSettings::default(),
    );
    for (name, status, message) in [
        ("thrown", 500, Some("no such user")),
        ("emulator", 200, Some("no such user")),
        ("plain", 403, None),
    ] {
        match functions.invoke(&arn(name), Bytes::new()).await {
            Err(err @ FunctionError::Failed { .. }) => {
                assert_eq!(err.error_message(), message, "{name}");
                let FunctionError::Failed { status: got, .. } = err else {
                    unreachable!()
                };
                assert_eq!(got, status, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(
        functions
            .invoke_json(&arn("garbage"), &serde_json::json!({}))
            .await,
        Err(FunctionError::NotJson { .. })
    ));
    // The bytes themselves are the caller's to judge.
    let raw = functions
        .invoke(&arn("garbage"), Bytes::new())
        .await
        .unwrap();
    assert_eq!(&raw[..], b"<html>");
}

#[tokio::test]
async fn events_and_answers_have_size_limits() {
    let (addr, seen) = endpoint(SECRET, 200, &[], Bytes::from(vec![b'x'; 2048])).await;
    let settings = FunctionSettings {
        max_event_bytes: 100,
        max_answer_bytes: 1024,
        ..FunctionSettings::default()
    };
    let functions = registry(vec![spec(F, addr, None)], settings);
    assert!(matches!(
        functions.invoke(F, Bytes::from(vec![b' '; 101])).await,
        Err(FunctionError::EventTooLarge { limit: 100, .. })
    ));
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
    assert!(matches!(
        functions.invoke(F, Bytes::from_static(b"{}")).await,
        Err(FunctionError::AnswerTooLarge { limit: 1024, .. })
    ));
}

#[tokio::test]
async fn an_endpoint_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts, reads, and keeps the connection open without a word.
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            open.push(stream);
        }
    });
    let functions = registry(vec![spec(F, addr, Some(200))], FunctionSettings::default());
    assert!(matches!(
        functions.invoke(F, Bytes::from_static(b"{}")).await,
        Err(FunctionError::Timeout {
            timeout_ms: 200,
            ..
        })
    ));
    held.abort();
}

#[tokio::test]
async fn a_connection_that_cannot_be_made_is_tried_again_then_given_up() {
    // A port nothing listens on.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let functions = registry(
        vec![spec(F, addr, None)],
        FunctionSettings {
            retry_backoff: Duration::from_millis(1),
            ..FunctionSettings::default()
        },
    );
    match functions.invoke(F, Bytes::from_static(b"{}")).await {
        Err(FunctionError::Unreachable {
            attempts, reason, ..
        }) => {
            assert_eq!(attempts, 3);
            assert!(!reason.contains(SECRET));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_retry_reaches_an_endpoint_that_came_up() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let functions = registry(
        vec![spec(F, addr, Some(10_000))],
        FunctionSettings {
            retry_backoff: Duration::from_millis(300),
            ..FunctionSettings::default()
        },
    );
    let call = tokio::spawn({
        let functions = functions.clone();
        async move { functions.invoke(F, Bytes::from_static(b"{}")).await }
    });
    // The first attempt finds nothing; the endpoint comes up on that port during the pause.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buffer = vec![0u8; 4096];
    let _ = stream.read(&mut buffer).await.unwrap();
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n\"up\"")
        .await
        .unwrap();
    let answer = call.await.unwrap().unwrap();
    assert_eq!(&answer[..], b"\"up\"");
}

#[tokio::test]
async fn a_call_the_endpoint_received_is_never_sent_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(0usize));
    let count = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 4096];
            if stream.read(&mut buffer).await.unwrap_or(0) > 0 {
                *count.lock().unwrap() += 1;
            }
            // Closed without an answer: the function may have run.
            drop(stream);
        }
    });
    let functions = registry(vec![spec(F, addr, None)], FunctionSettings::default());
    assert!(matches!(
        functions.invoke(F, Bytes::from_static(b"{}")).await,
        Err(FunctionError::Transport { .. })
    ));
    assert_eq!(*received.lock().unwrap(), 1);
}

// === registrations through the store ===

fn sealer() -> Arc<Sealer> {
    let key = MasterKey::from_bytes("k1", [7; 32]).unwrap();
    Arc::new(Sealer::new(&key, &[]).unwrap())
}

fn new_function(arn: &str, url: &str, secret: Option<&str>) -> NewFunction {
    NewFunction {
        arn: arn.to_owned(),
        url: url.to_owned(),
        timeout_ms: Some(1500),
        secret: secret.map(str::to_owned),
    }
}

#[tokio::test]
async fn registrations_are_stored_for_every_node_and_the_configuration_wins() {
    each_backend(async |t: &TestStore| {
        let (addr, seen) = endpoint(SECRET, 200, &[], Bytes::from_static(b"{}")).await;
        let configured = "arn:aws:lambda:us-east-1:123456789012:function:configured";
        let node = |configured_specs| {
            Functions::new(
                configured_specs,
                Some((t.store.clone(), sealer())),
                Arc::new(SystemClock),
                FunctionSettings::default(),
            )
            .unwrap()
        };
        let one = node(vec![spec(configured, addr, None)]);
        let two = node(Vec::new());
        one.refresh().await.unwrap();
        two.refresh().await.unwrap();
        let mut changes = two.subscribe();
        let before = *changes.borrow_and_update();

        // A generated secret is handed back once and opens on the other node.
        let url = format!("http://{addr}/hello");
        let made = one.register(new_function(F, &url, None)).await.unwrap();
        assert!(made.created);
        let generated = made.generated_secret.clone().unwrap();
        assert_eq!(generated.expose().len(), 64);
        assert!(
            !format!("{made:?}").contains(generated.expose()),
            "Debug hides it"
        );
        assert_eq!(
            (
                made.function.arn.as_str(),
                made.function.timeout_ms,
                made.function.source
            ),
            (F, 1500, FunctionSource::OperatorApi)
        );
        assert!(two.refresh().await.unwrap());
        assert_ne!(
            *changes.borrow_and_update(),
            before,
            "a change is announced"
        );
        assert!(two.is_registered(&format!("{F}:live")));

        // The secret given is the one used.
        one.register(new_function(F, &url, Some(SECRET)))
            .await
            .unwrap();
        two.refresh().await.unwrap();
        two.invoke(F, Bytes::from_static(b"{}")).await.unwrap();
        assert_eq!(seen.lock().unwrap()[0].verified, Ok(()));

        // The configuration wins: node one refuses to change or remove its own function…
        for result in [
            one.register(new_function(configured, &url, None))
                .await
                .map(|_| ()),
            one.delete(configured).await,
        ] {
            assert!(matches!(result, Err(FunctionsError::Configured(arn)) if arn == configured));
        }
        // …and ignores a stored one of that ARN made elsewhere.
        let other_url = "http://127.0.0.1:1/elsewhere";
        two.register(new_function(configured, other_url, None))
            .await
            .unwrap();
        one.refresh().await.unwrap();
        let shown = one.get(configured).unwrap();
        assert_eq!(shown.source, FunctionSource::Configuration);
        assert_eq!(shown.url, format!("http://{addr}/invoke"));
        assert_eq!(two.get(configured).unwrap().url, other_url);

        let listed: Vec<(String, FunctionSource)> =
            one.list().into_iter().map(|f| (f.arn, f.source)).collect();
        assert_eq!(
            listed,
            [
                (configured.to_owned(), FunctionSource::Configuration),
                (F.to_owned(), FunctionSource::OperatorApi),
            ]
        );

        // Deleting reaches the other node; an unknown ARN is not found.
        two.delete(&format!("{F}:$LATEST")).await.unwrap();
        one.refresh().await.unwrap();
        assert!(!one.is_registered(F));
        assert!(matches!(one.delete(F).await, Err(FunctionsError::NotFound(arn)) if arn == F));
        assert!(matches!(one.get(F), Err(FunctionsError::NotFound(_))));
    })
    .await;
}

#[tokio::test]
async fn registrations_are_checked() {
    each_backend(async |t: &TestStore| {
        let functions = Functions::new(
            Vec::new(),
            Some((t.store.clone(), sealer())),
            Arc::new(SystemClock),
            FunctionSettings::default(),
        )
        .unwrap();
        let good_url = "https://fn.example.com/hello?stage=prod";
        let cases: Vec<(NewFunction, &str)> = vec![
            (
                new_function("hello", good_url, None),
                "function arn `hello` is invalid",
            ),
            (
                new_function(F, "ftp://fn.example.com/", None),
                "function url `ftp://fn.example.com/`",
            ),
            (
                new_function(F, "http://user:pw@fn.example.com/x?token=t0ps3cret", None),
                "function url `http://fn.example.com/x?…` must",
            ),
            (
                new_function(F, "http://fn.example.com/#x", None),
                "fragment",
            ),
            (
                new_function(F, "/relative", None),
                "function url `/relative`",
            ),
            (
                NewFunction {
                    timeout_ms: Some(0),
                    ..new_function(F, good_url, None)
                },
                "timeout `0`",
            ),
            (
                NewFunction {
                    timeout_ms: Some(MAX_TIMEOUT_MS + 1),
                    ..new_function(F, good_url, None)
                },
                "timeout `900001`",
            ),
            (
                new_function(F, good_url, Some("short")),
                "16 to 256 printable",
            ),
            (
                new_function(F, good_url, Some("has a space in it, sadly")),
                "16 to 256 printable",
            ),
        ];
        for (new, expected) in cases {
            let err = functions.register(new.clone()).await.unwrap_err();
            assert!(err.to_string().contains(expected), "{new:?}: {err}");
            assert!(!err.to_string().contains("t0ps3cret"), "{err}");
            if let Some(secret) = &new.secret {
                assert!(!err.to_string().contains(secret.as_str()), "{err}");
            }
        }
        assert!(functions.list().is_empty(), "nothing registered");
        let made = functions
            .register(new_function(F, good_url, None))
            .await
            .unwrap();
        assert_eq!(made.function.url, good_url);
    })
    .await;
}

#[tokio::test]
async fn without_a_store_only_the_configuration_counts() {
    let functions = registry(Vec::new(), FunctionSettings::default());
    assert!(matches!(
        functions
            .register(new_function(F, "http://127.0.0.1:1/", None))
            .await,
        Err(FunctionsError::NoStore)
    ));
    assert!(!functions.refresh().await.unwrap());
}
