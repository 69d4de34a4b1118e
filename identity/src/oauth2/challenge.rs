//! The next steps of a sign-in on the hosted pages: a new password, a TOTP or email code,
//! the choice of a factor, the enrolment of a software token. Each page carries the
//! challenge's sealed session in a hidden field and the authorization request in its URL,
//! checked again on every answer ([`OAuth2::answer_challenge`]); the answer goes through the
//! user pool's own challenge chain (`user_pools::hosted_chain`: the same single-use sessions,
//! lockouts and errors as RespondToAuthChallenge). When the chain ends, the pages finish as
//! the password form does: a hosted session and a code for the app. Never API tokens.

use std::collections::BTreeMap;

use super::OAuth2;
use super::authorize::{SignInError, SignInStep, sign_in_error};
use super::request::AuthorizeRequest;
use crate::user_pools::challenges::HOSTED_SIGN_IN_COMPLETE;
use crate::user_pools::{
    AuthOutcome, Challenge, Client, EMAIL_OTP, Factor, HostedRefusal, MFA_SETUP,
    NEW_PASSWORD_REQUIRED, SECRET_CODE, SELECT_MFA_TYPE, SOFTWARE_TOKEN_MFA, UserPool,
    UserPoolError,
};

/// Longest answer field a page may send (a code, a password, an attribute value).
pub const MAX_ANSWER_FIELD_LEN: usize = 2048;
/// Most attributes a new-password page may send.
pub const MAX_ANSWER_ATTRIBUTES: usize = 50;

/// A page of a sign-in's next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageChallenge {
    /// What the page asks.
    pub step: ChallengeStep,
    /// The challenge's sealed session, for the form's hidden field.
    pub session: String,
    /// Why the last answer was refused, when the page asks again.
    pub error: Option<ChallengeError>,
}

/// What a challenge page asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeStep {
    /// `NEW_PASSWORD_REQUIRED`: a new password, and the pool's required attributes the user
    /// does not have yet (their names).
    NewPassword {
        /// Attribute names (`name`, `family_name`, `custom:…`).
        required_attributes: Vec<String>,
    },
    /// `SOFTWARE_TOKEN_MFA`: the code of the user's authenticator app.
    SoftwareToken,
    /// `EMAIL_OTP`: the code sent by email.
    EmailCode {
        /// Where it went, masked (`a***@e***`).
        destination: String,
    },
    /// `SELECT_MFA_TYPE`: which factor to use.
    SelectFactor {
        /// The factors the user can choose.
        factors: Vec<Factor>,
    },
    /// `MFA_SETUP`: a new software token to add to an authenticator app, then its first
    /// code.
    SetUpSoftwareToken {
        /// The secret (base32), to type in.
        secret: String,
        /// Its `otpauth://totp/…` URI (for a QR code).
        uri: String,
    },
}

impl ChallengeStep {
    /// Cognito's challenge name (the form's `challenge` field).
    pub fn challenge_name(&self) -> &'static str {
        match self {
            Self::NewPassword { .. } => NEW_PASSWORD_REQUIRED,
            Self::SoftwareToken => SOFTWARE_TOKEN_MFA,
            Self::EmailCode { .. } => EMAIL_OTP,
            Self::SelectFactor { .. } => SELECT_MFA_TYPE,
            Self::SetUpSoftwareToken { .. } => MFA_SETUP,
        }
    }
}

/// Why a challenge page asks again. None tells anything about other users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// The code is wrong (or was already used).
    WrongCode,
    /// Too many wrong codes: locked for a while.
    TooManyAttempts,
    /// The new password does not meet the pool's policy.
    InvalidPassword,
    /// The new password and its confirmation differ.
    PasswordsDiffer,
    /// A required field is empty or an attribute value is refused.
    InvalidAnswer,
}

/// An answer posted on a challenge page, as the form has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChallengeAnswer {
    /// The challenge's name (hidden field).
    pub challenge: String,
    /// Its session (hidden field).
    pub session: String,
    /// `NEW_PASSWORD_REQUIRED`.
    pub new_password: String,
    /// `NEW_PASSWORD_REQUIRED`: the new password typed again, when the page asks it.
    pub confirm_password: Option<String>,
    /// `NEW_PASSWORD_REQUIRED`: attribute name and value.
    pub attributes: Vec<(String, String)>,
    /// `SOFTWARE_TOKEN_MFA`, `EMAIL_OTP`, `MFA_SETUP`.
    pub code: String,
    /// `SELECT_MFA_TYPE`: the challenge name of the chosen factor.
    pub factor: String,
}

impl ChallengeAnswer {
    fn passwords_differ(&self) -> bool {
        self.challenge == NEW_PASSWORD_REQUIRED
            && self
                .confirm_password
                .as_ref()
                .is_some_and(|c| *c != self.new_password)
    }

