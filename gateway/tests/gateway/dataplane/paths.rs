//! Path traversal through greedy and path parameters: every spelling of a `.` or `..`
//! segment is refused with 400 before routing, so nothing reaches the backend; what is
//! forwarded reaches it re-encoded, decoded exactly once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::support::{Gateway, raw, start, start_extended};

/// `/prod/files/{proxy+}` → `/static/{proxy}`, `/prod/items/{id}` → `/v2/items/{id}`.
const REFUSED: &[(&str, &str)] = &[
    ("encoded slash after dot-dot", "/prod/files/..%2Fadmin"),
    ("encoded dots", "/prod/files/%2e%2e/admin"),
    ("upper-case encoded dots", "/prod/files/%2E%2E/admin"),
    (
        "twice up through encoded slashes",
        "/prod/files/a/..%2F..%2Fadmin",
    ),
    ("raw dot-dot", "/prod/files/a/../../admin"),
    ("raw dot", "/prod/files/./admin"),
    ("encoded backslash", "/prod/files/..%5Cadmin"),
    ("overlong utf-8 dots", "/prod/files/%C0%AE%C0%AE/admin"),
    ("overlong utf-8 slash", "/prod/files/..%C0%AFadmin"),
    ("servlet path parameter", "/prod/files/..;/admin"),
    ("encoded nul", "/prod/files/..%00/admin"),
    ("dot-dot in a {param}", "/prod/items/..%2Fadmin"),
    ("encoded dot as a {param}", "/prod/items/%2e"),
    ("dot-dot before the stage", "/../prod/echo"),
];

async fn refused(gw: &Gateway, rule: &str, path: &str) {
    let answer = gw.get(path).await;
    assert_eq!(answer.status, 400, "{rule}: {path}");
    assert_eq!(
        answer.json(),
        serde_json::json!({"message": "Invalid request path"}),
        "{rule}"
    );
    assert!(answer.header("x-amzn-requestid").is_some(), "{rule}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_are_refused_before_routing() {
    let gw = start().await;
    for (rule, path) in REFUSED {
        refused(&gw, rule, path).await;
    }
    // A raw backslash is not something the hyper client sends: written on the socket.
    let answer = raw(
        gw.addr,
        b"GET /prod/files/..\\admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 400")
            && answer.ends_with(r#"{"message":"Invalid request path"}"#),
        "raw backslash: {answer}"
    );
    assert_eq!(
        gw.backend.seen.requests.load(Ordering::SeqCst),
        0,
        "nothing reached the backend"
    );
    let metrics = gw.live.metrics().render();
    let expected = format!(
        "gatehouse_gateway_refused_paths_total {}",
        REFUSED.len() + 1
    );
    assert!(metrics.contains(&expected), "{expected} in\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_paths_are_decoded_once_and_re_encoded() {
    let gw = start().await;
    for (rule, path, backend_path) in [
        (
            "double-encoded dots stay literal text",
            "/prod/files/%252e%252e/admin",
            "/static/%252e%252e/admin",
        ),
        (
            "double-encoded slash stays literal text",
            "/prod/files/..%252Fadmin",
            "/static/..%252Fadmin",
        ),
        (
            "a {param}'s decoded slash is no separator",
            "/prod/items/a%2Fb",
            "/v2/items/a%2Fb",
        ),
        (
            "a {proxy+}'s decoded slash is one",
            "/prod/files/a%2Fb",
            "/static/a/b",
        ),
        (
            "three dots are a name",
            "/prod/files/.../x",
            "/static/.../x",
        ),
        (
            "dots inside names",
            "/prod/files/.well-known/a..b",
            "/static/.well-known/a..b",
        ),
        (
            "utf-8 is re-encoded",
            "/prod/items/%E2%82%AC",
            "/v2/items/%E2%82%AC",
        ),
    ] {
        let answer = gw.get(path).await;
        assert_eq!(answer.status, 200, "{rule}: {path}");
        assert_eq!(answer.json()["path"], backend_path, "{rule}");
    }
    let seen = gw.backend.seen.paths.lock().unwrap().clone();
    assert_eq!(seen.len(), 7);
    assert!(
        seen.iter()
            .all(|p| !p.split('/').any(|s| s == ".." || s == ".")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_mapped_into_the_backend_path_cannot_climb() {
    // `/prod/download?name=X` → `/static/{file}` with `file` from the query string.
    let gw = start().await;
    for (rule, query) in [
        ("dot-dot", "name=.."),
        ("encoded dot-dot", "name=%2e%2e"),
        ("encoded slashes around dot-dot", "name=a%2F..%2Fb"),
        ("backslash", "name=..%5Cadmin"),
    ] {
        refused(&gw, rule, &format!("/prod/download?{query}")).await;
    }
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 0);
    for (rule, query, backend_path) in [
        ("a file name", "name=report.v2.pdf", "/static/report.v2.pdf"),
        ("a slash stays in the value", "name=a%2Fb", "/static/a%2Fb"),
        (
            "double-encoded dots are text",
            "name=%252e%252e",
            "/static/%252e%252e",
        ),
    ] {
        let answer = gw.get(&format!("/prod/download?{query}")).await;
        assert_eq!(answer.status, 200, "{rule}");
        assert_eq!(answer.json()["path"], backend_path, "{rule}");
    }
}

/// A root greedy resource beside a more specific one: what the specific one's rules guard
/// must not be reachable through the greedy one under another spelling.
const ROOT_GREEDY: &str = "      /{proxy+}:
        ANY:
          integration: {type: http_proxy, uri: \"http://${stageVariables.backend}/{proxy}\"}
      /admin/{id}:
        GET:
          integration: {type: mock, status: 201, body: '{\"guarded\": true}'}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_slash_cannot_take_a_greedy_route_around_a_resource() {
    let gw = start_extended(ROOT_GREEDY).await;
    for (rule, path) in [
        (
            "the slash would route to /admin/{id}",
            "/prod/admin%2Fsecret",
        ),
        ("lower-case escape", "/prod/admin%2fsecret"),
        (
            "inside the files greedy, an encoded slash making an empty segment",
            "/prod/files/a%2F%2Fb",
        ),
        (
            "an encoded slash right after a separator",
            "/prod/files/%2Fadmin",
        ),
        ("a root greedy value starting with one", "/prod/%2Fadmin/x"),
    ] {
        refused(&gw, rule, path).await;
    }
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 0);
    // An encoded slash that routes the same either way is a separator, as before.
    for (rule, path, backend_path) in [
        ("same greedy route", "/prod/files/a%2Fb", "/static/a/b"),
        ("root greedy, no other resource", "/prod/x%2Fy", "/x/y"),
    ] {
        let answer = gw.get(path).await;
        assert_eq!(answer.status, 200, "{rule}: {path}");
        assert_eq!(answer.json()["path"], backend_path, "{rule}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_slashes_are_one_separator() {
    let gw = start_extended(ROOT_GREEDY).await;
    // Routed as `/prod/admin/secret`, not absorbed by the root greedy resource.
    for path in [
        "/prod//admin/secret",
        "/prod/admin//secret",
        "//prod/admin///secret",
    ] {
        let answer = gw.get(path).await;
        assert_eq!(answer.status, 201, "{path}");
        assert_eq!(
            answer.json(),
            serde_json::json!({"guarded": true}),
            "{path}"
        );
    }
    let answer = gw.get("/prod/files//a//b").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["path"], "/static/a/b");
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), 1);
}
