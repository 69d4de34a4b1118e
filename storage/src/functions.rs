//! Functions registered through the operator API: a Lambda function ARN, the HTTP endpoint its
//! events are POSTed to, the time limit of a call and the signing secret (sealed by the
//! caller); plus the change counter (`functions_version`) every write moves in its own
//! transaction, so nodes holding the registry in memory know when to reload it.

use crate::db::{Conn, Db, DbRow, args};
use crate::{EpochMillis, StorageError};

/// A stored function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionRecord {
    /// The function ARN as the identity crate normalised it.
    pub arn: String,
    pub url: String,
    pub timeout_ms: i64,
    /// The HMAC signing secret, sealed with the master key.
    pub secret: Vec<u8>,
    pub created_at: EpochMillis,
    pub updated_at: EpochMillis,
}

/// What [`Functions::put`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionPut {
    /// A new function was stored.
    Created,
    /// The function existed; its endpoint, time limit and secret were replaced (its creation
    /// time kept).
    Replaced,
    /// A new function would have made more than the limit the caller gave: nothing written.
    TooMany,
}

/// Every stored function, read at one `version`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionsSnapshot {
    pub version: i64,
    pub functions: Vec<FunctionRecord>,
}

/// Repository of registered functions.
#[derive(Debug)]
pub struct Functions<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "arn, url, timeout_ms, secret, created_at, updated_at";

/// Reads of a snapshot before giving up on writers that keep moving the counter.
const SNAPSHOT_ATTEMPTS: usize = 5;

impl<'s> Functions<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// Stores `record` (creating it, or replacing the endpoint, time limit and secret of the
    /// function with its ARN), unless that would make more than `max` functions.
    pub async fn put(
        &self,
        record: &FunctionRecord,
        max: i64,
    ) -> Result<FunctionPut, StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let exists = conn
            .fetch_optional(
                "SELECT arn FROM functions WHERE arn = $1",
                args![&record.arn],
                |row: &dyn DbRow| row.text("arn"),
            )
            .await?
            .is_some();
        if exists {
            conn.execute(
                "UPDATE functions SET url = $2, timeout_ms = $3, secret = $4, updated_at = $5
                 WHERE arn = $1",
                args![
                    &record.arn,
                    &record.url,
                    record.timeout_ms,
                    &record.secret,
                    record.updated_at,
                ],
            )
            .await?;
        } else {
            let count = conn
                .fetch_optional(
                    "SELECT COUNT(*) AS n FROM functions",
                    args![],
                    |row: &dyn DbRow| row.int("n"),
                )
                .await?
                .unwrap_or(0);
            if count >= max {
                return Ok(FunctionPut::TooMany);
            }
            conn.execute(
                "INSERT INTO functions (arn, url, timeout_ms, secret, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                args![
                    &record.arn,
                    &record.url,
                    record.timeout_ms,
                    &record.secret,
                    record.created_at,
                    record.updated_at,
                ],
            )
            .await
            .map_err(|e| e.on_conflict(format!("function `{}`", record.arn)))?;
        }
        bump(&mut conn).await?;
        tx.commit().await?;
        Ok(if exists {
            FunctionPut::Replaced
        } else {
            FunctionPut::Created
        })
    }

    pub async fn get(&self, arn: &str) -> Result<Option<FunctionRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!("SELECT {COLUMNS} FROM functions WHERE arn = $1"),
                args![arn],
                decode,
            )
            .await
    }

    /// Removes the function; [`StorageError::NotFound`] if there is none with that ARN.
    pub async fn delete(&self, arn: &str) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        let mut conn = tx.conn();
        let deleted = conn
            .execute("DELETE FROM functions WHERE arn = $1", args![arn])
            .await?;
        if deleted == 0 {
            return Err(StorageError::not_found(format!("function `{arn}`")));
        }
        bump(&mut conn).await?;
        tx.commit().await
    }

    /// The change counter: it moves with every write.
    pub async fn version(&self) -> Result<i64, StorageError> {
        let mut lease = self.db.read().await?;
        version(&mut lease.conn()).await
    }

    /// Every function (ordered by ARN) and the counter they were read at: the rows are read
    /// between two reads of the counter, again when a write came between them.
    pub async fn snapshot(&self) -> Result<FunctionsSnapshot, StorageError> {
        for _ in 0..SNAPSHOT_ATTEMPTS {
            let mut lease = self.db.read().await?;
            let mut conn = lease.conn();
            let before = version(&mut conn).await?;
            let functions = conn
                .fetch_all(
                    format!("SELECT {COLUMNS} FROM functions ORDER BY arn"),
                    args![],
                    decode,
                )
                .await?;
            if version(&mut conn).await? == before {
                return Ok(FunctionsSnapshot {
                    version: before,
                    functions,
                });
            }
        }
        Err(StorageError::Busy)
    }
}

async fn version(conn: &mut Conn<'_>) -> Result<i64, StorageError> {
    conn.fetch_optional(
        "SELECT version FROM functions_version WHERE id = 1",
        args![],
        |row| row.int("version"),
    )
    .await?
    .ok_or_else(|| StorageError::corrupt("functions_version has no row"))
}

/// Moves the change counter on, inside the writer's transaction.
async fn bump(conn: &mut Conn<'_>) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE functions_version SET version = version + 1 WHERE id = 1",
        args![],
    )
    .await?;
    Ok(())
}

fn decode(row: &dyn DbRow) -> Result<FunctionRecord, StorageError> {
    Ok(FunctionRecord {
        arn: row.text("arn")?,
        url: row.text("url")?,
        timeout_ms: row.int("timeout_ms")?,
        secret: row.bytes("secret")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
