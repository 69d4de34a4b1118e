"""The passwordless example (`examples/triggers/passwordless/server.py`) behind the real binary:
its three endpoints registered with `--function`, signed with the shared secret
(`GATEHOUSE_FUNCTION_SECRET`), and a user signing in through it.

- boto3: `CUSTOM_AUTH` with only a username, a wrong code answered again in the same sign-in,
  the emailed code, tokens; the spent session refused; three wrong codes end the sign-in;
  the operator twins (AdminInitiateAuth / AdminRespondToAuthChallenge);
- a name nobody holds, on a client that hides which users exist: the same challenge, no mail,
  never tokens; on one that does not: `UserNotFoundException`;
- what gatehouse refuses before any trigger runs: a client without `ALLOW_CUSTOM_AUTH`, a pool
  without the triggers;
- the example refuses a call gatehouse did not sign;
- amazon-cognito-identity-js (`tests/node/custom_auth_js.mjs`): `initiateAuth` with the
  `customChallenge` callback, and `authenticateUser` with the flow type `CUSTOM_AUTH` (the
  password by SRP, then the code).

The example writes its emails to an outbox folder of its own; the tests read the codes there.
Everything runs on SQLite and on PostgreSQL (the `backend` fixture).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from gatehouse_harness import (
    PASSWORD,
    REPO_ROOT,
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    TokenVerifier,
    postgres_server_url,
    raises_cognito,
    unique,
    unique_email,
    wait_until,
)

EXAMPLE = REPO_ROOT / "examples" / "triggers" / "passwordless" / "server.py"
NODE_SCRIPT = REPO_ROOT / "tests" / "node" / "custom_auth_js.mjs"
ACCOUNT = "123456789012"
DEFINE = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:passwordless-define"
CREATE = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:passwordless-create"
VERIFY = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:passwordless-verify"
LAMBDA_CONFIG = {
    "DefineAuthChallenge": DEFINE,
    "CreateAuthChallenge": CREATE,
    "VerifyAuthChallengeResponse": VERIFY,
}
FLOWS = ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
LISTENING = re.compile(r"^passwordless triggers listening on (http://127\.0\.0\.1:\d+/)\s*$")


class Example:
    """The example server as a process of its own, on a free loopback port."""

    def __init__(self, secret: str) -> None:
        self.outbox = Path(tempfile.mkdtemp(prefix="passwordless-outbox-"))
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--listen", "127.0.0.1:0", "--outbox", str(self.outbox)],
            env={**os.environ, "PASSWORDLESS_SIGNING_SECRET": secret},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = LISTENING.match(line)
        if not match:
            self.close()
            raise AssertionError(f"the example did not start: {line!r}")
        self.url = match.group(1)

    def mails(self, to: str) -> list[dict[str, Any]]:
        found = []
        for path in sorted(self.outbox.glob("*.json")):
            mail = json.loads(path.read_text())
            if mail["to"] == to:
                found.append(mail)
        return found

    def code(self, to: str, count: int = 1) -> str:
        assert wait_until(lambda: len(self.mails(to)) >= count), f"no email number {count} to {to}"
        text = self.mails(to)[count - 1]["text"]
        match = re.search(r"\b(\d{6})\b", text)
        assert match, text
        return match.group(1)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.outbox, ignore_errors=True)


@pytest.fixture(scope="module")
def secret() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="module")
def example(secret: str) -> Iterator[Example]:
    running = Example(secret)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def server(backend: str, example: Example, secret: str) -> Iterator[GatehouseServer]:
    """gatehouse with the example's three functions, on `backend`."""
    database = PostgresDatabase(postgres_server_url()) if backend == "postgres" else None
    args: list[str] = []
    for arn in (DEFINE, CREATE, VERIFY):
        args += ["--function", f"{arn}={example.url}"]
    running = GatehouseServer(
        database_url=database.url if database else None,
        name=f"gatehouse[{backend}]",
        extra_args=args,
        extra_env={"GATEHOUSE_FUNCTION_SECRET": secret},
    )
    try:
        running.start()
        yield running
    finally:
        running.close()
        if database:
            database.drop()


@pytest.fixture(scope="module")
def pool(server: GatehouseServer) -> PoolFixture:
    return PoolFixture.create(server, pool_overrides={"LambdaConfig": LAMBDA_CONFIG}, ExplicitAuthFlows=FLOWS)


def new_user(pool: PoolFixture) -> tuple[str, str]:
    """A confirmed user with a verified email and a password (for the SRP chain)."""
    username, email = unique("pwless-"), unique_email("pwless")
    pool.admin.admin_create_user(
        UserPoolId=pool.pool_id,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    pool.admin.admin_set_user_password(UserPoolId=pool.pool_id, Username=username, Password=PASSWORD, Permanent=True)
    return username, email


def start(pool: PoolFixture, username: str, client_id: str | None = None) -> dict[str, Any]:
    return pool.public.initiate_auth(
        ClientId=client_id or pool.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username}
    )


