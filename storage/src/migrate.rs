//! Schema migrations, embedded in the binary and applied when a store opens.
//!
//! A small runner instead of `sqlx::migrate!`: it needs no proc macros, keeps one list that
//! pairs each SQLite script with its PostgreSQL twin (so the two schemas cannot drift apart
//! in numbering), and serialises concurrent starts of several gatehouse nodes.

use crate::StorageError;
use crate::db::{Db, DbRow, args};

/// One schema step; versions only grow, and an applied script is never edited.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "user pools",
        sqlite: include_str!("../migrations/sqlite/0001_user_pools.sql"),
        postgres: include_str!("../migrations/postgres/0001_user_pools.sql"),
    },
    Migration {
        version: 2,
        name: "gateway keys, usage plans and quotas",
        sqlite: include_str!("../migrations/sqlite/0002_gateway.sql"),
        postgres: include_str!("../migrations/postgres/0002_gateway.sql"),
    },
    Migration {
        version: 3,
        name: "gateway deployments and stage pointers",
        sqlite: include_str!("../migrations/sqlite/0003_gateway_deployments.sql"),
        postgres: include_str!("../migrations/postgres/0003_gateway_deployments.sql"),
    },
    Migration {
        version: 4,
        name: "token revocations (moved out of service settings)",
        sqlite: include_str!("../migrations/sqlite/0004_token_revocations.sql"),
        postgres: include_str!("../migrations/postgres/0004_token_revocations.sql"),
    },
    Migration {
        version: 5,
        name: "gateway stages created at run time",
        sqlite: include_str!("../migrations/sqlite/0005_gateway_stages.sql"),
        postgres: include_str!("../migrations/postgres/0005_gateway_stages.sql"),
    },
    Migration {
        version: 6,
        name: "attempt counters (lockout, code guesses and sends)",
        sqlite: include_str!("../migrations/sqlite/0006_attempt_counters.sql"),
        postgres: include_str!("../migrations/postgres/0006_attempt_counters.sql"),
    },
    Migration {
        version: 7,
        name: "refresh-token rotation, username keys, user auth events",
        sqlite: include_str!("../migrations/sqlite/0007_pool_details.sql"),
        postgres: include_str!("../migrations/postgres/0007_pool_details.sql"),
    },
    Migration {
        version: 8,
        name: "SRP verifiers, MFA settings, remembered devices, spent challenge sessions",
        sqlite: include_str!("../migrations/sqlite/0008_srp_mfa_devices.sql"),
        postgres: include_str!("../migrations/postgres/0008_srp_mfa_devices.sql"),
    },
    Migration {
        version: 9,
        name: "identity pools, identities and logins; IAM roles, policies and OIDC providers",
        sqlite: include_str!("../migrations/sqlite/0009_identity_pools_iam.sql"),
        postgres: include_str!("../migrations/postgres/0009_identity_pools_iam.sql"),
    },
    // Version 10 was never used. The runner applies every version it has not applied yet, in
    // order, so a gap in the numbers is harmless.
    Migration {
        version: 11,
        name: "user import jobs",
        sqlite: include_str!("../migrations/sqlite/0011_user_import_jobs.sql"),
        postgres: include_str!("../migrations/postgres/0011_user_import_jobs.sql"),
    },
    Migration {
        version: 12,
        name: "disabled identities (their last login unlinked)",
        sqlite: include_str!("../migrations/sqlite/0012_identity_disabled.sql"),
        postgres: include_str!("../migrations/postgres/0012_identity_disabled.sql"),
    },
    Migration {
        version: 13,
        name: "principal-tag attribute maps of identity pools",
        sqlite: include_str!("../migrations/sqlite/0013_principal_tag_maps.sql"),
        postgres: include_str!("../migrations/postgres/0013_principal_tag_maps.sql"),
    },
    Migration {
        version: 14,
        name: "lazy migration sources",
        sqlite: include_str!("../migrations/sqlite/0014_migration_sources.sql"),
        postgres: include_str!("../migrations/postgres/0014_migration_sources.sql"),
    },
    Migration {
        version: 15,
        name: "OAuth 2.0: resource servers, domains, authorization codes, hosted sessions, grants",
        sqlite: include_str!("../migrations/sqlite/0015_oauth.sql"),
        postgres: include_str!("../migrations/postgres/0015_oauth.sql"),
    },
    Migration {
        version: 16,
        name: "functions registered through the operator API",
        sqlite: include_str!("../migrations/sqlite/0016_functions.sql"),
        postgres: include_str!("../migrations/postgres/0016_functions.sql"),
    },
    Migration {
        version: 17,
        name: "hosted pages branding (UI customizations)",
        sqlite: include_str!("../migrations/sqlite/0017_ui_customizations.sql"),
        postgres: include_str!("../migrations/postgres/0017_ui_customizations.sql"),
    },
];

