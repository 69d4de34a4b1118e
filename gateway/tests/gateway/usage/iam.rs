//! `AWS_IAM` methods through a real gateway with identity's credential verifier, on a clock
//! the test moves: requests signed (SigV4, `execute-api`) with a role session's temporary
//! credentials or the operator's, each case named after the rule it pins.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatehouse_gateway::server::authorizers::IamAuthorizer;
use gatehouse_gateway::server::authorizers::iam::CredentialAuthorizer;
use gatehouse_gateway::server::{Clock, ServiceConfig};
use gatehouse_identity::clock::FixedClock;
use gatehouse_identity::crypto::{MasterKey, Sealer};
use gatehouse_identity::http::OperatorCredentials;
use gatehouse_identity::iam::{Iam, NewRole};
use gatehouse_identity::sigv4::{Outgoing, SigningCredentials, sign};
use gatehouse_identity::sts::{CredentialVerifier, SessionRequest, SessionSource, Sts};
use gatehouse_storage::StoreOptions;
use gatehouse_storage::testkit::TestStore;

use super::support::{Answer, backend, client, gateway_with_iam, send};

const T0: u64 = 1_800_000_000;
const ACCOUNT: &str = "000000000000";
const OPERATOR_KEY: &str = "AKIAOPERATOR00000000";
const OPERATOR_SECRET: &str = "operator-secret";

