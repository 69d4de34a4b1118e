//! Authentication events of users (sign-ins that passed or failed, attempts the lockout
//! refused), newest first, for AdminListUserAuthEvents. Storage keeps what it is given: the
//! kind, the outcome and a JSON document of details it does not read.

use crate::db::{Db, DbRow, args};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthEventRecord {
    /// Unique (a UUID chosen by the caller).
    pub event_id: String,
    pub pool_id: String,
    pub sub: String,
    /// `SignIn`, `PasswordChange`, … (not interpreted here).
    pub event_type: String,
    /// `Pass`, `Fail`, … (not interpreted here).
    pub response: String,
    /// JSON the caller reads back.
    pub details: String,
    pub created_at: EpochMillis,
    /// Purged after this.
    pub expires_at: EpochMillis,
}

/// Repository of auth events.
#[derive(Debug)]
pub struct AuthEvents<'s> {
    db: &'s Db,
}

const COLUMNS: &str =
    "event_id, pool_id, sub, event_type, response, details, created_at, expires_at";

impl<'s> AuthEvents<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Stores an event of an existing user ([`StorageError::NotFound`] if the user is gone).
    pub async fn insert(&self, event: &AuthEventRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                format!(
                    "INSERT INTO user_auth_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                args![
                    &event.event_id,
                    &event.pool_id,
                    &event.sub,
                    &event.event_type,
                    &event.response,
                    &event.details,
                    event.created_at,
                    event.expires_at,
                ],
            )
            .await
            .map_err(|e| {
                e.on_conflict(format!("auth event `{}`", event.event_id))
                    .on_missing(format!("user `{}`", event.sub))
            })?;
        tx.commit().await
    }

    /// The user's events, newest first, `limit` at a time, after the page key `after` (the
    /// `next` of the previous page).
    pub async fn list(
        &self,
        pool_id: &str,
        sub: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<AuthEventRecord>, StorageError> {
        let cursor = after.map(parse_cursor).transpose()?;
        let (before_at, before_id) = cursor.unwrap_or((i64::MAX, String::new()));
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM user_auth_events
                     WHERE sub = $1 AND pool_id = $2
                       AND (created_at < $3 OR (created_at = $3 AND event_id < $4) OR $5)
                     ORDER BY created_at DESC, event_id DESC LIMIT $6"
                ),
                args![
                    sub,
                    pool_id,
                    before_at,
                    &before_id,
                    after.is_none(),
                    fetch_limit(limit)
                ],
                decode,
            )
            .await?;
        Ok(into_page(rows, limit, |e| {
            format!("{}:{}", e.created_at, e.event_id)
        }))
    }

    /// Deletes events that expired at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: EpochMillis) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM user_auth_events WHERE expires_at <= $1",
                args![now],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

fn parse_cursor(token: &str) -> Result<(EpochMillis, String), StorageError> {
    let invalid = || StorageError::invalid("pagination token");
    let (at, id) = token.split_once(':').ok_or_else(invalid)?;
    Ok((at.parse().map_err(|_| invalid())?, id.to_owned()))
}

fn decode(row: &dyn DbRow) -> Result<AuthEventRecord, StorageError> {
    Ok(AuthEventRecord {
        event_id: row.text("event_id")?,
        pool_id: row.text("pool_id")?,
        sub: row.text("sub")?,
        event_type: row.text("event_type")?,
        response: row.text("response")?,
        details: row.text("details")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
    })
}
