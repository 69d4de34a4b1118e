//! The API gateway inside `gatehouse serve`: definitions from `--api`, hot reload on file change,
//! API keys from the `gatehouse apikey` command.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{Options, TestServer, http};

const HELLO: &str = r#"
version: 1
apis:
  hello:
    name: Hello
    resources:
      /:
        GET:
          integration:
            type: mock
            status: 200
            headers: {Content-Type: application/json}
            body: '{"hello": "world"}'
      /keyed:
        GET:
          api_key_required: true
          integration:
            type: mock
            status: 200
            body: '{"keyed": true}'
stages:
  hello:
    prod: {}
base_path_mappings:
  - {base_path: "", api: hello}
usage_plans:
  basic:
    stages:
      - {api: hello, stage: prod}
    throttle: {rate: 100, burst: 100}
"#;

fn serve_with_api(dir: &Path, definition: &str) -> TestServer {
    let api = dir.join("hello.yaml");
    std::fs::write(&api, definition).unwrap();
    TestServer::spawn_with(Options {
        data_dir: Some(dir.join("data")),
        args: vec!["--api".into(), api.display().to_string()],
        ..Options::default()
    })
}

fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> crate::support::Response {
    http(server.gateway_addr, "GET", path, headers, b"")
}

#[test]
fn serves_the_definition_and_answers_unknown_routes_like_api_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_api(dir.path(), HELLO);
    let response = get(&server, "/prod/", &[]);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["hello"], "world");
    assert!(response.header("x-amzn-RequestId").is_some());

    let response = get(&server, "/prod/nowhere", &[]);
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["message"], "Missing Authentication Token");
}

#[test]
fn a_changed_definition_file_is_picked_up_and_a_broken_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_api(dir.path(), HELLO);
    assert_eq!(get(&server, "/prod/", &[]).json()["hello"], "world");

    std::fs::write(
        dir.path().join("hello.yaml"),
        "version: 1\napis: [not, a, map]\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        get(&server, "/prod/", &[]).json()["hello"],
        "world",
        "the old definition keeps serving"
    );

    std::fs::write(
        dir.path().join("hello.yaml"),
        HELLO.replace(r#"{"hello": "world"}"#, r#"{"hello": "again"}"#),
    )
    .unwrap();
    let mut body = serde_json::Value::Null;
    for _ in 0..50 {
        body = get(&server, "/prod/", &[]).json();
        if body["hello"] == "again" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(body["hello"], "again", "the edit is served");
}

#[test]
fn api_keys_from_the_command_line_open_keyed_methods() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_api(dir.path(), HELLO);
    let response = get(&server, "/prod/keyed", &[]);
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["message"], "Forbidden");

    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["apikey", "create", "--name", "ci", "--plan", "basic"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--api")
        .arg(dir.path().join("hello.yaml"))
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = stdout
        .lines()
        .find_map(|line| line.strip_prefix("value: "))
        .expect("the value is printed once")
        .trim()
        .to_owned();

    // The running node refreshes its key table from storage within a second or two.
    let mut status = 0;
    for _ in 0..50 {
        status = get(&server, "/prod/keyed", &[("x-api-key", &value)]).status;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 200, "the new key opens the keyed method");
    assert_eq!(
        get(
            &server,
            "/prod/keyed",
            &[("x-api-key", "wrong-key-wrong-key-wrong-key-00")]
        )
        .status,
        403
    );
}
