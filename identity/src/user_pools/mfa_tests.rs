//! Service-layer tests of SRP sign-in, TOTP and the MFA chain with a fixed clock, each on
//! SQLite and PostgreSQL: the SRP proof computed by the client half of `crate::srp`, the
//! TOTP window (±1 step, each step once) as the clock moves, wrong codes on the `mfa`
//! lockout, single-use and expiring sessions, and verifiers for passwords set before SRP.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_storage::NewUser;
use gatehouse_storage::testkit::{TestStore, each_backend};

use super::config::{ExplicitAuthFlow, MfaConfiguration, PoolConfig};
use super::public_tests::{PASSWORD, params, pool_config};
use super::tests::{Fixture, fixture};
use super::*;
use crate::srp;
use crate::time::unix_seconds;

/// The fixture's clock starts at a step boundary: 1 800 000 000 = 60 000 000 × 30.
const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn srp_client() -> ClientConfig {
    ClientConfig {
        explicit_auth_flows: vec![
            ExplicitAuthFlow::AllowUserSrpAuth,
            ExplicitAuthFlow::AllowUserPasswordAuth,
            ExplicitAuthFlow::AllowRefreshTokenAuth,
        ],
        ..ClientConfig::default()
    }
}

async fn setup(f: &Fixture, config: PoolConfig) -> (UserPool, Client) {
    super::public_tests::setup(f, config, srp_client()).await
}

/// A confirmed user with [`PASSWORD`] and a verified email.
async fn user(f: &Fixture, pool: &UserPool, name: &str) {
    let email = vec![
        ("email".into(), format!("{name}@example.com")),
        ("email_verified".into(), "true".into()),
    ];
    user_with(f, pool, name, email).await;
}

/// A confirmed user with [`PASSWORD`] and these attributes.
async fn user_with(f: &Fixture, pool: &UserPool, name: &str, attributes: Vec<(String, String)>) {
    f.pools
        .admin_create_user(
            &pool.id,
            AdminCreateUser {
                username: name.into(),
                attributes,
                temporary_password: None,
                message_action: Some(MessageAction::Suppress),
                delivery_mediums: Vec::new(),
            },
        )
        .await
        .unwrap();
    f.pools
        .admin_set_user_password(&pool.id, name, PASSWORD, true)
        .await
        .unwrap();
}

/// InitiateAuth `USER_SRP_AUTH`, then the `PASSWORD_VERIFIER` answer the SDKs would send for
/// `password` at the clock's time.
async fn srp_answer(
    f: &Fixture,
    client: &Client,
    pool: &UserPool,
    name: &str,
    password: &str,
) -> BTreeMap<String, String> {
    let me = srp::ClientExchange::new(&[9; 32]);
    let challenge = srp_challenge(f, client, name).await;
    assert_eq!(challenge.name, PASSWORD_VERIFIER);
    assert!(
        challenge.session.is_empty(),
        "the state is in the secret block"
    );
    let p = &challenge.parameters;
    let user_id = &p["USER_ID_FOR_SRP"];
    let pool_name = pool.id.split_once('_').unwrap().1;
    let key = me
        .key(
            pool_name,
            user_id,
            password,
            &srp::parse_hex(&p["SALT"], 64).unwrap(),
            &srp::parse_hex(&p["SRP_B"], 400).unwrap(),
        )
        .unwrap();
    let timestamp = srp::timestamp(unix_seconds(f.pools.now()));
    let block = STANDARD.decode(&p["SECRET_BLOCK"]).unwrap();
    let signature = srp::claim_signature(&key, pool_name, user_id, &block, &timestamp);
    params(&[
        ("USERNAME", user_id),
        ("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"]),
        ("PASSWORD_CLAIM_SIGNATURE", &STANDARD.encode(signature)),
        ("TIMESTAMP", &timestamp),
    ])
}

async fn verify(
    f: &Fixture,
    client: &Client,
    responses: &BTreeMap<String, String>,
) -> Result<AuthOutcome, UserPoolError> {
    f.pools
        .respond_to_auth_challenge(&client.id, PASSWORD_VERIFIER, None, responses)
        .await
}

