-- Lazy migration: the Cognito-compatible user pool a pool takes users missing locally from,
-- at their first sign-in or password reset. At most one per pool. Twin of
-- ../sqlite/0014_migration_sources.sql.
--
-- `endpoint`: the upstream's Cognito endpoint (https://cognito-idp.{region}.amazonaws.com/ or
-- the one the operator gave); `region`: the region AdminGetUser is signed for.
-- `client_secret` and `secret_access_key` arrive sealed with the master key (bound to the
-- pool and their purpose); `access_key_id` is kept in clear to be shown. `timeout_ms`:
-- how long one upstream call may take.
CREATE TABLE user_pool_migration_sources (
    pool_id           TEXT    NOT NULL PRIMARY KEY REFERENCES user_pools (id) ON DELETE CASCADE,
    endpoint          TEXT    NOT NULL,
    region            TEXT    NOT NULL,
    upstream_pool_id  TEXT    NOT NULL,
    client_id         TEXT    NOT NULL,
    client_secret     BYTEA,
    access_key_id     TEXT,
    secret_access_key BYTEA,
    timeout_ms        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
