//! Delivery of codes and invitations to users: the [`Message`] the service layer composes, the
//! [`Delivery`] trait, and the development [`Outbox`] (one JSON file per message, the format
//! in `serve-contract.md`). The SMTP delivery lives beside it.

mod outbox;
mod smtp;

pub use outbox::Outbox;
pub use smtp::{MAX_CONVERSATIONS, MAX_QUEUED, SMTP_TIMEOUT, Smtp};

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use serde::Serialize;

/// How a message reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Channel {
    /// To the `email` attribute.
    #[serde(rename = "EMAIL")]
    Email,
    /// To the `phone_number` attribute.
    #[serde(rename = "SMS")]
    Sms,
}

impl Channel {
    /// Cognito's name (`EMAIL`, `SMS`), also the `DeliveryMedium` of `CodeDeliveryDetails`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "EMAIL",
            Self::Sms => "SMS",
        }
    }

    /// The user attribute that holds this channel's destination.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "phone_number",
        }
    }
}

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Purpose {
    /// The confirmation code after SignUp.
    SignUp,
    /// A new confirmation code (ResendConfirmationCode).
    ResendConfirmationCode,
    /// A code verifying a changed email or phone number.
    VerifyAttribute,
    /// An invitation with a temporary password (AdminCreateUser).
    AdminCreateUser,
    /// A password-reset code.
    ForgotPassword,
    /// A sign-in code, the second factor of an `EMAIL_OTP` challenge.
    MfaSignIn,
}

/// One message to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The user pool.
    pub pool_id: String,
    /// The user's username.
    pub username: String,
    /// Email or SMS.
    pub channel: Channel,
    /// The email address or phone number.
    pub destination: String,
    /// Why.
    pub purpose: Purpose,
    /// Email subject (empty for SMS).
    pub subject: String,
    /// The text, with the code or temporary password filled in.
    pub body: String,
    /// The code, for code messages (tests and people read it from the outbox).
    pub code: Option<String>,
    /// The temporary password, for invitations.
    pub temporary_password: Option<String>,
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Writing the outbox file failed.
    #[error("cannot write to the outbox: {0}")]
    Io(String),
    /// The delivery settings are wrong (e.g. a bad SMTP URL).
    #[error("invalid delivery configuration: {0}")]
    Config(String),
    /// The transport refused the message.
    #[error("message was not accepted: {0}")]
    Rejected(String),
    /// This delivery cannot send on this channel (e.g. SMS over SMTP).
    #[error("cannot deliver by {0}")]
    UnsupportedChannel(&'static str),
}

/// A way to send messages. Implementations must not block the async runtime.
pub trait Delivery: Send + Sync + std::fmt::Debug {
    /// Sends one message; `now` stamps it.
    fn send(
        &self,
        message: Message,
        now: SystemTime,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + '_>>;
}
