"""`gatehouse serve` as a process: graceful shutdown, generated operator credentials and master
key, durability of users and signing keys across a restart, and the exit status of a bad config."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess

from gatehouse_harness import (
    INVALID_SIGNATURE,
    OPERATOR_ACCESS_KEY_ID,
    PASSWORD,
    GatehouseServer,
    PoolFixture,
    TokenVerifier,
    gatehouse_bin,
    raises_cognito,
)

FIXED_ISSUER_BASE = "http://gatehouse.test"


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sigterm_stops_the_server_with_exit_status_0(servers):
    server = servers.new()
    assert server.get("/health").status_code == 200
    assert server.stop() == 0, "SIGTERM must shut down gracefully with status 0\n" + server.diagnostics()


def test_generated_operator_credentials_are_stored_0600_and_sign_requests(servers):
    server = servers.new(operator_credentials=False)
    path = server.data_dir / "operator-credentials.json"
    assert path.exists(), f"no {path.name} in the data folder: {sorted(p.name for p in server.data_dir.iterdir())}"
    assert mode_of(path) == 0o600, oct(mode_of(path))
    creds = json.loads(path.read_text())
    assert creds["access_key_id"] and creds["secret_access_key"]
    assert creds["access_key_id"] != OPERATOR_ACCESS_KEY_ID
    assert creds["access_key_id"] in server.stderr_text(since_start=True), "first start prints the credentials"

    admin = server.client(access_key_id=creds["access_key_id"], secret_access_key=creds["secret_access_key"])
    assert "UserPools" in admin.list_user_pools(MaxResults=1)

    assert server.stop() == 0
    server.start()
    assert json.loads(path.read_text()) == creds, "credentials are generated once, then reused"
    assert creds["secret_access_key"] not in server.stderr_text(since_start=True), "printed only once"
    admin = server.client(access_key_id=creds["access_key_id"], secret_access_key=creds["secret_access_key"])
    assert "UserPools" in admin.list_user_pools(MaxResults=1)


def test_logs_written_to_a_file_are_plain_text(servers):
    server = servers.new()
    assert server.get("/health").status_code == 200
    log = server.stderr_text(since_start=True)
    assert "serving" in log, log
    assert "\x1b[" not in log, "terminal colour codes in a log that is not a terminal:\n" + log[:400]
    assert re.search(r"bound=127\.0\.0\.1:\d+", log), log[:400]


def test_master_key_is_generated_into_the_data_folder_with_mode_0600(servers):
    server = servers.new()
    path = server.data_dir / "master.key"
    assert path.exists(), f"no master.key in the data folder: {sorted(p.name for p in server.data_dir.iterdir())}"
    assert mode_of(path) == 0o600, oct(mode_of(path))


def test_users_pools_and_signing_keys_survive_a_restart(servers):
    server = servers.new(public_url=FIXED_ISSUER_BASE)
    fixture = PoolFixture.create(server)
    user = fixture.signed_up_user()
    tokens = fixture.tokens(user.username)
    kids_before = {k["kid"] for k in server.jwks(fixture.pool_id)["keys"]}

    assert server.stop() == 0
    server.start()

    verifier = TokenVerifier(server, fixture.pool_id)
    assert verifier.issuer == f"{FIXED_ISSUER_BASE}/{fixture.pool_id}"
    assert kids_before <= set(verifier.keys), "signing keys must persist across restarts"
    claims = verifier.id_token(tokens["IdToken"], fixture.client_id)
    assert claims["iss"] == f"{FIXED_ISSUER_BASE}/{fixture.pool_id}"
    assert server.public.get_user(AccessToken=tokens["AccessToken"])["Username"] == user.username
    assert fixture.refresh(tokens["RefreshToken"])["AuthenticationResult"]["AccessToken"]
    assert fixture.tokens(user.username, PASSWORD)["AccessToken"]


def test_invalid_config_file_exits_with_usage_status_64(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('no_such_setting = "x"\n')
    result = subprocess.run(
        [str(gatehouse_bin()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
         "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 64, f"status {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "gatehouse listening" not in result.stdout
    assert result.stderr.strip(), "a bad config explains itself on stderr"


def test_unknown_flag_value_for_database_url_exits_with_usage_status_64(tmp_path):
    result = subprocess.run(
        [str(gatehouse_bin()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
         "--database-url", "mysql://nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 64, f"status {result.returncode}\nstderr: {result.stderr}"


def test_region_and_account_id_flags_shape_pool_ids_arns_and_the_signing_region(servers):
    server: GatehouseServer = servers.new(extra_args=["--region", "eu-west-1", "--account-id", "123456789012"])
    admin = server.client(region="eu-west-1")
    pool = admin.create_user_pool(PoolName="regional")["UserPool"]
    assert re.fullmatch(r"eu-west-1_[0-9A-Za-z]{9}", pool["Id"]), pool["Id"]
    assert pool["Arn"] == f"arn:aws:cognito-idp:eu-west-1:123456789012:userpool/{pool['Id']}"
    # A signature scoped to the default region is now the wrong one.
    with raises_cognito(INVALID_SIGNATURE):
        server.client(region="us-east-1").list_user_pools(MaxResults=1)


def test_workers_and_gateway_workers_size_their_own_runtimes(servers):
    # Counts that differ from the CPU count (each's default), the main runtime's from the
    # environment, the gateway's from its flag.
    cpus = os.cpu_count() or 1
    workers, gateway_workers = cpus + 1, cpus + 2
    server: GatehouseServer = servers.new(extra_args=["--gateway-workers", str(gateway_workers)],
                                          extra_env={"GATEHOUSE_WORKERS": str(workers)})
    assert server.get("/health").status_code == 200
    # The "serving" line reports what the runtimes were built with (the main runtime's own
    # count of its worker threads), not what was asked for.
    serving = [line for line in server.stderr_text(since_start=True).splitlines() if " serving " in line]
    assert serving, server.diagnostics()
    assert re.search(rf" workers={workers} ", serving[-1]), serving[-1]
    assert re.search(rf" gateway_workers={gateway_workers} ", serving[-1]), serving[-1]
