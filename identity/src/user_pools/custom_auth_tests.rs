//! Service-layer tests of `CUSTOM_AUTH` with a fixed clock, each on SQLite and PostgreSQL:
//! the three triggers are one scripted endpoint on 127.0.0.1 (called through the function
//! registry, signed) that records every event and answers what the test scripts. They pin
//! the events' fields, the `session` array, the private parameters kept on the server, the
//! decisions of DefineAuthChallenge, single-use and expiring sessions, the round limit, the
//! lockout, MFA after the chain, and the refusals before any trigger runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use gatehouse_storage::testkit::{TestStore, each_backend};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::config::{ExplicitAuthFlow, MfaConfiguration, PoolConfig};
use super::public_tests::{PASSWORD, params, pool_config};
use super::tests::{Fixture, fixture};
use super::*;
use crate::clock::SystemClock;
use crate::functions::{FunctionSettings, FunctionSpec, Functions, SigningSecret};

const DEFINE: &str = "arn:aws:lambda:us-east-1:123456789012:function:define";
const CREATE: &str = "arn:aws:lambda:us-east-1:123456789012:function:create";
const VERIFY: &str = "arn:aws:lambda:us-east-1:123456789012:function:verify";
const PRE_TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:pretoken";
const SECRET: &str = "custom-auth-test-secret-0123456789";

/// What the endpoint answers an event with: a status and a body.
type Script = Box<dyn FnMut(&Value) -> (u16, Value) + Send>;

/// The triggers' endpoint: every event it was sent, and the script that answers them.
struct Endpoint {
    addr: SocketAddr,
    events: Arc<Mutex<Vec<Value>>>,
    script: Arc<Mutex<Script>>,
}

