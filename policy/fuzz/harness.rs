//! The `parse_evaluate` fuzz harness, shared word for word by the cargo-fuzz target and by
//! `tests/fuzz_seeds.rs` (both include this file as a module), so a seed replayed on stable runs
//! exactly the code the fuzzer runs.
//!
//! Every check here is an invariant that holds for any input: a failure is a bug in the engine.

use gatehouse_policy::{
    Context, Decision, Effect, Outcome, Policy, PolicySet, Principal, Request, Severity, evaluate,
    validate,
};
use serde_json::Value;

/// How many derived actions / resources to try; small so that one input stays fast.
const MAX_ACTIONS: usize = 4;
const MAX_RESOURCES: usize = 4;

/// Parses `data` as a policy; if it parses, evaluates requests built from the document itself.
pub(crate) fn parse_evaluate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let findings = validate(text);
    let parsed = Policy::parse(text);
    let validate_rejects = findings.iter().any(|f| f.severity == Severity::Error);
    assert_eq!(
        validate_rejects,
        parsed.is_err(),
        "validate and parse disagree: findings {findings:?}, parse {parsed:?}"
    );
    let Ok(policy) = parsed else {
        return;
    };
    // The policy parsed, so the text is JSON; the document supplies the request vocabulary, which
    // makes statements actually match instead of missing on every random request.
    let Ok(document) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let vocabulary = Vocabulary::of(&document);
    let context = vocabulary.context();
    let principals = [
        Principal::Anonymous,
        Principal::Aws("arn:aws:iam::123456789012:user/alice".to_owned()),
        Principal::Service("lambda.amazonaws.com".to_owned()),
    ];
    for action in &vocabulary.actions {
        for resource in &vocabulary.resources {
            for principal in &principals {
                let request = Request {
                    action,
                    resource,
                    principal: Some(principal),
                    context: &context,
                };
                check_request(&policy, &request);
            }
        }
    }
}

/// Evaluates one request with the policy in every role and checks the invariants.
fn check_request(policy: &Policy, request: &Request<'_>) {
    let alone = PolicySet {
        identity: vec![policy],
        ..PolicySet::default()
    };
    let first = evaluate(&alone, request);
    check_decision(policy, &first);
    let again = evaluate(&alone, request);
    assert_eq!(
        first.outcome, again.outcome,
        "evaluation is not deterministic"
    );
    assert_eq!(
        first.matched, again.matched,
        "evaluation is not deterministic"
    );

    // A policy intersected with itself (as boundary and as session policy) grants what it grants
    // alone: the decision must not change.
    let intersected = PolicySet {
        identity: vec![policy],
        boundary: Some(policy),
        session: vec![policy],
        resource: Vec::new(),
    };
    let decision = evaluate(&intersected, request);
    check_decision(policy, &decision);
    assert_eq!(
        first.outcome, decision.outcome,
        "a policy used as its own boundary and session policy changed the decision"
    );

    let as_resource_policy = PolicySet {
        resource: vec![policy],
        ..PolicySet::default()
    };
    let decision = evaluate(&as_resource_policy, request);
    check_decision(policy, &decision);
}

/// The outcome agrees with the statements reported as matched.
fn check_decision(policy: &Policy, decision: &Decision<'_>) {
    let statements = policy.statements().len();
    for matched in &decision.matched {
        assert!(
            matched.index < statements,
            "matched statement {} of a policy with {statements}",
            matched.index
        );
    }
    let any_deny = decision.matched.iter().any(|m| m.effect == Effect::Deny);
    let any_allow = decision.matched.iter().any(|m| m.effect == Effect::Allow);
    match decision.outcome {
        Outcome::ExplicitDeny => assert!(any_deny, "explicit deny without a matched Deny"),
        Outcome::Allowed => {
            assert!(any_allow, "allowed without a matched Allow");
            assert!(!any_deny, "allowed although a Deny matched");
        }
        Outcome::ImplicitDeny => assert!(!any_deny, "implicit deny although a Deny matched"),
    }
}

/// Actions, resources and condition keys found in a document, made concrete.
struct Vocabulary {
    actions: Vec<String>,
    resources: Vec<String>,
    /// Condition key and the first value the document compares it with.
    keys: Vec<(String, Vec<String>)>,
}

impl Vocabulary {
    fn of(document: &Value) -> Self {
        let mut vocabulary = Self {
            actions: vec!["s3:GetObject".to_owned()],
            resources: vec!["arn:aws:s3:::amzn-s3-demo-bucket/key".to_owned()],
            keys: Vec::new(),
        };
        vocabulary.walk(document, 0);
        vocabulary.actions.truncate(MAX_ACTIONS);
        vocabulary.resources.truncate(MAX_RESOURCES);
        vocabulary
    }

    fn walk(&mut self, value: &Value, depth: usize) {
        // Deep documents are rejected by the parser long before this; the bound only keeps the
        // walk itself from recursing without limit.
        if depth > 64 {
            return;
        }
        match value {
            Value::String(s) => {
                if s.starts_with("arn:") {
                    push_unique(&mut self.resources, concrete(s));
                } else if s.contains(':') && !s.contains(' ') {
                    push_unique(&mut self.actions, concrete(s));
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk(item, depth + 1);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    if key == "Condition" {
                        self.conditions(item);
                    }
                    self.walk(item, depth + 1);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// `{"Operator": {"key": value-or-values}}`: remember each key with the values it is compared to.
    fn conditions(&mut self, block: &Value) {
        let Value::Object(operators) = block else {
            return;
        };
        for keys in operators.values() {
            let Value::Object(keys) = keys else {
                continue;
            };
            for (key, values) in keys {
                let values: Vec<String> = match values {
                    Value::Array(items) => items.iter().filter_map(scalar).collect(),
                    other => scalar(other).into_iter().collect(),
                };
                self.keys.push((key.clone(), values));
            }
        }
    }

    /// Each key gets the values the policy compares it with; every other key is left absent, so
    /// both the present-key and the missing-key paths of the operators run.
    fn context(&self) -> Context {
        let mut context = Context::new();
        for (i, (key, values)) in self.keys.iter().enumerate() {
            if i % 3 == 2 {
                continue;
            }
            context.set(key, values.iter().map(|v| concrete(v)).collect());
        }
        context
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A request value that a pattern plausibly matches: wildcards become ordinary characters.
fn concrete(pattern: &str) -> String {
    pattern.replace('*', "x").replace('?', "y")
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}
