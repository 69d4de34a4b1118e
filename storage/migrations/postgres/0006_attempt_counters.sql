-- Counters that stop guessing, shared by every node: failed password attempts (the lockout),
-- guesses at one-time codes and code sends, each for one subject (a user's `sub`, or a name
-- no user holds, so that unknown users are counted like real ones) and one `kind`
-- (`password`, `code:sign_up`, `send:forgot_password`, …; MFA codes get their own kinds).
-- What the numbers mean is decided above storage (identity's `user_pools::attempts`);
-- storage only reads and writes a row under a lock. Twin of
-- ../sqlite/0006_attempt_counters.sql.
--
-- Times are Unix epoch milliseconds. `locked_until` is 0 when nothing is locked. A row
-- whose `expires_at` has passed counts nothing any more and is purged. No foreign keys: a
-- subject may name no user, and a counter must never fail because its pool went away.

CREATE TABLE attempt_counters (
    pool_id      TEXT COLLATE "C" NOT NULL,
    subject      TEXT COLLATE "C" NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    count        BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    last_at      BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (pool_id, subject, kind)
);
CREATE INDEX attempt_counters_by_expiry ON attempt_counters (expires_at);