impl Endpoint {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(Box::new(|e| (200, e.clone()))));
        let (log, answer) = (Arc::clone(&events), Arc::clone(&script));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, answer) = (Arc::clone(&log), Arc::clone(&answer));
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let (log, answer) = (Arc::clone(&log), Arc::clone(&answer));
                            async move {
                                let body = request.into_body().collect().await.unwrap().to_bytes();
                                let event: Value = serde_json::from_slice(&body).unwrap();
                                log.lock().unwrap().push(event.clone());
                                let (status, reply) = (answer.lock().unwrap())(&event);
                                let mut response = hyper::Response::new(Full::new(Bytes::from(
                                    serde_json::to_vec(&reply).unwrap(),
                                )));
                                *response.status_mut() =
                                    hyper::StatusCode::from_u16(status).unwrap();
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            events,
            script,
        }
    }

    fn registry(&self) -> Functions {
        let url = format!("http://{}/", self.addr);
        let specs = [DEFINE, CREATE, VERIFY, PRE_TOKEN]
            .iter()
            .map(|arn| {
                FunctionSpec::new(arn, &url, None, SigningSecret::new(SECRET).unwrap()).unwrap()
            })
            .collect();
        Functions::new(
            specs,
            None,
            Arc::new(SystemClock),
            FunctionSettings::default(),
        )
        .unwrap()
    }

    /// Answers with `script` from now on.
    fn answer(&self, script: impl FnMut(&Value) -> (u16, Value) + Send + 'static) {
        *self.script.lock().unwrap() = Box::new(script);
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    fn sources(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["triggerSource"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// The event answered with `response` merged into its `response`.
fn respond(event: &Value, response: Value) -> (u16, Value) {
    let mut answer = event.clone();
    let slot = answer["response"].as_object_mut().unwrap();
    for (k, v) in response.as_object().unwrap() {
        slot.insert(k.clone(), v.clone());
    }
    (200, answer)
}

/// A passwordless script: the code is `4711`; DefineAuthChallenge issues tokens after a right
/// answer, fails after `attempts` wrong ones, and asks for a CUSTOM_CHALLENGE otherwise.
fn passwordless(attempts: usize) -> impl FnMut(&Value) -> (u16, Value) + Send + 'static {
    move |event| {
        let request = &event["request"];
        match event["triggerSource"].as_str().unwrap() {
            "DefineAuthChallenge_Authentication" => {
                let session = request["session"].as_array().unwrap();
                if session.last().is_some_and(|r| r["challengeResult"] == true) {
                    respond(
                        event,
                        json!({"issueTokens": true, "failAuthentication": false}),
                    )
                } else if session.len() >= attempts {
                    respond(
                        event,
                        json!({"issueTokens": false, "failAuthentication": true}),
                    )
                } else {
                    respond(
                        event,
                        json!({"challengeName": "CUSTOM_CHALLENGE", "issueTokens": false, "failAuthentication": false}),
                    )
                }
            }
            "CreateAuthChallenge_Authentication" => respond(
                event,
                json!({
                    "publicChallengeParameters": {"hint": "the four digits", "attempt": request["session"].as_array().unwrap().len() + 1},
                    "privateChallengeParameters": {"answer": "4711"},
                    "challengeMetadata": "CODE-ROUND",
                }),
            ),
            "VerifyAuthChallengeResponse_Authentication" => {
                let right =
                    request["privateChallengeParameters"]["answer"] == request["challengeAnswer"];
                respond(event, json!({"answerCorrect": right}))
            }
            other => panic!("unexpected trigger {other}"),
        }
    }
}

fn lambda_config() -> serde_json::Value {
    json!({
        "DefineAuthChallenge": DEFINE,
        "CreateAuthChallenge": CREATE,
        "VerifyAuthChallengeResponse": VERIFY,
    })
}

fn custom_client() -> ClientConfig {
    ClientConfig {
        explicit_auth_flows: vec![
            ExplicitAuthFlow::AllowCustomAuth,
            ExplicitAuthFlow::AllowUserSrpAuth,
            ExplicitAuthFlow::AllowRefreshTokenAuth,
        ],
        ..ClientConfig::default()
    }
}

struct Setup {
    f: Fixture,
    endpoint: Endpoint,
    pool: UserPool,
    client: Client,
}

async fn setup_with(
    store: &gatehouse_storage::Store,
    mut config: PoolConfig,
    client: ClientConfig,
) -> Setup {
    let f = fixture(store);
    let endpoint = Endpoint::start().await;
    f.pools.set_functions(endpoint.registry());
    config
        .stored_only
        .entry("LambdaConfig".into())
        .or_insert_with(lambda_config);
    let (pool, client) = super::public_tests::setup(&f, config, client).await;
    f.pools
        .admin_create_user(
            &pool.id,
            AdminCreateUser {
                username: "ada".into(),
                attributes: vec![
                    ("email".into(), "ada@example.com".into()),
                    ("email_verified".into(), "true".into()),
                ],
                temporary_password: None,
                message_action: Some(MessageAction::Suppress),
                delivery_mediums: Vec::new(),
            },
        )
        .await
        .unwrap();
    f.pools
        .admin_set_user_password(&pool.id, "ada", PASSWORD, true)
        .await
        .unwrap();
    Setup {
        f,
        endpoint,
        pool,
        client,
    }
}

async fn setup(store: &gatehouse_storage::Store) -> Setup {
    setup_with(store, pool_config(), custom_client()).await
}

fn metadata() -> BTreeMap<String, String> {
    params(&[("purpose", "test")])
}

impl Setup {
    async fn start(&self, name: &str) -> Result<AuthOutcome, UserPoolError> {
        self.f
            .pools
            .initiate_auth_with_metadata(
                &self.client.id,
                "CUSTOM_AUTH",
                &params(&[("USERNAME", name)]),
                &metadata(),
            )
            .await
    }

    async fn answer(
        &self,
        challenge: &Challenge,
        answer: &str,
    ) -> Result<AuthOutcome, UserPoolError> {
        self.f
            .pools
            .respond_to_auth_challenge_with_metadata(
                &self.client.id,
                CUSTOM_CHALLENGE,
                Some(&challenge.session),
                &params(&[
                    ("USERNAME", &challenge.parameters["USERNAME"]),
                    ("ANSWER", answer),
                ]),
                &metadata(),
            )
            .await
    }
}

fn challenge(outcome: Result<AuthOutcome, UserPoolError>) -> Challenge {
    match outcome {
        Ok(AuthOutcome::Challenge(c)) => c,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn not_authorized(outcome: Result<AuthOutcome, UserPoolError>) -> String {
    match outcome {
        Err(UserPoolError::NotAuthorized(m)) => m,
        other => panic!("expected NotAuthorized, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passwordless_chain_sends_cognitos_events_and_keeps_private_parameters_sealed() {
    each_backend(async |store: &TestStore| {
        let s = setup(&store.store).await;
        s.endpoint.answer(passwordless(3));
        let first = challenge(s.start("ada").await);
        assert_eq!(first.name, CUSTOM_CHALLENGE);
        assert_eq!(
            first.parameters,
            params(&[("hint", "the four digits"), ("attempt", "1"), ("USERNAME", "ada")]),
            "publicChallengeParameters (a number written as text) and USERNAME"
        );
        // The private parameters and the metadata are sealed: the session is opaque.
        let sealed = URL_SAFE_NO_PAD.decode(&first.session).unwrap();
        for secret in [&b"4711"[..], b"CODE-ROUND"] {
            assert!(!sealed.windows(secret.len()).any(|w| w == secret));
        }
        let wrong = challenge(s.answer(&first, "1234").await);
        assert_eq!(wrong.parameters["attempt"], "2");
        let AuthOutcome::Tokens(tokens) = s.answer(&wrong, "4711").await.unwrap() else {
            panic!("expected tokens");
        };
        assert!(!tokens.access_token.is_empty() && tokens.refresh_token.is_some());

        let events = s.endpoint.events();
        assert_eq!(
            s.endpoint.sources(),
            [
                "DefineAuthChallenge_Authentication",
                "CreateAuthChallenge_Authentication",
                "VerifyAuthChallengeResponse_Authentication",
                "DefineAuthChallenge_Authentication",
                "CreateAuthChallenge_Authentication",
                "VerifyAuthChallengeResponse_Authentication",
                "DefineAuthChallenge_Authentication",
            ]
        );
        let define = &events[0];
        assert_eq!(define["version"], "1");
        assert_eq!(define["region"], "us-east-1");
        assert_eq!(define["userPoolId"], s.pool.id.as_str());
        assert_eq!(define["userName"], "ada");
        assert_eq!(define["callerContext"]["clientId"], s.client.id.as_str());
        assert_eq!(define["request"]["session"], json!([]));
        assert_eq!(define["request"]["userNotFound"], false);
        assert_eq!(define["request"]["clientMetadata"], json!({"purpose": "test"}));
        let attributes = &define["request"]["userAttributes"];
        assert_eq!(attributes["email"], "ada@example.com");
        assert_eq!(attributes["cognito:user_status"], "CONFIRMED");
        assert!(attributes["sub"].is_string());
        assert_eq!(
            define["response"],
            json!({"challengeName": null, "issueTokens": null, "failAuthentication": null})
        );
        let create = &events[1];
        assert_eq!(create["request"]["challengeName"], "CUSTOM_CHALLENGE");
        assert_eq!(create["request"]["session"], json!([]), "the challenge being made is not in it yet");
        let verify = &events[2];
        assert_eq!(verify["request"]["privateChallengeParameters"], json!({"answer": "4711"}));
        assert_eq!(verify["request"]["challengeAnswer"], "1234");
        assert_eq!(verify["response"], json!({"answerCorrect": null}));
        let round = json!({"challengeName": "CUSTOM_CHALLENGE", "challengeResult": false, "challengeMetadata": "CODE-ROUND"});
        assert_eq!(events[3]["request"]["session"], json!([round]));
        assert_eq!(events[4]["request"]["session"], json!([round]));
        let right = json!({"challengeName": "CUSTOM_CHALLENGE", "challengeResult": true, "challengeMetadata": "CODE-ROUND"});
        assert_eq!(events[6]["request"]["session"], json!([round, right]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_single_use_and_expire() {
    each_backend(async |store: &TestStore| {
        let s = setup(&store.store).await;
        s.endpoint.answer(passwordless(5));
        let first = challenge(s.start("ada").await);
        challenge(s.answer(&first, "0000").await);
        assert_eq!(
            not_authorized(s.answer(&first, "4711").await),
            "Invalid session for the user, session can only be used once."
        );
        let later = challenge(s.start("ada").await);
        // AuthSessionValidity: 3 minutes by default.
        s.f.clock.advance(Duration::from_secs(3 * 60 + 1));
        assert_eq!(
            not_authorized(s.answer(&later, "4711").await),
            "Invalid session for the user, session is expired."
        );
        // Another challenge's session, or garbage, is no custom session.
        assert_eq!(
            not_authorized(
                s.answer(
                    &Challenge {
                        session: "bm9wZQ".into(),
                        ..later.clone()
                    },
                    "4711"
                )
                .await
            ),
            "Invalid session for the user."
        );
        let long = Challenge {
            session: "A".repeat(MAX_CUSTOM_SESSION_LEN + 1),
            ..later
        };
        assert_eq!(
            not_authorized(s.answer(&long, "4711").await),
            "Invalid session for the user."
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn define_auth_challenge_decides() {
    each_backend(async |store: &TestStore| {
        let s = setup(&store.store).await;
        // failAuthentication at once.
        s.endpoint
            .answer(|e| respond(e, json!({"failAuthentication": true, "issueTokens": false})));
        assert_eq!(
            not_authorized(s.start("ada").await),
            "Incorrect username or password."
        );
        // issueTokens at once (no challenge at all): tokens.
        s.endpoint
            .answer(|e| respond(e, json!({"issueTokens": true})));
        assert!(matches!(s.start("ada").await, Ok(AuthOutcome::Tokens(_))));
        // Neither a decision nor a challenge; a challenge a custom chain cannot have; flags
        // that are no booleans; PASSWORD_VERIFIER without SRP_A: Cognito's
        // InvalidLambdaResponseException.
        for response in [
            json!({}),
            json!({"challengeName": "SMS_MFA"}),
            json!({"issueTokens": "yes"}),
            json!({"challengeName": "PASSWORD_VERIFIER"}),
        ] {
            s.endpoint.answer(move |e| respond(e, response.clone()));
            match s.start("ada").await {
                Err(UserPoolError::InvalidLambdaResponse(m)) => {
                    assert_eq!(m, "Unrecognizable lambda output");
                }
                other => panic!("expected InvalidLambdaResponse, got {other:?}"),
            }
        }
        // The function failing: its message passed on.
        s.endpoint.answer(|_| {
            (
                500,
                json!({"errorType": "Error", "errorMessage": "no sign-ins today"}),
            )
        });
        match s.start("ada").await {
            Err(UserPoolError::UserLambdaValidation(m)) => {
                assert_eq!(
                    m,
                    "DefineAuthChallenge failed with error no sign-ins today."
                );
            }
            other => panic!("expected UserLambdaValidation, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_has_at_most_the_round_limit_and_wrong_answers_lock() {
    each_backend(async |store: &TestStore| {
        let s = setup(&store.store).await;
        // A define asking for a challenge after MAX_SESSION_ROUNDS.
        s.endpoint.answer(|e| {
            if e["triggerSource"] == "DefineAuthChallenge_Authentication" {
                return respond(e, json!({"challengeName": "CUSTOM_CHALLENGE"}));
            }
            if e["triggerSource"] == "VerifyAuthChallengeResponse_Authentication" {
                // Right every time, so the lockout stays out of it.
                return respond(e, json!({"answerCorrect": true}));
            }
            respond(
                e,
                json!({"publicChallengeParameters": {}, "privateChallengeParameters": {}}),
            )
        });
        let mut c = challenge(s.start("ada").await);
        for _ in 1..MAX_SESSION_ROUNDS {
            c = challenge(s.answer(&c, "x").await);
        }
        assert_eq!(
            not_authorized(s.answer(&c, "x").await),
            "Incorrect username or password."
        );

        // Five wrong answers lock the user's custom sign-ins (1 s; the clock stands still),
        // in this chain and in new ones.
        s.endpoint.answer(passwordless(usize::MAX));
        let mut c = challenge(s.start("ada").await);
        for _ in 0..5 {
            c = challenge(s.answer(&c, "0000").await);
        }
        assert_eq!(
            not_authorized(s.answer(&c, "4711").await),
            "Password attempts exceeded"
        );
        assert_eq!(
            not_authorized(s.start("ada").await),
            "Password attempts exceeded"
        );
        s.f.clock.advance(Duration::from_secs(2));
        challenge(s.start("ada").await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_follows_the_chain_when_the_pool_requires_it() {
    each_backend(async |store: &TestStore| {
        let s = setup(&store.store).await;
        s.f.pools
            .set_user_pool_mfa_config(
                &s.pool.id,
                PoolMfaUpdate {
                    mode: Some(MfaConfiguration::On),
                    software_token: Some(true),
                    email: None,
                },
            )
            .await
            .unwrap();
        s.endpoint.answer(passwordless(3));
        let c = challenge(s.start("ada").await);
        let next = challenge(s.answer(&c, "4711").await);
        assert_eq!(
            next.name, MFA_SETUP,
            "no factor yet: enrolment before tokens"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn names_nobody_holds() {
    each_backend(async |store: &TestStore| {
        let s = setup(&store.store).await;
        s.endpoint
            .answer(|e| respond(e, json!({"issueTokens": true})));
        match s.start("nobody").await {
            Err(UserPoolError::UserNotFound(m)) => assert_eq!(m, "User does not exist."),
            other => panic!("expected UserNotFound, got {other:?}"),
        }
        assert!(s.endpoint.events().is_empty(), "no trigger ran");

        let hiding =
            s.f.pools
                .create_user_pool_client(
                    &s.pool.id,
                    NewClient {
                        name: "hiding".into(),
                        generate_secret: false,
                        config: ClientConfig {
                            prevent_user_existence_errors: true,
                            ..custom_client()
                        },
                    },
                )
                .await
                .unwrap();
        // Even a define that would issue tokens cannot sign in a name nobody holds.
        let outcome =
            s.f.pools
                .initiate_auth(
                    &hiding.id,
                    "CUSTOM_AUTH",
                    &params(&[("USERNAME", "nobody")]),
                )
                .await;
        assert_eq!(not_authorized(outcome), "Incorrect username or password.");
        let define = s.endpoint.events().pop().unwrap();
        assert_eq!(define["request"]["userNotFound"], true);
        assert_eq!(define["request"]["userAttributes"], json!({}));
        assert_eq!(define["userName"], "nobody");

        s.endpoint.answer(passwordless(3));
        let c = challenge(
            s.f.pools
                .initiate_auth(
                    &hiding.id,
                    "CUSTOM_AUTH",
                    &params(&[("USERNAME", "nobody")]),
                )
                .await,
        );
        assert_eq!(c.parameters["USERNAME"], "nobody");
        // The private answer is known to the script, but a name nobody holds never signs in.
        let outcome =
            s.f.pools
                .respond_to_auth_challenge(
                    &hiding.id,
                    CUSTOM_CHALLENGE,
                    Some(&c.session),
                    &params(&[("USERNAME", "nobody"), ("ANSWER", "4711")]),
                )
                .await;
        assert_eq!(not_authorized(outcome), "Incorrect username or password.");

        // A disabled user: refused at once where existence shows; run as a name nobody holds
        // where it must not.
        s.f.pools
            .admin_set_user_enabled(&s.pool.id, "ada", false)
            .await
            .unwrap();
        assert_eq!(not_authorized(s.start("ada").await), "User is disabled.");
        let c = challenge(
            s.f.pools
                .initiate_auth(&hiding.id, "CUSTOM_AUTH", &params(&[("USERNAME", "ada")]))
                .await,
        );
        let define = s.endpoint.events().into_iter().rev().nth(1).unwrap();
        assert_eq!(
            define["triggerSource"],
            "DefineAuthChallenge_Authentication"
        );
        assert_eq!(define["request"]["userNotFound"], true);
        assert_eq!(define["request"]["userAttributes"], json!({}));
        let outcome =
            s.f.pools
                .respond_to_auth_challenge(
                    &hiding.id,
                    CUSTOM_CHALLENGE,
                    Some(&c.session),
                    &params(&[("USERNAME", "ada"), ("ANSWER", "4711")]),
                )
                .await;
        assert_eq!(not_authorized(outcome), "Incorrect username or password.");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_before_any_trigger_runs() {
    each_backend(async |store: &TestStore| {
        let s = setup(&store.store).await;
        let srp_only = s
            .f
            .pools
            .create_user_pool_client(
                &s.pool.id,
                NewClient {
                    name: "srp".into(),
                    generate_secret: false,
                    config: ClientConfig {
                        explicit_auth_flows: vec![ExplicitAuthFlow::AllowUserSrpAuth],
                        ..ClientConfig::default()
                    },
                },
            )
            .await
            .unwrap();
        let outcome = s
            .f
            .pools
            .initiate_auth(&srp_only.id, "CUSTOM_AUTH", &params(&[("USERNAME", "ada")]))
            .await;
        assert!(
            matches!(&outcome, Err(UserPoolError::InvalidParameter(m)) if m == "CUSTOM_AUTH is not enabled for the client."),
            "{outcome:?}"
        );
        // AdminInitiateAuth takes CUSTOM_AUTH too.
        s.endpoint.answer(passwordless(3));
        let c = challenge(
            s.f.pools
                .admin_initiate_auth(&s.pool.id, &s.client.id, "CUSTOM_AUTH", &params(&[("USERNAME", "ada")]))
                .await,
        );
        let outcome = s
            .f
            .pools
            .admin_respond_to_auth_challenge(
                &s.pool.id,
                &s.client.id,
                CUSTOM_CHALLENGE,
                Some(&c.session),
                &params(&[("USERNAME", "ada"), ("ANSWER", &"9".repeat(MAX_ANSWER_BYTES + 1))]),
            )
            .await;
        assert!(matches!(outcome, Err(UserPoolError::InvalidParameter(_))), "{outcome:?}");

        // A pool without the triggers.
        let (plain, client) =
            super::public_tests::setup(&s.f, pool_config(), custom_client()).await;
        let before = s.endpoint.events().len();
        let outcome = s
            .f
            .pools
            .initiate_auth(&client.id, "CUSTOM_AUTH", &params(&[("USERNAME", "ada")]))
            .await;
        assert!(
            matches!(&outcome, Err(UserPoolError::InvalidParameter(m)) if m == "Custom auth lambda trigger is not configured for the user pool."),
            "{outcome:?} ({})",
            plain.id
        );
        assert_eq!(s.endpoint.events().len(), before);
    })
    .await;
}

/// The define of a password-then-code chain (the shape of Cognito's documented example).
fn password_then_code(event: &Value) -> (u16, Value) {
    if event["triggerSource"] != "DefineAuthChallenge_Authentication" {
        return passwordless(3)(event);
    }
    let session = event["request"]["session"].as_array().unwrap();
    let names: Vec<&str> = session
        .iter()
        .map(|r| r["challengeName"].as_str().unwrap())
        .collect();
    match names.as_slice() {
        ["SRP_A"] => respond(event, json!({"challengeName": "PASSWORD_VERIFIER"})),
        ["SRP_A", "PASSWORD_VERIFIER"] if session[1]["challengeResult"] == true => {
            respond(event, json!({"challengeName": "CUSTOM_CHALLENGE"}))
        }
        ["SRP_A", "PASSWORD_VERIFIER", "CUSTOM_CHALLENGE"]
            if session[2]["challengeResult"] == true =>
        {
            respond(event, json!({"issueTokens": true}))
        }
        _ => respond(event, json!({"failAuthentication": true})),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn srp_a_first_checks_the_password_then_the_custom_challenge() {
    each_backend(async |store: &TestStore| {
        let s = setup(&store.store).await;
        s.endpoint.answer(password_then_code);
        for (password, right) in [("Not-The-Password-1", false), (PASSWORD, true)] {
            let me = crate::srp::ClientExchange::new(&[9; 32]);
            let start = params(&[
                ("USERNAME", "ada"),
                ("CHALLENGE_NAME", "SRP_A"),
                ("SRP_A", &crate::srp::to_hex(&me.public_a)),
            ]);
            let verifier = challenge(
                s.f.pools
                    .initiate_auth(&s.client.id, "CUSTOM_AUTH", &start)
                    .await,
            );
            assert_eq!(verifier.name, PASSWORD_VERIFIER);
            assert!(!verifier.session.is_empty(), "the SDKs send a custom chain's session back");
            let p = &verifier.parameters;
            let pool_name = s.pool.id.split_once('_').unwrap().1;
            let key = me
                .key(
                    pool_name,
                    &p["USER_ID_FOR_SRP"],
                    password,
                    &crate::srp::parse_hex(&p["SALT"], 64).unwrap(),
                    &crate::srp::parse_hex(&p["SRP_B"], 400).unwrap(),
                )
                .unwrap();
            let timestamp = crate::srp::timestamp(crate::time::unix_seconds(s.f.pools.now()));
            let block = base64::engine::general_purpose::STANDARD
                .decode(&p["SECRET_BLOCK"])
                .unwrap();
            let signature =
                crate::srp::claim_signature(&key, pool_name, &p["USER_ID_FOR_SRP"], &block, &timestamp);
            let proof = params(&[
                ("USERNAME", &p["USER_ID_FOR_SRP"]),
                ("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"]),
                (
                    "PASSWORD_CLAIM_SIGNATURE",
                    &base64::engine::general_purpose::STANDARD.encode(signature),
                ),
                ("TIMESTAMP", &timestamp),
            ]);
            let outcome = s
                .f
                .pools
                .respond_to_auth_challenge(&s.client.id, PASSWORD_VERIFIER, Some(&verifier.session), &proof)
                .await;
            if !right {
                assert_eq!(not_authorized(outcome), "Incorrect username or password.");
                continue;
            }
            let code = challenge(outcome);
            assert_eq!(code.name, CUSTOM_CHALLENGE);
            assert!(matches!(s.answer(&code, "4711").await, Ok(AuthOutcome::Tokens(_))));
        }
        let sessions: Vec<Value> = s
            .endpoint
            .events()
            .iter()
            .filter(|e| e["triggerSource"] == "DefineAuthChallenge_Authentication")
            .map(|e| e["request"]["session"].clone())
            .collect();
        let srp_a = json!({"challengeName": "SRP_A", "challengeResult": true, "challengeMetadata": null});
        let verified = json!({"challengeName": "PASSWORD_VERIFIER", "challengeResult": true, "challengeMetadata": null});
        let code = json!({"challengeName": "CUSTOM_CHALLENGE", "challengeResult": true, "challengeMetadata": "CODE-ROUND"});
        assert_eq!(
            sessions,
            [
                // The wrong password: the chain ended at the proof, define was not asked again.
                json!([srp_a]),
                json!([srp_a]),
                json!([srp_a, verified]),
                json!([srp_a, verified, code]),
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn where_usernames_are_subs_a_name_nobody_holds_shows_a_stable_stand_in() {
    each_backend(async |store: &TestStore| {
        let f = fixture(&store.store);
        let endpoint = Endpoint::start().await;
        f.pools.set_functions(endpoint.registry());
        let mut config = PoolConfig {
            username_attributes: vec![super::config::UsernameAttribute::Email],
            ..pool_config()
        };
        config
            .stored_only
            .insert("LambdaConfig".into(), lambda_config());
        let hiding = ClientConfig {
            prevent_user_existence_errors: true,
            ..custom_client()
        };
        let (_pool, client) = super::public_tests::setup(&f, config, hiding).await;
        endpoint.answer(passwordless(3));
        let start = || async {
            challenge(
                f.pools
                    .initiate_auth(
                        &client.id,
                        "CUSTOM_AUTH",
                        &params(&[("USERNAME", "nobody@example.com")]),
                    )
                    .await,
            )
        };
        let first = start().await;
        let shown = first.parameters["USERNAME"].clone();
        assert_ne!(shown, "nobody@example.com");
        assert_eq!(shown.len(), 36, "a UUID, as a real user's username is here");
        assert_eq!(
            start().await.parameters["USERNAME"],
            shown,
            "the same each time"
        );
        // Answered with the name shown, as the SDKs do: the chain goes on.
        let next = f
            .pools
            .respond_to_auth_challenge(
                &client.id,
                CUSTOM_CHALLENGE,
                Some(&first.session),
                &params(&[("USERNAME", &shown), ("ANSWER", "0000")]),
            )
            .await;
        assert_eq!(challenge(next).name, CUSTOM_CHALLENGE);
    })
    .await;
}

/// A PreTokenGeneration that fails on a refresh where the client rotates refresh tokens
/// leaves the presented token unspent: the retry works once the function does, and no
/// family is revoked as reused.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_pre_token_generation_does_not_spend_a_rotating_refresh_token() {
    each_backend(async |store: &TestStore| {
        let mut config = pool_config();
        config.stored_only.insert(
            "LambdaConfig".into(),
            json!({"PreTokenGeneration": PRE_TOKEN}),
        );
        let client = ClientConfig {
            refresh_token_rotation: Some(super::config::RefreshTokenRotation {
                enabled: true,
                retry_grace_period_seconds: 0,
            }),
            ..super::public_tests::client_config()
        };
        let s = setup_with(&store.store, config, client).await;
        let signed_in = super::public_tests::tokens(&s.f, &s.client, "ada", PASSWORD).await;
        let refresh_token = signed_in.refresh_token.unwrap();

        s.endpoint.answer(|_| {
            (
                500,
                json!({"errorType": "Error", "errorMessage": "lookup unavailable"}),
            )
        });
        let failed =
            s.f.pools
                .get_tokens_from_refresh_token(&s.client.id, &refresh_token, None)
                .await;
        assert!(
            matches!(failed, Err(UserPoolError::UserLambdaValidation(_))),
            "{failed:?}"
        );

        s.endpoint.answer(|e| (200, e.clone()));
        let retried =
            s.f.pools
                .get_tokens_from_refresh_token(&s.client.id, &refresh_token, None)
                .await
                .expect("the unspent refresh token works once the function does");
        let successor = retried.refresh_token.expect("a rotated refresh token");
        assert!(
            s.f.pools
                .get_tokens_from_refresh_token(&s.client.id, &successor, None)
                .await
                .is_ok()
        );
    })
    .await;
}
