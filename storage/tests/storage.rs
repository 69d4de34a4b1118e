//! Storage tests: every test body runs on a fresh SQLite file and on a fresh PostgreSQL
//! database (`each_backend`), so both backends keep one behaviour.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use std::collections::BTreeMap;

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{
    Alias, Backend, ClientRecord, CodeAttempt, CodeRecord, GroupRecord, KeyPurpose, NewImportJob,
    NewUser, NewUserPool, RefreshTokenRecord, SignedInAs, SigningKeyRecord, StorageError, Store,
    StoreOptions, TextMatch, UserCursor, UserFilter, UserQuery,
};

const T0: i64 = 1_700_000_000_000;
/// The password hash of every user [`new_user`] makes.
const PASSWORD_HASH: &str = "$argon2id$v=19$hash";
/// What a sign-in checked of a user [`new_user`] made.
const SIGNED_IN: SignedInAs<'static> = SignedInAs {
    status: "CONFIRMED",
    password_hash: Some(PASSWORD_HASH),
};

// === fixtures ===

fn key(pool: &str, kid: &str, purpose: KeyPurpose) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        pool_id: pool.to_owned(),
        purpose,
        algorithm: "RS256".to_owned(),
        private_key: vec![1, 2, 3, 0, 255],
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        created_at: T0,
        retired_at: None,
        not_after: None,
    }
}

async fn pool(store: &Store, id: &str) {
    store
        .user_pools()
        .create(&NewUserPool {
            id: id.to_owned(),
            name: format!("{id} name"),
            config: r#"{"mfa":"OFF"}"#.to_owned(),
            created_at: T0,
            signing_keys: vec![],
        })
        .await
        .unwrap();
}

async fn client(store: &Store, pool: &str, id: &str) {
    store
        .clients()
        .create(&ClientRecord {
            id: id.to_owned(),
            pool_id: pool.to_owned(),
            name: "app".to_owned(),
            secret: Some(vec![9; 32]),
            config: "{}".to_owned(),
            created_at: T0,
            updated_at: T0,
        })
        .await
        .unwrap();
}

fn new_user(pool: &str, username: &str, email: Option<&str>) -> NewUser {
    let mut attributes = BTreeMap::new();
    if let Some(email) = email {
        attributes.insert("email".to_owned(), email.to_owned());
    }
    attributes.insert("custom:team".to_owned(), "blue".to_owned());
    NewUser {
        pool_id: pool.to_owned(),
        sub: format!("sub-{pool}-{username}"),
        username: username.to_owned(),
        username_key: username.to_owned(),
        status: "CONFIRMED".to_owned(),
        enabled: true,
        password_hash: Some(PASSWORD_HASH.to_owned()),
        srp_verifier: None,
        attributes,
        aliases: email
            .map(|e| {
                vec![Alias {
                    name: "email".to_owned(),
                    value: e.to_owned(),
                }]
            })
            .unwrap_or_default(),
        created_at: T0,
    }
}

async fn user(store: &Store, pool: &str, username: &str, email: Option<&str>) -> String {
    store
        .users()
        .create(&new_user(pool, username, email))
        .await
        .unwrap()
        .sub
}

fn refresh(pool: &str, client: &str, sub: &str, hash: u8) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: vec![hash; 32],
        pool_id: pool.to_owned(),
        client_id: client.to_owned(),
        sub: sub.to_owned(),
        origin_jti: format!("jti-{hash}"),
        auth_time: T0,
        created_at: T0,
        expires_at: T0 + 1_000,
        revoked_at: None,
        rotated_at: None,
    }
}

