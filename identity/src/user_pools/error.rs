//! [`UserPoolError`]: every way a user-pool operation fails, one variant per Cognito exception
//! the adapters must be able to produce (plus [`UserPoolError::Internal`]). Messages are what a
//! client may read: lowercase, never a secret, never an internal cause.

use gatehouse_storage::StorageError;

use crate::delivery::DeliveryError;
use crate::password::PasswordError;
use crate::tokens::TokenError;

/// Why a user-pool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserPoolError {
    /// Wrong credentials, a disabled user, a bad secret hash, a refused token, an operation the
    /// user's state forbids.
    #[error("{0}")]
    NotAuthorized(String),
    /// No such user (only reported when the client does not prevent user-existence errors).
    #[error("{0}")]
    UserNotFound(String),
    /// The username (or an email/phone used as username) is taken.
    #[error("{0}")]
    UsernameExists(String),
    /// An alias value (verified email, phone number, preferred username) belongs to another user.
    #[error("{0}")]
    AliasExists(String),
    /// The password breaks the pool's policy.
    #[error("{0}")]
    InvalidPassword(String),
    /// A parameter is missing, malformed or not allowed here.
    #[error("{0}")]
    InvalidParameter(String),
    /// The confirmation code does not match.
    #[error("{0}")]
    CodeMismatch(String),
    /// The code has expired (or was never issued).
    #[error("{0}")]
    ExpiredCode(String),
    /// The user has not confirmed sign-up.
    #[error("{0}")]
    UserNotConfirmed(String),
    /// The user must reset the password first.
    #[error("{0}")]
    PasswordResetRequired(String),
    /// No such pool, client or group.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The service is overloaded (password hashing queue full, database busy).
    #[error("{0}")]
    TooManyRequests(String),
    /// Too many wrong codes or passwords.
    #[error("{0}")]
    TooManyFailedAttempts(String),
    /// A limit was reached (e.g. too many code requests).
    #[error("{0}")]
    LimitExceeded(String),
    /// The group name is taken.
    #[error("{0}")]
    GroupExists(String),
    /// A code or invitation could not be delivered.
    #[error("{0}")]
    CodeDeliveryFailure(String),
    /// The pool's configuration does not allow the operation (e.g. no way to deliver a code).
    #[error("{0}")]
    InvalidUserPoolConfiguration(String),
    /// A refresh token taken out of use by rotation was used again: its sign-in is revoked.
    #[error("{0}")]
    RefreshTokenReuse(String),
    /// The operation is not allowed in the user's current state (e.g. RESEND for a confirmed
    /// user).
    #[error("{0}")]
    UnsupportedUserState(String),
    /// The operation needs something that is not there yet (an import job without its file,
    /// or already run).
    #[error("{0}")]
    PreconditionNotMet(String),
    /// The user pool users are migrated from could not answer (down, too slow, misconfigured):
    /// nothing was created. Cognito's `InternalErrorException` (HTTP 500, retried by the SDKs).
    #[error("{0}")]
    MigrationUnavailable(String),
    /// The app client's OAuth flows do not go together (or with its secret and scopes).
    #[error("{0}")]
    InvalidOAuthFlow(String),
    /// An app client was given a scope that is neither standard nor a resource server's.
    #[error("{0}")]
    ScopeDoesNotExist(String),
    /// An identity provider of that name (or with one of those identifiers) exists in the
    /// pool.
    #[error("{0}")]
    DuplicateProvider(String),
    /// A trigger's function failed (an error answer): "`{Trigger}` failed with error
    /// `{message}`.", the function's own message passed through, as Cognito does.
    #[error("{0}")]
    UserLambdaValidation(String),
    /// A trigger's function could not be called or did not answer in time.
    #[error("{0}")]
    UnexpectedLambda(String),
    /// A trigger's function answered something that is not the event it was sent.
    #[error("{0}")]
    InvalidLambdaResponse(String),
    /// Something broke inside gatehouse. The message is generic; the cause is logged.
    #[error("internal error")]
    Internal(String),
}

impl UserPoolError {
    /// An internal failure: the cause is logged here and kept out of the client message.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::Internal(format!("{context}: {cause}"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidParameter(message.into())
    }
}

impl From<StorageError> for UserPoolError {
    /// Storage errors callers did not handle themselves. `Busy` is retryable; the rest are
    /// internal (a `NotFound` reaching here means a row vanished between two calls).
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Busy => Self::TooManyRequests("the service is busy, try again".into()),
            StorageError::AliasTaken { name, .. } => {
                Self::AliasExists(format!("an account with the given {name} already exists"))
            }
            other => Self::internal("storage", other),
        }
    }
}

impl From<PasswordError> for UserPoolError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::TooLong => {
                Self::InvalidParameter("password must have length less than or equal to 256".into())
            }
            PasswordError::Overloaded => {
                Self::TooManyRequests("too many requests, try again later".into())
            }
            other => Self::internal("password hashing", other),
        }
    }
}

impl From<TokenError> for UserPoolError {
    fn from(e: TokenError) -> Self {
        Self::internal("token signing", e)
    }
}

impl From<DeliveryError> for UserPoolError {
    fn from(e: DeliveryError) -> Self {
        tracing::warn!(error = %e, "message delivery failed");
        Self::CodeDeliveryFailure("unable to deliver the message".into())
    }
}