    /// The answer as RespondToAuthChallenge's `ChallengeResponses`; `None` when a field is
    /// over the limits ([`MAX_ANSWER_FIELD_LEN`], [`MAX_ANSWER_ATTRIBUTES`]).
    fn responses(&self) -> Option<BTreeMap<String, String>> {
        let fields = [&self.new_password, &self.code, &self.factor];
        let too_long = fields.iter().any(|f| f.len() > MAX_ANSWER_FIELD_LEN)
            || self
                .confirm_password
                .as_ref()
                .is_some_and(|c| c.len() > MAX_ANSWER_FIELD_LEN)
            || self.attributes.len() > MAX_ANSWER_ATTRIBUTES
            || self
                .attributes
                .iter()
                .any(|(k, v)| k.len() > 128 || v.len() > MAX_ANSWER_FIELD_LEN);
        if too_long {
            return None;
        }
        let mut responses = BTreeMap::new();
        let mut put = |name: &str, value: &str| {
            if !value.is_empty() {
                responses.insert(name.to_owned(), value.to_owned());
            }
        };
        match self.challenge.as_str() {
            NEW_PASSWORD_REQUIRED => {
                // Two different passwords answer nothing: the chain refuses the missing
                // password before spending the session, and the page says why.
                if !self.passwords_differ() {
                    put("NEW_PASSWORD", &self.new_password);
                }
                for (name, value) in &self.attributes {
                    put(&format!("userAttributes.{name}"), value.trim());
                }
            }
            EMAIL_OTP => put("EMAIL_OTP_CODE", self.code.trim()),
            SOFTWARE_TOKEN_MFA | MFA_SETUP => put("SOFTWARE_TOKEN_MFA_CODE", self.code.trim()),
            SELECT_MFA_TYPE => put("ANSWER", &self.factor),
            _ => {}
        }
        Some(responses)
    }
}

impl OAuth2 {
    /// A challenge page's form: the request in the URL checked again, then the answer through
    /// the user pool's chain. The next page, the same page again with an error (a wrong code
    /// within the tries and the lockout, a password the policy refuses), or the signed-in
    /// redirect; an expired, spent or foreign session is [`SignInError::SessionExpired`].
    pub async fn answer_challenge(
        &self,
        pool_id: &str,
        request: &AuthorizeRequest,
        answer: &ChallengeAnswer,
    ) -> Result<SignInStep, SignInError> {
        let (pool, client, valid) = self
            .checked(pool_id, request)
            .await
            .map_err(SignInError::Request)?;
        let Some(responses) = answer.responses() else {
            return Err(SignInError::SessionExpired);
        };
        let answered = self
            .pools
            .hosted_answer(
                &pool,
                &client,
                &answer.challenge,
                &answer.session,
                &responses,
            )
            .await;
        match answered {
            Ok(outcome) => {
                // A second factor answered: RFC 8176's `mfa`, and `otp` for the code.
                let amr: &[&str] = match answer.challenge.as_str() {
                    SOFTWARE_TOKEN_MFA | EMAIL_OTP | MFA_SETUP => &["pwd", "otp", "mfa"],
                    _ => &["pwd"],
                };
                self.next_page(&pool, &client, &valid, outcome, amr).await
            }
            Err(HostedRefusal {
                error,
                retry: Some(challenge),
            }) => {
                let mut page = page_challenge(&pool, challenge)?;
                page.error = Some(if answer.passwords_differ() {
                    ChallengeError::PasswordsDiffer
                } else {
                    challenge_error(&error)
                });
                Ok(SignInStep::Challenge(Box::new(page)))
            }
            Err(HostedRefusal { error, retry: None }) => Err(answer_error(&error)),
        }
    }

    /// What follows a step of a hosted sign-in: the next challenge's page, or (its proof
    /// redeemed once) a hosted session and a code.
    pub(super) async fn next_page(
        &self,
        pool: &UserPool,
        client: &Client,
        valid: &super::ValidRequest,
        outcome: AuthOutcome,
        amr: &[&str],
    ) -> Result<SignInStep, SignInError> {
        let challenge = match outcome {
            AuthOutcome::Challenge(c) => c,
            AuthOutcome::Tokens(_) => {
                tracing::error!("a hosted sign-in ended in tokens");
                return Err(SignInError::Unavailable);
            }
        };
        if challenge.name != HOSTED_SIGN_IN_COMPLETE {
            let challenge = self
                .pools
                .hosted_next(pool, client, AuthOutcome::Challenge(challenge))
                .await
                .map_err(|e| sign_in_error(&e))?;
            let AuthOutcome::Challenge(challenge) = challenge else {
                tracing::error!("a hosted sign-in ended in tokens");
                return Err(SignInError::Unavailable);
            };
            return Ok(SignInStep::Challenge(Box::new(page_challenge(
                pool, challenge,
            )?)));
        }
        let amr: Vec<String> = amr.iter().map(|s| (*s).to_owned()).collect();
        self.finish_page_sign_in(pool, client, valid, &challenge.session, &amr)
            .await
            .map(SignInStep::SignedIn)
    }
}

