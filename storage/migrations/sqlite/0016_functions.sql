-- Functions registered through the operator API: a Lambda function ARN and the HTTP endpoint
-- gatehouse POSTs the function's events to (Cognito triggers, the gateway's Lambda proxy
-- integrations and Lambda authorizers). Functions from the configuration (flags, environment,
-- config file) are never stored. Twin of ../postgres/0016_functions.sql.
--
-- `arn`: the function ARN as registered (a `:qualifier` kept, `:$LATEST` removed).
-- `secret`: the HMAC signing secret, sealed by the caller with the master key.
-- `functions_version`: one row whose `version` grows with every write, in the same
-- transaction, so every node knows when to reload its in-memory registry.
CREATE TABLE functions (
    arn        TEXT    NOT NULL PRIMARY KEY,
    url        TEXT    NOT NULL,
    timeout_ms INTEGER NOT NULL,
    secret     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE functions_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO functions_version (id, version) VALUES (1, 0);
