//! Differential test: generated policies and requests, decided by this crate and by the
//! independent simulator `@cloud-copilot/iam-simulate` (npm), must agree.
//!
//! The generator only uses the vocabulary on which both implement AWS's documented semantics;
//! what is left out, and why, is in `tests/differential/DIVERGENCES.md`. All cases go to the
//! simulator in one batch (one `node` process). The simulator is found through
//! `GATEHOUSE_IAM_SIMULATE_DIR` (a `node_modules` folder; default: the repository's), and a missing
//! `node` or package fails the test: `./scripts/test` installs both.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a panic here is a failing test"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gatehouse_policy::{Context, Policy, PolicySet, Principal, Request, evaluate};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};

/// How many generated cases go to the simulator in the one batch.
const CASES: usize = 500;
/// Fixed so that a failure reproduces; override with `GATEHOUSE_DIFF_SEED=<number>` to explore.
const DEFAULT_SEED: u64 = 0x6761_7465_686f_7573;

/// Every generated request comes from this account, as a role session, so that session policies
/// apply (the simulator accepts them only for role sessions).
const PRINCIPAL: &str = "arn:aws:sts::123456789012:assumed-role/app/session-1";

// === Vocabulary ===

/// Requests whose action exists and whose ARN has the action's resource type in the simulator's
/// service data (it rejects anything else). S3, IAM, KMS and STS are left out: the simulator
/// applies service-specific rules to them (bucket ABAC, key policies, trust policies) that are
/// not part of the policy language.
const REQUESTS: &[(&str, &str)] = &[
    (
        "dynamodb:GetItem",
        "arn:aws:dynamodb:us-east-1:123456789012:table/Books",
    ),
    (
        "dynamodb:Query",
        "arn:aws:dynamodb:us-east-1:123456789012:table/Books/index/ByAuthor",
    ),
    (
        "dynamodb:PutItem",
        "arn:aws:dynamodb:us-west-2:123456789012:table/Orders",
    ),
    (
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:123456789012:orders",
    ),
    (
        "sqs:ReceiveMessage",
        "arn:aws:sqs:eu-west-1:123456789012:jobs",
    ),
    ("sns:Publish", "arn:aws:sns:us-east-1:123456789012:alerts"),
    (
        "execute-api:Invoke",
        "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets/42",
    ),
    (
        "lambda:InvokeFunction",
        "arn:aws:lambda:us-east-1:123456789012:function:resize",
    ),
];

const ACTION_PATTERNS: &[&str] = &[
    "*",
    "dynamodb:*",
    "dynamodb:Get*",
    "dynamodb:*Item",
    "dynamodb:?etItem",
    "DynamoDB:getitem",
    "dynamodb:Query",
    "sqs:*Message",
    "sqs:SendMessage",
    "sns:Publish",
    "sns:*",
    "execute-api:Invoke",
    "lambda:*",
    "lambda:InvokeFunction",
];

const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:dynamodb:us-east-1:123456789012:table/Books",
    "arn:aws:dynamodb:*:123456789012:table/Books",
    "arn:aws:dynamodb:us-east-1:123456789012:table/Books/*",
    "arn:aws:dynamodb:us-east-1:123456789012:table/*",
    "arn:aws:dynamodb:us-?est-2:123456789012:table/Orders",
    "arn:aws:dynamodb:us-east-1:123456789012:table/${aws:username}",
    "arn:aws:sqs:*:123456789012:*",
    "arn:aws:sqs:us-east-1:123456789012:orders",
    "arn:aws:sqs:us-east-1:123456789012:${aws:PrincipalTag/team}",
    "arn:aws:sns:us-east-1:*:alerts",
    "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/*/GET/*",
    "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/*",
    "arn:aws:lambda:us-east-1:123456789012:function:*",
    "arn:aws:lambda:us-east-1:123456789012:function:Resize",
];

/// A condition entry: operator (without qualifier or `IfExists`), key, candidate policy values.
struct ConditionShape {
    operators: &'static [&'static str],
    key: &'static str,
    values: &'static [&'static str],
    /// Whether the key is multivalued: only these take `ForAllValues:` / `ForAnyValue:`, and only
    /// these never take an unqualified operator (see DIVERGENCES.md).
    multivalued: bool,
}

const STRING_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
];

