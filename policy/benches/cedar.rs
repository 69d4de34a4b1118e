//! The same question as benchmark (a) of `evaluate.rs` (the canonical Cognito row-level policy
//! among ~20 typical statements), asked of gatehouse and of Cedar side by side in one run, so
//! their ratio does not move with the machine's load.
//!
//! Run: `cargo bench -p gatehouse-policy --features cedar-comparison --bench cedar`. The
//! feature keeps Cedar out of `cargo test`. Results: `docs/benchmarks.md`.
#![expect(
    clippy::expect_used,
    reason = "a benchmark whose fixture is broken should stop at once"
)]

mod fixtures;

use std::hint::black_box;
use std::str::FromStr;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_policy::{Context, Outcome, Policy, PolicySet, Request, evaluate};

use fixtures::{ACCOUNT, SUB, cognito_policy_json};

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
}

/// The same question as (a) in Cedar: the row-level permit plus twenty permits/forbids of the
/// same shapes, the caller's `sub` and the request's leading keys in the context.
fn cedar_policies() -> String {
    let mut text = String::from(
        r#"permit(principal, action in [Action::"dynamodb:GetItem", Action::"dynamodb:BatchGetItem", Action::"dynamodb:Query", Action::"dynamodb:PutItem", Action::"dynamodb:UpdateItem", Action::"dynamodb:DeleteItem"], resource)
           when { (resource == Table::"Notes" || resource.parent == Table::"Notes") && [context.sub].containsAll(context.leadingKeys) };
"#,
    );
    for i in 0..20 {
        let statement = match i % 5 {
            0 => format!(
                r#"permit(principal, action in [Action::"s3:GetObject", Action::"s3:PutObject"], resource is Object) when {{ resource.bucket == "app-bucket-{i}" && resource.key like "private/*" }};"#
            ),
            1 => format!(
                r#"permit(principal, action == Action::"execute-api:Invoke", resource is ApiRoute) when {{ resource.api == "api{i}" && resource.stage == "prod" && resource.verb == "GET" }};"#
            ),
            2 => format!(
                r#"permit(principal, action in [Action::"dynamodb:Query", Action::"dynamodb:GetItem"], resource == Table::"Catalog{i}") when {{ context.select == "SPECIFIC_ATTRIBUTES" }};"#
            ),
            3 => r#"forbid(principal, action == Action::"dynamodb:DeleteTable", resource) unless { context.sourceIp.isInRange(ip("192.0.2.0/24")) || context.sourceIp.isInRange(ip("2001:db8::/32")) };"#.to_owned(),
            _ => format!(
                r#"permit(principal, action in [Action::"logs:PutLogEvents", Action::"logs:CreateLogStream"], resource is LogGroup) when {{ resource.group == "/app/{i}" }};"#
            ),
        };
        text.push_str(&statement);
        text.push('\n');
    }
    text
}

fn bench_cedar(c: &mut Criterion) {
    let policies = cedar_policy::PolicySet::from_str(&cedar_policies()).expect("valid Cedar");
    let entities = cedar_policy::Entities::from_json_value(
        serde_json::json!([
            { "uid": { "type": "Table", "id": "Notes" }, "attrs": { "parent": { "__entity": { "type": "Table", "id": "Notes" } } }, "parents": [] },
            { "uid": { "type": "Identity", "id": SUB }, "attrs": {}, "parents": [] }
        ]),
        None,
    )
    .expect("valid entities");
    let context = cedar_policy::Context::from_json_value(
        serde_json::json!({
            "sub": SUB,
            "leadingKeys": [SUB],
            "sourceIp": { "__extn": { "fn": "ip", "arg": "198.51.100.7" } },
            "select": "ALL_ATTRIBUTES"
        }),
        None,
    )
    .expect("valid context");
    let request = cedar_policy::Request::new(
        cedar_policy::EntityUid::from_str(&format!(r#"Identity::"{SUB}""#)).expect("uid"),
        cedar_policy::EntityUid::from_str(r#"Action::"dynamodb:GetItem""#).expect("uid"),
        cedar_policy::EntityUid::from_str(r#"Table::"Notes""#).expect("uid"),
        context,
        None,
    )
    .expect("valid request");
    let authorizer = cedar_policy::Authorizer::new();
    assert_eq!(
        authorizer
            .is_authorized(&request, &policies, &entities)
            .decision(),
        cedar_policy::Decision::Allow
    );
    c.bench_function("c_cedar_same_question_as_a", |b| {
        b.iter(|| {
            authorizer
                .is_authorized(
                    black_box(&request),
                    black_box(&policies),
                    black_box(&entities),
                )
                .decision()
        })
    });
}

criterion_group!(benches, bench_gatehouse, bench_cedar);
criterion_main!(benches);
