"""`gatehouse keys rotate --pool ID`: new ID and access token signing keys; tokens signed by the
old keys keep verifying (their keys stay in the JWKS) while new tokens carry the new kids."""

from __future__ import annotations

import subprocess

import jwt

from gatehouse_harness import PoolFixture, TokenVerifier, gatehouse_bin


def rotate(server, pool_id: str) -> subprocess.CompletedProcess[str]:
    args = [str(gatehouse_bin()), "keys", "rotate", "--pool", pool_id] + server.command()[4:]
    return subprocess.run(args, env=server.environment(), capture_output=True, text=True, timeout=60)


def kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_rotation_signs_with_new_keys_and_keeps_old_tokens_valid(servers):
    # A fixed public URL: the issuer must not change with the port of the restarted server.
    server = servers.new(public_url="http://gatehouse.test")
    pool = PoolFixture.create(server)
    user = pool.signed_up_user("rotate")
    before = pool.tokens(user.username)
    old_kids = {kid(before["IdToken"]), kid(before["AccessToken"])}
    assert len(old_kids) == 2, "ID and access tokens have their own keys"

    server.stop()
    result = rotate(server, pool.pool_id)
    assert result.returncode == 0, result.stderr
    assert "id token:" in result.stdout and "access token:" in result.stdout, result.stdout
    server.start()

    after = pool.tokens(user.username)
    new_kids = {kid(after["IdToken"]), kid(after["AccessToken"])}
    assert new_kids.isdisjoint(old_kids), "new tokens are signed by the new keys"
    verifier = TokenVerifier(server, pool.pool_id)
    assert old_kids | new_kids <= set(verifier.keys), "the JWKS holds old and new keys"
    assert verifier.id_token(before["IdToken"], pool.client_id)["sub"] == user.sub
    assert verifier.id_token(after["IdToken"], pool.client_id)["sub"] == user.sub
    # The old access token still works against the API, not only against the JWKS.
    assert pool.public.get_user(AccessToken=before["AccessToken"])["Username"] == user.username


def test_rotating_an_unknown_pool_fails_with_its_name(servers):
    server = servers.new()
    server.stop()
    result = rotate(server, "us-east-1_NoSuchOne")
    assert result.returncode == 1
    assert "us-east-1_NoSuchOne" in result.stderr
