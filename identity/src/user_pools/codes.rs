//! One-time codes (sign-up confirmation, attribute verification, password reset): generated,
//! stored as an HMAC bound to pool, user and purpose, delivered, and checked with an expiry
//! and an attempt budget spent atomically in storage.

use std::time::{Duration, SystemTime};

use gatehouse_storage::{CodeAttempt, CodeRecord};

use super::types::mask_destination;
use super::{CodeDeliveryDetails, User, UserPool, UserPoolError, UserPools};
use crate::delivery::{Channel, Message, Purpose};
use crate::time::unix_millis;

/// How long a code is valid (Cognito: 24 hours).
pub const CODE_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Wrong guesses allowed per code before a new one must be requested.
pub const CODE_ATTEMPTS: i64 = 5;

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
    /// user's `email` or `phone_number`.
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
        self.store()
            .codes()
            .put(&CodeRecord {
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
            })
            .await?;
        let (subject, body) = self.code_message(pool, channel, &code);
        self.deliver(
            Message {
                pool_id: pool.id.clone(),
                username: user.username.clone(),
                channel,
                destination: destination.clone(),
                purpose,
                subject,
                body,
                code: Some(code),
                temporary_password: None,
            },
            now,
        )
        .await?;
        Ok(CodeDeliveryDetails {
            destination: mask_destination(channel, &destination),
            channel,
            attribute_name: channel.attribute().to_owned(),
        })
    }

    /// Checks a code: spends one attempt, then compares in constant time and checks expiry.
    /// On success the code is deleted and its `data` returned.
    pub async fn check_code(
        &self,
        pool_id: &str,
        sub: &str,
        code_purpose: &str,
        code: &str,
        now: SystemTime,
    ) -> Result<Option<String>, UserPoolError> {
        let record = match self
            .store()
            .codes()
            .take_attempt(pool_id, sub, code_purpose)
            .await?
        {
            CodeAttempt::Missing => {
                return Err(UserPoolError::ExpiredCode(
                    "Invalid code provided, please request a code again.".into(),
                ));
            }
            CodeAttempt::Exhausted(_) => {
                return Err(UserPoolError::LimitExceeded(
                    "Attempt limit exceeded, please try after some time.".into(),
                ));
            }
            CodeAttempt::Granted(record) => record,
        };
        let stored = String::from_utf8_lossy(&record.code_hash);
        if !self
            .inner
            .codes
            .verify(&context(pool_id, sub, code_purpose), code, &stored)
        {
            return Err(UserPoolError::CodeMismatch(
                "Invalid verification code provided, please try again.".into(),
            ));
        }
        if record.expires_at <= unix_millis(now) {
            return Err(UserPoolError::ExpiredCode(
                "Invalid code provided, please request a code again.".into(),
            ));
        }
        self.store()
            .codes()
            .delete(pool_id, sub, code_purpose)
            .await?;
        Ok(record.data)
    }
}

/// The code purpose of sign-up confirmation codes.
pub const SIGN_UP_CODE: &str = "sign_up";
/// The code purpose of password-reset codes.
pub const FORGOT_PASSWORD_CODE: &str = "forgot_password";
/// The code purpose verifying an attribute: `verify:email`, `verify:phone_number`.
pub fn verify_code_purpose(attribute: &str) -> String {
    format!("verify:{attribute}")
}
