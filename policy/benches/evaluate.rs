//! Policy evaluation speed: (a) the canonical Cognito row-level policy among ~20 typical
//! statements, (b) a 100-statement policy. The same question as (a) asked of Cedar is
//! `benches/cedar.rs` (behind the `cedar-comparison` feature, so tests never compile Cedar).
//!
//! Run: `cargo bench -p gatehouse-policy --bench evaluate`. Results: `docs/benchmarks.md`.
#![expect(
    clippy::expect_used,
    reason = "a benchmark whose fixture is broken should stop at once"
)]

mod fixtures;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_policy::{Context, Outcome, Policy, PolicySet, Request, evaluate};

use fixtures::{ACCOUNT, SUB, cognito_policy_json, hundred_statement_policy_json};

fn bench_gatehouse(c: &mut Criterion) {
    let table = format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Notes");

    let policy = Policy::parse(&cognito_policy_json()).expect("valid benchmark policy");
    let mut context = Context::new();
    context.insert("cognito-identity.amazonaws.com:sub", SUB);
    context.insert("dynamodb:LeadingKeys", SUB);
    context.insert("aws:SourceIp", "198.51.100.7");
    let set = PolicySet {
        identity: vec![&policy],
        ..PolicySet::default()
    };
    let request = Request {
        action: "dynamodb:GetItem",
        resource: &table,
        principal: None,
        context: &context,
    };
    assert_eq!(evaluate(&set, &request).outcome, Outcome::Allowed);
    c.bench_function("a_cognito_row_level_21_statements", |b| {
        b.iter(|| evaluate(black_box(&set), black_box(&request)).outcome)
    });

    let big = Policy::parse(&hundred_statement_policy_json()).expect("valid benchmark policy");
    let mut tagged = Context::new();
    tagged.insert("aws:PrincipalTag/team", "notes");
    tagged.insert("aws:SourceIp", "198.51.100.7");
    let big_set = PolicySet {
        identity: vec![&big],
        ..PolicySet::default()
    };
    let big_request = Request {
        action: "dynamodb:GetItem",
        resource: &table,
        principal: None,
        context: &tagged,
    };
    assert_eq!(evaluate(&big_set, &big_request).outcome, Outcome::Allowed);
    c.bench_function("b_100_statements", |b| {
        b.iter(|| evaluate(black_box(&big_set), black_box(&big_request)).outcome)
    });
}

criterion_group!(benches, bench_gatehouse);
criterion_main!(benches);