const CONDITIONS: &[ConditionShape] = &[
    ConditionShape {
        operators: STRING_OPERATORS,
        key: "aws:username",
        values: &[
            "alice",
            "bob",
            "ALICE",
            "a*",
            "?lice",
            "${aws:PrincipalTag/team}",
        ],
        multivalued: false,
    },
    ConditionShape {
        operators: STRING_OPERATORS,
        key: "aws:PrincipalTag/team",
        values: &["orders", "jobs", "*s", "Orders", "${aws:username}"],
        multivalued: false,
    },
    ConditionShape {
        operators: &[
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        ],
        key: "aws:MultiFactorAuthAge",
        values: &["300", "3600", "100.5"],
        multivalued: false,
    },
    ConditionShape {
        operators: &["Bool"],
        key: "aws:MultiFactorAuthPresent",
        values: &["true", "false"],
        multivalued: false,
    },
    ConditionShape {
        operators: &["Bool"],
        key: "aws:SecureTransport",
        values: &["true", "false"],
        multivalued: false,
    },
    ConditionShape {
        operators: &["IpAddress", "NotIpAddress"],
        key: "aws:SourceIp",
        // No `/0` prefix: the simulator mistakes it for `/32` (DIVERGENCES.md, 6).
        values: &[
            "203.0.113.0/24",
            "192.0.2.7",
            "2001:db8::/32",
            "198.51.0.0/16",
        ],
        multivalued: false,
    },
    ConditionShape {
        operators: &[
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        ],
        key: "aws:CurrentTime",
        // ISO 8601 only: the simulator does not compare an epoch policy value with an ISO
        // request value (DIVERGENCES.md, 9).
        values: &[
            "2024-05-01T00:00:00Z",
            "2024-05-15T12:00:00Z",
            "2024-06-01T00:00:00Z",
        ],
        multivalued: false,
    },
    ConditionShape {
        operators: &["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"],
        key: "aws:SourceArn",
        values: &[
            "arn:aws:sns:us-east-1:123456789012:alerts",
            "arn:aws:sns:*:123456789012:*",
            "arn:aws:sns:us-east-?:*:alerts",
        ],
        multivalued: false,
    },
    ConditionShape {
        operators: &[
            "StringEquals",
            "StringLike",
            "StringNotEquals",
            "StringNotLike",
        ],
        key: "aws:TagKeys",
        values: &["env", "team", "cost*", "Env"],
        multivalued: true,
    },
];

/// Request values per key (the key is left out of the request when the generator says so).
const CONTEXT_VALUES: &[(&str, &[&str])] = &[
    ("aws:username", &["alice", "bob", "Alice", "orders"]),
    ("aws:PrincipalTag/team", &["orders", "jobs", "alice"]),
    ("aws:MultiFactorAuthAge", &["100", "300", "3600", "100.5"]),
    ("aws:MultiFactorAuthPresent", &["true", "false"]),
    ("aws:SecureTransport", &["true", "false"]),
    (
        "aws:SourceIp",
        &["203.0.113.9", "198.51.100.1", "192.0.2.7", "2001:db8::5"],
    ),
    (
        "aws:CurrentTime",
        &[
            "2024-04-01T00:00:00Z",
            "2024-05-01T00:00:00Z",
            "2024-06-01T00:00:00Z",
        ],
    ),
    (
        "aws:SourceArn",
        &[
            "arn:aws:sns:us-east-1:123456789012:alerts",
            "arn:aws:sns:eu-west-1:999999999999:other",
        ],
    ),
];

/// Values of the multivalued `aws:TagKeys`, including the empty set.
const TAG_KEY_SETS: &[&[&str]] = &[
    &[],
    &["env"],
    &["env", "team"],
    &["cost-center"],
    &["team", "Env"],
];

// === Generated case ===