def answer(pool: PoolFixture, challenge: dict[str, Any], answer: str, client_id: str | None = None) -> dict[str, Any]:
    return pool.public.respond_to_auth_challenge(
        ClientId=client_id or pool.client_id,
        ChallengeName="CUSTOM_CHALLENGE",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": challenge["ChallengeParameters"]["USERNAME"], "ANSWER": answer},
    )


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_boto3_signs_in_with_the_emailed_code_after_a_wrong_one(pool: PoolFixture, example: Example) -> None:
    username, email = new_user(pool)
    first = start(pool, username)
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert first["ChallengeParameters"] == {"email": email[0] + "***@" + email.split("@")[1], "USERNAME": username}
    code = example.code(email)
    # The private parameters (the code's digest) and the challenge metadata stay sealed in the
    # session: neither the code nor its digest is readable anywhere in the answer.
    assert code not in json.dumps(first)
    assert "digest" not in json.dumps(first) and "MAGIC_CODE" not in json.dumps(first)

    second = answer(pool, first, wrong(code))
    assert second["ChallengeName"] == "CUSTOM_CHALLENGE", "a wrong code: asked again in the same sign-in"
    assert second["Session"] != first["Session"]
    assert len(example.mails(email)) == 1, "the same code stands: no second email"
    # The first session was spent by that answer.
    with raises_cognito("NotAuthorizedException") as error:
        answer(pool, first, code)
    assert error.value.response["Error"]["Message"] == "Invalid session for the user, session can only be used once."

    done = answer(pool, second, code)
    tokens = done["AuthenticationResult"]
    claims = TokenVerifier(pool.server, pool.pool_id).id_token(tokens["IdToken"], pool.client_id)
    assert claims["cognito:username"] == username and claims["email"] == email
    assert pool.refresh(tokens["RefreshToken"])["AuthenticationResult"]["AccessToken"]


def test_three_wrong_codes_end_the_sign_in(pool: PoolFixture, example: Example) -> None:
    username, email = new_user(pool)
    challenge = start(pool, username)
    code = example.code(email)
    challenge = answer(pool, challenge, wrong(code))
    challenge = answer(pool, challenge, wrong(code))
    with raises_cognito("NotAuthorizedException") as error:
        answer(pool, challenge, wrong(code))
    assert error.value.response["Error"]["Message"] == "Incorrect username or password."


def test_the_operator_twins_run_the_same_chain(pool: PoolFixture, example: Example) -> None:
    username, email = new_user(pool)
    challenge = pool.admin.admin_initiate_auth(
        UserPoolId=pool.pool_id,
        ClientId=pool.client_id,
        AuthFlow="CUSTOM_AUTH",
        AuthParameters={"USERNAME": username},
        ClientMetadata={"channel": "back-office"},
    )
    assert challenge["ChallengeName"] == "CUSTOM_CHALLENGE"
    done = pool.admin.admin_respond_to_auth_challenge(
        UserPoolId=pool.pool_id,
        ClientId=pool.client_id,
        ChallengeName="CUSTOM_CHALLENGE",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "ANSWER": example.code(email)},
    )
    assert done["AuthenticationResult"]["AccessToken"]


def test_a_name_nobody_holds(pool: PoolFixture, example: Example) -> None:
    with raises_cognito("UserNotFoundException"):
        start(pool, unique("nobody-"))
    hiding = pool.new_client(ExplicitAuthFlows=FLOWS, PreventUserExistenceErrors="ENABLED")["ClientId"]
    name = unique("nobody-")
    challenge = start(pool, name, hiding)
    assert challenge["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert challenge["ChallengeParameters"]["USERNAME"] == name
    for guess in ("123456", "654321"):
        challenge = answer(pool, challenge, guess, hiding)
        assert challenge["ChallengeName"] == "CUSTOM_CHALLENGE"
    with raises_cognito("NotAuthorizedException") as error:
        answer(pool, challenge, "000000", hiding)
    assert error.value.response["Error"]["Message"] == "Incorrect username or password."


def test_refused_before_any_trigger_runs(server: GatehouseServer, pool: PoolFixture) -> None:
    username, _ = new_user(pool)
    without = pool.new_client(ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["ClientId"]
    with raises_cognito("InvalidParameterException") as error:
        start(pool, username, without)
    assert error.value.response["Error"]["Message"] == "CUSTOM_AUTH is not enabled for the client."

    plain = PoolFixture.create(server, ExplicitAuthFlows=FLOWS)
    with raises_cognito("InvalidParameterException") as error:
        start(plain, unique("anyone-"))
    assert error.value.response["Error"]["Message"] == "Custom auth lambda trigger is not configured for the user pool."


def test_the_example_refuses_calls_gatehouse_did_not_sign(example: Example) -> None:
    event = json.dumps({"triggerSource": "DefineAuthChallenge_Authentication", "request": {}, "response": {}}).encode()
    for headers in (
        {},
        {"X-Gatehouse-Timestamp": str(int(time.time())), "X-Gatehouse-Signature": "v1=" + "0" * 64},
    ):
        request = urllib.request.Request(example.url, data=event, headers={"Content-Type": "application/json", **headers})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401


def test_amazon_cognito_identity_js_custom_challenge(server: GatehouseServer, pool: PoolFixture, example: Example) -> None:
    node = shutil.which("node")
    assert node, "node is not installed: run ./scripts/test"
    username, email = new_user(pool)
    env = dict(os.environ)
    env.update(
        GATEHOUSE_ENDPOINT=server.endpoint + "/",
        POOL_ID=pool.pool_id,
        CLIENT_ID=pool.client_id,
        USERNAME=username,
        EMAIL=email,
        PASSWORD=PASSWORD,
        OUTBOX=str(example.outbox),
    )
    run = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(NODE_SCRIPT)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"node test failed:\n{run.stdout}\n{run.stderr}\n{server.stderr_text()[-4000:]}"
    assert "pass 2" in run.stdout, run.stdout
