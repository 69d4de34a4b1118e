//! The message triggers, run before a code or an invitation goes out:
//!
//! - CustomEmailSender / CustomSMSSender: the function sends the message itself; gatehouse hands
//!   it the code (or temporary password) sealed and sends nothing (see [`seal_code`]);
//! - CustomMessage: the function rewrites the message (`emailSubject`, `emailMessage`,
//!   `smsMessage`); a message that lacks the code placeholder (or, for an invitation, the
//!   username placeholder) is not used and the pool's own message goes out, as Cognito does.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{TriggerEvent, TriggerKind, response_text, user_attributes_json};
use crate::crypto::random_bytes;
use crate::delivery::{Channel, Message, Purpose};
use crate::user_pools::{User, UserPool, UserPoolError, UserPools};

/// `request.codeParameter`: where the function puts the code.
pub const CODE_PARAMETER: &str = "{####}";
/// `request.usernameParameter` of invitations: where the function puts the username.
pub const USERNAME_PARAMETER: &str = "{username}";
/// `request.linkParameter`: where a link-confirmation message puts its link.
pub const LINK_PARAMETER: &str = "{##Click Here##}";
/// Longest `emailMessage` used (Cognito's limit on the email message).
pub const MAX_EMAIL_MESSAGE: usize = 20_000;
/// Longest `emailSubject` used (Cognito's limit).
pub const MAX_EMAIL_SUBJECT: usize = 140;
/// Longest `smsMessage` used (Cognito's limit).
pub const MAX_SMS_MESSAGE: usize = 140;
/// What the key that seals codes for a sender trigger is derived with, from the function's
/// signing secret (docs/functions.md shows the endpoint's side).
pub const CODE_KEY_LABEL: &[u8] = b"gatehouse custom sender code v1";

/// Why a message goes out: the end of its `triggerSource` (`CustomMessage_SignUp`,
/// `CustomEmailSender_SignUp`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageSource {
    SignUp,
    AdminCreateUser,
    ResendCode,
    ForgotPassword,
    /// A code sent because UpdateUserAttributes changed an email or phone number.
    UpdateUserAttribute,
    /// A code the user asked for (GetUserAttributeVerificationCode).
    VerifyUserAttribute,
    /// A sign-in code (the `EMAIL_OTP` factor).
    Authentication,
}

impl MessageSource {
    /// The source of a message sent for `purpose` (attribute codes: the one the user asked
    /// for; UpdateUserAttributes says so itself).
    pub fn of(purpose: Purpose) -> Self {
        match purpose {
            Purpose::SignUp => Self::SignUp,
            Purpose::ResendConfirmationCode => Self::ResendCode,
            Purpose::VerifyAttribute => Self::VerifyUserAttribute,
            Purpose::AdminCreateUser => Self::AdminCreateUser,
            Purpose::ForgotPassword => Self::ForgotPassword,
            Purpose::MfaSignIn => Self::Authentication,
        }
    }

    /// The `triggerSource` suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::SignUp => "SignUp",
            Self::AdminCreateUser => "AdminCreateUser",
            Self::ResendCode => "ResendCode",
            Self::ForgotPassword => "ForgotPassword",
            Self::UpdateUserAttribute => "UpdateUserAttribute",
            Self::VerifyUserAttribute => "VerifyUserAttribute",
            Self::Authentication => "Authentication",
        }
    }
}

