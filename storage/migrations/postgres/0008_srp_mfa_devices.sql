-- What SRP sign-in, multi-factor authentication and remembered devices keep. Twin of
-- ../sqlite/0008_srp_mfa_devices.sql.
--
-- `users.srp_verifier`: the user's SRP verifier (v = g^x with its salt), sealed with the
-- master key by the identity crate, written with every password; NULL for users whose
-- password was set before SRP existed (filled in at their next password sign-in).
--
-- `user_mfa`: a user's software token (its sealed secret once verified, a sealed secret
-- waiting for its first code, the device name, and the last time step a code was accepted,
-- so that a code is accepted once) and which factors are enabled and preferred.
--
-- `user_devices`: devices a user signed in from with device tracking on; `verifier` is the
-- sealed device SRP verifier sent by ConfirmDevice (NULL until then).
--
-- `spent_auth_sessions`: the ids of challenge sessions and SRP secret blocks already
-- answered, so that each is answered once on any node; purged once expired.
--
-- Times are Unix epoch milliseconds; booleans are BOOLEAN.

ALTER TABLE users ADD COLUMN srp_verifier BYTEA;

CREATE TABLE user_mfa (
    sub             TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users (sub) ON DELETE CASCADE,
    pool_id         TEXT COLLATE "C" NOT NULL,
    totp_secret     BYTEA,
    totp_name       TEXT,
    totp_last_step  BIGINT  NOT NULL,
    totp_pending    BYTEA,
    totp_enabled    BOOLEAN NOT NULL,
    totp_preferred  BOOLEAN NOT NULL,
    email_enabled   BOOLEAN NOT NULL,
    email_preferred BOOLEAN NOT NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE TABLE user_devices (
    device_key   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    pool_id      TEXT COLLATE "C" NOT NULL,
    sub          TEXT COLLATE "C" NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    group_key    TEXT COLLATE "C" NOT NULL,
    name         TEXT,
    remembered   BOOLEAN NOT NULL,
    verifier     BYTEA,
    last_ip      TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    last_auth_at BIGINT  NOT NULL
);
CREATE INDEX user_devices_by_user ON user_devices (sub, device_key);

CREATE TABLE spent_auth_sessions (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX spent_auth_sessions_by_expiry ON spent_auth_sessions (expires_at);
