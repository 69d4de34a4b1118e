//! Storage tests of refresh-token rotation and families, username keys, and user auth
//! events; every body runs on a fresh SQLite file and a fresh PostgreSQL database.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use std::collections::BTreeMap;

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{
    ClientRecord, NewUser, NewUserPool, RefreshTokenRecord, Rotation, SignedInAs, StorageError,
    Store, TextMatch, UserFilter, UserQuery,
};

const T0: i64 = 1_700_000_000_000;
const POOL: &str = "us-east-1_d";

async fn setup(store: &Store) {
    store
        .user_pools()
        .create(&NewUserPool {
            id: POOL.to_owned(),
            name: "details".to_owned(),
            config: "{}".to_owned(),
            created_at: T0,
            signing_keys: vec![],
        })
        .await
        .unwrap();
    store
        .clients()
        .create(&ClientRecord {
            id: "c1".to_owned(),
            pool_id: POOL.to_owned(),
            name: "app".to_owned(),
            secret: None,
            config: "{}".to_owned(),
            created_at: T0,
            updated_at: T0,
        })
        .await
        .unwrap();
}

fn new_user(username: &str, key: &str) -> NewUser {
    NewUser {
        pool_id: POOL.to_owned(),
        sub: format!("sub-{key}"),
        username: username.to_owned(),
        username_key: key.to_owned(),
        status: "CONFIRMED".to_owned(),
        enabled: true,
        password_hash: None,
        srp_verifier: None,
        attributes: BTreeMap::new(),
        aliases: vec![],
        created_at: T0,
    }
}

/// A sign-in's token `hash` (one byte, repeated) of the user `sub`, family `jti-{family}`.
async fn sign_in(store: &Store, sub: &str, hash: u8, family: u8) {
    store
        .refresh_tokens()
        .insert(
            &RefreshTokenRecord {
                token_hash: vec![hash; 32],
                pool_id: POOL.to_owned(),
                client_id: "c1".to_owned(),
                sub: sub.to_owned(),
                origin_jti: format!("jti-{family}"),
                auth_time: T0,
                created_at: T0,
                expires_at: T0 + 10_000,
                revoked_at: None,
                rotated_at: None,
            },
            SignedInAs {
                status: "CONFIRMED",
                password_hash: None,
            },
        )
        .await
        .unwrap();
}

