-- User pools and everything the user-pool API keeps: clients, users with their alias and
-- search index rows, groups and memberships, one-time codes, refresh tokens, signing keys,
-- and service settings. Twin of ../sqlite/0001_user_pools.sql: same tables, columns,
-- keys and indexes; only the type names differ.
--
-- Conventions: times are BIGINT Unix epoch milliseconds chosen by the caller; JSON
-- documents are TEXT that storage does not interpret. Text that is compared, ordered or
-- range-scanned uses COLLATE "C" (byte order, which for UTF-8 is code-point order) so that
-- prefix ranges, keyset pagination and sort order are exactly SQLite's, whatever locale the
-- database was created with. Every foreign-key column is the leading column of some
-- index, so cascading deletes never scan a table.

CREATE TABLE user_pools (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    config     TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE user_pool_clients (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    pool_id    TEXT COLLATE "C" NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    secret     BYTEA,
    config     TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX user_pool_clients_by_pool ON user_pool_clients (pool_id, id);

-- `sub` (a UUID) is the user's key: immutable and unique across pools.
CREATE TABLE users (
    sub           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    pool_id       TEXT COLLATE "C" NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    username      TEXT COLLATE "C" NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,
    enabled       BOOLEAN NOT NULL,
    password_hash TEXT,
    attributes    TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
-- These indexes serve ListUsers without a filter or filtered by username, sub, status or
-- enabled, each already in keyset order.
CREATE UNIQUE INDEX users_by_username ON users (pool_id, username);
CREATE UNIQUE INDEX users_by_sub ON users (pool_id, sub);
CREATE INDEX users_by_status ON users (pool_id, status, username);
CREATE INDEX users_by_enabled ON users (pool_id, enabled, username);

-- Values that must identify one user in a pool (email or phone_number used as alias or as
-- username): the primary key is the uniqueness rule.
CREATE TABLE user_aliases (
    pool_id TEXT COLLATE "C" NOT NULL,
    name    TEXT COLLATE "C" NOT NULL,
    value   TEXT COLLATE "C" NOT NULL,
    sub     TEXT COLLATE "C" NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, name, value)
);
CREATE INDEX user_aliases_by_user ON user_aliases (sub);

-- One row per searchable standard attribute a user has, for ListUsers filters
-- (`attr = "v"` is an index seek, `attr ^= "v"` an index range), ordered by
-- (value, username) for keyset pagination. The username is copied here (it never changes)
-- so that a page is read in index order without sorting.
CREATE TABLE user_search (
    pool_id  TEXT COLLATE "C" NOT NULL,
    name     TEXT COLLATE "C" NOT NULL,
    value    TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    sub      TEXT COLLATE "C" NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, name, value, username)
);
CREATE INDEX user_search_by_user ON user_search (sub);

CREATE TABLE user_groups (
    pool_id     TEXT COLLATE "C" NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT,
    precedence  BIGINT,
    role_arn    TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (pool_id, name)
);

CREATE TABLE group_members (
    pool_id    TEXT COLLATE "C" NOT NULL,
    group_name TEXT COLLATE "C" NOT NULL,
    username   TEXT COLLATE "C" NOT NULL,
    sub        TEXT COLLATE "C" NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, group_name, username),
    FOREIGN KEY (pool_id, group_name) REFERENCES user_groups (pool_id, name) ON DELETE CASCADE
);
CREATE INDEX group_members_by_user ON group_members (sub, group_name);

-- At most one live code per user and purpose ("sign_up", "verify:email", …); a new code
-- replaces the old one.
CREATE TABLE one_time_codes (
    sub           TEXT COLLATE "C" NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    purpose       TEXT COLLATE "C" NOT NULL,
    pool_id       TEXT COLLATE "C" NOT NULL,
    code_hash     BYTEA   NOT NULL,
    data          TEXT,
    expires_at    BIGINT NOT NULL,
    attempts_left BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (sub, purpose)
);
CREATE INDEX one_time_codes_by_expiry ON one_time_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash BYTEA   NOT NULL PRIMARY KEY,
    pool_id    TEXT COLLATE "C" NOT NULL,
    client_id  TEXT COLLATE "C" NOT NULL REFERENCES user_pool_clients (id) ON DELETE CASCADE,
    sub        TEXT COLLATE "C" NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    origin_jti TEXT COLLATE "C" NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (sub);
CREATE INDEX refresh_tokens_by_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_by_origin ON refresh_tokens (origin_jti);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    kid         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    pool_id     TEXT COLLATE "C" NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    purpose     TEXT COLLATE "C" NOT NULL,
    algorithm   TEXT COLLATE "C" NOT NULL,
    private_key BYTEA   NOT NULL,
    public_jwk  TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT,
    not_after   BIGINT
);
CREATE INDEX signing_keys_by_pool ON signing_keys (pool_id, purpose, created_at);

CREATE TABLE service_settings (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);
