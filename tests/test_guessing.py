"""What stops guessing, through boto3 and raw requests, on servers with the default limits:

- the lockout: five wrong passwords, then `NotAuthorizedException` "Password attempts exceeded"
  even for the right one, until the lockout ends (waited for by polling, never timed); on two
  nodes sharing PostgreSQL the failures on both count together;
- codes: five sends per user and purpose per hour, five guesses per user and purpose whatever
  the number of codes sent (`LimitExceededException`);
- the rate limit per source address (20/s, burst 40): `TooManyRequestsException` with
  `Retry-After`; behind a trusted proxy each forwarded client has its own bucket, while an
  untrusted peer's `X-Forwarded-For` changes nothing;
- common passwords refused, unless the pool tag `gatehouse:reject-common-passwords` is `false`.
"""

from __future__ import annotations

import shutil
from typing import Iterator

import pytest
import requests

from gatehouse_harness import (
    DEFAULT_LIMITS_CONFIG,
    JSON_CONTENT_TYPE,
    PASSWORD,
    TARGET_PREFIX,
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    postgres_server_url,
    raises_cognito,
    raw_error,
    unique,
    wait_until,
)

WRONG = "Wrong-Password-0!"
LOCKED = "Password attempts exceeded"
LIMIT = "Attempt limit exceeded, please try after some time."


@pytest.fixture(scope="module")
def limited(backend: str) -> Iterator[GatehouseServer]:
    """A server with the default limits (the suite's servers raise the rate limit)."""
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    server = GatehouseServer(
        database_url=database.url if database else None,
        config=DEFAULT_LIMITS_CONFIG,
        name=f"gatehouse[{backend}, default limits]",
    )
    try:
        yield server.start()
    finally:
        server.close()
        if database is not None:
            database.drop()


def refused_with(fn, code: str) -> str:
    with raises_cognito(code) as refused:
        fn()
    return refused.message


def test_five_wrong_passwords_lock_the_account_until_the_lockout_ends(limited) -> None:
    pool = PoolFixture.create(limited)
    user = pool.signed_up_user("lock")
    for attempt in range(5):
        message = refused_with(lambda: pool.login(user.username, WRONG), "NotAuthorizedException")
        assert message == "Incorrect username or password.", attempt
    # Locked: the right password is refused too, through either flow.
    assert refused_with(lambda: pool.login(user.username), "NotAuthorizedException") == LOCKED
    assert refused_with(lambda: pool.admin_login(user.username), "NotAuthorizedException") == LOCKED
    # Refused attempts while locked are not counted: the lockout ends and the right password
    # works (polled, never timed).

    def signs_in() -> bool:
        try:
            return bool(pool.tokens(user.username)["AccessToken"])
        except Exception as exc:  # noqa: BLE001 - still locked
            assert LOCKED in str(exc), exc
            return False

    assert wait_until(signs_in, timeout=30, interval=0.2)
    # The success reset the count: four failures lock nothing.
    for _ in range(4):
        refused_with(lambda: pool.login(user.username, WRONG), "NotAuthorizedException")
    assert pool.tokens(user.username)["AccessToken"]


def test_change_password_counts_towards_the_lockout_and_unknown_names_lock_alike(limited) -> None:
    pool = PoolFixture.create(limited, PreventUserExistenceErrors="ENABLED")
    user = pool.signed_up_user("change")
    access = pool.tokens(user.username)["AccessToken"]
    for _ in range(5):
        refused_with(
            lambda: pool.public.change_password(
                AccessToken=access, PreviousPassword=WRONG, ProposedPassword="Another-Pass-4!"
            ),
            "NotAuthorizedException",
        )
    assert refused_with(lambda: pool.login(user.username), "NotAuthorizedException") == LOCKED
    ghost = unique("ghost-")
    answers = []
    for _ in range(6):
        answers.append(refused_with(lambda: pool.login(ghost, WRONG), "NotAuthorizedException"))
    assert answers == ["Incorrect username or password."] * 5 + [LOCKED]


