//! Cognito's user import from CSV: GetCSVHeader, CreateUserImportJob (which hands out a
//! single-use upload URL served by this service), StartUserImportJob, StopUserImportJob,
//! DescribeUserImportJob, ListUserImportJobs. Users arrive in `RESET_REQUIRED` without a password, as in Cognito: their
//! first sign-in asks for a password reset.
//!
//! The upload URL's token is 256 random bits; storage keeps its SHA-256 and spends it with the
//! upload, so the URL works once, for its job only, until it expires.

use std::collections::BTreeMap;

use gatehouse_storage::{ImportJobOutcome, ImportJobRecord, NewImportJob, NewUser, StorageError};

use super::attributes::stored_attributes;
use super::{UserPoolError, UserPools, UserStatus};
use crate::crypto::{hash_token, hex_lower, random_bytes};
use crate::time::{from_unix_millis, unix_millis};

/// Cognito's standard columns, in GetCSVHeader's order; the pool's custom attributes follow.
pub const CSV_STANDARD_COLUMNS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "cognito:mfa_enabled",
    "cognito:username",
];
/// Largest CSV accepted by one job (the identity listener's body limit); split larger imports.
pub const MAX_CSV_BYTES: usize = 1024 * 1024;
/// How long a job's upload URL works.
pub const UPLOAD_URL_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// The path the upload URLs live under, on the identity listener.
pub const UPLOAD_PATH: &str = "/user-import";

/// Cognito's job statuses used here.
const CREATED: &str = "Created";
const IN_PROGRESS: &str = "InProgress";
const SUCCEEDED: &str = "Succeeded";
const FAILED: &str = "Failed";
const EXPIRED: &str = "Expired";
const PENDING: &str = "Pending";
const STOPPING: &str = "Stopping";
const STOPPED: &str = "Stopped";
/// A running job reads its status (to notice a stop) before every this many rows.
const STOP_CHECK_ROWS: usize = 20;

/// An import job as Cognito's `UserImportJobType` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportJob {
    pub job_id: String,
    pub job_name: String,
    pub pool_id: String,
    /// Empty once the CSV was uploaded or the URL expired.
    pub pre_signed_url: String,
    pub role_arn: String,
    pub status: String,
    pub created_at: std::time::SystemTime,
    pub started_at: Option<std::time::SystemTime>,
    pub completed_at: Option<std::time::SystemTime>,
    pub imported: i64,
    pub skipped: i64,
    pub failed: i64,
    pub message: Option<String>,
}

/// Why an upload was refused (the upload URL answers these, not Cognito's errors).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload URL is unknown, used or expired")]
    Denied,
    #[error("the file is larger than {MAX_CSV_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Service(#[from] UserPoolError),
}

// === impl UserPools ===

