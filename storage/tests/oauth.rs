//! Storage tests of the OAuth provider's rows: resource servers, domains, single-use
//! authorization codes, hosted sessions and grants; every body runs on a fresh SQLite file and
//! a fresh PostgreSQL database.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use gatehouse_storage::testkit::each_backend;
use gatehouse_storage::{
    AuthCodeRecord, DomainRecord, HostedSessionRecord, NewUserPool, OAuthGrantRecord, Redemption,
    ResourceServerRecord, StorageError, Store,
};

const T0: i64 = 1_700_000_000_000;
const POOL: &str = "us-east-1_o";
const OTHER: &str = "us-east-1_p";

async fn pools(store: &Store) {
    for id in [POOL, OTHER] {
        store
            .user_pools()
            .create(&NewUserPool {
                id: id.to_owned(),
                name: format!("pool {id}"),
                config: "{}".to_owned(),
                created_at: T0,
                signing_keys: vec![],
            })
            .await
            .unwrap();
    }
}

fn server(identifier: &str) -> ResourceServerRecord {
    ResourceServerRecord {
        pool_id: POOL.to_owned(),
        identifier: identifier.to_owned(),
        name: "api".to_owned(),
        scopes: r#"[{"name":"read"}]"#.to_owned(),
        created_at: T0,
        updated_at: T0,
    }
}