/// Seals `code` for the sender trigger whose signing secret is `secret`: AES-256-GCM under
/// `HMAC-SHA256(secret, CODE_KEY_LABEL)`, a random 96-bit nonce, no additional data; the
/// result is base64 of nonce, ciphertext and tag. Only gatehouse and the endpoint know the
/// secret, so only they can open it; it travels inside a signed call.
pub fn seal_code(secret: &str, code: &str) -> Result<String, UserPoolError> {
    let key = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        CODE_KEY_LABEL,
    );
    let key = UnboundKey::new(&AES_256_GCM, key.as_ref())
        .map(LessSafeKey::new)
        .map_err(|_| UserPoolError::internal("sealing a code", "bad key length"))?;
    let nonce: [u8; NONCE_LEN] = random_bytes();
    let mut sealed = code.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::empty(),
        &mut sealed,
    )
    .map_err(|_| UserPoolError::internal("sealing a code", "seal failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

impl UserPools {
    /// Runs the pool's message triggers for `message` to `user`: `Ok(None)` when a sender
    /// trigger took the message (gatehouse sends nothing), else the message to send,
    /// rewritten by CustomMessage when the pool has one.
    pub(crate) async fn message_triggers(
        &self,
        pool: &UserPool,
        user: &User,
        source: MessageSource,
        mut message: Message,
    ) -> Result<Option<Message>, UserPoolError> {
        let triggers = pool.config.triggers()?;
        let secret = message
            .code
            .clone()
            .or_else(|| message.temporary_password.clone())
            .unwrap_or_default();
        let sender = match message.channel {
            Channel::Email => triggers.custom_email_sender.as_deref().map(|arn| {
                (
                    TriggerKind::CustomEmailSender,
                    arn,
                    "customEmailSenderRequestV1",
                )
            }),
            Channel::Sms => triggers.custom_sms_sender.as_deref().map(|arn| {
                (
                    TriggerKind::CustomSmsSender,
                    arn,
                    "customSMSSenderRequestV1",
                )
            }),
        };
        if let Some((kind, arn, request_type)) = sender {
            let signing = self
                .functions()
                .and_then(|f| f.signing_secret(arn))
                .ok_or_else(|| {
                    super::trigger_error(
                        kind,
                        &crate::functions::FunctionError::NotRegistered {
                            arn: arn.to_owned(),
                        },
                    )
                })?;
            let request = json!({
                "type": request_type,
                "code": seal_code(signing.expose(), &secret)?,
                "clientMetadata": Value::Null,
                "userAttributes": user_attributes_json(user),
            });
            let event = TriggerEvent::new(
                format!("{}_{}", kind.name(), source.suffix()),
                user.username.as_str(),
                None,
                request,
            );
            self.invoke_trigger(pool, kind, arn, &event).await?;
            return Ok(None);
        }
        let Some(arn) = triggers.custom_message.as_deref() else {
            return Ok(Some(message));
        };
        let invitation = source == MessageSource::AdminCreateUser;
        let request = json!({
            "userAttributes": user_attributes_json(user),
            "codeParameter": CODE_PARAMETER,
            "linkParameter": LINK_PARAMETER,
            "usernameParameter": if invitation { Value::from(USERNAME_PARAMETER) } else { Value::Null },
            "clientMetadata": Value::Null,
        });
        let event = TriggerEvent::new(
            format!("CustomMessage_{}", source.suffix()),
            user.username.as_str(),
            None,
            request,
        )
        .with_response(json!({"smsMessage": null, "emailMessage": null, "emailSubject": null}));
        let response = self
            .invoke_trigger(pool, TriggerKind::CustomMessage, arn, &event)
            .await?;
        let shown_username = shown_username(pool, user);
        let fill = |text: &str| {
            text.replace(CODE_PARAMETER, &secret)
                .replace(USERNAME_PARAMETER, shown_username)
        };
        // A message must carry the code (an invitation also the username), within Cognito's
        // length limit; one that does not is not used and the pool's own message goes out.
        let usable = |text: &str, limit: usize| {
            text.contains(CODE_PARAMETER)
                && (!invitation || text.contains(USERNAME_PARAMETER))
                && text.chars().count() <= limit
        };
        match message.channel {
            Channel::Email => {
                if let Some(subject) = response_text(&response, "emailSubject")?
                    && !subject.is_empty()
                    && subject.chars().count() <= MAX_EMAIL_SUBJECT
                {
                    message.subject = subject.to_owned();
                }
                if let Some(body) = response_text(&response, "emailMessage")? {
                    if usable(body, MAX_EMAIL_MESSAGE) {
                        message.body = fill(body);
                    } else {
                        tracing::warn!(
                            pool = %pool.id,
                            "CustomMessage answered an emailMessage without the code placeholder (or over the length limit); the pool's message is sent"
                        );
                    }
                }
            }
            Channel::Sms => {
                if let Some(body) = response_text(&response, "smsMessage")? {
                    if usable(body, MAX_SMS_MESSAGE) {
                        message.body = fill(body);
                    } else {
                        tracing::warn!(
                            pool = %pool.id,
                            "CustomMessage answered an smsMessage without the code placeholder (or over the length limit); the pool's message is sent"
                        );
                    }
                }
            }
        }
        Ok(Some(message))
    }
}

/// The name an invitation shows: in pools whose usernames are an email or phone number, the
/// one the user signs in with.
pub(crate) fn shown_username<'a>(pool: &UserPool, user: &'a User) -> &'a str {
    if pool.config.uses_username_attributes() {
        user.attribute("email")
            .or_else(|| user.attribute("phone_number"))
            .unwrap_or(&user.username)
    } else {
        &user.username
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The endpoint's side, as docs/functions.md describes it: derive the key, split nonce
    /// and ciphertext, open.
    #[test]
    fn a_sealed_code_opens_with_the_signing_secret_only() {
        let sealed = seal_code("the-signing-secret-0123", "123456").unwrap();
        let open = |secret: &str| {
            let raw = STANDARD.decode(&sealed).unwrap();
            let key = hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
                CODE_KEY_LABEL,
            );
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key.as_ref()).unwrap());
            let (nonce, rest) = raw.split_at(NONCE_LEN);
            let mut rest = rest.to_vec();
            key.open_in_place(
                Nonce::try_assume_unique_for_key(nonce).unwrap(),
                Aad::empty(),
                &mut rest,
            )
            .map(|plain| String::from_utf8(plain.to_vec()).unwrap())
        };
        assert_eq!(open("the-signing-secret-0123").unwrap(), "123456");
        assert!(open("another-secret-0123456").is_err());
        assert!(!sealed.contains("123456"));
        assert_ne!(
            sealed,
            seal_code("the-signing-secret-0123", "123456").unwrap(),
            "a new nonce each time"
        );
    }
}
