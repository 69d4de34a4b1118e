//! Attempt counters on both backends: what `update` reads and writes, deleting, purging, and
//! concurrent updaters from two stores on one database counted one after the other; and the
//! code operations that count a send or a guess in the same transaction.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{
    CodeAttempt, CodeRecord, CounterKey, CounterState, CounterWrite, NewUser, NewUserPool, Store,
    StoreOptions,
};

const T0: i64 = 1_700_000_000_000;

fn key<'a>(subject: &'a str, kind: &'a str) -> CounterKey<'a> {
    CounterKey {
        pool_id: "us-east-1_a",
        subject,
        kind,
    }
}

fn state(count: i64, at: i64) -> CounterState {
    CounterState {
        count,
        window_start: T0,
        last_at: at,
        locked_until: 0,
        expires_at: at + 1_000,
    }
}

/// Adds one to the counter (a first event starts it at 1); allowed while below `limit`.
fn increment(limit: i64, at: i64) -> impl FnOnce(Option<CounterState>) -> (CounterWrite, bool) {
    move |stored| {
        let count = stored.map_or(0, |s| s.count);
        if count >= limit {
            return (CounterWrite::Keep, false);
        }
        (CounterWrite::Put(state(count + 1, at)), true)
    }
}

async fn user(store: &Store) -> String {
    store
        .user_pools()
        .create(&NewUserPool {
            id: "us-east-1_a".into(),
            name: "p".into(),
            config: "{}".into(),
            created_at: T0,
            signing_keys: Vec::new(),
        })
        .await
        .unwrap();
    store
        .users()
        .create(&NewUser {
            pool_id: "us-east-1_a".into(),
            sub: "sub-alice".into(),
            username: "alice".into(),
            username_key: "alice".into(),
            status: "CONFIRMED".into(),
            enabled: true,
            password_hash: None,
            srp_verifier: None,
            attributes: Default::default(),
            aliases: Vec::new(),
            created_at: T0,
        })
        .await
        .unwrap()
        .sub
}

