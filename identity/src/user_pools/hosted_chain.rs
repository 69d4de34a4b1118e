//! The hosted pages' answers to a sign-in's challenges: the same chain as
//! RespondToAuthChallenge (`challenges`, `mfa`: the same sealed single-use sessions, lockouts
//! and checks), for sessions of a hosted sign-in only, which it ends in
//! [`HOSTED_SIGN_IN_COMPLETE`](super::challenges::HOSTED_SIGN_IN_COMPLETE) rather than in
//! tokens.
//!
//! # What differs from the API
//! - No `USERNAME` or `SECRET_HASH`: the page is the client, and the session names the user.
//! - `MFA_SETUP` is answered with the first code of a software token the pages associated
//!   themselves ([`UserPools::hosted_next`] does it as soon as the challenge comes up, so the
//!   enrolment page can show the secret), not with AssociateSoftwareToken and
//!   VerifySoftwareToken calls.
//! - A wrong code (or a code refused by the lockout) may be typed again: the session is spent
//!   as on the API, and the refusal carries a new session for the same challenge, with the
//!   first session's expiry and, for `EMAIL_OTP`, the code already sent. At most
//!   [`HOSTED_TRIES`] answers per challenge; then the user signs in again with the password.
//!   A new password the policy refuses, or missing required attributes, are refused before
//!   the session is spent: the same session asks again.

use std::collections::BTreeMap;

use super::attempts::is_locked_out;
use super::auth::{AuthOutcome, Challenge, NEW_PASSWORD_REQUIRED, invalid_session, required};
use super::challenges::{
    EMAIL_OTP, MFA_SETUP, SELECT_MFA_TYPE, SOFTWARE_TOKEN_MFA, SessionClaims,
    new_password_parameters,
};
use super::mfa::{MfaPlan, has_email};
use super::types::mask_destination;
use super::{Client, User, UserPool, UserPoolError, UserPools};
use crate::delivery::Channel;

/// Answers a hosted sign-in may give one challenge (the first and the ones asked again).
pub const HOSTED_TRIES: u8 = 5;

/// The parameter of a hosted `MFA_SETUP` with the new software token's secret (base32).
pub const SECRET_CODE: &str = "SECRET_CODE";

/// A refused answer on the pages.
#[derive(Debug)]
pub(crate) struct HostedRefusal {
    /// Why (the API's error for the same answer).
    pub(crate) error: UserPoolError,
    /// The same challenge again, when the page may ask again: a new session after a wrong
    /// code, the same one when nothing was spent.
    pub(crate) retry: Option<Challenge>,
}

impl From<UserPoolError> for HostedRefusal {
    fn from(error: UserPoolError) -> Self {
        Self { error, retry: None }
    }
}

impl UserPools {
    /// Answers `challenge` of a hosted sign-in (`session`) with the page's `responses`
    /// (`NEW_PASSWORD` and `userAttributes.*`, `SOFTWARE_TOKEN_MFA_CODE`, `EMAIL_OTP_CODE`,
    /// `ANSWER`, or `MFA_SETUP`'s `SOFTWARE_TOKEN_MFA_CODE`): the next challenge (for the
    /// caller to prepare with [`UserPools::hosted_next`]) or the sign-in's proof.
    pub(crate) async fn hosted_answer(
        &self,
        pool: &UserPool,
        client: &Client,
        challenge: &str,
        session: &str,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, HostedRefusal> {
        let now = self.now();
        if !matches!(
            challenge,
            NEW_PASSWORD_REQUIRED | SOFTWARE_TOKEN_MFA | EMAIL_OTP | SELECT_MFA_TYPE | MFA_SETUP
        ) {
            return Err(invalid_session().into());
        }
        let claims = self.open_session(session, pool, client, challenge, now)?;
        // The API's sessions are the API's: the pages answer only their own.
        if !claims.sign_in.hosted {
            return Err(invalid_session().into());
        }
        self.before_spending(pool, client, &claims, challenge, session, responses)
            .await?;
        self.spend(&claims).await?;
        let user = self.session_user(pool, &claims).await?;
        let outcome = match challenge {
            NEW_PASSWORD_REQUIRED => {
                self.answer_new_password(pool, client, user, claims, responses, now)
                    .await?
            }
            SELECT_MFA_TYPE => {
                self.answer_select_mfa_type(pool, client, user, claims, responses, now)
                    .await?
            }
            SOFTWARE_TOKEN_MFA | EMAIL_OTP => {
                let retry = self.retry_claims(&claims);
                match self
                    .answer_mfa_code(pool, client, user.clone(), claims, responses, now)
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(error) => return Err(self.refused_code(pool, &user, error, retry).await),
                }
            }
            // MFA_SETUP
            _ => {
                let retry = self.retry_claims(&claims);
                // As AssociateSoftwareToken's session: a factor set up since (elsewhere)
                // is not replaced by whoever holds this password-only session.
                if !matches!(self.mfa_plan(pool, &user).await?, MfaPlan::Setup(_)) {
                    return Err(invalid_session().into());
                }
                let code = required(responses, "SOFTWARE_TOKEN_MFA_CODE")?;
                if let Err(error) = self
                    .confirm_pending_totp(pool, &user, code, None, true)
                    .await
                {
                    return Err(self.refused_code(pool, &user, error, retry).await);
                }
                self.finish(pool, client, user, claims.sign_in, now).await?
            }
        };
        Ok(outcome)
    }

