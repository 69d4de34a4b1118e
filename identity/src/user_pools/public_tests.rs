//! Service-layer tests of the public operations (sign-up, confirmation, recovery,
//! authentication, challenges, refresh, self-service, sign-out), each on SQLite and on
//! PostgreSQL, with a fixed clock advanced past every expiry.

use std::collections::BTreeMap;
use std::time::Duration;

use gatehouse_storage::testkit::{TestStore, each_backend};

use super::config::{
    AliasAttribute, AttributeDataType, ExplicitAuthFlow, PoolConfig, SchemaAttribute, TimeUnit,
    TokenValidityUnits, VerifiedAttribute,
};
use super::tests::{Fixture, fixture};
use super::*;
use crate::delivery::Channel;
use crate::time::unix_seconds;

pub(super) const PASSWORD: &str = "Correct-Horse-1!";
pub(super) const OTHER_PASSWORD: &str = "Battery-Staple-2?";

pub(super) fn pool_config() -> PoolConfig {
    PoolConfig {
        schema: schema_with(vec![SchemaAttribute {
            name: "tier".into(),
            data_type: AttributeDataType::String,
            developer_only: false,
            mutable: true,
            required: false,
            min_length: Some(1),
            max_length: Some(32),
            min_value: None,
            max_value: None,
        }])
        .unwrap(),
        auto_verified_attributes: vec![VerifiedAttribute::Email],
        ..PoolConfig::default()
    }
}

pub(super) fn client_config() -> ClientConfig {
    ClientConfig {
        explicit_auth_flows: vec![
            ExplicitAuthFlow::AllowUserPasswordAuth,
            ExplicitAuthFlow::AllowAdminUserPasswordAuth,
            ExplicitAuthFlow::AllowRefreshTokenAuth,
        ],
        ..ClientConfig::default()
    }
}

pub(super) async fn setup(
    f: &Fixture,
    pool: PoolConfig,
    client: ClientConfig,
) -> (UserPool, Client) {
    let pool = f.pools.create_user_pool("public", pool).await.unwrap();
    let client = f
        .pools
        .create_user_pool_client(
            &pool.id,
            NewClient {
                name: "app".into(),
                generate_secret: false,
                config: client,
            },
        )
        .await
        .unwrap();
    (pool, client)
}

pub(super) fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(super) fn sign_up_request(client: &Client, username: &str, email: &str) -> SignUp {
    SignUp {
        client_id: client.id.clone(),
        secret_hash: None,
        username: username.into(),
        password: PASSWORD.into(),
        attributes: vec![
            ("email".into(), email.into()),
            ("custom:tier".into(), "gold".into()),
        ],
    }
}

/// The code of the latest outbox message with this purpose and destination.
pub(super) fn last_code(f: &Fixture, purpose: &str, destination: &str) -> String {
    f.messages()
        .iter()
        .rev()
        .find(|m| m["purpose"] == purpose && m["destination"] == destination)
        .and_then(|m| m["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no {purpose} code for {destination}: {:?}", f.messages()))
}

pub(super) async fn login(
    f: &Fixture,
    client: &Client,
    username: &str,
    password: &str,
) -> Result<AuthOutcome, UserPoolError> {
    f.pools
        .initiate_auth(
            &client.id,
            "USER_PASSWORD_AUTH",
            &params(&[("USERNAME", username), ("PASSWORD", password)]),
        )
        .await
}

pub(super) async fn tokens(f: &Fixture, client: &Client, username: &str, password: &str) -> Tokens {
    match login(f, client, username, password).await.unwrap() {
        AuthOutcome::Tokens(t) => t,
        AuthOutcome::Challenge(c) => panic!("unexpected challenge {c:?}"),
    }
}

pub(super) async fn refresh(
    f: &Fixture,
    client: &Client,
    token: &str,
) -> Result<Tokens, UserPoolError> {
    match f
        .pools
        .initiate_auth(
            &client.id,
            "REFRESH_TOKEN_AUTH",
            &params(&[("REFRESH_TOKEN", token)]),
        )
        .await?
    {
        AuthOutcome::Tokens(t) => Ok(t),
        AuthOutcome::Challenge(c) => panic!("unexpected challenge {c:?}"),
    }
}

