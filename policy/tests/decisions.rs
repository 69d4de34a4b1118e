//! Conformance tables: decision cases and invalid documents written from AWS's IAM documentation.
//!
//! The cases live in `testdata/decisions.yaml` and `testdata/validation.yaml` (see the header of
//! each file for the format and the documentation pages the case names refer to). Every case runs
//! through one `check` helper; a failing run lists every failing case by name, not just the first.

use std::collections::BTreeSet;

use gatehouse_policy::{
    Context, Decision, Policy, PolicyError, PolicySet, PolicySource, Principal, Request, Severity,
    evaluate, validate,
};
use serde::Deserialize;
use serde_json::{Value, json};

const DECISIONS: &str = include_str!("../testdata/decisions.yaml");
const VALIDATION: &str = include_str!("../testdata/validation.yaml");

/// The request used when a case does not name one.
const DEFAULT_ACTION: &str = "s3:GetObject";
const DEFAULT_RESOURCE: &str = "arn:aws:s3:::amzn-s3-demo-bucket/key";

// === Decision cases ===

/// One row of `decisions.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionCase {
    name: String,
    identity: Option<Vec<Value>>,
    statements: Option<Vec<Value>>,
    when: Option<Value>,
    deny_when: Option<Value>,
    boundary: Option<Value>,
    #[serde(default)]
    session: Vec<Value>,
    #[serde(default)]
    resource_policies: Vec<Value>,
    action: Option<String>,
    resource: Option<String>,
    /// `{"AWS": arn}`, `{"Service": name}`, `{"Federated": name}`, `{"CanonicalUser": id}` or
    /// `"Anonymous"`.
    principal: Option<Value>,
    #[serde(default)]
    context: serde_json::Map<String, Value>,
    expect: String,
    matched: Option<Vec<String>>,
}

/// What a decision case expects.
#[derive(Debug)]
struct Expected<'a> {
    outcome: &'a str,
    matched: Option<&'a [String]>,
}

impl DecisionCase {
    /// The identity policies after expanding the `statements` / `when` / `deny_when` shorthands.
    fn identity_documents(&self) -> Vec<Value> {
        let mut docs = self.identity.clone().unwrap_or_default();
        if let Some(statements) = &self.statements {
            docs.push(json!({"Version": "2012-10-17", "Statement": statements}));
        }
        if let Some(condition) = &self.when {
            docs.push(json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "AllowWhen", "Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}
            ]}));
        }
        if let Some(condition) = &self.deny_when {
            docs.push(json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Sid": "DenyWhen", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition}
            ]}));
        }
        docs
    }

    fn expected(&self) -> Expected<'_> {
        Expected {
            outcome: &self.expect,
            matched: self.matched.as_deref(),
        }
    }
}

/// Parses a policy from its JSON text, so that the parser is part of every case.
fn parse(document: &Value, what: &str) -> Result<Policy, String> {
    let text = serde_json::to_string_pretty(document).map_err(|e| format!("{what}: {e}"))?;
    Policy::parse(&text).map_err(|e| format!("{what} does not parse: {e}"))
}

fn parse_all(documents: &[Value], what: &str) -> Result<Vec<Policy>, String> {
    documents
        .iter()
        .enumerate()
        .map(|(i, doc)| parse(doc, &format!("{what}[{i}]")))
        .collect()
}

