//! [`StsError`]: every way an STS operation fails, one variant per STS error code the query
//! adapter must be able to send (plus [`StsError::Internal`]).

use crate::iam::IamError;

/// Why an STS operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StsError {
    /// The caller may not do this (`AccessDenied`, 403): a trust policy or the caller's
    /// policies refuse the role.
    #[error("{0}")]
    AccessDenied(String),
    /// A parameter is malformed (`ValidationError`, 400).
    #[error("{0}")]
    Validation(String),
    /// A session policy the engine refuses (`MalformedPolicyDocument`, 400).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// Session policies or tags too large once packed (`PackedPolicyTooLarge`, 400).
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// A web identity token that is not valid (`InvalidIdentityToken`, 400).
    #[error("{0}")]
    InvalidIdentityToken(String),
    /// A web identity token that has expired (`ExpiredTokenException`, 400).
    #[error("{0}")]
    ExpiredWebIdentityToken(String),
    /// The issuer of a web identity token is not a registered provider
    /// (`IDPRejectedClaim`, 403).
    #[error("{0}")]
    IdpRejectedClaim(String),
    /// A web identity's issuer could not be reached for its keys (`IDPCommunicationError`,
    /// 400).
    #[error("{0}")]
    IdpCommunication(String),
    /// The database is busy: retry (`Throttling`, 400).
    #[error("{0}")]
    Throttling(String),
    /// Something broke inside gatehouse (`InternalFailure`, 500); the cause is logged.
    #[error("internal error")]
    Internal(String),
}

impl StsError {
    /// An internal failure: the cause is logged here and kept out of the client message.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::Internal(format!("{context}: {cause}"))
    }
}

impl From<IamError> for StsError {
    /// IAM failures met while assuming a role.
    fn from(e: IamError) -> Self {
        match e {
            IamError::MalformedPolicyDocument(m) => Self::MalformedPolicyDocument(m),
            IamError::LimitExceeded(m) => Self::PackedPolicyTooLarge(m),
            IamError::Throttling(m) => Self::Throttling(m),
            IamError::NoSuchEntity(m)
            | IamError::InvalidInput(m)
            | IamError::Validation(m)
            | IamError::EntityAlreadyExists(m)
            | IamError::DeleteConflict(m) => Self::Validation(m),
            IamError::Internal(m) => Self::Internal(m),
        }
    }
}
