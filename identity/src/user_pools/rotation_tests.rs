//! Service-layer tests of refresh-token rotation, each on SQLite and on PostgreSQL with a
//! fixed clock: a new refresh token per use, the retry grace period, the revocation of a
//! whole family when a spent token comes back (seen by a second node), the client's proof,
//! and `REFRESH_TOKEN_AUTH` refused where the client rotates.

use std::time::Duration;

use gatehouse_storage::testkit::{TestStore, each_backend};

use super::config::RefreshTokenRotation;
use super::public_tests::{
    PASSWORD, client_config, params, pool_config, refresh, setup, signed_up, tokens, view_refuses,
};
use super::tests::{Fixture, fixture};
use super::*;

fn rotating(grace: u32) -> ClientConfig {
    ClientConfig {
        refresh_token_rotation: Some(RefreshTokenRotation {
            enabled: true,
            retry_grace_period_seconds: grace,
        }),
        ..client_config()
    }
}

async fn exchange(f: &Fixture, client: &Client, token: &str) -> Result<Tokens, UserPoolError> {
    f.pools
        .get_tokens_from_refresh_token(&client.id, token, None)
        .await
}

fn is_reuse(result: &Result<Tokens, UserPoolError>) -> bool {
    matches!(result, Err(UserPoolError::RefreshTokenReuse(_)))
}

fn is_revoked(result: &Result<Tokens, UserPoolError>) -> bool {
    matches!(result, Err(UserPoolError::NotAuthorized(m)) if m == "Refresh Token has been revoked")
}