/// Any fixed number: every gatehouse node takes this PostgreSQL advisory lock around the
/// migration check, so two nodes starting together never both run a migration.
const POSTGRES_MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573;

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS gatehouse_migrations (
    version  BIGINT NOT NULL PRIMARY KEY,
    name     TEXT   NOT NULL,
    checksum TEXT   NOT NULL
)";

/// Applies every migration the database has not seen, all in one transaction.
pub(crate) async fn run(db: &Db) -> Result<(), StorageError> {
    let mut tx = db.write().await?;
    let mut conn = tx.conn();
    if let Db::Postgres(_) = db {
        conn.execute(
            "SELECT pg_advisory_xact_lock($1)",
            args![POSTGRES_MIGRATION_LOCK],
        )
        .await?;
    }
    conn.execute(CREATE_LEDGER, &[]).await?;
    let applied = conn
        .fetch_all(
            "SELECT version, checksum FROM gatehouse_migrations ORDER BY version",
            &[],
            |row: &dyn DbRow| Ok((row.int("version")?, row.text("checksum")?)),
        )
        .await?;

    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    for (version, checksum) in &applied {
        let Some(migration) = MIGRATIONS.iter().find(|m| m.version == *version) else {
            return Err(StorageError::SchemaTooNew {
                found: *version,
                known,
            });
        };
        if *checksum != checksum_of(script_for(db, migration)) {
            return Err(StorageError::MigrationChanged { version: *version });
        }
    }

    for migration in MIGRATIONS {
        if applied
            .iter()
            .any(|(version, _)| *version == migration.version)
        {
            continue;
        }
        let script = script_for(db, migration);
        conn.execute_script(script).await?;
        let checksum = checksum_of(script);
        conn.execute(
            "INSERT INTO gatehouse_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            args![migration.version, migration.name, &checksum],
        )
        .await?;
    }
    tx.commit().await
}

/// The newest version in the database's ledger (0 before the first migration).
pub(crate) async fn applied_version(db: &Db) -> Result<i64, StorageError> {
    let mut lease = db.read().await?;
    let version = lease
        .conn()
        .fetch_optional(
            "SELECT MAX(version) AS version FROM gatehouse_migrations",
            &[],
            |row: &dyn DbRow| row.opt_int("version"),
        )
        .await?;
    Ok(version.flatten().unwrap_or(0))
}

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

fn script_for(db: &Db, migration: &Migration) -> &'static str {
    match db {
        Db::Sqlite(_) => migration.sqlite,
        Db::Postgres(_) => migration.postgres,
    }
}

/// FNV-1a over the script: enough to notice an edited migration, and stable across Rust
/// versions (unlike `DefaultHasher`).
fn checksum_of(script: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in script.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::{MIGRATIONS, checksum_of};

    #[test]
    fn versions_increase_and_scripts_are_not_empty() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "migration {} is out of order", m.version);
            assert!(!m.sqlite.trim().is_empty() && !m.postgres.trim().is_empty());
            last = m.version;
        }
    }

    #[test]
    fn checksum_is_fnv1a() {
        assert_eq!(checksum_of(""), "cbf29ce484222325");
        assert_eq!(checksum_of("a"), "af63dc4c8601ec8c");
    }
}
