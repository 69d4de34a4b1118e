//! gatehouse-storage: durable state for gatehouse behind one repository API, on SQLite
//! (embedded, the default) or PostgreSQL (several nodes sharing one database).
//!
//! It knows rows, not HTTP, Cognito or clocks: JSON documents (pool and client
//! configuration) are stored as given, every time is a parameter (Unix epoch milliseconds,
//! [`EpochMillis`]), and every secret arrives already hashed or encrypted. It must not
//! depend on `identity`, `gateway` or anything above it, and it is the only crate that
//! names sqlx: callers see plain records and [`StorageError`].
//!
//! One SQL text serves both backends (`$1` placeholders, standard SQL, `ON CONFLICT`,
//! `RETURNING`); the two migration folders differ only in type names. Each multi-row change
//! runs in one transaction.

mod auth_events;
mod clients;
mod codes;
mod counters;
mod db;
mod devices;
mod error;
mod functions;
mod gateway;
mod groups;
mod iam;
mod identity_pools;
mod import_jobs;
mod keys;
mod mfa;
mod migrate;
mod migration_sources;
mod oauth;
mod pools;
mod revocations;
mod sessions;
mod settings;
mod tokens;
mod ui_customizations;
mod users;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use auth_events::{AuthEventRecord, AuthEvents};
pub use clients::{ClientRecord, Clients};
pub use codes::{CodeAttempt, CodeRecord, Codes};
pub use counters::{CounterKey, CounterState, CounterWrite, Counters};
pub use db::{Backend, StoreOptions};
pub use devices::{DeviceRecord, Devices};
pub use error::{BackendError, StorageError};
pub use functions::{FunctionPut, FunctionRecord, Functions, FunctionsSnapshot};
pub use gateway::{
    ApiKeyRecord, DailyUsage, DeployTo, DeploymentDeletion, DeploymentRecord, GatewayRecords,
    StageDeploymentRecord, StageRecord, UsageDelta, UsagePlanRecord,
};
pub use groups::{GroupRecord, Groups};
pub use iam::{
    Iam, IamSnapshot, ManagedPolicyRecord, OidcProviderRecord, PolicyVersionRecord, RoleRecord,
};
pub use identity_pools::{
    IdentityPoolRecord, IdentityPools, IdentityRecord, Resolved, TagMapRecord,
};
pub use import_jobs::{ImportJobOutcome, ImportJobRecord, ImportJobs, NewImportJob};
pub use keys::{KeyPurpose, SigningKeyRecord, SigningKeys};
pub use mfa::{Mfa, MfaFlags, MfaRecord};
pub use migration_sources::{MigrationSourceRecord, MigrationSources};
pub use oauth::{
    AuthCodeRecord, AuthCodes, DomainRecord, Domains, HostedSessionRecord, HostedSessions,
    OAuthGrantRecord, OAuthGrants, Redemption, ResourceServerRecord, ResourceServers,
};
pub use pools::{NewUserPool, UserPoolRecord, UserPools};
pub use revocations::{RevocationKind, RevocationRecord, Revocations};
pub use sessions::SpentSessions;
pub use settings::Settings;
pub use tokens::{RefreshTokenRecord, RefreshTokens, Rotation, SignedInAs};
pub use ui_customizations::{UiCustomizationRecord, UiCustomizations, UiLogo};
pub use users::{
    Alias, MAX_INDEXED_VALUE_BYTES, NewUser, SEARCHABLE_ATTRIBUTES, TextMatch, UserCursor,
    UserFilter, UserPage, UserQuery, UserRecord, Users,
};

use db::{Db, DbRow, args};

/// Unix epoch milliseconds, always supplied by the caller.
pub type EpochMillis = i64;

/// One page of a listing ordered by a text key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The key to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// An open database: a connection pool with the schema migrated to this build's version.
/// Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

// === impl Store ===

impl Store {
    /// Opens `sqlite://PATH` (creating the file and its folder if missing; WAL,
    /// `synchronous=FULL`, foreign keys on, busy timeout from `options`), `sqlite::memory:`,
    /// or `postgres://…`, then applies any pending migrations.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, StorageError> {
        let db = Db::open(url, &options).await?;
        if let Err(error) = migrate::run(&db).await {
            db.close().await;
            return Err(error);
        }
        Ok(Self { db })
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// The newest schema version this build knows (and applies at [`Store::open`]).
    pub fn schema_version() -> i64 {
        migrate::latest_version()
    }

    /// The newest schema version applied to the database, read from it now: a readiness probe
    /// (the database answers, and holds the schema this build expects).
    pub async fn applied_schema_version(&self) -> Result<i64, StorageError> {
        migrate::applied_version(&self.db).await
    }

    /// Writes a consistent snapshot of a SQLite database into `path` with `VACUUM INTO`: one
    /// read transaction, so writers carry on meanwhile and the copy is compacted and whole.
    /// `path` must not exist or be an empty file. PostgreSQL has its own tools (`pg_dump`).
    pub async fn backup_into(&self, path: &str) -> Result<(), StorageError> {
        if self.backend() == Backend::Postgres {
            return Err(StorageError::invalid(
                "backup: a PostgreSQL database is backed up with pg_dump",
            ));
        }
        let mut lease = self.db.read().await?;
        lease.conn().execute("VACUUM INTO $1", args![path]).await?;
        Ok(())
    }

