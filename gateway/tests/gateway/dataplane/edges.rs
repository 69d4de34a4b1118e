//! Request ids, CORS, request validation, access logs and metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::support::{start, start_routed, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_generated_or_honoured() {
    let gw = start().await;
    let a = gw.get("/prod/echo").await;
    let b = gw.get("/prod/echo").await;
    let (ida, idb) = (
        a.header("x-amzn-requestid").unwrap(),
        b.header("x-amzn-requestid").unwrap(),
    );
    assert_ne!(ida, idb);
    assert_eq!(ida.len(), 36);
    let client_id = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
    let c = gw
        .request("GET", "/prod/echo", &[("x-amzn-RequestId", client_id)], "")
        .await;
    assert_eq!(
        c.header("x-amzn-requestid"),
        Some("6f9619ff-8b86-d011-b42d-00c04fc964ff")
    );
    // Not a UUID: replaced.
    let d = gw
        .request(
            "GET",
            "/prod/echo",
            &[("x-amzn-RequestId", "'; drop table")],
            "",
        )
        .await;
    assert_eq!(d.header("x-amzn-requestid").unwrap().len(), 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_is_answered_at_the_gateway() {
    let gw = start().await;
    let preflight = [
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    // Even for a path with no OPTIONS method, and for an unknown path of the API.
    for path in ["/prod/orders", "/prod/nothing-here"] {
        let answer = gw.request("OPTIONS", path, &preflight, "").await;
        assert_eq!(answer.status, 204, "{path}");
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(
            answer.header("access-control-allow-methods"),
            Some("GET,POST")
        );
        assert_eq!(
            answer.header("access-control-allow-headers"),
            Some("Content-Type,x-api-key")
        );
        assert_eq!(answer.header("access-control-max-age"), Some("600"));
        assert_eq!(
            answer.header("access-control-allow-credentials"),
            Some("true")
        );
    }
    let evil = gw
        .request(
            "OPTIONS",
            "/prod/orders",
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "POST"),
            ],
            "",
        )
        .await;
    assert_eq!(evil.status, 204);
    assert_eq!(evil.header("access-control-allow-origin"), None);
    assert_eq!(
        gw.backend
            .seen
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "preflights never reach the backend"
    );
    // Actual responses carry the allow headers.
    let answer = gw
        .request(
            "GET",
            "/prod/echo",
            &[("origin", "https://app.example.com")],
            "",
        )
        .await;
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        answer.header("access-control-expose-headers"),
        Some("x-amzn-RequestId")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_validation_checks_parameters_then_the_body() {
    let gw = start().await;
    let ok_body = r#"{"sku": "ABC-12", "quantity": 3, "note": "hi"}"#;
    let headers = [("x-tenant", "t1"), ("content-type", "application/json")];
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("/prod/orders?region=eu", &headers, ok_body, 200, ""),
        (
            "/prod/orders",
            &[("content-type", "application/json")],
            ok_body,
            400,
            "Missing required request parameters: [region, x-tenant]",
        ),
        (
            "/prod/orders",
            &headers,
            ok_body,
            400,
            "Missing required request parameters: [region]",
        ),
        (
            "/prod/orders?region=eu",
            &headers,
            r#"{"sku": "abc", "quantity": 3}"#,
            400,
            "Invalid request body",
        ),
        (
            "/prod/orders?region=eu",
            &headers,
            r#"{"sku": "ABC-1", "quantity": 0}"#,
            400,
            "Invalid request body",
        ),
        (
            "/prod/orders?region=eu",
            &headers,
            r#"{"sku": "ABC-1", "quantity": 1, "x": 1}"#,
            400,
            "Invalid request body",
        ),
        (
            "/prod/orders?region=eu",
            &headers,
            r#"{"sku": "ABC-1", "quantity": 1, "note": "far too long"}"#,
            400,
            "Invalid request body",
        ),
        (
            "/prod/orders?region=eu",
            &headers,
            "not json",
            400,
            "Invalid request body",
        ),
        (
            "/prod/orders?region=eu",
            &headers,
            "",
            400,
            "Invalid request body",
        ),
    ];
    for (path, headers, body, status, message) in &cases {
        let answer = gw.request("POST", path, headers, body.to_string()).await;
        assert_eq!(answer.status, *status, "{path} {body}");
        if *status == 200 {
            assert_eq!(
                answer.json()["body"],
                *body,
                "validated bodies are forwarded intact"
            );
        } else {
            assert_eq!(
                answer.json(),
                serde_json::json!({"message": message}),
                "{path} {body}"
            );
        }
    }
    assert_eq!(
        gw.backend
            .seen
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_logs_are_json_lines_with_context_variables() {
    let gw = start().await;
    let ok = gw.get("/prod/items/7").await;
    gw.get("/prod/slow").await;
    let lines = gw.log_lines(2).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        first,
        serde_json::json!({
            "requestId": ok.header("x-amzn-requestid").unwrap(),
            "status": "200", "route": "GET /items/{id}", "path": "/prod/items/7",
            "ip": "127.0.0.1", "integrationStatus": "200", "error": "-", "detail": "-"
        })
    );
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(second["status"], "504");
    assert_eq!(second["error"], "INTEGRATION_TIMEOUT");
    assert_eq!(second["detail"], "backend did not answer within 100 ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_per_route_with_bounded_labels() {
    let gw = start().await;
    for id in 0..5 {
        gw.get(&format!("/prod/items/{id}")).await;
    }
    gw.get("/prod/slow").await;
    gw.get("/prod/nope").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let text = gw.live.metrics().render();
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(
        has(
            r#"gatehouse_gateway_requests_total{api="shop",stage="prod",route="GET /items/{id}",status_class="2xx"} 5"#
        ),
        "{text}"
    );
    assert!(has(
        r#"gatehouse_gateway_errors_total{api="shop",stage="prod",route="GET /slow",status_class="5xx"} 1"#
    ));
    assert!(has(
        r#"gatehouse_gateway_integration_duration_seconds_count{api="shop",stage="prod",route="GET /items/{id}"} 5"#
    ));
    assert!(has(
        r#"gatehouse_gateway_unmatched_requests_total{reason="no_resource"} 1"#
    ));
    assert!(!text.contains("/items/3"), "raw paths never become labels");
}

/// A backend that keeps a connection open for `idle` after each response and then closes it,
/// as servers with a short keep-alive timeout do; counts the connections it accepted.
async fn closing_backend(idle: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 16 * 1024];
                let mut head = Vec::new();
                loop {
                    let read = tokio::time::timeout(idle, stream.read(&mut buffer)).await;
                    let n = match read {
                        Ok(Ok(n)) if n > 0 => n,
                        // Idle past the keep-alive time, or the peer went away: close.
                        _ => return,
                    };
                    head.extend_from_slice(&buffer[..n]);
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        head.clear();
                        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_connections_the_backend_closed_are_not_used_again() {
    let (backend, accepted) = closing_backend(Duration::from_millis(100)).await;
    let gw = start_routed(test_config(), Some(backend)).await;
    // Back to back: one pooled connection serves them all.
    for _ in 0..5 {
        assert_eq!(gw.get("/prod/echo").await.status, 200);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    // Past the backend's keep-alive time each time: the closed connection is dropped from the
    // pool (or the unsent request retried on a new one), never answered with a 502.
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let answer = gw.get("/prod/echo").await;
        assert_eq!(answer.status, 200, "round {round}: {answer:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}