fn message(e: Result<AuthOutcome, UserPoolError>) -> String {
    match e {
        Err(e) => format!("{e:?}"),
        Ok(o) => panic!("expected an error, got {o:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn srp_proofs_tokens_lockout_and_replays() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let (pool, client) = setup(&f, pool_config()).await;
        user(&f, &pool, "alice").await;

        let answer = srp_answer(&f, &client, &pool, "alice", PASSWORD).await;
        assert!(matches!(
            verify(&f, &client, &answer).await.unwrap(),
            AuthOutcome::Tokens(ref t) if t.refresh_token.is_some()
        ));
        assert!(
            message(verify(&f, &client, &answer).await).contains("only be used once"),
            "a secret block is answered once"
        );

        let mut skewed = srp_answer(&f, &client, &pool, "alice", PASSWORD).await;
        let long_ago = srp::timestamp(unix_seconds(f.pools.now()) - 301);
        skewed.insert("TIMESTAMP".into(), long_ago);
        assert!(
            matches!(
                verify(&f, &client, &skewed).await,
                Err(UserPoolError::InvalidParameter(_))
            ),
            "a timestamp more than 5 minutes off"
        );
        let late = srp_answer(&f, &client, &pool, "alice", PASSWORD).await;
        f.clock.advance(Duration::from_secs(181));
        assert!(
            message(verify(&f, &client, &late).await).contains("session is expired"),
            "a secret block lives as long as a session"
        );

        // Initiated before the lockout, answered after it.
        let right = srp_answer(&f, &client, &pool, "alice", PASSWORD).await;
        for _ in 0..5 {
            let wrong = srp_answer(&f, &client, &pool, "alice", "Not-The-Password-1").await;
            assert!(
                message(verify(&f, &client, &wrong).await)
                    .contains("Incorrect username or password")
            );
        }
        assert!(
            message(verify(&f, &client, &right).await).contains("Password attempts exceeded"),
            "five wrong proofs lock like five wrong passwords"
        );
        let me = srp::ClientExchange::new(&[9; 32]);
        let refused = f
            .pools
            .initiate_auth(
                &client.id,
                "USER_SRP_AUTH",
                &params(&[("USERNAME", "alice"), ("SRP_A", &srp::to_hex(&me.public_a))]),
            )
            .await;
        assert!(
            message(refused).contains("Password attempts exceeded"),
            "and so is a new exchange"
        );
        f.clock.advance(Duration::from_secs(2));
        let right = srp_answer(&f, &client, &pool, "alice", PASSWORD).await;
        assert!(matches!(
            verify(&f, &client, &right).await,
            Ok(AuthOutcome::Tokens(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_set_before_srp_gets_its_verifier_at_the_next_password_sign_in() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let (pool, client) = setup(&f, pool_config()).await;
        let hash = f.pools.passwords().hash(PASSWORD).await.unwrap();
        db.store
            .users()
            .create(&NewUser {
                pool_id: pool.id.clone(),
                sub: crate::ids::uuid_v4(),
                username: "old".into(),
                username_key: "old".into(),
                status: "CONFIRMED".into(),
                enabled: true,
                password_hash: Some(hash),
                srp_verifier: None,
                attributes: BTreeMap::new(),
                aliases: Vec::new(),
                created_at: 0,
            })
            .await
            .unwrap();
        for _ in 0..6 {
            let answer = srp_answer(&f, &client, &pool, "old", PASSWORD).await;
            assert!(
                message(verify(&f, &client, &answer).await)
                    .contains("Incorrect username or password")
            );
        }
        // No verifier, nothing to guess: the failures above were not counted.
        super::public_tests::tokens(&f, &client, "old", PASSWORD).await;
        let answer = srp_answer(&f, &client, &pool, "old", PASSWORD).await;
        assert!(matches!(
            verify(&f, &client, &answer).await,
            Ok(AuthOutcome::Tokens(_))
        ));
    })
    .await;
}

/// A spent secret block stays spent for a node whose clock is behind the node that purges
/// expired ids: ids are kept `SPENT_KEPT_PAST_EXPIRY` past their session's expiry.
#[tokio::test(flavor = "multi_thread")]
async fn a_spent_block_stays_spent_for_a_node_whose_clock_is_behind() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let (pool, client) = setup(&f, pool_config()).await;
        user(&f, &pool, "alice").await;
        // A second node, its clock two minutes behind.
        let behind = std::sync::Arc::new(crate::clock::FixedClock::new(
            f.pools.now() - Duration::from_secs(120),
        ));
        let g = super::tests::service(
            &db.store,
            behind.clone(),
            f.delivery.clone(),
            crate::rate_limit::SourceRateLimit::default(),
        );
        let answer = srp_answer(&f, &client, &pool, "alice", PASSWORD).await;
        assert!(matches!(
            verify(&f, &client, &answer).await,
            Ok(AuthOutcome::Tokens(_))
        ));
        // Past the block's expiry (3 minutes) on the first node, not yet on the second.
        f.clock.advance(Duration::from_secs(241));
        behind.advance(Duration::from_secs(181));
        f.pools.purge_spent_sessions().await.unwrap();
        let again = g
            .respond_to_auth_challenge(&client.id, PASSWORD_VERIFIER, None, &answer)
            .await;
        assert!(
            message(again).contains("only be used once"),
            "the id is still there"
        );
        f.clock.advance(super::challenges::SPENT_KEPT_PAST_EXPIRY);
        assert_eq!(
            f.pools.purge_spent_sessions().await.unwrap(),
            1,
            "and goes later"
        );
    })
    .await;
}

/// What a caller sees of a `PASSWORD_VERIFIER` challenge that could tell users apart.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    names: Vec<String>,
    block_len: usize,
    user_id_is_uuid: bool,
    username_is_user_id: bool,
}