    /// What the pages show after a step of a hosted sign-in: `outcome` itself, except that
    /// `MFA_SETUP` gets its software token associated at once, its secret in
    /// [`SECRET_CODE`] and a new session to answer with.
    pub(crate) async fn hosted_next(
        &self,
        pool: &UserPool,
        client: &Client,
        outcome: AuthOutcome,
    ) -> Result<AuthOutcome, UserPoolError> {
        let challenge = match outcome {
            AuthOutcome::Challenge(c) if c.name == MFA_SETUP => c,
            other => return Ok(other),
        };
        let now = self.now();
        let claims = self.open_session(&challenge.session, pool, client, MFA_SETUP, now)?;
        self.spend(&claims).await?;
        let user = self.session_user(pool, &claims).await?;
        let secret = self.new_pending_totp(pool, &user).await?;
        let next = self.new_claims(pool, client, &user.sub, MFA_SETUP, claims.sign_in, now);
        let mut parameters = challenge.parameters;
        parameters.insert(SECRET_CODE.to_owned(), secret);
        Ok(AuthOutcome::Challenge(Challenge {
            name: MFA_SETUP.into(),
            session: self.session_text(&next)?,
            parameters,
        }))
    }

    /// The checks of an answer that cost nothing to repeat, before the session is spent: a
    /// refusal here asks again with the same session.
    async fn before_spending(
        &self,
        pool: &UserPool,
        client: &Client,
        claims: &SessionClaims,
        challenge: &str,
        session: &str,
        responses: &BTreeMap<String, String>,
    ) -> Result<(), HostedRefusal> {
        let again = |error: UserPoolError, parameters: BTreeMap<String, String>| HostedRefusal {
            error,
            retry: Some(Challenge {
                name: challenge.to_owned(),
                session: session.to_owned(),
                parameters,
            }),
        };
        match challenge {
            NEW_PASSWORD_REQUIRED => {
                let user = self.session_user(pool, claims).await?;
                let parameters = new_password_parameters(pool, &user)?;
                let checked = self.check_new_password_answer(pool, client, &user, responses);
                checked.map(drop).map_err(|e| again(e, parameters))
            }
            SOFTWARE_TOKEN_MFA | EMAIL_OTP | MFA_SETUP => {
                let name = match challenge {
                    EMAIL_OTP => "EMAIL_OTP_CODE",
                    _ => "SOFTWARE_TOKEN_MFA_CODE",
                };
                if responses.get(name).is_some_and(|c| !c.trim().is_empty()) {
                    return Ok(());
                }
                let user = self.session_user(pool, claims).await?;
                let parameters = self.code_parameters(pool, &user, challenge).await?;
                Err(again(
                    UserPoolError::invalid(format!("Missing required parameter {name}")),
                    parameters,
                ))
            }
            _ => Ok(()),
        }
    }

    /// The next session of a challenge answered wrongly: a new id, the same expiry and
    /// sign-in, one more try counted; `None` once [`HOSTED_TRIES`] are used up.
    fn retry_claims(&self, claims: &SessionClaims) -> Option<SessionClaims> {
        let tries = claims.tries.saturating_add(1);
        if tries >= HOSTED_TRIES {
            return None;
        }
        Some(SessionClaims {
            id: crate::ids::uuid_v4(),
            pool: claims.pool.clone(),
            client: claims.client.clone(),
            sub: claims.sub.clone(),
            challenge: claims.challenge.clone(),
            exp: claims.exp,
            sign_in: claims.sign_in.clone(),
            code: claims.code.clone(),
            srp: None,
            setup_done: false,
            custom: None,
            tries,
            code_session: Some(
                claims
                    .code_session
                    .clone()
                    .unwrap_or_else(|| claims.id.clone()),
            ),
        })
    }

    /// A refused code: asked again with `retry` when the code was wrong or the lockout
    /// refused it; anything else ends the sign-in.
    async fn refused_code(
        &self,
        pool: &UserPool,
        user: &User,
        error: UserPoolError,
        retry: Option<SessionClaims>,
    ) -> HostedRefusal {
        let may_retry = matches!(error, UserPoolError::CodeMismatch(_)) || is_locked_out(&error);
        let Some(claims) = retry.filter(|_| may_retry) else {
            return error.into();
        };
        let again = async {
            let parameters = self.code_parameters(pool, user, &claims.challenge).await?;
            Ok::<_, UserPoolError>(Challenge {
                name: claims.challenge.clone(),
                session: self.session_text(&claims)?,
                parameters,
            })
        };
        match again.await {
            Ok(challenge) => HostedRefusal {
                error,
                retry: Some(challenge),
            },
            Err(e) => e.into(),
        }
    }

    /// The parameters a code page shows: where an email code went, the secret of a software
    /// token being set up.
    async fn code_parameters(
        &self,
        pool: &UserPool,
        user: &User,
        challenge: &str,
    ) -> Result<BTreeMap<String, String>, UserPoolError> {
        let mut parameters = BTreeMap::new();
        parameters.insert("USER_ID_FOR_SRP".to_owned(), user.username.clone());
        if challenge == EMAIL_OTP && has_email(user) {
            let email = user.attribute("email").unwrap_or_default();
            parameters.insert(
                "CODE_DELIVERY_DELIVERY_MEDIUM".to_owned(),
                "EMAIL".to_owned(),
            );
            parameters.insert(
                "CODE_DELIVERY_DESTINATION".to_owned(),
                mask_destination(Channel::Email, email),
            );
        }
        if challenge == MFA_SETUP {
            let record = self.store().mfa().get(&pool.id, &user.sub).await?;
            let pending = record
                .and_then(|r| r.totp_pending)
                .ok_or_else(invalid_session)?;
            let secret = self.open_totp(pool, &user.sub, &pending)?;
            parameters.insert(
                SECRET_CODE.to_owned(),
                totp_rs::Secret::from(secret).to_base32(),
            );
        }
        Ok(parameters)
    }
}