#[derive(Debug, Clone)]
struct Case {
    identity: Vec<Value>,
    boundary: Option<Value>,
    session: Option<Value>,
    action: &'static str,
    resource: &'static str,
    context: Map<String, Value>,
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn condition_entry() -> impl Strategy<Value = (String, String, Value)> {
    (0..CONDITIONS.len(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(i, a, b, c)| {
        let shape = &CONDITIONS[i];
        let base = shape.operators[usize::from(a) % shape.operators.len()];
        // Negated operators never get a policy variable: the simulator voids the statement when
        // the variable has no value (DIVERGENCES.md, 7).
        let usable: Vec<&str> = shape
            .values
            .iter()
            .copied()
            .filter(|v| !(base.contains("Not") && v.contains("${")))
            .collect();
        let first = usable[usize::from(b) % usable.len()];
        let second = usable[usize::from(c) % usable.len()];
        let values = if b % 3 == 0 && first != second {
            json!([first, second])
        } else {
            json!(first)
        };
        // A Null check on the same key, sometimes, instead of the comparison.
        if c % 7 == 0 {
            let absent = if b % 2 == 0 { "true" } else { "false" };
            return ("Null".to_owned(), shape.key.to_owned(), json!(absent));
        }
        let operator = if shape.multivalued {
            let qualifier = if c % 2 == 0 {
                "ForAllValues:"
            } else {
                "ForAnyValue:"
            };
            format!("{qualifier}{base}")
        } else if a % 4 == 0 {
            format!("{base}IfExists")
        } else {
            base.to_owned()
        };
        (operator, shape.key.to_owned(), values)
    })
}

fn condition_block() -> impl Strategy<Value = Option<Value>> {
    prop::collection::vec(condition_entry(), 0..3).prop_map(|entries| {
        if entries.is_empty() {
            return None;
        }
        let mut block = Map::new();
        for (operator, key, values) in entries {
            let keys = block
                .entry(operator)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(keys) = keys {
                keys.insert(key, values);
            }
        }
        Some(Value::Object(block))
    })
}

fn one_or_many(items: Vec<&'static str>) -> Value {
    match items.as_slice() {
        [one] => json!(one),
        _ => json!(items),
    }
}

/// `variables`: whether `Resource` may use policy variables (never `NotResource`, see
/// DIVERGENCES.md 8; never in boundaries, see 10).
fn statement(deny_weight: u32, variables: bool) -> impl Strategy<Value = Value> {
    (
        prop_oneof![(100 - deny_weight) => Just("Allow"), deny_weight => Just("Deny")],
        any::<bool>(),
        prop::collection::vec(pick(ACTION_PATTERNS), 1..3),
        prop_oneof![4 => Just(false), 1 => Just(true)],
        prop::collection::vec(pick(RESOURCE_PATTERNS), 1..3),
        prop_oneof![4 => Just(false), 1 => Just(true)],
        condition_block(),
    )
        .prop_map(
            move |(effect, with_sid, actions, not_action, resources, not_resource, condition)| {
                let mut statement = Map::new();
                if with_sid {
                    // Renumbered by `policy`: Sids must be unique within a policy.
                    statement.insert("Sid".into(), json!("Generated"));
                }
                statement.insert("Effect".into(), json!(effect));
                let action_key = if not_action { "NotAction" } else { "Action" };
                statement.insert(action_key.into(), one_or_many(actions));
                let resource_key = if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                };
                let resources: Vec<&str> = resources
                    .into_iter()
                    .map(|r| {
                        if (not_resource || !variables) && r.contains("${") {
                            "*"
                        } else {
                            r
                        }
                    })
                    .collect();
                statement.insert(resource_key.into(), one_or_many(resources));
                if let Some(condition) = condition {
                    statement.insert("Condition".into(), condition);
                }
                Value::Object(statement)
            },
        )
}

fn policy(deny_weight: u32, variables: bool) -> impl Strategy<Value = Value> {
    prop::collection::vec(statement(deny_weight, variables), 1..4).prop_map(|mut statements| {
        for (i, statement) in statements.iter_mut().enumerate() {
            if let Some(sid) = statement.get_mut("Sid") {
                *sid = json!(format!("S{i}"));
            }
        }
        json!({"Version": "2012-10-17", "Statement": statements})
    })
}

fn context() -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::collection::vec((any::<bool>(), any::<u8>()), CONTEXT_VALUES.len()),
        prop::option::of(pick(TAG_KEY_SETS)),
    )
        .prop_map(|(choices, tag_keys)| {
            let mut context = Map::new();
            for ((key, values), (present, which)) in CONTEXT_VALUES.iter().zip(choices) {
                if present {
                    let value = values[usize::from(which) % values.len()];
                    context.insert((*key).to_owned(), json!(value));
                }
            }
            if let Some(tag_keys) = tag_keys {
                context.insert("aws:TagKeys".to_owned(), json!(tag_keys));
            }
            context
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(policy(25, true), 1..3),
        // Boundaries and session policies only narrow: keep them occasional so that enough
        // requests end up allowed for agreement on `allowed` to mean something.
        prop::option::weighted(0.3, policy(10, false)),
        prop::option::weighted(0.3, policy(10, true)),
        pick(REQUESTS),
        context(),
    )
        .prop_map(
            |(identity, boundary, session, (action, resource), context)| Case {
                identity,
                boundary,
                session,
                action,
                resource,
                context,
            },
        )
}

// === The two deciders ===

