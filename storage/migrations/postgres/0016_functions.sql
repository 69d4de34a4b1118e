-- Functions registered through the operator API: a Lambda function ARN and the HTTP endpoint
-- gatehouse POSTs the function's events to (Cognito triggers, the gateway's Lambda proxy
-- integrations and Lambda authorizers). Functions from the configuration (flags, environment,
-- config file) are never stored. Twin of ../sqlite/0016_functions.sql.
--
-- `arn`: the function ARN as registered (a `:qualifier` kept, `:$LATEST` removed).
-- `secret`: the HMAC signing secret, sealed by the caller with the master key.
-- `functions_version`: one row whose `version` grows with every write, in the same
-- transaction, so every node knows when to reload its in-memory registry.
CREATE TABLE functions (
    arn        TEXT   NOT NULL PRIMARY KEY,
    url        TEXT   NOT NULL,
    timeout_ms BIGINT NOT NULL,
    secret     BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE functions_version (
    id      BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO functions_version (id, version) VALUES (1, 0);
