//! Cognito's user import jobs: a job, its single-use upload, its run and its counts.

use crate::db::{Arg, Db, DbRow, args};
use crate::{EpochMillis, Page, StorageError, fetch_limit, into_page};

/// A stored import job (the CSV itself is read apart, by [`ImportJobs::take_csv`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportJobRecord {
    pub job_id: String,
    pub pool_id: String,
    pub job_name: String,
    pub role_arn: String,
    /// Cognito's status name, not interpreted here.
    pub status: String,
    /// Until when the upload URL works.
    pub upload_expires: EpochMillis,
    /// Whether a CSV was uploaded.
    pub uploaded: bool,
    pub imported: i64,
    pub skipped: i64,
    pub failed: i64,
    pub message: Option<String>,
    pub created_at: EpochMillis,
    pub started_at: Option<EpochMillis>,
    pub completed_at: Option<EpochMillis>,
}

/// What [`ImportJobs::create`] writes.
#[derive(Clone, Debug)]
pub struct NewImportJob {
    pub job_id: String,
    pub pool_id: String,
    pub job_name: String,
    pub role_arn: String,
    pub status: String,
    /// SHA-256 (hex) of the upload token, chosen by the caller.
    pub upload_hash: String,
    pub upload_expires: EpochMillis,
    pub created_at: EpochMillis,
}

/// The end of a run.
#[derive(Clone, Debug)]
pub struct ImportJobOutcome {
    pub status: String,
    pub imported: i64,
    pub skipped: i64,
    pub failed: i64,
    pub message: Option<String>,
    pub completed_at: EpochMillis,
}

/// Repository of import jobs.
#[derive(Debug)]
pub struct ImportJobs<'s> {
    db: &'s Db,
}

const COLUMNS: &str = "job_id, pool_id, job_name, role_arn, status, upload_expires,
    csv IS NOT NULL AS uploaded, imported, skipped, failed, message, created_at, started_at,
    completed_at";

fn decode(row: &dyn DbRow) -> Result<ImportJobRecord, StorageError> {
    Ok(ImportJobRecord {
        job_id: row.text("job_id")?,
        pool_id: row.text("pool_id")?,
        job_name: row.text("job_name")?,
        role_arn: row.text("role_arn")?,
        status: row.text("status")?,
        upload_expires: row.int("upload_expires")?,
        uploaded: row.boolean("uploaded")?,
        imported: row.int("imported")?,
        skipped: row.int("skipped")?,
        failed: row.int("failed")?,
        message: row.opt_text("message")?,
        created_at: row.int("created_at")?,
        started_at: row.opt_int("started_at")?,
        completed_at: row.opt_int("completed_at")?,
    })
}

impl<'s> ImportJobs<'s> {
    pub(crate) fn new(db: &'s Db) -> Self {
        Self { db }
    }

