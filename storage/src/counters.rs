//! Attempt counters: failed passwords, guesses at codes and code sends, per pool, subject and
//! kind, shared by every node. Storage decides nothing about them: a caller reads a counter
//! and says what to write back ([`Counters::update`]) while the row is locked, so concurrent
//! attempts on any node are counted one after the other and none slips past a limit.
//!
//! On SQLite the write transaction's lock serializes updaters; on PostgreSQL a
//! transaction-scoped advisory lock on the key's hash does, which also covers a counter that
//! does not exist yet (two first attempts cannot both insert it).

use crate::db::{Conn, Db, DbRow, args};
use crate::{Backend, EpochMillis, StorageError};

/// Which counter: a pool, a subject (a user's `sub`, or any name the caller counts under)
/// and a kind (`password`, `code:sign_up`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterKey<'a> {
    pub pool_id: &'a str,
    pub subject: &'a str,
    pub kind: &'a str,
}

/// What a counter holds. The caller gives each field its meaning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterState {
    /// Events counted in the current window.
    pub count: i64,
    /// When the current window began.
    pub window_start: EpochMillis,
    /// When the last event was counted.
    pub last_at: EpochMillis,
    /// Until when attempts are refused (0: not locked).
    pub locked_until: EpochMillis,
    /// After this the counter means nothing and may be purged.
    pub expires_at: EpochMillis,
}

/// What [`Counters::update`] writes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterWrite {
    /// Leave the row as it is (or absent).
    Keep,
    /// Store this state.
    Put(CounterState),
    /// Remove the row (the counter starts from nothing).
    Delete,
}

/// Repository of attempt counters.
#[derive(Debug)]
pub struct Counters<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "count, window_start, last_at, locked_until, expires_at";

// === impl Counters ===

impl<'s> Counters<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// The counter as stored (expired or not: the caller knows its clock).
    pub async fn get(&self, key: CounterKey<'_>) -> Result<Option<CounterState>, StorageError> {
        let mut lease = self.db.read().await?;
        select(&mut lease.conn(), key).await
    }

    /// Reads the counter and writes what `decide` returns, in one transaction with the
    /// counter locked; returns what `decide` returned beside the write.
    pub async fn update<R>(
        &self,
        key: CounterKey<'_>,
        decide: impl FnOnce(Option<CounterState>) -> (CounterWrite, R),
    ) -> Result<R, StorageError> {
        let mut tx = self.db.write().await?;
        let outcome = update_in(&mut tx.conn(), self.db.backend(), key, decide).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Removes the counter; returns whether it existed.
    pub async fn delete(&self, key: CounterKey<'_>) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM attempt_counters WHERE pool_id = $1 AND subject = $2 AND kind = $3",
                args![key.pool_id, key.subject, key.kind],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Deletes the counters that expired at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: EpochMillis) -> Result<u64, StorageError> {
        let mut tx = self.db.write().await?;
        let deleted = tx
            .conn()
            .execute(
                "DELETE FROM attempt_counters WHERE expires_at <= $1",
                args![now],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

/// [`Counters::update`] inside a transaction the caller holds (the code repository counts
/// a guess and reads the code in one transaction).
pub(crate) async fn update_in<R>(
    conn: &mut Conn<'_>,
    backend: Backend,
    key: CounterKey<'_>,
    decide: impl FnOnce(Option<CounterState>) -> (CounterWrite, R),
) -> Result<R, StorageError> {
    if backend == Backend::Postgres {
        // Keys are joined with a byte that no pool id or kind contains; a hash collision only
        // makes two counters wait for each other.
        let joined = format!("{}\u{1f}{}\u{1f}{}", key.pool_id, key.kind, key.subject);
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7236))",
            args![joined.as_str()],
        )
        .await?;
    }
    let stored = select(conn, key).await?;
    let (write, outcome) = decide(stored);
    match write {
        CounterWrite::Keep => {}
        CounterWrite::Delete => {
            conn.execute(
                "DELETE FROM attempt_counters WHERE pool_id = $1 AND subject = $2 AND kind = $3",
                args![key.pool_id, key.subject, key.kind],
            )
            .await?;
        }
        CounterWrite::Put(s) => {
            conn.execute(
                format!(
                    "INSERT INTO attempt_counters (pool_id, subject, kind, {COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (pool_id, subject, kind) DO UPDATE SET
                        count = excluded.count, window_start = excluded.window_start,
                        last_at = excluded.last_at, locked_until = excluded.locked_until,
                        expires_at = excluded.expires_at"
                ),
                args![
                    key.pool_id,
                    key.subject,
                    key.kind,
                    s.count,
                    s.window_start,
                    s.last_at,
                    s.locked_until,
                    s.expires_at,
                ],
            )
            .await?;
        }
    }
    Ok(outcome)
}

async fn select(
    conn: &mut Conn<'_>,
    key: CounterKey<'_>,
) -> Result<Option<CounterState>, StorageError> {
    conn.fetch_optional(
        format!(
            "SELECT {COLUMNS} FROM attempt_counters
             WHERE pool_id = $1 AND subject = $2 AND kind = $3"
        ),
        args![key.pool_id, key.subject, key.kind],
        decode,
    )
    .await
}

fn decode(row: &dyn DbRow) -> Result<CounterState, StorageError> {
    Ok(CounterState {
        count: row.int("count")?,
        window_start: row.int("window_start")?,
        last_at: row.int("last_at")?,
        locked_until: row.int("locked_until")?,
        expires_at: row.int("expires_at")?,
    })
}