impl UserPools {
    /// GetCSVHeader: the columns of the pool's import file.
    pub async fn csv_header(&self, pool_id: &str) -> Result<Vec<String>, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let mut columns: Vec<String> = CSV_STANDARD_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .collect();
        columns.extend(
            pool.config
                .schema
                .iter()
                .filter(|a| a.name.starts_with("custom:"))
                .map(|a| a.name.clone()),
        );
        Ok(columns)
    }

    /// CreateUserImportJob: a job in `Created` and the URL its CSV is PUT to.
    pub async fn create_import_job(
        &self,
        pool_id: &str,
        job_name: &str,
        role_arn: &str,
    ) -> Result<ImportJob, UserPoolError> {
        let name_ok = (1..=128).contains(&job_name.chars().count())
            && job_name.chars().all(|c| !c.is_control());
        if !name_ok {
            return Err(UserPoolError::invalid(
                "job name must be 1 to 128 printable characters",
            ));
        }
        if !role_arn.starts_with("arn:") || role_arn.len() > 2048 {
            return Err(UserPoolError::invalid(
                "CloudWatchLogsRoleArn must be an IAM role ARN",
            ));
        }
        self.user_pool(pool_id).await?;
        let now = unix_millis(self.now());
        let job_id = format!("import-{}", &hex_lower(&random_bytes::<8>())[..10]);
        let token = hex_lower(&random_bytes::<32>());
        let record = self
            .store()
            .import_jobs()
            .create(&NewImportJob {
                job_id: job_id.clone(),
                pool_id: pool_id.to_owned(),
                job_name: job_name.to_owned(),
                role_arn: role_arn.to_owned(),
                status: CREATED.into(),
                upload_hash: hash_token(&token),
                upload_expires: now.saturating_add(UPLOAD_URL_LIFETIME_MS),
                created_at: now,
            })
            .await?;
        let url = format!(
            "{}{UPLOAD_PATH}/{job_id}?token={token}",
            self.config().public_url
        );
        Ok(self.import_job(record, Some(url)))
    }

    /// The PUT to a job's upload URL.
    pub async fn upload_import_csv(
        &self,
        job_id: &str,
        token: &str,
        csv: &[u8],
    ) -> Result<(), UploadError> {
        if csv.len() > MAX_CSV_BYTES {
            return Err(UploadError::TooLarge);
        }
        let now = unix_millis(self.now());
        let stored = self
            .store()
            .import_jobs()
            .upload(job_id, &hash_token(token), csv, CREATED, now)
            .await
            .map_err(UserPoolError::from)?;
        if stored {
            Ok(())
        } else {
            Err(UploadError::Denied)
        }
    }

    /// DescribeUserImportJob.
    pub async fn describe_import_job(
        &self,
        pool_id: &str,
        job_id: &str,
    ) -> Result<ImportJob, UserPoolError> {
        let (_, record) = self.pool_and_job(pool_id, job_id).await?;
        Ok(self.import_job(record, None))
    }

    /// ListUserImportJobs: `max_results` 1..=60, in job id order.
    pub async fn list_import_jobs(
        &self,
        pool_id: &str,
        max_results: u32,
        after: Option<&str>,
    ) -> Result<(Vec<ImportJob>, Option<String>), UserPoolError> {
        if !(1..=60).contains(&max_results) {
            return Err(UserPoolError::invalid(
                "max results must be between 1 and 60",
            ));
        }
        self.user_pool(pool_id).await?;
        let page = self
            .store()
            .import_jobs()
            .list(pool_id, max_results, after)
            .await?;
        let jobs = page
            .items
            .into_iter()
            .map(|r| self.import_job(r, None))
            .collect();
        Ok((jobs, page.next))
    }

    /// StartUserImportJob: runs the job (the CSV is small; see [`MAX_CSV_BYTES`]) and returns
    /// it finished. A job without an uploaded CSV, or already run, is `PreconditionNotMet`.
    pub async fn start_import_job(
        &self,
        pool_id: &str,
        job_id: &str,
    ) -> Result<ImportJob, UserPoolError> {
        let (pool, existing) = self.pool_and_job(pool_id, job_id).await?;
        let jobs = self.store().import_jobs();
        let now = unix_millis(self.now());
        let Some(csv) = jobs
            .take_csv(pool_id, job_id, CREATED, IN_PROGRESS, now)
            .await?
        else {
            return Err(UserPoolError::PreconditionNotMet(format!(
                "job {job_id} is {} and {}",
                existing.status,
                if existing.uploaded {
                    "was uploaded"
                } else {
                    "has no uploaded file"
                }
            )));
        };
        let outcome = match parse_csv(&csv) {
            Err(message) => ImportJobOutcome {
                status: FAILED.into(),
                imported: 0,
                skipped: 0,
                failed: 0,
                message: Some(message),
                completed_at: unix_millis(self.now()),
            },
            Ok(rows) => self.import_rows(&pool, job_id, rows).await,
        };
        jobs.finish(pool_id, job_id, &outcome).await?;
        self.describe_import_job(pool_id, job_id).await
    }

    /// StopUserImportJob: a job that has not run stops at once (`Stopped`; its upload URL and
    /// file are dropped, so it never runs); a running one is marked `Stopping` and its runner
    /// stops within [`STOP_CHECK_ROWS`] rows (`Stopped`, the rows not reached counted as
    /// skipped). A finished job is `PreconditionNotMet`.
    pub async fn stop_import_job(
        &self,
        pool_id: &str,
        job_id: &str,
    ) -> Result<ImportJob, UserPoolError> {
        let (_, existing) = self.pool_and_job(pool_id, job_id).await?;
        let jobs = self.store().import_jobs();
        let now = unix_millis(self.now());
        let stopped = jobs
            .stop(pool_id, job_id, &[CREATED, PENDING], STOPPED, now)
            .await?
            || jobs
                .stop(pool_id, job_id, &[IN_PROGRESS], STOPPING, now)
                .await?;
        if !stopped {
            let status = jobs
                .status(pool_id, job_id)
                .await?
                .unwrap_or(existing.status);
            return Err(UserPoolError::PreconditionNotMet(format!(
                "job {job_id} is {status} and cannot be stopped"
            )));
        }
        self.describe_import_job(pool_id, job_id).await
    }

    async fn import_rows(
        &self,
        pool: &super::UserPool,
        job_id: &str,
        rows: Vec<BTreeMap<String, String>>,
    ) -> ImportJobOutcome {
        let known = self.csv_header(&pool.id).await.unwrap_or_default();
        let (mut imported, mut failed) = (0i64, 0i64);
        let mut first_problem: Option<String> = None;
        let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        for (n, row) in rows.into_iter().enumerate() {
            if n % STOP_CHECK_ROWS == 0 && self.stop_asked(&pool.id, job_id).await {
                let done = imported.saturating_add(failed);
                return ImportJobOutcome {
                    status: STOPPED.into(),
                    imported,
                    skipped: total.saturating_sub(done),
                    failed,
                    message: Some(format!("Import Job Stopped after {done} of {total} users.")),
                    completed_at: unix_millis(self.now()),
                };
            }
            match self.import_row(pool, &known, row).await {
                Ok(()) => imported += 1,
                Err(e) => {
                    failed += 1;
                    first_problem.get_or_insert_with(|| format!("row {}: {e}", n + 2));
                }
            }
        }
        let message = match &first_problem {
            None => "Import Job Completed Successfully.".to_owned(),
            Some(problem) => {
                format!("Import Job Completed with {failed} failed users; first: {problem}")
            }
        };
        ImportJobOutcome {
            status: SUCCEEDED.into(),
            imported,
            skipped: 0,
            failed,
            message: Some(message),
            completed_at: unix_millis(self.now()),
        }
    }

    /// The pool and one of its jobs, or `ResourceNotFound` for either.
    async fn pool_and_job(
        &self,
        pool_id: &str,
        job_id: &str,
    ) -> Result<(super::UserPool, ImportJobRecord), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let record = self
            .store()
            .import_jobs()
            .get(pool_id, job_id)
            .await?
            .ok_or_else(|| job_not_found(job_id))?;
        Ok((pool, record))
    }

    /// Whether StopUserImportJob asked the running job to stop (a failed read: not asked).
    async fn stop_asked(&self, pool_id: &str, job_id: &str) -> bool {
        matches!(
            self.store().import_jobs().status(pool_id, job_id).await,
            Ok(Some(status)) if status == STOPPING
        )
    }

    async fn import_row(
        &self,
        pool: &super::UserPool,
        known: &[String],
        row: BTreeMap<String, String>,
    ) -> Result<(), UserPoolError> {
        if let Some(unknown) = row.keys().find(|k| !known.contains(k)) {
            return Err(UserPoolError::invalid(format!(
                "unknown column `{unknown}`"
            )));
        }
        let username = row
            .get("cognito:username")
            .map(String::as_str)
            .unwrap_or("");
        if username.is_empty() {
            return Err(UserPoolError::invalid("cognito:username is empty"));
        }
        for flag in [
            "email_verified",
            "phone_number_verified",
            "cognito:mfa_enabled",
        ] {
            let value = row
                .get(flag)
                .map(|v| v.to_ascii_lowercase())
                .unwrap_or_default();
            if !matches!(value.as_str(), "" | "true" | "false") {
                return Err(UserPoolError::invalid(format!(
                    "{flag} must be true or false"
                )));
            }
        }
        let given: Vec<(String, String)> = row
            .iter()
            .filter(|(k, v)| !k.starts_with("cognito:") && !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.validate_attributes(pool, None, &given, super::AttributeWrite::Create)?;
        let identity = self.new_identity(pool, username, &given).await?;
        let aliases = self.aliases_for(pool, &identity.attributes);
        let created = self
            .store()
            .users()
            .create(&NewUser {
                pool_id: pool.id.clone(),
                sub: identity.sub,
                username_key: self.username_key(pool, &identity.username),
                username: identity.username,
                status: UserStatus::ResetRequired.as_str().into(),
                enabled: true,
                password_hash: None,
                srp_verifier: None,
                attributes: stored_attributes(&identity.attributes),
                aliases,
                created_at: unix_millis(self.now()),
            })
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(StorageError::Conflict { .. }) => Err(UserPoolError::UsernameExists(
                "the user already exists".into(),
            )),
            Err(other) => Err(other.into()),
        }
    }

    fn import_job(&self, r: ImportJobRecord, url: Option<String>) -> ImportJob {
        let now = unix_millis(self.now());
        let expired = r.status == CREATED && !r.uploaded && r.upload_expires <= now;
        ImportJob {
            pre_signed_url: url.unwrap_or_default(),
            status: if expired { EXPIRED.into() } else { r.status },
            job_id: r.job_id,
            job_name: r.job_name,
            pool_id: r.pool_id,
            role_arn: r.role_arn,
            created_at: from_unix_millis(r.created_at),
            started_at: r.started_at.map(from_unix_millis),
            completed_at: r.completed_at.map(from_unix_millis),
            imported: r.imported,
            skipped: r.skipped,
            failed: r.failed,
            message: r.message,
        }
    }
}

