//! The common evaluation path allocates nothing: a request against compiled policies is decided
//! with stack memory only (the matched-statement list stays inline up to `INLINE_MATCHES`).

use gatehouse_policy::{Context, Outcome, Policy, PolicySet, Request, evaluate};

const ROW_LEVEL: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "OwnRows", "Effect": "Allow",
     "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"],
     "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/Notes",
                  "arn:aws:dynamodb:us-east-1:123456789012:table/Notes/index/*"],
     "Condition": {"ForAllValues:StringEquals":
        {"dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]}}},
    {"Sid": "Objects", "Effect": "Allow", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::bucket/private/${cognito-identity.amazonaws.com:sub}/*"},
    {"Sid": "Office", "Effect": "Deny", "NotAction": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "s3:GetObject"],
     "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]},
                   "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}
  ]
}"#;

fn context(sub: &str, leading: &[&str]) -> Context {
    let mut context = Context::new();
    context.insert("cognito-identity.amazonaws.com:sub", sub);
    for key in leading {
        context.insert("dynamodb:LeadingKeys", *key);
    }
    context.insert("aws:SourceIp", "198.51.100.7");
    context.insert("aws:CurrentTime", "2026-11-27T00:00:00Z");
    context
}

/// Evaluates `request` 1000 times and returns (the outcome, the allocations made).
fn count(set: &PolicySet<'_>, request: &Request<'_>) -> (Outcome, u64) {
    let warm = evaluate(set, request).outcome;
    let info = allocation_counter::measure(|| {
        for _ in 0..1000 {
            std::hint::black_box(evaluate(std::hint::black_box(set), request));
        }
    });
    (warm, info.count_total)
}

#[test]
fn evaluation_does_not_allocate() {
    let policy = Policy::parse(ROW_LEVEL).unwrap();
    let set = PolicySet {
        identity: vec![&policy],
        ..PolicySet::default()
    };
    let own = context("us-east-1:alice", &["us-east-1:alice"]);
    let foreign = context("us-east-1:alice", &["us-east-1:alice", "us-east-1:bob"]);
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/Notes";
    let object = "arn:aws:s3:::bucket/private/us-east-1:alice/notes.txt";
    let cases = [
        ("dynamodb:GetItem", table, &own, Outcome::Allowed),
        ("dynamodb:Query", table, &foreign, Outcome::ImplicitDeny),
        ("s3:GetObject", object, &own, Outcome::Allowed),
        ("dynamodb:DeleteTable", table, &own, Outcome::ExplicitDeny),
        ("iam:CreateUser", "*", &own, Outcome::ExplicitDeny),
    ];
    for (action, resource, context, expected) in cases {
        let request = Request {
            action,
            resource,
            principal: None,
            context,
        };
        let (outcome, allocations) = count(&set, &request);
        assert_eq!(outcome, expected, "{action} on {resource}");
        assert_eq!(allocations, 0, "{action} on {resource} allocated");
    }
}

#[test]
fn the_counter_sees_allocations() {
    let info = allocation_counter::measure(|| {
        std::hint::black_box(context("us-east-1:alice", &["us-east-1:alice"]));
    });
    assert!(info.count_total > 0, "the allocation counter is installed");
}
