//! `gatehouse serve` as an operator runs it: start-up, generated secrets, configuration errors,
//! graceful shutdown.

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;

use crate::support::{Options, TestServer, mode};

fn master_key(id: &str, byte: u8) -> String {
    let key = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    format!("{id}:{key}")
}

#[test]
fn serves_health_once_listening() {
    let server = TestServer::spawn();
    let response = server.get("/health");
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ok");
}

#[test]
fn generated_secrets_are_private_and_printed_only_at_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let options = || Options {
        data_dir: Some(data_dir.clone()),
        no_operator_env: true,
        ..Options::default()
    };
    let mut first = TestServer::spawn_with(options());
    assert_eq!(first.data_dir, data_dir);
    let credentials_path = data_dir.join("operator-credentials.json");
    let credentials: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&credentials_path).unwrap()).unwrap();
    let key_id = credentials["access_key_id"].as_str().unwrap().to_owned();
    assert!(key_id.starts_with("AKIA") && key_id.len() == 20, "{key_id}");
    assert_eq!(credentials["secret_access_key"].as_str().unwrap().len(), 40);
    assert_eq!(mode(&credentials_path), 0o600);
    assert_eq!(mode(&data_dir.join("master.key")), 0o600);
    assert_eq!(mode(&data_dir), 0o700);
    assert!(first.stderr_contains(&key_id), "printed at first start");
    assert!(first.terminate().success());

    let second = TestServer::spawn_with(options());
    assert_eq!(second.get("/health").status, 200);
    assert!(
        !second.stderr().contains("generated operator credentials"),
        "printed once only: {}",
        second.stderr()
    );
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&credentials_path).unwrap()).unwrap();
    assert_eq!(
        again["access_key_id"],
        key_id.as_str(),
        "kept across restarts"
    );
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = TestServer::spawn();
    assert_eq!(server.get("/health").status, 200);
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        std::net::TcpStream::connect_timeout(&server.addr, Duration::from_millis(500)).is_err(),
        "no longer accepting"
    );
}

#[test]
fn bad_configuration_exits_64_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &["--listen", "not-an-address"],
        &["--region", "Mars"],
        &["--database-url", "mysql://root:hunter2@db/x"],
        &["--config", "/nonexistent/gatehouse.toml"],
    ];
    for args in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .args(*args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "no secrets in errors: {stderr}"
        );
    }
}

#[test]
fn a_node_with_another_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut first = TestServer::spawn_with(Options {
        data_dir: Some(data_dir.clone()),
        env: vec![("GATEHOUSE_MASTER_KEY".into(), master_key("k1", 1))],
        ..Options::default()
    });
    assert!(first.terminate().success());

    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data_dir)
        .env("GATEHOUSE_MASTER_KEY", master_key("k1", 2))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("master key"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).is_empty(),
        "never listened"
    );
}

#[test]
fn speaks_the_cognito_error_shape() {
    let server = TestServer::spawn();
    let json = "application/x-amz-json-1.1";
    let response = server.post(
        "/",
        &[
            ("Content-Type", json),
            (
                "X-Amz-Target",
                "AWSCognitoIdentityProviderService.NoSuchThing",
            ),
        ],
        b"{}",
    );
    assert_eq!(response.status, 400);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("UnknownOperationException")
    );
    assert_eq!(response.json()["__type"], "UnknownOperationException");

    let response = server.post(
        "/",
        &[
            ("Content-Type", json),
            (
                "X-Amz-Target",
                "AWSCognitoIdentityProviderService.ListUserPools",
            ),
        ],
        b"{\"MaxResults\": 10}",
    );
    assert!(
        matches!(response.status, 400 | 403),
        "an unsigned operator call is refused: {response:?}"
    );
    assert_eq!(
        response.json()["__type"],
        "MissingAuthenticationTokenException"
    );
    assert!(response.header("x-amzn-RequestId").is_some());
}

#[test]
fn starts_with_smtp_delivery_configured() {
    let server = TestServer::spawn_with(Options {
        args: vec![
            "--smtp-url".into(),
            "smtp://mailer:pw@127.0.0.1:2525".into(),
        ],
        ..Options::default()
    });
    assert_eq!(server.get("/health").status, 200);
    assert!(
        !server.stderr().contains("pw@"),
        "no SMTP password in the logs"
    );
    assert!(
        !server.data_dir.join("outbox").exists(),
        "codes go to SMTP, not the outbox"
    );
}
