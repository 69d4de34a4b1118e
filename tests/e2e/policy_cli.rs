//! `gatehouse policy …` as a user runs it: output, JSON shape and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const NOTES_TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/Notes";
const ALICE: &str = "us-east-1:alice";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> String {
    repo()
        .join("examples/policies")
        .join(name)
        .display()
        .to_string()
}

fn gatehouse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the gatehouse binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path.display().to_string()
}

fn json_results(output: &Output) -> Vec<Value> {
    let value: Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    value["results"].as_array().expect("results array").clone()
}

// === simulate ===

#[test]
fn simulate_allows_own_row_and_exits_zero() {
    let rows = example("notes-rows.json");
    let sub = format!("cognito-identity.amazonaws.com:sub={ALICE}");
    let keys = format!("dynamodb:LeadingKeys={ALICE}");
    let output = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        &rows,
        "--action",
        "dynamodb:GetItem",
        "--resource",
        NOTES_TABLE,
        "--context",
        &sub,
        "--context",
        &keys,
    ]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("ACTION"), "table header first: {text}");
    assert!(text.contains("allowed"), "{text}");
    assert!(text.contains("notes-rows.json#0"), "{text}");
    assert!(text.contains("OwnRowsOnly"), "{text}");
}

#[test]
fn simulate_json_has_the_simulate_custom_policy_shape() {
    let rows = example("notes-rows.json");
    let boundary = example("no-deletes-boundary.json");
    let sub = format!("cognito-identity.amazonaws.com:sub={ALICE}");
    let keys = format!("dynamodb:LeadingKeys={ALICE}");
    let output = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        &rows,
        "--boundary",
        &boundary,
        "--action",
        "dynamodb:GetItem",
        "--action",
        "dynamodb:DeleteItem",
        "--action",
        "s3:GetObject",
        "--resource",
        NOTES_TABLE,
        "--context",
        &sub,
        "--context",
        &keys,
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "a denied pair exits 1");
    let results = json_results(&output);
    assert_eq!(results.len(), 3);
    let decisions: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("dynamodb:GetItem", "allowed"),
            ("dynamodb:DeleteItem", "explicitDeny"),
            ("s3:GetObject", "implicitDeny"),
        ]
    );
    assert_eq!(results[0]["resource"], NOTES_TABLE);
    let deny = results[1]["matchedStatements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["effect"] == "Deny")
        .expect("the boundary's deny is reported");
    assert_eq!(deny["policy"], boundary.as_str());
    assert_eq!(deny["index"], 1);
    assert_eq!(deny["sid"], "NeverDelete");
    assert!(
        results[2]["matchedStatements"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn simulate_repeated_context_key_is_multi_valued() {
    // ForAllValues: every leading key must be the caller's own; one foreign key denies.
    let rows = example("notes-rows.json");
    let sub = format!("cognito-identity.amazonaws.com:sub={ALICE}");
    let own = format!("dynamodb:LeadingKeys={ALICE}");
    let output = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        &rows,
        "--action",
        "dynamodb:BatchGetItem",
        "--resource",
        NOTES_TABLE,
        "--context",
        &sub,
        "--context",
        &own,
        "--context",
        "dynamodb:LeadingKeys=us-east-1:bob",
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json_results(&output)[0]["decision"], "implicitDeny");
}

#[test]
fn simulate_session_policy_must_also_allow() {
    let dir = tempfile::tempdir().unwrap();
    let session = write(
        dir.path(),
        "session.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}}"#,
    );
    let rows = example("notes-rows.json");
    let sub = format!("cognito-identity.amazonaws.com:sub={ALICE}");
    let keys = format!("dynamodb:LeadingKeys={ALICE}");
    let output = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        &rows,
        "--session-policy",
        &session,
        "--action",
        "dynamodb:GetItem",
        "--action",
        "dynamodb:PutItem",
        "--resource",
        NOTES_TABLE,
        "--context",
        &sub,
        "--context",
        &keys,
        "--output",
        "json",
    ]);
    let results = json_results(&output);
    assert_eq!(results[0]["decision"], "allowed");
    assert_eq!(results[1]["decision"], "implicitDeny");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn simulate_invalid_policy_exits_two_with_file_and_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Permit","Action":"s3:*","Resource":"*"}]}"#,
    );
    let output = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        &bad,
        "--action",
        "s3:GetObject",
        "--resource",
        "*",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains(&bad), "names the file: {err}");
    assert!(
        err.contains("/Statement/1/Effect"),
        "points at the field: {err}"
    );
    assert!(
        stdout(&output).is_empty(),
        "no partial results on invalid input"
    );
}

#[test]
fn simulate_not_json_and_missing_file_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = write(dir.path(), "garbage.json", "{\"Version\": ");
    let output = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        &garbage,
        "--action",
        "s3:GetObject",
        "--resource",
        "*",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("garbage.json"),
        "{}",
        stderr(&output)
    );

    let output = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        "/nonexistent/p.json",
        "--action",
        "s3:GetObject",
        "--resource",
        "*",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nonexistent/p.json"));
}

