-- Revoked access and id tokens, in their own table so that every node can keep an
-- in-memory copy and poll for what changed: `seq` only grows (AUTOINCREMENT: a number is
-- never handed out twice, even after the newest row is purged), so "every row after seq N"
-- is the change feed. Twin of ../postgres/0004_token_revocations.sql.
--
-- `kind` = 'session': `subject` is an `origin_jti`, and every token of that sign-in is
-- refused. `kind` = 'user': `subject` is a `sub`, and every token issued before
-- `revoked_at` is refused. Times are Unix epoch milliseconds; a row is useless once
-- `expires_at` has passed (no token it could refuse is still valid) and is purged then. No
-- foreign key to the pool: rows live at most a day, and a revocation must never fail
-- because its pool went away meanwhile.

CREATE TABLE token_revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('session', 'user')),
    subject    TEXT    NOT NULL,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX token_revocations_by_subject ON token_revocations (pool_id, kind, subject);
CREATE INDEX token_revocations_by_expiry ON token_revocations (expires_at);

-- Revocations written by earlier versions as service settings keep refusing tokens:
-- `revoked-session|{pool}|{origin_jti}` (revoked when the row was written, in milliseconds)
-- and `signed-out|{pool}|{sub}` = Unix seconds. A day (86 400 000 ms) is the longest life
-- of an access or id token. Pool ids hold no `|`, so the first `|` after the prefix ends
-- the pool id; a signed-out value that is not a number was ignored before and is dropped.
-- Only the string functions differ from the PostgreSQL twin (`instr` there is `strpos`).

INSERT INTO token_revocations (pool_id, kind, subject, revoked_at, expires_at)
SELECT substr(rest, 1, instr(rest, '|') - 1), 'session', substr(rest, instr(rest, '|') + 1),
       updated_at, updated_at + 86400000
FROM (SELECT substr(name, 17) AS rest, updated_at FROM service_settings
      WHERE substr(name, 1, 16) = 'revoked-session|')
WHERE instr(rest, '|') > 1 AND length(rest) > instr(rest, '|')
ORDER BY updated_at;

INSERT INTO token_revocations (pool_id, kind, subject, revoked_at, expires_at)
SELECT substr(rest, 1, instr(rest, '|') - 1), 'user', substr(rest, instr(rest, '|') + 1),
       at * 1000, at * 1000 + 86400000
FROM (SELECT substr(name, 12) AS rest, CAST(value AS INTEGER) AS at FROM service_settings
      WHERE substr(name, 1, 11) = 'signed-out|'
        AND length(value) BETWEEN 1 AND 15 AND value NOT GLOB '*[^0-9]*')
WHERE instr(rest, '|') > 1 AND length(rest) > instr(rest, '|')
ORDER BY at;

DELETE FROM service_settings
WHERE substr(name, 1, 16) = 'revoked-session|' OR substr(name, 1, 11) = 'signed-out|';
