//! The two backends behind one small executor: SQL text is written once (with `$1`
//! placeholders, which both SQLite and PostgreSQL accept), values go in as [`Arg`]s and
//! come out through [`DbRow`], so the repositories never match on the backend.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::StorageError;

/// Which database a [`crate::Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool settings; the defaults suit one gatehouse node.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Upper bound on open connections.
    pub max_connections: u32,
    /// How long a SQLite writer waits for the write lock before giving up with
    /// [`StorageError::Busy`].
    pub busy_timeout: Duration,
    /// How long a call waits for a free pooled connection.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// A pool on one backend.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One bind value. Borrowed, so binding a username costs no copy until the driver's own.
#[derive(Clone, Debug)]
pub(crate) enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bytes(&'a [u8]),
    OptBytes(Option<&'a [u8]>),
    /// Text computed while building a query (a prefix's upper bound).
    OwnedText(String),
}

/// A connection borrowed from a pool or a transaction, on either backend.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// A pooled connection for reads.
pub(crate) enum Lease {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`: the write lock is taken
/// up front (waiting up to the busy timeout), so a transaction that reads before it writes
/// cannot fail half-way when another writer got in first.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Typed column access that reads the same on both backends.
pub(crate) trait DbRow {
    fn int(&self, col: &str) -> Result<i64, StorageError>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StorageError>;
    fn boolean(&self, col: &str) -> Result<bool, StorageError>;
    fn text(&self, col: &str) -> Result<String, StorageError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StorageError>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StorageError>;
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, StorageError>;
}

// === impl Db ===

impl Db {
    /// Opens a pool for `url` (`sqlite://…`, `sqlite::memory:` or `postgres://…`).
    pub(crate) async fn open(url: &str, options: &StoreOptions) -> Result<Self, StorageError> {
        if url.starts_with("sqlite:") {
            Self::open_sqlite(url, options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url, options).await
        } else {
            Err(StorageError::invalid(
                "database url: expected `sqlite://PATH` or `postgres://…`",
            ))
        }
    }

    async fn open_sqlite(url: &str, options: &StoreOptions) -> Result<Self, StorageError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|_| StorageError::invalid("sqlite database url"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL, not WAL's usual NORMAL: an acknowledged sign-up or key rotation must
            // survive a power cut, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let filename = connect.get_filename().to_owned();
        let in_memory = url.contains(":memory:") || filename.as_os_str().is_empty();
        if !in_memory
            && let Some(parent) = filename.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|_| StorageError::invalid("sqlite database directory"))?;
        }
        let mut pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout);
        if in_memory {
            // Every connection to `:memory:` is its own database: keep exactly one, forever.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        Ok(Self::Sqlite(pool.connect_with(connect).await?))
    }

    async fn open_postgres(url: &str, options: &StoreOptions) -> Result<Self, StorageError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|_| StorageError::invalid("postgres database url"))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self::Postgres(pool))
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// A connection for one or more reads (each statement is its own snapshot).
    pub(crate) async fn read(&self) -> Result<Lease, StorageError> {
        Ok(match self {
            Self::Sqlite(pool) => Lease::Sqlite(pool.acquire().await?),
            Self::Postgres(pool) => Lease::Postgres(pool.acquire().await?),
        })
    }

    /// A transaction for writes; nothing is visible to others until [`Tx::commit`], and
    /// dropping it uncommitted rolls everything back.
    pub(crate) async fn write(&self) -> Result<Tx, StorageError> {
        Ok(match self {
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Self::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

// === impl Lease, Tx ===

impl Lease {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Sqlite(c) => Conn::Sqlite(c),
            Self::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl Tx {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Sqlite(t) => Conn::Sqlite(t),
            Self::Postgres(t) => Conn::Postgres(t),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), StorageError> {
        match self {
            Self::Sqlite(t) => t.commit().await?,
            Self::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

// === impl Conn ===

/// Binds every [`Arg`] to a query of either backend; the arms are the same text, each
/// checked against its own driver's `Encode` impls.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::OptInt(v) => query.bind(*v),
                Arg::Bool(v) => query.bind(*v),
                Arg::Text(v) => query.bind(*v),
                Arg::OptText(v) => query.bind(*v),
                Arg::Bytes(v) => query.bind(*v),
                Arg::OptBytes(v) => query.bind(*v),
                Arg::OwnedText(v) => query.bind(v.as_str()),
            };
        }
        query
    }};
}

/// Runs `$body` with `$c` bound to the concrete connection of whichever backend this is.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

fn to_query<DB: sqlx::Database>(
    sql: Cow<'static, str>,
) -> sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments> {
    match sql {
        Cow::Borrowed(text) => sqlx::query(text),
        // Only the repositories build SQL at run time, from fixed fragments; every value
        // they use is a bind parameter.
        Cow::Owned(text) => sqlx::query(AssertSqlSafe(text)),
    }
}

impl Conn<'_> {
    /// Runs a statement and returns how many rows it changed.
    pub(crate) async fn execute(
        &mut self,
        sql: impl Into<Cow<'static, str>>,
        args: &[Arg<'_>],
    ) -> Result<u64, StorageError> {
        check_args(args)?;
        let sql = sql.into();
        on_conn!(self, c => Ok(bind_args!(to_query(sql), args).execute(&mut **c).await?.rows_affected()))
    }

    /// Runs a script of several statements without parameters (migrations).
    pub(crate) async fn execute_script(
        &mut self,
        script: &'static str,
    ) -> Result<(), StorageError> {
        on_conn!(self, c => { sqlx::raw_sql(script).execute(&mut **c).await?; });
        Ok(())
    }

    pub(crate) async fn fetch_optional<T>(
        &mut self,
        sql: impl Into<Cow<'static, str>>,
        args: &[Arg<'_>],
        decode: impl Fn(&dyn DbRow) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        check_args(args)?;
        let sql = sql.into();
        on_conn!(self, c => {
            let row = bind_args!(to_query(sql), args).fetch_optional(&mut **c).await?;
            row.as_ref().map(|row| decode(row)).transpose()
        })
    }

    pub(crate) async fn fetch_all<T>(
        &mut self,
        sql: impl Into<Cow<'static, str>>,
        args: &[Arg<'_>],
        decode: impl Fn(&dyn DbRow) -> Result<T, StorageError>,
    ) -> Result<Vec<T>, StorageError> {
        check_args(args)?;
        let sql = sql.into();
        on_conn!(self, c => {
            let rows = bind_args!(to_query(sql), args).fetch_all(&mut **c).await?;
            rows.iter().map(|row| decode(row)).collect()
        })
    }
}

/// PostgreSQL refuses NUL in text while SQLite stores it: refuse it on both, so a value
/// behaves the same whichever backend holds it.
fn check_args(args: &[Arg<'_>]) -> Result<(), StorageError> {
    let has_nul = args.iter().any(|arg| match arg {
        Arg::Text(s) | Arg::OptText(Some(s)) => s.contains('\0'),
        Arg::OwnedText(s) => s.contains('\0'),
        _ => false,
    });
    if has_nul {
        return Err(StorageError::invalid("text: it contains a NUL character"));
    }
    Ok(())
}

// === impl DbRow ===

macro_rules! impl_db_row {
    ($row:ty) => {
        impl DbRow for $row {
            fn int(&self, col: &str) -> Result<i64, StorageError> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>, StorageError> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn boolean(&self, col: &str) -> Result<bool, StorageError> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn text(&self, col: &str) -> Result<String, StorageError> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>, StorageError> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn bytes(&self, col: &str) -> Result<Vec<u8>, StorageError> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, StorageError> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
        }
    };
}

impl_db_row!(SqliteRow);
impl_db_row!(PgRow);

/// Builds an `&[Arg]` from values that convert into [`Arg`].
macro_rules! args {
    ($($value:expr),* $(,)?) => { &[$($crate::db::Arg::from($value)),*] };
}
pub(crate) use args;

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Self::OptInt(v)
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Self::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Self::OptText(v)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Self::OptText(v.as_deref())
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Self::Bytes(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Self::Bytes(v)
    }
}

impl<'a> From<&'a Option<Vec<u8>>> for Arg<'a> {
    fn from(v: &'a Option<Vec<u8>>) -> Self {
        Self::OptBytes(v.as_deref())
    }
}

impl<'a> From<Option<&'a [u8]>> for Arg<'a> {
    fn from(v: Option<&'a [u8]>) -> Self {
        Self::OptBytes(v)
    }
}