fn job_not_found(job_id: &str) -> UserPoolError {
    UserPoolError::ResourceNotFound(format!("Import job {job_id} does not exist."))
}

/// The rows of an RFC 4180 CSV file with a header line, as column → value. A file that is not
/// CSV, or a row with another number of fields than the header, fails the whole job.
fn parse_csv(bytes: &[u8]) -> Result<Vec<BTreeMap<String, String>>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8".to_owned())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = csv_records(text)?;
    let mut records = records.into_iter();
    let header = records.next().ok_or("the file is empty")?;
    if !header.iter().any(|c| c == "cognito:username") {
        return Err("the header has no cognito:username column".into());
    }
    let mut rows = Vec::new();
    for (n, record) in records.enumerate() {
        if record.len() == 1 && record.first().is_some_and(String::is_empty) {
            continue;
        }
        if record.len() != header.len() {
            return Err(format!(
                "row {} has {} fields, the header {}",
                n + 2,
                record.len(),
                header.len()
            ));
        }
        rows.push(header.iter().cloned().zip(record).collect());
    }
    Ok(rows)
}

/// Splits CSV text into records of fields: commas, CRLF or LF, double quotes with `""`.
fn csv_records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, '"') => return Err("a quote inside an unquoted field".into()),
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::csv_records;

    #[test]
    fn csv_fields_follow_rfc_4180() {
        // (the text, its records or `Err(())`: refused)
        type Case = (&'static str, Result<Vec<Vec<&'static str>>, ()>);
        let cases: &[Case] = &[
            ("a,b\n1,2\n", Ok(vec![vec!["a", "b"], vec!["1", "2"]])),
            ("a,b\r\n1,2", Ok(vec![vec!["a", "b"], vec!["1", "2"]])),
            ("a\n\"x,\"\"y\"\"\"\n", Ok(vec![vec!["a"], vec!["x,\"y\""]])),
            ("a,b\n,\n", Ok(vec![vec!["a", "b"], vec!["", ""]])),
            ("a\n\"open\n", Err(())),
            ("a\nx\"y\n", Err(())),
        ];
        for (text, expected) in cases {
            let got = csv_records(text).map_err(|_| ());
            let expected = expected.clone().map(|r| {
                r.into_iter()
                    .map(|f| f.into_iter().map(String::from).collect())
                    .collect()
            });
            assert_eq!(got, expected, "{text:?}");
        }
    }
}
