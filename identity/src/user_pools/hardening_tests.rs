//! Service-layer tests of what stops guessing and signs users out, each on SQLite and on
//! PostgreSQL with a fixed clock: the password lockout (shared by two nodes), the budgets of
//! code guesses and sends, answers that do not tell an unknown user from a real one,
//! developer-only attributes in SignUp, sign-out of disabled and deleted users (sign-ins
//! racing them included), password resets that revoke refresh tokens (and sign-ins racing
//! them), AdminResetUserPassword and common passwords.

use std::time::Duration;

use gatehouse_storage::testkit::{TestStore, each_backend};

use super::config::COMMON_PASSWORDS_TAG;
use super::public_tests::{
    OTHER_PASSWORD, PASSWORD, client_config, last_code, login, params, pool_config, refresh, setup,
    sign_up_request, signed_up, tokens, view_refuses,
};
use super::tests::{Fixture, fixture};
use super::*;

const WRONG: &str = "Wrong-Password-0!";

fn is_locked(e: &UserPoolError) -> bool {
    matches!(e, UserPoolError::NotAuthorized(m) if m == "Password attempts exceeded")
}

fn is_incorrect(e: &UserPoolError) -> bool {
    matches!(e, UserPoolError::NotAuthorized(m) if m == "Incorrect username or password.")
}

async fn admin_login(
    f: &Fixture,
    pool: &UserPool,
    client: &Client,
    username: &str,
    password: &str,
) -> Result<AuthOutcome, UserPoolError> {
    f.pools
        .admin_initiate_auth(
            &pool.id,
            &client.id,
            "ADMIN_USER_PASSWORD_AUTH",
            &params(&[("USERNAME", username), ("PASSWORD", password)]),
        )
        .await
}

