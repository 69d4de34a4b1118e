-- The OAuth 2.0 / OpenID Connect provider and the hosted pages. Twin of ../sqlite/0015_oauth.sql.
--
-- `resource_servers`: CreateResourceServer …; `scopes` is JSON the identity crate owns.
-- `user_pool_domains`: CreateUserPoolDomain; one domain per pool; `custom_config` is the
--   CustomDomainConfig (JSON) of a custom domain, NULL for a prefix domain.
-- `oauth_codes`: authorization codes, by the SHA-256 of the code; `details` (JSON, the identity
--   crate's: redirect URI, PKCE challenge, scopes, nonce, auth_time, amr) is never read here.
--   `used_at` marks the one redemption, `origin_jti` the sign-in it started, `reused_at` a
--   second attempt (after which that sign-in is revoked).
-- `hosted_sessions`: the hosted pages' sign-in sessions, by the SHA-256 of the cookie value.
-- `oauth_grants`: what a sign-in through the OAuth endpoints was granted (scopes, amr), by its
--   `origin_jti`, so its refreshed tokens carry the same.
CREATE TABLE resource_servers (
    pool_id    TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    identifier TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, identifier)
);

CREATE TABLE user_pool_domains (
    domain        TEXT    NOT NULL PRIMARY KEY,
    pool_id       TEXT    NOT NULL UNIQUE REFERENCES user_pools (id) ON DELETE CASCADE,
    custom_config TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE oauth_codes (
    code_hash  BYTEA   NOT NULL PRIMARY KEY,
    pool_id    TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    sub        TEXT    NOT NULL,
    details    TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    origin_jti TEXT,
    reused_at  BIGINT
);
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);

CREATE TABLE hosted_sessions (
    id_hash    BYTEA   NOT NULL PRIMARY KEY,
    pool_id    TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    sub        TEXT    NOT NULL,
    details    TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX hosted_sessions_by_expiry ON hosted_sessions (expires_at);

CREATE TABLE oauth_grants (
    pool_id    TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    origin_jti TEXT    NOT NULL,
    details    TEXT    NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, origin_jti)
);
CREATE INDEX oauth_grants_by_expiry ON oauth_grants (expires_at);
