//! Registered functions on both backends: storing and replacing (the creation time kept, the
//! counter moved), the limit on how many there are, reading one, deleting (an unknown one is
//! not found), a snapshot at one counter value, and the change seen from a second store on the
//! same database (another node).

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{FunctionPut, FunctionRecord, StorageError, Store, StoreOptions};

const T0: i64 = 1_700_000_000_000;

fn record(arn: &str, url: &str, at: i64) -> FunctionRecord {
    FunctionRecord {
        arn: arn.to_owned(),
        url: url.to_owned(),
        timeout_ms: 5_000,
        secret: vec![0, 1, 2, 255],
        created_at: at,
        updated_at: at,
    }
}

const A: &str = "arn:aws:lambda:us-east-1:123456789012:function:a";
const B: &str = "arn:aws:lambda:us-east-1:123456789012:function:b:live";

#[tokio::test]
async fn functions_are_stored_replaced_and_counted() {
    each_backend(async |t: &TestStore| {
        let f = t.store.functions();
        assert_eq!(f.version().await.unwrap(), 0);
        assert_eq!(f.get(A).await.unwrap(), None);
        assert_eq!(
            f.put(&record(A, "http://127.0.0.1:1/a", T0), 10)
                .await
                .unwrap(),
            FunctionPut::Created
        );
        assert_eq!(f.version().await.unwrap(), 1);
        let mut replaced = record(A, "https://fn.example.com/a", T0 + 5);
        replaced.timeout_ms = 900;
        replaced.secret = b"sealed again".to_vec();
        assert_eq!(f.put(&replaced, 10).await.unwrap(), FunctionPut::Replaced);
        let stored = f.get(A).await.unwrap().unwrap();
        assert_eq!(
            stored,
            FunctionRecord {
                created_at: T0,
                ..replaced.clone()
            },
            "a replacement keeps the creation time"
        );
        assert_eq!(f.version().await.unwrap(), 2);
        f.put(&record(B, "http://127.0.0.1:1/b", T0 + 9), 10)
            .await
            .unwrap();
        let snapshot = f.snapshot().await.unwrap();
        assert_eq!(snapshot.version, 3);
        assert_eq!(
            snapshot
                .functions
                .iter()
                .map(|r| r.arn.as_str())
                .collect::<Vec<_>>(),
            [A, B],
            "ordered by arn"
        );
    })
    .await;
}

#[tokio::test]
async fn a_new_function_past_the_limit_writes_nothing() {
    each_backend(async |t: &TestStore| {
        let f = t.store.functions();
        f.put(&record(A, "http://127.0.0.1:1/a", T0), 1)
            .await
            .unwrap();
        assert_eq!(
            f.put(&record(B, "http://127.0.0.1:1/b", T0), 1)
                .await
                .unwrap(),
            FunctionPut::TooMany
        );
        assert_eq!(f.get(B).await.unwrap(), None);
        assert_eq!(
            f.version().await.unwrap(),
            1,
            "nothing written, nothing moved"
        );
        // Replacing one that exists is no new function.
        assert_eq!(
            f.put(&record(A, "http://127.0.0.1:2/a", T0 + 1), 1)
                .await
                .unwrap(),
            FunctionPut::Replaced
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_moves_the_counter_and_an_unknown_function_is_not_found() {
    each_backend(async |t: &TestStore| {
        let f = t.store.functions();
        f.put(&record(A, "http://127.0.0.1:1/a", T0), 10)
            .await
            .unwrap();
        f.delete(A).await.unwrap();
        assert_eq!(f.get(A).await.unwrap(), None);
        assert_eq!(f.version().await.unwrap(), 2);
        match f.delete(A).await {
            Err(StorageError::NotFound { what }) => assert_eq!(what, format!("function `{A}`")),
            other => panic!("expected not found, got {other:?}"),
        }
        assert_eq!(
            f.version().await.unwrap(),
            2,
            "a failed delete moves nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn another_node_sees_the_change_through_the_counter() {
    each_backend(async |t: &TestStore| {
        let other = Store::open(t.url(), StoreOptions::default()).await.unwrap();
        let before = other.functions().version().await.unwrap();
        t.store
            .functions()
            .put(&record(A, "http://127.0.0.1:1/a", T0), 10)
            .await
            .unwrap();
        let after = other.functions().snapshot().await.unwrap();
        assert!(after.version > before);
        assert_eq!(after.functions.len(), 1);
        assert_eq!(after.functions[0].secret, vec![0, 1, 2, 255]);
        other.close().await;
    })
    .await;
}
