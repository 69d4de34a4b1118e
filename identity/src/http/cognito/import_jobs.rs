//! Wire types and handlers of the user import operations (GetCSVHeader, CreateUserImportJob,
//! StartUserImportJob, StopUserImportJob, DescribeUserImportJob, ListUserImportJobs).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::epoch;
use crate::http::HttpState;
use crate::user_pools::{ImportJob, UserPoolError};

/// `UserImportJobType`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserImportJobType {
    job_name: String,
    job_id: String,
    user_pool_id: String,
    #[serde(rename = "PreSignedUrl", skip_serializing_if = "String::is_empty")]
    pre_signed_url: String,
    creation_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_date: Option<f64>,
    status: String,
    #[serde(rename = "CloudWatchLogsRoleArn")]
    role_arn: String,
    imported_users: i64,
    skipped_users: i64,
    failed_users: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_message: Option<String>,
}

fn job_type(j: ImportJob) -> UserImportJobType {
    UserImportJobType {
        job_name: j.job_name,
        job_id: j.job_id,
        user_pool_id: j.pool_id,
        pre_signed_url: j.pre_signed_url,
        creation_date: epoch(j.created_at),
        start_date: j.started_at.map(epoch),
        completion_date: j.completed_at.map(epoch),
        status: j.status,
        role_arn: j.role_arn,
        imported_users: j.imported,
        skipped_users: j.skipped,
        failed_users: j.failed,
        completion_message: j.message,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PoolRequest {
    user_pool_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CsvHeaderResponse {
    user_pool_id: String,
    #[serde(rename = "CSVHeader")]
    csv_header: Vec<String>,
}

pub(super) async fn get_csv_header(
    s: Arc<HttpState>,
    r: PoolRequest,
) -> Result<CsvHeaderResponse, UserPoolError> {
    let csv_header = s.user_pools.csv_header(&r.user_pool_id).await?;
    Ok(CsvHeaderResponse {
        user_pool_id: r.user_pool_id,
        csv_header,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateRequest {
    user_pool_id: String,
    job_name: String,
    #[serde(rename = "CloudWatchLogsRoleArn")]
    role_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct JobResponse {
    user_import_job: UserImportJobType,
}

pub(super) async fn create_user_import_job(
    s: Arc<HttpState>,
    r: CreateRequest,
) -> Result<JobResponse, UserPoolError> {
    let job = s
        .user_pools
        .create_import_job(&r.user_pool_id, &r.job_name, &r.role_arn)
        .await?;
    Ok(JobResponse {
        user_import_job: job_type(job),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct JobRequest {
    user_pool_id: String,
    job_id: String,
}

pub(super) async fn start_user_import_job(
    s: Arc<HttpState>,
    r: JobRequest,
) -> Result<JobResponse, UserPoolError> {
    let job = s
        .user_pools
        .start_import_job(&r.user_pool_id, &r.job_id)
        .await?;
    Ok(JobResponse {
        user_import_job: job_type(job),
    })
}

pub(super) async fn stop_user_import_job(
    s: Arc<HttpState>,
    r: JobRequest,
) -> Result<JobResponse, UserPoolError> {
    let job = s
        .user_pools
        .stop_import_job(&r.user_pool_id, &r.job_id)
        .await?;
    Ok(JobResponse {
        user_import_job: job_type(job),
    })
}

pub(super) async fn describe_user_import_job(
    s: Arc<HttpState>,
    r: JobRequest,
) -> Result<JobResponse, UserPoolError> {
    let job = s
        .user_pools
        .describe_import_job(&r.user_pool_id, &r.job_id)
        .await?;
    Ok(JobResponse {
        user_import_job: job_type(job),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListRequest {
    user_pool_id: String,
    max_results: u32,
    #[serde(default)]
    pagination_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListResponse {
    user_import_jobs: Vec<UserImportJobType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination_token: Option<String>,
}

pub(super) async fn list_user_import_jobs(
    s: Arc<HttpState>,
    r: ListRequest,
) -> Result<ListResponse, UserPoolError> {
    let (jobs, next) = s
        .user_pools
        .list_import_jobs(
            &r.user_pool_id,
            r.max_results,
            r.pagination_token.as_deref(),
        )
        .await?;
    Ok(ListResponse {
        user_import_jobs: jobs.into_iter().map(job_type).collect(),
        pagination_token: next,
    })
}
