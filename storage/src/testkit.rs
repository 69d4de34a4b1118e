//! Test support (feature `testkit`): a fresh database per test on each backend.
//!
//! [`each_backend`] runs a test body on a new SQLite file in a temporary folder, then on a
//! new PostgreSQL database with a random name on the server named by
//! `GATEHOUSE_TEST_POSTGRES_URL`, dropped afterwards (also when the body panics). Without
//! that variable the PostgreSQL half fails: storage is only tested when both halves run.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::{Backend, Store, StoreOptions};

/// The variable that names the test PostgreSQL server, e.g.
/// `postgres://postgres@127.0.0.1:55432/postgres`.
pub const POSTGRES_URL_VAR: &str = "GATEHOUSE_TEST_POSTGRES_URL";

/// A store on a database that exists only for one test.
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    url: String,
    /// Removes the database (or folder) when the test is over, panic or not.
    _cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Held only so that the folder is deleted on drop.
    Sqlite { _dir: tempfile::TempDir },
    Postgres {
        server_url: String,
        database: String,
    },
}

/// Runs `body` on a fresh SQLite store, then on a fresh PostgreSQL store.
///
/// # Panics
/// When `body` panics, and when `GATEHOUSE_TEST_POSTGRES_URL` is unset or the server
/// cannot be reached (after the SQLite half ran).
#[expect(clippy::panic, reason = "a test helper reports failure by panicking")]
pub async fn each_backend(body: impl AsyncFn(&TestStore)) {
    let sqlite = TestStore::sqlite(StoreOptions::default()).await;
    body(&sqlite).await;
    sqlite.store.close().await;
    drop(sqlite);

    let postgres = match TestStore::postgres(StoreOptions::default()).await {
        Ok(store) => store,
        Err(message) => panic!("{message}"),
    };
    body(&postgres).await;
    postgres.store.close().await;
}

// === impl TestStore ===

impl TestStore {
    /// A store on a new SQLite file in a new temporary folder.
    ///
    /// # Panics
    /// When the folder or the database cannot be created.
    #[expect(clippy::panic, reason = "a test helper reports failure by panicking")]
    pub async fn sqlite(options: StoreOptions) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let url = format!("sqlite://{}/nested/gatehouse.db", dir.path().display());
        let store = Store::open(&url, options)
            .await
            .unwrap_or_else(|e| panic!("cannot open `{url}`: {e}"));
        Self {
            store,
            url,
            _cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    /// A store on a new database of the server in `GATEHOUSE_TEST_POSTGRES_URL`.
    pub async fn postgres(options: StoreOptions) -> Result<Self, String> {
        let server_url = std::env::var(POSTGRES_URL_VAR).map_err(|_| {
            format!(
                "{POSTGRES_URL_VAR} is not set, so the PostgreSQL half of this test cannot run: \
                 run ./scripts/test, or eval \"$(scripts/postgres)\" and rerun"
            )
        })?;
        let database = random_database_name();
        let mut admin = admin_connection(&server_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{database}\""
        )))
        .execute(&mut admin)
        .await
        .map_err(|e| format!("cannot create test database `{database}`: {e}"))?;
        let _ = admin.close().await;
        let cleanup = Cleanup::Postgres {
            server_url: server_url.clone(),
            database: database.clone(),
        };
        let url = with_database(&server_url, &database);
        let store = Store::open(&url, options)
            .await
            .map_err(|e| format!("cannot open test database `{database}`: {e}"))?;
        Ok(Self {
            store,
            url,
            _cleanup: cleanup,
        })
    }

    /// The URL of this test's database, to open more stores on it.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Runs `sqlite` or `postgres` (whichever is this test's backend; several statements
    /// allowed) on this test's database, outside the store: for what a test must change
    /// behind the store's back, such as a trigger that makes a write fail for real.
    ///
    /// # Panics
    /// When the database cannot be reached or the text fails.
    #[expect(clippy::panic, reason = "a test helper reports failure by panicking")]
    pub async fn execute_raw(&self, sqlite: &str, postgres: &str) {
        let outcome = match self.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot open `{}`: {e}", self.url));
                let done = sqlx::raw_sql(sqlx::AssertSqlSafe(sqlite.to_owned()))
                    .execute(&mut c)
                    .await
                    .map(|_| ());
                let _ = c.close().await;
                done
            }
            Backend::Postgres => {
                let mut c = PgConnection::connect(&self.url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot open `{}`: {e}", self.url));
                let done = sqlx::raw_sql(sqlx::AssertSqlSafe(postgres.to_owned()))
                    .execute(&mut c)
                    .await
                    .map(|_| ());
                let _ = c.close().await;
                done
            }
        };
        if let Err(e) = outcome {
            panic!("raw statement failed: {e}");
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Self::Postgres {
            server_url,
            database,
        } = self
        else {
            return;
        };
        // Drop may run during a panic or inside a runtime, so the database is dropped from
        // a thread with its own small runtime.
        let server_url = server_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = admin_connection(&server_url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

async fn admin_connection(server_url: &str) -> Result<PgConnection, String> {
    let options = PgConnectOptions::from_str(server_url)
        .map_err(|e| format!("{POSTGRES_URL_VAR} is not a PostgreSQL URL: {e}"))?;
    PgConnection::connect_with(&options).await.map_err(|e| {
        format!(
            "cannot reach the PostgreSQL server in {POSTGRES_URL_VAR} (run ./scripts/test): {e}"
        )
    })
}

/// `gatehouse_test_<pid>_<n>_<random>`: unique across parallel tests and test binaries.
fn random_database_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().build_hasher().finish();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("gatehouse_test_{}_{n}_{random:016x}", std::process::id())
}

/// The server URL with its database path replaced by `database` (query string kept).
fn with_database(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_start + i);
    let root = base.get(..path_start).unwrap_or(base);
    match query {
        Some(query) => format!("{root}/{database}?{query}"),
        None => format!("{root}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_path_is_replaced() {
        for (server, expected) in [
            (
                "postgres://u@127.0.0.1:5/postgres",
                "postgres://u@127.0.0.1:5/x",
            ),
            ("postgres://u@127.0.0.1:5", "postgres://u@127.0.0.1:5/x"),
            (
                "postgres://u@h:5/db?sslmode=disable",
                "postgres://u@h:5/x?sslmode=disable",
            ),
        ] {
            assert_eq!(with_database(server, "x"), expected);
        }
    }
}
