"""amazon-cognito-identity-js (npm, pinned in package-lock.json) against `gatehouse serve` on
both backends: tests/node/cognito_identity_js.mjs signs in with SRP, enrols TOTP, answers a
`totpRequired` sign-in with `sendMFACode(..., 'SOFTWARE_TOKEN_MFA')`, confirms a device and
signs in again from it with device SRP, skipping MFA. This module sets up the pool and user
and runs the script with Node's test runner."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from gatehouse_harness import PASSWORD, REPO_ROOT, PoolFixture

SCRIPT = REPO_ROOT / "tests" / "node" / "cognito_identity_js.mjs"


def test_amazon_cognito_identity_js_signs_in_enrols_totp_and_remembers_a_device(server):
    node = shutil.which("node")
    assert node, "node is not installed: run ./scripts/test"
    assert (REPO_ROOT / "node_modules" / "amazon-cognito-identity-js").is_dir(), (
        "node_modules lacks amazon-cognito-identity-js: run ./scripts/test (npm ci)"
    )
    pool = PoolFixture.create(
        server,
        pool_overrides={
            "MfaConfiguration": "OPTIONAL",
            "DeviceConfiguration": {
                "ChallengeRequiredOnNewDevice": True,
                "DeviceOnlyRememberedOnUserPrompt": False,
            },
        },
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    server.admin.set_user_pool_mfa_config(
        UserPoolId=pool.pool_id,
        MfaConfiguration="OPTIONAL",
        SoftwareTokenMfaConfiguration={"Enabled": True},
    )
    user = pool.admin_user()
    env = dict(os.environ)
    env.update(
        GATEHOUSE_ENDPOINT=server.endpoint + "/",
        POOL_ID=pool.pool_id,
        CLIENT_ID=pool.client_id,
        USERNAME=user.username,
        PASSWORD=PASSWORD,
    )
    run = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(SCRIPT)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"node test failed:\n{run.stdout}\n{run.stderr}\n{server.stderr_text()[-4000:]}"
    assert "pass 1" in run.stdout, run.stdout