fn shape(c: &Challenge) -> Shape {
    let p = &c.parameters;
    let id = &p["USER_ID_FOR_SRP"];
    Shape {
        names: p.keys().cloned().collect(),
        block_len: p["SECRET_BLOCK"].len(),
        user_id_is_uuid: id.len() == 36 && id.chars().nth(14) == Some('4'),
        username_is_user_id: p["USERNAME"] == *id,
    }
}

/// InitiateAuth `USER_SRP_AUTH` for `name` with the client secret `[9; 32]`.
async fn srp_challenge(f: &Fixture, client: &Client, name: &str) -> Challenge {
    let me = srp::ClientExchange::new(&[9; 32]);
    match f
        .pools
        .initiate_auth(
            &client.id,
            "USER_SRP_AUTH",
            &params(&[("USERNAME", name), ("SRP_A", &srp::to_hex(&me.public_a))]),
        )
        .await
        .unwrap()
    {
        AuthOutcome::Challenge(c) => c,
        other => panic!("{name}: expected PASSWORD_VERIFIER, got {other:?}"),
    }
}

/// With PreventUserExistenceErrors, `USER_SRP_AUTH` answers a name nobody holds as it
/// answers a confirmed, an unconfirmed, a disabled user and one without a verifier: the same
/// parameters, a salt and `USER_ID_FOR_SRP` that stay the same from one call to the next
/// (UUIDs where usernames are `sub`s), a secret block of the same length, one exchange on
/// the password pool each, and "Incorrect username or password." for a wrong proof.
#[tokio::test(flavor = "multi_thread")]
async fn srp_answers_a_name_nobody_holds_as_it_answers_users() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let hidden = ClientConfig {
            prevent_user_existence_errors: true,
            ..srp_client()
        };
        // (rule, pool, the five names: confirmed, unconfirmed, disabled, no verifier, nobody)
        let plain = PoolConfig {
            username_case_sensitive: Some(false),
            ..pool_config()
        };
        let emails = PoolConfig {
            username_attributes: vec![super::config::UsernameAttribute::Email],
            ..pool_config()
        };
        let cases = [
            ("usernames", plain, ["conf1", "unco1", "disa1", "olds1", "ghost"]),
            (
                "email as username",
                emails,
                [
                    "conf1@example.com",
                    "unco1@example.com",
                    "disa1@example.com",
                    "olds1@example.com",
                    "ghost@example.com",
                ],
            ),
        ];
        for (rule, config, names) in cases {
            let (pool, client) = super::public_tests::setup(&f, config, hidden.clone()).await;
            let [confirmed, unconfirmed, disabled, old, nobody] = names;
            for name in [confirmed, disabled, old] {
                user_with(&f, &pool, name, Vec::new()).await;
            }
            f.pools
                .sign_up(SignUp {
                    client_id: client.id.clone(),
                    secret_hash: None,
                    username: unconfirmed.into(),
                    password: PASSWORD.into(),
                    attributes: Vec::new(),
                })
                .await
                .unwrap();
            f.pools
                .admin_set_user_enabled(&pool.id, disabled, false)
                .await
                .unwrap();
            // A password from before SRP: the verifier goes.
            let sub = f.pools.find_user(&pool, old).await.unwrap().unwrap().sub;
            let clear = format!("UPDATE users SET srp_verifier = NULL WHERE sub = '{sub}'");
            db.execute_raw(&clear, &clear).await;

            let mut shapes = Vec::new();
            for name in names {
                let computed = f.pools.passwords().computation_count();
                let first = srp_challenge(&f, &client, name).await;
                assert_eq!(
                    f.pools.passwords().computation_count(),
                    computed + 1,
                    "{rule}, {name}: one exchange on the password pool"
                );
                let again = srp_challenge(&f, &client, name).await;
                for stays in ["SALT", "USER_ID_FOR_SRP"] {
                    assert_eq!(
                        first.parameters[stays], again.parameters[stays],
                        "{rule}, {name}: {stays} stays the same"
                    );
                }
                assert_ne!(
                    first.parameters["SRP_B"], again.parameters["SRP_B"],
                    "{rule}, {name}: B is new each time"
                );
                shapes.push(shape(&first));
                let wrong = srp_answer(&f, &client, &pool, name, "Not-The-Password-1").await;
                assert!(
                    matches!(
                        verify(&f, &client, &wrong).await,
                        Err(UserPoolError::NotAuthorized(ref m)) if m == "Incorrect username or password."
                    ),
                    "{rule}, {name}: a wrong proof"
                );
            }
            let real = &shapes[0];
            for (name, seen) in names.iter().zip(&shapes) {
                assert_eq!(seen, real, "{rule}: {name} looks like a confirmed user");
            }
            assert_eq!(
                real.user_id_is_uuid,
                rule == "email as username",
                "{rule}: USER_ID_FOR_SRP"
            );
            // A name spelt in another case is found where a user would be: same salt.
            let upper = nobody.to_uppercase();
            assert_eq!(
                srp_challenge(&f, &client, nobody).await.parameters["SALT"],
                srp_challenge(&f, &client, &upper).await.parameters["SALT"],
                "{rule}: {upper} gets {nobody}'s salt, as a user would"
            );
            // Nobody's salt is somebody else's.
            assert_ne!(
                srp_challenge(&f, &client, nobody).await.parameters["SALT"],
                srp_challenge(&f, &client, confirmed).await.parameters["SALT"],
            );
        }
    })
    .await;
}