#[tokio::test(flavor = "multi_thread")]
async fn each_use_hands_out_a_new_token_and_a_spent_one_revokes_the_family_on_every_node() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        // A second node on the same database, with its own view and clock.
        let g = fixture(&db.store);
        let (pool, client) = setup(&f, pool_config(), rotating(0)).await;
        signed_up(&f, &client, "rosa", "rosa@example.com").await;
        let first = tokens(&f, &client, "rosa", PASSWORD).await;
        let t0 = first.refresh_token.clone().unwrap();

        let second = exchange(&f, &client, &t0).await.unwrap();
        let t1 = second.refresh_token.clone().unwrap();
        assert_ne!(t1, t0, "a new refresh token each time");
        // The other node rotates the new one: the family goes on from node to node.
        let third = exchange(&g, &client, &t1).await.unwrap();
        let t2 = third.refresh_token.clone().unwrap();
        let claims = |t: &Tokens| super::public_tests::revocation_claims(&t.access_token);
        assert_eq!(claims(&third).1, claims(&first).1, "one origin_jti");
        assert!(f.pools.get_user(&third.access_token).await.is_ok());

        // A spent token comes back (on the second node): the whole family is revoked.
        assert!(is_reuse(&exchange(&g, &client, &t0).await));
        assert!(
            is_revoked(&exchange(&f, &client, &t2).await),
            "the newest token of the family goes too"
        );
        for t in [&first, &second, &third] {
            assert!(f.pools.get_user(&t.access_token).await.is_err());
            assert!(view_refuses(&g.pools, &pool.id, &t.access_token));
        }
        // The first node's view learns it from the feed.
        f.pools.refresh_revocations().await.unwrap();
        assert!(view_refuses(&f.pools, &pool.id, &third.id_token));
        // Another sign-in of the same user is not of that family.
        let other = tokens(&f, &client, "rosa", PASSWORD).await;
        assert!(
            exchange(&f, &client, other.refresh_token.as_deref().unwrap())
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_token_may_be_retried_within_its_grace_period_only() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let (_, client) = setup(&f, pool_config(), rotating(10)).await;
        signed_up(&f, &client, "gus", "gus@example.com").await;
        let t0 = tokens(&f, &client, "gus", PASSWORD)
            .await
            .refresh_token
            .unwrap();
        let t1 = exchange(&f, &client, &t0).await.unwrap();
        // A retry (the client lost the answer) within the grace period: another successor.
        f.clock.advance(Duration::from_secs(9));
        let retried = exchange(&f, &client, &t0).await.unwrap();
        let t1b = retried.refresh_token.unwrap();
        assert_ne!(Some(t1b.as_str()), t1.refresh_token.as_deref());
        // The grace runs from the first rotation, not from the retry.
        f.clock.advance(Duration::from_secs(1));
        assert!(is_reuse(&exchange(&f, &client, &t0).await));
        assert!(is_revoked(&exchange(&f, &client, &t1b).await));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_keeps_the_sign_ins_expiry_and_its_clients_rules() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let short = ClientConfig {
            refresh_token_validity: Some(60),
            token_validity_units: Some(config::TokenValidityUnits {
                refresh_token: config::TimeUnit::Minutes,
                ..config::TokenValidityUnits::default()
            }),
            ..rotating(0)
        };
        let (pool, client) = setup(&f, pool_config(), short).await;
        signed_up(&f, &client, "ida", "ida@example.com").await;
        let t0 = tokens(&f, &client, "ida", PASSWORD)
            .await
            .refresh_token
            .unwrap();
        // REFRESH_TOKEN_AUTH cannot rotate: refused on a rotating client.
        assert!(matches!(
            refresh(&f, &client, &t0).await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        f.clock.advance(Duration::from_secs(50 * 60));
        let t1 = exchange(&f, &client, &t0)
            .await
            .unwrap()
            .refresh_token
            .unwrap();
        // The successor ends with the sign-in, an hour after the user authenticated.
        f.clock.advance(Duration::from_secs(10 * 60));
        assert!(matches!(
            exchange(&f, &client, &t1).await,
            Err(UserPoolError::NotAuthorized(m)) if m == "Refresh Token has expired"
        ));

        // A confidential client must send its secret.
        let confidential = f
            .pools
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "server".into(),
                    generate_secret: true,
                    config: rotating(0),
                },
            )
            .await
            .unwrap();
        let secret = confidential.secret.clone().unwrap();
        let hash = secret_hash(&secret, "ida", &confidential.id);
        let signed_in = f
            .pools
            .initiate_auth(
                &confidential.id,
                "USER_PASSWORD_AUTH",
                &params(&[
                    ("USERNAME", "ida"),
                    ("PASSWORD", PASSWORD),
                    ("SECRET_HASH", &hash),
                ]),
            )
            .await
            .unwrap();
        let AuthOutcome::Tokens(signed_in) = signed_in else {
            panic!("unexpected challenge");
        };
        let own = signed_in.refresh_token.unwrap();
        for wrong in [None, Some("not-the-secret")] {
            assert!(matches!(
                f.pools
                    .get_tokens_from_refresh_token(&confidential.id, &own, wrong)
                    .await,
                Err(UserPoolError::NotAuthorized(_))
            ));
        }
        assert!(
            f.pools
                .get_tokens_from_refresh_token(&confidential.id, &own, Some(&secret))
                .await
                .is_ok()
        );
        // Another client's token is no token here.
        assert!(matches!(
            exchange(&f, &client, &own).await,
            Err(UserPoolError::NotAuthorized(m)) if m == "Invalid Refresh Token"
        ));
        // A disabled user gets nothing, and its tokens are revoked with it.
        let t = tokens(&f, &client, "ida", PASSWORD)
            .await
            .refresh_token
            .unwrap();
        f.pools
            .admin_set_user_enabled(&pool.id, "ida", false)
            .await
            .unwrap();
        assert!(exchange(&f, &client, &t).await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_rotation_the_token_stays_and_a_once_rotated_one_is_spent() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let (pool, client) = setup(&f, pool_config(), rotating(0)).await;
        signed_up(&f, &client, "ned", "ned@example.com").await;
        let t0 = tokens(&f, &client, "ned", PASSWORD)
            .await
            .refresh_token
            .unwrap();
        let t1 = exchange(&f, &client, &t0)
            .await
            .unwrap()
            .refresh_token
            .unwrap();
        // Rotation turned off: GetTokensFromRefreshToken and REFRESH_TOKEN_AUTH renew the
        // access tokens only, with the same refresh token, as often as asked.
        let plain = f
            .pools
            .update_user_pool_client(&pool.id, &client.id, None, client_config())
            .await
            .unwrap();
        for _ in 0..2 {
            let renewed = exchange(&f, &plain, &t1).await.unwrap();
            assert_eq!(renewed.refresh_token, None);
            assert!(refresh(&f, &plain, &t1).await.is_ok());
        }
        // The token rotated out while rotation was on stays spent.
        assert!(matches!(
            refresh(&f, &plain, &t0).await,
            Err(UserPoolError::RefreshTokenReuse(_))
        ));
        assert!(is_revoked(&exchange(&f, &plain, &t1).await));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_token_takes_the_whole_family() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let (_, client) = setup(&f, pool_config(), rotating(30)).await;
        signed_up(&f, &client, "vic", "vic@example.com").await;
        let t0 = tokens(&f, &client, "vic", PASSWORD)
            .await
            .refresh_token
            .unwrap();
        let t1 = exchange(&f, &client, &t0)
            .await
            .unwrap()
            .refresh_token
            .unwrap();
        // Revoking the (still retryable) old token revokes its successor too.
        f.pools.revoke_token(&client.id, None, &t0).await.unwrap();
        assert!(is_revoked(&exchange(&f, &client, &t1).await));
        assert!(is_revoked(&exchange(&f, &client, &t0).await));
    })
    .await;
}
