"""What does a PreTokenGeneration trigger add to a sign-in? Side by side, on loopback.

One `gatehouse serve` with two user pools that differ only in the trigger: the first has none,
the second a PreTokenGeneration function (V1_0, adding one claim) served by this script on
127.0.0.1 with the standard library's HTTP server, which checks gatehouse's signature as a real
endpoint would and times its own work (from the request read to the answer written). Each round
signs in once to each pool, in a shuffled order, so drift and noise hit both alike, through a
keep-alive connection posting Cognito's JSON:

- `USER_PASSWORD_AUTH` (argon2id, then tokens), and
- `REFRESH_TOKEN_AUTH` (tokens only, no hashing: the trigger's share is largest here).

It prints the medians, the trigger's own median time, the added cost with that subtracted
(with trigger − without − the function's own time: the HTTP round trip and the event's
building, signing and reading) and the ratio of the two sign-ins without the function's time.

A measurement, not a test: wall-clock times move with the machine's load. Record the output in
docs/benchmarks.md with the command:

    cargo build --release --bin gatehouse
    GATEHOUSE_BIN=target/release/gatehouse .venv/bin/python scripts/bench/pretoken_latency.py [ROUNDS]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from gatehouse_harness import PASSWORD, GatehouseServer, PoolFixture, unverified_claims  # noqa: E402

SECRET = "pretoken-bench-secret-0123456789abcdef"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:bench-claims"


class Trigger:
    """The PreTokenGeneration function: verifies the signature, adds a claim, times itself."""

    def __init__(self) -> None:
        self.own_times: list[float] = []
        trigger = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body are two writes: without TCP_NODELAY the body waits for
            # the ACK of the headers, which the caller delays (up to 40 ms on Linux).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                started = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                timestamp = self.headers.get("X-Gatehouse-Timestamp", "")
                expected = "v1=" + hmac.new(
                    SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Gatehouse-Signature", "")):
                    raise SystemExit("a call with a bad signature")
                event = json.loads(body)
                event["response"] = {"claimsOverrideDetails": {"claimsToAddOrOverride": {"tenant": "bench"}}}
                data = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                trigger.own_times.append(time.perf_counter() - started)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Caller:
    """InitiateAuth over one keep-alive connection (no SDK in the measured time)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.session = requests.Session()

    def initiate_auth(self, client_id: str, flow: str, parameters: dict[str, str]) -> tuple[float, dict]:
        body = json.dumps({"ClientId": client_id, "AuthFlow": flow, "AuthParameters": parameters})
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
        }
        started = time.perf_counter()
        response = self.session.post(self.endpoint, data=body, headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{flow} failed: {response.status_code} {response.text}")
        return elapsed, response.json()


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    trigger = Trigger()
    server = GatehouseServer(
        extra_env={"GATEHOUSE_FUNCTION_SECRET": SECRET},
        extra_args=["--function", f"{FUNCTION}={trigger.url}"],
    )
    server.start()
    try:
        plain = PoolFixture.create(server)
        triggered = PoolFixture.create(server, pool_overrides={"LambdaConfig": {"PreTokenGeneration": FUNCTION}})
        pools = {"without": plain, "with": triggered}
        users = {name: pool.admin_user().username for name, pool in pools.items()}
        caller = Caller(server.endpoint)

        def password(name: str) -> tuple[float, dict]:
            return caller.initiate_auth(
                pools[name].client_id, "USER_PASSWORD_AUTH", {"USERNAME": users[name], "PASSWORD": PASSWORD}
            )

        first = {name: password(name)[1]["AuthenticationResult"] for name in pools}
        # The trigger is really in the path: its claim is in the second pool's ID token only.
        assert unverified_claims(first["with"]["IdToken"]).get("tenant") == "bench"
        assert "tenant" not in unverified_claims(first["without"]["IdToken"])
        refresh_tokens = {name: tokens["RefreshToken"] for name, tokens in first.items()}

        def refresh(name: str) -> tuple[float, dict]:
            return caller.initiate_auth(
                pools[name].client_id, "REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": refresh_tokens[name]}
            )

        shuffle = random.Random(20261203)
        results: dict[str, dict[str, list[float]]] = {}
        own: dict[str, list[float]] = {}
        for flow, call in [("USER_PASSWORD_AUTH", password), ("REFRESH_TOKEN_AUTH", refresh)]:
            for _ in range(20):  # warm-up: connections, caches, the pools' first queries
                for name in pools:
                    call(name)
            trigger.own_times.clear()
            timings: dict[str, list[float]] = {"without": [], "with": []}
            for _ in range(rounds):
                order = list(pools)
                shuffle.shuffle(order)
                for name in order:
                    elapsed, _ = call(name)
                    timings[name].append(elapsed)
            results[flow] = timings
            own[flow] = list(trigger.own_times)

        print(f"{rounds} rounds per flow, loopback, {sys.argv[0]}")
        print(
            f"{'flow':<20}{'without':>12}{'with':>12}{'function':>12}{'added':>12}{'ratio':>8}"
        )
        for flow, timings in results.items():
            without = median_ms(timings["without"])
            with_trigger = median_ms(timings["with"])
            function = median_ms(own[flow])
            added = with_trigger - without - function
            ratio = (with_trigger - function) / without
            print(
                f"{flow:<20}{without:>9.2f} ms{with_trigger:>9.2f} ms{function:>9.3f} ms"
                f"{added:>9.2f} ms{ratio:>8.3f}"
            )
    finally:
        server.close()
        trigger.close()


if __name__ == "__main__":
    main()
