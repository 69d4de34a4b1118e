"""The gateway's account-wide throttle is a setting of `gatehouse serve`, off by default.

API Gateway throttles a whole AWS account at 10 000 requests per second (burst 5 000). A
self-hosted gateway has no account to share, so `gatehouse serve` applies no such limit unless
`--gateway-account-rate-limit` (`GATEHOUSE_GATEWAY_ACCOUNT_RATE_LIMIT`,
`gateway_account_rate_limit` in the config file) sets one:

- by default a burst of requests far beyond a small limit is answered 200 every time, while a
  stage's own method throttle still answers 429;
- with the setting on (flag, or the config file with its burst), requests beyond the burst
  get API Gateway's 429 `{"message":"Too Many Requests"}` with `Retry-After`.

The throttle is held in memory per node, so one storage backend (SQLite) is enough here.
"""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path
from typing import Iterator

import pytest

from gatehouse_harness import SUITE_CONFIG, GatehouseServer

SERVE_GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on http://(127\.0\.0\.1):(\d+)\s*$")

DEFINITION = """
version: 1
apis:
  shop:
    resources:
      /open:
        GET:
          integration: {type: mock, status: 200, body: '{"ok":true}'}
      /narrow:
        GET:
          integration: {type: mock, status: 200, body: '{"ok":true}'}
stages:
  shop:
    prod:
      method_settings:
        /narrow/GET: {throttle: {rate: 1, burst: 2}}
"""

# Many more requests than the limits below admit in any plausible run time.
REQUESTS = 60


class Gateway:
    """`gatehouse serve --api FILE` with `extra_args` and `config`."""

    def __init__(self, folder: Path, extra_args: list[str], config: str = SUITE_CONFIG) -> None:
        api_file = folder / "api.yaml"
        api_file.write_text(DEFINITION)
        self.server = GatehouseServer(
            extra_args=["--api", str(api_file), *extra_args], config=config, name="gatehouse serve"
        )

    def __enter__(self) -> "Gateway":
        self.server.start()
        found = [m for m in (SERVE_GATEWAY_LINE.match(line.strip()) for line in self.server._stdout_lines) if m]
        assert found, f"no gateway listener line:\n{self.server.diagnostics()}"
        self.host, self.port = found[0].group(1), int(found[0].group(2))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.server.check_alive()
        finally:
            self.server.close()

    def burst(self, path: str, count: int = REQUESTS) -> list[tuple[int, bytes, str | None]]:
        """`count` GETs on one keep-alive connection, as fast as they are answered."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        out = []
        try:
            for _ in range(count):
                connection.request("GET", path)
                response = connection.getresponse()
                out.append((response.status, response.read(), response.getheader("retry-after")))
        finally:
            connection.close()
        return out


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_no_account_throttle_by_default_but_stage_throttles_apply(folder: Path) -> None:
    with Gateway(folder, []) as gateway:
        statuses = [status for status, _, _ in gateway.burst("/prod/open")]
        assert statuses == [200] * REQUESTS, "no account-wide limit by default"
        narrow = gateway.burst("/prod/narrow")
        assert narrow[0][0] == 200
        throttled = [(body, retry) for status, body, retry in narrow if status == 429]
        assert throttled, "the stage's method throttle (rate 1, burst 2) still answers 429"
        assert json.loads(throttled[0][0]) == {"message": "Too Many Requests"}


def check_account_limited(gateway: Gateway, burst: int) -> None:
    answers = gateway.burst("/prod/open")
    statuses = [status for status, _, _ in answers]
    assert statuses[:burst] == [200] * burst, statuses
    rejected = [(body, retry) for status, body, retry in answers if status == 429]
    # A rate of 1 per second refills one request a second: far fewer than REQUESTS - burst in
    # any run that finishes at all.
    assert len(rejected) >= REQUESTS // 2, statuses
    body, retry = rejected[0]
    assert json.loads(body) == {"message": "Too Many Requests"}
    assert retry is not None and int(retry) >= 1


def test_the_account_throttle_is_on_with_the_flag(folder: Path) -> None:
    args = ["--gateway-account-rate-limit", "1", "--gateway-account-burst", "5"]
    with Gateway(folder, args) as gateway:
        check_account_limited(gateway, 5)


def test_the_account_throttle_is_on_from_the_config_file(folder: Path) -> None:
    # Top-level keys must come before the tables of the suite's config.
    config = "gateway_account_rate_limit = 1\ngateway_account_burst = 3\n" + SUITE_CONFIG
    with Gateway(folder, [], config=config) as gateway:
        check_account_limited(gateway, 3)
