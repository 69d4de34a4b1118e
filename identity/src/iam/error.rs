//! [`IamError`]: every way an IAM operation fails, one variant per IAM error code the query
//! adapter must be able to send (plus [`IamError::Internal`]). Messages are what a client may
//! read: never a secret, never an internal cause.

use gatehouse_storage::StorageError;

/// Why an IAM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// No role, policy, version or provider by that name (`NoSuchEntity`, 404).
    #[error("{0}")]
    NoSuchEntity(String),
    /// The name is taken (`EntityAlreadyExists`, 409).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// A policy document the engine refuses (`MalformedPolicyDocument`, 400).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// A parameter is missing or malformed (`InvalidInput`, 400; `ValidationError` for
    /// length and pattern constraints, as IAM sends them).
    #[error("{0}")]
    InvalidInput(String),
    /// A constraint on a parameter's shape (`ValidationError`, 400).
    #[error("{0}")]
    Validation(String),
    /// A quota (`LimitExceeded`, 409): policy size, versions per policy.
    #[error("{0}")]
    LimitExceeded(String),
    /// The entity is still in use (`DeleteConflict`, 409).
    #[error("{0}")]
    DeleteConflict(String),
    /// The database is busy: retry (`Throttling`, 400).
    #[error("{0}")]
    Throttling(String),
    /// Something broke inside gatehouse (`ServiceFailure`, 500); the cause is logged.
    #[error("internal error")]
    Internal(String),
}

impl IamError {
    /// An internal failure: the cause is logged here and kept out of the client message.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::Internal(format!("{context}: {cause}"))
    }
}

impl From<StorageError> for IamError {
    /// Storage errors callers did not name themselves.
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Busy => Self::Throttling("Rate exceeded".into()),
            other => Self::internal("storage", other),
        }
    }
}
