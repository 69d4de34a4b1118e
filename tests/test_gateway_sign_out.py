"""Signed-out tokens at the API gateway: after boto3's `cognito-idp` GlobalSignOut, the
gateway's COGNITO_USER_POOLS authorizer refuses the same access token (and the id token of the
same sign-in) with 401 `{"message": "Unauthorized"}`, although it had verified and cached it.

On one node the refusal is immediate (the node that signs out updates its own view); on two
nodes sharing a PostgreSQL database the other node's gateway refuses it once its revocation
refresh has run (every second), which the multi-node test waits for by polling.

The gateway serves a mock route behind the authorizer. The pool id is known only after the
server runs, so the definition is written with a placeholder, then rewritten and reloaded with
SIGHUP.
"""

from __future__ import annotations

import re
import shutil
import signal
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from gatehouse_harness import (
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    postgres_server_url,
)

SERVE_GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on (http://127\.0\.0\.1:\d+)\s*$")
UNAUTHORIZED = (401, {"message": "Unauthorized"})

DEFINITION = """
version: 1
apis:
  shop:
    authorizers:
      users:
        type: cognito_user_pools
        user_pools: ["arn:aws:cognito-idp:us-east-1:000000000000:userpool/POOL"]
    resources:
      /me:
        GET:
          authorizer: users
          integration: {type: mock, status: 200, body: '{"me": true}'}
stages:
  shop:
    prod: {}
"""


def gateway_url(server: GatehouseServer) -> str:
    found = [
        m.group(1) for m in (SERVE_GATEWAY_LINE.match(line.strip()) for line in server._stdout_lines) if m
    ]
    assert found, f"no gateway listener line:\n{server.diagnostics()}"
    return found[-1]


def call(gateway: str, token: str) -> tuple[int, object]:
    r = requests.get(f"{gateway}/prod/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    try:
        body: object = r.json()
    except ValueError:
        body = r.text
    return r.status_code, body


def wait_for(gateway: str, token: str, status: int, timeout: float = 10.0) -> float:
    """Polls until the gateway answers `status` for `token`; returns the seconds it took."""
    started = time.monotonic()
    while True:
        got = call(gateway, token)
        if got[0] == status:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"still {got} after {timeout} s, wanted {status}"
        time.sleep(0.05)


def serve_pool(api_file: Path, server: GatehouseServer, pool_id: str) -> None:
    """Points the definition at `pool_id` and reloads it."""
    api_file.write_text(DEFINITION.replace("POOL", pool_id))
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)


def test_global_sign_out_makes_the_gateway_refuse_the_cached_token(backend: str, tmp_path: Path) -> None:
    api_file = tmp_path / "api.yaml"
    api_file.write_text(DEFINITION.replace("POOL", "us-east-1_placeholder"))
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    server = GatehouseServer(
        database_url=database.url if database else None,
        # Fixed, so the issuer (and the tokens) stay valid across the restart's new port.
        public_url="http://gatehouse-sign-out.test",
        extra_args=["--api", str(api_file)],
        name=f"gatehouse[{backend}]",
    )
    try:
        server.start()
        gateway = gateway_url(server)
        pool = PoolFixture.create(server)
        serve_pool(api_file, server, pool.pool_id)
        user = pool.signed_up_user("gw")
        tokens = pool.tokens(user.username)
        access, id_token = tokens["AccessToken"], tokens["IdToken"]
        # Reloaded and the pool's keys loaded: both tokens pass (and are now cached).
        wait_for(gateway, access, 200)
        assert call(gateway, id_token)[0] == 200
        assert call(gateway, access) == (200, {"me": True})

        pool.public.global_sign_out(AccessToken=access)
        # This node signed the user out, so its gateway refuses at once.
        assert call(gateway, access) == UNAUTHORIZED
        assert call(gateway, id_token) == UNAUTHORIZED
        # A sign-in after the sign-out works.
        fresh = pool.tokens(user.username)
        assert call(gateway, fresh["AccessToken"]) == (200, {"me": True})
        # The revocation survives a restart (loaded from storage before the gateway listens).
        server.stop()
        server.start()
        gateway = gateway_url(server)
        wait_for(gateway, fresh["AccessToken"], 200)
        assert call(gateway, access) == UNAUTHORIZED
        assert "panicked" not in server.stderr_text()
        assert access not in server.stderr_text(), "a token was logged"
    finally:
        server.close()
        if database is not None:
            database.drop()


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[GatehouseServer, GatehouseServer, Path]]:
    """Two nodes on one PostgreSQL database (several nodes need one; so no SQLite variant),
    with the same public URL and master key as in test_multinode, both serving `api.yaml`."""
    api_file = tmp_path / "api.yaml"
    api_file.write_text(DEFINITION.replace("POOL", "us-east-1_placeholder"))
    database = PostgresDatabase(postgres_server_url())
    started: list[GatehouseServer] = []
    try:
        for name in ["node-a", "node-b"]:
            node = GatehouseServer(
                database_url=database.url,
                public_url="http://gatehouse-cluster.test",
                extra_args=["--api", str(api_file)],
                name=name,
            )
            if started:
                shutil.copy2(started[0].data_dir / "master.key", node.data_dir / "master.key")
            started.append(node)
            node.start()
        yield started[0], started[1], api_file
    finally:
        for node in reversed(started):
            node.close()
        database.drop()


def test_global_sign_out_on_one_node_is_refused_by_the_other_nodes_gateway(
    two_nodes: tuple[GatehouseServer, GatehouseServer, Path],
) -> None:
    a, b, api_file = two_nodes
    pool = PoolFixture.create(a)
    serve_pool(api_file, a, pool.pool_id)
    assert b.process is not None
    b.process.send_signal(signal.SIGHUP)
    user = pool.signed_up_user("gw2")
    access = pool.tokens(user.username)["AccessToken"]
    gateway_a, gateway_b = gateway_url(a), gateway_url(b)
    wait_for(gateway_a, access, 200)
    wait_for(gateway_b, access, 200)

    pool.public.global_sign_out(AccessToken=access)
    assert call(gateway_a, access) == UNAUTHORIZED
    # Node b learns of it from its revocation refresh: one interval (1 s) plus a query.
    took = wait_for(gateway_b, access, 401, timeout=2.5)
    assert call(gateway_b, access) == UNAUTHORIZED
    print(f"node b refused the signed-out token after {took:.2f} s")
    for node in (a, b):
        node.check_alive()
        assert "panicked" not in node.stderr_text()
