//! Lazy migration sources and stopped import jobs on both backends: a source is put, replaced
//! (keeping its creation time), read and removed, goes with its pool, and needs one; an import
//! job stops only from the statuses it is asked to stop from, losing its upload when it had
//! not run.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{MigrationSourceRecord, NewImportJob, NewUserPool, StorageError, Store};

const POOL: &str = "us-east-1_migrate";

async fn pool(store: &Store, id: &str) {
    store
        .user_pools()
        .create(&NewUserPool {
            id: id.to_owned(),
            name: id.to_owned(),
            config: "{}".to_owned(),
            created_at: 0,
            signing_keys: vec![],
        })
        .await
        .unwrap();
}

fn source(pool_id: &str, client_id: &str, at: i64) -> MigrationSourceRecord {
    MigrationSourceRecord {
        pool_id: pool_id.to_owned(),
        endpoint: "https://cognito-idp.eu-west-1.amazonaws.com/".to_owned(),
        region: "eu-west-1".to_owned(),
        upstream_pool_id: "eu-west-1_Upstream1".to_owned(),
        client_id: client_id.to_owned(),
        client_secret: Some(vec![1, 2, 3]),
        access_key_id: None,
        secret_access_key: None,
        timeout_ms: 5_000,
        created_at: at,
        updated_at: at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_has_at_most_one_source_and_it_goes_with_the_pool() {
    each_backend(async |t: &TestStore| {
        let sources = t.store.migration_sources();
        let missing = sources.put(&source("us-east-1_nopool", "c", 1)).await;
        assert!(matches!(missing, Err(StorageError::NotFound { .. })));
        pool(&t.store, POOL).await;
        assert_eq!(sources.get(POOL).await.unwrap(), None);
        sources.put(&source(POOL, "first", 10)).await.unwrap();
        let mut replaced = source(POOL, "second", 20);
        replaced.client_secret = None;
        replaced.access_key_id = Some("AKIAUPSTREAM".to_owned());
        replaced.secret_access_key = Some(vec![9; 40]);
        sources.put(&replaced).await.unwrap();
        let stored = sources.get(POOL).await.unwrap().unwrap();
        assert_eq!(
            stored,
            MigrationSourceRecord {
                created_at: 10,
                ..replaced
            },
            "replaced whole, created_at kept"
        );
        assert!(sources.delete(POOL).await.unwrap());
        assert!(!sources.delete(POOL).await.unwrap());
        assert_eq!(sources.get(POOL).await.unwrap(), None);
        sources.put(&source(POOL, "again", 30)).await.unwrap();
        t.store.user_pools().delete(POOL).await.unwrap();
        assert_eq!(
            sources.get(POOL).await.unwrap(),
            None,
            "deleted with its pool"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_job_stops_only_from_the_statuses_named() {
    each_backend(async |t: &TestStore| {
        pool(&t.store, POOL).await;
        let jobs = t.store.import_jobs();
        for id in ["import-new", "import-run", "import-done"] {
            jobs.create(&NewImportJob {
                job_id: id.into(),
                pool_id: POOL.into(),
                job_name: id.into(),
                role_arn: "arn:aws:iam::000000000000:role/x".into(),
                status: "Created".into(),
                upload_hash: format!("hash-{id}"),
                upload_expires: 1_000,
                created_at: 0,
            })
            .await
            .unwrap();
            assert!(
                jobs.upload(id, &format!("hash-{id}"), b"csv", "Created", 1)
                    .await
                    .unwrap()
            );
        }
        let from = ["Created", "Pending", "InProgress"];
        // Not started: stopped at once, its file dropped, so it can never run.
        assert!(
            jobs.stop(POOL, "import-new", &from, "Stopped", 5)
                .await
                .unwrap()
        );
        let job = jobs.get(POOL, "import-new").await.unwrap().unwrap();
        assert_eq!(
            (job.status.as_str(), job.uploaded, job.completed_at),
            ("Stopped", false, Some(5))
        );
        let take = jobs.take_csv(POOL, "import-new", "Created", "InProgress", 6);
        assert_eq!(take.await.unwrap(), None);
        // Running: marked for the runner, which reads the status between rows.
        let taken = jobs.take_csv(POOL, "import-run", "Created", "InProgress", 6);
        assert!(taken.await.unwrap().is_some());
        assert!(
            jobs.stop(POOL, "import-run", &["InProgress"], "Stopping", 7)
                .await
                .unwrap()
        );
        assert_eq!(
            jobs.status(POOL, "import-run").await.unwrap().as_deref(),
            Some("Stopping")
        );
        let job = jobs.get(POOL, "import-run").await.unwrap().unwrap();
        assert_eq!((job.completed_at, job.started_at), (None, Some(6)));
        // Finished, already stopped, unknown or of another pool: nothing changes.
        let taken = jobs.take_csv(POOL, "import-done", "Created", "InProgress", 8);
        assert!(taken.await.unwrap().is_some());
        jobs.finish(
            POOL,
            "import-done",
            &gatehouse_storage::ImportJobOutcome {
                status: "Succeeded".into(),
                imported: 1,
                skipped: 0,
                failed: 0,
                message: None,
                completed_at: 9,
            },
        )
        .await
        .unwrap();
        for id in ["import-done", "import-new", "import-none"] {
            let refused = jobs.stop(POOL, id, &from, "Stopped", 10).await.unwrap();
            assert!(!refused, "{id}");
        }
        let other = jobs.stop(
            "us-east-1_other",
            "import-run",
            &["Stopping"],
            "Stopped",
            10,
        );
        assert!(!other.await.unwrap(), "another pool's job");
        assert!(
            !jobs
                .stop(POOL, "import-run", &[], "Stopped", 10)
                .await
                .unwrap()
        );
        assert_eq!(
            jobs.status(POOL, "import-done").await.unwrap().as_deref(),
            Some("Succeeded")
        );
    })
    .await;
}
