//! Identity pools, identities and logins, and the IAM subset on both backends: logins
//! resolve to one identity per pool (created once, merged when several identities meet),
//! deleting a pool takes its identities and logins, role names ignore case, a role with
//! policies and a policy in use cannot be deleted, policy versions are capped, and every IAM
//! write moves the change counter that the policy caches poll. An identity whose last login
//! is unlinked is disabled (never a guest) until a login is linked to it again.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{
    IdentityPoolRecord, ManagedPolicyRecord, OidcProviderRecord, RoleRecord, StorageError,
};

const T0: i64 = 1_700_000_000_000;

fn pool(id: &str) -> IdentityPoolRecord {
    IdentityPoolRecord {
        id: id.into(),
        name: format!("name of {id}"),
        config: "{}".into(),
        created_at: T0,
        updated_at: T0,
    }
}

fn login(provider: &str, subject: &str) -> (String, String) {
    (provider.to_owned(), subject.to_owned())
}

fn role(name: &str) -> RoleRecord {
    RoleRecord {
        name: name.into(),
        role_id: format!("AROA{}", name.to_uppercase()),
        path: "/".into(),
        trust_policy: "{\"trust\":1}".into(),
        description: None,
        max_session_duration: 3600,
        boundary_arn: None,
        tags: "[]".into(),
        created_at: T0,
    }
}