fn context_of(values: &serde_json::Map<String, Value>) -> Result<Context, String> {
    let mut context = Context::new();
    for (key, value) in values {
        match value {
            Value::String(s) => context.insert(key, s.clone()),
            Value::Array(items) => {
                let strings = items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(format!("context value of `{key}` is not a string: {other}")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                context.set(key, strings);
            }
            other => return Err(format!("context value of `{key}` is not a string: {other}")),
        }
    }
    Ok(context)
}

fn principal_of(principal: &Value) -> Result<Principal, String> {
    if principal.as_str() == Some("Anonymous") {
        return Ok(Principal::Anonymous);
    }
    let Some((kind, Value::String(name))) = principal.as_object().and_then(|o| o.iter().next())
    else {
        return Err(format!("unreadable principal {principal}"));
    };
    let name = name.clone();
    match kind.as_str() {
        "AWS" => Ok(Principal::Aws(name)),
        "Service" => Ok(Principal::Service(name)),
        "Federated" => Ok(Principal::Federated(name)),
        "CanonicalUser" => Ok(Principal::CanonicalUser(name)),
        other => Err(format!("unknown principal type {other}")),
    }
}

/// `identity[0]#1 Sid` — the spelling the YAML uses for a matched statement.
fn describe_matched(decision: &Decision<'_>) -> BTreeSet<String> {
    decision
        .matched
        .iter()
        .map(|m| {
            let source = match m.source {
                PolicySource::Identity(i) => format!("identity[{i}]"),
                PolicySource::Boundary => "boundary".to_owned(),
                PolicySource::Session(i) => format!("session[{i}]"),
                PolicySource::Resource(i) => format!("resource[{i}]"),
            };
            match m.sid {
                Some(sid) => format!("{source}#{} {sid}", m.index),
                None => format!("{source}#{}", m.index),
            }
        })
        .collect()
}

/// Runs one decision case; `Err` says what differed.
fn check(case: &DecisionCase, expected: &Expected<'_>) -> Result<(), String> {
    let identity = parse_all(&case.identity_documents(), "identity")?;
    let boundary = case
        .boundary
        .as_ref()
        .map(|doc| parse(doc, "boundary"))
        .transpose()?;
    let session = parse_all(&case.session, "session")?;
    let resource_policies = parse_all(&case.resource_policies, "resource")?;

    let set = PolicySet {
        identity: identity.iter().collect(),
        boundary: boundary.as_ref(),
        session: session.iter().collect(),
        resource: resource_policies.iter().collect(),
    };
    let context = context_of(&case.context)?;
    let principal = case.principal.as_ref().map(principal_of).transpose()?;
    let request = Request {
        action: case.action.as_deref().unwrap_or(DEFAULT_ACTION),
        resource: case.resource.as_deref().unwrap_or(DEFAULT_RESOURCE),
        principal: principal.as_ref(),
        context: &context,
    };

    let decision = evaluate(&set, &request);
    let matched = describe_matched(&decision);
    let mut problems = Vec::new();
    if decision.outcome.as_str() != expected.outcome {
        problems.push(format!(
            "expected {}, got {}",
            expected.outcome,
            decision.outcome.as_str()
        ));
    }
    if let Some(want) = expected.matched {
        let want: BTreeSet<String> = want.iter().cloned().collect();
        if want != matched {
            problems.push(format!("expected matched {want:?}, got {matched:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} (matched: {matched:?})", problems.join("; ")))
    }
}

fn load_decisions() -> Result<Vec<DecisionCase>, serde_yaml_ng::Error> {
    serde_yaml_ng::from_str(DECISIONS)
}

/// Every case name is unique and says which documentation page it comes from.
fn check_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for name in names {
        if !seen.insert(name) {
            problems.push(format!("{name}: duplicate case name"));
        }
        match name.split_once("__") {
            Some((rule, page)) if !rule.is_empty() && !page.is_empty() => {}
            _ => problems.push(format!("{name}: not named `<rule>__<page>`")),
        }
    }
    problems
}

#[test]
fn decision_cases_from_aws_documentation() {
    let cases = load_decisions().expect("testdata/decisions.yaml loads");
    assert!(
        cases.len() >= 170,
        "only {} decision cases; the suite promises at least 170",
        cases.len()
    );
    let mut failures = check_names(cases.iter().map(|c| c.name.as_str()));
    for case in &cases {
        if let Err(why) = check(case, &case.expected()) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} decision cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// === Validation cases ===

/// One row of `validation.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationCase {
    name: String,
    /// The document as JSON; ignored when `text` is given.
    policy: Option<Value>,
    /// The document as raw text, for what a JSON value cannot express (duplicate keys, bad JSON).
    text: Option<String>,
    /// An error `Policy::parse` must fail with and `validate` must report.
    error: Option<ExpectedFinding>,
    /// A warning `validate` must report while `Policy::parse` succeeds.
    warning: Option<ExpectedFinding>,
    /// A code `validate` must not report (a guard that silences a warning).
    absent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedFinding {
    code: String,
    pointer: String,
}

impl ValidationCase {
    fn text(&self) -> Result<String, String> {
        match (&self.text, &self.policy) {
            (Some(text), _) => Ok(text.clone()),
            (None, Some(policy)) => serde_json::to_string_pretty(policy).map_err(|e| e.to_string()),
            (None, None) => Err("case has neither `policy` nor `text`".to_owned()),
        }
    }
}

fn has_finding(
    findings: &[gatehouse_policy::Finding],
    severity: Severity,
    want: &ExpectedFinding,
) -> bool {
    findings
        .iter()
        .any(|f| f.severity == severity && f.code == want.code && f.pointer == want.pointer)
}

fn list(findings: &[gatehouse_policy::Finding]) -> String {
    let all: Vec<String> = findings
        .iter()
        .map(|f| format!("{} {} at `{}`", f.severity.as_str(), f.code, f.pointer))
        .collect();
    format!("[{}]", all.join(", "))
}

/// Runs one validation case; `Err` says what differed.
fn check_validation(case: &ValidationCase) -> Result<(), String> {
    let text = case.text()?;
    let findings = validate(&text);
    let parsed = Policy::parse(&text);
    let mut problems = Vec::new();
    if let Some(want) = &case.error {
        if !has_finding(&findings, Severity::Error, want) {
            problems.push(format!(
                "validate: expected error {} at `{}`, got {}",
                want.code,
                want.pointer,
                list(&findings)
            ));
        }
        match &parsed {
            Ok(_) => problems.push("parse: expected an error, the document was accepted".into()),
            Err(e @ PolicyError::Invalid { findings }) => {
                if !has_finding(findings, Severity::Error, want) {
                    problems.push(format!("parse: expected {}, got {e}", want.code));
                }
            }
            Err(other) => {
                if !has_finding(&other.findings(), Severity::Error, want) {
                    problems.push(format!("parse: expected {}, got {other}", want.code));
                }
            }
        }
    }
    if let Some(want) = &case.warning {
        if !has_finding(&findings, Severity::Warning, want) {
            problems.push(format!(
                "validate: expected warning {} at `{}`, got {}",
                want.code,
                want.pointer,
                list(&findings)
            ));
        }
        if let Err(e) = &parsed {
            problems.push(format!(
                "parse: a warning must not reject the document: {e}"
            ));
        }
    }
    if let Some(code) = &case.absent
        && findings.iter().any(|f| f.code == code.as_str())
    {
        problems.push(format!(
            "validate: expected no {code}, got {}",
            list(&findings)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn invalid_documents_report_code_and_pointer() {
    let cases: Vec<ValidationCase> =
        serde_yaml_ng::from_str(VALIDATION).expect("testdata/validation.yaml loads");
    let mut failures = check_names(cases.iter().map(|c| c.name.as_str()));
    for case in &cases {
        if let Err(why) = check_validation(case) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} validation cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every error `validate` reports is also why `Policy::parse` fails, and a document `validate`
/// finds no error in parses: the two entry points never disagree about validity.
#[test]
fn validate_and_parse_agree_on_every_case_document() {
    let cases: Vec<ValidationCase> = serde_yaml_ng::from_str(VALIDATION).unwrap();
    let decisions = load_decisions().unwrap();
    let mut texts: Vec<(String, String)> = Vec::new();
    for case in &cases {
        texts.push((case.name.clone(), case.text().unwrap()));
    }
    for case in &decisions {
        for doc in case
            .identity_documents()
            .iter()
            .chain(&case.boundary)
            .chain(&case.session)
            .chain(&case.resource_policies)
        {
            texts.push((case.name.clone(), serde_json::to_string(doc).unwrap()));
        }
    }
    let mut failures = Vec::new();
    for (name, text) in &texts {
        let has_error = validate(text).iter().any(|f| f.severity == Severity::Error);
        let parses = Policy::parse(text).is_ok();
        if has_error == parses {
            failures.push(format!(
                "{name}: validate reports an error: {has_error}, parse succeeds: {parses}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
