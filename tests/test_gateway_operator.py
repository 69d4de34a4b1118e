"""The gateway's operator API driven by boto3's `apigateway` client, as an operator would.

API keys (the value shown once), usage plans, plan keys, GetUsage after real traffic through the
data plane, stage cache flushes, deployments and a stage rollback, stages created, patched and
deleted at run time (kept across a restart, served by a second node on PostgreSQL), GetDeployment
and DeleteDeployment, and API Gateway's error shapes
for unsigned and wrongly signed calls. boto3 signs with service name `apigateway`, so this also
pins that the server verifies exactly what botocore signs.

`gatehouse serve --api FILE` on SQLite and on PostgreSQL, with the suite's fixed operator
credentials: the operator API on its identity listener, the data plane on its gateway listener.
"""

from __future__ import annotations

import abc
import datetime
import re
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from gatehouse_harness import (
    OPERATOR_ACCESS_KEY_ID,
    GatehouseServer,
    OPERATOR_SECRET_ACCESS_KEY,
    REGION,
    PostgresDatabase,
    postgres_server_url,
    unique,
)

SERVE_GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on (http://127\.0\.0\.1:\d+)\s*$")

DEFINITION = """
version: 1
apis:
  shop:
    resources:
      /keyed:
        GET:
          api_key_required: true
          integration: {type: mock, status: 200, body: '{"keyed": true}'}
      /hello:
        GET:
          integration: {type: mock, status: 200, body: 'BODY'}
stages:
  shop:
    prod:
      cache: {enabled: true, ttl_seconds: 300, size_mb: 1}
      method_settings:
        "*/*": {caching_enabled: false}
    beta: {}
"""


class Endpoints(abc.ABC):
    """What the tests need from a server: boto3 clients for its operator endpoint, GETs on its
    gateway endpoint, the definition file it serves, and whether it is still healthy."""

    endpoints: dict[str, str]
    api_file: Path

    def client(self, secret: str = OPERATOR_SECRET_ACCESS_KEY, *, unsigned: bool = False) -> Any:
        extra = {"signature_version": botocore.UNSIGNED} if unsigned else {}
        config = botocore.config.Config(retries={"total_max_attempts": 1}, read_timeout=30, **extra)
        session = boto3.session.Session(
            aws_access_key_id=OPERATOR_ACCESS_KEY_ID,
            aws_secret_access_key=secret,
            region_name=REGION,
        )
        return session.client("apigateway", endpoint_url=self.endpoints["operator"], config=config)

    def get(self, path: str, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.get(self.endpoints["gateway"] + path, headers=headers or {}, timeout=30)

    @abc.abstractmethod
    def check_healthy(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class ServedNode(Endpoints):
    """`gatehouse serve --api FILE` through the suite's harness."""

    def __init__(self, database_url: str | None, api_file: Path) -> None:
        self.api_file = api_file
        self.server = GatehouseServer(
            database_url=database_url, extra_args=["--api", str(api_file)], name="gatehouse serve"
        )
        self.server.start()
        gateway = [
            m.group(1)
            for m in (SERVE_GATEWAY_LINE.match(line.strip()) for line in self.server._stdout_lines)
            if m
        ]
        assert gateway, f"no gateway listener line:\n{self.server.diagnostics()}"
        self.endpoints = {"operator": self.server.endpoint, "gateway": gateway[0]}

    def check_healthy(self) -> None:
        self.server.check_alive()
        assert "panicked" not in self.server.stderr_text(since_start=True)

    def close(self) -> None:
        self.server.close()


def start(backend: str, folder: Path) -> Iterator[Endpoints]:
    api_file = folder / "api.yaml"
    api_file.write_text(DEFINITION.replace("BODY", "v1"))
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    server: Endpoints | None = None
    try:
        server = ServedNode(database.url if database else None, api_file)
        yield server
        server.check_healthy()
    finally:
        if server is not None:
            server.close()
        if database is not None:
            database.drop()


@pytest.fixture(scope="module")
def node(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """Keys, plans, usage and flushes."""
    yield from start(backend, tmp_path_factory.mktemp("operator"))


@pytest.fixture(scope="module")
def deploy_node(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """Deployments, on a server of their own (they change what a stage serves)."""
    yield from start(backend, tmp_path_factory.mktemp("deployments"))


def error_code(info: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_unsigned_and_wrongly_signed_calls_are_refused(node: Endpoints) -> None:
    with pytest.raises(ClientError) as refused:
        node.client(secret="not-the-operator-secret").get_api_keys()
    assert error_code(refused) == (403, "InvalidSignatureException")
    with pytest.raises(ClientError) as refused:
        node.client(unsigned=True).get_usage_plans()
    assert error_code(refused) == (403, "MissingAuthenticationTokenException")
    # API Gateway's shape on the wire: {"message": …} and x-amzn-ErrorType.
    raw = requests.get(node.endpoints["operator"] + "/apikeys", timeout=30)
    assert raw.status_code == 403
    assert raw.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert raw.json() == {"message": "Missing Authentication Token"}


def test_keys_plans_usage_and_cache_flush(node: Endpoints) -> None:
    api = node.client()
    name = unique("mobile-")
    created = api.create_api_key(name=name, description="the app", enabled=True)
    key_id, value = created["id"], created["value"]
    assert 30 <= len(value) <= 128
    assert created["enabled"] is True
    assert isinstance(created["createdDate"], datetime.datetime)

    # The value is shown once: never again, even when asked for.
    fetched = api.get_api_key(apiKey=key_id, includeValue=True)
    assert fetched["name"] == name and "value" not in fetched
    assert key_id in [k["id"] for k in api.get_api_keys()["items"]]
    with pytest.raises(ClientError) as missing:
        api.get_api_key(apiKey="nosuchkey0")
    assert error_code(missing) == (404, "NotFoundException")

    renamed = api.update_api_key(
        apiKey=key_id, patchOperations=[{"op": "replace", "path": "/description", "value": "v2"}]
    )
    assert renamed["description"] == "v2"

    plan = api.create_usage_plan(
        name=unique("basic-"),
        apiStages=[{"apiId": "shop", "stage": "prod"}],
        throttle={"rateLimit": 100.0, "burstLimit": 50},
        quota={"limit": 100, "period": "DAY"},
    )
    plan_id = plan["id"]
    assert plan["quota"]["limit"] == 100
    assert plan_id in [p["id"] for p in api.get_usage_plans()["items"]]

    # The key opens the keyed route once it is in the plan.
    assert node.get("/prod/keyed", {"x-api-key": value}).status_code == 403
    bound = api.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
    assert (bound["id"], bound["type"], bound["name"]) == (key_id, "API_KEY", name)
    assert [k["id"] for k in api.get_usage_plan_keys(usagePlanId=plan_id)["items"]] == [key_id]
    for _ in range(3):
        answer = node.get("/prod/keyed", {"x-api-key": value})
        assert answer.status_code == 200, answer.text
    assert node.get("/prod/keyed", {"x-api-key": "x" * 40}).json() == {"message": "Forbidden"}

    # GetUsage: [used, remaining] per day. Like API Gateway's it may lag by what a background
    # flush is writing at that moment, so poll briefly.
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    deadline = time.monotonic() + 5
    while True:
        usage = api.get_usage(usagePlanId=plan_id, keyId=key_id, startDate=today, endDate=today)
        if usage["items"] == {key_id: [[3, 97]]} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert usage["usagePlanId"] == plan_id
    assert (usage["startDate"], usage["endDate"]) == (today, today)
    assert usage["items"] == {key_id: [[3, 97]]}

    # Flushing a stage's cache answers 202; a stage without a cache is not found.
    api.flush_stage_cache(restApiId="shop", stageName="prod")
    with pytest.raises(ClientError) as no_cache:
        api.flush_stage_cache(restApiId="shop", stageName="beta")
    assert error_code(no_cache) == (404, "NotFoundException")

    api.delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id)
    assert node.get("/prod/keyed", {"x-api-key": value}).status_code == 403
    api.delete_api_key(apiKey=key_id)
    api.delete_usage_plan(usagePlanId=plan_id)
    assert plan_id not in [p["id"] for p in api.get_usage_plans()["items"]]


def test_deploy_and_roll_back_a_stage(deploy_node: Endpoints) -> None:
    node = deploy_node
    api = node.client()
    assert node.get("/prod/hello").text == "v1"
    first = api.create_deployment(restApiId="shop", stageName="prod", description="first")
    assert first["description"] == "first"

    # The file changes: the deployed stage keeps serving its deployment until the next one.
    node.api_file.write_text(DEFINITION.replace("BODY", "v2"))
    deadline = time.monotonic() + 10
    while node.get("/beta/hello").text != "v2" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert node.get("/beta/hello").text == "v2"
    assert node.get("/prod/hello").text == "v1"

    second = api.create_deployment(restApiId="shop", stageName="prod")
    assert node.get("/prod/hello").text == "v2"
    ids = [d["id"] for d in api.get_deployments(restApiId="shop")["items"]]
    assert ids[-2:] == [first["id"], second["id"]]

    rolled = api.update_stage(
        restApiId="shop",
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": first["id"]}],
    )
    assert rolled["deploymentId"] == first["id"]
    assert api.get_stage(restApiId="shop", stageName="prod")["deploymentId"] == first["id"]
    assert node.get("/prod/hello").text == "v1"

    with pytest.raises(ClientError) as unknown:
        api.update_stage(
            restApiId="shop",
            stageName="prod",
            patchOperations=[{"op": "replace", "path": "/deploymentId", "value": "nosuchid"}],
        )
    assert error_code(unknown) == (404, "NotFoundException")
    with pytest.raises(ClientError) as no_api:
        api.create_deployment(restApiId="nope", stageName="prod")
    assert error_code(no_api) == (404, "NotFoundException")


@pytest.fixture(scope="module")
def stage_node(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """Run-time stages, on a server of their own (they add and remove stages)."""
    yield from start(backend, tmp_path_factory.mktemp("stages"))


def test_run_time_stage_method_settings_take_effect(stage_node: Endpoints) -> None:
    """Throttling and caching set on a run-time stage with UpdateStage apply to its requests."""
    api = stage_node.client()
    deployment = api.create_deployment(restApiId="shop", description="for settings")
    api.create_stage(restApiId="shop", stageName="tuned", deploymentId=deployment["id"])
    assert stage_node.get("/tuned/hello").headers.get("x-cache") is None

    api.update_stage(
        restApiId="shop",
        stageName="tuned",
        patchOperations=[
            {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
            {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"},
        ],
    )
    assert stage_node.get("/tuned/hello").headers["x-cache"] == "Miss"
    assert stage_node.get("/tuned/hello").headers["x-cache"] == "Hit"

    api.update_stage(
        restApiId="shop",
        stageName="tuned",
        patchOperations=[
            {"op": "replace", "path": "/*/*/caching/enabled", "value": "false"},
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "1"},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "1"},
        ],
    )
    answers = [stage_node.get("/tuned/hello") for _ in range(5)]
    assert answers[0].status_code == 200
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert limited[0].json() == {"message": "Too Many Requests"}
    assert "retry-after" in {k.lower() for k in limited[0].headers}
    # A stage without these settings is not throttled by them.
    assert all(stage_node.get("/beta/hello").status_code == 200 for _ in range(5))
    api.delete_stage(restApiId="shop", stageName="tuned")
    api.delete_deployment(restApiId="shop", deploymentId=deployment["id"])


def test_run_time_stages(stage_node: Endpoints, backend: str) -> None:
    node = stage_node
    api = node.client()
    unknown_stage = node.get("/nosuchstage/hello")
    deployment = api.create_deployment(restApiId="shop", description="for dev")
    assert api.get_deployment(restApiId="shop", deploymentId=deployment["id"])["description"] == "for dev"

    created = api.create_stage(
        restApiId="shop",
        stageName="dev",
        deploymentId=deployment["id"],
        description="the dev stage",
        variables={"color": "blue"},
    )
    assert (created["stageName"], created["deploymentId"]) == ("dev", deployment["id"])
    assert created["variables"] == {"color": "blue"}
    assert isinstance(created["createdDate"], datetime.datetime)
    assert node.get("/dev/hello").text == "v1"

    stages = {s["stageName"]: s for s in api.get_stages(restApiId="shop")["item"]}
    assert set(stages) == {"prod", "beta", "dev"}
    assert stages["prod"]["cacheClusterEnabled"] is True
    assert stages["dev"]["description"] == "the dev stage"

    # API Gateway's errors: a name the file uses, an unknown deployment, a bad name.
    for kwargs, expected in [
        ({"stageName": "prod", "deploymentId": deployment["id"]}, (409, "ConflictException")),
        ({"stageName": "qa", "deploymentId": "nosuchid"}, (404, "NotFoundException")),
        ({"stageName": "q a", "deploymentId": deployment["id"]}, (400, "BadRequestException")),
    ]:
        with pytest.raises(ClientError) as refused:
            api.create_stage(restApiId="shop", **kwargs)
        assert error_code(refused) == expected, kwargs

    updated = api.update_stage(
        restApiId="shop",
        stageName="dev",
        patchOperations=[
            {"op": "replace", "path": "/variables/color", "value": "green"},
            {"op": "replace", "path": "/variables/size", "value": "xl"},
            {"op": "remove", "path": "/variables/color"},
        ],
    )
    assert updated["variables"] == {"size": "xl"}
    assert api.get_stage(restApiId="shop", stageName="dev")["variables"] == {"size": "xl"}
    with pytest.raises(ClientError) as file_stage:
        api.update_stage(
            restApiId="shop",
            stageName="prod",
            patchOperations=[{"op": "replace", "path": "/variables/color", "value": "red"}],
        )
    assert error_code(file_stage) == (400, "BadRequestException")
    assert "`color`" in file_stage.value.response["Error"]["Message"]

    # The deployment stays while a stage serves it.
    with pytest.raises(ClientError) as in_use:
        api.delete_deployment(restApiId="shop", deploymentId=deployment["id"])
    assert error_code(in_use) == (400, "BadRequestException")
    assert "Active stages pointing to this deployment" in in_use.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as file_defined:
        api.delete_stage(restApiId="shop", stageName="prod")
    assert error_code(file_defined) == (400, "BadRequestException")

    # A restart (same data folder or database) serves the run-time stage.
    if isinstance(node, ServedNode):
        node.server.stop()
        node.server.start()
        gateway = [
            m.group(1)
            for m in (SERVE_GATEWAY_LINE.match(line.strip()) for line in node.server._stdout_lines)
            if m
        ]
        node.endpoints = {"operator": node.server.endpoint, "gateway": gateway[-1]}
        api = node.client()
    assert node.get("/dev/hello").text == "v1"
    assert api.get_stage(restApiId="shop", stageName="dev")["variables"] == {"size": "xl"}

    # On PostgreSQL a second node on the same database serves it too.
    if backend == "postgres":
        assert isinstance(node, ServedNode)
        second = GatehouseServer(
            database_url=node.server.database_url,
            extra_args=["--api", str(node.api_file)],
            name="gatehouse serve (second node)",
        )
        # One service: the second node shares the first one's master key.
        shutil.copy2(node.server.data_dir / "master.key", second.data_dir / "master.key")
        second.start()
        try:
            line = [
                m.group(1)
                for m in (SERVE_GATEWAY_LINE.match(l.strip()) for l in second._stdout_lines)
                if m
            ]
            assert requests.get(line[0] + "/dev/hello", timeout=30).text == "v1"
        finally:
            second.close()

    api.delete_stage(restApiId="shop", stageName="dev")
    gone = node.get("/dev/hello")
    assert (gone.status_code, gone.json()) == (unknown_stage.status_code, unknown_stage.json())
    assert "dev" not in [s["stageName"] for s in api.get_stages(restApiId="shop")["item"]]
    api.delete_deployment(restApiId="shop", deploymentId=deployment["id"])
    with pytest.raises(ClientError) as deleted:
        api.get_deployment(restApiId="shop", deploymentId=deployment["id"])
    assert error_code(deleted) == (404, "NotFoundException")
