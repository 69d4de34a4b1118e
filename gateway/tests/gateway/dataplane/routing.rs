//! Routing to HTTP backends: path parameters and greedy paths in the backend URI, stage
//! variables, parameter mappings, forwarded headers, timeouts, unreachable backends, a backend
//! URI that does not parse, mocks and non-proxy integration responses.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::support::{INTEGRATION_LOG, backend, raw, start, start_defined, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_params_stage_variables_and_mappings_reach_the_backend() {
    let gw = start().await;
    let answer = gw
        .request(
            "GET",
            "/prod/items/a%20b?color=red",
            &[
                ("x-forwarded-for", "203.0.113.7"),
                ("host", "api.example.com"),
            ],
            "",
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let echo = answer.json();
    assert_eq!(echo["path"], "/v2/items/a%20b", "path parameter re-encoded");
    assert_eq!(
        echo["query"], "color=red&source=gateway",
        "query passed through + mapped"
    );
    let headers = &echo["headers"];
    assert_eq!(
        headers["x-item"], "a b",
        "mapped from the decoded path parameter"
    );
    assert_eq!(headers["x-stage"], "prod-label", "stage variable mapping");
    assert_eq!(
        headers["x-request"].as_str(),
        answer.header("x-amzn-requestid"),
        "context.requestId mapping equals the response's request id"
    );
    // No proxy is trusted: the client's own X-Forwarded-For is replaced, not appended to.
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], "api.example.com");
    assert_eq!(
        headers["host"],
        gw.backend.addr.to_string(),
        "the backend sees its own host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_paths_keep_their_slashes() {
    let gw = start().await;
    for (path, backend_path) in [
        ("/prod/files/a/b/c.txt", "/static/a/b/c.txt"),
        ("/prod/files/dir/", "/static/dir/"),
        ("/prod/files/x%2Fy", "/static/x/y"),
    ] {
        let answer = gw.request("DELETE", path, &[], "").await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.json()["path"], backend_path, "{path}");
        assert_eq!(answer.json()["method"], "DELETE");
    }
    // `{proxy+}` needs at least one segment.
    assert_eq!(gw.get("/prod/files").await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_answer_missing_authentication_token() {
    let gw = start().await;
    for (method, path) in [
        ("GET", "/prod/nope"),
        ("GET", "/beta/echo"),
        ("PUT", "/prod/mock"),
        ("GET", "/"),
    ] {
        let answer = gw.request(method, path, &[], "").await;
        assert_eq!(answer.status, 403, "{method} {path}");
        assert_eq!(
            answer.json(),
            serde_json::json!({"message": "Missing Authentication Token"})
        );
        assert!(answer.header("x-amzn-requestid").is_some());
    }
    assert_eq!(
        gw.backend
            .seen
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_backends_time_out_with_504() {
    let gw = start().await;
    let started = std::time::Instant::now();
    let answer = gw.get("/prod/slow").await;
    assert_eq!(answer.status, 504);
    assert_eq!(
        answer.json(),
        serde_json::json!({"message": "Endpoint request timed out"})
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(450),
        "the 100 ms integration timeout applies, not the backend's 500 ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_backends_are_integration_failures() {
    let gw = start().await;
    let answer = gw.get("/prod/down").await;
    assert_eq!(answer.status, 504);
    assert_eq!(
        answer.json(),
        serde_json::json!({"message": "Internal server error"})
    );
}

/// The log says why a backend could not be reached, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_backend_is_logged_with_its_cause_once() {
    // A port nothing listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = r#"
apis:
  a:
    resources:
      /down:
        GET: {integration: {type: http_proxy, uri: "http://{closed}/x"}}
stages:
  a: {prod: {access_log_format: "{LOG}"}}
base_path_mappings:
  - {base_path: "", api: a, stage: prod}
"#
    .replace("{closed}", &closed.to_string())
    .replace("{LOG}", INTEGRATION_LOG);
    let gw = start_defined(test_config(), backend().await, &text).await;
    assert_eq!(gw.get("/down").await.status, 504);
    let line = gw.log_line_with("504").await;
    assert!(
        line.contains(&format!("cannot connect to `{closed}`")),
        "{line}"
    );
    assert_eq!(
        line.to_lowercase().matches("connection refused").count(),
        1,
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_integrations_answer_from_the_definition() {
    let gw = start().await;
    let answer = gw.get("/prod/mock").await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.header("x-mock"), Some("yes"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.json(), serde_json::json!({"mock": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_integrations_select_the_method_response() {
    let gw = start().await;
    let answer = gw.get("/prod/legacy").await;
    assert_eq!(
        answer.status, 502,
        "5xx from the backend selects the 502 response"
    );
    assert_eq!(answer.header("x-upstream"), Some("b1"));
    assert_eq!(
        answer.json(),
        serde_json::json!({"down": true}),
        "body passes through"
    );
}

/// Which host a request names must not depend on who reads it: a proxy in front may take the
/// last `Host` where the gateway took the first, or the target's authority where the gateway
/// took `Host` (RFC 9112 §3.2: 400 for more than one `Host`; an absolute-form target's
/// authority is the host). Such requests are refused, never routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_hosts_are_refused() {
    let gw = start().await;
    for (rule, head) in [
        (
            "two Host fields",
            "GET /prod/echo HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n",
        ),
        (
            "an absolute-form target naming another host",
            "GET http://b.example/prod/echo HTTP/1.1\r\nHost: a.example\r\n",
        ),
    ] {
        let request = format!("{head}Connection: close\r\n\r\n");
        let answer = raw(gw.addr, request.as_bytes(), Duration::from_secs(3)).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{rule}: {answer}");
        assert!(
            answer.ends_with(r#"{"message":"Invalid Host header"}"#),
            "{rule}: {answer}"
        );
    }
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 0);
    for (rule, head) in [
        (
            "an absolute-form target naming the same host",
            "GET http://A.example:80/prod/echo HTTP/1.1\r\nHost: a.example\r\n",
        ),
        ("HTTP/1.0 without Host", "GET /prod/echo HTTP/1.0\r\n"),
    ] {
        let request = format!("{head}Connection: close\r\n\r\n");
        let answer = raw(gw.addr, request.as_bytes(), Duration::from_secs(3)).await;
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{rule}: {answer}"
        );
    }
}

/// A backend URI made of literals and stage variables alone is rendered once per stage, not
/// per request: each stage still reaches its own backend path, a proxy still passes the
/// client's query string on after the URI's own, an `HTTP` integration still does not, and a
/// query-string mapping still applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_uri_of_stage_variables_alone_is_each_stages_own() {
    let backend = backend().await;
    let text = r#"
apis:
  a:
    resources:
      /fixed:
        GET: {integration: {type: http_proxy, uri: "http://${stageVariables.backend}${stageVariables.prefix}/echo?from=${stageVariables.label}"}}
      /tagged:
        GET: {integration: {type: http_proxy, uri: "http://${stageVariables.backend}/echo", request_parameters: {querystring.source: "'gateway'"}}}
      /mapped:
        GET: {integration: {type: http, uri: "http://${stageVariables.backend}${stageVariables.prefix}/mapped", responses: [{status: 200}]}}
stages:
  a:
    blue: {variables: {backend: "{B}", prefix: /blue, label: blue}}
    green: {variables: {backend: "{B}", prefix: /green, label: green}}
"#
    .replace("{B}", &backend.addr.to_string());
    let gw = start_defined(test_config(), backend, &text).await;
    for stage in ["blue", "green"] {
        for (query, expected) in [
            ("", format!("from={stage}")),
            ("?", format!("from={stage}")),
            ("?color=red&n=1", format!("from={stage}&color=red&n=1")),
        ] {
            let answer = gw.get(&format!("/{stage}/fixed{query}")).await;
            assert_eq!(answer.status, 200, "{stage} {query}: {:?}", answer.body);
            let echo = answer.json();
            assert_eq!(echo["path"], format!("/{stage}/echo"), "{stage} {query}");
            assert_eq!(echo["query"], expected, "{stage} {query}");
        }
        // A mapping that adds to the query string is per request: such a URI is not fixed.
        let answer = gw.get(&format!("/{stage}/tagged")).await;
        assert_eq!(answer.json()["query"], "source=gateway", "{stage}");
        let answer = gw.get(&format!("/{stage}/mapped?color=red")).await;
        assert_eq!(answer.status, 200, "{stage}: {:?}", answer.body);
        let echo = answer.json();
        assert_eq!(echo["path"], format!("/{stage}/mapped"));
        assert_eq!(
            echo["query"], "",
            "an HTTP integration sends only mapped parameters"
        );
    }
}

/// A backend URI that renders to something not a URI (here from a stage variable) is the
/// API's configuration error (500), and the log names the URI without its query string,
/// where a mapping may have put a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_uri_that_does_not_parse_is_logged_without_its_query() {
    let text = r#"
apis:
  a:
    resources:
      /bad:
        GET: {integration: {type: http_proxy, uri: "http://${stageVariables.host}/x?token=${stageVariables.token}"}}
stages:
  a: {prod: {access_log_format: "{LOG}", variables: {host: "backend:80:80", token: "s3cret-value"}}}
base_path_mappings:
  - {base_path: "", api: a, stage: prod}
"#
    .replace("{LOG}", INTEGRATION_LOG);
    let gw = start_defined(test_config(), backend().await, &text).await;
    let answer = gw.get("/bad").await;
    assert_eq!(answer.status, 500);
    let line = gw.log_line_with("500").await;
    assert!(
        line.contains("the endpoint uri `http://backend:80:80/x?…` is not a valid http uri"),
        "{line}"
    );
    assert!(!line.contains("s3cret"), "{line}");
}