fn definition(backend: std::net::SocketAddr) -> String {
    format!(
        r#"
version: 1
apis:
  iamapi:
    resources:
      /mine/{{proxy+}}:
        GET:
          authorization: AWS_IAM
          integration:
            type: http_proxy
            uri: "http://{backend}/mine/{{proxy}}"
            request_parameters:
              header.x-identity: context.identity.cognitoIdentityId
              header.x-caller: context.identity.caller
              header.x-access-key: context.identity.accessKey
      /other:
        GET:
          authorization: AWS_IAM
          integration: {{type: http_proxy, uri: "http://{backend}/other"}}
stages:
  iamapi:
    prod: {{}}
"#
    )
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:iamapi/prod/GET/mine/*"},
  {"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:iamapi/prod/GET/mine/secret*"}]}"#;

struct World {
    gateway: super::support::Gateway,
    clock: Arc<FixedClock>,
    session: SigningCredentials,
    _store: TestStore,
}

async fn world() -> World {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let clock = Arc::new(FixedClock::new(UNIX_EPOCH + Duration::from_secs(T0)));
    let sealer =
        Arc::new(Sealer::new(&MasterKey::from_bytes("k1", [9; 32]).unwrap(), &[]).unwrap());
    let iam = Iam::new(
        store.store.clone(),
        Arc::clone(&clock) as Arc<dyn Clock>,
        ACCOUNT.into(),
    );
    iam.create_role(NewRole {
        name: "Auth".into(),
        trust_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#.into(),
        ..NewRole::default()
    })
    .await
    .unwrap();
    iam.put_role_policy("Auth", "invoke", POLICY).await.unwrap();
    let role = iam.compiled_role("Auth").await.unwrap().unwrap();
    let sts = Sts::new(
        Arc::clone(&sealer),
        iam.clone(),
        Arc::clone(&clock) as Arc<dyn Clock>,
    );
    let issued = sts
        .issue(
            SessionRequest {
                role: &role,
                source: SessionSource::CognitoIdentity,
                session_name: "CognitoIdentityCredentials".into(),
                duration_secs: 3600,
                identity_id: Some("us-east-1:0000-identity".into()),
                identity_pool_id: Some("us-east-1:pool".into()),
                amr: vec!["authenticated".into()],
                web_identity_keys: Vec::new(),
                session_policy: None,
                policy_arns: Vec::new(),
                tags: Vec::new(),
            },
            clock.now(),
        )
        .unwrap();
    let operator = OperatorCredentials {
        access_key_id: OPERATOR_KEY.into(),
        secret_access_key: OPERATOR_SECRET.into(),
    };
    let verifier = CredentialVerifier::new(sealer, operator, iam, vec!["us-east-1".into()]);
    let authorizer: Arc<dyn IamAuthorizer> = Arc::new(CredentialAuthorizer::new(verifier));
    let b = backend().await;
    let gateway = gateway_with_iam(
        store.store.clone(),
        &definition(b.addr),
        None,
        Some(authorizer),
        Default::default(),
        ServiceConfig::default(),
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .await;
    World {
        gateway,
        clock,
        session: SigningCredentials {
            access_key_id: issued.access_key_id,
            secret_access_key: issued.secret_access_key,
            session_token: Some(issued.session_token),
        },
        _store: store,
    }
}

impl World {
    /// GET `path` signed with `credentials` at `at`, then `tamper` applied to the headers.
    async fn get(
        &self,
        path: &str,
        credentials: Option<&SigningCredentials>,
        at: SystemTime,
        tamper: impl Fn(&mut Vec<(&'static str, String)>),
    ) -> Answer {
        let host = self.gateway.addr.to_string();
        let mut headers = match credentials {
            Some(c) => sign(
                &Outgoing {
                    method: "GET",
                    path,
                    host: &host,
                    headers: &[],
                    body: b"",
                },
                c,
                "us-east-1",
                "execute-api",
                at,
            )
            .unwrap(),
            None => Vec::new(),
        };
        tamper(&mut headers);
        let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        send(&client(), self.gateway.addr, "GET", path, &refs).await
    }
}

fn message(answer: &Answer) -> String {
    answer.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn aws_iam_methods_verify_the_signature_and_the_role_policy() {
    let w = world().await;
    let now = w.clock.now();
    let operator = SigningCredentials {
        access_key_id: OPERATOR_KEY.into(),
        secret_access_key: OPERATOR_SECRET.into(),
        session_token: None,
    };
    let keep = |_: &mut Vec<(&'static str, String)>| {};
    let denied = |path: &str, explicit: bool| {
        format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/Auth/CognitoIdentityCredentials is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:{ACCOUNT}:iamapi/prod/GET/{path}{}",
            if explicit {
                " with an explicit deny"
            } else {
                ""
            }
        )
    };
    // (rule, path, credentials, expected status, expected message or "" for the backend's answer)
    let cases: Vec<(&str, &str, Option<&SigningCredentials>, u16, String)> = vec![
        (
            "allowed by the role's policy",
            "/prod/mine/notes",
            Some(&w.session),
            200,
            String::new(),
        ),
        (
            "another path is an implicit deny",
            "/prod/other",
            Some(&w.session),
            403,
            denied("other", false),
        ),
        (
            "a Deny statement wins",
            "/prod/mine/secret-plans",
            Some(&w.session),
            403,
            denied("mine/secret-plans", true),
        ),
        (
            "the ARN is the decoded path: %73ecret is secret, and denied",
            "/prod/mine/%73ecret",
            Some(&w.session),
            403,
            denied("mine/secret", true),
        ),
        (
            "an encoded space is allowed under mine/*",
            "/prod/mine/a%20b",
            Some(&w.session),
            200,
            String::new(),
        ),
        (
            "unsigned: Missing Authentication Token",
            "/prod/mine/notes",
            None,
            403,
            "Missing Authentication Token".into(),
        ),
        (
            "the operator is the account: everything",
            "/prod/other",
            Some(&operator),
            200,
            String::new(),
        ),
    ];
    for (rule, path, credentials, status, expected) in cases {
        let answer = w.get(path, credentials, now, keep).await;
        assert_eq!(answer.status, status, "{rule}: {answer:?}");
        if !expected.is_empty() {
            assert_eq!(message(&answer), expected, "{rule}");
        }
    }

    // What the backend sees of the caller, through parameter mappings.
    let answer = w.get("/prod/mine/notes", Some(&w.session), now, keep).await;
    let headers = &answer.json()["headers"];
    assert_eq!(headers["x-identity"], "us-east-1:0000-identity");
    assert_eq!(headers["x-access-key"], w.session.access_key_id.as_str());
    assert!(
        headers["x-caller"]
            .as_str()
            .unwrap()
            .ends_with(":CognitoIdentityCredentials")
    );
    assert_eq!(
        headers["x-gatehouse-cognito-identity-id"],
        "us-east-1:0000-identity"
    );
}

#[tokio::test]
async fn tampered_and_expired_credentials_are_refused() {
    let w = world().await;
    let now = w.clock.now();
    let swap_token = |headers: &mut Vec<(&'static str, String)>| {
        for (name, value) in headers.iter_mut() {
            if *name == "x-amz-security-token" {
                let mut bytes = value.clone().into_bytes();
                bytes[30] = if bytes[30] == b'A' { b'B' } else { b'A' };
                *value = String::from_utf8(bytes).unwrap();
            }
        }
    };
    let answer = w
        .get("/prod/mine/notes", Some(&w.session), now, swap_token)
        .await;
    assert_eq!(
        (answer.status, message(&answer).as_str()),
        (
            403,
            "The security token included in the request is invalid."
        )
    );
    assert_eq!(
        answer.header("x-amzn-errortype"),
        Some("UnrecognizedClientException")
    );

    let wrong_secret = SigningCredentials {
        secret_access_key: "not-the-secret".into(),
        ..w.session.clone()
    };
    let answer = w
        .get("/prod/mine/notes", Some(&wrong_secret), now, |_| {})
        .await;
    assert_eq!(answer.status, 403);
    assert!(
        message(&answer).starts_with("The request signature we calculated does not match"),
        "{answer:?}"
    );

    // Signed ten minutes ago: outside the five-minute window.
    let answer = w
        .get(
            "/prod/mine/notes",
            Some(&w.session),
            now - Duration::from_secs(600),
            |_| {},
        )
        .await;
    assert_eq!(answer.status, 403);
    assert!(
        message(&answer).starts_with("Signature expired"),
        "{answer:?}"
    );

    // An hour later the credentials themselves have expired.
    w.clock.advance(Duration::from_secs(3600));
    let answer = w
        .get("/prod/mine/notes", Some(&w.session), w.clock.now(), |_| {})
        .await;
    assert_eq!(
        (answer.status, message(&answer).as_str()),
        (403, "The security token included in the request is expired")
    );
}