#[test]
fn simulate_bad_context_argument_exits_two() {
    let rows = example("notes-rows.json");
    let output = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        &rows,
        "--action",
        "dynamodb:GetItem",
        "--resource",
        NOTES_TABLE,
        "--context",
        "no-equals-sign",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no-equals-sign"));
}

#[test]
fn simulate_resource_policy_with_principal() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = write(
        dir.path(),
        "bucket.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::notes/*"}}"#,
    );
    let none = write(
        dir.path(),
        "none.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:*","Resource":"*"}}"#,
    );
    let run = |principal: &str| {
        let output = gatehouse(&[
            "policy",
            "simulate",
            "--policy",
            &none,
            "--resource-policy",
            &bucket,
            "--principal",
            principal,
            "--action",
            "s3:GetObject",
            "--resource",
            "arn:aws:s3:::notes/a.txt",
            "--output",
            "json",
        ]);
        json_results(&output)[0]["decision"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(run("arn:aws:iam::123456789012:user/alice"), "allowed");
    assert_eq!(run("arn:aws:iam::123456789012:user/bob"), "implicitDeny");
}

// === validate ===

#[test]
fn validate_warns_about_scan_with_unguarded_leading_keys() {
    let scan = example("scan-everything.json");
    let output = gatehouse(&["policy", "validate", &scan]);
    assert_eq!(output.status.code(), Some(0), "warnings alone exit 0");
    let text = stdout(&output);
    assert!(text.contains("warning["), "{text}");
    assert!(text.contains("LeadingKeys"), "{text}");
    assert!(text.contains(&format!("{scan}:/Statement")), "{text}");
}

#[test]
fn validate_clean_examples_have_no_errors() {
    let output = gatehouse(&[
        "policy",
        "validate",
        &example("notes-rows.json"),
        &example("no-deletes-boundary.json"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("0 error(s)"));
}

#[test]
fn validate_errors_exit_two_with_pointers_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"x"}}}]}"#,
    );
    let output = gatehouse(&["policy", "validate", "--output", "json", &bad]);
    assert_eq!(output.status.code(), Some(2));
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = value["files"][0]["findings"].as_array().unwrap();
    let pointers: Vec<&str> = findings
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers
            .iter()
            .any(|p| p.starts_with("/Statement/0/Condition/StringEqualz")),
        "unknown operator located: {pointers:?}"
    );
    assert!(
        pointers
            .iter()
            .any(|p| *p == "/Statement/0" || p.contains("Action")),
        "Action + NotAction located: {pointers:?}"
    );
}

// === test suites ===

#[test]
fn example_suite_passes() {
    let output = gatehouse(&["policy", "test", &example("notes.test.yaml")]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.trim_end().ends_with("8 passed, 0 failed"), "{text}");
}

#[test]
fn failing_suite_case_exits_one_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        example("notes-rows.json"),
        dir.path().join("notes-rows.json"),
    )
    .unwrap();
    let suite = write(
        dir.path(),
        "s.test.yaml",
        r#"
policies:
  rows: notes-rows.json
cases:
  - name: right
    policies: [rows]
    action: dynamodb:GetItem
    resource: arn:aws:dynamodb:us-east-1:123456789012:table/Notes
    context:
      cognito-identity.amazonaws.com:sub: me
      dynamodb:LeadingKeys: [me]
    expect: allowed
  - name: wrong expectation
    policies: [rows]
    action: dynamodb:GetItem
    resource: arn:aws:dynamodb:us-east-1:123456789012:table/Notes
    context:
      cognito-identity.amazonaws.com:sub: me
      dynamodb:LeadingKeys: [me, you]
    expect: allowed
"#,
    );
    let output = gatehouse(&["policy", "test", &suite]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("ok    right"), "{text}");
    assert!(text.contains("FAIL  wrong expectation"), "{text}");
    assert!(
        text.contains("expected allowed, got implicitDeny"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("1 passed, 1 failed"), "{text}");
}

#[test]
fn invalid_suite_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let unknown_field = write(
        dir.path(),
        "u.test.yaml",
        "cases:\n  - name: x\n    action: s3:GetObject\n    resource: '*'\n    expect: allowed\n    contxt: {}\n",
    );
    let output = gatehouse(&["policy", "test", &unknown_field]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(stdout(&output).contains("contxt"), "{}", stdout(&output));

    let unknown_policy = write(
        dir.path(),
        "p.test.yaml",
        "cases:\n  - name: x\n    policies: [nope]\n    action: s3:GetObject\n    resource: '*'\n    expect: allowed\n",
    );
    let output = gatehouse(&["policy", "test", &unknown_policy]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).contains("`nope`"), "{}", stdout(&output));
}
