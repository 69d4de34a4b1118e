"""Sign-up and user enumeration, through the wire:

- SignUp refuses developer-only attributes with Cognito's `NotAuthorizedException` "A client
  attempted to write unauthorized attribute" (only the operator API writes them);
- with `PreventUserExistenceErrors=ENABLED`, ForgotPassword, ResendConfirmationCode,
  ConfirmSignUp and ConfirmForgotPassword answer a confirmed, an unconfirmed, a disabled and
  an unknown user alike: the same error type and message, or `CodeDeliveryDetails` of the
  same shape (masking the address asked about). Whether they also take the same time is a
  measurement, not a test (a loaded machine moves wall-clock times): the median latencies of
  each kind are measured by `scripts/bench/enumeration_timing.py`, with its latest results in
  `docs/benchmarks.md`;
- `USER_SRP_AUTH` (pycognito's `AWSSRP`) gives a name nobody holds a `PASSWORD_VERIFIER`
  challenge like a real, an unconfirmed and a disabled user's — the same parameters, a
  `SALT` and a UUID `USER_ID_FOR_SRP` that stay the same from call to call, a fresh `SRP_B`,
  a `SECRET_BLOCK` of the same length — and the same "Incorrect username or password." for
  a wrong password.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any, Iterator

import requests
from pycognito.aws_srp import AWSSRP

from gatehouse_harness import (
    JSON_CONTENT_TYPE,
    PASSWORD,
    TARGET_PREFIX,
    GatehouseServer,
    PoolFixture,
    attr_list,
    raises_cognito,
    unique,
)

SRP_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

# Users of each kind; every one is asked at most ROUNDS times per operation, which stays
# within the code sends (5) and guesses (5) a user gets per hour and purpose.
USERS_PER_KIND = 10
ROUNDS = 4
KINDS = ["confirmed", "unconfirmed", "disabled", "unknown"]
OPERATIONS = ["ForgotPassword", "ResendConfirmationCode", "ConfirmSignUp", "ConfirmForgotPassword"]


def mask(email: str) -> str:
    """Cognito's masked email: first letter, `***@`, first letter of the domain, `***`."""
    local, domain = email.split("@", 1)
    return f"{local[0]}***@{domain[0]}***"


def test_sign_up_refuses_developer_only_attributes(server: GatehouseServer) -> None:
    schema = [{"Name": "role", "AttributeDataType": "String", "DeveloperOnlyAttribute": True, "Mutable": True}]
    pool = PoolFixture.create(server, pool_overrides={"Schema": schema})
    username, email = pool.new_username("dev")
    with raises_cognito("NotAuthorizedException") as refused:
        pool.sign_up(username, email, attributes={"custom:role": "admin"})
    assert refused.message == "A client attempted to write unauthorized attribute"
    assert pool.admin.list_users(UserPoolId=pool.pool_id, Filter=f'username = "{username}"')["Users"] == []
    # The operator API may write it.
    created = pool.admin.admin_create_user(
        UserPoolId=pool.pool_id,
        Username=username,
        UserAttributes=attr_list({"email": email, "custom:role": "admin"}),
        MessageAction="SUPPRESS",
    )["User"]
    assert {"Name": "custom:role", "Value": "admin"} in created["Attributes"]


class Caller:
    """Posts Cognito JSON requests over one keep-alive connection and times each."""

    def __init__(self, server: GatehouseServer, client_id: str) -> None:
        self.server = server
        self.client_id = client_id
        self.session = requests.Session()

    def call(self, operation: str, username: str) -> tuple[float, tuple[Any, ...]]:
        body: dict[str, Any] = {"ClientId": self.client_id, "Username": username}
        if operation in ("ConfirmSignUp", "ConfirmForgotPassword"):
            # Codes are digits: this one is wrong for everybody. With a weak password the
            # policy would tell a real user apart if it were checked before the code.
            body["ConfirmationCode"] = "abcdef"
        if operation == "ConfirmForgotPassword":
            body["Password"] = "weak"
        started = time.perf_counter()
        response = self.session.post(
            self.server.endpoint,
            json=body,
            headers={"Content-Type": JSON_CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation},
            timeout=30,
        )
        elapsed = time.perf_counter() - started
        return elapsed, answer(response, username)


def answer(response: requests.Response, username: str) -> tuple[Any, ...]:
    """What a client learns from a response, with the masked address checked against the
    name that was asked about."""
    body = response.json()
    if response.status_code != 200:
        return ("error", response.status_code, body.get("__type"), body.get("message"))
    details = body.get("CodeDeliveryDetails")
    if details is None:
        return ("ok", tuple(sorted(body)))
    return (
        "ok",
        tuple(sorted(body)),
        tuple(sorted(details)),
        details.get("DeliveryMedium"),
        details.get("AttributeName"),
        details.get("Destination") == mask(username),
    )


def interleaved_calls(
    caller: Caller, users: dict[str, list[str]], shuffle: random.Random
) -> Iterator[tuple[str, str, float, tuple[Any, ...]]]:
    """Every operation, ROUNDS times for every user, the kinds in a shuffled order within each
    round so that drift and noise hit every kind alike: (operation, kind, seconds, answer)."""
    for operation in OPERATIONS:
        for _ in range(ROUNDS):
            for i in range(USERS_PER_KIND):
                order = list(KINDS)
                shuffle.shuffle(order)
                for kind in order:
                    elapsed, seen = caller.call(operation, users[kind][i])
                    yield operation, kind, elapsed, seen


