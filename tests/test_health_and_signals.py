"""Health, readiness and stopping: `/health/live` and `/health/ready` on the identity and the
metrics listener; readiness follows the database (cut through a TCP relay the test controls);
`gatehouse serve` that cannot become ready exits non-zero with one line; SIGTERM drains both
listeners within the grace period (`--shutdown-grace`), and a second SIGTERM stops at once.

The draining tests hold a request in flight through the gateway to a backend that answers only
when the test lets it, so "in flight" is a fact, not a timing guess.
"""

from __future__ import annotations

import http.server
import re
import signal
import socket
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from gatehouse_harness import (
    GatehouseServer,
    PostgresDatabase,
    gatehouse_bin,
    postgres_server_url,
    wait_until,
)
from ops_support import gatehouse

GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on (http://127\.0\.0\.1:\d+)\s*$")
METRICS_LINE = re.compile(r"^gatehouse metrics listening on (http://127\.0\.0\.1:\d+)\s*$")

SLOW_API = """
version: 1
apis:
  slow:
    resources:
      /wait:
        GET:
          integration: {type: http_proxy, uri: "http://BACKEND/wait"}
stages:
  slow:
    prod: {}
"""


def listener(server: GatehouseServer, pattern: re.Pattern[str]) -> str:
    found = [m.group(1) for m in (pattern.match(line.strip()) for line in server._stdout_lines) if m]
    assert found, f"no listener line matching {pattern.pattern}\n{server.diagnostics()}"
    return found[-1]


def refuses_connections(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return False
    except OSError:
        return True


# === readiness ===


@pytest.mark.parametrize("which", ["identity", "metrics"])
def test_live_and_ready_answer_on_the_identity_and_the_metrics_listener(server, which):
    base = server.endpoint if which == "identity" else listener(server, METRICS_LINE)
    live = requests.get(f"{base}/health/live", timeout=10)
    assert (live.status_code, live.json()) == (200, {"status": "live"})
    ready = requests.get(f"{base}/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert body["checks"]["key_rings"].startswith("ok")
    assert body["checks"]["gateway"].startswith("ok")
    assert ready.headers["cache-control"] == "no-store"


class Relay:
    """A TCP relay from a loopback port to PostgreSQL that the test can cut and restore: while
    cut, every relayed connection is closed and new ones are closed on accept."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = False
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def set_cut(self, cut: bool) -> None:
        self.cut = cut
        if cut:
            with self.lock:
                for s in self.sockets:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()
                self.sockets.clear()

    def close(self) -> None:
        self.set_cut(True)
        self.listener.close()


@pytest.fixture
def relayed_postgres() -> Iterator[tuple[Relay, str]]:
    database = PostgresDatabase(postgres_server_url())
    url = database.url
    match = re.match(r"^postgres(?:ql)?://([^@/]*@)?([^:/]+):(\d+)(/.*)$", url)
    assert match, url
    relay = Relay((match.group(2), int(match.group(3))))
    try:
        yield relay, f"postgres://{match.group(1) or ''}127.0.0.1:{relay.port}{match.group(4)}"
    finally:
        relay.close()
        database.drop()


def test_readiness_follows_the_database_and_liveness_does_not(relayed_postgres):
    relay, url = relayed_postgres
    server = GatehouseServer(database_url=url, name="gatehouse[relayed postgres]")
    try:
        server.start()
        assert server.get("/health/ready").status_code == 200
        relay.set_cut(True)
        assert wait_until(lambda: server.get("/health/ready").status_code == 503, timeout=30)
        body = server.get("/health/ready").json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"] in {"does not answer", "timed out"}
        assert "127.0.0.1" not in server.get("/health/ready").text, "no database address in the answer"
        assert server.get("/health/live").status_code == 200, "the process still answers"
        relay.set_cut(False)
        assert wait_until(lambda: server.get("/health/ready").status_code == 200, timeout=30)
    finally:
        server.close()


def run_serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`gatehouse serve` as the harness starts it, run until it exits."""
    server = GatehouseServer(data_dir=tmp_path / "data", extra_args=list(args))
    return gatehouse(*server.command()[1:], env=server.environment())


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def test_serve_that_cannot_reach_its_database_exits_non_zero_with_one_line(tmp_path):
    done = run_serve(tmp_path, "--database-url", f"postgres://postgres@127.0.0.1:{closed_port()}/none")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gatehouse: database"), lines
    assert "listening" not in done.stdout


def test_serve_on_a_database_from_a_newer_build_exits_non_zero_with_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    server = GatehouseServer(data_dir=tmp_path / "data")
    server.start()
    assert server.stop() == 0
    with sqlite3.connect(tmp_path / "data" / "gatehouse.db") as db:
        db.execute("INSERT INTO gatehouse_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
    done = run_serve(tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and lines[0].startswith("gatehouse: "), done.stderr
    assert "9999" in lines[0]
    server.close()


# === stopping ===


class SlowBackend:
    """An HTTP backend whose `/wait` answers only once `release` is set."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                outer.arrived.set()
                outer.release.wait(timeout=300)
                body = b'{"done": true}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_server(tmp_path) -> Iterator[Any]:
    backend = SlowBackend()
    api = tmp_path / "slow.yaml"
    api.write_text(SLOW_API.replace("BACKEND", backend.address))
    started: list[GatehouseServer] = []

    def start(grace: int) -> GatehouseServer:
        server = GatehouseServer(extra_args=["--api", str(api), "--shutdown-grace", str(grace)])
        started.append(server)
        return server.start()

    try:
        yield backend, start
    finally:
        backend.close()
        for server in started:
            server.close()


def request_in_flight(gateway: str) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            r = requests.get(f"{gateway}/prod/wait", timeout=120)
            outcome["status"], outcome["body"] = r.status_code, r.json()
        except requests.RequestException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, outcome


def test_sigterm_stops_accepting_and_lets_the_request_in_flight_finish(slow_server):
    backend, start = slow_server
    server = start(grace=300)
    gateway = listener(server, GATEWAY_LINE)
    metrics = listener(server, METRICS_LINE)
    thread, outcome = request_in_flight(gateway)
    assert backend.arrived.wait(timeout=30), "the request never reached the backend"

    server.process.send_signal(signal.SIGTERM)
    for url in (server.endpoint, gateway, metrics):
        assert wait_until(lambda url=url: refuses_connections(url), timeout=30), f"{url} still accepts"
    assert server.process.poll() is None, "the request in flight is still being served"

    backend.release.set()
    thread.join(timeout=60)
    assert outcome.get("status") == 200 and outcome.get("body") == {"done": True}, outcome
    server.process.wait(timeout=60)
    assert server.process.returncode == 0, server.diagnostics()


def test_the_grace_period_ends_a_request_that_outlasts_it(slow_server):
    backend, start = slow_server
    server = start(grace=1)
    thread, outcome = request_in_flight(listener(server, GATEWAY_LINE))
    assert backend.arrived.wait(timeout=30)

    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)
    assert server.process.returncode == 0, server.diagnostics()
    assert "grace period over" in server.stderr_text(since_start=True)
    thread.join(timeout=60)
    assert "status" not in outcome, f"the backend never answered, yet the client got {outcome}"


def test_a_second_sigterm_stops_at_once(slow_server):
    backend, start = slow_server
    server = start(grace=3600)
    thread, outcome = request_in_flight(listener(server, GATEWAY_LINE))
    assert backend.arrived.wait(timeout=30)

    server.process.send_signal(signal.SIGTERM)
    assert wait_until(lambda: refuses_connections(server.endpoint), timeout=30)
    assert server.process.poll() is None
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)
    assert server.process.returncode == 143, server.diagnostics()
    assert "second stop signal" in server.stderr_text(since_start=True)


# === the container's probe and key file ===


def test_gatehouse_health_exits_0_when_ready_and_1_with_one_line_otherwise(server):
    metrics = listener(server, METRICS_LINE)
    ready = subprocess.run([str(gatehouse_bin()), "health", "--url", f"{metrics}/health/ready"],
                           capture_output=True, text=True, timeout=60)
    assert ready.returncode == 0, ready.stderr
    down = subprocess.run([str(gatehouse_bin()), "health", "--url", f"http://127.0.0.1:{closed_port()}/health/ready"],
                          capture_output=True, text=True, timeout=60)
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1, down.stderr
    missing = subprocess.run([str(gatehouse_bin()), "health", "--url", f"{metrics}/nothing-here"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "404" in missing.stderr


def test_the_master_key_can_come_from_a_file_and_not_from_two_places(tmp_path):
    key_file = tmp_path / "master.key"
    key_file.write_text("k1:" + "A" * 43 + "=\n")
    data = tmp_path / "data"
    data.mkdir()
    server = GatehouseServer(data_dir=data, extra_env={"GATEHOUSE_MASTER_KEY_FILE": str(key_file)})
    try:
        server.start()
        assert server.get("/health/ready").status_code == 200
        assert not (data / "master.key").exists(), "the key came from the file; none was generated"
    finally:
        server.close()
    both = subprocess.run([str(gatehouse_bin()), "serve", "--data-dir", str(tmp_path / "other")],
                          capture_output=True, text=True, timeout=60,
                          env={"GATEHOUSE_MASTER_KEY_FILE": str(key_file), "GATEHOUSE_MASTER_KEY": "k1:" + "A" * 43 + "="})
    assert both.returncode == 64 and "not both" in both.stderr
