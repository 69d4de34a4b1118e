//! One-time codes (sign-up confirmation, attribute verification, password reset): generated,
//! stored as an HMAC bound to pool, user and purpose, delivered, and checked with an expiry,
//! the code's own attempts and the user's budget of guesses per purpose (see `attempts`),
//! all spent atomically in storage.

use std::time::{Duration, SystemTime};

use gatehouse_storage::{CodeAttempt, CodeRecord};

use super::attempts::{
    Subject, attempt_limit_exceeded, guess_kind, guess_step, key, send_kind, send_step,
};
use super::triggers::MessageSource;
use super::types::mask_destination;
use super::{CodeDeliveryDetails, User, UserPool, UserPoolError, UserPools};
use crate::delivery::{Channel, Message, Purpose};
use crate::time::unix_millis;

/// How long a code is valid (Cognito: 24 hours).
pub const CODE_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Guesses allowed at one code over its whole life (24 hours). The user's budget,
/// `CODE_GUESSES` per hour and purpose, bounds the guesses across codes: a new code does not
/// refill it.
pub const CODE_ATTEMPTS: i64 = 5;

/// A code stored and counted, its message not yet handed to the delivery (see
/// [`UserPools::store_code`]).
pub(crate) struct StoredCode {
    /// What the client is told: where the code goes, masked.
    details: CodeDeliveryDetails,
    /// The message with the code, for the delivery.
    message: Message,
    /// The pool and the user (for the message triggers).
    pool: UserPool,
    user: User,
    /// Why it goes out (the message triggers' `triggerSource`).
    pub(crate) source: MessageSource,
}

fn context(pool_id: &str, sub: &str, purpose: &str) -> String {
    format!("{pool_id}|{sub}|{purpose}")
}

impl UserPools {
    /// The subject and body of a code message, from the pool's templates or Cognito's default.
    pub fn code_message(&self, pool: &UserPool, channel: Channel, code: &str) -> (String, String) {
        let t = &pool.config.verification_message;
        match channel {
            Channel::Email => (
                t.email_subject
                    .clone()
                    .unwrap_or_else(|| "Your verification code".into()),
                t.email_message
                    .as_deref()
                    .unwrap_or("Your verification code is {####}. ")
                    .replace("{####}", code),
            ),
            Channel::Sms => (
                String::new(),
                t.sms_message
                    .as_deref()
                    .unwrap_or("Your verification code is {####}. ")
                    .replace("{####}", code),
            ),
        }
    }

    /// Sends `message` through the delivery, stamping it with `now`.
    pub async fn deliver(&self, message: Message, now: SystemTime) -> Result<(), UserPoolError> {
        self.inner.delivery.send(message, now).await?;
        Ok(())
    }