def make_users(pool: PoolFixture) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for _ in range(USERS_PER_KIND):
        users["confirmed"].append(pool.signed_up_user("real").username)
        username, email = pool.new_username("pending")
        pool.sign_up(username, email)
        users["unconfirmed"].append(username)
        disabled = pool.signed_up_user("off").username
        pool.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=disabled)
        users["disabled"].append(disabled)
        users["unknown"].append(f"{unique('ghost')}@example.com")
    return users


def test_unknown_users_get_the_answers_of_real_ones(server: GatehouseServer) -> None:
    # Email is the username, so a simulated delivery masks the address a real one would.
    pool = PoolFixture.create(server, email_username=True, PreventUserExistenceErrors="ENABLED")
    users = make_users(pool)
    caller = Caller(server, pool.client_id)
    shuffle = random.Random(20261202)
    answers: dict[str, set[tuple[Any, ...]]] = {op: set() for op in OPERATIONS}
    for operation, _kind, _elapsed, seen in interleaved_calls(caller, users, shuffle):
        answers[operation].add(seen)

    for operation in OPERATIONS:
        assert len(answers[operation]) == 1, f"{operation} told users apart: {answers[operation]}"
    (forgot,) = answers["ForgotPassword"]
    assert forgot[0] == "ok" and forgot[-1] is True, forgot
    (confirm,) = answers["ConfirmSignUp"]
    assert confirm[2] == "CodeMismatchException", confirm
    (reset,) = answers["ConfirmForgotPassword"]
    assert reset[2] == "CodeMismatchException", "the code is judged before the password"

    # Only the real users got codes: the confirmed one a reset code, the unconfirmed one
    # sign-up codes; nobody else was sent anything.
    # (Written in the background: wait for the last of them first.)
    server.wait_for_message(pool_id=pool.pool_id, purpose="ForgotPassword", count=USERS_PER_KIND * ROUNDS)
    server.wait_for_message(
        pool_id=pool.pool_id, purpose="ResendConfirmationCode", count=USERS_PER_KIND * ROUNDS
    )
    destinations = {m["destination"] for m in server.messages(pool_id=pool.pool_id, purpose="ForgotPassword")}
    assert destinations == set(users["confirmed"])
    resent = {m["destination"] for m in server.messages(pool_id=pool.pool_id, purpose="ResendConfirmationCode")}
    assert resent == set(users["unconfirmed"])
    server.check_alive()
    assert PASSWORD not in server.stderr_text()


def srp_challenge(pool: PoolFixture, helper: AWSSRP) -> tuple[dict[str, str], dict[str, str]]:
    """USER_SRP_AUTH as pycognito starts it: (its auth parameters, the challenge's)."""
    auth = helper.get_auth_params()
    first = pool.public.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=auth)
    assert first["ChallengeName"] == "PASSWORD_VERIFIER", first
    return auth, first["ChallengeParameters"]


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text and uuid.UUID(text).version == 4
    except ValueError:
        return False


def test_srp_answers_a_name_nobody_holds_as_it_answers_users(server: GatehouseServer) -> None:
    pool = PoolFixture.create(
        server, email_username=True, PreventUserExistenceErrors="ENABLED", ExplicitAuthFlows=SRP_FLOWS
    )
    # Names of one length, so a secret block that carries the name is of one length too.
    names = {kind: f"{kind[:4]}{uuid.uuid4().hex[:12]}@example.com" for kind in KINDS}
    for kind in ("confirmed", "disabled"):
        pool.sign_up(names[kind], names[kind])
        pool.confirm(names[kind], pool.code_for(names[kind]))
    pool.sign_up(names["unconfirmed"], names["unconfirmed"])
    pool.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=names["disabled"])

    seen: dict[str, tuple[Any, ...]] = {}
    for kind in KINDS:
        helper = AWSSRP(
            username=names[kind], password="Wrong-Password-1!", pool_id=pool.pool_id,
            client_id=pool.client_id, client=pool.public,
        )
        auth, first = srp_challenge(pool, helper)
        _, again = srp_challenge(pool, helper)
        assert first["SALT"] == again["SALT"], f"{kind}: the salt stays"
        assert first["USER_ID_FOR_SRP"] == again["USER_ID_FOR_SRP"], f"{kind}: the id stays"
        assert first["SRP_B"] != again["SRP_B"], f"{kind}: B is new each time"
        assert is_uuid(first["USER_ID_FOR_SRP"]), f"{kind}: {first['USER_ID_FOR_SRP']} is the UUID a username is here"
        assert first["USERNAME"] == first["USER_ID_FOR_SRP"]
        with raises_cognito("NotAuthorizedException") as refused:
            pool.public.respond_to_auth_challenge(
                ClientId=pool.client_id,
                ChallengeName="PASSWORD_VERIFIER",
                ChallengeResponses=helper.process_challenge(first, auth),
            )
        seen[kind] = (tuple(sorted(first)), len(first["SECRET_BLOCK"]), refused.message)
    assert len(set(seen.values())) == 1, f"SRP told users apart: {seen}"
    assert seen["unknown"][2] == "Incorrect username or password."
    # The real user signs in all the same.
    helper = AWSSRP(
        username=names["confirmed"], password=PASSWORD, pool_id=pool.pool_id,
        client_id=pool.client_id, client=pool.public,
    )
    assert "AuthenticationResult" in helper.authenticate_user()
    server.check_alive()