def test_code_sends_and_guesses_are_limited_per_user(limited) -> None:
    pool = PoolFixture.create(limited)
    user = pool.signed_up_user("codes")
    for _ in range(5):
        pool.public.forgot_password(ClientId=pool.client_id, Username=user.username)
    # The outbox is written in the background: wait for the five, then check no sixth comes.
    limited.wait_for_message(pool_id=pool.pool_id, purpose="ForgotPassword", count=5)
    sent = len(limited.messages(pool_id=pool.pool_id, purpose="ForgotPassword"))
    assert sent == 5
    assert refused_with(
        lambda: pool.public.forgot_password(ClientId=pool.client_id, Username=user.username),
        "LimitExceededException",
    ) == LIMIT
    assert len(limited.messages(pool_id=pool.pool_id, purpose="ForgotPassword")) == sent
    code = pool.code_for(user.email, purpose="ForgotPassword", count=5)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        refused_with(
            lambda: pool.public.confirm_forgot_password(
                ClientId=pool.client_id, Username=user.username, ConfirmationCode=wrong, Password=PASSWORD
            ),
            "CodeMismatchException",
        )
    # The guesses belong to the user: the right code is refused now.
    assert refused_with(
        lambda: pool.public.confirm_forgot_password(
            ClientId=pool.client_id, Username=user.username, ConfirmationCode=code, Password=PASSWORD
        ),
        "LimitExceededException",
    ) == LIMIT


def initiate_auth(server: GatehouseServer, client_id: str, headers: dict[str, str] | None = None) -> requests.Response:
    body = {
        "ClientId": client_id,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "nobody-at-all", "PASSWORD": WRONG},
    }
    return requests.post(
        server.endpoint,
        json=body,
        headers={
            "Content-Type": JSON_CONTENT_TYPE,
            "X-Amz-Target": TARGET_PREFIX + "InitiateAuth",
            **(headers or {}),
        },
        timeout=30,
    )


def until_limited(server: GatehouseServer, client_id: str, headers: dict[str, str] | None = None) -> int:
    """Sends until the limit answers; returns how many got through before."""
    for sent in range(2000):
        response = initiate_auth(server, client_id, headers)
        if response.status_code == 400 and raw_error(response)[0] == "TooManyRequestsException":
            assert int(response.headers["Retry-After"]) >= 1
            return sent
    raise AssertionError("never limited after 2000 requests")


# The default burst (40) with a refill of one request a second, so that what the test observes
# does not depend on how fast this machine sends (at the default 20 a second, a slow loop would
# be refilled between two requests). The default rate itself is pinned by the unit tests on a
# fake clock.
SLOW_REFILL_CONFIG = DEFAULT_LIMITS_CONFIG + "[rate_limit]\nper_second = 1\nburst = 40\n"


@pytest.fixture
def fresh_limited(backend: str) -> Iterator[GatehouseServer]:
    """A server of its own, slow to refill: no other test drew from its buckets."""
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    server = GatehouseServer(
        database_url=database.url if database else None,
        config=SLOW_REFILL_CONFIG,
        name=f"gatehouse[{backend}, fresh buckets]",
    )
    try:
        yield server.start()
    finally:
        server.close()
        if database is not None:
            database.drop()


def test_the_rate_limit_per_address_and_forwarded_addresses(fresh_limited, backend: str) -> None:
    limited = fresh_limited
    pool = PoolFixture.create(limited)
    # The burst: 40 get through at once (a second's refill may add one).
    assert 40 <= until_limited(limited, pool.client_id) <= 41
    # An untrusted peer's X-Forwarded-For does not open new buckets: of 20 requests naming 20
    # other clients, only what the rate refills in the meantime gets through.
    through = 0
    for i in range(20):
        response = initiate_auth(limited, pool.client_id, {"X-Forwarded-For": f"198.51.100.{i}"})
        through += raw_error(response)[0] != "TooManyRequestsException"
    assert through < 20, "forwarding headers from an untrusted peer dodged the limit"

    # Behind a trusted proxy each forwarded client has its own bucket.
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    proxied = GatehouseServer(
        database_url=database.url if database else None,
        config=SLOW_REFILL_CONFIG,
        extra_args=["--trusted-proxy", "127.0.0.1"],
        name=f"gatehouse[{backend}, behind a proxy]",
    )
    try:
        proxied.start()
        behind = PoolFixture.create(proxied)
        first = {"X-Forwarded-For": "203.0.113.1"}
        assert until_limited(proxied, behind.client_id, first) >= 40
        second = initiate_auth(proxied, behind.client_id, {"X-Forwarded-For": "203.0.113.2"})
        assert raw_error(second)[0] == "UserNotFoundException", "another client is not limited"
        # A client cannot escape by prepending addresses: the proxy's hop is what counts. (One
        # may get through on a second's refill; ten cannot.)
        spoofed = [
            raw_error(initiate_auth(proxied, behind.client_id, {"X-Forwarded-For": "192.0.2.9, 203.0.113.1"}))[0]
            for _ in range(10)
        ]
        assert spoofed.count("TooManyRequestsException") >= 8, spoofed
    finally:
        proxied.close()
        if database is not None:
            database.drop()