fn code(sub: &str) -> CodeRecord {
    CodeRecord {
        pool_id: "us-east-1_a".into(),
        sub: sub.into(),
        purpose: "forgot_password".into(),
        code_hash: vec![9; 32],
        data: None,
        expires_at: T0 + 1_000,
        attempts_left: 5,
        created_at: T0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_reads_and_writes_back_one_counter() {
    each_backend(async |t: &TestStore| {
        let c = t.store.counters();
        assert_eq!(c.get(key("alice", "password")).await.unwrap(), None);
        for (n, expected) in [(1, true), (2, true), (3, false)] {
            let allowed = c
                .update(key("alice", "password"), increment(2, T0 + n))
                .await
                .unwrap();
            assert_eq!(allowed, expected, "attempt {n}");
        }
        assert_eq!(
            c.get(key("alice", "password")).await.unwrap(),
            Some(state(2, T0 + 2)),
            "a refused attempt kept the row"
        );
        // Subjects, kinds and pools are separate counters.
        assert_eq!(c.get(key("alice", "code:sign_up")).await.unwrap(), None);
        assert_eq!(c.get(key("bob", "password")).await.unwrap(), None);
        let other_pool = CounterKey {
            pool_id: "us-east-1_b",
            ..key("alice", "password")
        };
        assert_eq!(c.get(other_pool).await.unwrap(), None);

        let seen = c
            .update(key("alice", "password"), |s| (CounterWrite::Delete, s))
            .await
            .unwrap();
        assert_eq!(seen, Some(state(2, T0 + 2)));
        assert_eq!(c.get(key("alice", "password")).await.unwrap(), None);

        c.update(key("a", "k"), increment(9, T0)).await.unwrap();
        c.update(key("b", "k"), increment(9, T0 + 5_000))
            .await
            .unwrap();
        assert!(c.delete(key("b", "k")).await.unwrap());
        assert!(!c.delete(key("b", "k")).await.unwrap());
        c.update(key("b", "k"), increment(9, T0 + 5_000))
            .await
            .unwrap();
        // `a` expires at T0 + 1000, `b` at T0 + 6000.
        assert_eq!(c.purge_expired(T0 + 1_000).await.unwrap(), 1);
        assert_eq!(c.get(key("a", "k")).await.unwrap(), None);
        assert!(c.get(key("b", "k")).await.unwrap().is_some());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_attempts_from_two_stores_never_pass_the_limit() {
    each_backend(async |t: &TestStore| {
        // A second store on the same database stands for a second node.
        let other = Store::open(t.url(), StoreOptions::default()).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..24 {
            let store = if i % 2 == 0 {
                t.store.clone()
            } else {
                other.clone()
            };
            tasks.spawn(async move {
                store
                    .counters()
                    .update(key("alice", "password"), increment(5, T0))
                    .await
                    .unwrap()
            });
        }
        let mut allowed = 0;
        while let Some(result) = tasks.join_next().await {
            allowed += i32::from(result.unwrap());
        }
        assert_eq!(allowed, 5, "exactly the limit got through");
        assert_eq!(
            t.store
                .counters()
                .get(key("alice", "password"))
                .await
                .unwrap()
                .map(|s| s.count),
            Some(5)
        );
        other.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_sends_and_guesses_are_counted_with_the_code() {
    each_backend(async |t: &TestStore| {
        let sub = user(&t.store).await;
        let codes = t.store.codes();
        // Two sends allowed, the third refused and the stored code unchanged.
        let first = code(&sub);
        assert!(
            codes
                .put_counted(Some(&first), key(&sub, "send"), increment(2, T0))
                .await
                .unwrap()
        );
        // A send to nobody counts against the same kind of counter.
        assert!(
            codes
                .put_counted(None, key("name:ghost", "send"), increment(2, T0))
                .await
                .unwrap()
        );
        let mut second = code(&sub);
        second.code_hash = vec![8; 32];
        assert!(
            codes
                .put_counted(Some(&second), key(&sub, "send"), increment(2, T0))
                .await
                .unwrap()
        );
        let mut third = code(&sub);
        third.code_hash = vec![7; 32];
        assert!(
            !codes
                .put_counted(Some(&third), key(&sub, "send"), increment(2, T0))
                .await
                .unwrap()
        );
        let stored = codes
            .get("us-east-1_a", &sub, "forgot_password")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.code_hash, vec![8; 32]);

        // Guesses: allowed ones spend the code's attempts too; refused ones read nothing.
        let guess = |limit| increment(limit, T0);
        let granted = codes
            .guess(
                "us-east-1_a",
                Some(&sub),
                "forgot_password",
                key(&sub, "code"),
                guess(2),
            )
            .await
            .unwrap();
        assert!(
            matches!(&granted, Some(CodeAttempt::Granted(c)) if c.attempts_left == 4),
            "{granted:?}"
        );
        assert_eq!(
            codes
                .guess(
                    "us-east-1_a",
                    None,
                    "forgot_password",
                    key("name:ghost", "code"),
                    guess(2)
                )
                .await
                .unwrap(),
            Some(CodeAttempt::Missing),
            "nobody to guess for"
        );
        assert!(matches!(
            codes
                .guess(
                    "us-east-1_a",
                    Some(&sub),
                    "forgot_password",
                    key(&sub, "code"),
                    guess(2)
                )
                .await
                .unwrap(),
            Some(CodeAttempt::Granted(_))
        ));
        assert_eq!(
            codes
                .guess(
                    "us-east-1_a",
                    Some(&sub),
                    "forgot_password",
                    key(&sub, "code"),
                    guess(2)
                )
                .await
                .unwrap(),
            None,
            "the counter refused the third guess"
        );
        let left = codes
            .get("us-east-1_a", &sub, "forgot_password")
            .await
            .unwrap()
            .unwrap()
            .attempts_left;
        assert_eq!(left, 3, "a refused guess spent none of the code's attempts");
    })
    .await;
}
