"""The gateway's operator API driven by boto3's `apigateway` client, as an operator would.

API keys (the value shown once), usage plans, plan keys, GetUsage after real traffic through the
data plane, stage cache flushes, deployments and a stage rollback, and API Gateway's error shapes
for unsigned and wrongly signed calls. boto3 signs with service name `apigateway`, so this also
pins that the server verifies exactly what botocore signs.

`gatehouse serve --api FILE` on SQLite and on PostgreSQL, with the suite's fixed operator
credentials: the operator API on its identity listener, the data plane on its gateway listener.
"""

from __future__ import annotations

import abc
import datetime
import re
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