def test_common_passwords_are_refused_unless_the_pool_tag_turns_the_check_off(server) -> None:
    lax = {"MinimumLength": 8, "RequireUppercase": False, "RequireLowercase": True,
           "RequireNumbers": True, "RequireSymbols": False}
    pool = PoolFixture.create(server, pool_overrides={"Policies": {"PasswordPolicy": lax}})
    username, email = pool.new_username("common")
    message = refused_with(lambda: pool.sign_up(username, email, password="password1"), "InvalidPasswordException")
    assert message == "Password did not conform with policy: Password is too common"
    user = pool.signed_up_user("common2")
    refused_with(
        lambda: pool.admin.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=user.username, Password="Qwerty123", Permanent=True
        ),
        "InvalidPasswordException",
    )
    off = PoolFixture.create(
        server,
        pool_overrides={
            "Policies": {"PasswordPolicy": lax},
            "UserPoolTags": {"gatehouse:reject-common-passwords": "false"},
        },
    )
    username, email = off.new_username("allowed")
    off.sign_up(username, email, password="password1")
    with raises_cognito("InvalidParameterException"):
        PoolFixture.create(server, pool_overrides={"UserPoolTags": {"gatehouse:reject-common-passwords": "maybe"}})


@pytest.fixture
def two_limited_nodes(tmp_path) -> Iterator[tuple[GatehouseServer, GatehouseServer]]:
    """Two nodes with the default limits on one PostgreSQL database."""
    database = PostgresDatabase(postgres_server_url())
    started: list[GatehouseServer] = []
    try:
        for name in ["node-a", "node-b"]:
            node = GatehouseServer(
                database_url=database.url,
                public_url="http://gatehouse-cluster.test",
                config=DEFAULT_LIMITS_CONFIG,
                name=name,
            )
            if started:
                shutil.copy2(started[0].data_dir / "master.key", node.data_dir / "master.key")
            started.append(node)
            node.start()
        yield started[0], started[1]
    finally:
        for node in reversed(started):
            node.close()
        database.drop()


def test_the_lockout_holds_across_two_nodes(two_limited_nodes) -> None:
    a, b = two_limited_nodes
    on_a = PoolFixture.create(a)
    on_b = PoolFixture(server=b, pool_id=on_a.pool_id, client_id=on_a.client_id)
    user = on_a.signed_up_user("nodes")
    for attempt in range(5):
        node = on_a if attempt % 2 == 0 else on_b
        refused_with(lambda: node.login(user.username, WRONG), "NotAuthorizedException")
    # Five failures across the two nodes: both refuse the right password now.
    assert refused_with(lambda: on_b.login(user.username), "NotAuthorizedException") == LOCKED
    assert refused_with(lambda: on_a.login(user.username), "NotAuthorizedException") == LOCKED
    # Code sends are counted for both nodes too.
    for attempt in range(5):
        node = on_a if attempt % 2 == 0 else on_b
        node.public.forgot_password(ClientId=on_a.client_id, Username=user.username)
    assert refused_with(
        lambda: on_b.public.forgot_password(ClientId=on_a.client_id, Username=user.username),
        "LimitExceededException",
    ) == LIMIT
    for node in (a, b):
        node.check_alive()
        assert "panicked" not in node.stderr_text()
