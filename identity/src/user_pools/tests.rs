//! Service-layer tests with a fixed clock, each run on SQLite and on PostgreSQL (storage's
//! `testkit`), delivering into a real outbox folder.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use gatehouse_storage::testkit::{TestStore, each_backend};

use super::config::{
    AttributeDataType, PoolConfig, SchemaAttribute, UsernameAttribute, VerifiedAttribute,
};
use super::*;
use crate::clock::FixedClock;
use crate::crypto::{MasterKey, Sealer};
use crate::delivery::{Channel, Outbox};
use crate::password::{Argon2Params, PasswordHasher, PasswordHasherConfig};

const T0: u64 = 1_800_000_000;

pub(crate) struct Fixture {
    pub(crate) pools: UserPools,
    pub(crate) clock: Arc<FixedClock>,
    pub(crate) outbox: tempfile::TempDir,
    /// The delivery, to wait for messages it has not written yet.
    pub(crate) delivery: Arc<Outbox>,
}

pub(crate) fn fixture(store: &gatehouse_storage::Store) -> Fixture {
    fixture_with_limit(store, crate::rate_limit::SourceRateLimit::default())
}

/// [`fixture`] with another limit per source address.
pub(crate) fn fixture_with_limit(
    store: &gatehouse_storage::Store,
    source_rate_limit: crate::rate_limit::SourceRateLimit,
) -> Fixture {
    let clock = Arc::new(FixedClock::new(UNIX_EPOCH + Duration::from_secs(T0)));
    let outbox = tempfile::tempdir().unwrap();
    let delivery = Arc::new(Outbox::new(outbox.path().to_path_buf()));
    let pools = service(store, clock.clone(), delivery.clone(), source_rate_limit);
    Fixture {
        pools,
        clock,
        outbox,
        delivery,
    }
}