/// The page of a challenge the chain asked.
fn page_challenge(pool: &UserPool, challenge: Challenge) -> Result<PageChallenge, SignInError> {
    let parameter = |name: &str| challenge.parameters.get(name).cloned().unwrap_or_default();
    let list =
        |name: &str| -> Vec<String> { serde_json::from_str(&parameter(name)).unwrap_or_default() };
    let step = match challenge.name.as_str() {
        NEW_PASSWORD_REQUIRED => ChallengeStep::NewPassword {
            required_attributes: list("requiredAttributes")
                .iter()
                .filter_map(|a| a.strip_prefix("userAttributes.").map(str::to_owned))
                .collect(),
        },
        SOFTWARE_TOKEN_MFA => ChallengeStep::SoftwareToken,
        EMAIL_OTP => ChallengeStep::EmailCode {
            destination: parameter("CODE_DELIVERY_DESTINATION"),
        },
        SELECT_MFA_TYPE => ChallengeStep::SelectFactor {
            factors: list("MFAS_CAN_CHOOSE")
                .iter()
                .filter_map(|name| match name.as_str() {
                    SOFTWARE_TOKEN_MFA => Some(Factor::SoftwareToken),
                    EMAIL_OTP => Some(Factor::Email),
                    _ => None,
                })
                .collect(),
        },
        MFA_SETUP => {
            let secret = parameter(SECRET_CODE);
            if secret.is_empty() {
                tracing::error!("a hosted MFA_SETUP without its secret");
                return Err(SignInError::Unavailable);
            }
            let uri = totp_uri(&pool.name, &parameter("USER_ID_FOR_SRP"), &secret);
            ChallengeStep::SetUpSoftwareToken { secret, uri }
        }
        other => {
            // DEVICE_SRP_AUTH needs a device's secret: hosted sign-ins name no device.
            tracing::error!(
                challenge = other,
                "a hosted sign-in asked a challenge no page answers"
            );
            return Err(SignInError::Unavailable);
        }
    };
    Ok(PageChallenge {
        step,
        session: challenge.session,
        error: None,
    })
}

/// The Key URI Format of authenticator apps: `otpauth://totp/{issuer}:{account}?secret=…
/// &issuer=…` with Cognito's parameters (SHA1, 6 digits, 30 s: the apps' defaults, named
/// anyway). The issuer is the user pool's name: the factor works for all its apps.
pub fn totp_uri(issuer: &str, account: &str, secret: &str) -> String {
    let label = format!("{issuer}:{account}");
    let label: String = form_urlencoded::byte_serialize(label.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("secret", secret)
        .append_pair("issuer", issuer)
        .append_pair("algorithm", "SHA1")
        .append_pair("digits", "6")
        .append_pair("period", "30")
        .finish()
        .replace('+', "%20");
    format!("otpauth://totp/{label}?{query}")
}

/// What a challenge page says about an answer it asks again.
fn challenge_error(e: &UserPoolError) -> ChallengeError {
    use UserPoolError as E;
    if crate::user_pools::attempts::is_locked_out(e) {
        return ChallengeError::TooManyAttempts;
    }
    match e {
        E::CodeMismatch(_) | E::ExpiredCode(_) => ChallengeError::WrongCode,
        E::InvalidPassword(_) => ChallengeError::InvalidPassword,
        E::TooManyFailedAttempts(_) | E::LimitExceeded(_) => ChallengeError::TooManyAttempts,
        E::NotAuthorized(_)
        | E::UserNotFound(_)
        | E::InvalidParameter(_)
        | E::UsernameExists(_)
        | E::AliasExists(_)
        | E::UserNotConfirmed(_)
        | E::PasswordResetRequired(_)
        | E::ResourceNotFound(_)
        | E::TooManyRequests(_)
        | E::GroupExists(_)
        | E::CodeDeliveryFailure(_)
        | E::InvalidUserPoolConfiguration(_)
        | E::RefreshTokenReuse(_)
        | E::UnsupportedUserState(_)
        | E::PreconditionNotMet(_)
        | E::InvalidOAuthFlow(_)
        | E::ScopeDoesNotExist(_)
        | E::MigrationUnavailable(_)
        | E::UserLambdaValidation(_)
        | E::UnexpectedLambda(_)
        | E::InvalidLambdaResponse(_)
        | E::DuplicateProvider(_)
        | E::Internal(_) => ChallengeError::InvalidAnswer,
    }
}

/// An answer that ends the sign-in on the pages: a session that is no longer usable sends
/// the user back to the password.
fn answer_error(e: &UserPoolError) -> SignInError {
    use UserPoolError as E;
    match e {
        E::NotAuthorized(_) if !crate::user_pools::attempts::is_locked_out(e) => {
            SignInError::SessionExpired
        }
        // Out of tries: as a locked account, back to the password.
        E::CodeMismatch(_) => SignInError::TooManyAttempts,
        E::InvalidParameter(_) => SignInError::SessionExpired,
        _ => sign_in_error(e),
    }
}
