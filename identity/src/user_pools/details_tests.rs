//! Service-layer tests of the user-pool details, each on SQLite and on PostgreSQL with a
//! fixed clock: usernames that ignore case but keep it, attributes that change only once
//! verified, and the sign-in events the lockout leaves for AdminListUserAuthEvents.

use std::time::Duration;

use gatehouse_storage::testkit::{TestStore, each_backend};

use super::config::VerifiedAttribute;
use super::public_tests::{
    OTHER_PASSWORD, PASSWORD, client_config, last_code, login, pool_config, setup, signed_up,
    tokens,
};
use super::tests::fixture;
use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn case_insensitive_usernames_match_any_case_and_keep_theirs() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let config = PoolConfig {
            username_case_sensitive: Some(false),
            ..pool_config()
        };
        let (pool, client) = setup(&f, config, client_config()).await;
        signed_up(&f, &client, "MixedCase", "mixed@example.com").await;
        let user = f.pools.admin_get_user(&pool.id, "mixedcase").await.unwrap();
        assert_eq!(user.username, "MixedCase", "the stored name keeps its case");
        for spelling in ["MIXEDCASE", "mixedcase", "MixedCase"] {
            tokens(&f, &client, spelling, PASSWORD).await;
        }
        // Every `Username` parameter, and the one name any spelling takes.
        f.pools
            .admin_set_user_enabled(&pool.id, "MIXEDcase", false)
            .await
            .unwrap();
        assert!(
            !f.pools
                .admin_get_user(&pool.id, "mixedCASE")
                .await
                .unwrap()
                .enabled
        );
        let taken = f
            .pools
            .sign_up(super::public_tests::sign_up_request(
                &client,
                "mixedcase",
                "other@example.com",
            ))
            .await;
        assert!(matches!(taken, Err(UserPoolError::UsernameExists(_))));
        let listed = f
            .pools
            .list_users(
                &pool.id,
                &ListUsersRequest {
                    filter: Some(r#"username = "MIXEDCASE""#.into()),
                    limit: None,
                    pagination_token: None,
                    attributes_to_get: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            listed
                .items
                .iter()
                .map(|u| u.username.as_str())
                .collect::<Vec<_>>(),
            ["MixedCase"]
        );
        // A case-sensitive pool tells the spellings apart.
        let (strict, strict_client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &strict_client, "Exact", "exact@example.com").await;
        assert!(matches!(
            f.pools.admin_get_user(&strict.id, "exact").await,
            Err(UserPoolError::UserNotFound(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_email_takes_effect_once_verified_where_the_pool_says_so() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let mut config = PoolConfig {
            alias_attributes: vec![config::AliasAttribute::Email],
            ..pool_config()
        };
        config.stored_only.insert(
            "UserAttributeUpdateSettings".into(),
            serde_json::json!({"AttributesRequireVerificationBeforeUpdate": ["email"]}),
        );
        let (pool, client) = setup(&f, config, client_config()).await;
        signed_up(&f, &client, "vera", "old@example.com").await;
        let t = tokens(&f, &client, "vera", PASSWORD).await;
        let sent = f
            .pools
            .update_own_attributes(
                &t.access_token,
                &[
                    ("email".into(), "new@example.com".into()),
                    ("name".into(), "Vera".into()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(sent.len(), 1, "a code goes to the new address");
        let user = f.pools.admin_get_user(&pool.id, "vera").await.unwrap();
        assert_eq!(
            (
                user.attribute("email"),
                user.attribute("email_verified"),
                user.attribute("name")
            ),
            (Some("old@example.com"), Some("true"), Some("Vera")),
            "the old address stays, verified; the other attributes change"
        );
        // The old address still signs in and still receives codes.
        tokens(&f, &client, "old@example.com", PASSWORD).await;
        assert!(
            login(&f, &client, "new@example.com", PASSWORD)
                .await
                .is_err()
        );
        // A new code request goes to the waiting address too.
        f.pools
            .get_user_attribute_verification_code(&t.access_token, "email")
            .await
            .unwrap();
        let code = last_code(&f, "VerifyAttribute", "new@example.com");
        f.pools
            .verify_user_attribute(&t.access_token, "email", &code)
            .await
            .unwrap();
        let user = f.pools.admin_get_user(&pool.id, "vera").await.unwrap();
        assert_eq!(
            (user.attribute("email"), user.attribute("email_verified")),
            (Some("new@example.com"), Some("true"))
        );
        tokens(&f, &client, "new@example.com", PASSWORD).await;
        assert!(
            login(&f, &client, "old@example.com", PASSWORD)
                .await
                .is_err()
        );
        // The operator setting `email_verified` with the change applies it at once.
        f.pools
            .admin_update_user_attributes(
                &pool.id,
                "vera",
                &[
                    ("email".into(), "now@example.com".into()),
                    ("email_verified".into(), "true".into()),
                ],
            )
            .await
            .unwrap();
        let user = f.pools.admin_get_user(&pool.id, "vera").await.unwrap();
        assert_eq!(user.attribute("email"), Some("now@example.com"));

        // The setting needs the attribute auto-verified.
        let mut bad = PoolConfig::default();
        bad.stored_only.insert(
            "UserAttributeUpdateSettings".into(),
            serde_json::json!({"AttributesRequireVerificationBeforeUpdate": ["phone_number"]}),
        );
        assert!(matches!(
            f.pools.create_user_pool("bad", bad).await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        assert!(pool.config.verifies_before_update(VerifiedAttribute::Email));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_events_report_passwords_and_the_lockout_newest_first() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let (pool, client) = setup(&f, pool_config(), client_config()).await;
        signed_up(&f, &client, "eve", "eve@example.com").await;
        tokens(&f, &client, "eve", PASSWORD).await;
        for _ in 0..5 {
            f.clock.advance(Duration::from_millis(10));
            assert!(login(&f, &client, "eve", OTHER_PASSWORD).await.is_err());
        }
        f.clock.advance(Duration::from_millis(10));
        // Locked: refused unchecked, the right password too.
        assert!(login(&f, &client, "eve", PASSWORD).await.is_err());
        // Events are the user's: a name nobody holds leaves none.
        assert!(login(&f, &client, "nobody", PASSWORD).await.is_err());

        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = f
                .pools
                .admin_list_user_auth_events(&pool.id, "eve", Some(3), token.as_deref())
                .await
                .unwrap();
            seen.extend(page.items);
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        let outcomes: Vec<PasswordOutcome> = seen.iter().map(|e| e.outcome).collect();
        use PasswordOutcome as O;
        assert_eq!(
            outcomes,
            [
                O::RefusedWhileLocked,
                O::WrongAndLocked,
                O::Wrong,
                O::Wrong,
                O::Wrong,
                O::Wrong,
                O::Right
            ],
            "newest first, across pages"
        );
        assert!(seen.iter().all(|e| e.kind == AuthEventKind::SignIn));
        assert!(seen.windows(2).all(|w| w[0].at >= w[1].at));
        assert!(matches!(
            f.pools
                .admin_list_user_auth_events(&pool.id, "nobody", None, None)
                .await,
            Err(UserPoolError::UserNotFound(_))
        ));
        // They are purged after 90 days.
        f.clock.advance(AUTH_EVENT_LIFETIME);
        f.pools.purge_attempt_counters().await.unwrap();
        let page = f
            .pools
            .admin_list_user_auth_events(&pool.id, "eve", None, None)
            .await
            .unwrap();
        assert!(page.items.is_empty());
    })
    .await;
}
