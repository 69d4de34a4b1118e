//! One-time codes (sign-up confirmation, attribute verification, password reset): stored
//! as hashes, with an expiry and a budget of attempts spent atomically.

use crate::counters::{CounterKey, CounterState, CounterWrite, update_in};
use crate::db::{Conn, Db, DbRow, args};
use crate::{EpochMillis, StorageError};

/// A stored code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRecord {
    pub pool_id: String,
    pub sub: String,
    /// What the code is for, e.g. `sign_up` or `verify:email`; one live code per purpose.
    pub purpose: String,
    /// The code, hashed by the caller; storage never sees the code itself.
    pub code_hash: Vec<u8>,
    /// Anything the caller needs when the code is used (e.g. the new email it confirms).
    pub data: Option<String>,
    pub expires_at: EpochMillis,
    pub attempts_left: i64,
    pub created_at: EpochMillis,
}

/// The outcome of [`Codes::take_attempt`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeAttempt {
    /// No code for that user and purpose.
    Missing,
    /// The code exists but its attempts are spent.
    Exhausted(CodeRecord),
    /// One attempt was spent; the record shows what is left after it. The caller now
    /// compares hashes and checks `expires_at`.
    Granted(CodeRecord),
}

/// Repository of one-time codes.
#[derive(Debug)]
pub struct Codes<'s> {
    db: &'s Db,
}

const COLUMNS: &str =
    "pool_id, sub, purpose, code_hash, data, expires_at, attempts_left, created_at";

impl<'s> Codes<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Stores the code, replacing any earlier code of the same user and purpose.
    /// [`StorageError::NotFound`] if the user is missing.
    pub async fn put(&self, code: &CodeRecord) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        insert(&mut tx.conn(), code).await?;
        tx.commit().await
    }

    pub async fn get(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> Result<Option<CodeRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        select(&mut lease.conn(), pool_id, sub, purpose).await
    }

    /// Spends one attempt, atomically: two concurrent guesses cannot both use the last one.
    pub async fn take_attempt(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> Result<CodeAttempt, StorageError> {
        let mut tx = self.db.write().await?;
        let outcome = spend(&mut tx.conn(), pool_id, sub, purpose).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Stores `code` (replacing the user's earlier one of that purpose) if the send counter
    /// `sends` allows it: in one transaction, `decide` sees the counter and says what to write
    /// back and whether the send may happen. With `code` = `None` only the counter is
    /// touched (a send to nobody, counted like a real one). Returns whether it was allowed.
    pub async fn put_counted(
        &self,
        code: Option<&CodeRecord>,
        sends: CounterKey<'_>,
        decide: impl FnOnce(Option<CounterState>) -> (CounterWrite, bool),
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let allowed = update_in(&mut conn, self.db.backend(), sends, decide).await?;
        if allowed && let Some(code) = code {
            insert(&mut conn, code).await?;
        }
        tx.commit().await?;
        Ok(allowed)
    }

    /// One guess at a code, counted twice in one transaction: by the counter `guesses` (with
    /// `decide`, which says what to write back and whether the guess may go ahead) and, when
    /// it may and `sub` names a user, by the code's own attempts as [`Codes::take_attempt`]
    /// does. `None` when the counter refused the guess; with `sub` = `None` (nobody to
    /// guess for) an allowed guess finds [`CodeAttempt::Missing`].
    pub async fn guess(
        &self,
        pool_id: &str,
        sub: Option<&str>,
        purpose: &str,
        guesses: CounterKey<'_>,
        decide: impl FnOnce(Option<CounterState>) -> (CounterWrite, bool),
    ) -> Result<Option<CodeAttempt>, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let allowed = update_in(&mut conn, self.db.backend(), guesses, decide).await?;
        let outcome = match (allowed, sub) {
            (false, _) => None,
            (true, None) => Some(CodeAttempt::Missing),
            (true, Some(sub)) => Some(spend(&mut conn, pool_id, sub, purpose).await?),
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Removes the code (after a successful use); returns whether it existed.
    pub async fn delete(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM one_time_codes WHERE pool_id = $1 AND sub = $2 AND purpose = $3",
                args![pool_id, sub, purpose],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Deletes codes that expired at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: EpochMillis) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM one_time_codes WHERE expires_at <= $1",
                args![now],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

/// Inserts or replaces the code of its user and purpose; `NotFound` if the user is missing.
async fn insert(conn: &mut Conn<'_>, code: &CodeRecord) -> Result<(), StorageError> {
    // The join keeps a code from pointing at a user of another pool.
    let inserted = conn
        .execute(
            format!(
                "INSERT INTO one_time_codes ({COLUMNS})
                 SELECT $1, sub, $3, $4, $5, $6, $7, $8 FROM users
                 WHERE pool_id = $1 AND sub = $2
                 ON CONFLICT (sub, purpose) DO UPDATE SET
                    code_hash = excluded.code_hash, data = excluded.data,
                    expires_at = excluded.expires_at, attempts_left = excluded.attempts_left,
                    created_at = excluded.created_at"
            ),
            args![
                &code.pool_id,
                &code.sub,
                &code.purpose,
                &code.code_hash,
                &code.data,
                code.expires_at,
                code.attempts_left,
                code.created_at,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StorageError::not_found(format!("user `{}`", code.sub)));
    }
    Ok(())
}

/// Spends one of the code's attempts, atomically: two concurrent guesses cannot both use the
/// last one.
async fn spend(
    conn: &mut Conn<'_>,
    pool_id: &str,
    sub: &str,
    purpose: &str,
) -> Result<CodeAttempt, StorageError> {
    let granted = conn
        .fetch_optional(
            format!(
                "UPDATE one_time_codes SET attempts_left = attempts_left - 1
                 WHERE pool_id = $1 AND sub = $2 AND purpose = $3 AND attempts_left > 0
                 RETURNING {COLUMNS}"
            ),
            args![pool_id, sub, purpose],
            decode,
        )
        .await?;
    Ok(match granted {
        Some(code) => CodeAttempt::Granted(code),
        None => match select(conn, pool_id, sub, purpose).await? {
            Some(code) => CodeAttempt::Exhausted(code),
            None => CodeAttempt::Missing,
        },
    })
}

async fn select(
    conn: &mut Conn<'_>,
    pool_id: &str,
    sub: &str,
    purpose: &str,
) -> Result<Option<CodeRecord>, StorageError> {
    conn.fetch_optional(
        format!(
            "SELECT {COLUMNS} FROM one_time_codes WHERE pool_id = $1 AND sub = $2 AND purpose = $3"
        ),
        args![pool_id, sub, purpose],
        decode,
    )
    .await
}

fn decode(row: &dyn DbRow) -> Result<CodeRecord, StorageError> {
    Ok(CodeRecord {
        pool_id: row.text("pool_id")?,
        sub: row.text("sub")?,
        purpose: row.text("purpose")?,
        code_hash: row.bytes("code_hash")?,
        data: row.opt_text("data")?,
        expires_at: row.int("expires_at")?,
        attempts_left: row.int("attempts_left")?,
        created_at: row.int("created_at")?,
    })
}