/// A confirmed user made through SignUp and ConfirmSignUp.
pub(super) async fn signed_up(f: &Fixture, client: &Client, username: &str, email: &str) -> String {
    let out = f
        .pools
        .sign_up(sign_up_request(client, username, email))
        .await
        .unwrap();
    let code = last_code(f, "SignUp", email);
    f.pools
        .confirm_sign_up(&client.id, username, &code, None, false)
        .await
        .unwrap();
    out.user_sub
}

pub(super) fn message_of(e: &UserPoolError) -> String {
    e.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_confirm_login_refresh_get_user() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        p.create_group(&pool.id, "staff", None, Some(1), None)
            .await
            .unwrap();

        let out = p
            .sign_up(sign_up_request(&client, "alice", "alice@example.com"))
            .await
            .unwrap();
        assert!(!out.user_confirmed);
        let delivery = out.code_delivery.unwrap();
        assert_eq!(delivery.channel, Channel::Email);
        assert_eq!(delivery.attribute_name, "email");
        assert_eq!(delivery.destination, "a***@e***");
        let code = last_code(&f, "SignUp", "alice@example.com");
        assert!(
            code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
            "{code}"
        );
        // Stored as a keyed hash, never the code itself.
        let stored = db
            .store
            .codes()
            .get(&pool.id, &out.user_sub, SIGN_UP_CODE)
            .await
            .unwrap()
            .unwrap();
        assert!(!String::from_utf8_lossy(&stored.code_hash).contains(&code));
        assert_eq!(
            stored.expires_at - stored.created_at,
            i64::try_from(CODE_LIFETIME.as_millis()).unwrap()
        );

        assert!(matches!(
            p.sign_up(sign_up_request(&client, "alice", "other@example.com"))
                .await,
            Err(UserPoolError::UsernameExists(_))
        ));
        assert!(matches!(
            login(&f, &client, "alice", PASSWORD).await,
            Err(UserPoolError::UserNotConfirmed(_))
        ));
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert!(matches!(
            p.confirm_sign_up(&client.id, "alice", wrong, None, false)
                .await,
            Err(UserPoolError::CodeMismatch(_))
        ));
        p.confirm_sign_up(&client.id, "alice", &code, None, false)
            .await
            .unwrap();
        assert!(matches!(
            p.confirm_sign_up(&client.id, "alice", &code, None, false)
                .await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        let user = p.admin_get_user(&pool.id, "alice").await.unwrap();
        assert_eq!(user.status, UserStatus::Confirmed);
        assert_eq!(user.attribute("email_verified"), Some("true"));
        p.admin_add_user_to_group(&pool.id, "alice", "staff")
            .await
            .unwrap();

        let signed_in_at = f.pools.now();
        let first = tokens(&f, &client, "alice", PASSWORD).await;
        assert_eq!(first.expires_in, 3600);
        let refresh_token = first.refresh_token.clone().unwrap();
        let ring = p.key_ring(&pool.id).await.unwrap();
        let now = unix_seconds(signed_in_at);
        let id = ring
            .verify_id_token(&first.id_token, now, Some(&client.id))
            .unwrap();
        assert_eq!(id.username, "alice");
        assert_eq!(id.groups, vec!["staff".to_owned()]);
        assert_eq!(id.attributes["custom:tier"], "gold");
        assert_eq!(id.attributes["email_verified"], true);
        assert_eq!((id.auth_time, id.exp - id.iat), (now, 3600));
        let access = ring
            .verify_access_token(&first.access_token, now, Some(&client.id))
            .unwrap();
        assert_eq!(access.groups, vec!["staff".to_owned()]);
        assert_eq!(access.origin_jti, id.origin_jti);

        // Ten minutes later a refresh keeps auth_time and origin_jti.
        f.clock.advance(Duration::from_secs(600));
        let refreshed = refresh(&f, &client, &refresh_token).await.unwrap();
        assert!(refreshed.refresh_token.is_none());
        let later = unix_seconds(f.pools.now());
        let id2 = ring
            .verify_id_token(&refreshed.id_token, later, Some(&client.id))
            .unwrap();
        assert_eq!((id2.auth_time, id2.iat), (now, later));
        assert_eq!(id2.origin_jti, id.origin_jti);
        assert_ne!(id2.jti, id.jti);

        let (username, attributes) = p.get_user(&refreshed.access_token).await.unwrap();
        assert_eq!(username, "alice");
        assert_eq!(attributes["sub"], out.user_sub);
        assert_eq!(attributes["custom:tier"], "gold");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_expire_and_guesses_run_out_per_user_not_per_code() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (_, client) = setup(&f, pool_config(), client_config()).await;
        p.sign_up(sign_up_request(&client, "bob", "bob@example.com"))
            .await
            .unwrap();
        let code = last_code(&f, "SignUp", "bob@example.com");
        f.clock.advance(CODE_LIFETIME + Duration::from_secs(1));
        assert!(matches!(
            p.confirm_sign_up(&client.id, "bob", &code, None, false)
                .await,
            Err(UserPoolError::ExpiredCode(_))
        ));

        let details = p
            .resend_confirmation_code(&client.id, "bob", None)
            .await
            .unwrap();
        assert_eq!(details.channel, Channel::Email);
        let resent = last_code(&f, "ResendConfirmationCode", "bob@example.com");
        if resent != code {
            assert!(matches!(
                p.confirm_sign_up(&client.id, "bob", &code, None, false)
                    .await,
                Err(UserPoolError::CodeMismatch(_))
            ));
        }
        // The guesses belong to bob and sign-up codes, not to one code: two were spent above
        // (the expired code, the replaced one), the rest now, and then the right code is
        // refused too.
        let wrong = if resent == "000000" {
            "111111"
        } else {
            "000000"
        };
        for _ in 0..CODE_GUESSES {
            let _ = p
                .confirm_sign_up(&client.id, "bob", wrong, None, false)
                .await;
        }
        let spent = p
            .confirm_sign_up(&client.id, "bob", &resent, None, false)
            .await
            .unwrap_err();
        assert!(
            matches!(&spent, UserPoolError::LimitExceeded(m) if m == "Attempt limit exceeded, please try after some time."),
            "{spent:?}"
        );
        // A new code does not refill the budget.
        p.resend_confirmation_code(&client.id, "bob", None)
            .await
            .unwrap();
        let fresh = last_code(&f, "ResendConfirmationCode", "bob@example.com");
        assert!(matches!(
            p.confirm_sign_up(&client.id, "bob", &fresh, None, false)
                .await,
            Err(UserPoolError::LimitExceeded(_))
        ));
        // An hour later it is full again, and the right code works.
        f.clock.advance(CODE_WINDOW);
        p.confirm_sign_up(&client.id, "bob", &fresh, None, false)
            .await
            .unwrap();
        assert!(matches!(
            p.resend_confirmation_code(&client.id, "bob", None).await,
            Err(UserPoolError::InvalidParameter(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_validation_and_existence_rules() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (_, legacy) = setup(&f, pool_config(), client_config()).await;
        let mut bad = sign_up_request(&legacy, "carol", "carol@example.com");
        bad.password = "alllowercase1!".into();
        let e = p.sign_up(bad).await.unwrap_err();
        assert!(
            matches!(&e, UserPoolError::InvalidPassword(m) if m.contains("uppercase")),
            "{e:?}"
        );
        let mut bad = sign_up_request(&legacy, "carol", "carol@example.com");
        bad.attributes.push(("custom:nope".into(), "x".into()));
        assert!(matches!(
            p.sign_up(bad).await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        let mut bad = sign_up_request(&legacy, "carol", "carol@example.com");
        bad.attributes
            .push(("email_verified".into(), "true".into()));
        assert!(matches!(
            p.sign_up(bad).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        assert!(matches!(
            p.confirm_sign_up(&legacy.id, "nobody", "123456", None, false)
                .await,
            Err(UserPoolError::UserNotFound(_))
        ));
        assert!(matches!(
            p.resend_confirmation_code(&legacy.id, "nobody", None).await,
            Err(UserPoolError::UserNotFound(_))
        ));

        // With PreventUserExistenceErrors: a code mismatch and a simulated delivery.
        let (_, strict) = setup(
            &f,
            pool_config(),
            ClientConfig {
                prevent_user_existence_errors: true,
                ..client_config()
            },
        )
        .await;
        assert!(matches!(
            p.confirm_sign_up(&strict.id, "nobody", "123456", None, false)
                .await,
            Err(UserPoolError::CodeMismatch(_))
        ));
        let simulated = p
            .resend_confirmation_code(&strict.id, "nobody@example.com", None)
            .await
            .unwrap();
        assert_eq!(simulated.destination, "n***@e***");
        let simulated = p.forgot_password(&strict.id, "nobody", None).await.unwrap();
        assert_eq!(simulated.channel, Channel::Email);
        assert!(f.messages().is_empty(), "nothing is sent for unknown users");

        // A client with a secret needs SECRET_HASH.
        let pool_id = strict.pool_id.clone();
        let secret_client = p
            .create_user_pool_client(
                &pool_id,
                NewClient {
                    name: "confidential".into(),
                    generate_secret: true,
                    config: client_config(),
                },
            )
            .await
            .unwrap();
        let request = sign_up_request(&secret_client, "dave", "dave@example.com");
        assert!(matches!(
            p.sign_up(request.clone()).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        let hash = secret_hash(
            secret_client.secret.as_deref().unwrap(),
            "dave",
            &secret_client.id,
        );
        p.sign_up(SignUp {
            secret_hash: Some(hash),
            ..request
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn password_auth_errors_and_the_dummy_verification() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, legacy) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &legacy, "erin", "erin@example.com").await;
        let strict = p
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "strict".into(),
                    generate_secret: false,
                    config: ClientConfig {
                        prevent_user_existence_errors: true,
                        ..client_config()
                    },
                },
            )
            .await
            .unwrap();

        let counts = || p.passwords().verification_counts();
        let before = counts();
        let wrong = login(&f, &strict, "erin", "Wrong-Password-1!")
            .await
            .unwrap_err();
        let after_wrong = counts();
        assert_eq!(
            (after_wrong.0 - before.0, after_wrong.1 - before.1),
            (1, 0)
        );
        let unknown = login(&f, &strict, "nobody", "Wrong-Password-1!")
            .await
            .unwrap_err();
        let after_unknown = counts();
        assert_eq!(
            (
                after_unknown.0 - after_wrong.0,
                after_unknown.1 - after_wrong.1
            ),
            (1, 1),
            "an unknown user costs one verification, against the dummy hash"
        );
        assert!(matches!(wrong, UserPoolError::NotAuthorized(_)));
        assert!(matches!(unknown, UserPoolError::NotAuthorized(_)));
        assert_eq!(message_of(&wrong), message_of(&unknown));
        assert_eq!(message_of(&wrong), "Incorrect username or password.");

        // LEGACY clients tell the unknown user apart, after the same work.
        assert!(matches!(
            login(&f, &legacy, "nobody", PASSWORD).await,
            Err(UserPoolError::UserNotFound(_))
        ));
        assert_eq!(counts().1 - after_unknown.1, 1);

        // Sign in by the verified email alias of an alias pool.
        let alias_pool = PoolConfig {
            alias_attributes: vec![AliasAttribute::Email],
            ..pool_config()
        };
        let (_, alias_client) = setup(&f, alias_pool, client_config()).await;
        signed_up(&f, &alias_client, "frank", "Frank@Example.com").await;
        let t = tokens(&f, &alias_client, "frank@example.com", PASSWORD).await;
        assert_eq!(p.get_user(&t.access_token).await.unwrap().0, "frank");

        p.admin_set_user_enabled(&pool.id, "erin", false)
            .await
            .unwrap();
        assert_eq!(
            message_of(&login(&f, &legacy, "erin", PASSWORD).await.unwrap_err()),
            "User is disabled."
        );

        let srp_only = p
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "srp".into(),
                    generate_secret: false,
                    config: ClientConfig::default(),
                },
            )
            .await
            .unwrap();
        let e = login(&f, &srp_only, "erin", PASSWORD).await.unwrap_err();
        assert!(
            matches!(&e, UserPoolError::InvalidParameter(m) if m == "USER_PASSWORD_AUTH flow not enabled for this client"),
            "{e:?}"
        );
        assert!(matches!(
            p.initiate_auth(&legacy.id, "NO_SUCH_FLOW", &BTreeMap::new())
                .await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        assert!(matches!(
            p.initiate_auth(
                &legacy.id,
                "USER_PASSWORD_AUTH",
                &params(&[("USERNAME", "erin")])
            )
            .await,
            Err(UserPoolError::InvalidParameter(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_password_required_challenge_and_its_session() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        let other = p
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "other".into(),
                    generate_secret: false,
                    config: client_config(),
                },
            )
            .await
            .unwrap();
        p.admin_create_user(
            &pool.id,
            AdminCreateUser {
                username: "gina".into(),
                attributes: vec![
                    ("email".into(), "gina@example.com".into()),
                    ("email_verified".into(), "true".into()),
                ],
                temporary_password: Some("Temp-Pass-123!".into()),
                message_action: Some(MessageAction::Suppress),
                delivery_mediums: vec![Channel::Email],
            },
        )
        .await
        .unwrap();

        let challenge = |outcome: AuthOutcome| match outcome {
            AuthOutcome::Challenge(c) => c,
            AuthOutcome::Tokens(_) => panic!("expected a challenge"),
        };
        let c = challenge(login(&f, &client, "gina", "Temp-Pass-123!").await.unwrap());
        assert_eq!(c.name, NEW_PASSWORD_REQUIRED);
        assert_eq!(c.parameters["USER_ID_FOR_SRP"], "gina");
        assert_eq!(c.parameters["requiredAttributes"], "[]");
        let shown: serde_json::Value =
            serde_json::from_str(&c.parameters["userAttributes"]).unwrap();
        assert_eq!(shown["email"], "gina@example.com");
        assert!(shown.get("sub").is_none());

        let answer = |password: &str| params(&[("USERNAME", "gina"), ("NEW_PASSWORD", password)]);
        let respond = |client: &Client, session: &str, password: &str| {
            let (client_id, session, responses) =
                (client.id.clone(), session.to_owned(), answer(password));
            async move {
                p.respond_to_auth_challenge(
                    &client_id,
                    NEW_PASSWORD_REQUIRED,
                    Some(&session),
                    &responses,
                )
                .await
            }
        };
        assert!(matches!(
            respond(&client, &c.session, "weak").await,
            Err(UserPoolError::InvalidPassword(_))
        ));
        assert!(matches!(
            respond(&client, &"A".repeat(64), PASSWORD).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        assert!(matches!(
            respond(&other, &c.session, PASSWORD).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        // Sessions live three minutes.
        f.clock.advance(Duration::from_secs(181));
        assert!(matches!(
            respond(&client, &c.session, PASSWORD).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        let c = challenge(
            p.admin_initiate_auth(
                &pool.id,
                &client.id,
                "ADMIN_NO_SRP_AUTH",
                &params(&[("USERNAME", "gina"), ("PASSWORD", "Temp-Pass-123!")]),
            )
            .await
            .unwrap(),
        );
        // An attribute the pool does not have is refused without spending the session.
        let mut unknown_attribute = answer(PASSWORD);
        unknown_attribute.insert("userAttributes.custom:nope".into(), "x".into());
        assert!(matches!(
            p.admin_respond_to_auth_challenge(
                &pool.id,
                &client.id,
                NEW_PASSWORD_REQUIRED,
                Some(&c.session),
                &unknown_attribute,
            )
            .await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        let done = p
            .admin_respond_to_auth_challenge(
                &pool.id,
                &client.id,
                NEW_PASSWORD_REQUIRED,
                Some(&c.session),
                &answer(PASSWORD),
            )
            .await
            .unwrap();
        assert!(matches!(done, AuthOutcome::Tokens(ref t) if t.refresh_token.is_some()));
        assert_eq!(
            p.admin_get_user(&pool.id, "gina").await.unwrap().status,
            UserStatus::Confirmed
        );
        // The session cannot be used twice: the user left FORCE_CHANGE_PASSWORD.
        assert!(matches!(
            respond(&client, &c.session, OTHER_PASSWORD).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        tokens(&f, &client, "gina", PASSWORD).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_refresh_tokens_expire_and_stay_with_their_client() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let short = ClientConfig {
            access_token_validity: Some(5),
            id_token_validity: Some(5),
            refresh_token_validity: Some(60),
            token_validity_units: Some(TokenValidityUnits {
                access_token: TimeUnit::Minutes,
                id_token: TimeUnit::Minutes,
                refresh_token: TimeUnit::Minutes,
            }),
            ..client_config()
        };
        let (pool, client) = setup(&f, pool_config(), short).await;
        let other = p
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "other".into(),
                    generate_secret: false,
                    config: client_config(),
                },
            )
            .await
            .unwrap();
        signed_up(&f, &client, "hank", "hank@example.com").await;
        let t = tokens(&f, &client, "hank", PASSWORD).await;
        assert_eq!(t.expires_in, 300);
        let refresh_token = t.refresh_token.unwrap();
        assert!(p.get_user(&t.access_token).await.is_ok());
        assert!(matches!(
            refresh(&f, &other, &refresh_token).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        assert!(matches!(
            refresh(&f, &client, "garbage").await,
            Err(UserPoolError::NotAuthorized(_))
        ));

        f.clock.advance(Duration::from_secs(300));
        let e = p.get_user(&t.access_token).await.unwrap_err();
        assert_eq!(message_of(&e), "Access Token has expired");
        let fresh = refresh(&f, &client, &refresh_token).await.unwrap();
        assert!(p.get_user(&fresh.access_token).await.is_ok());

        f.clock.advance(Duration::from_secs(3300));
        let e = refresh(&f, &client, &refresh_token).await.unwrap_err();
        assert_eq!(message_of(&e), "Refresh Token has expired");

        // A disabled user's live refresh tokens are refused too.
        let t = tokens(&f, &client, "hank", PASSWORD).await;
        p.admin_set_user_enabled(&pool.id, "hank", false)
            .await
            .unwrap();
        assert!(matches!(
            refresh(&f, &client, t.refresh_token.as_deref().unwrap()).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        assert!(matches!(
            p.get_user(&t.access_token).await,
            Err(UserPoolError::NotAuthorized(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn self_service_attributes_password_sign_out_and_deletion() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "ivy", "ivy@example.com").await;
        let t = tokens(&f, &client, "ivy", PASSWORD).await;

        let deliveries = p
            .update_own_attributes(
                &t.access_token,
                &[("email".into(), "ivy@new.example".into())],
            )
            .await
            .unwrap();
        assert_eq!(deliveries.len(), 1);
        let user = p.admin_get_user(&pool.id, "ivy").await.unwrap();
        assert_eq!(user.attribute("email_verified"), Some("false"));
        let code = last_code(&f, "VerifyAttribute", "ivy@new.example");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert!(matches!(
            p.verify_user_attribute(&t.access_token, "email", wrong)
                .await,
            Err(UserPoolError::CodeMismatch(_))
        ));
        p.verify_user_attribute(&t.access_token, "email", &code)
            .await
            .unwrap();
        let user = p.admin_get_user(&pool.id, "ivy").await.unwrap();
        assert_eq!(user.attribute("email_verified"), Some("true"));
        assert!(matches!(
            p.update_own_attributes(&t.access_token, &[("email_verified".into(), "true".into())])
                .await,
            Err(UserPoolError::NotAuthorized(_))
        ));

        assert!(matches!(
            p.change_password(&t.access_token, "Wrong-Password-1!", OTHER_PASSWORD)
                .await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        assert!(matches!(
            p.change_password(&t.access_token, PASSWORD, "weak").await,
            Err(UserPoolError::InvalidPassword(_))
        ));
        p.change_password(&t.access_token, PASSWORD, OTHER_PASSWORD)
            .await
            .unwrap();
        assert!(login(&f, &client, "ivy", PASSWORD).await.is_err());

        // GlobalSignOut: refresh and access tokens issued before it stop working.
        f.clock.advance(Duration::from_secs(1));
        let second = tokens(&f, &client, "ivy", OTHER_PASSWORD).await;
        f.clock.advance(Duration::from_secs(1));
        p.global_sign_out(&t.access_token).await.unwrap();
        for access in [&t.access_token, &second.access_token] {
            assert_eq!(
                message_of(&p.get_user(access).await.unwrap_err()),
                "Access Token has been revoked"
            );
        }
        assert!(
            refresh(&f, &client, second.refresh_token.as_deref().unwrap())
                .await
                .is_err()
        );
        f.clock.advance(Duration::from_secs(1));
        let third = tokens(&f, &client, "ivy", OTHER_PASSWORD).await;
        assert!(p.get_user(&third.access_token).await.is_ok());

        // RevokeToken ends one sign-in: its refresh token and its access tokens.
        let fourth = tokens(&f, &client, "ivy", OTHER_PASSWORD).await;
        p.revoke_token(&client.id, None, third.refresh_token.as_deref().unwrap())
            .await
            .unwrap();
        assert!(
            refresh(&f, &client, third.refresh_token.as_deref().unwrap())
                .await
                .is_err()
        );
        assert!(p.get_user(&third.access_token).await.is_err());
        assert!(p.get_user(&fourth.access_token).await.is_ok());

        p.delete_own_user(&fourth.access_token).await.unwrap();
        assert!(matches!(
            p.admin_get_user(&pool.id, "ivy").await,
            Err(UserPoolError::UserNotFound(_))
        ));
        assert!(p.get_user(&fourth.access_token).await.is_err());
        assert!(
            refresh(&f, &client, fourth.refresh_token.as_deref().unwrap())
                .await
                .is_err()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forgot_password_and_forced_alias_creation() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let alias_pool = PoolConfig {
            alias_attributes: vec![AliasAttribute::Email],
            ..pool_config()
        };
        let (pool, client) = setup(&f, alias_pool, client_config()).await;
        signed_up(&f, &client, "jack", "shared@example.com").await;

        let details = p.forgot_password(&client.id, "jack", None).await.unwrap();
        assert_eq!(details.channel, Channel::Email);
        let code = last_code(&f, "ForgotPassword", "shared@example.com");
        assert!(matches!(
            p.confirm_forgot_password(&client.id, "jack", &code, "weak", None)
                .await,
            Err(UserPoolError::InvalidPassword(_))
        ));
        p.confirm_forgot_password(&client.id, "jack", &code, OTHER_PASSWORD, None)
            .await
            .unwrap();
        tokens(&f, &client, "jack", OTHER_PASSWORD).await;

        // Another user confirms the same email: refused unless ForceAliasCreation.
        p.sign_up(sign_up_request(&client, "kate", "shared@example.com"))
            .await
            .unwrap();
        let code = last_code(&f, "SignUp", "shared@example.com");
        assert!(matches!(
            p.confirm_sign_up(&client.id, "kate", &code, None, false)
                .await,
            Err(UserPoolError::AliasExists(_))
        ));
        p.resend_confirmation_code(&client.id, "kate", None)
            .await
            .unwrap();
        let code = last_code(&f, "ResendConfirmationCode", "shared@example.com");
        p.confirm_sign_up(&client.id, "kate", &code, None, true)
            .await
            .unwrap();
        let jack = p.admin_get_user(&pool.id, "jack").await.unwrap();
        assert_eq!(jack.attribute("email_verified"), Some("false"));
        let t = tokens(&f, &client, "shared@example.com", PASSWORD).await;
        assert_eq!(p.get_user(&t.access_token).await.unwrap().0, "kate");
    })
    .await;
}

/// `(sub, origin_jti, iat)` of a token, read without verifying it (the test minted it).
pub(super) fn revocation_claims(token: &str) -> (String, String, i64) {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    (
        claims["sub"].as_str().unwrap().to_owned(),
        claims["origin_jti"].as_str().unwrap().to_owned(),
        claims["iat"].as_i64().unwrap(),
    )
}

pub(super) fn view_refuses(pools: &UserPools, pool_id: &str, token: &str) -> bool {
    let (sub, origin_jti, iat) = revocation_claims(token);
    pools
        .revocations()
        .is_revoked(pool_id, &sub, &origin_jti, iat)
}

#[tokio::test(flavor = "multi_thread")]
async fn revocations_reach_this_nodes_view_at_once_and_another_nodes_after_a_refresh() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        // A second node on the same database, with its own view and clock.
        let g = fixture(&db.store);
        let (p, q) = (&f.pools, &g.pools);
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "uma", "uma@example.com").await;
        let first = tokens(&f, &client, "uma", PASSWORD).await;
        let second = tokens(&f, &client, "uma", PASSWORD).await;
        // The id token carries its sign-in's `origin_jti` too, so both kinds are refused.
        assert_eq!(
            revocation_claims(&first.id_token).1,
            revocation_claims(&first.access_token).1
        );
        p.refresh_revocations().await.unwrap();
        q.refresh_revocations().await.unwrap();
        let refused = |pools: &UserPools, t: &Tokens| {
            (
                view_refuses(pools, &pool.id, &t.access_token),
                view_refuses(pools, &pool.id, &t.id_token),
            )
        };
        assert_eq!(refused(p, &first), (false, false));

        // RevokeToken: this node refuses the sign-in at once; the other after a refresh.
        p.revoke_token(&client.id, None, first.refresh_token.as_deref().unwrap())
            .await
            .unwrap();
        assert_eq!(refused(p, &first), (true, true));
        assert_eq!(refused(p, &second), (false, false));
        assert_eq!(refused(q, &first), (false, false));
        assert_eq!(q.refresh_revocations().await.unwrap(), 1);
        assert_eq!(refused(q, &first), (true, true));
        assert_eq!(refused(q, &second), (false, false));
        // Nothing new: a refresh reads nothing.
        assert_eq!(q.refresh_revocations().await.unwrap(), 0);

        // GlobalSignOut on the other node: every earlier token of the user.
        g.clock.advance(Duration::from_secs(2));
        f.clock.advance(Duration::from_secs(2));
        q.global_sign_out(&second.access_token).await.unwrap();
        assert_eq!(refused(q, &second), (true, true));
        assert_eq!(refused(p, &second), (false, false));
        p.refresh_revocations().await.unwrap();
        assert_eq!(refused(p, &second), (true, true));
        f.clock.advance(Duration::from_secs(1));
        g.clock.advance(Duration::from_secs(1));
        let third = tokens(&f, &client, "uma", PASSWORD).await;
        assert_eq!(refused(p, &third), (false, false));
        assert!(p.get_user(&third.access_token).await.is_ok());

        // AdminUserGlobalSignOut a second later refuses the new sign-in too.
        f.clock.advance(Duration::from_secs(1));
        g.clock.advance(Duration::from_secs(1));
        p.admin_user_global_sign_out(&pool.id, "uma").await.unwrap();
        assert_eq!(refused(p, &third), (true, true));
        // Storage agrees (self-service reads it, not the view).
        assert_eq!(
            message_of(&q.get_user(&third.access_token).await.unwrap_err()),
            "Access Token has been revoked"
        );
        q.refresh_revocations().await.unwrap();
        assert_eq!(refused(q, &third), (true, true));

        // A node started now loads the same state.
        let h = fixture(&db.store);
        h.clock.advance(Duration::from_secs(4));
        h.pools.refresh_revocations().await.unwrap();
        for t in [&first, &second, &third] {
            assert_eq!(refused(&h.pools, t), (true, true));
        }

        // A day later every revocation has expired: purged from storage and from the view.
        f.clock
            .advance(REVOCATION_LIFETIME + Duration::from_secs(60));
        assert!(p.purge_revocations().await.unwrap() >= 3);
        assert_eq!(refused(p, &first), (false, false));
        assert_eq!(refused(p, &third), (false, false));
        assert_eq!(p.purge_revocations().await.unwrap(), 0);
        let late = fixture(&db.store);
        late.clock
            .advance(REVOCATION_LIFETIME + Duration::from_secs(60));
        assert_eq!(late.pools.refresh_revocations().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_revocation_refresh_task_stops_on_shutdown() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let g = fixture(&db.store);
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "vic", "vic@example.com").await;
        let t = tokens(&f, &client, "vic", PASSWORD).await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(g.pools.clone().run_revocation_refresh(async move {
            let _ = stopped.await;
        }));
        f.pools.global_sign_out(&t.access_token).await.unwrap();
        // Within a refresh interval (plus slack for a loaded machine) the task has read it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !view_refuses(&g.pools, &pool.id, &t.access_token) {
            assert!(tokio::time::Instant::now() < deadline, "never refreshed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    })
    .await;
}