/// (rule, the time the code is for, the clock, the last accepted step, the outcome).
type TotpCase = (&'static str, u64, u64, i64, Result<i64, TotpRefusal>);

#[test]
fn totp_window_and_replays_with_a_fixed_clock() {
    let secret = [0x42_u8; 20];
    let s = i64::try_from(T0 / 30).unwrap();
    let cases: &[TotpCase] = &[
        ("the current step", T0, T0, -1, Ok(s)),
        ("one step behind", T0 - 30, T0 + 5, -1, Ok(s - 1)),
        ("one step ahead", T0 + 30, T0 + 29, -1, Ok(s + 1)),
        ("two steps behind", T0 - 60, T0, -1, Err(TotpRefusal::Wrong)),
        ("two steps ahead", T0 + 60, T0, -1, Err(TotpRefusal::Wrong)),
        (
            "the step already accepted",
            T0,
            T0 + 10,
            s,
            Err(TotpRefusal::Replayed),
        ),
        (
            "a step before the one accepted",
            T0 - 30,
            T0,
            s,
            Err(TotpRefusal::Replayed),
        ),
        (
            "the step after the one accepted",
            T0 + 30,
            T0 + 30,
            s,
            Ok(s + 1),
        ),
    ];
    for (rule, code_at, now, last, expected) in cases {
        let code = totp_code(&secret, at(*code_at)).unwrap();
        assert_eq!(
            check_totp(&secret, &code, at(*now), *last).unwrap(),
            *expected,
            "{rule}"
        );
    }
    assert_eq!(
        check_totp(&secret, "12345", at(T0), -1).unwrap(),
        Err(TotpRefusal::Wrong),
        "five digits"
    );
}

/// An `MFA_SETUP` session lets whoever has the password set up the user's first factor.
/// Once a factor is set up (here by another sign-in), a session handed out before cannot
/// associate or verify a token of its own in its place.
#[tokio::test(flavor = "multi_thread")]
async fn an_mfa_setup_session_cannot_replace_a_factor_set_up_since() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let config = PoolConfig {
            mfa_configuration: MfaConfiguration::On,
            software_token_mfa: Some(true),
            ..pool_config()
        };
        let (pool, client) = setup(&f, config).await;
        user(&f, &pool, "alice").await;
        let setup_session = async || match super::public_tests::login(&f, &client, "alice", PASSWORD)
            .await
            .unwrap()
        {
            AuthOutcome::Challenge(c) if c.name == MFA_SETUP => c.session,
            other => panic!("expected MFA_SETUP, got {other:?}"),
        };
        let stale = setup_session().await;
        let stale_verify = setup_session().await;
        let (_, stale_verify) = f
            .pools
            .associate_software_token_in_sign_in(&stale_verify)
            .await
            .unwrap();
        // The user sets a token up in another sign-in.
        let (base32, session) = f
            .pools
            .associate_software_token_in_sign_in(&setup_session().await)
            .await
            .unwrap();
        let secret = totp_rs::Secret::try_from_base32(&base32).unwrap().as_ref().to_vec();
        let code = totp_code(&secret, f.pools.now()).unwrap();
        let session = f
            .pools
            .verify_software_token_in_sign_in(&session, &code, Some("phone"))
            .await
            .unwrap();
        assert!(matches!(
            f.pools
                .respond_to_auth_challenge(
                    &client.id,
                    MFA_SETUP,
                    Some(&session),
                    &params(&[("USERNAME", "alice")]),
                )
                .await,
            Ok(AuthOutcome::Tokens(_))
        ));
        let refused = f.pools.associate_software_token_in_sign_in(&stale).await;
        assert!(
            matches!(refused, Err(UserPoolError::NotAuthorized(ref m)) if m == "Invalid session for the user."),
            "associate: {refused:?}"
        );
        f.clock.advance(Duration::from_secs(30));
        let refused = f
            .pools
            .verify_software_token_in_sign_in(&stale_verify, "000000", None)
            .await;
        assert!(
            matches!(refused, Err(UserPoolError::NotAuthorized(ref m)) if m == "Invalid session for the user."),
            "verify: {refused:?}"
        );
        // The user's own token is still the one that signs in.
        f.clock.advance(Duration::from_secs(30));
        let challenge = match super::public_tests::login(&f, &client, "alice", PASSWORD)
            .await
            .unwrap()
        {
            AuthOutcome::Challenge(c) if c.name == SOFTWARE_TOKEN_MFA => c,
            other => panic!("expected SOFTWARE_TOKEN_MFA, got {other:?}"),
        };
        let code = totp_code(&secret, f.pools.now()).unwrap();
        assert!(matches!(
            f.pools
                .respond_to_auth_challenge(
                    &client.id,
                    SOFTWARE_TOKEN_MFA,
                    Some(&challenge.session),
                    &params(&[("USERNAME", "alice"), ("SOFTWARE_TOKEN_MFA_CODE", &code)]),
                )
                .await,
            Ok(AuthOutcome::Tokens(_))
        ));
    })
    .await;
}

