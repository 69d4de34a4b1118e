//! Users' authentication events, as AdminListUserAuthEvents reports them: every checked
//! password of a sign-in or a password change, passed or failed, and every attempt the
//! lockout (`attempts`) refused unchecked, and the failure that locked the account. Kept for
//! [`AUTH_EVENT_LIFETIME`], in storage, so every node reports the same events.
//!
//! Events are recorded for users only: a name nobody holds has nobody to report to. A
//! failure to record one is logged, never the answer of the sign-in it describes.

use std::time::{Duration, SystemTime};

use gatehouse_storage::AuthEventRecord;
use serde::{Deserialize, Serialize};

use super::pools::{MAX_PAGE, decode_token, encode_token, page_size};
use super::{Page, UserPoolError, UserPools};
use crate::time::{from_unix_millis, unix_millis};

/// How long an event is kept (Cognito keeps a user's event history for 90 days).
pub const AUTH_EVENT_LIFETIME: Duration = Duration::from_secs(90 * 86_400);

/// What the user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthEventKind {
    /// A sign-in's password (InitiateAuth, AdminInitiateAuth).
    SignIn,
    /// ChangePassword's previous password.
    PasswordChange,
}

/// What the password check said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordOutcome {
    /// The password was right.
    Right,
    /// The password was wrong.
    Wrong,
    /// The password was wrong and this failure locked the account.
    WrongAndLocked,
    /// Refused unchecked: the account was locked.
    RefusedWhileLocked,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    /// `EventId`.
    pub id: String,
    /// `EventType`.
    pub kind: AuthEventKind,
    /// When it happened.
    pub at: SystemTime,
    /// The password check.
    pub outcome: PasswordOutcome,
}

impl AuthEvent {
    /// `EventResponse`: Pass for a right password, Fail otherwise.
    pub fn passed(&self) -> bool {
        self.outcome == PasswordOutcome::Right
    }
}

#[derive(Serialize, Deserialize)]
struct Details {
    password: PasswordOutcome,
}

impl AuthEventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "SignIn",
            Self::PasswordChange => "PasswordChange",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "SignIn" => Some(Self::SignIn),
            "PasswordChange" => Some(Self::PasswordChange),
            _ => None,
        }
    }
}

impl UserPools {
    /// Records a checked (or refused) password of the user `sub`; a failure is logged.
    pub(crate) async fn record_auth_event(
        &self,
        pool_id: &str,
        sub: &str,
        kind: AuthEventKind,
        outcome: PasswordOutcome,
        now: SystemTime,
    ) {
        let details = match serde_json::to_string(&Details { password: outcome }) {
            Ok(d) => d,
            Err(error) => {
                tracing::warn!(%error, "auth event not recorded");
                return;
            }
        };
        let record = AuthEventRecord {
            event_id: crate::ids::uuid_v4(),
            pool_id: pool_id.to_owned(),
            sub: sub.to_owned(),
            event_type: kind.as_str().to_owned(),
            response: if outcome == PasswordOutcome::Right {
                "Pass"
            } else {
                "Fail"
            }
            .to_owned(),
            details,
            created_at: unix_millis(now),
            expires_at: unix_millis(now + AUTH_EVENT_LIFETIME),
        };
        if let Err(error) = self.store().auth_events().insert(&record).await {
            tracing::warn!(%error, pool = pool_id, "auth event not recorded");
        }
    }

    /// AdminListUserAuthEvents: the user's events, newest first, `max_results` 1..=60.
    pub async fn admin_list_user_auth_events(
        &self,
        pool_id: &str,
        username: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<Page<AuthEvent>, UserPoolError> {
        let limit = page_size(max_results, MAX_PAGE, "max results")?;
        let pool = self.user_pool(pool_id).await?;
        let user = self.require_user(&pool, username).await?;
        let after = next_token.map(decode_token).transpose()?;
        let page = self
            .store()
            .auth_events()
            .list(&pool.id, &user.sub, limit, after.as_deref())
            .await?;
        let items = page
            .items
            .into_iter()
            .map(|r| {
                let kind = AuthEventKind::parse(&r.event_type)
                    .ok_or_else(|| UserPoolError::internal("stored auth event", &r.event_type))?;
                let details: Details = serde_json::from_str(&r.details)
                    .map_err(|e| UserPoolError::internal("stored auth event", e))?;
                Ok(AuthEvent {
                    id: r.event_id,
                    kind,
                    at: from_unix_millis(r.created_at),
                    outcome: details.password,
                })
            })
            .collect::<Result<_, UserPoolError>>()?;
        Ok(Page {
            items,
            next: page.next.as_deref().map(encode_token),
        })
    }
}