fn decide_here(case: &Case) -> Result<&'static str, String> {
    let parse = |doc: &Value| Policy::from_value(doc).map_err(|e| format!("rejected {doc}: {e}"));
    let identity = case
        .identity
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    let boundary = case.boundary.as_ref().map(parse).transpose()?;
    let session = case.session.as_ref().map(parse).transpose()?;
    let mut context = Context::new();
    for (key, value) in &case.context {
        match value {
            Value::Array(items) => context.set(
                key,
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            Value::String(s) => context.insert(key, s.clone()),
            other => return Err(format!("context value {other}")),
        }
    }
    let principal = Principal::Aws(PRINCIPAL.to_owned());
    let set = PolicySet {
        identity: identity.iter().collect(),
        boundary: boundary.as_ref(),
        session: session.iter().collect(),
        resource: Vec::new(),
    };
    let request = Request {
        action: case.action,
        resource: case.resource,
        principal: Some(&principal),
        context: &context,
    };
    Ok(evaluate(&set, &request).outcome.as_str())
}

fn simulate_dir() -> PathBuf {
    match std::env::var_os("GATEHOUSE_IAM_SIMULATE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../node_modules"),
    }
}

/// Runs every case through the simulator in one `node` process.
fn decide_there(cases: &[Case]) -> Vec<Result<String, String>> {
    let dir = simulate_dir();
    let package = dir.join("@cloud-copilot/iam-simulate/package.json");
    assert!(
        package.is_file(),
        "the differential test needs @cloud-copilot/iam-simulate, not found at {}: run ./scripts/test \
         (it runs `npm ci`), or point GATEHOUSE_IAM_SIMULATE_DIR at a node_modules folder that has it",
        package.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/simulate.mjs");
    let batch: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(id, case)| {
            json!({
                "id": id,
                "identity": case.identity,
                "boundary": case.boundary,
                "session": case.session,
                "action": case.action,
                "resource": case.resource,
                "principal": PRINCIPAL,
                "context": case.context,
            })
        })
        .collect();
    let input = serde_json::to_vec(&json!({ "cases": batch })).unwrap();
    let mut child = match Command::new("node")
        .arg(&script)
        .env("GATEHOUSE_IAM_SIMULATE_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "the differential test needs `node` on PATH ({e}): run ./scripts/test, which installs it"
        ),
    };
    // Write from another thread so a simulator that prints early cannot deadlock the pipes.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "simulate.mjs failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let reply: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = reply["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        cases.len(),
        "simulator answered a different number of cases"
    );
    results
        .iter()
        .map(|r| match (r["decision"].as_str(), r["error"].as_str()) {
            (Some(decision), _) => Ok(decision.to_owned()),
            (None, Some(error)) => Err(error.to_owned()),
            (None, None) => Err(format!("unreadable answer {r}")),
        })
        .collect()
}

fn generate(count: usize) -> Vec<Case> {
    let seed = std::env::var("GATEHOUSE_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed.wrapping_add(i as u64)).to_le_bytes());
    }
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = case();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

fn describe(case: &Case) -> String {
    serde_json::to_string(&json!({
        "identity": case.identity,
        "boundary": case.boundary,
        "session": case.session,
        "action": case.action,
        "resource": case.resource,
        "context": case.context,
    }))
    .unwrap()
}

#[test]
fn decisions_agree_with_iam_simulate() {
    let cases = generate(CASES);
    let theirs = decide_there(&cases);
    let mut disagreements = Vec::new();
    let mut simulator_errors = Vec::new();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for (case, theirs) in cases.iter().zip(theirs) {
        let ours = decide_here(case);
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) if ours == theirs => {
                *outcomes.entry(ours.to_owned()).or_default() += 1;
            }
            (ours, Err(error)) => simulator_errors.push(format!(
                "simulator error {error} (we said {ours:?}) on {}",
                describe(case)
            )),
            (ours, Ok(theirs)) => disagreements.push(format!(
                "we say {ours:?}, iam-simulate says {theirs}: {}",
                describe(case)
            )),
        }
    }
    assert!(
        simulator_errors.is_empty(),
        "{} generated cases are outside the simulator's vocabulary (fix the generator):\n{}",
        simulator_errors.len(),
        simulator_errors.join("\n")
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree (an engine bug, or a divergence to document in \
         tests/differential/DIVERGENCES.md and exclude from generation):\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
    // The generator must exercise every outcome, or agreement proves little.
    for outcome in ["allowed", "explicitDeny", "implicitDeny"] {
        assert!(
            outcomes.get(outcome).copied().unwrap_or(0) >= CASES / 20,
            "too few `{outcome}` outcomes among the generated cases: {outcomes:?}"
        );
    }
}
