"""Lazy migration off Cognito: a pool names an upstream user pool (`gatehouse users migrate-from`),
and a user it does not have is looked up there at the first USER_PASSWORD_AUTH /
ADMIN_USER_PASSWORD_AUTH sign-in (InitiateAuth + GetUser upstream) or ForgotPassword (AdminGetUser,
signed with the AWS credentials the operator gave), created here with the upstream's attributes and
`sub`, then signed in locally. The upstream is a second gatehouse (whose AdminListUserAuthEvents
shows every sign-in it was asked for) and moto's Cognito (`moto_server` on loopback)."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.config
import pytest
import requests
from pycognito.aws_srp import AWSSRP

from gatehouse_harness import (
    OPERATOR_ACCESS_KEY_ID,
    OPERATOR_SECRET_ACCESS_KEY,
    OTHER_PASSWORD,
    PASSWORD,
    GatehouseServer,
    PoolFixture,
    TokenVerifier,
    attr_list,
    attrs,
    raises_cognito,
    unique,
    unique_email,
    wait_until,
)
from oauth_support import Browser, location, query_of, read_form
from ops_support import clean_env, gatehouse

CUSTOM = [{"Name": "tier", "AttributeDataType": "String", "Mutable": True}]
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
         "ALLOW_USER_SRP_AUTH"]


# === helpers ===


def db_args(server: GatehouseServer) -> list[str]:
    return ["--database-url", server.database_url] if server.database_url else []


def migrate_from(
    local: GatehouseServer,
    pool_id: str,
    *args: str,
    secret: str | None = None,
    env: dict[str, str] | None = None,
    tmp: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    extra = list(args)
    if secret is not None:
        assert tmp is not None
        path = tmp / f"secret-{unique('')}"
        path.write_text(secret + "\n")
        extra += ["--client-secret-file", str(path)]
    return gatehouse("users", "migrate-from", "--pool", pool_id, *extra, "--data-dir", str(local.data_dir),
                     *db_args(local), env=clean_env(**(env or {})))


def set_upstream(local: GatehouseServer, pool_id: str, upstream_pool: str, client_id: str, endpoint: str,
                 *extra: str, **kwargs: Any) -> str:
    done = migrate_from(local, pool_id, "--user-pool-id", upstream_pool, "--client-id", client_id,
                        "--endpoint-url", endpoint, *extra, **kwargs)
    assert done.returncode == 0, done.stderr
    return done.stdout


def auth_events(server: GatehouseServer, pool_id: str, username: str) -> int:
    """How many sign-ins the upstream gatehouse checked for this user."""
    return len(server.admin.admin_list_user_auth_events(
        UserPoolId=pool_id, Username=username, MaxResults=60)["AuthEvents"])


def local_users(pool: PoolFixture) -> list[str]:
    return [u["Username"] for u in pool.admin.list_users(UserPoolId=pool.pool_id)["Users"]]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def upstream(servers) -> Iterator[tuple[GatehouseServer, PoolFixture]]:
    """A second gatehouse playing the old user pool: custom:tier in its schema, an app client
    with a secret (so SECRET_HASH is needed)."""
    node = servers.new()
    pool = PoolFixture.create(node, pool_overrides={"Schema": CUSTOM}, ExplicitAuthFlows=FLOWS,
                              GenerateSecret=True)
    yield node, pool


def old_user(upstream_pool: PoolFixture, password: str = PASSWORD, **extra: str) -> tuple[str, str, str]:
    """(username, email, sub) of a CONFIRMED upstream user with a verified email, a given name
    and a tier."""
    username = unique("old-")
    email = unique_email("old")
    values = {"email": email, "email_verified": "true", "given_name": "Ada", "custom:tier": "gold", **extra}
    created = upstream_pool.admin.admin_create_user(
        UserPoolId=upstream_pool.pool_id, Username=username, UserAttributes=attr_list(values),
        MessageAction="SUPPRESS")["User"]
    upstream_pool.admin.admin_set_user_password(
        UserPoolId=upstream_pool.pool_id, Username=username, Password=password, Permanent=True)
    return username, email, attrs(created["Attributes"])["sub"]


def local_pool(server: GatehouseServer, **client: Any) -> PoolFixture:
    return PoolFixture.create(server, pool_overrides={"Schema": CUSTOM}, ExplicitAuthFlows=FLOWS, **client)


def migrating(server, upstream, tmp_path, *extra: str, **client: Any) -> PoolFixture:
    node, old = upstream
    pool = local_pool(server, **client)
    set_upstream(server, pool.pool_id, old.pool_id, old.client_id, node.endpoint, *extra,
                 secret=old.client_secret, tmp=tmp_path)
    return pool


# === against a second gatehouse ===


def test_a_first_sign_in_moves_the_user_with_its_attributes_and_the_next_stays_local(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path)
    username, email, sub = old_user(old)
    assert local_users(pool) == []

    tokens = pool.tokens(username)
    claims = TokenVerifier(server, pool.pool_id).id_token(tokens["IdToken"], pool.client_id)
    assert claims["cognito:username"] == username
    assert claims["sub"] == sub, "the upstream's sub is kept"
    assert (claims["email"], claims["given_name"], claims["custom:tier"]) == (email, "Ada", "gold")
    assert claims["email_verified"] is True
    here = pool.get_user(username)
    assert here["UserStatus"] == "CONFIRMED" and here["Enabled"]
    assert auth_events(node, old.pool_id, username) == 1

    # The second sign-in, a wrong password and a refresh are answered here: the upstream is not asked.
    pool.tokens(username)
    with raises_cognito("NotAuthorizedException"):
        pool.login(username, OTHER_PASSWORD)
    assert "AccessToken" in pool.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    assert auth_events(node, old.pool_id, username) == 1
    # The password moved with the user: ChangePassword checks the previous one here.
    pool.public.change_password(PreviousPassword=PASSWORD, ProposedPassword=OTHER_PASSWORD,
                                AccessToken=tokens["AccessToken"])
    pool.tokens(username, OTHER_PASSWORD)

    # ADMIN_USER_PASSWORD_AUTH migrates as well, and an email alias of the upstream is not a name here.
    other, _, _ = old_user(old)
    assert "AuthenticationResult" in pool.admin_login(other)
    assert sorted(local_users(pool)) == sorted([username, other])


def test_the_operator_sees_no_secret_and_can_stop_migrating(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path)
    shown = migrate_from(server, pool.pool_id, "--show")
    assert shown.returncode == 0, shown.stderr
    assert old.pool_id in shown.stdout and "with its secret, sealed" in shown.stdout
    assert old.client_secret not in shown.stdout + shown.stderr
    # The secret rests sealed: not in the SQLite file in clear.
    if not server.database_url:
        assert old.client_secret.encode() not in (server.data_dir / "gatehouse.db").read_bytes()
    # A flag value would show in the process list: there is none for secrets.
    refused = migrate_from(server, pool.pool_id, "--user-pool-id", old.pool_id, "--client-id", old.client_id,
                           "--client-secret", "x")
    assert refused.returncode != 0
    # http:// only to this machine; a malformed pool id is refused.
    for bad in (["--endpoint-url", "http://192.0.2.1:8000/"], ["--user-pool-id", "not-a-pool"]):
        args = ["--user-pool-id", old.pool_id, "--client-id", old.client_id, "--endpoint-url", node.endpoint]
        args[args.index(bad[0]) + 1] = bad[1]
        done = migrate_from(server, pool.pool_id, *args)
        assert done.returncode != 0 and "gatehouse: " in done.stderr

    off = migrate_from(server, pool.pool_id, "--off")
    assert off.returncode == 0, off.stderr
    username, _, _ = old_user(old)
    with raises_cognito("UserNotFoundException"):
        pool.login(username)
    assert local_users(pool) == [] and auth_events(node, old.pool_id, username) == 0


def test_a_wrong_password_or_an_unknown_name_creates_nothing_and_answers_alike(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path, PreventUserExistenceErrors="ENABLED")
    username, _, _ = old_user(old)
    with raises_cognito("NotAuthorizedException") as wrong:
        pool.login(username, OTHER_PASSWORD)
    with raises_cognito("NotAuthorizedException") as unknown:
        pool.login(unique("nobody-"), OTHER_PASSWORD)
    assert wrong.message == unknown.message == "Incorrect username or password."
    assert local_users(pool) == []
    # A client that does not hide which users exist says so, as for local users.
    legacy = pool.with_client(ExplicitAuthFlows=FLOWS, PreventUserExistenceErrors="LEGACY")
    with raises_cognito("UserNotFoundException"):
        legacy.login(unique("nobody-"))
    with raises_cognito("NotAuthorizedException"):
        legacy.login(username, OTHER_PASSWORD)
    assert local_users(pool) == []
    assert "AuthenticationResult" in pool.login(username)


def test_the_lockout_holds_before_the_upstream_is_asked(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path)
    username, _, _ = old_user(old)
    # Nine wrong passwords counted (each lockout waited out) lock the name for 16 s; attempts
    # refused while locked are answered here, unasked.
    counted, deadline = 0, time.monotonic() + 120
    while counted < 9 and time.monotonic() < deadline:
        with raises_cognito("NotAuthorizedException") as refused:
            pool.login(username, OTHER_PASSWORD)
        if refused.message == "Incorrect username or password.":
            counted += 1
        else:
            assert refused.message == "Password attempts exceeded"
            time.sleep(0.2)
    assert counted == 9
    assert auth_events(node, old.pool_id, username) == 9, "only the counted guesses reached the upstream"
    with raises_cognito("NotAuthorizedException") as locked:
        pool.login(username, PASSWORD)
    assert locked.message == "Password attempts exceeded"
    assert auth_events(node, old.pool_id, username) == 9
    assert local_users(pool) == []


def test_an_upstream_that_is_down_or_silent_is_a_clear_error_and_creates_nothing(server, upstream, tmp_path):
    node, old = upstream
    pool = local_pool(server)
    set_upstream(server, pool.pool_id, old.pool_id, old.client_id, f"http://127.0.0.1:{closed_port()}/",
                 secret=old.client_secret, tmp=tmp_path)
    username, _, _ = old_user(old)
    with raises_cognito("InternalErrorException", status=500) as down:
        pool.login(username)
    assert "could not be reached" in down.message and "nothing was changed" in down.message
    assert local_users(pool) == []

    # A listener that takes the connection and never answers: the call gives up after --timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        set_upstream(server, pool.pool_id, old.pool_id, old.client_id,
                     f"http://127.0.0.1:{silent.getsockname()[1]}/", "--timeout", "1",
                     secret=old.client_secret, tmp=tmp_path)
        with raises_cognito("InternalErrorException", status=500):
            pool.login(username)
    finally:
        silent.close()
    assert local_users(pool) == []
    # A wrong client secret is the operator's mistake, not the user's: the same clear error.
    set_upstream(server, pool.pool_id, old.pool_id, old.client_id, node.endpoint, secret="wrong-secret",
                 tmp=tmp_path)
    with raises_cognito("InternalErrorException", status=500):
        pool.login(username)
    assert local_users(pool) == []
    assert "wrong-secret" not in server.stderr_text(), "secrets never reach the logs"


def test_a_user_on_both_sides_signs_in_here_only(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path)
    username, _, _ = old_user(old, password=OTHER_PASSWORD)
    pool.admin.admin_create_user(UserPoolId=pool.pool_id, Username=username, MessageAction="SUPPRESS",
                                 UserAttributes=attr_list({"email": unique_email("here")}))
    pool.admin.admin_set_user_password(UserPoolId=pool.pool_id, Username=username, Password=PASSWORD,
                                       Permanent=True)
    pool.tokens(username, PASSWORD)
    with raises_cognito("NotAuthorizedException"):
        pool.login(username, OTHER_PASSWORD)
    assert auth_events(node, old.pool_id, username) == 0


def test_pools_whose_usernames_are_emails_migrate_by_email(server, servers, tmp_path):
    node = servers.new()
    old = PoolFixture.create(node, email_username=True, ExplicitAuthFlows=FLOWS)
    email = unique_email("by-email")
    created = old.admin.admin_create_user(UserPoolId=old.pool_id, Username=email, MessageAction="SUPPRESS",
                                          UserAttributes=attr_list({"email": email, "email_verified": "true",
                                                                    "name": "Grace"}))["User"]
    old.admin.admin_set_user_password(UserPoolId=old.pool_id, Username=email, Password=PASSWORD, Permanent=True)
    sub = attrs(created["Attributes"])["sub"]
    pool = PoolFixture.create(server, email_username=True, ExplicitAuthFlows=FLOWS)
    set_upstream(server, pool.pool_id, old.pool_id, old.client_id, node.endpoint)
    claims = TokenVerifier(server, pool.pool_id).id_token(pool.tokens(email)["IdToken"], pool.client_id)
    assert (claims["sub"], claims["cognito:username"], claims["email"], claims["name"]) == (sub, sub, email, "Grace")
    pool.tokens(email.upper().replace("@EXAMPLE.COM", "@example.com"))
    assert auth_events(node, old.pool_id, email) == 1


def test_the_hosted_sign_in_page_migrates_a_user_as_the_api_does(server, upstream, tmp_path):
    node, old = upstream
    callback = "http://localhost:8765/callback"
    pool = migrating(server, upstream, tmp_path, AllowedOAuthFlowsUserPoolClient=True,
                     AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
                     CallbackURLs=[callback], SupportedIdentityProviders=["COGNITO"])
    username, _, sub = old_user(old)
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = f"{server.endpoint}/{pool.pool_id}/oauth2/authorize?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": pool.client_id, "redirect_uri": callback,
        "scope": "openid", "state": "s-1", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    browser = Browser()
    to_login = location(browser.get(url), url)
    form = read_form(browser.get(to_login).text)
    answer = browser.post(urllib.parse.urljoin(to_login, form.action),
                          {"username": username, "password": PASSWORD, "_csrf": form.inputs["_csrf"]})
    back = location(answer, callback)
    assert back.startswith(callback) and query_of(back)["state"] == "s-1" and query_of(back)["code"]
    assert local_users(pool) == [username]
    assert attrs(pool.get_user(username)["UserAttributes"])["sub"] == sub
    assert auth_events(node, old.pool_id, username) == 1


def test_srp_cannot_carry_the_password_upstream_but_works_once_migrated(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path, PreventUserExistenceErrors="ENABLED")
    username, _, _ = old_user(old)

    def srp() -> dict[str, Any]:
        helper = AWSSRP(username=username, password=PASSWORD, pool_id=pool.pool_id, client_id=pool.client_id,
                        client=pool.public)
        auth = helper.get_auth_params()
        first = pool.public.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=auth)
        assert first["ChallengeName"] == "PASSWORD_VERIFIER"
        return pool.public.respond_to_auth_challenge(
            ClientId=pool.client_id, ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses=helper.process_challenge(first["ChallengeParameters"], auth))

    # Not migrated yet: SRP never sends the password, so there is nothing to ask upstream.
    with raises_cognito("NotAuthorizedException"):
        srp()
    assert local_users(pool) == [] and auth_events(node, old.pool_id, username) == 0
    pool.tokens(username)
    assert "AccessToken" in srp()["AuthenticationResult"]
    assert auth_events(node, old.pool_id, username) == 1


def test_concurrent_first_sign_ins_create_one_user(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path)
    username, _, sub = old_user(old)
    results: list[Any] = []

    def sign_in() -> None:
        client = server.client(unsigned=True)
        try:
            results.append(client.initiate_auth(
                ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})["AuthenticationResult"])
        except Exception as exc:  # noqa: BLE001 (reported below)
            results.append(exc)

    threads = [threading.Thread(target=sign_in) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, dict) for r in results), results
    assert len(results) == 6
    assert local_users(pool) == [username]
    assert attrs(pool.get_user(username)["UserAttributes"])["sub"] == sub


def test_a_temporary_password_upstream_asks_for_a_new_one_here(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path)
    username, email = unique("invited-"), unique_email("invited")
    old.admin.admin_create_user(UserPoolId=old.pool_id, Username=username, TemporaryPassword=OTHER_PASSWORD,
                                MessageAction="SUPPRESS",
                                UserAttributes=attr_list({"email": email, "custom:tier": "silver"}))
    challenge = pool.login(username, OTHER_PASSWORD)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert pool.get_user(username)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    done = pool.public.respond_to_auth_challenge(
        ClientId=pool.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD})
    claims = TokenVerifier(server, pool.pool_id).id_token(done["AuthenticationResult"]["IdToken"], pool.client_id)
    assert (claims["email"], claims["custom:tier"]) == (email, "silver")
    # The upstream still holds its invited user: the new password lives here only.
    assert old.get_user(username)["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_forgot_password_migrates_with_admin_get_user(server, upstream, tmp_path):
    node, old = upstream
    pool = local_pool(server, PreventUserExistenceErrors="ENABLED")
    # Without AWS credentials ForgotPassword cannot look anyone up: answered as for anybody unknown.
    set_upstream(server, pool.pool_id, old.pool_id, old.client_id, node.endpoint, secret=old.client_secret,
                 tmp=tmp_path)
    username, email, sub = old_user(old)
    simulated = pool.public.forgot_password(ClientId=pool.client_id, Username=username)
    assert simulated["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert local_users(pool) == []

    # With the upstream's credentials (here the upstream gatehouse's operator key), AdminGetUser
    # finds the user, who arrives RESET_REQUIRED and gets a code like any user.
    set_upstream(server, pool.pool_id, old.pool_id, old.client_id, node.endpoint, "--aws-credentials-from-env",
                 secret=old.client_secret, tmp=tmp_path,
                 env={"AWS_ACCESS_KEY_ID": OPERATOR_ACCESS_KEY_ID,
                      "AWS_SECRET_ACCESS_KEY": OPERATOR_SECRET_ACCESS_KEY})
    shown = migrate_from(server, pool.pool_id, "--show").stdout
    assert OPERATOR_ACCESS_KEY_ID in shown and OPERATOR_SECRET_ACCESS_KEY not in shown
    sent = pool.public.forgot_password(ClientId=pool.client_id, Username=username)
    assert sent["CodeDeliveryDetails"]["AttributeName"] == "email"
    here = pool.get_user(username)
    assert here["UserStatus"] == "RESET_REQUIRED"
    assert attrs(here["UserAttributes"])["sub"] == sub
    code = pool.code_for(email, purpose="ForgotPassword")
    pool.public.confirm_forgot_password(ClientId=pool.client_id, Username=username, ConfirmationCode=code,
                                        Password=OTHER_PASSWORD)
    assert "AccessToken" in pool.tokens(username, OTHER_PASSWORD)
    assert auth_events(node, old.pool_id, username) == 0, "a reset never signs in upstream"
    # A name the upstream does not know either: nothing created, the same simulated answer.
    pool.public.forgot_password(ClientId=pool.client_id, Username=unique("nobody-"))
    assert local_users(pool) == [username]


def test_an_mfa_user_upstream_must_reset(server, upstream, tmp_path):
    node, old = upstream
    pool = migrating(server, upstream, tmp_path)
    username, _, _ = old_user(old)
    # The upstream answers the password with an email code challenge.
    old.admin.set_user_pool_mfa_config(UserPoolId=old.pool_id, MfaConfiguration="OPTIONAL",
                                       EmailMfaConfiguration={"Message": "code {####}", "Subject": "code"})
    old.admin.admin_set_user_mfa_preference(UserPoolId=old.pool_id, Username=username,
                                            EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
    assert old.login(username).get("ChallengeName") == "EMAIL_OTP"
    with raises_cognito("PasswordResetRequiredException"):
        pool.login(username)
    assert local_users(pool) == [], "no credentials for AdminGetUser: nothing to create from"


# === against moto's Cognito ===


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """`moto_server` on a free loopback port; its endpoint."""
    port = closed_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "1"})
    endpoint = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        try:
            return requests.get(endpoint + "moto-api/", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    try:
        assert wait_until(up, timeout=30), "moto_server did not start"
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def moto_client(endpoint: str) -> Any:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1").client(
        "cognito-idp", endpoint_url=endpoint, config=botocore.config.Config(retries={"total_max_attempts": 1}))


def moto_pool(endpoint: str) -> tuple[Any, str, str]:
    idp = moto_client(endpoint)
    pool_id = idp.create_user_pool(PoolName=unique("moto-"), Schema=[
        {"Name": "tier", "AttributeDataType": "String", "Mutable": True}])["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app",
                                            ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    return idp, pool_id, client_id


def moto_user(idp: Any, pool_id: str) -> tuple[str, str, str]:
    username, email = unique("moto-"), unique_email("moto")
    created = idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
                                    UserAttributes=attr_list({"email": email, "email_verified": "true",
                                                              "custom:tier": "bronze", "family_name": "Lovelace"}))
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    return username, email, attrs(created["User"]["Attributes"])["sub"]


def test_moto_a_user_moves_at_sign_in_and_then_needs_no_upstream(server, moto):
    idp, upstream_pool, client_id = moto_pool(moto)
    pool = local_pool(server, PreventUserExistenceErrors="ENABLED")
    set_upstream(server, pool.pool_id, upstream_pool, client_id, moto)
    username, email, sub = moto_user(idp, upstream_pool)

    with raises_cognito("NotAuthorizedException"):
        pool.login(username, OTHER_PASSWORD)
    with raises_cognito("NotAuthorizedException"):
        pool.login(unique("nobody-"))
    assert local_users(pool) == []

    claims = TokenVerifier(server, pool.pool_id).id_token(pool.tokens(username)["IdToken"], pool.client_id)
    assert (claims["sub"], claims["email"], claims["family_name"], claims["custom:tier"]) == (
        sub, email, "Lovelace", "bronze")

    # The upstream goes away: the migrated user signs in all the same, a user still there does not.
    later, _, _ = moto_user(idp, upstream_pool)
    set_upstream(server, pool.pool_id, upstream_pool, client_id, f"http://127.0.0.1:{closed_port()}/")
    pool.tokens(username)
    with raises_cognito("InternalErrorException", status=500):
        pool.login(later)
    assert local_users(pool) == [username]


def test_moto_forgot_password_migrates_with_credentials(server, moto):
    idp, upstream_pool, client_id = moto_pool(moto)
    pool = local_pool(server)
    set_upstream(server, pool.pool_id, upstream_pool, client_id, moto, "--aws-credentials-from-env",
                 env={"AWS_ACCESS_KEY_ID": "AKIAMOTOTESTING0001", "AWS_SECRET_ACCESS_KEY": "testing"})
    username, email, sub = moto_user(idp, upstream_pool)
    pool.public.forgot_password(ClientId=pool.client_id, Username=username)
    assert pool.get_user(username)["UserStatus"] == "RESET_REQUIRED"
    code = pool.code_for(email, purpose="ForgotPassword")
    pool.public.confirm_forgot_password(ClientId=pool.client_id, Username=username, ConfirmationCode=code,
                                        Password=OTHER_PASSWORD)
    claims = TokenVerifier(server, pool.pool_id).id_token(pool.tokens(username, OTHER_PASSWORD)["IdToken"],
                                                          pool.client_id)
    assert (claims["sub"], claims["custom:tier"]) == (sub, "bronze")
    with raises_cognito("UserNotFoundException"):
        pool.public.forgot_password(ClientId=pool.client_id, Username=unique("nobody-"))
    assert local_users(pool) == [username]