fn code(pool: &str, sub: &str, purpose: &str, attempts: i64) -> CodeRecord {
    CodeRecord {
        pool_id: pool.to_owned(),
        sub: sub.to_owned(),
        purpose: purpose.to_owned(),
        code_hash: vec![7; 32],
        data: Some("new@example.com".to_owned()),
        expires_at: T0 + 86_400_000,
        attempts_left: attempts,
        created_at: T0,
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StorageError>, expected: &str) {
    match result {
        Err(StorageError::Conflict { what }) => assert_eq!(what, expected),
        other => panic!("expected a conflict on {expected}, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StorageError>, expected: &str) {
    match result {
        Err(StorageError::NotFound { what }) => assert_eq!(what, expected),
        other => panic!("expected {expected} not found, got {other:?}"),
    }
}

// === opening and migrations ===

async fn again_version(t: &TestStore) -> i64 {
    t.store.applied_schema_version().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_a_whole_database_on_sqlite_and_pg_dump_on_postgresql() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_backup").await;
        assert!(t.store.integrity_problems().await.unwrap().is_empty());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("copy.db");
        let result = t.store.backup_into(file.to_str().unwrap()).await;
        match t.backend() {
            Backend::Sqlite => {
                result.unwrap();
                let copy = Store::open(
                    &format!("sqlite://{}", file.display()),
                    StoreOptions::default(),
                )
                .await
                .unwrap();
                assert!(
                    copy.user_pools()
                        .get("us-east-1_backup")
                        .await
                        .unwrap()
                        .is_some()
                );
                assert!(copy.integrity_problems().await.unwrap().is_empty());
                copy.close().await;
            }
            Backend::Postgres => {
                assert!(matches!(result, Err(StorageError::Invalid { .. })));
                assert!(!file.exists());
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_upload_is_single_use_scoped_and_expires() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_imports").await;
        let jobs = t.store.import_jobs();
        for (id, hash) in [("import-a", "hash-a"), ("import-b", "hash-b")] {
            jobs.create(&NewImportJob {
                job_id: id.into(),
                pool_id: "us-east-1_imports".into(),
                job_name: id.into(),
                role_arn: "arn:aws:iam::000000000000:role/x".into(),
                status: "Created".into(),
                upload_hash: hash.into(),
                upload_expires: 1_000,
                created_at: 0,
            })
            .await
            .unwrap();
        }
        // Another job's token, an expired one, then the right one once.
        assert!(
            !jobs
                .upload("import-a", "hash-b", b"x", "Created", 10)
                .await
                .unwrap()
        );
        assert!(
            !jobs
                .upload("import-a", "hash-a", b"x", "Created", 1_000)
                .await
                .unwrap()
        );
        assert!(
            jobs.upload("import-a", "hash-a", b"csv", "Created", 10)
                .await
                .unwrap()
        );
        assert!(
            !jobs
                .upload("import-a", "hash-a", b"again", "Created", 10)
                .await
                .unwrap()
        );
        assert!(
            !jobs
                .upload("import-a", "", b"again", "Created", 10)
                .await
                .unwrap()
        );
        // The file is handed out once, to whoever moves the job on first.
        let csv = jobs.take_csv("us-east-1_imports", "import-a", "Created", "InProgress", 20);
        assert_eq!(csv.await.unwrap().as_deref(), Some(&b"csv"[..]));
        let twice = jobs.take_csv("us-east-1_imports", "import-a", "Created", "InProgress", 20);
        assert_eq!(twice.await.unwrap(), None);
        let none = jobs.take_csv("us-east-1_imports", "import-b", "Created", "InProgress", 20);
        assert_eq!(none.await.unwrap(), None, "no upload, no run");
        let job = jobs
            .get("us-east-1_imports", "import-a")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (job.status.as_str(), job.uploaded, job.started_at),
            ("InProgress", true, Some(20))
        );
        assert!(
            jobs.get("us-east-1_other", "import-a")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_job_needs_its_pool_and_runs_on_one_node_only() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_once").await;
        let jobs = t.store.import_jobs();
        let job = |pool_id: &str| NewImportJob {
            job_id: "import-once".into(),
            pool_id: pool_id.into(),
            job_name: "once".into(),
            role_arn: "arn:aws:iam::000000000000:role/x".into(),
            status: "Created".into(),
            upload_hash: "hash-once".into(),
            upload_expires: 1_000,
            created_at: 0,
        };
        assert_not_found(
            jobs.create(&job("us-east-1_none")).await,
            "pool `us-east-1_none`",
        );
        let created = jobs.create(&job("us-east-1_once")).await.unwrap();
        assert_eq!(
            (created.status.as_str(), created.uploaded, created.imported),
            ("Created", false, 0)
        );
        assert!(
            jobs.upload("import-once", "hash-once", b"csv", "Created", 10)
                .await
                .unwrap()
        );
        // Another node has moved the job on and not committed yet when this one starts it:
        // this one waits, then finds the job taken.
        let mut other = Held::begin(t).await;
        other
            .execute(
                "UPDATE user_import_jobs SET status = 'InProgress' WHERE job_id = $1",
                &[Bind::Text("import-once")],
            )
            .await;
        let store = t.store.clone();
        let take = tokio::spawn(async move {
            store
                .import_jobs()
                .take_csv("us-east-1_once", "import-once", "Created", "InProgress", 20)
                .await
        });
        finished_or_waiting(t, &take).await;
        other.commit().await;
        assert_eq!(take.await.unwrap().unwrap(), None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_applies_no_migration_twice_and_keeps_data() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_reopen").await;
        let again = Store::open(t.url(), StoreOptions::default()).await.unwrap();
        assert_eq!(again.backend(), t.backend());
        assert!(
            again
                .user_pools()
                .get("us-east-1_reopen")
                .await
                .unwrap()
                .is_some()
        );
        again.close().await;
        assert_eq!(
            Store::schema_version(),
            17,
            "migrations 0001 to 0009 and 0011 to 0017"
        );
        assert_eq!(again_version(t).await, 17);
    })
    .await;
}

#[tokio::test]
async fn sqlite_creates_missing_parent_folders_and_rejects_unknown_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/data.db");
    let store = Store::open(
        &format!("sqlite://{}", path.display()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store.close().await;
    assert!(path.exists());
    assert!(matches!(
        Store::open("mysql://localhost/x", StoreOptions::default()).await,
        Err(StorageError::Invalid { .. })
    ));
}

// === user pools and clients ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_pool_crud_and_pagination() {
    each_backend(async |t: &TestStore| {
        let pools = t.store.user_pools();
        for i in 0..5 {
            pool(&t.store, &format!("us-east-1_p{i}")).await;
        }
        let got = pools.get("us-east-1_p3").await.unwrap().unwrap();
        assert_eq!(
            (got.name.as_str(), got.config.as_str()),
            ("us-east-1_p3 name", r#"{"mfa":"OFF"}"#)
        );
        assert_eq!(pools.get("us-east-1_none").await.unwrap(), None);

        let first = pools.list(2, None).await.unwrap();
        assert_eq!(
            first
                .items
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>(),
            ["us-east-1_p0", "us-east-1_p1"]
        );
        let second = pools.list(2, first.next.as_deref()).await.unwrap();
        assert_eq!(
            second
                .items
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>(),
            ["us-east-1_p2", "us-east-1_p3"]
        );
        let last = pools.list(2, second.next.as_deref()).await.unwrap();
        assert_eq!(last.items.len(), 1);
        assert_eq!(last.next, None);

        pools
            .update("us-east-1_p1", "renamed", "{}", T0 + 5)
            .await
            .unwrap();
        let updated = pools.get("us-east-1_p1").await.unwrap().unwrap();
        assert_eq!(
            (
                updated.name.as_str(),
                updated.created_at,
                updated.updated_at
            ),
            ("renamed", T0, T0 + 5)
        );
        assert_not_found(
            pools.update("us-east-1_x", "n", "{}", T0).await,
            "user pool `us-east-1_x`",
        );

        assert_conflict(
            pools
                .create(&NewUserPool {
                    id: "us-east-1_p0".to_owned(),
                    name: "dup".to_owned(),
                    config: "{}".to_owned(),
                    created_at: T0,
                    signing_keys: vec![],
                })
                .await,
            "user pool `us-east-1_p0`",
        );
        pools.delete("us-east-1_p0").await.unwrap();
        assert_not_found(
            pools.delete("us-east-1_p0").await,
            "user pool `us-east-1_p0`",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_whose_keys_fail_to_insert_is_not_created() {
    each_backend(async |t: &TestStore| {
        let pool_id = "us-east-1_keys";
        let result = t
            .store
            .user_pools()
            .create(&NewUserPool {
                id: pool_id.to_owned(),
                name: "n".to_owned(),
                config: "{}".to_owned(),
                created_at: T0,
                signing_keys: vec![
                    key(pool_id, "k1", KeyPurpose::Id),
                    key(pool_id, "k1", KeyPurpose::Access),
                ],
            })
            .await;
        assert_conflict(result, "signing key `k1`");
        assert_eq!(t.store.user_pools().get(pool_id).await.unwrap(), None);
        assert!(
            t.store
                .signing_keys()
                .list(pool_id)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_crud() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_a").await;
        let clients = t.store.clients();
        for id in ["c2", "c1", "c3"] {
            client(&t.store, "us-east-1_a", id).await;
        }
        let got = clients.get("c1").await.unwrap().unwrap();
        assert_eq!(
            (got.pool_id.as_str(), got.secret.as_deref()),
            ("us-east-1_a", Some(&[9u8; 32][..]))
        );
        let page = clients.list("us-east-1_a", 2, None).await.unwrap();
        assert_eq!(
            page.items.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["c1", "c2"]
        );
        assert_eq!(page.next.as_deref(), Some("c2"));

        let mut dup = got.clone();
        dup.pool_id = "us-east-1_a".to_owned();
        assert_conflict(clients.create(&dup).await, "client `c1`");
        dup.id = "c9".to_owned();
        dup.pool_id = "us-east-1_missing".to_owned();
        assert_not_found(clients.create(&dup).await, "user pool `us-east-1_missing`");

        clients
            .update("us-east-1_a", "c1", "web", r#"{"x":1}"#, T0 + 1)
            .await
            .unwrap();
        assert_eq!(clients.get("c1").await.unwrap().unwrap().name, "web");
        assert_not_found(
            clients
                .update("us-east-1_other", "c1", "web", "{}", T0)
                .await,
            "client `c1`",
        );
        clients.delete("us-east-1_a", "c1").await.unwrap();
        assert_eq!(clients.get("c1").await.unwrap(), None);
    })
    .await;
}

// === users ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_found_by_username_sub_and_alias() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_a").await;
        pool(&t.store, "us-east-1_b").await;
        let users = t.store.users();
        let created = users
            .create(&new_user("us-east-1_a", "alice", Some("alice@example.com")))
            .await
            .unwrap();

        let by_name = users.get("us-east-1_a", "alice").await.unwrap().unwrap();
        assert_eq!(by_name, created);
        assert_eq!(
            by_name.attributes.get("custom:team").map(String::as_str),
            Some("blue")
        );
        assert_eq!(
            users
                .get_by_sub("us-east-1_a", &created.sub)
                .await
                .unwrap()
                .unwrap()
                .username,
            "alice"
        );
        assert_eq!(
            users
                .find_by_alias("us-east-1_a", "email", "alice@example.com")
                .await
                .unwrap()
                .unwrap()
                .sub,
            created.sub
        );
        // Nothing leaks across pools, and usernames are case-sensitive.
        assert_eq!(users.get("us-east-1_b", "alice").await.unwrap(), None);
        assert_eq!(
            users.get_by_sub("us-east-1_b", &created.sub).await.unwrap(),
            None
        );
        assert_eq!(
            users
                .find_by_alias("us-east-1_b", "email", "alice@example.com")
                .await
                .unwrap(),
            None
        );
        assert_eq!(users.get("us-east-1_a", "Alice").await.unwrap(), None);
        assert_eq!(
            users
                .aliases("us-east-1_a", &created.sub)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(users.count("us-east-1_a").await.unwrap(), 1);
        assert_eq!(users.count("us-east-1_b").await.unwrap(), 0);

        // The same username and email are fine in another pool.
        users
            .create(&new_user("us-east-1_b", "alice", Some("alice@example.com")))
            .await
            .unwrap();
        assert_not_found(
            users
                .create(&new_user("us-east-1_missing", "alice", None))
                .await,
            "user pool `us-east-1_missing`",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_and_alias_conflicts_write_nothing() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_a").await;
        let users = t.store.users();
        user(&t.store, "us-east-1_a", "alice", Some("alice@example.com")).await;

        let mut same_name = new_user("us-east-1_a", "alice", Some("other@example.com"));
        same_name.sub = "another-sub".to_owned();
        assert_conflict(users.create(&same_name).await, "user `alice`");
        assert_eq!(
            users
                .find_by_alias("us-east-1_a", "email", "other@example.com")
                .await
                .unwrap(),
            None
        );

        // The user row goes in first and the alias fails: the transaction leaves neither.
        match users
            .create(&new_user("us-east-1_a", "bob", Some("alice@example.com")))
            .await
        {
            Err(StorageError::AliasTaken { name, value }) => {
                assert_eq!(
                    (name.as_str(), value.as_str()),
                    ("email", "alice@example.com")
                );
            }
            other => panic!("expected AliasTaken, got {other:?}"),
        }
        assert_eq!(users.get("us-east-1_a", "bob").await.unwrap(), None);
        assert_eq!(users.count("us-east-1_a").await.unwrap(), 1);

        // A batch is all or nothing too.
        let batch = [
            new_user("us-east-1_a", "carol", None),
            new_user("us-east-1_a", "alice", None),
        ];
        assert!(users.create_many(&batch).await.is_err());
        assert_eq!(users.get("us-east-1_a", "carol").await.unwrap(), None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_attributes_replaces_aliases_and_search_rows() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_a").await;
        let users = t.store.users();
        let alice = user(&t.store, "us-east-1_a", "alice", Some("alice@example.com")).await;
        user(&t.store, "us-east-1_a", "bob", Some("bob@example.com")).await;

        let mut attributes = BTreeMap::new();
        attributes.insert("email".to_owned(), "alice@new.example".to_owned());
        attributes.insert("given_name".to_owned(), "Alice".to_owned());
        let aliases = [Alias {
            name: "email".to_owned(),
            value: "alice@new.example".to_owned(),
        }];
        users
            .update_attributes("us-east-1_a", &alice, &attributes, &aliases, T0 + 10)
            .await
            .unwrap();

        let stored = users.get("us-east-1_a", "alice").await.unwrap().unwrap();
        assert_eq!(
            (stored.attributes, stored.updated_at),
            (attributes.clone(), T0 + 10)
        );
        assert_eq!(
            users
                .find_by_alias("us-east-1_a", "email", "alice@example.com")
                .await
                .unwrap(),
            None
        );
        assert!(
            users
                .find_by_alias("us-east-1_a", "email", "alice@new.example")
                .await
                .unwrap()
                .is_some()
        );
        let filter = |name: &str, value: &str| UserQuery {
            filter: Some(UserFilter::Attribute {
                name: name.to_owned(),
                matches: TextMatch::Equals(value.to_owned()),
            }),
            limit: 10,
            cursor: None,
        };
        assert!(
            users
                .list("us-east-1_a", &filter("email", "alice@example.com"))
                .await
                .unwrap()
                .users
                .is_empty()
        );
        assert_eq!(
            users
                .list("us-east-1_a", &filter("given_name", "Alice"))
                .await
                .unwrap()
                .users
                .len(),
            1
        );

        // Taking bob's email fails and changes nothing.
        let mut stolen = attributes.clone();
        stolen.insert("email".to_owned(), "bob@example.com".to_owned());
        let stolen_alias = [Alias {
            name: "email".to_owned(),
            value: "bob@example.com".to_owned(),
        }];
        assert!(matches!(
            users
                .update_attributes("us-east-1_a", &alice, &stolen, &stolen_alias, T0 + 20)
                .await,
            Err(StorageError::AliasTaken { .. })
        ));
        let unchanged = users.get("us-east-1_a", "alice").await.unwrap().unwrap();
        assert_eq!(
            (unchanged.attributes, unchanged.updated_at),
            (attributes, T0 + 10)
        );
        assert!(
            users
                .find_by_alias("us-east-1_a", "email", "alice@new.example")
                .await
                .unwrap()
                .is_some()
        );

        assert_not_found(
            users
                .update_attributes("us-east-1_a", "nobody", &BTreeMap::new(), &[], T0)
                .await,
            "user `nobody`",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_password_and_enabled_changes() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_a").await;
        client(&t.store, "us-east-1_a", "c1").await;
        let users = t.store.users();
        let sub = user(&t.store, "us-east-1_a", "alice", None).await;
        t.store
            .refresh_tokens()
            .insert(&refresh("us-east-1_a", "c1", &sub, 1), SIGNED_IN)
            .await
            .unwrap();

        users
            .set_status("us-east-1_a", &sub, "UNCONFIRMED", T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            users
                .set_password(
                    "us-east-1_a",
                    &sub,
                    None,
                    None,
                    "RESET_REQUIRED",
                    T0 + 2,
                    false
                )
                .await
                .unwrap(),
            Vec::<String>::new(),
            "a password change without revocation leaves the sessions alone"
        );
        assert_eq!(
            t.store
                .refresh_tokens()
                .get(&[1; 32])
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            None
        );
        let u = users
            .get_by_sub("us-east-1_a", &sub)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (u.status.as_str(), u.password_hash, u.updated_at),
            ("RESET_REQUIRED", None, T0 + 2)
        );

        assert_eq!(
            users
                .set_enabled("us-east-1_a", &sub, false, T0 + 3)
                .await
                .unwrap(),
            vec!["jti-1".to_owned()],
            "disabling names the sign-ins it ended"
        );
        assert!(
            !users
                .get_by_sub("us-east-1_a", &sub)
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
        let token = t
            .store
            .refresh_tokens()
            .get(&[1; 32])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            token.revoked_at,
            Some(T0 + 3),
            "disabling a user revokes its refresh tokens"
        );
        assert_eq!(
            users
                .set_enabled("us-east-1_a", &sub, true, T0 + 4)
                .await
                .unwrap(),
            Vec::<String>::new()
        );
        assert!(
            users
                .get_by_sub("us-east-1_a", &sub)
                .await
                .unwrap()
                .unwrap()
                .enabled
        );

        // A password reset revokes the live refresh tokens in the same transaction.
        t.store
            .refresh_tokens()
            .insert(
                &refresh("us-east-1_a", "c1", &sub, 2),
                SignedInAs {
                    status: "RESET_REQUIRED",
                    password_hash: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            users
                .set_password(
                    "us-east-1_a",
                    &sub,
                    Some("h"),
                    None,
                    "CONFIRMED",
                    T0 + 5,
                    true
                )
                .await
                .unwrap(),
            vec!["jti-2".to_owned()]
        );
        t.store
            .refresh_tokens()
            .insert(
                &refresh("us-east-1_a", "c1", &sub, 3),
                SignedInAs {
                    status: "CONFIRMED",
                    password_hash: Some("h"),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            users
                .set_status_and_revoke("us-east-1_a", &sub, "RESET_REQUIRED", T0 + 6)
                .await
                .unwrap(),
            vec!["jti-3".to_owned()]
        );
        for (hash, at) in [(2, T0 + 5), (3, T0 + 6)] {
            let token = t.store.refresh_tokens().get(&[hash; 32]).await.unwrap();
            assert_eq!(token.unwrap().revoked_at, Some(at));
        }
        let u = users
            .get_by_sub("us-east-1_a", &sub)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.status, "RESET_REQUIRED");

        assert_not_found(
            users.set_status("us-east-1_b", &sub, "CONFIRMED", T0).await,
            &format!("user `{sub}`"),
        );
        assert_not_found(
            users
                .set_password("us-east-1_b", &sub, None, None, "CONFIRMED", T0, true)
                .await,
            &format!("user `{sub}`"),
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_removes_its_tokens_codes_memberships_and_aliases() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        pool(s, "us-east-1_a").await;
        client(s, "us-east-1_a", "c1").await;
        let alice = user(s, "us-east-1_a", "alice", Some("alice@example.com")).await;
        let bob = user(s, "us-east-1_a", "bob", None).await;
        s.groups()
            .create(&group("us-east-1_a", "admins"))
            .await
            .unwrap();
        s.groups()
            .add_member("us-east-1_a", "admins", &alice)
            .await
            .unwrap();
        s.groups()
            .add_member("us-east-1_a", "admins", &bob)
            .await
            .unwrap();
        s.refresh_tokens()
            .insert(&refresh("us-east-1_a", "c1", &alice, 1), SIGNED_IN)
            .await
            .unwrap();
        s.refresh_tokens()
            .insert(&refresh("us-east-1_a", "c1", &bob, 2), SIGNED_IN)
            .await
            .unwrap();
        s.codes()
            .put(&code("us-east-1_a", &alice, "sign_up", 3))
            .await
            .unwrap();

        s.refresh_tokens()
            .insert(&refresh("us-east-1_a", "c1", &alice, 3), SIGNED_IN)
            .await
            .unwrap();
        s.refresh_tokens().revoke(&[3; 32], T0).await.unwrap();
        assert_eq!(
            s.users().delete("us-east-1_a", &alice).await.unwrap(),
            vec!["jti-1".to_owned()],
            "the live sign-ins that ended with the user (not the revoked one)"
        );
        assert_eq!(s.users().get("us-east-1_a", "alice").await.unwrap(), None);
        assert_eq!(s.refresh_tokens().get(&[1; 32]).await.unwrap(), None);
        assert!(s.refresh_tokens().get(&[2; 32]).await.unwrap().is_some());
        assert_eq!(
            s.codes()
                .get("us-east-1_a", &alice, "sign_up")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.users()
                .find_by_alias("us-east-1_a", "email", "alice@example.com")
                .await
                .unwrap(),
            None
        );
        let members = s
            .groups()
            .members("us-east-1_a", "admins", 10, None)
            .await
            .unwrap();
        assert_eq!(
            members
                .items
                .iter()
                .map(|u| u.username.as_str())
                .collect::<Vec<_>>(),
            ["bob"]
        );
        assert_not_found(
            s.users().delete("us-east-1_a", &alice).await,
            &format!("user `{alice}`"),
        );
        // The email is free again.
        user(s, "us-east-1_a", "alice2", Some("alice@example.com")).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_pool_removes_everything_in_it() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        for p in ["us-east-1_a", "us-east-1_b"] {
            s.user_pools()
                .create(&NewUserPool {
                    id: p.to_owned(),
                    name: "n".to_owned(),
                    config: "{}".to_owned(),
                    created_at: T0,
                    signing_keys: vec![key(p, &format!("{p}-id"), KeyPurpose::Id)],
                })
                .await
                .unwrap();
            client(s, p, &format!("{p}-client")).await;
            s.groups().create(&group(p, "g")).await.unwrap();
            for name in ["alice", "bob"] {
                let sub = user(s, p, name, Some(&format!("{name}@example.com"))).await;
                s.groups().add_member(p, "g", &sub).await.unwrap();
                s.codes().put(&code(p, &sub, "sign_up", 3)).await.unwrap();
            }
            let sub = format!("sub-{p}-alice");
            let hash = if p.ends_with('a') { 11 } else { 12 };
            s.refresh_tokens()
                .insert(&refresh(p, &format!("{p}-client"), &sub, hash), SIGNED_IN)
                .await
                .unwrap();
        }
        s.user_pools().delete("us-east-1_a").await.unwrap();

        assert_eq!(s.users().count("us-east-1_a").await.unwrap(), 0);
        assert_eq!(s.clients().get("us-east-1_a-client").await.unwrap(), None);
        assert_eq!(s.groups().get("us-east-1_a", "g").await.unwrap(), None);
        assert!(
            s.signing_keys()
                .list("us-east-1_a")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.codes()
                .get("us-east-1_a", "sub-us-east-1_a-alice", "sign_up")
                .await
                .unwrap(),
            None
        );
        assert_eq!(s.refresh_tokens().get(&[11; 32]).await.unwrap(), None);
        // The other pool is untouched.
        assert_eq!(s.users().count("us-east-1_b").await.unwrap(), 2);
        assert_eq!(
            s.groups()
                .members("us-east-1_b", "g", 10, None)
                .await
                .unwrap()
                .items
                .len(),
            2
        );
        assert!(s.refresh_tokens().get(&[12; 32]).await.unwrap().is_some());
        assert_eq!(s.signing_keys().list("us-east-1_b").await.unwrap().len(), 1);
    })
    .await;
}

// === ListUsers ===

/// 26 users `user-a` … `user-z`; even letters enabled and CONFIRMED; emails grouped by
/// three domains; family names from a small set.
async fn seed_listing(store: &Store) {
    pool(store, "us-east-1_l").await;
    let mut batch = Vec::new();
    for (i, letter) in ('a'..='z').enumerate() {
        let mut u = new_user(
            "us-east-1_l",
            &format!("user-{letter}"),
            Some(&format!("{letter}@d{}.example", i % 3)),
        );
        u.enabled = i % 2 == 0;
        u.status = if i % 2 == 0 {
            "CONFIRMED"
        } else {
            "UNCONFIRMED"
        }
        .to_owned();
        u.attributes.insert(
            "family_name".to_owned(),
            ["Smith", "Smithers", "Jones"][i % 3].to_owned(),
        );
        batch.push(u);
    }
    store.users().create_many(&batch).await.unwrap();
}

/// Every username the filter returns, reading pages of `limit`; checks that pages chain.
async fn list_all(store: &Store, filter: Option<UserFilter>, limit: u32) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<UserCursor> = None;
    for _ in 0..100 {
        let page = store
            .users()
            .list(
                "us-east-1_l",
                &UserQuery {
                    filter: filter.clone(),
                    limit,
                    cursor: cursor.take(),
                },
            )
            .await
            .unwrap();
        assert!(page.users.len() <= limit as usize);
        names.extend(page.users.into_iter().map(|u| u.username));
        match page.next {
            // Through the printable token, as a client would send it back.
            Some(next) => cursor = Some(UserCursor::from_token(&next.to_token()).unwrap()),
            None => return names,
        }
    }
    panic!("pagination did not end");
}

fn attr(name: &str, matches: TextMatch) -> Option<UserFilter> {
    Some(UserFilter::Attribute {
        name: name.to_owned(),
        matches,
    })
}

fn eq(v: &str) -> TextMatch {
    TextMatch::Equals(v.to_owned())
}

fn prefix(v: &str) -> TextMatch {
    TextMatch::StartsWith(v.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_filters_and_pages() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        seed_listing(s).await;
        let all: Vec<String> = ('a'..='z').map(|c| format!("user-{c}")).collect();
        let pick = |pred: &dyn Fn(usize) -> bool| -> Vec<String> {
            all.iter()
                .enumerate()
                .filter(|(i, _)| pred(*i))
                .map(|(_, n)| n.clone())
                .collect()
        };

        // (filter, expected usernames in order) — each case pins one filter shape.
        let cases: Vec<(Option<UserFilter>, Vec<String>)> = vec![
            (None, all.clone()),
            (
                Some(UserFilter::Username(eq("user-c"))),
                vec!["user-c".to_owned()],
            ),
            (Some(UserFilter::Username(prefix("user-"))), all.clone()),
            (Some(UserFilter::Username(prefix("User-"))), vec![]),
            (
                Some(UserFilter::Sub(eq("sub-us-east-1_l-user-q"))),
                vec!["user-q".to_owned()],
            ),
            (
                Some(UserFilter::Sub(prefix("sub-us-east-1_l-user-"))),
                all.clone(),
            ),
            (
                Some(UserFilter::Status(eq("UNCONFIRMED"))),
                pick(&|i| i % 2 == 1),
            ),
            (
                Some(UserFilter::Status(prefix("CONF"))),
                pick(&|i| i % 2 == 0),
            ),
            (Some(UserFilter::Enabled(true)), pick(&|i| i % 2 == 0)),
            (Some(UserFilter::Enabled(false)), pick(&|i| i % 2 == 1)),
            (attr("email", eq("d@d0.example")), vec!["user-d".to_owned()]),
            (attr("email", eq("d@d1.example")), vec![]),
            (attr("family_name", eq("Smith")), pick(&|i| i % 3 == 0)),
            // Prefix filters order by (value, username): all Smith before all Smithers.
            (
                attr("family_name", prefix("Smi")),
                [pick(&|i| i % 3 == 0), pick(&|i| i % 3 == 1)].concat(),
            ),
            (
                attr("family_name", prefix("")),
                [
                    pick(&|i| i % 3 == 2),
                    pick(&|i| i % 3 == 0),
                    pick(&|i| i % 3 == 1),
                ]
                .concat(),
            ),
            (attr("given_name", eq("x")), vec![]),
        ];
        for (filter, expected) in cases {
            for limit in [1, 4, 60] {
                assert_eq!(
                    list_all(s, filter.clone(), limit).await,
                    expected,
                    "{filter:?} limit {limit}"
                );
            }
        }

        // The email prefix range: `a@d0`, `d@d0`, … sorted by email, then username.
        let by_domain = list_all(s, attr("email", prefix("")), 5).await;
        assert_eq!(by_domain.len(), 26);
        assert_eq!(by_domain.first().map(String::as_str), Some("user-a"));

        let users = s.users();
        assert!(matches!(
            users
                .list(
                    "us-east-1_l",
                    &UserQuery {
                        filter: attr("custom:team", eq("blue")),
                        limit: 5,
                        cursor: None
                    }
                )
                .await,
            Err(StorageError::Invalid { .. })
        ));
        assert!(matches!(
            users
                .list(
                    "us-east-1_l",
                    &UserQuery {
                        filter: attr("email", eq("a\0b")),
                        limit: 5,
                        cursor: None
                    }
                )
                .await,
            Err(StorageError::Invalid { .. })
        ));
        // A cursor before the prefix (a forged token) cannot widen the filter.
        let forged = UserQuery {
            filter: attr("family_name", prefix("Smi")),
            limit: 60,
            cursor: Some(UserCursor {
                key: "A".to_owned(),
                username: "x".to_owned(),
            }),
        };
        let page = users.list("us-east-1_l", &forged).await.unwrap();
        assert_eq!(
            page.users
                .into_iter()
                .map(|u| u.username)
                .collect::<Vec<_>>(),
            list_all(s, attr("family_name", prefix("Smi")), 60).await
        );
        let username_page = UserQuery {
            filter: Some(UserFilter::Username(prefix("user-"))),
            limit: 60,
            cursor: Some(UserCursor {
                key: String::new(),
                username: "user-x".to_owned(),
            }),
        };
        let rest = users.list("us-east-1_l", &username_page).await.unwrap();
        assert_eq!(
            rest.users
                .into_iter()
                .map(|u| u.username)
                .collect::<Vec<_>>(),
            ["user-y", "user-z"]
        );

        let other_pool = users
            .list(
                "us-east-1_none",
                &UserQuery {
                    limit: 5,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(other_pool.users.is_empty() && other_pool.next.is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_filters_handle_non_ascii_values() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        pool(s, "us-east-1_l").await;
        for (name, family) in [
            ("u1", "Ökland"),
            ("u2", "Öz"),
            ("u3", "Oz"),
            ("u4", "Ö\u{10FFFF}x"),
            ("u5", "P"),
        ] {
            let mut u = new_user("us-east-1_l", name, None);
            u.attributes
                .insert("family_name".to_owned(), family.to_owned());
            s.users().create(&u).await.unwrap();
        }
        assert_eq!(
            list_all(s, attr("family_name", prefix("Ö")), 2).await,
            ["u1", "u2", "u4"]
        );
        assert_eq!(
            list_all(s, attr("family_name", prefix("Ö\u{10FFFF}")), 2).await,
            ["u4"]
        );
        assert_eq!(
            list_all(s, attr("family_name", prefix("O")), 2).await,
            ["u3"]
        );
    })
    .await;
}

// === groups ===

fn group(pool: &str, name: &str) -> GroupRecord {
    GroupRecord {
        pool_id: pool.to_owned(),
        name: name.to_owned(),
        description: Some("d".to_owned()),
        precedence: Some(1),
        role_arn: Some("arn:aws:iam::000000000000:role/r".to_owned()),
        created_at: T0,
        updated_at: T0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_memberships() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        let groups = s.groups();
        pool(s, "us-east-1_a").await;
        pool(s, "us-east-1_b").await;
        for g in ["readers", "admins", "writers"] {
            groups.create(&group("us-east-1_a", g)).await.unwrap();
        }
        assert_conflict(
            groups.create(&group("us-east-1_a", "admins")).await,
            "group `admins`",
        );
        assert_not_found(
            groups.create(&group("us-east-1_x", "admins")).await,
            "user pool `us-east-1_x`",
        );
        let page = groups.list("us-east-1_a", 2, None).await.unwrap();
        assert_eq!(
            page.items
                .iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>(),
            ["admins", "readers"]
        );
        assert_eq!(
            groups
                .list("us-east-1_a", 2, page.next.as_deref())
                .await
                .unwrap()
                .items
                .len(),
            1
        );

        let mut changed = group("us-east-1_a", "admins");
        changed.precedence = None;
        changed.description = None;
        changed.updated_at = T0 + 1;
        groups.update(&changed).await.unwrap();
        assert_eq!(
            groups.get("us-east-1_a", "admins").await.unwrap().unwrap(),
            changed
        );

        let alice = user(s, "us-east-1_a", "alice", None).await;
        let bob = user(s, "us-east-1_a", "bob", None).await;
        let stranger = user(s, "us-east-1_b", "carol", None).await;
        assert!(
            groups
                .add_member("us-east-1_a", "admins", &alice)
                .await
                .unwrap()
        );
        assert!(
            !groups
                .add_member("us-east-1_a", "admins", &alice)
                .await
                .unwrap(),
            "adding twice is a no-op"
        );
        assert!(
            groups
                .add_member("us-east-1_a", "admins", &bob)
                .await
                .unwrap()
        );
        assert!(
            groups
                .add_member("us-east-1_a", "readers", &alice)
                .await
                .unwrap()
        );
        assert_not_found(
            groups.add_member("us-east-1_a", "nope", &alice).await,
            "group `nope`",
        );
        assert_not_found(
            groups.add_member("us-east-1_a", "admins", &stranger).await,
            &format!("user `{stranger}`"),
        );

        let members = groups
            .members("us-east-1_a", "admins", 1, None)
            .await
            .unwrap();
        assert_eq!(members.items[0].username, "alice");
        let rest = groups
            .members("us-east-1_a", "admins", 1, members.next.as_deref())
            .await
            .unwrap();
        assert_eq!((rest.items[0].username.as_str(), rest.next), ("bob", None));
        let of_alice = groups
            .for_user("us-east-1_a", &alice, 10, None)
            .await
            .unwrap();
        assert_eq!(
            of_alice
                .items
                .iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>(),
            ["admins", "readers"]
        );

        assert!(
            groups
                .remove_member("us-east-1_a", "admins", &bob)
                .await
                .unwrap()
        );
        assert!(
            !groups
                .remove_member("us-east-1_a", "admins", &bob)
                .await
                .unwrap()
        );
        groups.delete("us-east-1_a", "readers").await.unwrap();
        assert_eq!(
            groups
                .for_user("us-east-1_a", &alice, 10, None)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        assert_not_found(
            groups.delete("us-east-1_a", "readers").await,
            "group `readers`",
        );
        assert!(
            s.users()
                .get("us-east-1_a", "alice")
                .await
                .unwrap()
                .is_some(),
            "users outlive groups"
        );
    })
    .await;
}

// === codes, refresh tokens, signing keys, settings ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_spend_attempts_atomically() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        pool(s, "us-east-1_a").await;
        pool(s, "us-east-1_b").await;
        let sub = user(s, "us-east-1_a", "alice", None).await;
        let codes = s.codes();
        assert_eq!(
            codes
                .take_attempt("us-east-1_a", &sub, "sign_up")
                .await
                .unwrap(),
            CodeAttempt::Missing
        );
        codes
            .put(&code("us-east-1_a", &sub, "sign_up", 5))
            .await
            .unwrap();
        // A new code replaces the old one, attempts included.
        let mut fresh = code("us-east-1_a", &sub, "sign_up", 2);
        fresh.code_hash = vec![8; 32];
        codes.put(&fresh).await.unwrap();
        assert_eq!(
            codes
                .get("us-east-1_a", &sub, "sign_up")
                .await
                .unwrap()
                .unwrap(),
            fresh
        );

        let CodeAttempt::Granted(first) = codes
            .take_attempt("us-east-1_a", &sub, "sign_up")
            .await
            .unwrap()
        else {
            panic!("first attempt must be granted");
        };
        assert_eq!((first.attempts_left, first.code_hash), (1, vec![8; 32]));
        assert!(matches!(
            codes
                .take_attempt("us-east-1_a", &sub, "sign_up")
                .await
                .unwrap(),
            CodeAttempt::Granted(_)
        ));
        assert!(matches!(
            codes.take_attempt("us-east-1_a", &sub, "sign_up").await.unwrap(),
            CodeAttempt::Exhausted(c) if c.attempts_left == 0
        ));

        assert_not_found(
            codes.put(&code("us-east-1_b", &sub, "x", 1)).await,
            &format!("user `{sub}`"),
        );
        codes
            .put(&code("us-east-1_a", &sub, "verify:email", 1))
            .await
            .unwrap();
        assert!(
            codes
                .delete("us-east-1_a", &sub, "verify:email")
                .await
                .unwrap()
        );
        assert!(
            !codes
                .delete("us-east-1_a", &sub, "verify:email")
                .await
                .unwrap()
        );
        assert_eq!(codes.purge_expired(T0 + 86_400_000).await.unwrap(), 1);
        assert_eq!(
            codes.get("us-east-1_a", &sub, "sign_up").await.unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_lifecycle() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        pool(s, "us-east-1_a").await;
        pool(s, "us-east-1_b").await;
        client(s, "us-east-1_a", "ca").await;
        client(s, "us-east-1_b", "cb").await;
        let alice = user(s, "us-east-1_a", "alice", None).await;
        let tokens = s.refresh_tokens();
        for h in 1..=3 {
            tokens
                .insert(&refresh("us-east-1_a", "ca", &alice, h), SIGNED_IN)
                .await
                .unwrap();
        }
        assert_conflict(
            tokens
                .insert(&refresh("us-east-1_a", "ca", &alice, 1), SIGNED_IN)
                .await,
            "refresh token",
        );
        // A token must tie a user and a client of the same pool.
        assert!(matches!(
            tokens
                .insert(&refresh("us-east-1_a", "cb", &alice, 9), SIGNED_IN)
                .await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(
            tokens.get(&[1; 32]).await.unwrap().unwrap(),
            refresh("us-east-1_a", "ca", &alice, 1)
        );

        assert!(tokens.revoke(&[1; 32], T0 + 5).await.unwrap());
        assert!(!tokens.revoke(&[1; 32], T0 + 6).await.unwrap());
        assert_eq!(
            tokens.get(&[1; 32]).await.unwrap().unwrap().revoked_at,
            Some(T0 + 5)
        );
        let mut origins = tokens
            .revoke_for_user("us-east-1_a", &alice, T0 + 7)
            .await
            .unwrap();
        origins.sort();
        assert_eq!(origins.len(), 2, "the two live sessions: {origins:?}");
        assert!(
            tokens
                .revoke_for_user("us-east-1_a", &alice, T0 + 8)
                .await
                .unwrap()
                .is_empty(),
            "nothing left to revoke"
        );
        assert_eq!(tokens.purge_expired(T0 + 999).await.unwrap(), 0);
        assert_eq!(tokens.purge_expired(T0 + 1_000).await.unwrap(), 3);

        tokens
            .insert(&refresh("us-east-1_a", "ca", &alice, 4), SIGNED_IN)
            .await
            .unwrap();
        s.clients().delete("us-east-1_a", "ca").await.unwrap();
        assert_eq!(
            tokens.get(&[4; 32]).await.unwrap(),
            None,
            "deleting a client drops its tokens"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate_and_expire() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        pool(s, "us-east-1_a").await;
        let keys = s.signing_keys();
        keys.insert(&key("us-east-1_a", "id-1", KeyPurpose::Id))
            .await
            .unwrap();
        keys.insert(&key("us-east-1_a", "access-1", KeyPurpose::Access))
            .await
            .unwrap();
        assert_conflict(
            keys.insert(&key("us-east-1_a", "id-1", KeyPurpose::Id))
                .await,
            "signing key `id-1`",
        );
        assert_not_found(
            keys.insert(&key("us-east-1_x", "k", KeyPurpose::Id)).await,
            "user pool `us-east-1_x`",
        );

        let mut next = key("us-east-1_a", "id-2", KeyPurpose::Id);
        next.created_at = T0 + 10;
        assert_eq!(
            keys.rotate(&next, T0 + 10, T0 + 3_600_000).await.unwrap(),
            1
        );
        let listed = keys.list("us-east-1_a").await.unwrap();
        let by_kid = |kid: &str| listed.iter().find(|k| k.kid == kid).unwrap().clone();
        assert_eq!(
            (by_kid("id-1").retired_at, by_kid("id-1").not_after),
            (Some(T0 + 10), Some(T0 + 3_600_000))
        );
        assert_eq!(
            by_kid("access-1").retired_at,
            None,
            "rotation touches one purpose only"
        );
        assert_eq!(by_kid("id-2"), next);
        assert_eq!(by_kid("id-1").private_key, vec![1, 2, 3, 0, 255]);

        assert_eq!(keys.purge_expired(T0 + 3_599_999).await.unwrap(), 0);
        assert_eq!(keys.purge_expired(T0 + 3_600_000).await.unwrap(), 1);
        assert_eq!(keys.list("us-east-1_a").await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_keep_the_first_value() {
    each_backend(async |t: &TestStore| {
        let settings = t.store.settings();
        assert_eq!(settings.get("operator").await.unwrap(), None);
        assert_eq!(
            settings
                .get_or_insert("operator", "first", T0)
                .await
                .unwrap(),
            "first"
        );
        assert_eq!(
            settings
                .get_or_insert("operator", "second", T0)
                .await
                .unwrap(),
            "first"
        );
        settings.put("operator", "third", T0).await.unwrap();
        assert_eq!(
            settings.get("operator").await.unwrap().as_deref(),
            Some("third")
        );
        assert!(settings.delete("operator").await.unwrap());
        assert!(!settings.delete("operator").await.unwrap());
    })
    .await;
}

// === concurrency ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_all_succeed() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_c").await;
        // Two pools on one database, as two gatehouse nodes would have: on SQLite they
        // contend for the file's write lock and must wait (busy timeout), not fail.
        let other = Store::open(t.url(), StoreOptions::default()).await.unwrap();
        let mut tasks = Vec::new();
        for writer in 0..8 {
            let store = if writer % 2 == 0 {
                t.store.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                for i in 0..25 {
                    let name = format!("w{writer}-{i}");
                    store
                        .users()
                        .create(&new_user("us-east-1_c", &name, Some(&format!("{name}@x"))))
                        .await?;
                    let sub = format!("sub-us-east-1_c-{name}");
                    store
                        .users()
                        .set_status("us-east-1_c", &sub, "CONFIRMED", T0 + i)
                        .await?;
                }
                Ok::<_, StorageError>(())
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(t.store.users().count("us-east-1_c").await.unwrap(), 200);
        // Racing get_or_insert calls agree on one value.
        let mut racers = Vec::new();
        for n in 0..6 {
            let store = if n % 2 == 0 {
                t.store.clone()
            } else {
                other.clone()
            };
            racers.push(tokio::spawn(async move {
                store
                    .settings()
                    .get_or_insert("race", &format!("v{n}"), T0)
                    .await
            }));
        }
        let mut seen = Vec::new();
        for r in racers {
            seen.push(r.await.unwrap().unwrap());
        }
        seen.dedup();
        assert_eq!(seen.len(), 1, "{seen:?}");
        other.close().await;
    })
    .await;
}

/// A transaction held open on a connection of its own, outside the store: it plays the other
/// node's half of a race while the store's call waits for it.
enum Held {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// A value bound into a [`Held`] statement.
enum Bind<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl Held {
    /// Opens a connection to the test's database and begins a write transaction there.
    async fn begin(t: &TestStore) -> Self {
        use sqlx::Connection as _;
        match t.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(t.url()).await.unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                Self::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(t.url()).await.unwrap();
                sqlx::query("BEGIN").execute(&mut c).await.unwrap();
                Self::Postgres(c)
            }
        }
    }

    /// Runs one statement inside the held transaction.
    async fn execute(&mut self, sql: &'static str, binds: &[Bind<'_>]) {
        match self {
            Self::Sqlite(c) => {
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = match b {
                        Bind::Text(v) => q.bind(*v),
                        Bind::Bytes(v) => q.bind(*v),
                    };
                }
                q.execute(c).await.unwrap();
            }
            Self::Postgres(c) => {
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = match b {
                        Bind::Text(v) => q.bind(*v),
                        Bind::Bytes(v) => q.bind(*v),
                    };
                }
                q.execute(c).await.unwrap();
            }
        }
    }

    async fn commit(self) {
        use sqlx::Connection as _;
        match self {
            Self::Sqlite(mut c) => {
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Self::Postgres(mut c) => {
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }
}

/// Waits until `task` is finished or (on PostgreSQL) some session of the test's database
/// waits for a row lock: the store's call either went past the held transaction or stopped
/// at it. On SQLite the held `BEGIN IMMEDIATE` stops every other writer, so there is nothing
/// to wait for.
async fn finished_or_waiting<T>(t: &TestStore, task: &tokio::task::JoinHandle<T>) {
    use sqlx::Connection as _;
    if t.backend() == Backend::Sqlite {
        return;
    }
    let mut watcher = sqlx::PgConnection::connect(t.url()).await.unwrap();
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 || task.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    watcher.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_is_refused_once_its_user_is_disabled_or_its_password_changed() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_r").await;
        client(&t.store, "us-east-1_r", "c1").await;
        let sub = user(&t.store, "us-east-1_r", "ann", None).await;
        // What another node does meanwhile, not committed yet when the sign-in stores its
        // refresh token.
        let cases: [(&str, &'static str); 3] = [
            (
                "AdminDisableUser",
                "UPDATE users SET enabled = false WHERE pool_id = $1 AND sub = $2",
            ),
            (
                "a password reset",
                "UPDATE users SET password_hash = 'new' WHERE pool_id = $1 AND sub = $2",
            ),
            (
                "AdminResetUserPassword",
                "UPDATE users SET status = 'RESET_REQUIRED' WHERE pool_id = $1 AND sub = $2",
            ),
        ];
        for (n, (rule, change)) in (1_u8..).zip(cases) {
            let mut other = Held::begin(t).await;
            other
                .execute(change, &[Bind::Text("us-east-1_r"), Bind::Text(&sub)])
                .await;
            // The sign-in waits for the other node and then finds the user changed: its
            // password no longer the one it checked, or disabled (otherwise its token would
            // be live and no revocation would name its sign-in).
            let store = t.store.clone();
            let token = refresh("us-east-1_r", "c1", &sub, n);
            let insert =
                tokio::spawn(async move { store.refresh_tokens().insert(&token, SIGNED_IN).await });
            finished_or_waiting(t, &insert).await;
            other.commit().await;
            assert!(
                matches!(insert.await.unwrap(), Err(StorageError::NotFound { .. })),
                "{rule}"
            );
            assert_eq!(
                t.store.refresh_tokens().get(&[n; 32]).await.unwrap(),
                None,
                "{rule}"
            );
            // Undo, for the next case.
            let mut undo = Held::begin(t).await;
            undo.execute(
                "UPDATE users SET enabled = true, status = 'CONFIRMED', password_hash = $3
                 WHERE pool_id = $1 AND sub = $2",
                &[
                    Bind::Text("us-east-1_r"),
                    Bind::Text(&sub),
                    Bind::Text(PASSWORD_HASH),
                ],
            )
            .await;
            undo.commit().await;
        }
        // A sign-in that checked what is stored gets its token.
        t.store
            .refresh_tokens()
            .insert(&refresh("us-east-1_r", "c1", &sub, 9), SIGNED_IN)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_names_a_sign_in_stored_while_it_waited() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, "us-east-1_d").await;
        client(&t.store, "us-east-1_d", "c1").await;
        let sub = user(&t.store, "us-east-1_d", "bo", None).await;
        // Another node stores a sign-in's refresh token and has not committed yet …
        let mut sign_in = Held::begin(t).await;
        sign_in
            .execute(
                "INSERT INTO refresh_tokens (token_hash, pool_id, client_id, sub, origin_jti,
                     auth_time, created_at, expires_at)
                 VALUES ($1, $2, 'c1', $3, 'jti-late', 0, 0, 1)",
                &[
                    Bind::Bytes(&[9; 32]),
                    Bind::Text("us-east-1_d"),
                    Bind::Text(&sub),
                ],
            )
            .await;
        // … while the user is deleted: the delete waits for it and names that sign-in too,
        // so its access tokens can be refused.
        let store = t.store.clone();
        let gone = sub.clone();
        let delete = tokio::spawn(async move { store.users().delete("us-east-1_d", &gone).await });
        finished_or_waiting(t, &delete).await;
        sign_in.commit().await;
        assert_eq!(delete.await.unwrap().unwrap(), vec!["jti-late".to_owned()]);
    })
    .await;
}

// === query plans ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_users_shape_reads_one_index_in_order() {
    each_backend(async |t: &TestStore| {
        let s = &t.store;
        seed_listing(s).await;
        let cursor = Some(UserCursor {
            key: "Smith".to_owned(),
            username: "user-m".to_owned(),
        });
        let shapes: Vec<Option<UserFilter>> = vec![
            None,
            Some(UserFilter::Username(eq("user-c"))),
            Some(UserFilter::Username(prefix("user-"))),
            Some(UserFilter::Sub(eq("x"))),
            Some(UserFilter::Sub(prefix("sub-"))),
            Some(UserFilter::Status(eq("CONFIRMED"))),
            Some(UserFilter::Status(prefix("CONF"))),
            Some(UserFilter::Enabled(true)),
            attr("email", eq("a@d0.example")),
            attr("family_name", prefix("Smi")),
        ];
        for filter in shapes {
            for cursor in [None, cursor.clone()] {
                let query = UserQuery {
                    filter: filter.clone(),
                    limit: 60,
                    cursor,
                };
                let plan = s.users().explain_list("us-east-1_l", &query).await.unwrap();
                let context = format!("{filter:?}, cursor {}:\n{plan}", query.cursor.is_some());
                match t.backend() {
                    Backend::Sqlite => {
                        // A prefix filter resumes by seeking to the cursor's row value, not
                        // by walking from the prefix over every earlier page.
                        let seeks_to_cursor = plan.contains("(status,username)>(?,?)")
                            || plan.contains("(value,username)>(?,?)");
                        let prefix_with_cursor = query.cursor.is_some()
                            && matches!(
                                &filter,
                                Some(UserFilter::Status(TextMatch::StartsWith(_)))
                                    | Some(UserFilter::Attribute {
                                        matches: TextMatch::StartsWith(_),
                                        ..
                                    })
                            );
                        assert_eq!(
                            seeks_to_cursor, prefix_with_cursor,
                            "cursor seek: {context}"
                        );
                        assert!(!plan.contains("TEMP B-TREE"), "sorts: {context}");
                        assert!(
                            plan.lines().all(|l| l.starts_with("SEARCH")),
                            "scans: {context}"
                        );
                    }
                    Backend::Postgres => {
                        assert!(!plan.contains("Sort"), "sorts: {context}");
                        assert!(!plan.contains("Seq Scan"), "scans: {context}");
                    }
                }
            }
        }
    })
    .await;
}
