-- User pools and everything the user-pool API keeps: clients, users with their alias and
-- search index rows, groups and memberships, one-time codes, refresh tokens, signing keys,
-- and service settings. Twin of ../postgres/0001_user_pools.sql: same tables, columns,
-- keys and indexes; only the type names differ.
--
-- Conventions: times are INTEGER Unix epoch milliseconds chosen by the caller; JSON
-- documents are TEXT that storage does not interpret; booleans are 0/1. STRICT tables make
-- SQLite refuse a value of the wrong type, as PostgreSQL would. Every foreign-key column is
-- the leading column of some index, so cascading deletes never scan a table.

CREATE TABLE user_pools (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    config     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE user_pool_clients (
    id         TEXT    NOT NULL PRIMARY KEY,
    pool_id    TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    secret     BLOB,
    config     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX user_pool_clients_by_pool ON user_pool_clients (pool_id, id);

-- `sub` (a UUID) is the user's key: immutable and unique across pools.
CREATE TABLE users (
    sub           TEXT    NOT NULL PRIMARY KEY,
    pool_id       TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    username      TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    enabled       INTEGER NOT NULL,
    password_hash TEXT,
    attributes    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
-- These indexes serve ListUsers without a filter or filtered by username, sub, status or
-- enabled, each already in keyset order.
CREATE UNIQUE INDEX users_by_username ON users (pool_id, username);
CREATE UNIQUE INDEX users_by_sub ON users (pool_id, sub);
CREATE INDEX users_by_status ON users (pool_id, status, username);
CREATE INDEX users_by_enabled ON users (pool_id, enabled, username);

-- Values that must identify one user in a pool (email or phone_number used as alias or as
-- username): the primary key is the uniqueness rule.
CREATE TABLE user_aliases (
    pool_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    sub     TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, name, value)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_aliases_by_user ON user_aliases (sub);

-- One row per searchable standard attribute a user has, for ListUsers filters
-- (`attr = "v"` is an index seek, `attr ^= "v"` an index range), ordered by
-- (value, username) for keyset pagination. The username is copied here (it never changes)
-- so that a page is read in index order without sorting.
CREATE TABLE user_search (
    pool_id  TEXT NOT NULL,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    username TEXT NOT NULL,
    sub      TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, name, value, username)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_search_by_user ON user_search (sub);

CREATE TABLE user_groups (
    pool_id     TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    description TEXT,
    precedence  INTEGER,
    role_arn    TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (pool_id, name)
) STRICT;

CREATE TABLE group_members (
    pool_id    TEXT NOT NULL,
    group_name TEXT NOT NULL,
    username   TEXT NOT NULL,
    sub        TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, group_name, username),
    FOREIGN KEY (pool_id, group_name) REFERENCES user_groups (pool_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (sub, group_name);

-- At most one live code per user and purpose ("sign_up", "verify:email", …); a new code
-- replaces the old one.
CREATE TABLE one_time_codes (
    sub           TEXT    NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    purpose       TEXT    NOT NULL,
    pool_id       TEXT    NOT NULL,
    code_hash     BLOB    NOT NULL,
    data          TEXT,
    expires_at    INTEGER NOT NULL,
    attempts_left INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (sub, purpose)
) STRICT;
CREATE INDEX one_time_codes_by_expiry ON one_time_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    pool_id    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL REFERENCES user_pool_clients (id) ON DELETE CASCADE,
    sub        TEXT    NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    origin_jti TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (sub);
CREATE INDEX refresh_tokens_by_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_by_origin ON refresh_tokens (origin_jti);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    kid         TEXT    NOT NULL PRIMARY KEY,
    pool_id     TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    purpose     TEXT    NOT NULL,
    algorithm   TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    public_jwk  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER,
    not_after   INTEGER
) STRICT;
CREATE INDEX signing_keys_by_pool ON signing_keys (pool_id, purpose, created_at);

CREATE TABLE service_settings (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
