"""The tenant example of `examples/triggers/tenant/`, end to end: a user pool whose
PreTokenGeneration trigger (V2_0) adds a `tenant` claim from a lookup, and a gateway route whose
Lambda authorizer lets a token through only with that claim — every function served by the
example's own `tenant_functions.py` on 127.0.0.1, registered with `--function`, unchanged.

- boto3 signs in (USER_PASSWORD_AUTH), the tokens carry the tenant the lookup gives (both the ID
  and the access token: a V2_0 answer), and the route answers with it;
- a user without a tenant gets tokens without the claim, and the route refuses them (403);
- no token, a forged token and a token whose claim was edited are 401;
- a refresh asks the trigger again (`TokenGeneration_RefreshTokens`) and keeps the claim;
- the event gatehouse sent has Cognito's fields.

Runs on SQLite and on PostgreSQL (the `backend` fixture).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from typing import Any, Iterator

import pytest
import requests

from gatehouse_harness import (
    REPO_ROOT,
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    postgres_server_url,
    unverified_claims,
)

EXAMPLE = REPO_ROOT / "examples" / "triggers" / "tenant"
SECRET = "tenant-example-secret-0123456789abcdef"
ACCOUNT = "123456789012"
CLAIMS = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:tenant-claims"
AUTHORIZER = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:tenant-authorizer"
APP = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:tenant-app"
SERVE_GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on (http://127\.0\.0\.1:\d+)\s*$")


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("tenant_functions", EXAMPLE / "tenant_functions.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tenant_functions = load_example()


@pytest.fixture(scope="module")
def functions() -> Iterator[Any]:
    server = tenant_functions.TenantFunctions(SECRET, issuers=[]).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def server(backend: str, functions: Any) -> Iterator[GatehouseServer]:
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    registrations: list[str] = []
    for arn, name in [(CLAIMS, "tenant-claims"), (AUTHORIZER, "tenant-authorizer"), (APP, "tenant-app")]:
        registrations += ["--function", f"{arn}={functions.url}/{name}"]
    server = GatehouseServer(
        database_url=database.url if database else None,
        extra_env={"GATEHOUSE_FUNCTION_SECRET": SECRET},
        extra_args=["--api", str(EXAMPLE / "gateway.yaml"), *registrations],
        name=f"gatehouse[{backend}]",
    )
    try:
        server.start()
        yield server
    finally:
        server.close()
        if database is not None:
            database.drop()


@pytest.fixture(scope="module")
def pool(server: GatehouseServer, functions: Any) -> PoolFixture:
    fixture = PoolFixture.create(
        server,
        pool_overrides={
            "LambdaConfig": {"PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": CLAIMS}}
        },
    )
    # The authorizer trusts this pool's issuer, and fetches keys from nowhere else.
    functions.checker.issuers.append(f"{server.endpoint}/{fixture.pool_id}")
    return fixture


def gateway_url(server: GatehouseServer) -> str:
    found = [m for m in (SERVE_GATEWAY_LINE.match(line.strip()) for line in server._stdout_lines) if m]
    assert found, f"no gateway listener line:\n{server.diagnostics()}"
    return found[-1].group(1)


def whoami(server: GatehouseServer, token: str | None) -> requests.Response:
    headers = {"Authorization": token} if token is not None else {}
    return requests.get(f"{gateway_url(server)}/tenant/whoami", headers=headers, timeout=30)


def last_event(functions: Any, name: str) -> dict[str, Any]:
    found = [event for (called, event) in functions.events if called == name]
    assert found, f"no call to {name}"
    return found[-1]


def test_the_tenant_claim_is_added_and_the_route_requires_it(
    server: GatehouseServer, pool: PoolFixture, functions: Any
) -> None:
    alice = pool.admin_user(attributes={"email": "alice@acme.example", "email_verified": "true"})
    tokens = pool.tokens(alice.username)
    id_claims = unverified_claims(tokens["IdToken"])
    access_claims = unverified_claims(tokens["AccessToken"])
    assert id_claims["tenant"] == "acme"
    assert access_claims["tenant"] == "acme"
    # Nothing else moved: the standard claims are gatehouse's.
    assert access_claims["scope"] == "aws.cognito.signin.user.admin"
    assert id_claims["email"] == "alice@acme.example" and id_claims["sub"] == alice.sub

    event = last_event(functions, "tenant-claims")
    assert event["version"] == "2"
    assert event["triggerSource"] == "TokenGeneration_Authentication"
    assert event["userPoolId"] == pool.pool_id and event["region"] == "us-east-1"
    assert event["userName"] == alice.username
    assert event["callerContext"]["clientId"] == pool.client_id
    assert event["request"]["userAttributes"]["email"] == "alice@acme.example"
    assert event["request"]["userAttributes"]["sub"] == alice.sub
    assert event["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    assert event["request"]["scopes"] == ["aws.cognito.signin.user.admin"]
    assert event["request"]["groupConfiguration"] == {
        "groupsToOverride": [],
        "iamRolesToOverride": [],
        "preferredRole": None,
    }

    answer = whoami(server, tokens["AccessToken"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"tenant": "acme", "user": alice.sub}
    assert last_event(functions, "tenant-authorizer")["type"] == "TOKEN"
    # The ID token carries it too (a REST API Cognito authorizer's usual token).
    assert whoami(server, f"Bearer {tokens['IdToken']}").json()["tenant"] == "acme"


def test_a_user_without_a_tenant_is_refused_by_the_route(server: GatehouseServer, pool: PoolFixture) -> None:
    bob = pool.admin_user(attributes={"email": "bob@elsewhere.example", "email_verified": "true"})
    # An address at a tenant's domain that nobody verified says nothing.
    mallory = pool.admin_user(attributes={"email": "mallory@acme.example", "email_verified": "false"})
    for user in (bob, mallory):
        tokens = pool.tokens(user.username)
        assert "tenant" not in unverified_claims(tokens["IdToken"])
        assert "tenant" not in unverified_claims(tokens["AccessToken"])
        refused = whoami(server, tokens["AccessToken"])
        assert refused.status_code == 403, refused.text


def test_tokens_the_authorizer_cannot_verify_are_401(server: GatehouseServer, pool: PoolFixture) -> None:
    assert whoami(server, None).status_code == 401
    assert whoami(server, "not-a-jwt").status_code == 401
    carol = pool.admin_user(attributes={"email": "carol@elsewhere.example", "email_verified": "true"})
    token = pool.tokens(carol.username)["AccessToken"]
    # Adding the claim by hand breaks the signature.
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant"] = "acme"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = whoami(server, f"{header}.{forged_payload}.{signature}")
    assert forged.status_code == 401, forged.text


def test_a_refresh_asks_the_trigger_again(server: GatehouseServer, pool: PoolFixture, functions: Any) -> None:
    dave = pool.admin_user(attributes={"email": "dave@globex.example", "email_verified": "true"})
    tokens = pool.tokens(dave.username)
    refreshed = pool.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    event = last_event(functions, "tenant-claims")
    assert event["triggerSource"] == "TokenGeneration_RefreshTokens"
    assert event["userName"] == dave.username
    assert unverified_claims(refreshed["AccessToken"])["tenant"] == "globex"
    answer = whoami(server, refreshed["AccessToken"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["tenant"] == "globex"