fn prevent_existence_errors() -> ClientConfig {
    ClientConfig {
        prevent_user_existence_errors: true,
        ..client_config()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn five_failures_lock_the_account_on_every_node_doubling_up_to_fifteen_minutes() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        // A second node on the same database, with its own clock kept in step.
        let g = fixture(&db.store);
        let advance = |d: Duration| {
            f.clock.advance(d);
            g.clock.advance(d);
        };
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "lea", "lea@example.com").await;
        let other_node = || login(&g, &client, "lea", WRONG);

        // Failures on both nodes and through AdminInitiateAuth count together.
        for attempt in 0..4 {
            let e = match attempt % 3 {
                0 => login(&f, &client, "lea", WRONG).await,
                1 => other_node().await,
                _ => admin_login(&f, &pool, &client, "lea", WRONG).await,
            }
            .unwrap_err();
            assert!(is_incorrect(&e), "attempt {attempt}: {e:?}");
        }
        assert!(is_incorrect(&other_node().await.unwrap_err()), "the fifth");
        // Locked for 1 s: even the right password is refused, on either node.
        let locked = login(&f, &client, "lea", PASSWORD).await.unwrap_err();
        assert!(is_locked(&locked), "{locked:?}");
        assert!(is_locked(
            &admin_login(&g, &pool, &client, "lea", PASSWORD)
                .await
                .unwrap_err()
        ));
        // Each further failure doubles the lockout: 2 s after the sixth, 4 s after the
        // seventh, …
        advance(Duration::from_secs(1));
        assert!(is_incorrect(&other_node().await.unwrap_err()));
        advance(Duration::from_millis(1999));
        assert!(is_locked(
            &login(&f, &client, "lea", PASSWORD).await.unwrap_err()
        ));
        advance(Duration::from_millis(1));
        assert!(is_incorrect(&other_node().await.unwrap_err()));
        advance(Duration::from_millis(3999));
        assert!(is_locked(
            &login(&f, &client, "lea", WRONG).await.unwrap_err()
        ));
        // … up to 15 minutes: failures 8 to 15, each as soon as the last lockout ends, the
        // 14th locking for 512 s and the 15th for 900 s (not 1024).
        advance(Duration::from_millis(1));
        for n in 8..=15 {
            assert!(
                is_incorrect(&other_node().await.unwrap_err()),
                "failure {n}"
            );
            let lock = Duration::from_secs(1 << (n - 5)).min(MAX_LOCKOUT);
            if n < 15 {
                advance(lock);
            }
        }
        advance(MAX_LOCKOUT - Duration::from_millis(1));
        assert!(is_locked(
            &login(&f, &client, "lea", PASSWORD).await.unwrap_err()
        ));
        // After the lockout a success resets the count: four failures lock nothing again.
        advance(Duration::from_millis(1));
        tokens(&f, &client, "lea", PASSWORD).await;
        for _ in 0..4 {
            assert!(is_incorrect(
                &login(&f, &client, "lea", WRONG).await.unwrap_err()
            ));
        }
        tokens(&g, &client, "lea", PASSWORD).await;

        // 15 idle minutes reset it too.
        for _ in 0..4 {
            assert!(is_incorrect(
                &login(&f, &client, "lea", WRONG).await.unwrap_err()
            ));
        }
        advance(LOCKOUT_RESET_AFTER);
        for _ in 0..4 {
            assert!(is_incorrect(
                &login(&f, &client, "lea", WRONG).await.unwrap_err()
            ));
        }
        tokens(&f, &client, "lea", PASSWORD).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn change_password_shares_the_lockout_and_unknown_users_lock_alike() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (_, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "max", "max@example.com").await;
        let access = tokens(&f, &client, "max", PASSWORD).await.access_token;
        for _ in 0..3 {
            let e = p
                .change_password(&access, WRONG, OTHER_PASSWORD)
                .await
                .unwrap_err();
            assert!(is_incorrect(&e), "{e:?}");
        }
        for _ in 0..2 {
            assert!(is_incorrect(
                &login(&f, &client, "max", WRONG).await.unwrap_err()
            ));
        }
        let e = p
            .change_password(&access, PASSWORD, OTHER_PASSWORD)
            .await
            .unwrap_err();
        assert!(is_locked(&e), "{e:?}");
        f.clock.advance(Duration::from_secs(1));
        p.change_password(&access, PASSWORD, OTHER_PASSWORD)
            .await
            .unwrap();
        tokens(&f, &client, "max", OTHER_PASSWORD).await;

        // With PreventUserExistenceErrors a name nobody holds locks exactly like a user.
        let (_, hidden) = setup(&f, pool_config(), prevent_existence_errors()).await;
        signed_up(&f, &hidden, "real", "real@example.com").await;
        // An unknown email spelt in another case is the same unknown name (a real user's
        // email finds the same user whatever its case).
        for _ in 0..5 {
            let e = login(&f, &hidden, "Ghost@Example.com", WRONG)
                .await
                .unwrap_err();
            assert!(is_incorrect(&e), "{e:?}");
        }
        assert!(is_locked(
            &login(&f, &hidden, "ghost@example.com", WRONG)
                .await
                .unwrap_err()
        ));
        for name in ["real", "ghost"] {
            let answers: Vec<String> = {
                let mut out = Vec::new();
                for _ in 0..6 {
                    out.push(
                        login(&f, &hidden, name, WRONG)
                            .await
                            .unwrap_err()
                            .to_string(),
                    );
                }
                out
            };
            let mut expected = vec!["Incorrect username or password.".to_owned(); 5];
            expected.push("Password attempts exceeded".to_owned());
            assert_eq!(answers, expected, "{name}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_are_limited_per_user_and_purpose_per_hour() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (_, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "ada", "ada@example.com").await;
        for _ in 0..CODE_SENDS {
            p.forgot_password(&client.id, "ada", None).await.unwrap();
        }
        let before = f.messages().len();
        let e = p.forgot_password(&client.id, "ada", None).await.unwrap_err();
        assert!(
            matches!(&e, UserPoolError::LimitExceeded(m) if m == "Attempt limit exceeded, please try after some time."),
            "{e:?}"
        );
        assert_eq!(f.messages().len(), before, "nothing was sent");
        // The code sent last still works, and guesses at it are limited per user: cycling
        // ForgotPassword gave no new guesses.
        let code = last_code(&f, "ForgotPassword", "ada@example.com");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..CODE_GUESSES {
            assert!(matches!(
                p.confirm_forgot_password(&client.id, "ada", wrong, OTHER_PASSWORD, None)
                    .await,
                Err(UserPoolError::CodeMismatch(_))
            ));
        }
        assert!(matches!(
            p.confirm_forgot_password(&client.id, "ada", &code, OTHER_PASSWORD, None)
                .await,
            Err(UserPoolError::LimitExceeded(_))
        ));
        // An hour later both budgets are full again.
        f.clock.advance(CODE_WINDOW);
        p.forgot_password(&client.id, "ada", None).await.unwrap();
        let code = last_code(&f, "ForgotPassword", "ada@example.com");
        p.confirm_forgot_password(&client.id, "ada", &code, OTHER_PASSWORD, None)
            .await
            .unwrap();
        tokens(&f, &client, "ada", OTHER_PASSWORD).await;
    })
    .await;
}

