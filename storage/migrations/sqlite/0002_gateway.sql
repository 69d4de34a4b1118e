-- The gateway's run-time state: API keys (hashed, with a visible prefix), usage plans
-- created through the operator API, which keys belong to which plan, quota counters per
-- period and usage per day, and one generation counter that every change bumps so that
-- gateway nodes notice changes with one cheap read. Twin of ../postgres/0002_gateway.sql.
--
-- Usage plans defined in a declarative file are not stored; `plan_id` columns may name them
-- (by name), so they carry no foreign key.

CREATE TABLE gateway_api_keys (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    key_hash    BLOB NOT NULL,
    prefix      TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX gateway_api_keys_by_hash ON gateway_api_keys (key_hash);
CREATE INDEX gateway_api_keys_by_name ON gateway_api_keys (name, id);

CREATE TABLE gateway_usage_plans (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    document   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE gateway_usage_plan_keys (
    plan_id    TEXT NOT NULL,
    key_id     TEXT NOT NULL REFERENCES gateway_api_keys (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (plan_id, key_id)
);
CREATE INDEX gateway_usage_plan_keys_by_key ON gateway_usage_plan_keys (key_id);

-- `period_start`: epoch milliseconds of the quota period's first instant (UTC).
CREATE TABLE gateway_quota_usage (
    plan_id      TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    used         INTEGER NOT NULL,
    PRIMARY KEY (plan_id, key_id, period_start)
);

-- `day`: epoch milliseconds of the UTC midnight starting the day.
CREATE TABLE gateway_daily_usage (
    plan_id TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    day     INTEGER NOT NULL,
    used    INTEGER NOT NULL,
    PRIMARY KEY (plan_id, key_id, day)
);

CREATE TABLE gateway_generation (
    id         INTEGER NOT NULL PRIMARY KEY,
    generation INTEGER NOT NULL
);
INSERT INTO gateway_generation (id, generation) VALUES (1, 0);
