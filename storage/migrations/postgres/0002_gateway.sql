-- The gateway's run-time state: API keys (hashed, with a visible prefix), usage plans
-- created through the operator API, which keys belong to which plan, quota counters per
-- period and usage per day, and one generation counter that every change bumps so that
-- gateway nodes notice changes with one cheap read. Twin of ../sqlite/0002_gateway.sql.
--
-- Usage plans defined in a declarative file are not stored; `plan_id` columns may name them
-- (by name), so they carry no foreign key.

CREATE TABLE gateway_api_keys (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT,
    key_hash    BYTEA NOT NULL,
    prefix      TEXT COLLATE "C" NOT NULL,
    enabled     BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX gateway_api_keys_by_hash ON gateway_api_keys (key_hash);
CREATE INDEX gateway_api_keys_by_name ON gateway_api_keys (name, id);

CREATE TABLE gateway_usage_plans (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    document   TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE gateway_usage_plan_keys (
    plan_id    TEXT COLLATE "C" NOT NULL,
    key_id     TEXT COLLATE "C" NOT NULL REFERENCES gateway_api_keys (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (plan_id, key_id)
);
CREATE INDEX gateway_usage_plan_keys_by_key ON gateway_usage_plan_keys (key_id);

-- `period_start`: epoch milliseconds of the quota period's first instant (UTC).
CREATE TABLE gateway_quota_usage (
    plan_id      TEXT COLLATE "C" NOT NULL,
    key_id       TEXT COLLATE "C" NOT NULL,
    period_start BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    PRIMARY KEY (plan_id, key_id, period_start)
);

-- `day`: epoch milliseconds of the UTC midnight starting the day.
CREATE TABLE gateway_daily_usage (
    plan_id TEXT COLLATE "C" NOT NULL,
    key_id  TEXT COLLATE "C" NOT NULL,
    day     BIGINT NOT NULL,
    used    BIGINT NOT NULL,
    PRIMARY KEY (plan_id, key_id, day)
);

CREATE TABLE gateway_generation (
    id         BIGINT NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL
);
INSERT INTO gateway_generation (id, generation) VALUES (1, 0);