/// The answer of one operation, as a client sees it: the error's variant and message, or
/// the delivery details' shape.
fn answer<T: std::fmt::Debug>(result: &Result<T, UserPoolError>) -> String {
    match result {
        Ok(value) => format!("ok {value:?}"),
        Err(e) => format!("{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_prevented_existence_errors_unknown_users_get_the_answers_of_real_ones() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        // Email is the username, so a simulated delivery masks the same address a real one
        // would.
        let config = PoolConfig {
            username_attributes: vec![super::config::UsernameAttribute::Email],
            ..pool_config()
        };
        let (pool, client) = setup(&f, config, prevent_existence_errors()).await;
        let confirmed = "real@example.com";
        let unconfirmed = "pending@example.com";
        let disabled = "off@example.com";
        let unknown = "ghost@example.com";
        signed_up(&f, &client, confirmed, confirmed).await;
        p.sign_up(sign_up_request(&client, unconfirmed, unconfirmed))
            .await
            .unwrap();
        signed_up(&f, &client, disabled, disabled).await;
        p.admin_set_user_enabled(&pool.id, disabled, false)
            .await
            .unwrap();
        let users = [confirmed, unconfirmed, disabled, unknown];

        // Deliveries are compared by shape: the destination is the masked address of the
        // name asked about, whoever it belongs to.
        let delivery = |user: &str, r: Result<CodeDeliveryDetails, UserPoolError>| match r {
            Ok(d) => format!(
                "ok {:?} {} masks the address asked about: {}",
                d.channel,
                d.attribute_name,
                d.destination == mask_destination(crate::delivery::Channel::Email, user)
            ),
            Err(e) => format!("{e:?}"),
        };
        let mut forgot = Vec::new();
        let mut resend = Vec::new();
        let mut confirm = Vec::new();
        let mut reset = Vec::new();
        for user in users {
            forgot.push(delivery(
                user,
                p.forgot_password(&client.id, user, None).await,
            ));
            // The unconfirmed user is the one that really gets a new code here.
            resend.push(delivery(
                user,
                p.resend_confirmation_code(&client.id, user, None).await,
            ));
            // Codes are digits: this one is wrong for everyone.
            confirm.push(answer(
                &p.confirm_sign_up(&client.id, user, "abcdef", None, false)
                    .await,
            ));
            // A weak password with a wrong code: the code is judged first.
            reset.push(answer(
                &p.confirm_forgot_password(&client.id, user, "abcdef", "weak", None)
                    .await,
            ));
        }
        for (op, answers) in [
            ("ForgotPassword", &forgot),
            ("ResendConfirmationCode", &resend),
            ("ConfirmSignUp", &confirm),
            ("ConfirmForgotPassword", &reset),
        ] {
            assert!(
                answers.iter().all(|a| a == &answers[0]),
                "{op} told the users apart: {answers:#?}"
            );
        }
        assert!(forgot[0].ends_with("true"), "{forgot:?}");
        assert!(confirm[0].starts_with("CodeMismatch"), "{confirm:?}");
        assert!(reset[0].starts_with("CodeMismatch"), "{reset:?}");
        // Only the real, enabled, verified user got a reset code, and only the unconfirmed
        // one a sign-up code.
        let sent: Vec<(String, String)> = f
            .messages()
            .iter()
            .filter(|m| {
                m["purpose"] == "ForgotPassword" || m["purpose"] == "ResendConfirmationCode"
            })
            .map(|m| {
                (
                    m["purpose"].as_str().unwrap().to_owned(),
                    m["destination"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            sent,
            vec![
                ("ForgotPassword".to_owned(), confirmed.to_owned()),
                ("ResendConfirmationCode".to_owned(), unconfirmed.to_owned()),
            ]
        );

        // The send limit and the guess budget run out alike for everyone.
        for user in users {
            let mut last = String::new();
            for _ in 0..CODE_SENDS {
                last = answer(&p.forgot_password(&client.id, user, None).await);
            }
            assert!(last.starts_with("LimitExceeded"), "{user}: {last}");
            let mut last = String::new();
            for _ in 0..CODE_GUESSES {
                last = answer(
                    &p.confirm_forgot_password(&client.id, user, "abcdef", PASSWORD, None)
                        .await,
                );
            }
            assert!(last.starts_with("LimitExceeded"), "{user}: {last}");
        }

        // The legacy behaviour names unknown users.
        let (_, legacy) = setup(&f, pool_config(), client_config()).await;
        assert!(matches!(
            p.forgot_password(&legacy.id, unknown, None).await,
            Err(UserPoolError::UserNotFound(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_refuses_developer_only_attributes() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let mut config = pool_config();
        config.schema = schema_with(vec![super::config::SchemaAttribute {
            name: "role".into(),
            data_type: super::config::AttributeDataType::String,
            developer_only: true,
            mutable: true,
            required: false,
            min_length: None,
            max_length: None,
            min_value: None,
            max_value: None,
        }])
        .unwrap();
        let (pool, client) = setup(&f, config, client_config()).await;
        let attribute = pool
            .config
            .schema
            .iter()
            .find(|a| a.developer_only)
            .map(|a| a.name.clone())
            .unwrap();
        let mut request = sign_up_request(&client, "eve", "eve@example.com");
        request.attributes = vec![
            ("email".into(), "eve@example.com".into()),
            (attribute.clone(), "admin".into()),
        ];
        let e = f.pools.sign_up(request).await.unwrap_err();
        assert!(
            matches!(&e, UserPoolError::NotAuthorized(m) if m == "A client attempted to write unauthorized attribute"),
            "{e:?}"
        );
        assert!(
            f.pools.find_user(&pool, "eve").await.unwrap().is_none(),
            "nothing was written"
        );
        // The operator may set it.
        f.pools
            .admin_create_user(
                &pool.id,
                AdminCreateUser {
                    username: "eve".into(),
                    attributes: vec![(attribute, "admin".into())],
                    temporary_password: None,
                    message_action: Some(MessageAction::Suppress),
                    delivery_mediums: Vec::new(),
                },
            )
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_and_deleted_users_are_signed_out_on_every_node() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let g = fixture(&db.store);
        let (p, q) = (&f.pools, &g.pools);
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        for name in ["dan", "del", "self"] {
            signed_up(&f, &client, name, &format!("{name}@example.com")).await;
        }
        let dan = tokens(&f, &client, "dan", PASSWORD).await;
        let del = tokens(&f, &client, "del", PASSWORD).await;
        let own = tokens(&f, &client, "self", PASSWORD).await;
        p.refresh_revocations().await.unwrap();
        q.refresh_revocations().await.unwrap();
        let refused = |pools: &UserPools, t: &Tokens| {
            view_refuses(pools, &pool.id, &t.access_token)
                && view_refuses(pools, &pool.id, &t.id_token)
        };
        assert!(!refused(p, &dan) && !refused(q, &dan));

        // Disabled: refused by this node's view at once (even tokens of this very second),
        // by the other's after a refresh, and by every token-authenticated operation.
        p.admin_set_user_enabled(&pool.id, "dan", false)
            .await
            .unwrap();
        assert!(refused(p, &dan));
        assert!(!refused(q, &dan));
        q.refresh_revocations().await.unwrap();
        assert!(refused(q, &dan));
        assert!(q.get_user(&dan.access_token).await.is_err());
        assert!(
            q.update_own_attributes(&dan.access_token, &[("name".into(), "D".into())])
                .await
                .is_err()
        );
        assert!(
            refresh(&g, &client, dan.refresh_token.as_deref().unwrap())
                .await
                .is_err()
        );
        // Enabled again: a new sign-in (a second later) works everywhere.
        f.clock.advance(Duration::from_secs(1));
        g.clock.advance(Duration::from_secs(1));
        p.admin_set_user_enabled(&pool.id, "dan", true)
            .await
            .unwrap();
        let again = tokens(&f, &client, "dan", PASSWORD).await;
        q.refresh_revocations().await.unwrap();
        assert!(!refused(q, &again));
        assert!(q.get_user(&again.access_token).await.is_ok());

        // AdminDeleteUser and DeleteUser.
        q.admin_delete_user(&pool.id, "del").await.unwrap();
        assert!(refused(q, &del));
        p.refresh_revocations().await.unwrap();
        assert!(refused(p, &del));
        p.delete_own_user(&own.access_token).await.unwrap();
        assert!(refused(p, &own));
        q.refresh_revocations().await.unwrap();
        assert!(refused(q, &own));
        assert!(q.get_user(&own.access_token).await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn password_resets_revoke_refresh_tokens_and_admin_reset_sends_a_code() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "ivy", "ivy@example.com").await;
        let revoked = |e: Result<Tokens, UserPoolError>| {
            matches!(e, Err(UserPoolError::NotAuthorized(m)) if m == "Refresh Token has been revoked")
        };

        // ChangePassword keeps the sessions (the user proved the old password).
        let kept = tokens(&f, &client, "ivy", PASSWORD).await;
        p.change_password(&kept.access_token, PASSWORD, OTHER_PASSWORD)
            .await
            .unwrap();
        refresh(&f, &client, kept.refresh_token.as_deref().unwrap())
            .await
            .unwrap();

        // AdminSetUserPassword.
        let before = tokens(&f, &client, "ivy", OTHER_PASSWORD).await;
        p.admin_set_user_password(&pool.id, "ivy", PASSWORD, true)
            .await
            .unwrap();
        assert!(revoked(
            refresh(&f, &client, before.refresh_token.as_deref().unwrap()).await
        ));

        // ConfirmForgotPassword.
        let before = tokens(&f, &client, "ivy", PASSWORD).await;
        p.forgot_password(&client.id, "ivy", None).await.unwrap();
        let code = last_code(&f, "ForgotPassword", "ivy@example.com");
        // A weak password with the right code: refused, and the code stays usable.
        assert!(matches!(
            p.confirm_forgot_password(&client.id, "ivy", &code, "weak", None)
                .await,
            Err(UserPoolError::InvalidPassword(_))
        ));
        p.confirm_forgot_password(&client.id, "ivy", &code, OTHER_PASSWORD, None)
            .await
            .unwrap();
        assert!(revoked(
            refresh(&f, &client, before.refresh_token.as_deref().unwrap()).await
        ));

        // AdminResetUserPassword: a reset code, RESET_REQUIRED, sessions revoked.
        let before = tokens(&f, &client, "ivy", OTHER_PASSWORD).await;
        let sent = f.messages().len();
        p.admin_reset_user_password(&pool.id, "ivy").await.unwrap();
        assert_eq!(f.messages().len(), sent + 1);
        let user = p.admin_get_user(&pool.id, "ivy").await.unwrap();
        assert_eq!(user.status, UserStatus::ResetRequired);
        assert!(revoked(
            refresh(&f, &client, before.refresh_token.as_deref().unwrap()).await
        ));
        assert!(matches!(
            login(&f, &client, "ivy", OTHER_PASSWORD).await,
            Err(UserPoolError::PasswordResetRequired(_))
        ));
        let code = last_code(&f, "ForgotPassword", "ivy@example.com");
        p.confirm_forgot_password(&client.id, "ivy", &code, PASSWORD, None)
            .await
            .unwrap();
        tokens(&f, &client, "ivy", PASSWORD).await;

        // A user with no verified address cannot be reset; nothing changes.
        p.sign_up(sign_up_request(&client, "nil", "nil@example.com"))
            .await
            .unwrap();
        assert!(matches!(
            p.admin_reset_user_password(&pool.id, "nil").await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        assert_eq!(
            p.admin_get_user(&pool.id, "nil").await.unwrap().status,
            UserStatus::Unconfirmed
        );
        assert!(matches!(
            p.admin_reset_user_password(&pool.id, "nobody").await,
            Err(UserPoolError::UserNotFound(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn common_passwords_are_refused_wherever_a_password_is_set_unless_the_pool_says_not() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        // A lax policy, so that only the list stands between a user and `password1`.
        let mut config = pool_config();
        config.password_policy.require_uppercase = false;
        config.password_policy.require_symbols = false;
        let (pool, client) = setup(&f, config.clone(), client_config()).await;
        let common = "Password1";
        let too_common = |e: UserPoolError| {
            matches!(&e, UserPoolError::InvalidPassword(m) if m == "Password did not conform with policy: Password is too common")
        };
        let mut request = sign_up_request(&client, "tom", "tom@example.com");
        request.password = common.into();
        assert!(too_common(p.sign_up(request).await.unwrap_err()));
        signed_up(&f, &client, "tom", "tom@example.com").await;
        assert!(too_common(
            p.admin_set_user_password(&pool.id, "tom", common, true)
                .await
                .unwrap_err()
        ));
        assert!(too_common(
            p.admin_create_user(
                &pool.id,
                AdminCreateUser {
                    username: "tim".into(),
                    attributes: Vec::new(),
                    temporary_password: Some(common.into()),
                    message_action: Some(MessageAction::Suppress),
                    delivery_mediums: Vec::new(),
                },
            )
            .await
            .unwrap_err()
        ));
        let access = tokens(&f, &client, "tom", PASSWORD).await.access_token;
        assert!(too_common(
            p.change_password(&access, PASSWORD, common)
                .await
                .unwrap_err()
        ));
        p.forgot_password(&client.id, "tom", None).await.unwrap();
        let code = last_code(&f, "ForgotPassword", "tom@example.com");
        assert!(too_common(
            p.confirm_forgot_password(&client.id, "tom", &code, common, None)
                .await
                .unwrap_err()
        ));

        // The pool tag turns the check off (and a bad value is refused).
        let mut off = config.clone();
        off.tags
            .insert(COMMON_PASSWORDS_TAG.into(), "false".into());
        off.apply_setting_tags().unwrap();
        assert!(!off.password_policy.reject_common_passwords);
        let (_, lax) = setup(&f, off, client_config()).await;
        let mut request = sign_up_request(&lax, "tom", "tom@example.com");
        request.password = common.into();
        p.sign_up(request).await.unwrap();
        let mut bad = config;
        bad.tags.insert(COMMON_PASSWORDS_TAG.into(), "no".into());
        assert!(matches!(
            bad.apply_setting_tags(),
            Err(UserPoolError::InvalidParameter(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_right_passwords_never_lock_and_parallel_guesses_learn_five_answers() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let g = fixture(&db.store);
        let (_, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "par", "par@example.com").await;
        let run = |password: &'static str| {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..12 {
                // Half on each node.
                let pools = if i % 2 == 0 {
                    f.pools.clone()
                } else {
                    g.pools.clone()
                };
                let client_id = client.id.clone();
                tasks.spawn(async move {
                    pools
                        .initiate_auth(
                            &client_id,
                            "USER_PASSWORD_AUTH",
                            &params(&[("USERNAME", "par"), ("PASSWORD", password)]),
                        )
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                });
            }
            tasks
        };
        let mut right = run(PASSWORD);
        while let Some(outcome) = right.join_next().await {
            assert_eq!(
                outcome.unwrap(),
                Ok(()),
                "one user signing in from many places"
            );
        }
        let mut wrong = run(WRONG);
        let mut answers = Vec::new();
        while let Some(outcome) = wrong.join_next().await {
            answers.push(outcome.unwrap().unwrap_err());
        }
        let incorrect = answers
            .iter()
            .filter(|a| *a == "Incorrect username or password.")
            .count();
        assert_eq!(incorrect, 5, "{answers:?}");
        assert!(
            answers.iter().all(
                |a| a == "Incorrect username or password." || a == "Password attempts exceeded"
            ),
            "{answers:?}"
        );
    })
    .await;
}

/// A sign-in checks the password of an enabled user, then issues its tokens; an operator
/// disabling or deleting the user in between must not leave it with a refresh token nobody
/// revoked or an access token no revocation refuses (the gateway does not look at the user,
/// only at revocations). Here the race in its worst order: the tokens are issued after the
/// disable or delete committed, a second later (past the user revocation's second).
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_racing_a_disable_or_a_delete_gets_no_tokens() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        for name in ["kim", "kit"] {
            signed_up(&f, &client, name, &format!("{name}@example.com")).await;
        }
        // The sign-ins have found their users and checked their passwords…
        let kim = p.find_user(&pool, "kim").await.unwrap().unwrap();
        let kit = p.find_user(&pool, "kit").await.unwrap().unwrap();
        // … when the operator disables one and deletes the other.
        p.admin_set_user_enabled(&pool.id, "kim", false)
            .await
            .unwrap();
        p.admin_delete_user(&pool.id, "kit").await.unwrap();
        f.clock.advance(Duration::from_secs(1));
        let cases = [
            ("disabled meanwhile", &kim, "User is disabled."),
            ("deleted meanwhile", &kit, "User does not exist."),
        ];
        for (rule, user, message) in cases {
            let issued = p
                .issue_tokens(&pool, &client, user, p.now(), TokenOrigin::NewSession)
                .await;
            assert!(
                matches!(&issued, Err(UserPoolError::NotAuthorized(m)) if m == message),
                "{rule}: {issued:?}"
            );
        }
        // Enabled again, the user signs in afresh.
        p.admin_set_user_enabled(&pool.id, "kim", true)
            .await
            .unwrap();
        tokens(&f, &client, "kim", PASSWORD).await;
    })
    .await;
}

/// A real user's code outlives the hour of guesses: when its own attempts are spent, a guess
/// an hour later must not answer otherwise than a guess for a name nobody holds (which has
/// no code whose attempts could run out).
#[tokio::test(flavor = "multi_thread")]
async fn a_spent_code_an_hour_later_answers_as_an_unknown_users() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let config = PoolConfig {
            username_attributes: vec![super::config::UsernameAttribute::Email],
            ..pool_config()
        };
        let (_, client) = setup(&f, config, prevent_existence_errors()).await;
        let real = "real@example.com";
        let unknown = "ghost@example.com";
        signed_up(&f, &client, real, real).await;
        let mut answers = Vec::new();
        for user in [real, unknown] {
            p.forgot_password(&client.id, user, None).await.unwrap();
            let mut seen = Vec::new();
            for _ in 0..=CODE_GUESSES {
                seen.push(answer(
                    &p.confirm_forgot_password(&client.id, user, "abcdef", PASSWORD, None)
                        .await,
                ));
            }
            answers.push(seen);
        }
        f.clock.advance(CODE_WINDOW);
        for (user, seen) in [real, unknown].into_iter().zip(&mut answers) {
            seen.push(answer(
                &p.confirm_forgot_password(&client.id, user, "abcdef", PASSWORD, None)
                    .await,
            ));
        }
        assert_eq!(answers[0], answers[1], "the real user stood out");
        assert!(
            answers[0][CODE_GUESSES as usize].starts_with("LimitExceeded"),
            "{answers:?}"
        );
    })
    .await;
}

/// The counters of names nobody holds are keyed by a digest of the name: a name of any length
/// costs one small row (and never an error of the database's index limits), and what people
/// type into the username box — often their password — is not kept.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_names_of_any_length_are_counted_by_digest() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let (pool, client) = setup(&f, pool_config(), prevent_existence_errors()).await;
        // Random text, so that no compression shrinks it below an index's limits.
        let long: String = (0..2000).map(|_| crate::ids::uuid_v4()).collect();
        let cases: [(&str, &str); 3] = [
            ("a long name", &long),
            ("a password typed as the name", "Correct-Horse-1!"),
            ("an email in another case", "Ghost@Example.COM"),
        ];
        for (rule, name) in cases {
            for _ in 0..LOCKOUT_THRESHOLD {
                let e = login(&f, &client, name, WRONG).await.unwrap_err();
                assert!(is_incorrect(&e), "{rule}: {e:?}");
            }
            let e = login(&f, &client, name, WRONG).await.unwrap_err();
            assert!(is_locked(&e), "{rule}: {e:?}");
            let subject = attempts::Subject::of(&f.pools, &pool, None, name);
            assert!(
                subject.as_str().len() <= 80 && !subject.as_str().contains(&name.to_lowercase()),
                "{rule}: a subject of {} bytes",
                subject.as_str().len()
            );
        }
        // Spellings that find the same user find the same counter.
        assert_eq!(
            attempts::Subject::of(&f.pools, &pool, None, "Ghost@Example.COM"),
            attempts::Subject::of(&f.pools, &pool, None, "ghost@example.com"),
        );
    })
    .await;
}

/// A delivery that refuses a message at once (SMS through the SMTP delivery, a full queue)
/// must not tell a real user from a name nobody holds, whose simulated delivery cannot fail:
/// the refusal is logged and the request answered as sent, as a failure of the mail server
/// later on is.
#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_refusing_a_real_users_code_is_not_told_to_the_client() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        // A second node whose delivery is SMTP only: it refuses SMS before any I/O.
        let smtp = crate::delivery::Smtp::from_url("smtp://127.0.0.1:1").unwrap();
        let g = super::tests::service(
            &db.store,
            f.clock.clone(),
            std::sync::Arc::new(smtp),
            crate::rate_limit::SourceRateLimit::default(),
        );
        let config = PoolConfig {
            username_attributes: vec![super::config::UsernameAttribute::PhoneNumber],
            auto_verified_attributes: vec![super::config::VerifiedAttribute::PhoneNumber],
            ..pool_config()
        };
        let (pool, client) = setup(&f, config, prevent_existence_errors()).await;
        let verified = "+15550100001";
        let pending = "+15550100002";
        let unknown = "+15550100003";
        f.pools
            .admin_create_user(
                &pool.id,
                AdminCreateUser {
                    username: verified.into(),
                    attributes: vec![("phone_number_verified".into(), "true".into())],
                    temporary_password: None,
                    message_action: Some(MessageAction::Suppress),
                    delivery_mediums: Vec::new(),
                },
            )
            .await
            .unwrap();
        let mut request = sign_up_request(&client, pending, "unused@example.com");
        request.attributes.clear();
        f.pools.sign_up(request).await.unwrap();

        let shape = |user: &str, r: Result<CodeDeliveryDetails, UserPoolError>| match r {
            Ok(d) => format!(
                "ok {:?} {} masks the number asked about: {}",
                d.channel,
                d.attribute_name,
                d.destination == mask_destination(crate::delivery::Channel::Sms, user)
            ),
            Err(e) => format!("{e:?}"),
        };
        let forgot = [
            shape(
                verified,
                g.forgot_password(&client.id, verified, None).await,
            ),
            shape(unknown, g.forgot_password(&client.id, unknown, None).await),
        ];
        let resend = [
            shape(
                pending,
                g.resend_confirmation_code(&client.id, pending, None).await,
            ),
            shape(
                unknown,
                g.resend_confirmation_code(&client.id, unknown, None).await,
            ),
        ];
        for (op, answers) in [
            ("ForgotPassword", forgot),
            ("ResendConfirmationCode", resend),
        ] {
            assert_eq!(answers[0], answers[1], "{op} told the users apart");
            assert!(answers[0].ends_with("true"), "{op}: {answers:?}");
        }
        // A client that does not hide users is told.
        let open_client = f
            .pools
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "open".into(),
                    generate_secret: false,
                    config: client_config(),
                },
            )
            .await
            .unwrap();
        assert!(matches!(
            g.forgot_password(&open_client.id, verified, None).await,
            Err(UserPoolError::CodeDeliveryFailure(_))
        ));
    })
    .await;
}

/// Verification codes for a changed email or phone number count against the sends per hour
/// too: a signed-in user (anyone who can sign up) could otherwise have codes sent without
/// limit, to addresses of its choosing. Beyond the limit GetUserAttributeVerificationCode is
/// refused, and an attribute update still applies but sends no code.
#[tokio::test(flavor = "multi_thread")]
async fn verification_codes_are_limited_like_the_others() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "vic", "vic@example.com").await;
        let access = tokens(&f, &client, "vic", PASSWORD).await.access_token;
        let sent = |f: &Fixture| {
            f.messages()
                .iter()
                .filter(|m| m["purpose"] == "VerifyAttribute")
                .count()
        };
        // Updates to new addresses and requests for a code share the budget.
        for n in 0..CODE_SENDS {
            if n % 2 == 0 {
                let details = p
                    .update_own_attributes(
                        &access,
                        &[("email".into(), format!("vic{n}@example.com"))],
                    )
                    .await
                    .unwrap();
                assert_eq!(details.len(), 1, "send {n}");
            } else {
                p.get_user_attribute_verification_code(&access, "email")
                    .await
                    .unwrap();
            }
        }
        assert_eq!(sent(&f), CODE_SENDS as usize);
        let e = p
            .get_user_attribute_verification_code(&access, "email")
            .await
            .unwrap_err();
        assert!(matches!(&e, UserPoolError::LimitExceeded(_)), "{e:?}");
        let details = p
            .update_own_attributes(&access, &[("email".into(), "victim@example.org".into())])
            .await
            .unwrap();
        assert_eq!(details, Vec::new(), "no code beyond the limit");
        assert_eq!(
            p.admin_get_user(&pool.id, "vic")
                .await
                .unwrap()
                .attribute("email"),
            Some("victim@example.org"),
            "the update itself applies"
        );
        assert_eq!(sent(&f), CODE_SENDS as usize, "nothing more was sent");
        // An hour later codes flow again.
        f.clock.advance(CODE_WINDOW);
        let access = tokens(&f, &client, "vic", PASSWORD).await.access_token;
        p.get_user_attribute_verification_code(&access, "email")
            .await
            .unwrap();
        assert_eq!(sent(&f), CODE_SENDS as usize + 1);
    })
    .await;
}