    /// Creates a code for `user` and `code_purpose` (replacing any earlier one), stores its
    /// hash with `data` (what the code will confirm), and sends it on `channel` to the
    /// user's `email` or `phone_number` ([`UserPools::store_code`], then
    /// [`UserPools::hand_over`]). The message is handed to the delivery, which does not wait
    /// for a mail server; a delivery that refuses it at once is `CodeDeliveryFailure`.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a distinct fact of the code"
    )]
    pub async fn send_code(
        &self,
        pool: &UserPool,
        user: &User,
        code_purpose: &str,
        channel: Channel,
        purpose: Purpose,
        data: Option<String>,
        now: SystemTime,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        let stored = self
            .store_code(pool, user, code_purpose, channel, purpose, data, now)
            .await?;
        self.hand_over(stored, false, now).await
    }

    /// [`UserPools::send_code`] of an attribute code that UpdateUserAttributes sends (the
    /// message triggers' `…_UpdateUserAttribute`, not `…_VerifyUserAttribute`).
    pub(crate) async fn send_update_code(
        &self,
        pool: &UserPool,
        user: &User,
        channel: Channel,
        data: Option<String>,
        now: SystemTime,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        let mut stored = self
            .store_code(
                pool,
                user,
                &verify_code_purpose(channel.attribute()),
                channel,
                Purpose::VerifyAttribute,
                data,
                now,
            )
            .await?;
        stored.source = MessageSource::UpdateUserAttribute;
        self.hand_over(stored, false, now).await
    }

    /// The first half of [`UserPools::send_code`]: a new code stored (with `data`) and, for
    /// the sends a caller without operator credentials can trigger (sign-up, resend,
    /// password reset, attribute verification), counted against the user's sends per hour
    /// (`attempts`) in the same transaction; past the limit nothing is stored
    /// (`LimitExceeded`). Returns the message to hand over.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a distinct fact of the code"
    )]
    pub(crate) async fn store_code(
        &self,
        pool: &UserPool,
        user: &User,
        code_purpose: &str,
        channel: Channel,
        purpose: Purpose,
        data: Option<String>,
        now: SystemTime,
    ) -> Result<StoredCode, UserPoolError> {
        let destination = user
            .attribute(channel.attribute())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                UserPoolError::InvalidParameter(format!(
                    "no `{}` to send the code to",
                    channel.attribute()
                ))
            })?
            .to_owned();
        let code = crate::ids::confirmation_code();
        let now_ms = unix_millis(now);
        let lifetime = i64::try_from(CODE_LIFETIME.as_millis()).unwrap_or(i64::MAX);
        let record = CodeRecord {
            pool_id: pool.id.clone(),
            sub: user.sub.clone(),
            purpose: code_purpose.to_owned(),
            code_hash: self
                .inner
                .codes
                .hash(&context(&pool.id, &user.sub, code_purpose), &code)
                .into_bytes(),
            data,
            expires_at: now_ms.saturating_add(lifetime),
            attempts_left: CODE_ATTEMPTS,
            created_at: now_ms,
        };
        if is_limited(purpose) {
            let kind = send_kind(code_purpose);
            let subject = Subject::user(user);
            let allowed = self
                .store()
                .codes()
                .put_counted(
                    Some(&record),
                    key(&pool.id, &subject, &kind),
                    send_step(now),
                )
                .await?;
            if !allowed {
                return Err(attempt_limit_exceeded());
            }
        } else {
            self.store().codes().put(&record).await?;
        }
        let (subject, body) = self.code_message(pool, channel, &code);
        Ok(StoredCode {
            details: CodeDeliveryDetails {
                destination: mask_destination(channel, &destination),
                channel,
                attribute_name: channel.attribute().to_owned(),
            },
            message: Message {
                pool_id: pool.id.clone(),
                username: user.username.clone(),
                channel,
                destination,
                purpose,
                subject,
                body,
                code: Some(code),
                temporary_password: None,
            },
            pool: pool.clone(),
            user: user.clone(),
            source: MessageSource::of(purpose),
        })
    }

    /// The second half of [`UserPools::send_code`]: runs the pool's message triggers
    /// (CustomMessage rewrites the message; a sender trigger takes it, and gatehouse sends
    /// nothing), then hands the message to the delivery. A trigger's failure is the
    /// operation's error (the code stays stored; a new request replaces it). A delivery that refuses it at once (SMS without an SMS delivery, a full
    /// queue) is `CodeDeliveryFailure` — unless `uniform` (the client hides which users
    /// exist): a name nobody holds gets a simulated delivery that cannot fail, so the refusal
    /// is only logged and the request answered as sent, as a mail server failing later is.
    pub(crate) async fn hand_over(
        &self,
        stored: StoredCode,
        uniform: bool,
        now: SystemTime,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        let StoredCode {
            details,
            message,
            pool,
            user,
            source,
        } = stored;
        let Some(message) = self.message_triggers(&pool, &user, source, message).await? else {
            return Ok(details);
        };
        match self.inner.delivery.send(message, now).await {
            Ok(()) => Ok(details),
            Err(error) if uniform => {
                tracing::warn!(%error, "code not delivered (answered as sent to hide the user)");
                Ok(details)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A send that goes nowhere (a code request the client must not tell from a real one):
    /// counted against `subject`'s sends of `code_purpose` exactly as [`UserPools::send_code`]
    /// counts a real one, in one transaction of the same shape, then answered with
    /// `details`.
    pub(crate) async fn simulate_send(
        &self,
        pool_id: &str,
        subject: &Subject,
        code_purpose: &str,
        details: CodeDeliveryDetails,
        now: SystemTime,
    ) -> Result<CodeDeliveryDetails, UserPoolError> {
        let kind = send_kind(code_purpose);
        let allowed = self
            .store()
            .codes()
            .put_counted(None, key(pool_id, subject, &kind), send_step(now))
            .await?;
        if !allowed {
            return Err(attempt_limit_exceeded());
        }
        Ok(details)
    }

    /// Checks a guess at the code of `sub` (`None`: nobody, counted under `subject` all the
    /// same) for `code_purpose`: counts it against the subject's guesses of that purpose
    /// (refused with `LimitExceededException` when spent) and the code's own attempts, then
    /// compares in constant time and checks expiry. Returns the code's `data`; the code stays
    /// until [`UserPools::finish_code`]. `uniform`: a missing or spent code answers as a
    /// wrong one (clients that prevent user-existence errors).
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a distinct fact of the guess"
    )]
    pub(crate) async fn check_code(
        &self,
        pool_id: &str,
        subject: &Subject,
        sub: Option<&str>,
        code_purpose: &str,
        code: &str,
        uniform: bool,
        now: SystemTime,
    ) -> Result<Option<String>, UserPoolError> {
        let kind = guess_kind(code_purpose);
        let attempt = self
            .store()
            .codes()
            .guess(
                pool_id,
                sub,
                code_purpose,
                key(pool_id, subject, &kind),
                guess_step(now),
            )
            .await?;
        let record = match attempt {
            None => return Err(attempt_limit_exceeded()),
            // A code outlives the hour of guesses, so its own attempts can be spent while the
            // subject's budget is full again; a name nobody holds has no code to spend. When
            // the client hides which users exist, a spent code answers as no code does.
            Some(CodeAttempt::Missing | CodeAttempt::Exhausted(_)) if uniform => {
                return Err(code_mismatch());
            }
            Some(CodeAttempt::Exhausted(_)) => return Err(attempt_limit_exceeded()),
            Some(CodeAttempt::Missing) => {
                return Err(UserPoolError::ExpiredCode(
                    "Invalid code provided, please request a code again.".into(),
                ));
            }
            Some(CodeAttempt::Granted(record)) => record,
        };
        let stored = String::from_utf8_lossy(&record.code_hash);
        if !self
            .inner
            .codes
            .verify(&context(pool_id, &record.sub, code_purpose), code, &stored)
        {
            return Err(code_mismatch());
        }
        if record.expires_at <= unix_millis(now) {
            return Err(UserPoolError::ExpiredCode(
                "Invalid code provided, please request a code again.".into(),
            ));
        }
        Ok(record.data)
    }

    /// After a code was used: deletes it and forgets the guesses at that purpose's codes.
    pub(crate) async fn finish_code(
        &self,
        pool_id: &str,
        user: &User,
        code_purpose: &str,
    ) -> Result<(), UserPoolError> {
        self.store()
            .codes()
            .delete(pool_id, &user.sub, code_purpose)
            .await?;
        self.code_accepted(pool_id, &Subject::user(user), code_purpose)
            .await
    }
}

/// Whether sends for this purpose count against the hourly limit: those an unauthenticated
/// caller or a signed-in user can trigger (anyone who can sign up can have verification codes
/// sent to addresses of its choosing). Invitations are the operator's alone.
fn is_limited(purpose: Purpose) -> bool {
    match purpose {
        Purpose::SignUp
        | Purpose::ResendConfirmationCode
        | Purpose::ForgotPassword
        | Purpose::VerifyAttribute
        | Purpose::MfaSignIn => true,
        Purpose::AdminCreateUser => false,
    }
}

/// Cognito's answer to a wrong code.
pub(crate) fn code_mismatch() -> UserPoolError {
    UserPoolError::CodeMismatch("Invalid verification code provided, please try again.".into())
}

/// The code purpose of sign-up confirmation codes.
pub const SIGN_UP_CODE: &str = "sign_up";
/// The code purpose of password-reset codes.
pub const FORGOT_PASSWORD_CODE: &str = "forgot_password";
/// The code purpose verifying an attribute: `verify:email`, `verify:phone_number`.
pub fn verify_code_purpose(attribute: &str) -> String {
    format!("verify:{attribute}")
}