#[tokio::test]
async fn resource_servers_are_unique_per_pool_and_listed_in_pages() {
    each_backend(async |t| {
        let store = &t.store;
        pools(store).await;
        for id in [
            "https://b.example",
            "https://a.example",
            "https://c.example",
        ] {
            store.resource_servers().create(&server(id)).await.unwrap();
        }
        let again = store
            .resource_servers()
            .create(&server("https://a.example"))
            .await;
        assert!(
            matches!(again, Err(StorageError::Conflict { .. })),
            "{again:?}"
        );
        let orphan = ResourceServerRecord {
            pool_id: "us-east-1_none".to_owned(),
            ..server("x")
        };
        let missing = store.resource_servers().create(&orphan).await;
        assert!(
            matches!(missing, Err(StorageError::NotFound { .. })),
            "{missing:?}"
        );

        let first = store.resource_servers().list(POOL, 2, None).await.unwrap();
        let ids: Vec<_> = first.items.iter().map(|r| r.identifier.as_str()).collect();
        assert_eq!(ids, ["https://a.example", "https://b.example"]);
        let second = store
            .resource_servers()
            .list(POOL, 2, first.next.as_deref())
            .await
            .unwrap();
        assert_eq!(second.items.len(), 1);
        assert_eq!(second.next, None);
        assert!(
            store
                .resource_servers()
                .all(OTHER)
                .await
                .unwrap()
                .is_empty()
        );

        store
            .resource_servers()
            .update(POOL, "https://a.example", "renamed", "[]", T0 + 1)
            .await
            .unwrap();
        let got = store
            .resource_servers()
            .get(POOL, "https://a.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (got.name.as_str(), got.scopes.as_str(), got.updated_at),
            ("renamed", "[]", T0 + 1)
        );
        assert!(
            store
                .resource_servers()
                .get(OTHER, "https://a.example")
                .await
                .unwrap()
                .is_none()
        );
        let wrong_pool = store
            .resource_servers()
            .delete(OTHER, "https://a.example")
            .await;
        assert!(matches!(wrong_pool, Err(StorageError::NotFound { .. })));
        store
            .resource_servers()
            .delete(POOL, "https://a.example")
            .await
            .unwrap();
        assert_eq!(store.resource_servers().all(POOL).await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_domain_belongs_to_one_pool_and_a_pool_has_one_domain() {
    each_backend(async |t| {
        let store = &t.store;
        pools(store).await;
        let domain = |name: &str, pool: &str| DomainRecord {
            domain: name.to_owned(),
            pool_id: pool.to_owned(),
            custom_config: None,
            created_at: T0,
        };
        store
            .domains()
            .create(&domain("myapp", POOL))
            .await
            .unwrap();
        for clash in [domain("myapp", OTHER), domain("second", POOL)] {
            let refused = store.domains().create(&clash).await;
            assert!(
                matches!(refused, Err(StorageError::Conflict { .. })),
                "{clash:?}: {refused:?}"
            );
        }
        assert_eq!(
            store.domains().get("myapp").await.unwrap().unwrap().pool_id,
            POOL
        );
        assert_eq!(
            store
                .domains()
                .for_pool(POOL)
                .await
                .unwrap()
                .unwrap()
                .domain,
            "myapp"
        );
        assert!(store.domains().for_pool(OTHER).await.unwrap().is_none());
        let wrong_pool = store.domains().delete(OTHER, "myapp").await;
        assert!(matches!(wrong_pool, Err(StorageError::NotFound { .. })));
        // The pool's rows go with it.
        store
            .domains()
            .create(&DomainRecord {
                custom_config: Some(r#"{"CertificateArn":"arn"}"#.to_owned()),
                ..domain("login.example.com", OTHER)
            })
            .await
            .unwrap();
        store.user_pools().delete(OTHER).await.unwrap();
        assert!(
            store
                .domains()
                .get("login.example.com")
                .await
                .unwrap()
                .is_none()
        );
        store.domains().delete(POOL, "myapp").await.unwrap();
        assert!(store.domains().get("myapp").await.unwrap().is_none());
    })
    .await;
}

fn code(hash: u8, expires_at: i64) -> AuthCodeRecord {
    AuthCodeRecord {
        code_hash: vec![hash; 32],
        pool_id: POOL.to_owned(),
        client_id: "client".to_owned(),
        sub: "sub-1".to_owned(),
        details: "{}".to_owned(),
        created_at: T0,
        expires_at,
        used_at: None,
        origin_jti: None,
        reused_at: None,
    }
}

#[tokio::test]
async fn a_code_is_redeemed_once_and_a_second_redemption_is_recorded() {
    each_backend(async |t| {
        let store = &t.store;
        pools(store).await;
        store
            .auth_codes()
            .insert(&code(1, T0 + 300_000))
            .await
            .unwrap();
        let first = store
            .auth_codes()
            .redeem(&[1; 32], "jti-a", T0 + 10)
            .await
            .unwrap();
        let Redemption::Redeemed(redeemed) = first else {
            panic!("first redemption: {first:?}");
        };
        assert_eq!(
            (redeemed.used_at, redeemed.origin_jti.as_deref()),
            (Some(T0 + 10), Some("jti-a"))
        );
        assert_eq!(redeemed.reused_at, None);
        // The second names the first one's sign-in, which is what gets revoked.
        let second = store
            .auth_codes()
            .redeem(&[1; 32], "jti-b", T0 + 20)
            .await
            .unwrap();
        let Redemption::AlreadyUsed(used) = second else {
            panic!("second redemption: {second:?}");
        };
        assert_eq!(
            (used.origin_jti.as_deref(), used.reused_at),
            (Some("jti-a"), Some(T0 + 20))
        );
        // A third keeps the first reuse time.
        store
            .auth_codes()
            .redeem(&[1; 32], "jti-c", T0 + 30)
            .await
            .unwrap();
        let stored = store.auth_codes().get(&[1; 32]).await.unwrap().unwrap();
        assert_eq!(
            (stored.origin_jti.as_deref(), stored.reused_at),
            (Some("jti-a"), Some(T0 + 20))
        );
        let missing = store
            .auth_codes()
            .redeem(&[9; 32], "jti", T0)
            .await
            .unwrap();
        assert_eq!(missing, Redemption::Missing);

        store.auth_codes().insert(&code(2, T0 + 100)).await.unwrap();
        assert_eq!(store.auth_codes().purge_expired(T0 + 100).await.unwrap(), 1);
        assert!(store.auth_codes().get(&[2; 32]).await.unwrap().is_none());
        assert!(store.auth_codes().get(&[1; 32]).await.unwrap().is_some());
    })
    .await;
}

#[tokio::test]
async fn hosted_sessions_and_grants_are_kept_until_they_expire() {
    each_backend(async |t| {
        let store = &t.store;
        pools(store).await;
        let session = |hash: u8, expires_at: i64| HostedSessionRecord {
            id_hash: vec![hash; 32],
            pool_id: POOL.to_owned(),
            sub: "sub-1".to_owned(),
            details: r#"{"auth_time":1}"#.to_owned(),
            created_at: T0,
            expires_at,
        };
        store
            .hosted_sessions()
            .insert(&session(1, T0 + 3_600_000))
            .await
            .unwrap();
        store
            .hosted_sessions()
            .insert(&session(2, T0 + 10))
            .await
            .unwrap();
        let dup = store.hosted_sessions().insert(&session(1, T0)).await;
        assert!(matches!(dup, Err(StorageError::Conflict { .. })), "{dup:?}");
        assert_eq!(
            store.hosted_sessions().get(&[1; 32]).await.unwrap(),
            Some(session(1, T0 + 3_600_000))
        );
        assert_eq!(
            store
                .hosted_sessions()
                .purge_expired(T0 + 10)
                .await
                .unwrap(),
            1
        );
        assert!(store.hosted_sessions().delete(&[1; 32]).await.unwrap());
        assert!(!store.hosted_sessions().delete(&[1; 32]).await.unwrap());
        assert!(
            store
                .hosted_sessions()
                .get(&[1; 32])
                .await
                .unwrap()
                .is_none()
        );

        let grant = OAuthGrantRecord {
            pool_id: POOL.to_owned(),
            origin_jti: "jti-a".to_owned(),
            details: r#"{"scope":"openid"}"#.to_owned(),
            expires_at: T0 + 50,
        };
        store.oauth_grants().insert(&grant).await.unwrap();
        assert_eq!(
            store.oauth_grants().get(POOL, "jti-a").await.unwrap(),
            Some(grant.clone())
        );
        assert!(
            store
                .oauth_grants()
                .get(OTHER, "jti-a")
                .await
                .unwrap()
                .is_none()
        );
        let dup = store.oauth_grants().insert(&grant).await;
        assert!(matches!(dup, Err(StorageError::Conflict { .. })), "{dup:?}");
        assert_eq!(
            store.oauth_grants().purge_expired(T0 + 50).await.unwrap(),
            1
        );
        assert!(
            store
                .oauth_grants()
                .get(POOL, "jti-a")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}
