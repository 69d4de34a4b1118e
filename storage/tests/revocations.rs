//! Token revocations on both backends: recording (and re-recording) a revocation, the
//! change feed by `seq` (also seen from a second store on the same database), loading what
//! is unexpired, purging, and the migration of revocations that earlier versions kept in
//! service settings.

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{Backend, RevocationKind, RevocationRecord, Store, StoreOptions};
use sqlx::Connection as _;

const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 86_400_000;

fn keys(rows: &[RevocationRecord]) -> Vec<(&str, RevocationKind, &str)> {
    rows.iter()
        .map(|r| (r.pool_id.as_str(), r.kind, r.subject.as_str()))
        .collect()
}

#[tokio::test]
async fn recorded_revocations_come_back_in_seq_order() {
    each_backend(async |t: &TestStore| {
        let r = t.store.revocations();
        let a = r
            .record("p1", RevocationKind::Session, "jti-a", T0, T0 + DAY)
            .await
            .unwrap();
        let b = r
            .record("p1", RevocationKind::User, "sub-b", T0 + 5, T0 + 5 + DAY)
            .await
            .unwrap();
        // The same subject under another kind or pool is another row.
        let c = r
            .record("p2", RevocationKind::Session, "jti-a", T0, T0 + DAY)
            .await
            .unwrap();
        assert!(a.seq < b.seq && b.seq < c.seq, "{a:?} {b:?} {c:?}");
        assert_eq!(
            (
                b.pool_id.as_str(),
                b.kind,
                b.subject.as_str(),
                b.revoked_at,
                b.expires_at
            ),
            ("p1", RevocationKind::User, "sub-b", T0 + 5, T0 + 5 + DAY)
        );
        let all = r.load_unexpired(T0).await.unwrap();
        assert_eq!(all, vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(
            r.changes_after(a.seq, 100).await.unwrap(),
            vec![b.clone(), c.clone()]
        );
        assert_eq!(r.changes_after(c.seq, 100).await.unwrap(), vec![]);
        // One token's revocations: its sign-in's and its user's, in that pool only.
        assert_eq!(
            keys(&r.for_token("p1", "jti-a", "sub-b").await.unwrap()),
            vec![
                ("p1", RevocationKind::Session, "jti-a"),
                ("p1", RevocationKind::User, "sub-b")
            ]
        );
        assert_eq!(r.for_token("p1", "sub-b", "jti-a").await.unwrap(), vec![]);
        assert_eq!(
            keys(&r.for_token("p2", "jti-a", "sub-b").await.unwrap()),
            vec![("p2", RevocationKind::Session, "jti-a")]
        );
        // Bounded batches: a poller reads the feed in pieces.
        assert_eq!(r.changes_after(0, 2).await.unwrap(), vec![a, b]);
    })
    .await;
}

#[tokio::test]
async fn revoking_again_moves_the_row_only_when_it_changes() {
    each_backend(async |t: &TestStore| {
        let r = t.store.revocations();
        let first = r
            .record("p1", RevocationKind::User, "sub", T0, T0 + DAY)
            .await
            .unwrap();
        let other = r
            .record("p1", RevocationKind::Session, "jti", T0, T0 + DAY)
            .await
            .unwrap();
        // Repeated (or stamped by a slower clock): the stored row already covers it.
        let same = r
            .record(
                "p1",
                RevocationKind::User,
                "sub",
                T0 - 1000,
                T0 - 1000 + DAY,
            )
            .await
            .unwrap();
        assert_eq!(same, first);
        assert_eq!(r.changes_after(other.seq, 10).await.unwrap(), vec![]);
        // A later sign-out: later time, new seq, one row per subject.
        let later = r
            .record(
                "p1",
                RevocationKind::User,
                "sub",
                T0 + 60_000,
                T0 + 60_000 + DAY,
            )
            .await
            .unwrap();
        assert!(later.seq > other.seq);
        assert_eq!(
            (later.revoked_at, later.expires_at),
            (T0 + 60_000, T0 + 60_000 + DAY)
        );
        assert_eq!(
            r.changes_after(other.seq, 10).await.unwrap(),
            vec![later.clone()]
        );
        assert_eq!(
            keys(&r.load_unexpired(T0).await.unwrap()),
            vec![
                ("p1", RevocationKind::Session, "jti"),
                ("p1", RevocationKind::User, "sub")
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn expired_revocations_are_not_loaded_and_are_purged() {
    each_backend(async |t: &TestStore| {
        let r = t.store.revocations();
        let old = r
            .record("p1", RevocationKind::Session, "old", T0, T0 + DAY)
            .await
            .unwrap();
        let new = r
            .record("p1", RevocationKind::Session, "new", T0 + DAY, T0 + 2 * DAY)
            .await
            .unwrap();
        // `expires_at` is the first instant the row is useless.
        assert_eq!(r.load_unexpired(T0 + DAY - 1).await.unwrap().len(), 2);
        assert_eq!(r.load_unexpired(T0 + DAY).await.unwrap(), vec![new.clone()]);
        // The feed still shows expired rows until they are purged.
        assert_eq!(r.changes_after(0, 10).await.unwrap().len(), 2);
        assert_eq!(r.purge_expired(T0 + DAY - 1).await.unwrap(), 0);
        assert_eq!(r.purge_expired(T0 + DAY).await.unwrap(), 1);
        assert_eq!(r.changes_after(0, 10).await.unwrap(), vec![new.clone()]);
        // Purging the newest row does not hand its seq out again.
        assert_eq!(r.purge_expired(T0 + 3 * DAY).await.unwrap(), 1);
        let next = r
            .record("p1", RevocationKind::Session, "next", T0, T0 + DAY)
            .await
            .unwrap();
        assert!(next.seq > new.seq && new.seq > old.seq);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_sees_every_revocation_through_the_feed() {
    each_backend(async |t: &TestStore| {
        let other = Store::open(t.url(), StoreOptions::default()).await.unwrap();
        // Writers on both stores at once: the feed read from either is complete and ordered.
        let write = async |store: &Store, prefix: &str| {
            for i in 0..20 {
                store
                    .revocations()
                    .record(
                        "p1",
                        RevocationKind::Session,
                        &format!("{prefix}{i}"),
                        T0,
                        T0 + DAY,
                    )
                    .await
                    .unwrap();
            }
        };
        tokio::join!(write(&t.store, "a"), write(&other, "b"));
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let batch = other.revocations().changes_after(after, 7).await.unwrap();
            let Some(last) = batch.last() else { break };
            after = last.seq;
            seen.extend(batch);
        }
        assert_eq!(seen.len(), 40);
        assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
        other.close().await;
    })
    .await;
}

/// Rewinds the database to schema version 3 with revocations in service settings, as an
/// earlier gatehouse wrote them, then reopens it so that migration 0004 runs on them.
#[tokio::test]
async fn migration_moves_revocations_out_of_service_settings() {
    each_backend(async |t: &TestStore| {
        let rewind =
            "DROP TABLE token_revocations; DELETE FROM gatehouse_migrations WHERE version = 4";
        match t.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(t.url()).await.unwrap();
                sqlx::raw_sql(rewind).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(t.url()).await.unwrap();
                sqlx::raw_sql(rewind).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
        let settings = t.store.settings();
        let seconds = T0 / 1000;
        for (name, value, at) in [
            ("revoked-session|us-east-1_a|jti-1", T0.to_string(), T0),
            ("signed-out|us-east-1_a|sub-1", seconds.to_string(), T0 + 7),
            (
                "revoked-session|us-east-1_b|jti|odd",
                (T0 + 1).to_string(),
                T0 + 1,
            ),
            (
                "signed-out|us-east-1_b|sub-2",
                "not a number".to_owned(),
                T0,
            ),
            ("revoked-session|no-subject", T0.to_string(), T0),
            ("operator-credentials", "{}".to_owned(), T0),
        ] {
            settings.put(name, &value, at).await.unwrap();
        }
        let reopened = Store::open(t.url(), StoreOptions::default()).await.unwrap();
        let rows = reopened.revocations().load_unexpired(0).await.unwrap();
        let moved: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.pool_id.as_str(),
                    r.kind,
                    r.subject.as_str(),
                    r.revoked_at,
                    r.expires_at,
                )
            })
            .collect();
        assert_eq!(
            moved,
            vec![
                (
                    "us-east-1_a",
                    RevocationKind::Session,
                    "jti-1",
                    T0,
                    T0 + DAY
                ),
                (
                    "us-east-1_b",
                    RevocationKind::Session,
                    "jti|odd",
                    T0 + 1,
                    T0 + 1 + DAY
                ),
                (
                    "us-east-1_a",
                    RevocationKind::User,
                    "sub-1",
                    seconds * 1000,
                    seconds * 1000 + DAY
                ),
            ]
        );
        let settings = reopened.settings();
        for gone in [
            "revoked-session|us-east-1_a|jti-1",
            "signed-out|us-east-1_a|sub-1",
            "signed-out|us-east-1_b|sub-2",
            "revoked-session|no-subject",
        ] {
            assert_eq!(settings.get(gone).await.unwrap(), None, "{gone}");
        }
        assert_eq!(
            settings
                .get("operator-credentials")
                .await
                .unwrap()
                .as_deref(),
            Some("{}")
        );
        reopened.close().await;
    })
    .await;
}