/// A user-pool service on `store` as the fixture builds it (its master key, cheap argon2
/// parameters, its settings), delivering through `delivery`.
pub(crate) fn service(
    store: &gatehouse_storage::Store,
    clock: Arc<FixedClock>,
    delivery: Arc<dyn crate::delivery::Delivery>,
    source_rate_limit: crate::rate_limit::SourceRateLimit,
) -> UserPools {
    // One fixed master key, so two services on one database (two nodes) open each other's keys.
    let sealer =
        Arc::new(Sealer::new(&MasterKey::from_bytes("k1", [7; 32]).unwrap(), &[]).unwrap());
    let passwords = PasswordHasher::new(PasswordHasherConfig {
        params: Argon2Params {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        max_concurrent: 2,
        max_waiting: 64,
    })
    .unwrap();
    UserPools::new(
        store.clone(),
        sealer,
        passwords,
        delivery,
        clock,
        UserPoolsConfig {
            region: "us-east-1".into(),
            other_regions: vec!["us-west-2".into()],
            account_id: "000000000000".into(),
            public_url: "http://127.0.0.1:8000".into(),
            source_rate_limit,
        },
    )
}

impl Fixture {
    /// Every outbox message, oldest first.
    pub(crate) fn messages(&self) -> Vec<serde_json::Value> {
        assert!(
            self.delivery.wait_written(Duration::from_secs(10)),
            "outbox writes did not finish"
        );
        let mut names: Vec<_> = std::fs::read_dir(self.outbox.path())
            .map(|d| {
                d.map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }
}

fn strict_pool() -> PoolConfig {
    PoolConfig {
        schema: schema_with(vec![
            SchemaAttribute {
                name: "tier".into(),
                data_type: AttributeDataType::String,
                developer_only: false,
                mutable: true,
                required: false,
                min_length: Some(1),
                max_length: Some(32),
                min_value: None,
                max_value: None,
            },
            SchemaAttribute {
                name: "age".into(),
                data_type: AttributeDataType::Number,
                developer_only: false,
                mutable: true,
                required: false,
                min_length: None,
                max_length: None,
                min_value: Some(0),
                max_value: Some(200),
            },
        ])
        .unwrap(),
        auto_verified_attributes: vec![VerifiedAttribute::Email],
        ..PoolConfig::default()
    }
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn invite(username: &str, email: &str, action: Option<MessageAction>) -> AdminCreateUser {
    AdminCreateUser {
        username: username.into(),
        attributes: attrs(&[("email", email), ("email_verified", "true")]),
        temporary_password: Some("Temp-Pass-123!".into()),
        message_action: action,
        delivery_mediums: vec![Channel::Email],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pools_and_clients() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let pool = p.create_user_pool("first", strict_pool()).await.unwrap();
        assert!(
            pool.id.starts_with("us-east-1_") && pool.id.len() == 19,
            "{}",
            pool.id
        );
        assert_eq!(
            pool.arn,
            format!(
                "arn:aws:cognito-idp:us-east-1:000000000000:userpool/{}",
                pool.id
            )
        );
        assert_eq!(
            pool.config.attribute("custom:tier").unwrap().max_length,
            Some(32)
        );
        assert_eq!(p.jwks(&pool.id).await.unwrap().keys.len(), 2);

        // Pagination walks every pool once.
        for name in ["second", "third"] {
            p.create_user_pool(name, PoolConfig::default())
                .await
                .unwrap();
        }
        let first = p.list_user_pools(2, None).await.unwrap();
        assert_eq!(first.items.len(), 2);
        let rest = p.list_user_pools(2, first.next.as_deref()).await.unwrap();
        assert_eq!(rest.items.len(), 1);
        assert!(rest.next.is_none());
        assert!(matches!(
            p.list_user_pools(61, None).await,
            Err(UserPoolError::InvalidParameter(_))
        ));

        // Update replaces the policy and keeps the schema.
        f.clock.advance(Duration::from_secs(5));
        let mut cfg = PoolConfig::default();
        cfg.password_policy.minimum_length = 20;
        let updated = p.update_user_pool(&pool.id, cfg).await.unwrap();
        assert_eq!(updated.config.password_policy.minimum_length, 20);
        assert!(updated.config.attribute("custom:age").is_some());
        assert!(updated.updated_at > updated.created_at);
        let (_, users) = p.describe_user_pool(&pool.id).await.unwrap();
        assert_eq!(users, 0);

        // Clients: secret sealed and returned, SECRET_HASH checked.
        let client = p
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "app".into(),
                    generate_secret: true,
                    config: ClientConfig::default(),
                },
            )
            .await
            .unwrap();
        assert_eq!(client.id.len(), 26);
        let secret = client.secret.clone().unwrap();
        let described = p
            .describe_user_pool_client(&pool.id, &client.id)
            .await
            .unwrap();
        assert_eq!(described.secret.as_deref(), Some(secret.as_str()));
        let good = secret_hash(&secret, "jane", &client.id);
        assert!(p.check_secret_hash(&described, "jane", Some(&good)).is_ok());
        assert!(matches!(
            p.check_secret_hash(&described, "jane", None),
            Err(UserPoolError::NotAuthorized(_))
        ));
        assert!(matches!(
            p.check_secret_hash(&described, "john", Some(&good)),
            Err(UserPoolError::NotAuthorized(_))
        ));
        let (_, by_id) = p.app_client(&client.id).await.unwrap();
        assert_eq!(by_id.name, "app");
        let bad = ClientConfig {
            read_attributes: vec!["custom:nope".into()],
            ..ClientConfig::default()
        };
        assert!(matches!(
            p.create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "x".into(),
                    generate_secret: false,
                    config: bad
                }
            )
            .await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        let renamed = p
            .update_user_pool_client(
                &pool.id,
                &client.id,
                Some("renamed"),
                ClientConfig::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.secret.as_deref()),
            ("renamed", Some(secret.as_str()))
        );
        assert_eq!(
            p.list_user_pool_clients(&pool.id, None, None)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        p.delete_user_pool_client(&pool.id, &client.id)
            .await
            .unwrap();
        assert!(matches!(
            p.describe_user_pool_client(&pool.id, &client.id).await,
            Err(UserPoolError::ResourceNotFound(_))
        ));

        p.delete_user_pool(&pool.id).await.unwrap();
        assert!(matches!(
            p.user_pool(&pool.id).await,
            Err(UserPoolError::ResourceNotFound(_))
        ));
        assert!(matches!(
            p.jwks(&pool.id).await,
            Err(UserPoolError::ResourceNotFound(_))
        ));
        assert!(matches!(
            p.create_user_pool(
                "x",
                PoolConfig {
                    password_policy: config::PasswordPolicyConfig {
                        minimum_length: 100,
                        ..Default::default()
                    },
                    ..PoolConfig::default()
                }
            )
            .await,
            Err(UserPoolError::InvalidParameter(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_user_lifecycle() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let pool = p.create_user_pool("users", strict_pool()).await.unwrap();

        let suppressed = p
            .admin_create_user(
                &pool.id,
                invite("sam", "sam@example.com", Some(MessageAction::Suppress)),
            )
            .await
            .unwrap();
        assert_eq!(suppressed.status, UserStatus::ForceChangePassword);
        assert_eq!(suppressed.attribute("sub"), Some(suppressed.sub.as_str()));
        assert!(f.messages().is_empty(), "SUPPRESS sends nothing");
        assert!(matches!(
            p.admin_create_user(
                &pool.id,
                invite("sam", "other@example.com", Some(MessageAction::Suppress))
            )
            .await,
            Err(UserPoolError::UsernameExists(_))
        ));
        let mut weak = invite("weak", "w@example.com", None);
        weak.temporary_password = Some("weak".into());
        assert!(matches!(
            p.admin_create_user(&pool.id, weak).await,
            Err(UserPoolError::InvalidPassword(_))
        ));

        // Default action: an invitation with a generated temporary password matching the policy.
        let mut generated = invite("gina", "gina@example.com", None);
        generated.temporary_password = None;
        let gina = p.admin_create_user(&pool.id, generated).await.unwrap();
        let msgs = f.messages();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0]["purpose"], "AdminCreateUser");
        assert_eq!(msgs[0]["destination"], "gina@example.com");
        assert!(msgs[0].get("code").is_none());
        let temporary = msgs[0]["temporary_password"].as_str().unwrap().to_owned();
        assert!(
            p.check_password_policy(&pool, &temporary).is_ok(),
            "{temporary}"
        );
        let stored = p.admin_get_user(&pool.id, "gina").await.unwrap();
        assert!(
            p.passwords()
                .verify(&temporary, stored.password_hash.as_deref())
                .await
                .unwrap()
        );

        // RESEND: a new temporary password; only for FORCE_CHANGE_PASSWORD users.
        let mut resend = invite("gina", "gina@example.com", Some(MessageAction::Resend));
        resend.temporary_password = None;
        p.admin_create_user(&pool.id, resend.clone()).await.unwrap();
        let msgs = f.messages();
        assert_eq!(msgs.len(), 2);
        assert_ne!(msgs[1]["temporary_password"], msgs[0]["temporary_password"]);
        p.admin_set_user_password(&pool.id, "gina", "Perm-Pass-123!", true)
            .await
            .unwrap();
        assert_eq!(
            p.admin_get_user(&pool.id, "gina").await.unwrap().status,
            UserStatus::Confirmed
        );
        assert!(matches!(
            p.admin_create_user(&pool.id, resend).await,
            Err(UserPoolError::UnsupportedUserState(_))
        ));
        assert!(matches!(
            p.admin_set_user_password(&pool.id, "gina", "NoDigitsHere!", true)
                .await,
            Err(UserPoolError::InvalidPassword(_))
        ));
        p.admin_set_user_password(&pool.id, "gina", "Other-Pass-123!", false)
            .await
            .unwrap();
        assert_eq!(
            p.admin_get_user(&pool.id, "gina").await.unwrap().status,
            UserStatus::ForceChangePassword
        );

        // Attributes: schema-checked; a changed email is unverified and, auto-verified, gets a code.
        for bad in [
            attrs(&[("custom:undeclared", "x")]),
            attrs(&[("custom:age", "500")]),
            attrs(&[("email", "not-an-email")]),
            attrs(&[("sub", "x")]),
        ] {
            assert!(
                matches!(
                    p.admin_update_user_attributes(&pool.id, "sam", &bad).await,
                    Err(UserPoolError::InvalidParameter(_))
                ),
                "{bad:?}"
            );
        }
        let sent = p
            .admin_update_user_attributes(
                &pool.id,
                "sam",
                &attrs(&[
                    ("email", "sam2@example.com"),
                    ("custom:age", "42"),
                    ("name", "Sam"),
                ]),
            )
            .await
            .unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].destination, "s***@e***");
        let sam = p.admin_get_user(&pool.id, "sam").await.unwrap();
        assert_eq!(sam.attribute("email"), Some("sam2@example.com"));
        assert_eq!(sam.attribute("email_verified"), Some("false"));
        let code_msg = f
            .messages()
            .into_iter()
            .find(|m| m["purpose"] == "VerifyAttribute")
            .unwrap();
        let code = code_msg["code"].as_str().unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert!(matches!(
            p.check_code(
                &pool.id,
                &attempts::Subject::user(&sam),
                Some(&sam.sub),
                &verify_code_purpose("email"),
                wrong,
                false,
                p.now()
            )
            .await,
            Err(UserPoolError::CodeMismatch(_))
        ));
        let data = p
            .check_code(
                &pool.id,
                &attempts::Subject::user(&sam),
                Some(&sam.sub),
                &verify_code_purpose("email"),
                code,
                false,
                p.now(),
            )
            .await
            .unwrap();
        assert_eq!(data.as_deref(), Some("sam2@example.com"));
        p.admin_update_user_attributes(
            &pool.id,
            "sam",
            &attrs(&[("email", "sam3@example.com"), ("email_verified", "true")]),
        )
        .await
        .unwrap();
        assert_eq!(
            p.admin_get_user(&pool.id, "sam")
                .await
                .unwrap()
                .attribute("email_verified"),
            Some("true")
        );
        p.admin_delete_user_attributes(&pool.id, "sam", &["name".into(), "email".into()])
            .await
            .unwrap();
        let sam = p.admin_get_user(&pool.id, "sam").await.unwrap();
        assert!(
            sam.attribute("name").is_none()
                && sam.attribute("email").is_none()
                && sam.attribute("email_verified").is_none()
        );
        assert_eq!(sam.attribute("custom:age"), Some("42"));
        assert!(matches!(
            p.admin_delete_user_attributes(&pool.id, "sam", &["sub".into()])
                .await,
            Err(UserPoolError::InvalidParameter(_))
        ));

        // Confirm, disable (revokes refresh tokens), enable, delete.
        assert!(matches!(
            p.admin_confirm_sign_up(&pool.id, "sam").await,
            Err(UserPoolError::NotAuthorized(_))
        ));
        let client = p
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "c".into(),
                    generate_secret: false,
                    config: ClientConfig::default(),
                },
            )
            .await
            .unwrap();
        let gina = p.admin_get_user(&pool.id, &gina.username).await.unwrap();
        let tokens = p
            .issue_tokens(&pool, &client, &gina, p.now(), TokenOrigin::NewSession)
            .await
            .unwrap();
        let hash = refresh_token_hash(tokens.refresh_token.as_deref().unwrap());
        assert!(
            db.store
                .refresh_tokens()
                .get(&hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
        p.admin_set_user_enabled(&pool.id, "gina", false)
            .await
            .unwrap();
        assert!(!p.admin_get_user(&pool.id, "gina").await.unwrap().enabled);
        assert!(
            db.store
                .refresh_tokens()
                .get(&hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
        p.admin_set_user_enabled(&pool.id, "gina", true)
            .await
            .unwrap();
        p.admin_delete_user(&pool.id, "gina").await.unwrap();
        assert!(
            db.store
                .refresh_tokens()
                .get(&hash)
                .await
                .unwrap()
                .is_none()
        );
        for r in [
            p.admin_get_user(&pool.id, "gina").await.map(|_| ()),
            p.admin_delete_user(&pool.id, "ghost").await,
            p.admin_set_user_enabled(&pool.id, "ghost", false).await,
            p.admin_confirm_sign_up(&pool.id, "ghost").await,
        ] {
            assert!(matches!(r, Err(UserPoolError::UserNotFound(_))), "{r:?}");
        }
        assert!(matches!(
            p.admin_get_user("us-east-1_AAAAAAAAA", "x").await,
            Err(UserPoolError::ResourceNotFound(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn email_username_pool_uses_ids_as_usernames_and_emails_as_aliases() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let cfg = PoolConfig {
            username_attributes: vec![UsernameAttribute::Email],
            ..PoolConfig::default()
        };
        let pool = p.create_user_pool("emails", cfg).await.unwrap();
        let req = |name: &str| AdminCreateUser {
            username: name.into(),
            attributes: Vec::new(),
            temporary_password: Some("Temp-Pass-123!".into()),
            message_action: Some(MessageAction::Suppress),
            delivery_mediums: Vec::new(),
        };
        let user = p
            .admin_create_user(&pool.id, req("Ann@Example.com"))
            .await
            .unwrap();
        assert_eq!(user.username, user.sub);
        assert_eq!(user.attribute("email"), Some("Ann@Example.com"));
        assert_eq!(
            p.admin_get_user(&pool.id, "ann@example.com")
                .await
                .unwrap()
                .sub,
            user.sub
        );
        assert!(matches!(
            p.admin_create_user(&pool.id, req("ann@example.com")).await,
            Err(UserPoolError::UsernameExists(_))
        ));
        assert!(matches!(
            p.admin_create_user(&pool.id, req("not-an-email")).await,
            Err(UserPoolError::InvalidParameter(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_users_filters_and_pages() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let pool = p.create_user_pool("list", strict_pool()).await.unwrap();
        for (name, email) in [
            ("ann", "ann@example.com"),
            ("andy", "andy@example.org"),
            ("bob", "bob@example.com"),
            ("dan", "dan@example.com"),
        ] {
            let mut r = invite(name, email, Some(MessageAction::Suppress));
            r.attributes.push(("name".into(), name.to_uppercase()));
            p.admin_create_user(&pool.id, r).await.unwrap();
            p.admin_set_user_password(&pool.id, name, "Perm-Pass-123!", true)
                .await
                .unwrap();
        }
        p.admin_set_user_enabled(&pool.id, "dan", false)
            .await
            .unwrap();
        let names = |page: &Page<User>| {
            page.items
                .iter()
                .map(|u| u.username.clone())
                .collect::<Vec<_>>()
        };
        let pool_id = pool.id.clone();
        let list = |filter: &str| {
            let req = ListUsersRequest {
                filter: Some(filter.into()),
                ..ListUsersRequest::default()
            };
            let pool_id = pool_id.clone();
            async move { p.list_users(&pool_id, &req).await }
        };
        assert_eq!(
            names(&list("").await.unwrap()),
            ["andy", "ann", "bob", "dan"]
        );
        assert_eq!(
            names(&list(r#"email = "ann@example.com""#).await.unwrap()),
            ["ann"]
        );
        assert_eq!(
            names(&list(r#"email ^= "an""#).await.unwrap()),
            ["andy", "ann"]
        );
        assert_eq!(names(&list(r#"username ^= "b""#).await.unwrap()), ["bob"]);
        assert_eq!(names(&list(r#"name = "BOB""#).await.unwrap()), ["bob"]);
        assert_eq!(
            names(&list(r#"status = "Disabled""#).await.unwrap()),
            ["dan"]
        );
        assert_eq!(
            names(&list(r#"cognito:user_status = "confirmed""#).await.unwrap()).len(),
            4
        );
        let ann = p.admin_get_user(&pool.id, "ann").await.unwrap();
        assert_eq!(
            names(&list(&format!(r#"sub = "{}""#, ann.sub)).await.unwrap()),
            ["ann"]
        );
        assert!(matches!(
            list(r#"custom:tier = "x""#).await,
            Err(UserPoolError::InvalidParameter(_))
        ));

        // Limit 1 with a prefix filter walks both matches once; the token is bound to the filter.
        let filter = r#"email ^= "an""#;
        let mut req = ListUsersRequest {
            filter: Some(filter.into()),
            limit: Some(1),
            ..ListUsersRequest::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = p.list_users(&pool.id, &req).await.unwrap();
            seen.extend(names(&page));
            match page.next {
                Some(t) => req.pagination_token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, ["andy", "ann"]);
        let page = p
            .list_users(
                &pool.id,
                &ListUsersRequest {
                    limit: Some(2),
                    ..ListUsersRequest::default()
                },
            )
            .await
            .unwrap();
        let other = ListUsersRequest {
            filter: Some(filter.into()),
            pagination_token: page.next,
            ..ListUsersRequest::default()
        };
        assert!(matches!(
            p.list_users(&pool.id, &other).await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        assert!(matches!(
            p.list_users(
                &pool.id,
                &ListUsersRequest {
                    limit: Some(61),
                    ..ListUsersRequest::default()
                }
            )
            .await,
            Err(UserPoolError::InvalidParameter(_))
        ));

        let only_email = ListUsersRequest {
            attributes_to_get: Some(vec!["email".into()]),
            ..ListUsersRequest::default()
        };
        for u in p.list_users(&pool.id, &only_email).await.unwrap().items {
            assert_eq!(u.attributes.keys().collect::<Vec<_>>(), ["email"]);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_tokens_and_key_rotation() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let p = &f.pools;
        let pool = p.create_user_pool("groups", strict_pool()).await.unwrap();
        let client = p
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "c".into(),
                    generate_secret: false,
                    config: ClientConfig::default(),
                },
            )
            .await
            .unwrap();
        let arn = "arn:aws:iam::000000000000:role/readers";
        p.create_group(&pool.id, "editors", Some("edit".into()), Some(2), None)
            .await
            .unwrap();
        p.create_group(&pool.id, "admins", None, Some(1), Some(arn.into()))
            .await
            .unwrap();
        assert!(matches!(
            p.create_group(&pool.id, "admins", None, None, None).await,
            Err(UserPoolError::GroupExists(_))
        ));
        assert!(matches!(
            p.create_group(&pool.id, "x", None, None, Some("nope".into()))
                .await,
            Err(UserPoolError::InvalidParameter(_))
        ));
        let g = p
            .update_group(
                &pool.id,
                "editors",
                GroupUpdate {
                    precedence: Some(3),
                    ..GroupUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (g.precedence, g.description.as_deref()),
            (Some(3), Some("edit"))
        );
        let page = p.list_groups(&pool.id, Some(1), None).await.unwrap();
        assert_eq!(page.items[0].name, "admins");
        let page = p
            .list_groups(&pool.id, Some(1), page.next.as_deref())
            .await
            .unwrap();
        assert_eq!(
            (page.items[0].name.as_str(), page.next.is_none()),
            ("editors", true)
        );

        let user = p
            .admin_create_user(
                &pool.id,
                invite("ida", "ida@example.com", Some(MessageAction::Suppress)),
            )
            .await
            .unwrap();
        for group in ["editors", "admins", "admins"] {
            p.admin_add_user_to_group(&pool.id, "ida", group)
                .await
                .unwrap();
        }
        assert!(matches!(
            p.admin_add_user_to_group(&pool.id, "ida", "missing").await,
            Err(UserPoolError::ResourceNotFound(_))
        ));
        assert!(matches!(
            p.admin_add_user_to_group(&pool.id, "ghost", "admins").await,
            Err(UserPoolError::UserNotFound(_))
        ));
        assert_eq!(
            p.admin_list_groups_for_user(&pool.id, "ida", None, None)
                .await
                .unwrap()
                .items
                .len(),
            2
        );
        assert_eq!(
            p.list_users_in_group(&pool.id, "admins", None, None)
                .await
                .unwrap()
                .items
                .len(),
            1
        );

        // Tokens carry groups in precedence order, roles, readable attributes, the session ids.
        let auth_time = p.now() - Duration::from_secs(30);
        let tokens = p
            .issue_tokens(&pool, &client, &user, auth_time, TokenOrigin::NewSession)
            .await
            .unwrap();
        assert_eq!(tokens.expires_in, 3600);
        let now_s = i64::try_from(T0).unwrap();
        let ring = p.key_ring(&pool.id).await.unwrap();
        let id = ring
            .verify_id_token(&tokens.id_token, now_s, Some(&client.id))
            .unwrap();
        assert_eq!(id.groups, ["admins", "editors"]);
        assert_eq!(id.auth_time, now_s - 30);
        assert_eq!(id.iss, format!("http://127.0.0.1:8000/{}", pool.id));
        assert_eq!(id.attributes["email_verified"], serde_json::json!(true));
        assert_eq!(
            id.attributes["cognito:preferred_role"],
            serde_json::json!(arn)
        );
        let access = ring
            .verify_access_token(&tokens.access_token, now_s, Some(&client.id))
            .unwrap();
        assert_eq!(access.scope, ADMIN_SCOPE);
        assert_eq!(access.origin_jti, id.origin_jti);
        let refreshed = p
            .issue_tokens(
                &pool,
                &client,
                &user,
                auth_time,
                TokenOrigin::Refresh {
                    origin_jti: id.origin_jti.clone(),
                },
            )
            .await
            .unwrap();
        assert!(refreshed.refresh_token.is_none());

        p.admin_remove_user_from_group(&pool.id, "ida", "admins")
            .await
            .unwrap();
        p.delete_group(&pool.id, "editors").await.unwrap();
        assert!(
            p.admin_list_groups_for_user(&pool.id, "ida", None, None)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(matches!(
            p.get_group(&pool.id, "editors").await,
            Err(UserPoolError::ResourceNotFound(_))
        ));

        // Rotation: new keys sign, old tokens still verify, the JWKS lists both until expiry.
        let old_kid = ring
            .active_key(crate::tokens::TokenUse::Id)
            .unwrap()
            .kid()
            .to_owned();
        let rotated = p.rotate_signing_keys(&pool.id).await.unwrap();
        assert_eq!(rotated.retired_kids.len(), 2);
        assert!(rotated.retired_kids.contains(&old_kid));
        assert_eq!(
            rotated.retired_until,
            p.now() + Duration::from_secs(24 * 3600)
        );
        assert_eq!(p.jwks(&pool.id).await.unwrap().keys.len(), 4);
        let ring = p.key_ring_for_kid(&pool.id, &old_kid).await.unwrap();
        assert!(ring.verify_id_token(&tokens.id_token, now_s, None).is_ok());
        let fresh = p
            .issue_tokens(&pool, &client, &user, auth_time, TokenOrigin::NewSession)
            .await
            .unwrap();
        let fresh_claims =
            p.key_ring(&pool.id)
                .await
                .unwrap()
                .verify_id_token(&fresh.id_token, now_s, None);
        assert!(fresh_claims.is_ok());
        assert!(!fresh.id_token.contains(&old_kid));

        // A second service on the same database (another node) sees the rotation.
        let other = fixture(&db.store);
        let ring2 = other.pools.key_ring(&pool.id).await.unwrap();
        assert_eq!(ring2.jwks().keys.len(), 4);
        assert!(ring2.verify_id_token(&fresh.id_token, now_s, None).is_ok());
        assert!(ring2.verify_id_token(&tokens.id_token, now_s, None).is_ok());

        // After the longest token lifetime the retired keys leave the JWKS.
        f.clock.advance(Duration::from_secs(24 * 3600 + 61));
        assert_eq!(p.jwks(&pool.id).await.unwrap().keys.len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cached_key_rings_load_in_the_background_for_synchronous_verifiers() {
    each_backend(async |db: &TestStore| {
        let f = fixture(&db.store);
        let pool = f
            .pools
            .create_user_pool("sync", PoolConfig::default())
            .await
            .unwrap();
        assert!(
            f.pools.key_ring_cached(&pool.id).is_some(),
            "the creating node caches the ring it made"
        );

        // Another node has nothing cached: the first call answers at once with nothing and
        // starts a load; a later call finds the ring.
        let other = fixture(&db.store);
        assert!(other.pools.key_ring_cached(&pool.id).is_none());
        let mut ring = None;
        for _ in 0..200 {
            ring = other.pools.key_ring_cached(&pool.id);
            if ring.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ring = ring.expect("loaded in the background");
        assert_eq!(ring.jwks().keys.len(), 2);
        assert!(other.pools.key_ring_cached("us-east-1_NoSuchPoo").is_none());
    })
    .await;
}
