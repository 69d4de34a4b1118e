//! The one error type of the storage crate, and how sqlx errors become it.

use std::borrow::Cow;
use std::fmt;

/// Why a storage call failed.
///
/// The variants name what a caller can act on (a missing row, a unique key already taken, a
/// busy database); everything else is `Backend`, whose cause is for logs, not for clients.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The row the call needs does not exist (or belongs to another pool).
    #[error("{what} not found")]
    NotFound { what: Cow<'static, str> },
    /// A unique key (id, username, alias value, group name, …) is already taken.
    #[error("{what} already exists")]
    Conflict { what: Cow<'static, str> },
    /// An alias value (an email or phone number that must identify one user in its pool)
    /// already belongs to another user.
    #[error("{name} `{value}` already belongs to another user")]
    AliasTaken { name: String, value: String },
    /// The database stayed locked past the busy timeout, or PostgreSQL aborted a transaction
    /// to break a deadlock or a serialization conflict; retrying later may succeed.
    #[error("the database is busy")]
    Busy,
    /// The call was given something storage cannot store or use (a NUL character, a filter
    /// on an attribute that is not indexed, a malformed pagination cursor, a bad URL).
    #[error("invalid {what}")]
    Invalid { what: Cow<'static, str> },
    /// A stored value could not be read back (a JSON column that is not JSON, an unknown
    /// enum value): the database was changed behind gatehouse's back.
    #[error("stored data is corrupt: {what}")]
    Corrupt { what: Cow<'static, str> },
    /// The database schema was written by a newer gatehouse than this one.
    #[error(
        "the database schema is at version {found}, newer than version {known} that this build knows"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// A migration that was already applied has changed since.
    #[error("migration {version} changed after it was applied")]
    MigrationChanged { version: i64 },
    /// Anything else the database or the driver reported.
    #[error("database error: {0}")]
    Backend(#[source] BackendError),
}

/// The driver's error, kept opaque so that no crate above storage depends on sqlx types.
pub struct BackendError(sqlx::Error);

// === impl StorageError ===

impl StorageError {
    pub(crate) fn not_found(what: impl Into<Cow<'static, str>>) -> Self {
        Self::NotFound { what: what.into() }
    }

    pub(crate) fn conflict(what: impl Into<Cow<'static, str>>) -> Self {
        Self::Conflict { what: what.into() }
    }

    pub(crate) fn invalid(what: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid { what: what.into() }
    }

    pub(crate) fn corrupt(what: impl Into<Cow<'static, str>>) -> Self {
        Self::Corrupt { what: what.into() }
    }

    /// Names what a unique violation was about: the driver only knows index names, the
    /// caller knows it was, say, "user `alice`".
    pub(crate) fn on_conflict(self, what: impl Into<Cow<'static, str>>) -> Self {
        match self {
            Self::Conflict { .. } => Self::Conflict { what: what.into() },
            other => other,
        }
    }

    /// Names what a foreign-key violation was about ("user pool `x`").
    pub(crate) fn on_missing(self, what: impl Into<Cow<'static, str>>) -> Self {
        match self {
            Self::NotFound { .. } => Self::NotFound { what: what.into() },
            other => other,
        }
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return Self::conflict("record"),
                // A child row pointing at a parent that is not there: the parent is missing.
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return Self::not_found("referenced record");
                }
                _ => {}
            }
            if let Some(code) = db.code()
                && is_busy_code(&code)
            {
                return Self::Busy;
            }
        }
        if matches!(error, sqlx::Error::PoolTimedOut) {
            return Self::Busy;
        }
        Self::Backend(BackendError(error))
    }
}

/// SQLite reports `SQLITE_BUSY`/`SQLITE_LOCKED` (5, 6 and their extended codes);
/// PostgreSQL reports SQLSTATE `40001` (serialization failure) and `40P01` (deadlock).
fn is_busy_code(code: &str) -> bool {
    if code == "40001" || code == "40P01" {
        return true;
    }
    code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

// === impl BackendError ===

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::is_busy_code;

    #[test]
    fn busy_codes_cover_sqlite_extended_codes_and_postgres_retryable_states() {
        for code in ["5", "6", "261", "517", "773", "40001", "40P01"] {
            assert!(is_busy_code(code), "{code}");
        }
        for code in ["19", "2067", "23505", "1555"] {
            assert!(!is_busy_code(code), "{code}");
        }
    }
}