    /// What SQLite's `PRAGMA integrity_check` finds wrong (empty: nothing). PostgreSQL checks
    /// its own pages; there the answer is always empty.
    pub async fn integrity_problems(&self) -> Result<Vec<String>, StorageError> {
        if self.backend() == Backend::Postgres {
            return Ok(Vec::new());
        }
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all("PRAGMA integrity_check", &[], |row: &dyn DbRow| {
                row.text("integrity_check")
            })
            .await?;
        Ok(rows.into_iter().filter(|row| row != "ok").collect())
    }

    /// Refreshes the query planner's statistics; worth calling after a bulk import.
    pub async fn analyze(&self) -> Result<(), StorageError> {
        let mut lease = self.db.read().await?;
        lease.conn().execute("ANALYZE", &[]).await?;
        Ok(())
    }

    /// Waits for in-flight calls to return their connections, then closes the pool.
    pub async fn close(&self) {
        self.db.close().await;
    }

    pub fn user_pools(&self) -> UserPools<'_> {
        UserPools::new(&self.db)
    }

    pub fn clients(&self) -> Clients<'_> {
        Clients::new(&self.db)
    }

    pub fn users(&self) -> Users<'_> {
        Users::new(&self.db)
    }

    pub fn groups(&self) -> Groups<'_> {
        Groups::new(&self.db)
    }

    pub fn codes(&self) -> Codes<'_> {
        Codes::new(&self.db)
    }

    /// Failed passwords, code guesses and code sends (lockouts and limits), for every node.
    pub fn counters(&self) -> Counters<'_> {
        Counters::new(&self.db)
    }

    /// Users' authentication events (AdminListUserAuthEvents).
    pub fn auth_events(&self) -> AuthEvents<'_> {
        AuthEvents::new(&self.db)
    }

    pub fn refresh_tokens(&self) -> RefreshTokens<'_> {
        RefreshTokens::new(&self.db)
    }

    pub fn signing_keys(&self) -> SigningKeys<'_> {
        SigningKeys::new(&self.db)
    }

    /// Revoked sign-ins and signed-out users, with a change feed for other nodes.
    pub fn revocations(&self) -> Revocations<'_> {
        Revocations::new(&self.db)
    }

    /// Users' software tokens and MFA preferences.
    pub fn mfa(&self) -> Mfa<'_> {
        Mfa::new(&self.db)
    }

    /// Devices users signed in from (device tracking).
    pub fn devices(&self) -> Devices<'_> {
        Devices::new(&self.db)
    }

    /// Challenge sessions already answered.
    pub fn spent_sessions(&self) -> SpentSessions<'_> {
        SpentSessions::new(&self.db)
    }

    /// Identity pools, their identities and the logins linked to them.
    pub fn identity_pools(&self) -> IdentityPools<'_> {
        IdentityPools::new(&self.db)
    }

    /// IAM roles, managed policies and OpenID Connect providers, with their change counter.
    pub fn iam(&self) -> Iam<'_> {
        Iam::new(&self.db)
    }

    /// Cognito user import jobs and their uploads.
    pub fn import_jobs(&self) -> ImportJobs<'_> {
        ImportJobs::new(&self.db)
    }

    /// The user pools users are migrated from at their first sign-in (lazy migration).
    pub fn migration_sources(&self) -> MigrationSources<'_> {
        MigrationSources::new(&self.db)
    }

    /// Resource servers and their custom scopes (OAuth 2.0).
    pub fn resource_servers(&self) -> ResourceServers<'_> {
        ResourceServers::new(&self.db)
    }

    /// The pools' domains (the hosted pages and OAuth endpoints by `Host`).
    pub fn domains(&self) -> Domains<'_> {
        Domains::new(&self.db)
    }

    /// Authorization codes (single-use).
    pub fn auth_codes(&self) -> AuthCodes<'_> {
        AuthCodes::new(&self.db)
    }

    /// The hosted pages' sign-in sessions.
    pub fn hosted_sessions(&self) -> HostedSessions<'_> {
        HostedSessions::new(&self.db)
    }

    /// What each OAuth sign-in was granted.
    pub fn oauth_grants(&self) -> OAuthGrants<'_> {
        OAuthGrants::new(&self.db)
    }

    /// The hosted pages' branding, per pool and per app client.
    pub fn ui_customizations(&self) -> UiCustomizations<'_> {
        UiCustomizations::new(&self.db)
    }

    pub fn settings(&self) -> Settings<'_> {
        Settings::new(&self.db)
    }

    /// Functions registered through the operator API, with their change counter.
    pub fn functions(&self) -> Functions<'_> {
        Functions::new(&self.db)
    }

    /// The gateway's API keys, usage plans and quota counters.
    pub fn gateway(&self) -> GatewayRecords<'_> {
        GatewayRecords::new(&self.db)
    }
}

/// Clamps a caller's page size to 1..=1000 and asks for one row more, to learn whether a
/// next page exists without a second query.
pub(crate) fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, 1000)) + 1
}

/// Cuts the extra row that [`fetch_limit`] asked for, and names the next page's key.
pub(crate) fn into_page<T>(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(key)
    } else {
        None
    };
    Page { items, next }
}
