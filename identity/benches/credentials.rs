//! The per-request cost of a request signed with temporary credentials, as the DynamoDB proxy
//! pays it before forwarding (`cargo bench -p gatehouse-identity --bench credentials`):
//!
//! - `unseal_and_verify`: `CredentialVerifier::authenticate`: parse the SigV4 header, open the
//!   sealed session token (AES-256-GCM), check the expiry, hash the body and compare the HMAC;
//! - `policy`: the permissions of the session from the in-memory IAM view, the request context
//!   and `DynamoDbProxy::authorize` on a GetItem with `dynamodb:LeadingKeys` against AWS's
//!   canonical row-level policy;
//! - `whole`: both, as one request pays them (no I/O: no database, no network).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "benchmark setup: a panic is a failed run"
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_identity::clock::FixedClock;
use gatehouse_identity::crypto::{MasterKey, Sealer};
use gatehouse_identity::dynamodb::{DynamoDbProxy, KeySchema, checks, parse_body};
use gatehouse_identity::http::OperatorCredentials;
use gatehouse_identity::iam::{Iam, NewRole};
use gatehouse_identity::sigv4::{self, Outgoing, Payload, SigningCredentials, VerifierConfig};
use gatehouse_identity::sts::{
    Authenticated, CredentialVerifier, RequestFacts, SessionRequest, SessionSource, Sts,
};
use gatehouse_policy::Context;
use gatehouse_storage::StoreOptions;
use gatehouse_storage::testkit::TestStore;

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";
const TABLE: &str = "Notes";
const IDENTITY: &str = "us-east-1:1b3c5e7a-0000-4000-8000-000000000001";
const TARGET: &str = "DynamoDB_20120810.GetItem";

const ROW_LEVEL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:PutItem",
           "dynamodb:UpdateItem","dynamodb:DeleteItem","dynamodb:BatchWriteItem"],
 "Resource":["arn:aws:dynamodb:us-east-1:000000000000:table/Notes"],
 "Condition":{"ForAllValues:StringEquals":{
   "dynamodb:LeadingKeys":["${cognito-identity.amazonaws.com:sub}"]}}}]}"#;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"cognito-identity.amazonaws.com"},
 "Action":"sts:AssumeRoleWithWebIdentity"}]}"#;

struct World {
    verifier: CredentialVerifier,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    schemas: HashMap<String, KeySchema>,
    now: SystemTime,
    // Keeps the database (and its folder) alive while the view is used.
    _store: TestStore,
}

fn world() -> World {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let clock = Arc::new(FixedClock::new(now));
        let store = TestStore::sqlite(StoreOptions::default()).await;
        let clock: Arc<dyn gatehouse_identity::clock::Clock> = clock;
        let iam = Iam::new(store.store.clone(), clock.clone(), ACCOUNT.to_owned());
        iam.create_role(NewRole {
            name: "Auth".into(),
            path: None,
            trust_policy: TRUST.into(),
            description: None,
            max_session_duration: None,
            permissions_boundary: None,
            tags: Vec::new(),
        })
        .await
        .unwrap();
        iam.put_role_policy("Auth", "rows", ROW_LEVEL)
            .await
            .unwrap();
        let sealer = Arc::new(Sealer::new(&MasterKey::generate("bench").unwrap(), &[]).unwrap());
        let sts = Sts::new(sealer.clone(), iam.clone(), clock);
        let role = iam.compiled_role("Auth").await.unwrap().unwrap();
        let credentials = sts
            .issue(
                SessionRequest {
                    role: &role,
                    source: SessionSource::CognitoIdentity,
                    session_name: "CognitoIdentityCredentials".into(),
                    duration_secs: 3600,
                    identity_id: Some(IDENTITY.into()),
                    identity_pool_id: Some("us-east-1:pool".into()),
                    amr: vec!["authenticated".into()],
                    web_identity_keys: Vec::new(),
                    session_policy: None,
                    policy_arns: Vec::new(),
                    tags: Vec::new(),
                },
                now,
            )
            .unwrap();
        let verifier = CredentialVerifier::new(
            sealer,
            OperatorCredentials {
                access_key_id: "AKIABENCHOPERATOR001".into(),
                secret_access_key: "bench-operator-secret-0123456789".into(),
            },
            iam,
            vec![REGION.into()],
        );
        let body = format!(
            r#"{{"TableName":"{TABLE}","Key":{{"owner":{{"S":"{IDENTITY}"}},"id":{{"S":"1"}}}}}}"#
        )
        .into_bytes();
        let host = "127.0.0.1:8000";
        let unsigned = [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", TARGET),
        ];
        let added = sigv4::sign(
            &Outgoing {
                method: "POST",
                path: "/",
                host,
                headers: &unsigned,
                body: &body,
            },
            &SigningCredentials {
                access_key_id: credentials.access_key_id.clone(),
                secret_access_key: credentials.secret_access_key.clone(),
                session_token: Some(credentials.session_token.clone()),
            },
            REGION,
            "dynamodb",
            now,
        )
        .unwrap();
        let mut headers: Vec<(String, String)> = vec![("host".into(), host.into())];
        headers.extend(
            unsigned
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        headers.extend(added.into_iter().map(|(n, v)| (n.to_owned(), v)));
        let mut schemas = HashMap::new();
        schemas.insert(
            TABLE.to_owned(),
            KeySchema {
                partition_key: "owner".into(),
                indexes: HashMap::new(),
            },
        );
        World {
            verifier,
            headers,
            body,
            schemas,
            now,
            _store: store,
        }
    })
}

/// The verification the DynamoDB adapter makes of one request; panics on a refusal.
fn authenticate(world: &World) -> Authenticated {
    let headers: Vec<(&str, &[u8])> = world
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let view = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(&world.body),
    };
    let config = VerifierConfig::new("dynamodb").require_signed("x-amz-target");
    world
        .verifier
        .authenticate(&view, &config, world.now)
        .unwrap()
}

/// What the DynamoDB adapter decides for a verified request; panics on a deny.
fn authorize(world: &World, caller: &Authenticated) {
    let parsed = parse_body(&world.body).unwrap();
    let checks = checks("GetItem", &parsed, &world.schemas).unwrap();
    let permissions = world.verifier.permissions(&caller.principal);
    let facts = RequestFacts {
        source_ip: None,
        secure_transport: false,
        now: world.now,
    };
    let mut context = Context::new();
    caller
        .principal
        .fill_context(&mut context, &facts, &permissions, ACCOUNT);
    DynamoDbProxy::authorize(
        &checks,
        &caller.principal,
        &permissions,
        &mut context,
        REGION,
        ACCOUNT,
    )
    .unwrap();
}

fn bench(c: &mut Criterion) {
    let world = world();
    let mut group = c.benchmark_group("temporary_credentials");
    group.bench_function("unseal_and_verify", |b| {
        b.iter(|| black_box(authenticate(&world)))
    });
    let caller = authenticate(&world);
    group.bench_function("policy", |b| {
        b.iter(|| authorize(&world, black_box(&caller)))
    });
    group.bench_function("whole", |b| {
        b.iter(|| authorize(&world, &authenticate(&world)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
