"""Crash safety, measured: a sign-up / confirm / sign-in storm runs while something is killed with
SIGKILL at random moments, at least 20 times; afterwards every operation the client saw succeed
is still there (every confirmed user signs in), every ID token the clients were given verifies
against the restarted service's JWKS (no token signed by a key it no longer knows), and the
database is whole.

- SQLite: `gatehouse serve` itself is killed and restarted on the same data folder; a key
  rotation (`gatehouse keys rotate`) runs every few rounds so acknowledged rotations are at stake
  too; then `PRAGMA integrity_check`.
- PostgreSQL: the database is killed instead (the postmaster and its processes, SIGKILL) and
  started again while gatehouse keeps running. The cluster is the test's own, made in a
  temporary folder with PostgreSQL's default durability settings; the suite's shared cluster is
  never touched.

Each test prints one summary line (`crash storm …`): docs/reliability.md records them.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from gatehouse_harness import GatehouseServer, PoolFixture, TokenVerifier, wait_until
from ops_support import Storm, gatehouse, signs_in

KILLS = int(os.environ.get("GATEHOUSE_CRASH_KILLS", "20"))
FIXED_PUBLIC_URL = "http://gatehouse.test"


def progress(storm: Storm, since: int, timeout: float = 60) -> None:
    assert wait_until(lambda: len(storm.snapshot()) > since, timeout=timeout), (
        f"no operation acknowledged within {timeout} s (failures so far: {storm.failures})"
    )


def check_tokens(server: GatehouseServer, pool: PoolFixture, storm: Storm) -> int:
    verifier = TokenVerifier(server, pool.pool_id)
    tokens = [u for u in storm.snapshot() if u.id_token]
    for user in tokens:
        claims = verifier.id_token(user.id_token, pool.client_id)
        assert claims["sub"] == user.sub
    return len(tokens)


def test_sigkill_storm_on_sqlite_loses_no_acknowledged_operation(tmp_path):
    rng = random.Random(int(os.environ.get("GATEHOUSE_CRASH_SEED", "14")))
    data = tmp_path / "data"
    data.mkdir()
    server = GatehouseServer(data_dir=data, public_url=FIXED_PUBLIC_URL, name="gatehouse[crash]")
    storm: Storm | None = None
    try:
        server.start()
        pool = PoolFixture.create(server)
        storm = Storm(pool, threads=3, sign_in=True).start(endpoint=lambda: server)
        rotations = 0
        for kill in range(KILLS):
            progress(storm, len(storm.snapshot()))
            if kill % 5 == 4:
                done = gatehouse("keys", "rotate", "--pool", pool.pool_id, "--data-dir", str(data),
                                 "--public-url", FIXED_PUBLIC_URL)
                assert done.returncode == 0, done.stderr
                rotations += 1
            time.sleep(rng.uniform(0.0, 0.6))
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=30)
            server.process = None
            server.start()
        progress(storm, len(storm.snapshot()))
        acked = storm.stop()
        # The service keeps refreshing its cached rings; the JWKS read here is the stored one.
        failed = signs_in(server, pool, acked)
        tokens = check_tokens(server, pool, storm)
        assert server.stop() == 0
        with sqlite3.connect(data / "gatehouse.db") as db:
            integrity = db.execute("PRAGMA integrity_check").fetchall()
        print(
            f"\ncrash storm sqlite: kills={KILLS} rotations={rotations} acknowledged={len(acked)} "
            f"lost={len(failed)} tokens_checked={tokens} failed_calls={storm.failures} "
            f"integrity={integrity[0][0]}"
        )
        assert not failed, f"{len(failed)} acknowledged users lost: {failed[:5]}"
        assert integrity == [("ok",)], integrity
    finally:
        if storm is not None:
            storm.stop()
        server.close()


# === PostgreSQL, the database killed ===


def postgres_bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    assert found, "initdb not found: scripts/postgres installs PostgreSQL"
    return Path(found).resolve().parent


class OwnCluster:
    """A PostgreSQL cluster of this test alone, with default durability (fsync on)."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="gatehouse-crash-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        with socket.create_server(("127.0.0.1", 0)) as s:
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                  "--locale=C")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"{tool} failed ({done.returncode}): {done.stdout}\n{done.stderr}")
        return done

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}", "start")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL to the postmaster and every process it started, then wait for all to go."""
        pid = self.postmaster_pid()
        assert pid, "the cluster is not running"
        family = [pid] + children_of(pid)
        for member in family:
            try:
                os.kill(member, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert wait_until(lambda: not any(alive(p) for p in family), timeout=30), "postgres did not die"

    def stop(self) -> None:
        if self.postmaster_pid() and alive(self.postmaster_pid() or 0):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def own_cluster() -> Iterator[OwnCluster]:
    cluster = OwnCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_killing_postgresql_loses_no_acknowledged_operation(own_cluster):
    rng = random.Random(int(os.environ.get("GATEHOUSE_CRASH_SEED", "14")))
    server = GatehouseServer(database_url=own_cluster.url, public_url=FIXED_PUBLIC_URL,
                             name="gatehouse[crash postgres]")
    storm: Storm | None = None
    try:
        server.start()
        pool = PoolFixture.create(server)
        storm = Storm(pool, threads=3, sign_in=True).start(endpoint=lambda: server)
        saw_unready = 0
        for _ in range(KILLS):
            progress(storm, len(storm.snapshot()))
            time.sleep(rng.uniform(0.0, 0.6))
            own_cluster.kill()
            if server.get("/health/ready").status_code == 503:
                saw_unready += 1
            own_cluster.start()
            assert wait_until(lambda: server.get("/health/ready").status_code == 200, timeout=60)
        progress(storm, len(storm.snapshot()))
        acked = storm.stop()
        failed = signs_in(server, pool, acked)
        tokens = check_tokens(server, pool, storm)
        server.check_alive()
        print(
            f"\ncrash storm postgres: kills={KILLS} acknowledged={len(acked)} lost={len(failed)} "
            f"tokens_checked={tokens} failed_calls={storm.failures} unready_while_down={saw_unready}"
        )
        assert not failed, f"{len(failed)} acknowledged users lost: {failed[:5]}"
        assert saw_unready > 0, "readiness never noticed the database was gone"
    finally:
        if storm is not None:
            storm.stop()
        server.close()
