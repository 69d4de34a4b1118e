-- Stages created at run time through the operator API (CreateStage, or CreateDeployment
-- naming a stage that does not exist yet), kept so a restart and every other node serve
-- them. A stage names a stored deployment of its API; `document` is the gateway's JSON of
-- the stage's settings (description, variables, cache, method settings), not interpreted
-- here. Twin of ../sqlite/0005_gateway_stages.sql.

CREATE TABLE gateway_stages (
    api_id        TEXT NOT NULL,
    name          TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    document      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (api_id, name),
    FOREIGN KEY (api_id, deployment_id) REFERENCES gateway_deployments (api_id, id)
);
