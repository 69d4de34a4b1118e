"""Disabled and deleted users are signed out everywhere: after boto3's AdminDisableUser,
AdminDeleteUser or DeleteUser, GetUser and the gateway's COGNITO_USER_POOLS authorizer refuse
every access and id token issued before (401 `{"message": "Unauthorized"}` at the gateway,
although it had verified and cached them), and the refresh tokens are revoked. Password resets
(ConfirmForgotPassword, AdminSetUserPassword, AdminResetUserPassword) revoke the refresh tokens.

On two nodes sharing a PostgreSQL database, a user disabled through one node is refused by the
other node's gateway once its revocation refresh has run (every second), which the test waits
for by polling. The gateway pattern (a mock route behind the authorizer, the pool id written
into the definition and reloaded with SIGHUP) is test_gateway_sign_out's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from gatehouse_harness import (
    OTHER_PASSWORD,
    PASSWORD,
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    postgres_server_url,
    raises_cognito,
)
from test_gateway_sign_out import (
    DEFINITION,
    UNAUTHORIZED,
    call,
    gateway_url,
    serve_pool,
    wait_for,
)


@pytest.fixture
def gateway_node(backend: str, tmp_path: Path) -> Iterator[tuple[GatehouseServer, PoolFixture, str]]:
    """One node on `backend` serving the authorizer route for a fresh pool."""
    api_file = tmp_path / "api.yaml"
    api_file.write_text(DEFINITION.replace("POOL", "us-east-1_placeholder"))
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    server = GatehouseServer(
        database_url=database.url if database else None,
        extra_args=["--api", str(api_file)],
        name=f"gatehouse[{backend}]",
    )
    try:
        server.start()
        pool = PoolFixture.create(server)
        serve_pool(api_file, server, pool.pool_id)
        yield server, pool, gateway_url(server)
    finally:
        server.close()
        if database is not None:
            database.drop()


def signed_in(pool: PoolFixture, gateway: str, prefix: str) -> tuple[str, dict]:
    """A confirmed user and its tokens, both already accepted (and cached) by the gateway."""
    user = pool.signed_up_user(prefix)
    tokens = pool.tokens(user.username)
    wait_for(gateway, tokens["AccessToken"], 200)
    assert call(gateway, tokens["IdToken"])[0] == 200
    return user.username, tokens


def assert_signed_out(pool: PoolFixture, gateway: str, tokens: dict) -> None:
    assert call(gateway, tokens["AccessToken"]) == UNAUTHORIZED
    assert call(gateway, tokens["IdToken"]) == UNAUTHORIZED
    with raises_cognito({"NotAuthorizedException", "UserNotFoundException"}):
        pool.public.get_user(AccessToken=tokens["AccessToken"])
    with raises_cognito("NotAuthorizedException"):
        pool.refresh(tokens["RefreshToken"])


def test_disabled_and_deleted_users_are_refused_by_the_gateway_at_once(gateway_node) -> None:
    server, pool, gateway = gateway_node
    disabled, disabled_tokens = signed_in(pool, gateway, "off")
    deleted, deleted_tokens = signed_in(pool, gateway, "gone")
    own, own_tokens = signed_in(pool, gateway, "self")
    bystander, bystander_tokens = signed_in(pool, gateway, "other")

    pool.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=disabled)
    assert_signed_out(pool, gateway, disabled_tokens)
    pool.admin.admin_delete_user(UserPoolId=pool.pool_id, Username=deleted)
    assert_signed_out(pool, gateway, deleted_tokens)
    pool.public.delete_user(AccessToken=own_tokens["AccessToken"])
    assert call(gateway, own_tokens["AccessToken"]) == UNAUTHORIZED
    assert call(gateway, own_tokens["IdToken"]) == UNAUTHORIZED
    # Other users are untouched.
    assert call(gateway, bystander_tokens["AccessToken"]) == (200, {"me": True})

    # Enabled again, the user signs in with new tokens that pass (the old ones stay refused).
    pool.admin.admin_enable_user(UserPoolId=pool.pool_id, Username=disabled)
    fresh = pool.tokens(disabled)
    wait_for(gateway, fresh["AccessToken"], 200)
    assert call(gateway, disabled_tokens["AccessToken"]) == UNAUTHORIZED
    server.check_alive()
    assert disabled_tokens["AccessToken"] not in server.stderr_text(), "a token was logged"


def test_password_resets_revoke_refresh_tokens(server: GatehouseServer) -> None:
    pool = PoolFixture.create(server)
    user = pool.signed_up_user("reset")

    def revoked(refresh_token: str) -> None:
        with raises_cognito("NotAuthorizedException") as refused:
            pool.refresh(refresh_token)
        assert refused.message == "Refresh Token has been revoked"

    # ChangePassword keeps them (the user proved the old password).
    kept = pool.tokens(user.username)
    pool.public.change_password(
        AccessToken=kept["AccessToken"], PreviousPassword=PASSWORD, ProposedPassword=OTHER_PASSWORD
    )
    assert pool.refresh(kept["RefreshToken"])["AuthenticationResult"]["AccessToken"]

    before = pool.tokens(user.username, OTHER_PASSWORD)
    pool.admin.admin_set_user_password(
        UserPoolId=pool.pool_id, Username=user.username, Password=PASSWORD, Permanent=True
    )
    revoked(before["RefreshToken"])

    before = pool.tokens(user.username, PASSWORD)
    pool.public.forgot_password(ClientId=pool.client_id, Username=user.username)
    code = pool.code_for(user.email, purpose="ForgotPassword")
    pool.public.confirm_forgot_password(
        ClientId=pool.client_id, Username=user.username, ConfirmationCode=code, Password=OTHER_PASSWORD
    )
    revoked(before["RefreshToken"])

    # AdminResetUserPassword: a reset code, RESET_REQUIRED, refresh tokens revoked.
    before = pool.tokens(user.username, OTHER_PASSWORD)
    pool.admin.admin_reset_user_password(UserPoolId=pool.pool_id, Username=user.username)
    assert pool.get_user(user.username)["UserStatus"] == "RESET_REQUIRED"
    revoked(before["RefreshToken"])
    with raises_cognito("PasswordResetRequiredException"):
        pool.login(user.username, OTHER_PASSWORD)
    code = pool.code_for(user.email, purpose="ForgotPassword", count=2)
    pool.public.confirm_forgot_password(
        ClientId=pool.client_id, Username=user.username, ConfirmationCode=code, Password=PASSWORD
    )
    assert pool.tokens(user.username, PASSWORD)["AccessToken"]
    # Without a verified address there is nothing to reset with.
    username, email = pool.new_username("unverified")
    pool.sign_up(username, email)
    with raises_cognito("InvalidParameterException"):
        pool.admin.admin_reset_user_password(UserPoolId=pool.pool_id, Username=username)
    with raises_cognito("UserNotFoundException"):
        pool.admin.admin_reset_user_password(UserPoolId=pool.pool_id, Username="nobody-here")


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[GatehouseServer, GatehouseServer, Path]]:
    """Two nodes on one PostgreSQL database serving `api.yaml` (test_gateway_sign_out's setup)."""
    import shutil

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


def test_a_user_disabled_on_one_node_is_refused_by_the_other_nodes_gateway(two_nodes) -> None:
    a, b, api_file = two_nodes
    pool = PoolFixture.create(a)
    serve_pool(api_file, a, pool.pool_id)
    serve_pool(api_file, b, pool.pool_id)
    gateway_a, gateway_b = gateway_url(a), gateway_url(b)
    on_b = PoolFixture(server=b, pool_id=pool.pool_id, client_id=pool.client_id)
    users = {}
    for prefix in ["off", "gone"]:
        user = pool.signed_up_user(prefix)
        tokens = pool.tokens(user.username)
        wait_for(gateway_a, tokens["AccessToken"], 200)
        wait_for(gateway_b, tokens["AccessToken"], 200)
        users[prefix] = (user.username, tokens)

    on_b.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=users["off"][0])
    on_b.admin.admin_delete_user(UserPoolId=pool.pool_id, Username=users["gone"][0])
    for username, tokens in users.values():
        assert call(gateway_b, tokens["AccessToken"]) == UNAUTHORIZED
        # Node a learns of it from its revocation refresh.
        wait_for(gateway_a, tokens["AccessToken"], 401, timeout=5)
        wait_for(gateway_a, tokens["IdToken"], 401, timeout=5)
        with raises_cognito({"NotAuthorizedException", "UserNotFoundException"}):
            pool.public.get_user(AccessToken=tokens["AccessToken"])
    for node in (a, b):
        node.check_alive()
        assert "panicked" not in node.stderr_text()
