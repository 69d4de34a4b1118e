//! [`IdentityPoolError`]: every way an identity-pool operation fails, one variant per
//! Cognito Identity exception the adapter must be able to send (plus
//! [`IdentityPoolError::Internal`]).

use gatehouse_storage::StorageError;

use crate::iam::IamError;
use crate::sts::StsError;
use crate::user_pools::UserPoolError;

/// Why an identity-pool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityPoolError {
    /// A login token that does not verify, a guest where guests are not allowed, logins that
    /// do not belong to the identity, a role mapping that denies.
    #[error("{0}")]
    NotAuthorized(String),
    /// No such pool or identity.
    #[error("{0}")]
    ResourceNotFound(String),
    /// A parameter is missing, malformed or not allowed here.
    #[error("{0}")]
    InvalidParameter(String),
    /// A login already linked elsewhere, a developer identifier taken.
    #[error("{0}")]
    ResourceConflict(String),
    /// The pool's roles do not let the identity in (a missing role, a trust policy that
    /// refuses it).
    #[error("{0}")]
    InvalidIdentityPoolConfiguration(String),
    /// Too many requests, or the database is busy.
    #[error("{0}")]
    TooManyRequests(String),
    /// A limit was reached (logins per call, tags).
    #[error("{0}")]
    LimitExceeded(String),
    /// An identity provider did not answer as it should (its keys could not be fetched).
    #[error("{0}")]
    ExternalService(String),
    /// A developer user identifier already linked to another identity.
    #[error("{0}")]
    DeveloperUserAlreadyRegistered(String),
    /// Something broke inside gatehouse; the cause is logged.
    #[error("internal error")]
    Internal(String),
}

impl IdentityPoolError {
    /// An internal failure: the cause is logged here and kept out of the client message.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::Internal(format!("{context}: {cause}"))
    }
}

impl From<StorageError> for IdentityPoolError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Busy => Self::TooManyRequests("the service is busy, try again".into()),
            other => Self::internal("storage", other),
        }
    }
}

impl From<UserPoolError> for IdentityPoolError {
    /// User-pool failures met while checking a login (a missing pool is a bad login).
    fn from(e: UserPoolError) -> Self {
        match e {
            UserPoolError::ResourceNotFound(_) => {
                Self::NotAuthorized("Invalid login token. The user pool does not exist.".into())
            }
            UserPoolError::TooManyRequests(m) => Self::TooManyRequests(m),
            other => Self::internal("user pool", other),
        }
    }
}

impl From<IamError> for IdentityPoolError {
    fn from(e: IamError) -> Self {
        match e {
            IamError::Throttling(m) => Self::TooManyRequests(m),
            other => Self::internal("iam", other),
        }
    }
}

impl From<StsError> for IdentityPoolError {
    fn from(e: StsError) -> Self {
        match e {
            StsError::Throttling(m) => Self::TooManyRequests(m),
            other => Self::internal("sts", other),
        }
    }
}
