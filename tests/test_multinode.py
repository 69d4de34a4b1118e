"""Several `gatehouse serve` processes on one PostgreSQL database are one service: users, pools,
groups, refresh tokens and signing keys are shared, so any node serves any request.

Both nodes get the same `--public-url` (as behind a load balancer) and the same master key (the
first node's generated `master.key`, copied before the second starts)."""

from __future__ import annotations

import shutil
from typing import Iterator

import pytest

from gatehouse_harness import (
    PASSWORD,
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    TokenVerifier,
    attrs,
    postgres_server_url,
    raises_cognito,
)

PUBLIC_URL = "http://gatehouse-cluster.test"


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[GatehouseServer, GatehouseServer]]:
    database = PostgresDatabase(postgres_server_url())
    started: list[GatehouseServer] = []
    try:
        first = GatehouseServer(database_url=database.url, public_url=PUBLIC_URL, name="node-a")
        started.append(first)
        first.start()
        second = GatehouseServer(database_url=database.url, public_url=PUBLIC_URL, name="node-b")
        started.append(second)
        master_key = first.data_dir / "master.key"
        assert master_key.exists(), "node-a generated no master.key to share with node-b"
        shutil.copy2(master_key, second.data_dir / "master.key")
        second.start()
        yield first, second
    finally:
        for node in reversed(started):
            node.close()
        database.drop()


@pytest.fixture(autouse=True)
def _nodes_stay_alive(nodes):
    yield
    for node in nodes:
        node.check_alive()


def test_user_signed_up_on_one_node_confirms_and_logs_in_on_the_other(nodes):
    a, b = nodes
    on_a = PoolFixture.create(a)
    on_b = PoolFixture(server=b, pool_id=on_a.pool_id, client_id=on_a.client_id)
    username, email = on_a.new_username()
    on_a.sign_up(username, email)
    code = on_a.code_for(email)  # delivered by node-a, into node-a's outbox
    on_b.confirm(username, code)
    tokens = on_b.tokens(username)
    assert tokens["AccessToken"]
    assert on_a.get_user(username)["UserStatus"] == "CONFIRMED"


def test_tokens_from_one_node_verify_and_work_on_the_other(nodes):
    a, b = nodes
    on_a = PoolFixture.create(a)
    on_b = PoolFixture(server=b, pool_id=on_a.pool_id, client_id=on_a.client_id)
    user = on_a.signed_up_user()
    tokens = on_b.tokens(user.username)

    verifier_a = TokenVerifier(a, on_a.pool_id)
    assert verifier_a.issuer == f"{PUBLIC_URL}/{on_a.pool_id}"
    assert verifier_a.id_token(tokens["IdToken"], on_a.client_id)["sub"] == user.sub
    assert verifier_a.access_token(tokens["AccessToken"])["username"] == user.username
    assert {k["kid"] for k in a.jwks(on_a.pool_id)["keys"]} == {k["kid"] for k in b.jwks(on_a.pool_id)["keys"]}

    got = a.public.get_user(AccessToken=tokens["AccessToken"])
    assert attrs(got["UserAttributes"])["sub"] == user.sub
    refreshed = on_a.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    assert TokenVerifier(b, on_a.pool_id).access_token(refreshed["AccessToken"])["sub"] == user.sub


def test_operator_changes_on_one_node_apply_on_the_other(nodes):
    a, b = nodes
    on_a = PoolFixture.create(a)
    on_b = PoolFixture(server=b, pool_id=on_a.pool_id, client_id=on_a.client_id)
    assert b.admin.describe_user_pool(UserPoolId=on_a.pool_id)["UserPool"]["Id"] == on_a.pool_id
    a.admin.create_group(UserPoolId=on_a.pool_id, GroupName="shared")
    user = on_a.admin_user()
    b.admin.admin_add_user_to_group(UserPoolId=on_a.pool_id, Username=user.username, GroupName="shared")
    tokens = on_b.tokens(user.username, PASSWORD)
    claims = TokenVerifier(a, on_a.pool_id).id_token(tokens["IdToken"], on_a.client_id)
    assert claims["cognito:groups"] == ["shared"]

    a.admin.admin_disable_user(UserPoolId=on_a.pool_id, Username=user.username)
    with raises_cognito("NotAuthorizedException"):
        on_b.refresh(tokens["RefreshToken"])
    with raises_cognito("NotAuthorizedException"):
        on_b.login(user.username)
