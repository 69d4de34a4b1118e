-- Deployments created at run time through the operator API and the stage pointers that
-- select them (so a stage can be rolled back), kept so a restart and every other node
-- serve the same deployment. `source` is the gateway's JSON snapshot of the definition
-- sources the deployment was taken from; storage does not interpret it. A pointer names a
-- stored deployment of the same API. Twin of ../postgres/0003_gateway_deployments.sql.

CREATE TABLE gateway_deployments (
    api_id      TEXT NOT NULL,
    id          TEXT NOT NULL,
    description TEXT,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (api_id, id)
);

CREATE TABLE gateway_stage_deployments (
    api_id        TEXT NOT NULL,
    stage         TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (api_id, stage),
    FOREIGN KEY (api_id, deployment_id) REFERENCES gateway_deployments (api_id, id)
);