/// Signs in with the password and answers the TOTP challenge with the code for `code_at`.
async fn totp_sign_in(
    f: &Fixture,
    client: &Client,
    secret: &[u8],
    code_at: u64,
) -> Result<AuthOutcome, UserPoolError> {
    let challenge = match super::public_tests::login(f, client, "alice", PASSWORD)
        .await
        .unwrap()
    {
        AuthOutcome::Challenge(c) if c.name == SOFTWARE_TOKEN_MFA => c,
        other => panic!("expected SOFTWARE_TOKEN_MFA, got {other:?}"),
    };
    let code = totp_code(secret, at(code_at)).unwrap();
    f.pools
        .respond_to_auth_challenge(
            &client.id,
            SOFTWARE_TOKEN_MFA,
            Some(&challenge.session),
            &params(&[("USERNAME", "alice"), ("SOFTWARE_TOKEN_MFA_CODE", &code)]),
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_codes_are_accepted_once_within_one_step_of_drift() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let config = PoolConfig {
            mfa_configuration: MfaConfiguration::Optional,
            ..pool_config()
        };
        let (pool, client) = setup(&f, config).await;
        user(&f, &pool, "alice").await;
        let tokens = super::public_tests::tokens(&f, &client, "alice", PASSWORD).await;
        let base32 = f.pools.associate_software_token(&tokens.access_token).await.unwrap();
        let secret = totp_rs::Secret::try_from_base32(&base32).unwrap().as_ref().to_vec();
        assert!(secret.len() >= 20, "160 bits or more");
        let code = totp_code(&secret, at(T0)).unwrap();
        f.pools
            .verify_software_token(&tokens.access_token, &code, Some("phone"))
            .await
            .unwrap();
        f.pools
            .set_user_mfa_preference(
                &tokens.access_token,
                MfaPreference {
                    software_token: Some(FactorPreference {
                        enabled: Some(true),
                        preferred: Some(true),
                    }),
                    ..MfaPreference::default()
                },
            )
            .await
            .unwrap();
        let ok = |r: Result<AuthOutcome, UserPoolError>| matches!(r, Ok(AuthOutcome::Tokens(_)));
        let mismatch = |r: Result<AuthOutcome, UserPoolError>| matches!(r, Err(UserPoolError::CodeMismatch(_)));
        assert!(mismatch(totp_sign_in(&f, &client, &secret, T0).await), "the verification spent its step");
        assert!(ok(totp_sign_in(&f, &client, &secret, T0 + 30).await), "one step ahead");
        assert!(mismatch(totp_sign_in(&f, &client, &secret, T0 + 30).await), "replayed");
        f.clock.set(at(T0 + 60));
        assert!(ok(totp_sign_in(&f, &client, &secret, T0 + 90).await), "one step ahead again");
        assert!(mismatch(totp_sign_in(&f, &client, &secret, T0 + 60).await), "an earlier step than accepted");
        assert!(mismatch(totp_sign_in(&f, &client, &secret, T0 + 150).await), "three steps ahead");

        // Wrong codes lock like wrong passwords: two since the last right code, three more
        // make five, and then even a right code is refused until the lock ends.
        for _ in 0..3 {
            assert!(mismatch(totp_sign_in(&f, &client, &secret, T0).await));
        }
        let locked = totp_sign_in(&f, &client, &secret, T0 + 60).await;
        assert!(
            matches!(locked, Err(UserPoolError::NotAuthorized(ref m)) if m == "Password attempts exceeded"),
            "{locked:?}"
        );
        f.clock.set(at(T0 + 120));
        assert!(ok(totp_sign_in(&f, &client, &secret, T0 + 120).await), "the lock is over");

        // A challenge session expires with the client's AuthSessionValidity.
        let challenge = match super::public_tests::login(&f, &client, "alice", PASSWORD).await.unwrap() {
            AuthOutcome::Challenge(c) => c,
            other => panic!("{other:?}"),
        };
        f.clock.advance(Duration::from_secs(181));
        let code = totp_code(&secret, f.pools.now()).unwrap();
        let expired = f
            .pools
            .respond_to_auth_challenge(
                &client.id,
                SOFTWARE_TOKEN_MFA,
                Some(&challenge.session),
                &params(&[("USERNAME", "alice"), ("SOFTWARE_TOKEN_MFA_CODE", &code)]),
            )
            .await;
        assert!(message(expired).contains("session is expired"));
        let settings = f.pools.admin_mfa_settings(&pool.id, "alice").await.unwrap();
        assert_eq!(settings.enabled, vec!["SOFTWARE_TOKEN_MFA".to_owned()]);
        assert_eq!(settings.preferred.as_deref(), Some("SOFTWARE_TOKEN_MFA"));
    })
    .await;
}
