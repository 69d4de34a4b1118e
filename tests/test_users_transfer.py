"""`gatehouse users export` / `users import`: users move from one service to another without a
password reset. The export carries attributes, status, groups and MFA settings, and the
argon2id hash, SRP verifier and TOTP seed sealed under a transfer key (never in clear); the
second service, with its own database and master key, signs the users in with their old
password (USER_PASSWORD_AUTH), with SRP (pycognito) and with their TOTP app (pyotp). A wrong
key, or a line given another line's secrets, is refused before anything is written."""

from __future__ import annotations

import base64
import json

import pytest

from gatehouse_harness import PASSWORD, PoolFixture, TokenVerifier, unverified_claims
from ops_support import clean_env, gatehouse, one_error_line, random_master_key
from test_srp_mfa import SRP_FLOWS, enrol_totp, sign_in_with_totp, srp, wait_for_early_in_step


@pytest.fixture
def transfer_key(tmp_path):
    path = tmp_path / "transfer.key"
    path.write_text(random_master_key() + "\n")
    path.chmod(0o600)
    return path


def export(server, pool_id: str, out, key) -> str:
    done = gatehouse("users", "export", "--pool", pool_id, "--output", str(out), "--key-file", str(key),
                     "--data-dir", str(server.data_dir), *db_args(server))
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o077 == 0
    return out.read_text()


def db_args(server) -> list[str]:
    return ["--database-url", server.database_url] if server.database_url else []


def test_users_move_with_their_password_srp_verifier_totp_and_groups(servers, tmp_path, transfer_key):
    source = servers.new()
    pool = PoolFixture.create(source, pool_overrides={"MfaConfiguration": "OPTIONAL"},
                              ExplicitAuthFlows=SRP_FLOWS)
    plain = pool.signed_up_user("plain")
    source.admin.create_group(UserPoolId=pool.pool_id, GroupName="staff", Description="the staff")
    source.admin.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=plain.username, GroupName="staff")
    with_totp = pool.signed_up_user("totp")
    totp = enrol_totp(pool, pool.tokens(with_totp.username)["AccessToken"])
    disabled = pool.signed_up_user("disabled")
    source.admin.admin_disable_user(UserPoolId=pool.pool_id, Username=disabled.username)

    text = export(source, pool.pool_id, tmp_path / "users.jsonl", transfer_key)
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["type"] == "pool" and lines[0]["id"] == pool.pool_id
    assert lines[0]["format"] == "gatehouse-users/1"
    users = {line["username"]: line for line in lines[1:]}
    assert set(users) == {plain.username, with_totp.username, disabled.username}
    assert users[plain.username]["groups"] == ["staff"]
    assert users[with_totp.username]["mfa"]["totp_enabled"] is True
    assert set(users[with_totp.username]["sealed"]) == {"password_hash", "srp_verifier", "totp_secret"}
    # Never in clear: no PHC hash, no TOTP seed (base32 or raw) anywhere in the file.
    assert "$argon2" not in text and "argon2id" not in text
    seed = base64.b32decode(totp.secret + "=" * (-len(totp.secret) % 8))
    assert totp.secret not in text and base64.b64encode(seed).decode() not in text

    target = servers.new(extra_env={"GATEHOUSE_MASTER_KEY": random_master_key()})
    done = gatehouse("users", "import", "--input", str(tmp_path / "users.jsonl"), "--key-file", str(transfer_key),
                     "--data-dir", str(target.data_dir), *db_args(target),
                     env=clean_env(GATEHOUSE_MASTER_KEY=target.extra_env["GATEHOUSE_MASTER_KEY"]))
    assert done.returncode == 0, done.stderr
    assert "imported 3 users" in done.stderr
    moved = PoolFixture(server=target, pool_id=pool.pool_id,
                        client_id=target.admin.create_user_pool_client(
                            UserPoolId=pool.pool_id, ClientName="app", ExplicitAuthFlows=SRP_FLOWS,
                        )["UserPoolClient"]["ClientId"])

    # The old password, by USER_PASSWORD_AUTH; same sub, same groups.
    tokens = moved.tokens(plain.username)
    claims = TokenVerifier(target, pool.pool_id).id_token(tokens["IdToken"], moved.client_id)
    assert claims["sub"] == plain.sub
    assert unverified_claims(tokens["AccessToken"])["cognito:groups"] == ["staff"]
    assert target.admin.get_group(UserPoolId=pool.pool_id, GroupName="staff")["Group"]["GroupName"] == "staff"
    # SRP with the carried-over verifier (the pool kept its id).
    result = srp(moved, plain.username).authenticate_user()["AuthenticationResult"]
    assert unverified_claims(result["IdToken"])["sub"] == plain.sub
    with pytest.raises(Exception):
        srp(moved, plain.username, "Wrong-Password-1!").authenticate_user()
    # TOTP: the old app's codes, challenged as before.
    now = wait_for_early_in_step()
    answered = sign_in_with_totp(moved, with_totp.username, totp, now + 30)
    assert unverified_claims(answered["AuthenticationResult"]["IdToken"])["sub"] == with_totp.sub
    # Status and enabled flag as they were.
    got = target.admin.admin_get_user(UserPoolId=pool.pool_id, Username=disabled.username)
    assert got["Enabled"] is False and got["UserStatus"] == "CONFIRMED"

    # A second import changes nothing.
    again = gatehouse("users", "import", "--input", str(tmp_path / "users.jsonl"), "--key-file", str(transfer_key),
                      "--data-dir", str(target.data_dir), *db_args(target),
                      env=clean_env(GATEHOUSE_MASTER_KEY=target.extra_env["GATEHOUSE_MASTER_KEY"]))
    assert again.returncode == 0, again.stderr
    assert "imported 0 users" in again.stderr and "3 already there" in again.stderr


def test_a_wrong_key_or_swapped_secrets_are_refused_before_anything_is_written(servers, tmp_path, transfer_key):
    source = servers.new()
    pool = PoolFixture.create(source)
    first, second = pool.signed_up_user("one"), pool.signed_up_user("two")
    text = export(source, pool.pool_id, tmp_path / "users.jsonl", transfer_key)
    target = servers.new()

    def run_import(path, key) -> str:
        return one_error_line(gatehouse("users", "import", "--input", str(path), "--key-file", str(key),
                                        "--data-dir", str(target.data_dir), *db_args(target)))

    wrong = tmp_path / "wrong.key"
    wrong.write_text(random_master_key())
    line = run_import(tmp_path / "users.jsonl", wrong)
    assert "does not open with this key" in line and "line 2" in line

    # The second user's line given the first user's sealed hash: the seal names its user.
    lines = [json.loads(line) for line in text.splitlines()]
    by_name = {line.get("username"): line for line in lines}
    by_name[second.username]["sealed"]["password_hash"] = by_name[first.username]["sealed"]["password_hash"]
    swapped = tmp_path / "swapped.jsonl"
    swapped.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert "does not open with this key" in run_import(swapped, transfer_key)

    bad = tmp_path / "bad.jsonl"
    bad.write_text(text.splitlines()[0] + "\n{not json\n")
    assert "line 2" in run_import(bad, transfer_key)
    assert "no transfer key" in one_error_line(
        gatehouse("users", "export", "--pool", pool.pool_id, "--data-dir", str(source.data_dir), *db_args(source)))

    pools = target.admin.list_user_pools(MaxResults=60)["UserPools"]
    assert pool.pool_id not in [p["Id"] for p in pools], "nothing was written"
