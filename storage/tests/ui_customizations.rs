//! Storage tests of the hosted pages' branding: a pool's and an app client's rows, the
//! client's overriding the pool's, replacing CSS and logo together, logos by hash; every body
//! runs on a fresh SQLite file and a fresh PostgreSQL database.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use gatehouse_storage::testkit::each_backend;
use gatehouse_storage::{ClientRecord, NewUserPool, StorageError, Store, UiLogo};

const T0: i64 = 1_700_000_000_000;
const POOL: &str = "us-east-1_u";
const OTHER: &str = "us-east-1_v";

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

fn logo(byte: u8) -> UiLogo {
    UiLogo {
        media_type: "image/png".to_owned(),
        hash: format!("{byte:064x}"),
        bytes: vec![0x89, b'P', b'N', b'G', 0, byte, 255],
    }
}

#[tokio::test]
async fn a_clients_branding_overrides_the_pools_and_a_set_replaces_both_parts() {
    each_backend(async |t| {
        let store = &t.store;
        pools(store).await;
        let ui = store.ui_customizations();
        assert_eq!(ui.effective(POOL, "app1").await.unwrap(), None);

        let pool_wide = ui
            .put(POOL, "ALL", Some(".a{color:red}"), Some(&logo(1)), T0)
            .await
            .unwrap();
        assert_eq!(
            (
                pool_wide.css_version,
                pool_wide.created_at,
                pool_wide.updated_at
            ),
            (1, T0, T0)
        );
        assert_eq!(pool_wide.logo, Some(logo(1)));
        // No row of its own: a client gets the pool's.
        let got = ui.effective(POOL, "app1").await.unwrap().unwrap();
        assert_eq!(got.client_id, "ALL");

        store
            .clients()
            .create(&ClientRecord {
                id: "app1".to_owned(),
                pool_id: POOL.to_owned(),
                name: "app".to_owned(),
                secret: None,
                config: "{}".to_owned(),
                created_at: T0,
                updated_at: T0,
            })
            .await
            .unwrap();
        ui.put(POOL, "app1", Some(".b{color:blue}"), None, T0 + 5)
            .await
            .unwrap();
        let got = ui.effective(POOL, "app1").await.unwrap().unwrap();
        assert_eq!(
            (got.client_id.as_str(), got.css.as_deref(), got.logo),
            ("app1", Some(".b{color:blue}"), None)
        );
        assert_eq!(
            ui.effective(POOL, "app2").await.unwrap().unwrap().client_id,
            "ALL"
        );
        assert_eq!(ui.effective(OTHER, "app1").await.unwrap(), None);

        // Setting again replaces the CSS and the logo together, counts the version and keeps
        // the creation time.
        let again = ui
            .put(POOL, "ALL", None, Some(&logo(2)), T0 + 9)
            .await
            .unwrap();
        assert_eq!(
            (
                again.css,
                again.css_version,
                again.created_at,
                again.updated_at
            ),
            (None, 2, T0, T0 + 9)
        );
        assert_eq!(
            ui.get(POOL, "ALL").await.unwrap().unwrap().logo,
            Some(logo(2))
        );

        // Logos by hash, within their pool only.
        assert_eq!(ui.logo(POOL, &logo(2).hash).await.unwrap(), Some(logo(2)));
        assert_eq!(ui.logo(POOL, &logo(1).hash).await.unwrap(), None);
        assert_eq!(ui.logo(OTHER, &logo(2).hash).await.unwrap(), None);

        // A deleted client takes its branding with it.
        store.clients().delete(POOL, "app1").await.unwrap();
        assert_eq!(ui.get(POOL, "app1").await.unwrap(), None);
        assert_eq!(
            ui.effective(POOL, "app1").await.unwrap().unwrap().client_id,
            "ALL"
        );

        let missing = ui.put("us-east-1_none", "ALL", None, None, T0).await;
        assert!(
            matches!(missing, Err(StorageError::NotFound { .. })),
            "{missing:?}"
        );

        // A deleted pool takes its branding with it.
        store.user_pools().delete(POOL).await.unwrap();
        assert_eq!(ui.get(POOL, "ALL").await.unwrap(), None);
    })
    .await;
}