/// A password reset revokes the user's refresh tokens; a sign-in with the old password that
/// was checked just before the reset must not store a refresh token after it (whoever held
/// the old password, signing in again and again, would keep a session through the reset).
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_with_the_old_password_racing_a_reset_gets_no_tokens() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "ron", "ron@example.com").await;
        let resets: [(&str, bool); 2] = [
            ("AdminSetUserPassword", true),
            ("ConfirmForgotPassword", false),
        ];
        for (rule, admin) in resets {
            let (old, new) = if admin {
                (PASSWORD, OTHER_PASSWORD)
            } else {
                (OTHER_PASSWORD, PASSWORD)
            };
            // The sign-in has checked the old password …
            let checked = p.find_user(&pool, "ron").await.unwrap().unwrap();
            // … when the password is reset.
            if admin {
                p.admin_set_user_password(&pool.id, "ron", new, true)
                    .await
                    .unwrap();
            } else {
                p.forgot_password(&client.id, "ron", None).await.unwrap();
                let code = last_code(&f, "ForgotPassword", "ron@example.com");
                p.confirm_forgot_password(&client.id, "ron", &code, new, None)
                    .await
                    .unwrap();
            }
            let issued = p
                .issue_tokens(&pool, &client, &checked, p.now(), TokenOrigin::NewSession)
                .await;
            assert!(
                matches!(&issued, Err(e) if is_incorrect(e)),
                "{rule}: {issued:?}"
            );
            assert!(is_incorrect(
                &login(&f, &client, "ron", old).await.unwrap_err()
            ));
            tokens(&f, &client, "ron", new).await;
        }
        // AdminResetUserPassword keeps the password but demands a new one: a sign-in that
        // checked the (right) password before it gets nothing after it either.
        let checked = p.find_user(&pool, "ron").await.unwrap().unwrap();
        p.admin_reset_user_password(&pool.id, "ron").await.unwrap();
        let issued = p
            .issue_tokens(&pool, &client, &checked, p.now(), TokenOrigin::NewSession)
            .await;
        assert!(
            matches!(&issued, Err(UserPoolError::PasswordResetRequired(_))),
            "AdminResetUserPassword: {issued:?}"
        );
    })
    .await;
}

