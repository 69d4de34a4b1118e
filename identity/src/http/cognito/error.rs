//! The one place that turns errors into Cognito's wire shape: HTTP 400 (500 only for
//! `InternalErrorException`) with `{"__type": "…Exception", "message": "…"}` and the
//! `x-amzn-ErrorType` header. [`from_user_pool_error`] matches every [`UserPoolError`] variant
//! by name; refused operator signatures arrive already named by
//! [`crate::http::operator::rejection`], the mapping every operator API shares.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::operator::AuthRejection;
use crate::user_pools::UserPoolError;

/// An error as the Cognito JSON protocol sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// HTTP status.
    pub status: StatusCode,
    /// `__type` and `x-amzn-ErrorType`.
    pub error_type: &'static str,
    /// `message`.
    pub message: String,
}

impl WireError {
    pub(crate) fn bad_request(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error_type,
            message: message.into(),
        }
    }

    /// The response, tagged with the request id.
    pub(crate) fn into_response_with(self, request_id: &str) -> Response {
        let body = serde_json::json!({"__type": self.error_type, "message": self.message});
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(super::CONTENT_TYPE),
            )],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response();
        response.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.error_type),
        );
        crate::http::with_request_id(response, request_id)
    }
}

/// A service error on the wire. Internal causes never reach the message.
pub fn from_user_pool_error(e: &UserPoolError) -> WireError {
    use UserPoolError as E;
    let (error_type, message) = match e {
        E::NotAuthorized(m) => ("NotAuthorizedException", m.as_str()),
        E::UserNotFound(m) => ("UserNotFoundException", m.as_str()),
        E::UsernameExists(m) => ("UsernameExistsException", m.as_str()),
        E::AliasExists(m) => ("AliasExistsException", m.as_str()),
        E::InvalidPassword(m) => ("InvalidPasswordException", m.as_str()),
        E::InvalidParameter(m) => ("InvalidParameterException", m.as_str()),
        E::CodeMismatch(m) => ("CodeMismatchException", m.as_str()),
        E::ExpiredCode(m) => ("ExpiredCodeException", m.as_str()),
        E::UserNotConfirmed(m) => ("UserNotConfirmedException", m.as_str()),
        E::PasswordResetRequired(m) => ("PasswordResetRequiredException", m.as_str()),
        E::ResourceNotFound(m) => ("ResourceNotFoundException", m.as_str()),
        E::TooManyRequests(m) => ("TooManyRequestsException", m.as_str()),
        E::TooManyFailedAttempts(m) => ("TooManyFailedAttemptsException", m.as_str()),
        E::LimitExceeded(m) => ("LimitExceededException", m.as_str()),
        E::GroupExists(m) => ("GroupExistsException", m.as_str()),
        E::CodeDeliveryFailure(m) => ("CodeDeliveryFailureException", m.as_str()),
        E::InvalidUserPoolConfiguration(m) => ("InvalidUserPoolConfigurationException", m.as_str()),
        E::UnsupportedUserState(m) => ("UnsupportedUserStateException", m.as_str()),
        E::RefreshTokenReuse(m) => ("RefreshTokenReuseException", m.as_str()),
        E::PreconditionNotMet(m) => ("PreconditionNotMetException", m.as_str()),
        E::MigrationUnavailable(m) => {
            return WireError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error_type: "InternalErrorException",
                message: m.clone(),
            };
        }
        E::InvalidOAuthFlow(m) => ("InvalidOAuthFlowException", m.as_str()),
        E::ScopeDoesNotExist(m) => ("ScopeDoesNotExistException", m.as_str()),
        E::DuplicateProvider(m) => ("DuplicateProviderException", m.as_str()),
        E::UserLambdaValidation(m) => ("UserLambdaValidationException", m.as_str()),
        E::UnexpectedLambda(m) => ("UnexpectedLambdaException", m.as_str()),
        E::InvalidLambdaResponse(m) => ("InvalidLambdaResponseException", m.as_str()),
        E::Internal(_) => {
            return WireError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error_type: "InternalErrorException",
                message: "Internal server error".into(),
            };
        }
    };
    WireError::bad_request(error_type, message)
}

impl From<AuthRejection> for WireError {
    /// A refused operator signature (see [`crate::http::operator::rejection`]).
    fn from(rejected: AuthRejection) -> Self {
        Self {
            status: rejected.status,
            error_type: rejected.error_type,
            message: rejected.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (variant, expected `__type`, expected status): every variant once.
    #[test]
    fn user_pool_error_mapping_table() {
        use UserPoolError as E;
        let m = || "msg".to_owned();
        let cases: Vec<(E, &str, u16)> = vec![
            (E::NotAuthorized(m()), "NotAuthorizedException", 400),
            (E::UserNotFound(m()), "UserNotFoundException", 400),
            (E::UsernameExists(m()), "UsernameExistsException", 400),
            (E::AliasExists(m()), "AliasExistsException", 400),
            (E::InvalidPassword(m()), "InvalidPasswordException", 400),
            (E::InvalidParameter(m()), "InvalidParameterException", 400),
            (E::CodeMismatch(m()), "CodeMismatchException", 400),
            (E::ExpiredCode(m()), "ExpiredCodeException", 400),
            (E::UserNotConfirmed(m()), "UserNotConfirmedException", 400),
            (
                E::PasswordResetRequired(m()),
                "PasswordResetRequiredException",
                400,
            ),
            (E::ResourceNotFound(m()), "ResourceNotFoundException", 400),
            (E::TooManyRequests(m()), "TooManyRequestsException", 400),
            (
                E::TooManyFailedAttempts(m()),
                "TooManyFailedAttemptsException",
                400,
            ),
            (E::LimitExceeded(m()), "LimitExceededException", 400),
            (E::GroupExists(m()), "GroupExistsException", 400),
            (
                E::CodeDeliveryFailure(m()),
                "CodeDeliveryFailureException",
                400,
            ),
            (
                E::InvalidUserPoolConfiguration(m()),
                "InvalidUserPoolConfigurationException",
                400,
            ),
            (
                E::UnsupportedUserState(m()),
                "UnsupportedUserStateException",
                400,
            ),
            (E::RefreshTokenReuse(m()), "RefreshTokenReuseException", 400),
            (
                E::PreconditionNotMet(m()),
                "PreconditionNotMetException",
                400,
            ),
            (E::MigrationUnavailable(m()), "InternalErrorException", 500),
            (E::InvalidOAuthFlow(m()), "InvalidOAuthFlowException", 400),
            (E::ScopeDoesNotExist(m()), "ScopeDoesNotExistException", 400),
            (E::DuplicateProvider(m()), "DuplicateProviderException", 400),
            (
                E::UserLambdaValidation(m()),
                "UserLambdaValidationException",
                400,
            ),
            (E::UnexpectedLambda(m()), "UnexpectedLambdaException", 400),
            (
                E::InvalidLambdaResponse(m()),
                "InvalidLambdaResponseException",
                400,
            ),
            (
                E::Internal("secret cause".into()),
                "InternalErrorException",
                500,
            ),
        ];
        for (e, ty, status) in cases {
            let w = from_user_pool_error(&e);
            assert_eq!((w.error_type, w.status.as_u16()), (ty, status), "{e:?}");
            if matches!(e, E::Internal(_)) {
                assert!(
                    !w.message.contains("secret"),
                    "internal causes stay private"
                );
            } else {
                assert_eq!(w.message, "msg");
            }
        }
    }
}
