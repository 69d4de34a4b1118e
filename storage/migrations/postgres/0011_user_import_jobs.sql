-- Cognito's user import jobs (CreateUserImportJob …). Twin of ../sqlite/0011_user_import_jobs.sql.
--
-- `upload_hash`: SHA-256 (hex) of the single-use token in the job's pre-signed upload URL;
-- emptied when the CSV arrives, so the URL works once. `csv`: the uploaded file, kept until
-- the job has run (then emptied). `status` is Cognito's (Created, InProgress, Succeeded,
-- Failed, Expired); the counts are ImportedUsers, SkippedUsers, FailedUsers.
CREATE TABLE user_import_jobs (
    job_id         TEXT    NOT NULL PRIMARY KEY,
    pool_id        TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    job_name       TEXT    NOT NULL,
    role_arn       TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    upload_hash    TEXT    NOT NULL,
    upload_expires BIGINT NOT NULL,
    csv            BYTEA,
    imported       BIGINT NOT NULL DEFAULT 0,
    skipped        BIGINT NOT NULL DEFAULT 0,
    failed         BIGINT NOT NULL DEFAULT 0,
    message        TEXT,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT,
    completed_at   BIGINT
);
CREATE INDEX user_import_jobs_by_pool ON user_import_jobs (pool_id, job_id);