/// What `rotate` answered, by name, and the successor's fields that matter.
fn check(rule: &str, got: &Rotation, expected: &str) {
    let name = match got {
        Rotation::Missing => "missing",
        Rotation::Revoked(_) => "revoked",
        Rotation::Expired(_) => "expired",
        Rotation::Reused(_) => "reused",
        Rotation::Refused(_) => "refused",
        Rotation::Rotated(_) => "rotated",
    };
    assert_eq!(name, expected, "{rule}: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_hands_a_family_down_and_a_reuse_revokes_it() {
    each_backend(async |t: &TestStore| {
        setup(&t.store).await;
        let sub = t
            .store
            .users()
            .create(&new_user("ann", "ann"))
            .await
            .unwrap()
            .sub;
        sign_in(&t.store, &sub, 1, 1).await;
        sign_in(&t.store, &sub, 9, 9).await;
        let tokens = t.store.refresh_tokens();

        let first = tokens
            .rotate(&[1; 32], &[2; 32], T0 + 100, 0)
            .await
            .unwrap();
        check("a live token is rotated", &first, "rotated");
        let Rotation::Rotated(successor) = first else {
            unreachable!()
        };
        assert_eq!(
            (
                successor.origin_jti.as_str(),
                successor.auth_time,
                successor.expires_at,
                successor.created_at
            ),
            ("jti-1", T0, T0 + 10_000, T0 + 100),
            "the successor inherits the family, its auth time and its expiry"
        );
        assert_eq!(
            tokens.get(&[1; 32]).await.unwrap().unwrap().rotated_at,
            Some(T0 + 100)
        );
        check(
            "the successor rotates in turn",
            &tokens
                .rotate(&[2; 32], &[3; 32], T0 + 200, 0)
                .await
                .unwrap(),
            "rotated",
        );
        check(
            "a token unknown is missing",
            &tokens.rotate(&[7; 32], &[8; 32], T0, 0).await.unwrap(),
            "missing",
        );
        check(
            "a rotated token used again without grace is a reuse",
            &tokens
                .rotate(&[1; 32], &[4; 32], T0 + 300, 0)
                .await
                .unwrap(),
            "reused",
        );
        for hash in [1, 2, 3] {
            assert_eq!(
                tokens.get(&[hash; 32]).await.unwrap().unwrap().revoked_at,
                Some(T0 + 300),
                "every token of the family is revoked ({hash})"
            );
        }
        assert!(tokens.get(&[4; 32]).await.unwrap().is_none());
        assert_eq!(
            tokens.get(&[9; 32]).await.unwrap().unwrap().revoked_at,
            None,
            "another sign-in's family is left alone"
        );
        check(
            "a revoked token stays revoked",
            &tokens
                .rotate(&[3; 32], &[5; 32], T0 + 400, 0)
                .await
                .unwrap(),
            "revoked",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_expiry_and_disabled_users() {
    each_backend(async |t: &TestStore| {
        setup(&t.store).await;
        let sub = t
            .store
            .users()
            .create(&new_user("bo", "bo"))
            .await
            .unwrap()
            .sub;
        sign_in(&t.store, &sub, 1, 1).await;
        let tokens = t.store.refresh_tokens();
        check(
            "first rotation",
            &tokens.rotate(&[1; 32], &[2; 32], T0, 5_000).await.unwrap(),
            "rotated",
        );
        check(
            "a retry within the grace period rotates again",
            &tokens
                .rotate(&[1; 32], &[3; 32], T0 + 4_999, 5_000)
                .await
                .unwrap(),
            "rotated",
        );
        assert_eq!(
            tokens.get(&[1; 32]).await.unwrap().unwrap().rotated_at,
            Some(T0),
            "the grace runs from the first rotation"
        );
        check(
            "at the end of the grace period it is a reuse",
            &tokens
                .rotate(&[1; 32], &[4; 32], T0 + 5_000, 5_000)
                .await
                .unwrap(),
            "reused",
        );

        sign_in(&t.store, &sub, 5, 5).await;
        check(
            "an expired token",
            &tokens
                .rotate(&[5; 32], &[6; 32], T0 + 10_000, 0)
                .await
                .unwrap(),
            "expired",
        );
        sign_in(&t.store, &sub, 7, 7).await;
        // Disabling revokes the live tokens; a token of a disabled user that somehow is
        // still live gets no successor either.
        t.store
            .users()
            .set_enabled(POOL, &sub, false, T0 + 1)
            .await
            .unwrap();
        check(
            "a disabled user's token was revoked",
            &tokens.rotate(&[7; 32], &[8; 32], T0 + 2, 0).await.unwrap(),
            "revoked",
        );
        let revoked = tokens.revoke_family(POOL, "jti-7", T0 + 3).await.unwrap();
        assert_eq!(revoked, 0, "nothing live is left in that family");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_keys_are_unique_and_find_their_user() {
    each_backend(async |t: &TestStore| {
        setup(&t.store).await;
        let users = t.store.users();
        users.create(&new_user("Alice", "alice")).await.unwrap();
        let mut twin = new_user("ALICE", "alice");
        twin.sub = "sub-other".to_owned();
        assert!(
            matches!(
                users.create(&twin).await,
                Err(StorageError::Conflict { .. })
            ),
            "two users may not share a key"
        );
        let found = users.get_by_key(POOL, "alice").await.unwrap().unwrap();
        assert_eq!(found.username, "Alice", "the name keeps its case");
        assert!(users.get_by_key(POOL, "Alice").await.unwrap().is_none());
        users.create(&new_user("Alan", "alan")).await.unwrap();
        users.create(&new_user("bob", "bob")).await.unwrap();
        let page = users
            .list(
                POOL,
                &UserQuery {
                    filter: Some(UserFilter::UsernameKey(TextMatch::StartsWith("al".into()))),
                    limit: 1,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.users[0].username, "Alan");
        let rest = users
            .list(
                POOL,
                &UserQuery {
                    filter: Some(UserFilter::UsernameKey(TextMatch::StartsWith("al".into()))),
                    limit: 1,
                    cursor: page.next,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            rest.users
                .iter()
                .map(|u| u.username.as_str())
                .collect::<Vec<_>>(),
            ["Alice"]
        );
        assert!(rest.next.is_none());
        let plan = users
            .explain_list(
                POOL,
                &UserQuery {
                    filter: Some(UserFilter::UsernameKey(TextMatch::Equals("alice".into()))),
                    limit: 10,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        assert!(plan.contains("users_by_username_key"), "{plan}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_writes_attributes_and_status_together_or_not_at_all() {
    each_backend(async |t: &TestStore| {
        setup(&t.store).await;
        let users = t.store.users();
        let mut pending = new_user("cy", "cy");
        pending.status = "UNCONFIRMED".to_owned();
        let sub = users.create(&pending).await.unwrap().sub;
        let verified: BTreeMap<String, String> = [
            ("email".to_owned(), "cy@example.com".to_owned()),
            ("email_verified".to_owned(), "true".to_owned()),
        ]
        .into();
        let alias = [gatehouse_storage::Alias {
            name: "email".to_owned(),
            value: "cy@example.com".to_owned(),
        }];
        users
            .update_attributes_and_status(
                POOL,
                &sub,
                &verified,
                &alias,
                "UNCONFIRMED",
                "CONFIRMED",
                T0 + 1,
            )
            .await
            .unwrap();
        let after = users.get_by_sub(POOL, &sub).await.unwrap().unwrap();
        assert_eq!(
            (after.status.as_str(), &after.attributes, after.updated_at),
            ("CONFIRMED", &verified, T0 + 1)
        );
        assert!(
            users
                .find_by_alias(POOL, "email", "cy@example.com")
                .await
                .unwrap()
                .is_some()
        );
        // A second confirmation finds the status changed: nothing is written.
        let other: BTreeMap<String, String> = [("name".to_owned(), "C".to_owned())].into();
        assert!(matches!(
            users
                .update_attributes_and_status(
                    POOL,
                    &sub,
                    &other,
                    &[],
                    "UNCONFIRMED",
                    "CONFIRMED",
                    T0 + 2
                )
                .await,
            Err(StorageError::NotFound { .. })
        ));
        let unchanged = users.get_by_sub(POOL, &sub).await.unwrap().unwrap();
        assert_eq!(
            (&unchanged.attributes, unchanged.updated_at),
            (&verified, T0 + 1)
        );
        // An alias another user holds rolls the status change back too.
        let mut second = new_user("di", "di");
        second.status = "UNCONFIRMED".to_owned();
        let di = users.create(&second).await.unwrap().sub;
        assert!(matches!(
            users
                .update_attributes_and_status(
                    POOL,
                    &di,
                    &verified,
                    &alias,
                    "UNCONFIRMED",
                    "CONFIRMED",
                    T0 + 3
                )
                .await,
            Err(StorageError::AliasTaken { .. })
        ));
        assert_eq!(
            users.get_by_sub(POOL, &di).await.unwrap().unwrap().status,
            "UNCONFIRMED"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_are_listed_by_region_prefix() {
    each_backend(async |t: &TestStore| {
        for id in [
            "eu-west-1_a",
            "us-east-1_a",
            "us-east-1_b",
            "us-east-10_a",
            "us-west-2_a",
        ] {
            t.store
                .user_pools()
                .create(&NewUserPool {
                    id: id.to_owned(),
                    name: id.to_owned(),
                    config: "{}".to_owned(),
                    created_at: T0,
                    signing_keys: vec![],
                })
                .await
                .unwrap();
        }
        let pools = t.store.user_pools();
        let first = pools.list_with_prefix("us-east-1_", 1, None).await.unwrap();
        let ids = |p: &gatehouse_storage::Page<gatehouse_storage::UserPoolRecord>| {
            p.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&first), ["us-east-1_a"]);
        let rest = pools
            .list_with_prefix("us-east-1_", 10, first.next.as_deref())
            .await
            .unwrap();
        assert_eq!(
            ids(&rest),
            ["us-east-1_b"],
            "`us-east-10_` is another region"
        );
        assert!(rest.next.is_none());
    })
    .await;
}
