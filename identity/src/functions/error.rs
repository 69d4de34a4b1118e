//! The two error enums of the function registry: [`FunctionError`] for a call (what each
//! caller maps to its own wire: the Cognito adapter to `UserLambdaValidationException` /
//! `UnexpectedLambdaException` / `InvalidLambdaResponseException`, the gateway to 502 or 500)
//! and [`FunctionsError`] for managing registrations (the operator API's 4xx and 5xx).
//!
//! Neither carries a secret, nor the body of an event or an answer: messages are safe to log.
//! The one piece of a function's answer kept is [`FunctionError::Failed`]'s `errorMessage`,
//! which Cognito hands to the client as Lambda does; it is not part of the `Display` text.

use gatehouse_storage::StorageError;

use crate::crypto::CryptoError;

/// Why a call to a function did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// No endpoint is registered for the ARN (nor for its unqualified function).
    #[error("function `{arn}` is not registered")]
    NotRegistered { arn: String },
    /// The ARN called is not a Lambda function ARN.
    #[error("`{arn}` is not a Lambda function ARN")]
    InvalidArn { arn: String },
    /// The event is larger than a function accepts; nothing was sent.
    #[error("the event for function `{arn}` is larger than {limit} bytes")]
    EventTooLarge { arn: String, limit: usize },
    /// No connection could be made (after the retries): the endpoint never saw the event.
    #[error("function `{arn}` could not be reached after {attempts} attempts: {reason}")]
    Unreachable {
        arn: String,
        attempts: u32,
        reason: String,
    },
    /// The endpoint did not answer within the function's time limit.
    #[error("function `{arn}` did not answer within {timeout_ms} ms")]
    Timeout { arn: String, timeout_ms: u64 },
    /// The exchange broke after the event may have been received (reset, a cut answer): never
    /// retried, since the function may have run.
    #[error("the call to function `{arn}` failed: {reason}")]
    Transport { arn: String, reason: String },
    /// The function failed: the endpoint answered a status other than 2xx, or a 2xx with
    /// `X-Amz-Function-Error` (as Lambda's own invoke API marks a function's error).
    /// `error_type` and `error_message` come from a Lambda-shaped error body
    /// (`{"errorType": …, "errorMessage": …}`), when it has one.
    #[error("function `{arn}` failed (status {status})")]
    Failed {
        arn: String,
        status: u16,
        error_type: Option<String>,
        error_message: Option<String>,
    },
    /// The answer was larger than the limit; it was not read further.
    #[error("the answer of function `{arn}` is larger than {limit} bytes")]
    AnswerTooLarge { arn: String, limit: usize },
    /// The answer is not JSON (for callers that asked for JSON).
    #[error("the answer of function `{arn}` is not JSON")]
    NotJson { arn: String },
}

/// Why a registration could not be made, changed or read.
#[derive(Debug, thiserror::Error)]
pub enum FunctionsError {
    #[error("function arn `{arn}` is invalid: {reason}")]
    InvalidArn {
        arn: String,
        reason: super::arn::ArnError,
    },
    #[error(
        "function url `{0}` must be an http:// or https:// URL with a host, without user info or fragment"
    )]
    InvalidUrl(String),
    #[error("function timeout `{0}` must be from 1 to {max} milliseconds", max = super::MAX_TIMEOUT_MS)]
    InvalidTimeout(u64),
    /// The secret itself is never named.
    #[error("a function secret must be 16 to 256 printable characters without spaces")]
    InvalidSecret,
    /// The configuration (flags, environment, file) defines this ARN; it wins, and the
    /// operator API cannot change or remove it.
    #[error(
        "function `{0}` is defined in the configuration (--function, GATEHOUSE_FUNCTIONS or the config file), which wins; change it there"
    )]
    Configured(String),
    #[error("function `{0}` is not registered")]
    NotFound(String),
    #[error("more than {0} functions would be registered")]
    TooMany(i64),
    #[error("the registry is kept in the configuration only: no store to register functions in")]
    NoStore,
    #[error("the outbound client: {0}")]
    Client(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("sealing a function secret: {0}")]
    Crypto(#[from] CryptoError),
}

// === impl FunctionError ===

impl FunctionError {
    /// The ARN the call was made for.
    pub fn arn(&self) -> &str {
        match self {
            Self::NotRegistered { arn }
            | Self::InvalidArn { arn }
            | Self::EventTooLarge { arn, .. }
            | Self::Unreachable { arn, .. }
            | Self::Timeout { arn, .. }
            | Self::Transport { arn, .. }
            | Self::Failed { arn, .. }
            | Self::AnswerTooLarge { arn, .. }
            | Self::NotJson { arn } => arn,
        }
    }

    /// The function's own `errorMessage`, when it failed with one.
    pub fn error_message(&self) -> Option<&str> {
        match self {
            Self::Failed { error_message, .. } => error_message.as_deref(),
            Self::NotRegistered { .. }
            | Self::InvalidArn { .. }
            | Self::EventTooLarge { .. }
            | Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::Transport { .. }
            | Self::AnswerTooLarge { .. }
            | Self::NotJson { .. } => None,
        }
    }
}
