-- Refresh-token rotation, case-insensitive usernames that keep their case, and the
-- sign-in events AdminListUserAuthEvents reports. Twin of ../sqlite/0007_pool_details.sql.
--
-- `refresh_tokens.rotated_at`: when the token was exchanged for a successor (refresh-token
-- rotation); NULL while it was never rotated. Every token of one sign-in shares its
-- `origin_jti` (the family): a rotated token used again after its grace period revokes
-- them all. Rotated tokens are kept until they expire, to recognise such a reuse.
ALTER TABLE refresh_tokens ADD COLUMN rotated_at BIGINT;

-- `users.username_key`: the form of the username that names the user, chosen by the
-- caller (lower case in a pool whose usernames ignore case, else the username itself);
-- unique per pool, while `username` keeps the case it was created with. Rows written
-- before kept their username as it was stored (already folded where names ignore case).
ALTER TABLE users ADD COLUMN username_key TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE users SET username_key = username;
CREATE UNIQUE INDEX users_by_username_key ON users (pool_id, username_key);

-- Authentication events of a user (sign-ins that passed or failed, sign-ins refused by the
-- lockout), newest first for AdminListUserAuthEvents. `details` is JSON that storage does
-- not read. A row is purged once `expires_at` has passed; it goes with its user.
CREATE TABLE user_auth_events (
    event_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    pool_id    TEXT COLLATE "C" NOT NULL,
    sub        TEXT COLLATE "C" NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    event_type TEXT COLLATE "C" NOT NULL,
    response   TEXT COLLATE "C" NOT NULL,
    details    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_auth_events_by_user ON user_auth_events (sub, created_at, event_id);
CREATE INDEX user_auth_events_by_expiry ON user_auth_events (expires_at);