/// Deleting a user signs it out first: when the database then fails, the user is still
/// there, signed out, and the operator's retry deletes it. (Deleted first, a failing
/// sign-out left a user nobody could delete or sign out again, whose tokens the gateway
/// accepted until they expired.)
#[tokio::test(flavor = "multi_thread")]
async fn a_delete_that_cannot_sign_the_user_out_deletes_nothing() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "zoe", "zoe@example.com").await;
        let zoe = tokens(&f, &client, "zoe", PASSWORD).await;
        // Revocations cannot be written for now.
        db.execute_raw(
            "CREATE TRIGGER refuse_revocations BEFORE INSERT ON token_revocations
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            "CREATE FUNCTION refuse_revocation() RETURNS trigger LANGUAGE plpgsql
                 AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
             CREATE TRIGGER refuse_revocations BEFORE INSERT ON token_revocations
                 FOR EACH ROW EXECUTE FUNCTION refuse_revocation();",
        )
        .await;
        assert!(p.admin_delete_user(&pool.id, "zoe").await.is_err());
        assert!(
            p.find_user(&pool, "zoe").await.unwrap().is_some(),
            "nothing was deleted"
        );
        db.execute_raw(
            "DROP TRIGGER refuse_revocations;",
            "DROP TRIGGER refuse_revocations ON token_revocations;",
        )
        .await;
        f.clock.advance(Duration::from_secs(1));
        p.admin_delete_user(&pool.id, "zoe").await.unwrap();
        assert!(view_refuses(p, &pool.id, &zoe.access_token));
    })
    .await;
}