    /// [`StorageError::NotFound`] if the pool is missing.
    pub async fn create(&self, job: &NewImportJob) -> Result<ImportJobRecord, StorageError> {
        let mut tx = self.db.write().await?;
        let record = tx
            .conn()
            .fetch_optional(
                format!(
                    "INSERT INTO user_import_jobs (job_id, pool_id, job_name, role_arn, status,
                         upload_hash, upload_expires, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     RETURNING {COLUMNS}"
                ),
                args![
                    &job.job_id,
                    &job.pool_id,
                    &job.job_name,
                    &job.role_arn,
                    &job.status,
                    &job.upload_hash,
                    job.upload_expires,
                    job.created_at,
                ],
                decode,
            )
            .await
            .map_err(|e| e.on_missing(format!("pool `{}`", job.pool_id)))?
            .ok_or_else(|| StorageError::not_found("import job"))?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn get(
        &self,
        pool_id: &str,
        job_id: &str,
    ) -> Result<Option<ImportJobRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                format!(
                    "SELECT {COLUMNS} FROM user_import_jobs WHERE job_id = $1 AND pool_id = $2"
                ),
                args![job_id, pool_id],
                decode,
            )
            .await
    }

    /// The pool's jobs in id order, after the id `after`.
    pub async fn list(
        &self,
        pool_id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<ImportJobRecord>, StorageError> {
        let mut lease = self.db.read().await?;
        let rows = lease
            .conn()
            .fetch_all(
                format!(
                    "SELECT {COLUMNS} FROM user_import_jobs WHERE pool_id = $1 AND job_id > $2
                     ORDER BY job_id LIMIT $3"
                ),
                args![pool_id, after.unwrap_or(""), fetch_limit(limit)],
                decode,
            )
            .await?;
        Ok(into_page(rows, limit, |job| job.job_id.clone()))
    }

    /// Stores the CSV of the job whose upload token hashes to `upload_hash`, once: the token
    /// is spent in the same statement. `Ok(false)` when no job waits for this token (unknown,
    /// spent, expired at `now`, or the job has moved on).
    pub async fn upload(
        &self,
        job_id: &str,
        upload_hash: &str,
        csv: &[u8],
        created_status: &str,
        now: EpochMillis,
    ) -> Result<bool, StorageError> {
        let mut tx = self.db.write().await?;
        let changed = tx
            .conn()
            .execute(
                "UPDATE user_import_jobs SET csv = $3, upload_hash = ''
                 WHERE job_id = $1 AND upload_hash = $2 AND upload_hash <> ''
                   AND status = $4 AND upload_expires > $5",
                args![job_id, upload_hash, csv, created_status, now],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Moves the job from `from` to `to` (recording the start) and hands out its CSV, in one
    /// transaction: two nodes starting one job cannot both run it. `None` when the job is
    /// not in `from` or has no CSV.
    pub async fn take_csv(
        &self,
        pool_id: &str,
        job_id: &str,
        from: &str,
        to: &str,
        now: EpochMillis,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let mut tx = self.db.write().await?;
        // One statement: on PostgreSQL a second node's UPDATE waits for the first to commit,
        // then finds the job no longer in `from` and hands out nothing.
        let csv = tx
            .conn()
            .fetch_optional(
                "UPDATE user_import_jobs SET status = $4, started_at = $5
                 WHERE job_id = $1 AND pool_id = $2 AND status = $3 AND csv IS NOT NULL
                 RETURNING csv",
                args![job_id, pool_id, from, to, now],
                |row: &dyn DbRow| row.bytes("csv"),
            )
            .await?;
        tx.commit().await?;
        Ok(csv)
    }

    /// Moves the job from one of `from` to `to` (StopUserImportJob); a job that had not run
    /// yet loses its upload URL and its file with it. `false` (and nothing changed) when its
    /// status is none of `from`. One statement: on PostgreSQL a start committed meanwhile by
    /// another node is seen (the row is read again after its lock), so a job is never both
    /// started and stopped as if it had not run.
    pub async fn stop(
        &self,
        pool_id: &str,
        job_id: &str,
        from: &[&str],
        to: &str,
        now: EpochMillis,
    ) -> Result<bool, StorageError> {
        if from.is_empty() {
            return Ok(false);
        }
        let placeholders: Vec<String> = (0..from.len()).map(|n| format!("${}", n + 5)).collect();
        let sql = format!(
            "UPDATE user_import_jobs SET status = $3, upload_hash = '',
                csv = CASE WHEN started_at IS NULL THEN NULL ELSE csv END,
                completed_at = CASE WHEN started_at IS NULL THEN $4 ELSE completed_at END
             WHERE job_id = $1 AND pool_id = $2 AND status IN ({})",
            placeholders.join(", ")
        );
        let mut binds: Vec<Arg<'_>> = vec![job_id.into(), pool_id.into(), to.into(), now.into()];
        binds.extend(from.iter().map(|s| Arg::from(*s)));
        let mut tx = self.db.write().await?;
        let changed = tx.conn().execute(sql, &binds).await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// The job's status now (a running import reads it to notice a stop).
    pub async fn status(
        &self,
        pool_id: &str,
        job_id: &str,
    ) -> Result<Option<String>, StorageError> {
        let mut lease = self.db.read().await?;
        lease
            .conn()
            .fetch_optional(
                "SELECT status FROM user_import_jobs WHERE job_id = $1 AND pool_id = $2",
                args![job_id, pool_id],
                |row: &dyn DbRow| row.text("status"),
            )
            .await
    }

    /// Records how a run ended and drops the CSV.
    pub async fn finish(
        &self,
        pool_id: &str,
        job_id: &str,
        outcome: &ImportJobOutcome,
    ) -> Result<(), StorageError> {
        let mut tx = self.db.write().await?;
        tx.conn()
            .execute(
                "UPDATE user_import_jobs SET status = $3, imported = $4, skipped = $5,
                        failed = $6, message = $7, completed_at = $8, csv = NULL
                 WHERE job_id = $1 AND pool_id = $2",
                args![
                    job_id,
                    pool_id,
                    &outcome.status,
                    outcome.imported,
                    outcome.skipped,
                    outcome.failed,
                    &outcome.message,
                    outcome.completed_at,
                ],
            )
            .await?;
        tx.commit().await
    }
}
