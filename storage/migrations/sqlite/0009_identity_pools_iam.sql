-- Identity pools, their identities and the logins linked to them; the IAM subset (roles with
-- their trust, inline and attached policies, managed policies and their versions, OpenID
-- Connect providers) and the counter other nodes poll to learn that IAM changed. Twin of
-- ../postgres/0009_identity_pools_iam.sql.
--
-- `identity_pools.config`: JSON owned by the identity crate (providers, roles, role
-- mappings, tags); storage never looks inside.
--
-- `identity_logins`: one row per login linked to an identity: `provider` is the login's
-- provider name (`cognito-idp.{region}.amazonaws.com/{userPoolId}`, an OIDC issuer host, or
-- the pool's developer provider name) and `subject` its stable user id (`sub`, or the
-- developer user identifier). A login belongs to at most one identity of a pool.
--
-- IAM names: role names are unique ignoring case (`name_key` is the lower-case name), as in
-- IAM; policy and provider ARNs are the keys of theirs. A managed policy attached to a role
-- cannot be deleted (no cascade from `iam_policies` to `iam_role_attachments`).
--
-- `iam_version`: one row whose `version` grows with every IAM write, in the same
-- transaction: a node that cached compiled policies reloads them when it sees a new value.
--
-- Times are Unix epoch milliseconds.

CREATE TABLE identity_pools (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    config     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE identities (
    id         TEXT    NOT NULL PRIMARY KEY,
    pool_id    TEXT    NOT NULL REFERENCES identity_pools (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX identities_by_pool ON identities (pool_id, id);

CREATE TABLE identity_logins (
    pool_id     TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    identity_id TEXT    NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (pool_id, provider, subject)
) STRICT;
CREATE INDEX identity_logins_by_identity ON identity_logins (identity_id, provider);

CREATE TABLE iam_roles (
    name_key             TEXT    NOT NULL PRIMARY KEY,
    name                 TEXT    NOT NULL,
    role_id              TEXT    NOT NULL UNIQUE,
    path                 TEXT    NOT NULL,
    trust_policy         TEXT    NOT NULL,
    description          TEXT,
    max_session_duration INTEGER NOT NULL,
    boundary_arn         TEXT,
    tags                 TEXT    NOT NULL,
    created_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE iam_role_policies (
    name_key    TEXT NOT NULL REFERENCES iam_roles (name_key) ON DELETE CASCADE,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (name_key, policy_name)
) STRICT;

CREATE TABLE iam_policies (
    arn             TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    policy_id       TEXT    NOT NULL UNIQUE,
    path            TEXT    NOT NULL,
    description     TEXT,
    default_version TEXT    NOT NULL,
    next_version    INTEGER NOT NULL,
    tags            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE iam_policy_versions (
    arn        TEXT    NOT NULL REFERENCES iam_policies (arn) ON DELETE CASCADE,
    version_id TEXT    NOT NULL,
    document   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (arn, version_id)
) STRICT;

CREATE TABLE iam_role_attachments (
    name_key   TEXT NOT NULL REFERENCES iam_roles (name_key) ON DELETE CASCADE,
    policy_arn TEXT NOT NULL REFERENCES iam_policies (arn),
    PRIMARY KEY (name_key, policy_arn)
) STRICT;
CREATE INDEX iam_role_attachments_by_policy ON iam_role_attachments (policy_arn);

CREATE TABLE iam_oidc_providers (
    arn         TEXT    NOT NULL PRIMARY KEY,
    url         TEXT    NOT NULL,
    client_ids  TEXT    NOT NULL,
    thumbprints TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE iam_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO iam_version (id, version) VALUES (1, 0);
