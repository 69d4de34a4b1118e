//! SRP verifiers, MFA settings, devices and spent sessions on both backends: what each write
//! keeps, the conditions that make a write a no-op (a verifier written only over the
//! password it came from, a pending secret confirmed only while it is still pending, a TOTP
//! step accepted once, a device confirmed once, a session spent once), cascades from the
//! user, and a TOTP step raced from two stores on one database accepted exactly once.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{
    DeviceRecord, MfaFlags, NewUser, NewUserPool, StorageError, Store, StoreOptions,
};

const T0: i64 = 1_700_000_000_000;
const POOL: &str = "us-east-1_a";

async fn user(store: &Store, username: &str) -> String {
    let _ = store
        .user_pools()
        .create(&NewUserPool {
            id: POOL.into(),
            name: "p".into(),
            config: "{}".into(),
            created_at: T0,
            signing_keys: Vec::new(),
        })
        .await;
    store
        .users()
        .create(&NewUser {
            pool_id: POOL.into(),
            sub: format!("sub-{username}"),
            username: username.into(),
            username_key: username.into(),
            status: "CONFIRMED".into(),
            enabled: true,
            password_hash: Some("hash-1".into()),
            srp_verifier: Some(b"sealed-v1".to_vec()),
            attributes: Default::default(),
            aliases: Vec::new(),
            created_at: T0,
        })
        .await
        .unwrap()
        .sub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srp_verifiers_follow_the_password() {
    each_backend(async |t: &TestStore| {
        let users = t.store.users();
        let sub = user(&t.store, "alice").await;
        let read = async || users.get_by_sub(POOL, &sub).await.unwrap().unwrap();
        assert_eq!(
            read().await.srp_verifier.as_deref(),
            Some(&b"sealed-v1"[..])
        );
        users
            .set_password(
                POOL,
                &sub,
                Some("hash-2"),
                Some(b"sealed-v2"),
                "CONFIRMED",
                T0 + 1,
                false,
            )
            .await
            .unwrap();
        assert_eq!(
            read().await.srp_verifier.as_deref(),
            Some(&b"sealed-v2"[..])
        );
        assert!(
            !users
                .set_srp_verifier(POOL, &sub, "hash-2", b"late")
                .await
                .unwrap(),
            "a user with a verifier keeps it"
        );
        users
            .set_password(POOL, &sub, Some("hash-3"), None, "CONFIRMED", T0 + 2, false)
            .await
            .unwrap();
        assert!(
            !users
                .set_srp_verifier(POOL, &sub, "hash-2", b"stale")
                .await
                .unwrap(),
            "a verifier of an older password is not written"
        );
        assert!(
            users
                .set_srp_verifier(POOL, &sub, "hash-3", b"sealed-v3")
                .await
                .unwrap()
        );
        assert_eq!(
            read().await.srp_verifier.as_deref(),
            Some(&b"sealed-v3"[..])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_tokens_are_confirmed_once_and_steps_accepted_once() {
    each_backend(async |t: &TestStore| {
        let mfa = t.store.mfa();
        let sub = user(&t.store, "alice").await;
        assert_eq!(mfa.get(POOL, &sub).await.unwrap(), None);
        assert!(
            !mfa.accept_totp_step(POOL, &sub, 5).await.unwrap(),
            "no token, no step"
        );
        mfa.set_pending_totp(POOL, &sub, b"secret-1", T0)
            .await
            .unwrap();
        mfa.set_pending_totp(POOL, &sub, b"secret-2", T0 + 1)
            .await
            .unwrap();
        let flags = MfaFlags {
            totp_enabled: true,
            totp_preferred: true,
            ..MfaFlags::default()
        };
        assert!(
            !mfa.confirm_totp(POOL, &sub, b"secret-1", Some("phone"), 10, flags, T0 + 2)
                .await
                .unwrap(),
            "a secret replaced by a newer one is not confirmed"
        );
        assert!(
            mfa.confirm_totp(POOL, &sub, b"secret-2", Some("phone"), 10, flags, T0 + 2)
                .await
                .unwrap()
        );
        let row = mfa.get(POOL, &sub).await.unwrap().unwrap();
        assert_eq!(row.totp_secret.as_deref(), Some(&b"secret-2"[..]));
        assert_eq!(row.totp_pending, None);
        assert_eq!(
            (row.totp_name.as_deref(), row.totp_last_step),
            (Some("phone"), 10)
        );
        assert_eq!(row.flags, flags);
        let cases: &[(&str, i64, bool)] = &[
            ("the step that verified the token is spent", 10, false),
            ("an earlier step is refused", 9, false),
            ("a later step is accepted", 11, true),
            ("and then spent", 11, false),
        ];
        for (rule, step, accepted) in cases {
            assert_eq!(
                mfa.accept_totp_step(POOL, &sub, *step).await.unwrap(),
                *accepted,
                "{rule}"
            );
        }
        let other = MfaFlags {
            email_enabled: true,
            ..MfaFlags::default()
        };
        mfa.set_flags(POOL, &sub, other, T0 + 3).await.unwrap();
        assert_eq!(mfa.get(POOL, &sub).await.unwrap().unwrap().flags, other);
        assert!(matches!(
            mfa.set_flags(POOL, "sub-nobody", other, T0).await,
            Err(StorageError::NotFound { .. })
        ));
        t.store.users().delete(POOL, &sub).await.unwrap();
        assert_eq!(
            mfa.get(POOL, &sub).await.unwrap(),
            None,
            "deleted with the user"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_raced_from_two_stores_is_accepted_once() {
    each_backend(async |t: &TestStore| {
        let sub = user(&t.store, "alice").await;
        let mfa = t.store.mfa();
        mfa.set_pending_totp(POOL, &sub, b"s", T0).await.unwrap();
        mfa.confirm_totp(POOL, &sub, b"s", None, 1, MfaFlags::default(), T0)
            .await
            .unwrap();
        let other = Store::open(t.url(), StoreOptions::default()).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = if i % 2 == 0 {
                t.store.clone()
            } else {
                other.clone()
            };
            let sub = sub.clone();
            tasks.push(tokio::spawn(async move {
                store.mfa().accept_totp_step(POOL, &sub, 7).await.unwrap()
            }));
        }
        let mut accepted = 0;
        for task in tasks {
            accepted += usize::from(task.await.unwrap());
        }
        assert_eq!(accepted, 1);
        other.close().await;
    })
    .await;
}

fn device(sub: &str, key: &str) -> DeviceRecord {
    DeviceRecord {
        device_key: key.into(),
        pool_id: POOL.into(),
        sub: sub.into(),
        group_key: "-group".into(),
        name: None,
        remembered: false,
        verifier: None,
        last_ip: None,
        created_at: T0,
        updated_at: T0,
        last_auth_at: T0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_confirmed_once_listed_and_forgotten() {
    each_backend(async |t: &TestStore| {
        let devices = t.store.devices();
        let alice = user(&t.store, "alice").await;
        let bob = user(&t.store, "bob").await;
        for key in ["us-east-1_c", "us-east-1_a", "us-east-1_b"] {
            devices.create(&device(&alice, key)).await.unwrap();
        }
        devices.create(&device(&bob, "us-east-1_z")).await.unwrap();
        assert!(matches!(
            devices.create(&device(&bob, "us-east-1_a")).await,
            Err(StorageError::Conflict { .. })
        ));
        assert!(matches!(
            devices.create(&device("sub-nobody", "us-east-1_y")).await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(
            devices.get(POOL, &bob, "us-east-1_a").await.unwrap(),
            None,
            "another user's"
        );

        let page = devices.list(POOL, &alice, 2, None).await.unwrap();
        let keys: Vec<_> = page.items.iter().map(|d| d.device_key.as_str()).collect();
        assert_eq!(
            (keys, page.next.as_deref()),
            (vec!["us-east-1_a", "us-east-1_b"], Some("us-east-1_b"))
        );
        let page = devices
            .list(POOL, &alice, 2, page.next.as_deref())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.next, None);

        assert!(
            devices
                .confirm(
                    POOL,
                    &alice,
                    "us-east-1_a",
                    b"v",
                    Some("laptop"),
                    true,
                    T0 + 1
                )
                .await
                .unwrap()
        );
        assert!(
            !devices
                .confirm(POOL, &alice, "us-east-1_a", b"v2", None, true, T0 + 2)
                .await
                .unwrap(),
            "a device is confirmed once"
        );
        assert!(
            !devices
                .confirm(POOL, &bob, "us-east-1_b", b"v", None, true, T0)
                .await
                .unwrap()
        );
        devices
            .record_sign_in(POOL, &alice, "us-east-1_a", Some("127.0.0.1"), T0 + 5)
            .await
            .unwrap();
        let d = devices
            .get(POOL, &alice, "us-east-1_a")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                d.verifier.as_deref(),
                d.name.as_deref(),
                d.remembered,
                d.last_ip.as_deref(),
                d.last_auth_at
            ),
            (
                Some(&b"v"[..]),
                Some("laptop"),
                true,
                Some("127.0.0.1"),
                T0 + 5
            )
        );
        assert!(
            devices
                .set_remembered(POOL, &alice, "us-east-1_a", false, T0 + 6)
                .await
                .unwrap()
        );
        assert!(
            !devices
                .get(POOL, &alice, "us-east-1_a")
                .await
                .unwrap()
                .unwrap()
                .remembered
        );
        assert!(devices.delete(POOL, &alice, "us-east-1_a").await.unwrap());
        assert!(!devices.delete(POOL, &alice, "us-east-1_a").await.unwrap());
        t.store.users().delete(POOL, &alice).await.unwrap();
        assert!(
            devices
                .list(POOL, &alice, 10, None)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(
            devices
                .list(POOL, &bob, 10, None)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_spent_once_and_purged_when_expired() {
    each_backend(async |t: &TestStore| {
        let spent = t.store.spent_sessions();
        assert!(spent.spend("s1", T0 + 100).await.unwrap());
        assert!(
            !spent.spend("s1", T0 + 100).await.unwrap(),
            "a second answer is refused"
        );
        assert!(spent.spend("s2", T0 + 200).await.unwrap());
        assert_eq!(spent.purge_expired(T0 + 100).await.unwrap(), 1);
        assert!(
            !spent.spend("s2", T0 + 200).await.unwrap(),
            "not purged before it expires"
        );
    })
    .await;
}
