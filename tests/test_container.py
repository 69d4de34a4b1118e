"""The container image and the compose file, proved as far as this machine allows: no container
engine can run images here and no registry can be reached, so the `runtime` stage of
docker/Dockerfile is built with `podman build` from a tree docker/collect-rootfs.sh lays out
around the binary built here (`--build-arg ROOTFS_STAGE=prebuilt`), its file system is exported
with `podman export`, and the binary is run from it with `chroot` as the image's user, against
boto3 and the gateway. The image has everything the binary needs (libraries, CA roots, a
writable /data) and nothing else. docker/compose.yaml is checked for structure with PyYAML.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.config
import pytest
import requests
import yaml

from gatehouse_harness import (
    OPERATOR_ACCESS_KEY_ID,
    OPERATOR_SECRET_ACCESS_KEY,
    PASSWORD,
    REPO_ROOT,
    gatehouse_bin,
    unique,
)

DOCKER = REPO_ROOT / "docker"
IMAGE = "localhost/gatehouse-e2e:test"
UID = 10001
LINE = re.compile(r"^gatehouse (gateway |metrics )?listening on (http://127\.0\.0\.1:\d+)\s*$")


class Podman:
    """podman with storage of its own (vfs: no overlay inside this machine's container)."""

    def __init__(self, root: Path) -> None:
        self.base = ["podman", "--root", str(root / "storage"), "--runroot", str(root / "run"),
                     "--storage-driver", "vfs"]

    def __call__(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"podman {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Iterator[tuple[dict[str, Any], Path]]:
    """(the image's config, its exported file system)."""
    assert shutil.which("podman"), "podman is missing: ./scripts/test installs Debian's podman"
    work = tmp_path_factory.mktemp("container")
    context = work / "context"
    (context / "docker").mkdir(parents=True)
    shutil.copy(DOCKER / "Dockerfile", context / "docker" / "Dockerfile")
    done = subprocess.run([str(DOCKER / "collect-rootfs.sh"), str(gatehouse_bin()), str(context / "docker" / "rootfs")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    podman = Podman(work)
    podman("build", "--format", "docker", "--build-arg", "ROOTFS_STAGE=prebuilt", "--target", "runtime",
           "-f", str(context / "docker" / "Dockerfile"), "-t", IMAGE, str(context))
    inspected = json.loads(podman("image", "inspect", IMAGE))[0]
    # podman shows a docker-format image's health check beside the config, not in it.
    config = {**inspected["Config"], "Healthcheck": inspected.get("Healthcheck", {})}
    container = podman("create", "--image-volume=ignore", IMAGE).strip().splitlines()[-1]
    tar = work / "rootfs.tar"
    podman("export", "-o", str(tar), container)
    podman("rm", container)
    root = work / "exported"
    root.mkdir()
    with tarfile.open(tar) as archive:
        archive.extractall(root, numeric_owner=True, filter="fully_trusted")
    try:
        yield config, root
    finally:
        subprocess.run([*podman.base, "rmi", "-f", IMAGE], capture_output=True, timeout=120)
        shutil.rmtree(work / "storage", ignore_errors=True)


def test_the_image_runs_gatehouse_serve_as_a_non_root_user_with_data_in_a_volume(image):
    config, root = image
    assert config["Entrypoint"] == ["/usr/local/bin/gatehouse"]
    assert config["Cmd"] == ["serve"]
    assert config["User"] == f"{UID}:{UID}"
    assert set(config["ExposedPorts"]) == {"8000/tcp", "8080/tcp", "9464/tcp"}
    assert set(config["Volumes"]) == {"/data"}
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["GATEHOUSE_LISTEN"] == "0.0.0.0:8000" and env["GATEHOUSE_GATEWAY_LISTEN"] == "0.0.0.0:8080"
    assert env["GATEHOUSE_DATA_DIR"] == "/data"
    assert "/usr/local/bin/gatehouse health" in " ".join(config.get("Healthcheck", {}).get("Test", []))

    # Only what the binary needs: no shell, no package manager.
    assert not (root / "bin" / "sh").exists() and not (root / "usr" / "bin").exists()
    assert (root / "etc" / "ssl" / "certs" / "ca-certificates.crt").stat().st_size > 10_000
    assert f"gatehouse:x:{UID}:{UID}:" in (root / "etc" / "passwd").read_text()
    assert (root / "data").stat().st_uid == UID


class Chrooted:
    """`gatehouse serve` run from the exported file system, as the image's user."""

    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        command = ["chroot", f"--userspec={UID}:{UID}", str(root), "/usr/local/bin/gatehouse", "serve",
                   "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0",
                   "--metrics-listen", "127.0.0.1:0", *args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=env, stdin=subprocess.DEVNULL)
        self.urls: dict[str, str] = {}
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        while "identity" not in self.urls:
            line = lines.get(timeout=60)
            if line is None:
                raise AssertionError(f"gatehouse exited in the chroot:\n{self.process.stderr.read() if self.process.stderr else ''}")
            match = LINE.match(line.strip())
            if match:
                self.urls[(match.group(1) or "identity ").strip()] = match.group(2)

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=60)


@pytest.fixture
def chrooted(image) -> Iterator[tuple[Chrooted, Path]]:
    config, root = image
    (root / "etc" / "gatehouse").mkdir(exist_ok=True)
    shutil.copy(DOCKER / "api.yaml", root / "etc" / "gatehouse" / "api.yaml")
    env = dict(item.split("=", 1) for item in config["Env"])
    env.update({
        "GATEHOUSE_OPERATOR_ACCESS_KEY_ID": OPERATOR_ACCESS_KEY_ID,
        "GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY": OPERATOR_SECRET_ACCESS_KEY,
        "GATEHOUSE_LOG": "warn",
    })
    server = Chrooted(root, env, "--api", "/etc/gatehouse/api.yaml")
    try:
        yield server, root
    finally:
        if server.process.poll() is None:
            server.stop()


def test_the_exported_image_serves_boto3_and_the_example_api(chrooted):
    server, root = chrooted
    endpoint = server.urls["identity"]
    session = boto3.session.Session(aws_access_key_id=OPERATOR_ACCESS_KEY_ID,
                                    aws_secret_access_key=OPERATOR_SECRET_ACCESS_KEY, region_name="us-east-1")
    config = botocore.config.Config(retries={"total_max_attempts": 1})
    admin = session.client("cognito-idp", endpoint_url=endpoint, config=config)
    pool = admin.create_user_pool(PoolName=unique("container-"))["UserPool"]["Id"]
    client = admin.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                           ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    client_id = client["UserPoolClient"]["ClientId"]
    admin.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    admin.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
    tokens = admin.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]
    assert tokens["IdToken"].count(".") == 2

    hello = requests.get(server.urls["gateway"] + "/prod/hello", timeout=30)
    assert (hello.status_code, hello.json()) == (200, {"hello": "from gatehouse"})
    # The image's own health check, run inside the image.
    probe = subprocess.run(["chroot", f"--userspec={UID}:{UID}", str(root), "/usr/local/bin/gatehouse", "health",
                            "--url", server.urls["metrics"] + "/health/ready"], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    database = root / "data" / "gatehouse.db"
    assert database.stat().st_uid == UID, "the service wrote its database into /data as its own user"
    assert (root / "data" / "master.key").stat().st_mode & 0o077 == 0
    assert (root / "data").stat().st_mode & 0o777 == 0o700
    assert server.stop() == 0


# === compose ===


def test_compose_runs_two_replicas_on_postgresql_with_health_checks_and_a_shared_master_key():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "gatehouse"}
    gatehouse = services["gatehouse"]
    assert gatehouse["deploy"]["replicas"] == 2
    assert gatehouse["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert gatehouse["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = gatehouse["environment"]
    assert env["GATEHOUSE_DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["GATEHOUSE_DATABASE_URL"]
    assert env["GATEHOUSE_MASTER_KEY_FILE"] == "/run/secrets/master_key"
    assert "master_key" in gatehouse["secrets"] and compose["secrets"]["master_key"]["file"] == "./master.key"
    assert "GATEHOUSE_PUBLIC_URL" in env, "replicas share one public URL (one issuer)"
    for service in services.values():
        assert service["healthcheck"]["test"], "every service has a health check"
    assert gatehouse["healthcheck"]["test"][:3] == ["CMD", "/usr/local/bin/gatehouse", "health"]
    assert not any("9464" in port for port in gatehouse["ports"]), "metrics are never published"
    mounts = {m.split(":")[1]: m.split(":")[0] for m in gatehouse["volumes"]}
    assert mounts["/etc/gatehouse/api.yaml"] == "./api.yaml" and (DOCKER / "api.yaml").exists()
    assert gatehouse["command"] == ["serve", "--api", "/etc/gatehouse/api.yaml"]
    for volume in ("postgres-data", "gatehouse-data"):
        assert volume in compose["volumes"]
    assert gatehouse["stop_grace_period"] == "30s" and int(env["GATEHOUSE_SHUTDOWN_GRACE"]) < 30

    # Every variable the file reads is documented in its header and given in .env.example.
    text = (DOCKER / "compose.yaml").read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    example = {line.split("=", 1)[0] for line in (DOCKER / ".env.example").read_text().splitlines() if "=" in line}
    assert used, "the file uses variables"
    for name in used:
        assert name in header, f"{name} is not documented in compose.yaml's header"
        assert name in example, f"{name} is missing from docker/.env.example"
    readme = (REPO_ROOT / "README.md").read_text()
    assert "docker compose -f docker/compose.yaml up" in readme