fn policy(arn: &str) -> ManagedPolicyRecord {
    ManagedPolicyRecord {
        arn: arn.into(),
        name: arn.rsplit('/').next().unwrap().into(),
        policy_id: format!("ANPA{}", arn.len()),
        path: "/".into(),
        description: None,
        default_version: "v1".into(),
        next_version: 2,
        tags: "[]".into(),
        created_at: T0,
        updated_at: T0,
        attachments: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_pools_crud_and_listing() {
    each_backend(async |t: &TestStore| {
        let pools = t.store.identity_pools();
        for i in 0..3 {
            pools
                .create(&pool(&format!("us-east-1:p{i}")))
                .await
                .unwrap();
        }
        assert!(matches!(
            pools.create(&pool("us-east-1:p0")).await,
            Err(StorageError::Conflict { .. })
        ));
        let page = pools.list(2, None).await.unwrap();
        assert_eq!(page.items.len(), 2);
        let rest = pools.list(2, page.next.as_deref()).await.unwrap();
        assert_eq!(rest.items.len(), 1);
        assert_eq!(rest.next, None);
        pools
            .update("us-east-1:p1", "renamed", "{\"a\":1}", T0 + 1)
            .await
            .unwrap();
        let read = pools.get("us-east-1:p1").await.unwrap().unwrap();
        assert_eq!(
            (read.name.as_str(), read.config.as_str()),
            ("renamed", "{\"a\":1}")
        );
        assert!(matches!(
            pools.update("us-east-1:nope", "x", "{}", T0).await,
            Err(StorageError::NotFound { .. })
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_resolve_to_one_identity_and_merge() {
    each_backend(async |t: &TestStore| {
        let pools = t.store.identity_pools();
        let p = "us-east-1:pool";
        pools.create(&pool(p)).await.unwrap();
        let alice = login(
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_a",
            "sub-alice",
        );
        let first = pools
            .resolve(p, std::slice::from_ref(&alice), "us-east-1:id-1", T0)
            .await
            .unwrap();
        assert!(first.created);
        assert_eq!(first.identity_id, "us-east-1:id-1");
        // The same login again: the same identity, the new id unused.
        let again = pools
            .resolve(p, std::slice::from_ref(&alice), "us-east-1:id-2", T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            (again.identity_id.as_str(), again.created),
            ("us-east-1:id-1", false)
        );
        assert_eq!(pools.get_identity("us-east-1:id-2").await.unwrap(), None);
        // A second login with its own identity, then both together: merged into the first.
        let dev = login("login.example", "dev-alice");
        let second = pools
            .resolve(p, std::slice::from_ref(&dev), "us-east-1:id-3", T0 + 2)
            .await
            .unwrap();
        assert_eq!(second.identity_id, "us-east-1:id-3");
        let merged = pools
            .resolve(p, &[alice.clone(), dev.clone()], "us-east-1:id-4", T0 + 3)
            .await
            .unwrap();
        assert_eq!(merged.identity_id, "us-east-1:id-1");
        assert_eq!(merged.merged, vec!["us-east-1:id-3".to_owned()]);
        assert_eq!(pools.get_identity("us-east-1:id-3").await.unwrap(), None);
        let identity = pools.get_identity("us-east-1:id-1").await.unwrap().unwrap();
        assert_eq!(identity.logins, vec![alice.clone(), dev.clone()]);
        assert_eq!(
            pools
                .find_login(p, &dev.0, &dev.1)
                .await
                .unwrap()
                .as_deref(),
            Some("us-east-1:id-1")
        );
        // Unlinking one login leaves the other.
        assert_eq!(
            pools
                .unlink("us-east-1:id-1", std::slice::from_ref(&dev), T0 + 4)
                .await
                .unwrap(),
            1
        );
        assert_eq!(pools.find_login(p, &dev.0, &dev.1).await.unwrap(), None);
        // Guests, listing, deleting.
        pools
            .create_identity(p, "us-east-1:guest", T0)
            .await
            .unwrap();
        let listed = pools.list_identities(p, 10, None, false).await.unwrap();
        assert_eq!(listed.items.len(), 2);
        let logins: Vec<_> = listed.items.iter().map(|i| i.logins.clone()).collect();
        assert_eq!(
            logins,
            vec![vec![], vec![alice.clone()]],
            "listed with their logins"
        );
        let missing = pools
            .delete_identities(&["us-east-1:guest".into(), "us-east-1:ghost".into()])
            .await
            .unwrap();
        assert_eq!(missing, vec!["us-east-1:ghost".to_owned()]);
        // Deleting the pool takes the identities and their logins.
        pools.delete(p).await.unwrap();
        assert_eq!(pools.get_identity("us-east-1:id-1").await.unwrap(), None);
        assert_eq!(pools.find_login(p, &alice.0, &alice.1).await.unwrap(), None);
        assert!(matches!(
            pools.create_identity(p, "us-east-1:late", T0).await,
            Err(StorageError::NotFound { .. })
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_to_an_identity_and_unlinking_its_last_login_disables_it() {
    each_backend(async |t: &TestStore| {
        let pools = t.store.identity_pools();
        let p = "us-east-1:devpool";
        pools.create(&pool(p)).await.unwrap();
        pools.create(&pool("us-east-1:other")).await.unwrap();
        let dev = login("login.example", "dev-1");
        let dev2 = login("login.example", "dev-2");
        let id = pools
            .resolve(p, std::slice::from_ref(&dev), "us-east-1:d-1", T0)
            .await
            .unwrap()
            .identity_id;
        let other = pools
            .resolve(p, std::slice::from_ref(&dev2), "us-east-1:d-2", T0)
            .await
            .unwrap()
            .identity_id;
        pools
            .create_identity(p, "us-east-1:guest", T0)
            .await
            .unwrap();
        // A login another identity holds is a conflict, and nothing of the call is linked.
        let fresh = login("login.example", "dev-3");
        assert!(matches!(
            pools
                .link(p, &id, &[fresh.clone(), dev2.clone()], T0 + 1)
                .await,
            Err(StorageError::Conflict { .. })
        ));
        assert_eq!(pools.find_login(p, &fresh.0, &fresh.1).await.unwrap(), None);
        // An identity of another pool, or none at all, is not found.
        for (pool_id, identity) in [("us-east-1:other", id.as_str()), (p, "us-east-1:ghost")] {
            assert!(matches!(
                pools
                    .link(pool_id, identity, std::slice::from_ref(&fresh), T0)
                    .await,
                Err(StorageError::NotFound { .. })
            ));
        }
        // Unlinking a login the identity does not have changes nothing.
        assert_eq!(
            pools
                .unlink(&id, std::slice::from_ref(&dev2), T0 + 2)
                .await
                .unwrap(),
            0
        );
        assert!(!pools.get_identity(&other).await.unwrap().unwrap().disabled);
        // The last login gone: disabled, and hidden from listings that ask.
        assert_eq!(
            pools
                .unlink(&id, std::slice::from_ref(&dev), T0 + 3)
                .await
                .unwrap(),
            1
        );
        let gone = pools.get_identity(&id).await.unwrap().unwrap();
        assert!(gone.disabled && gone.logins.is_empty());
        let ids = |page: gatehouse_storage::Page<gatehouse_storage::IdentityRecord>| {
            page.items.into_iter().map(|i| i.id).collect::<Vec<_>>()
        };
        let all = ids(pools.list_identities(p, 10, None, false).await.unwrap());
        assert_eq!(
            all,
            vec![id.clone(), other.clone(), "us-east-1:guest".to_owned()]
        );
        let shown = ids(pools.list_identities(p, 10, None, true).await.unwrap());
        assert_eq!(shown, vec![other.clone(), "us-east-1:guest".to_owned()]);
        // Pages of one skip the disabled identity too.
        let first = pools.list_identities(p, 1, None, true).await.unwrap();
        let next = first.next.clone();
        assert_eq!(ids(first), vec![other.clone()]);
        let second = pools
            .list_identities(p, 1, next.as_deref(), true)
            .await
            .unwrap();
        assert_eq!(ids(second), vec!["us-east-1:guest".to_owned()]);
        // Linking a login again enables it.
        pools
            .link(p, &id, std::slice::from_ref(&fresh), T0 + 4)
            .await
            .unwrap();
        let back = pools.get_identity(&id).await.unwrap().unwrap();
        assert_eq!((back.disabled, back.logins), (false, vec![fresh]));
        // Guests are never disabled.
        assert!(
            !pools
                .get_identity("us-east-1:guest")
                .await
                .unwrap()
                .unwrap()
                .disabled
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_roles_policies_and_the_change_counter() {
    each_backend(async |t: &TestStore| {
        let iam = t.store.iam();
        let v0 = iam.version().await.unwrap();
        iam.create_role(&role("Reader")).await.unwrap();
        assert!(
            iam.version().await.unwrap() > v0,
            "a write moves the counter"
        );
        assert!(matches!(
            iam.create_role(&role("READER")).await,
            Err(StorageError::Conflict { .. })
        ));
        assert_eq!(
            iam.get_role("reader").await.unwrap().unwrap().name,
            "Reader"
        );

        iam.put_role_policy("Reader", "inline", "{\"v\":1}")
            .await
            .unwrap();
        iam.put_role_policy("Reader", "inline", "{\"v\":2}")
            .await
            .unwrap();
        assert_eq!(
            iam.get_role_policy("Reader", "inline")
                .await
                .unwrap()
                .as_deref(),
            Some("{\"v\":2}")
        );
        assert!(matches!(
            iam.put_role_policy("Ghost", "inline", "{}").await,
            Err(StorageError::NotFound { .. })
        ));

        let arn = "arn:aws:iam::000000000000:policy/Managed";
        iam.create_policy(&policy(arn), "{\"d\":1}").await.unwrap();
        let v2 = iam
            .create_policy_version(arn, "{\"d\":2}", true, 2, T0 + 1)
            .await
            .unwrap();
        assert_eq!(v2, "v2");
        assert!(matches!(
            iam.create_policy_version(arn, "{\"d\":3}", false, 2, T0 + 2)
                .await,
            Err(StorageError::Conflict { .. })
        ));
        assert_eq!(
            iam.get_policy(arn).await.unwrap().unwrap().default_version,
            "v2"
        );
        iam.attach_role_policy("Reader", arn).await.unwrap();
        iam.attach_role_policy("Reader", arn).await.unwrap();
        assert_eq!(iam.get_policy(arn).await.unwrap().unwrap().attachments, 1);
        assert!(matches!(
            iam.attach_role_policy("Reader", "arn:aws:iam::000000000000:policy/None")
                .await,
            Err(StorageError::NotFound { .. })
        ));

        let snapshot = iam.snapshot().await.unwrap();
        assert_eq!(snapshot.version, iam.version().await.unwrap());
        assert_eq!(snapshot.roles.len(), 1);
        assert_eq!(
            snapshot.role_policies,
            vec![("Reader".into(), "inline".into(), "{\"v\":2}".into())]
        );
        assert_eq!(snapshot.attachments, vec![("Reader".into(), arn.into())]);
        assert_eq!(snapshot.policies.len(), 1);
        assert_eq!(
            snapshot.policies[0].1, "{\"d\":2}",
            "the default version's document"
        );

        // In use: neither the role nor the policy can go.
        assert!(matches!(
            iam.delete_policy(arn).await,
            Err(StorageError::Conflict { .. })
        ));
        assert!(matches!(
            iam.delete_role("Reader").await,
            Err(StorageError::Conflict { .. })
        ));
        iam.detach_role_policy("Reader", arn).await.unwrap();
        iam.delete_role_policy("Reader", "inline").await.unwrap();
        assert!(matches!(
            iam.delete_role_policy("Reader", "inline").await,
            Err(StorageError::NotFound { .. })
        ));
        iam.delete_role("reader").await.unwrap();
        iam.delete_policy(arn).await.unwrap();
        assert_eq!(iam.list_policy_versions(arn).await.unwrap(), vec![]);

        let provider = OidcProviderRecord {
            arn: "arn:aws:iam::000000000000:oidc-provider/issuer.example".into(),
            url: "issuer.example".into(),
            client_ids: "[\"app\"]".into(),
            thumbprints: "[]".into(),
            tags: "[]".into(),
            created_at: T0,
        };
        iam.create_oidc_provider(&provider).await.unwrap();
        assert!(matches!(
            iam.create_oidc_provider(&provider).await,
            Err(StorageError::Conflict { .. })
        ));
        assert_eq!(
            iam.list_oidc_providers().await.unwrap(),
            vec![provider.clone()]
        );
        iam.delete_oidc_provider(&provider.arn).await.unwrap();
        assert_eq!(iam.get_oidc_provider(&provider.arn).await.unwrap(), None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principal_tag_maps_are_kept_per_pool_and_provider() {
    use gatehouse_storage::TagMapRecord;
    each_backend(async |t: &TestStore| {
        let pools = t.store.identity_pools();
        pools.create(&pool("us-east-1:tags")).await.unwrap();
        pools.create(&pool("us-east-1:other")).await.unwrap();
        let map = |pool_id: &str, provider: &str, use_defaults: bool, tags: &str| TagMapRecord {
            pool_id: pool_id.into(),
            provider: provider.into(),
            use_defaults,
            tags: tags.into(),
            updated_at: T0,
        };
        assert!(pools.tag_maps("us-east-1:tags").await.unwrap().is_empty());
        pools
            .put_tag_map(&map("us-east-1:tags", "b.example", true, "{}"))
            .await
            .unwrap();
        pools
            .put_tag_map(&map(
                "us-east-1:tags",
                "a.example",
                false,
                r#"{"team":"dept"}"#,
            ))
            .await
            .unwrap();
        pools
            .put_tag_map(&map("us-east-1:other", "a.example", true, "{}"))
            .await
            .unwrap();
        // A second put replaces the first.
        pools
            .put_tag_map(&map("us-east-1:tags", "b.example", false, r#"{"x":"y"}"#))
            .await
            .unwrap();
        assert_eq!(
            pools.tag_maps("us-east-1:tags").await.unwrap(),
            vec![
                map("us-east-1:tags", "a.example", false, r#"{"team":"dept"}"#),
                map("us-east-1:tags", "b.example", false, r#"{"x":"y"}"#),
            ]
        );
        assert!(matches!(
            pools
                .put_tag_map(&map("us-east-1:none", "a.example", true, "{}"))
                .await,
            Err(StorageError::NotFound { .. })
        ));
        assert!(
            pools
                .delete_tag_map("us-east-1:tags", "a.example")
                .await
                .unwrap()
        );
        assert!(
            !pools
                .delete_tag_map("us-east-1:tags", "a.example")
                .await
                .unwrap()
        );
        // Deleting a pool takes its maps, and only its own.
        pools.delete("us-east-1:tags").await.unwrap();
        assert!(pools.tag_maps("us-east-1:tags").await.unwrap().is_empty());
        assert_eq!(pools.tag_maps("us-east-1:other").await.unwrap().len(), 1);
        pools.create(&pool("us-east-1:tags")).await.unwrap();
        assert!(pools.tag_maps("us-east-1:tags").await.unwrap().is_empty());
    })
    .await;
}
