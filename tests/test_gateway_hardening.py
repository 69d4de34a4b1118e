"""The API gateway against what an attacker sends, end to end: `gatehouse serve --api FILE` in
front of a real backend (Python's HTTP server on loopback) that records the exact request target
and headers it receives.

- Path traversal through a greedy `{proxy+}` and a `{param}`: every spelling of `..` (encoded
  slashes, encoded dots, backslashes, overlong UTF-8, `..;`) is answered 400 and never reaches
  the backend; what does reach it was decoded once and re-encoded (`%252e` arrives as `%252e`).
- The method ARN a REQUEST authorizer's policy is evaluated on is the decoded path routing
  matched: `GET /prod/%61dmin` meets a `Deny …/GET/admin*`.
- Runs of slashes are one separator (`/prod//admin` is `/prod/admin`, for routing, the method
  ARN and the backend alike).
- The forwarding header a trusted proxy writes (`--trusted-proxy`, `--trusted-proxy-header`,
  `X-Forwarded-For` by default) is believed from it only, and no other forwarding header is
  read; the backend, `context.identity.sourceIp` and the access log see the one resolved
  address, and the client's forwarding headers are replaced, never appended to.
- A method requiring `AWS_IAM` answers an unsigned request 403 `Missing Authentication Token`
  (tests/test_gateway_iam.py signs them); a `jwt` authorizer without audiences stops the server with its location.

Every server runs on SQLite and on PostgreSQL (the `backend` fixture).
"""

from __future__ import annotations

import http.client
import http.server
import json
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from gatehouse_harness import GatehouseServer, PostgresDatabase, ServerDied, postgres_server_url, wait_until

SERVE_GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on http://(127\.0\.0\.1):(\d+)\s*$")
INVALID_PATH = (400, {"message": "Invalid request path"})
EXPLICIT_DENY = (403, {"message": "User is not authorized to access this resource with an explicit deny"})

DEFINITION = """
version: 1
apis:
  shop:
    authorizers:
      gate:
        type: request
        endpoint: http://BACKEND/authorize
        identity_source: [method.request.header.Authorization]
        result_ttl_seconds: 0
    resources:
      /public/{proxy+}:
        ANY:
          integration: {type: http_proxy, uri: "http://BACKEND/public/{proxy}"}
      /items/{id}:
        GET:
          integration: {type: http_proxy, uri: "http://BACKEND/items/{id}"}
      /admin:
        GET:
          authorizer: gate
          integration: {type: http_proxy, uri: "http://BACKEND/admin"}
      /orders:
        GET:
          authorizer: gate
          integration: {type: http_proxy, uri: "http://BACKEND/orders"}
      /whoami:
        GET:
          integration:
            type: http_proxy
            uri: "http://BACKEND/whoami"
            request_parameters: {header.x-source-ip: context.identity.sourceIp}
      /reports:
        DELETE:
          authorization: AWS_IAM
          integration: {type: mock, status: 204}
stages:
  shop:
    prod:
      access_log_format: '{"requestId":"$context.requestId","sourceIp":"$context.identity.sourceIp"}'
"""


# === the recording backend ===


class Backend:
    """An HTTP/1.1 server on 127.0.0.1 that records each request target and its headers. At
    `/authorize` it is the REQUEST authorizer: it records the event's `methodArn` and allows
    everything except `…/GET/admin*` to the token `no-admin`."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.arns: list[str] = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                backend.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                self.answer({"path": self.path})

            do_DELETE = do_GET

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                event = json.loads(self.rfile.read(length))
                backend.arns.append(event["methodArn"])
                allow = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}
                deny = {
                    "Effect": "Deny",
                    "Action": "execute-api:Invoke",
                    "Resource": "arn:aws:execute-api:*:*:shop/prod/GET/admin*",
                }
                self.answer(
                    {
                        "principalId": "caller",
                        "policyDocument": {"Version": "2012-10-17", "Statement": [allow, deny]},
                    }
                )

            def answer(self, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
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
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# === servers ===


class Gateway:
    """`gatehouse serve --api FILE` (plus `extra_args`) on the module's storage backend."""

    def __init__(self, backend: str, folder: Path, definition: str, extra_args: list[str] | None = None) -> None:
        self.database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
        api_file = folder / "api.yaml"
        api_file.write_text(definition)
        self.server = GatehouseServer(
            database_url=self.database.url if self.database else None,
            extra_args=["--api", str(api_file), *(extra_args or [])],
            name="gatehouse serve",
        )

    def start(self) -> "Gateway":
        self.server.start()
        found = [m for m in (SERVE_GATEWAY_LINE.match(line.strip()) for line in self.server._stdout_lines) if m]
        assert found, f"no gateway listener line:\n{self.server.diagnostics()}"
        self.host, self.port = found[0].group(1), int(found[0].group(2))
        return self

    def request(
        self, method: str, target: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        """Sends `target` exactly as written (no client-side normalisation or re-quoting)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, target, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            return response.status, body, {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()

    def access_log(self, request_id: str) -> dict[str, Any]:
        """The access-log line of one request (written by a background thread: waited for)."""

        def find() -> dict[str, Any] | None:
            for line in self.server.stderr_text(since_start=True).splitlines():
                if request_id in line and line.startswith("{"):
                    return json.loads(line)
            return None

        assert wait_until(lambda: find() is not None), f"no access log line for {request_id}"
        entry = find()
        assert entry is not None
        return entry

    def close(self) -> None:
        try:
            self.server.check_alive()
            assert "panicked" not in self.server.stderr_text(since_start=True)
        finally:
            self.server.close()
            if self.database is not None:
                self.database.drop()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Backend]:
    backend = Backend()
    try:
        yield backend
    finally:
        backend.close()


def gateway_fixture(
    backend: str, recorder: Backend, folder: Path, extra_args: list[str] | None = None
) -> Iterator[Gateway]:
    gateway = Gateway(backend, folder, DEFINITION.replace("BACKEND", recorder.address), extra_args)
    try:
        yield gateway.start()
    finally:
        gateway.close()


@pytest.fixture(scope="module")
def gateway(backend: str, recorder: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """No trusted proxy (the default)."""
    yield from gateway_fixture(backend, recorder, tmp_path_factory.mktemp("direct"))


@pytest.fixture(scope="module")
def proxied(backend: str, recorder: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Loopback is a trusted proxy: the test client plays the load balancer."""
    yield from gateway_fixture(
        backend, recorder, tmp_path_factory.mktemp("proxied"), ["--trusted-proxy", "127.0.0.0/8"]
    )


@pytest.fixture(scope="module")
def forwarded_proxy(backend: str, recorder: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Loopback is a trusted proxy that writes `Forwarded` (RFC 7239), not `X-Forwarded-For`."""
    yield from gateway_fixture(
        backend,
        recorder,
        tmp_path_factory.mktemp("forwarded"),
        ["--trusted-proxy", "127.0.0.0/8", "--trusted-proxy-header", "forwarded"],
    )


# === paths ===

TRAVERSALS = [
    ("encoded slash after dot-dot", "/prod/public/..%2Fadmin"),
    ("encoded dots", "/prod/public/%2e%2e/admin"),
    ("twice up through encoded slashes", "/prod/public/a/..%2F..%2Fadmin"),
    ("raw dot-dot", "/prod/public/a/../../admin"),
    ("encoded backslash", "/prod/public/..%5Cadmin"),
    ("raw backslash", "/prod/public/..\\admin"),
    ("overlong utf-8 dots", "/prod/public/%C0%AE%C0%AE/admin"),
    ("servlet path parameter", "/prod/public/..;/admin"),
    ("dot-dot in a {param}", "/prod/items/..%2Fadmin"),
    ("an encoded slash making an empty segment in a greedy value", "/prod/public/a%2F%2Fb"),
]


@pytest.mark.parametrize("rule,target", TRAVERSALS, ids=[rule for rule, _ in TRAVERSALS])
def test_traversal_is_refused_before_the_backend(gateway: Gateway, recorder: Backend, rule: str, target: str) -> None:
    before = len(recorder.seen)
    status, body, headers = gateway.request("GET", target)
    assert (status, body) == INVALID_PATH, rule
    assert "x-amzn-requestid" in headers
    assert len(recorder.seen) == before, f"{rule}: {recorder.paths()[before:]}"


def test_forwarded_paths_are_decoded_once_and_re_encoded(gateway: Gateway, recorder: Backend) -> None:
    for rule, target, received in [
        ("double-encoded dots stay literal text", "/prod/public/%252e%252e/admin", "/public/%252e%252e/admin"),
        ("a {param}'s decoded slash is no separator", "/prod/items/a%2Fb", "/items/a%2Fb"),
        ("a {proxy+}'s decoded slash is one", "/prod/public/a%2Fb", "/public/a/b"),
        ("names with dots pass", "/prod/public/.well-known/v1..2", "/public/.well-known/v1..2"),
        ("runs of slashes are one", "/prod/public//a//b", "/public/a/b"),
    ]:
        status, body, _ = gateway.request("GET", target)
        assert (status, body) == (200, {"path": received}), rule
        assert recorder.paths()[-1] == received, rule


def test_the_method_arn_is_the_path_routing_matched(gateway: Gateway, recorder: Backend) -> None:
    for target in ["/prod/%61dmin", "/prod/admin", "/prod/admin/", "/prod//admin", "//prod/admin//"]:
        before = len(recorder.arns)
        status, body, _ = gateway.request("GET", target, {"Authorization": "no-admin"})
        assert (status, body) == EXPLICIT_DENY, target
        assert recorder.arns[before:] and recorder.arns[-1].endswith(":shop/prod/GET/admin"), recorder.arns
    assert "/admin" not in recorder.paths()
    status, _, _ = gateway.request("GET", "/prod/%6frders", {"Authorization": "no-admin"})
    assert status == 200
    assert recorder.arns[-1].endswith(":shop/prod/GET/orders")


# === the client's address ===

SPOOFED = {"X-Forwarded-For": "203.0.113.7", "Forwarded": "for=198.51.100.1", "X-Real-IP": "198.51.100.2"}


def whoami(gateway: Gateway, recorder: Backend, headers: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """What the backend received for one `/prod/whoami`, and the request's access-log line."""
    status, _, response_headers = gateway.request("GET", "/prod/whoami", headers)
    assert status == 200
    path, received = recorder.seen[-1]
    assert path == "/whoami"
    return received, gateway.access_log(response_headers["x-amzn-requestid"])


def test_a_clients_forwarding_headers_are_replaced(gateway: Gateway, recorder: Backend) -> None:
    received, logged = whoami(gateway, recorder, SPOOFED)
    assert received["x-forwarded-for"] == "127.0.0.1"
    assert received["x-source-ip"] == "127.0.0.1"
    assert "forwarded" not in received and "x-real-ip" not in received
    assert logged["sourceIp"] == "127.0.0.1"


def test_a_trusted_proxy_names_the_client(proxied: Gateway, recorder: Backend) -> None:
    # The client prepended 1.1.1.1; the proxy appended the address it saw.
    received, logged = whoami(proxied, recorder, {"X-Forwarded-For": "1.1.1.1, 198.51.100.7", "X-Real-IP": "10.9.9.9"})
    assert received["x-source-ip"] == "198.51.100.7"
    assert received["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"
    assert "x-real-ip" not in received
    assert logged["sourceIp"] == "198.51.100.7"
    # The proxy writes X-Forwarded-For: a Forwarded it passed on is the client's, not read.
    received, logged = whoami(
        proxied, recorder, {"Forwarded": "for=10.9.9.9", "X-Forwarded-For": "198.51.100.7"}
    )
    assert received["x-source-ip"] == "198.51.100.7"
    assert "forwarded" not in received
    assert logged["sourceIp"] == "198.51.100.7"
    # Nothing forwarded: the proxy is the client.
    received, _ = whoami(proxied, recorder, {})
    assert (received["x-source-ip"], received["x-forwarded-for"]) == ("127.0.0.1", "127.0.0.1")


def test_a_proxy_writing_forwarded_is_read_there_only(forwarded_proxy: Gateway, recorder: Backend) -> None:
    headers = {"X-Forwarded-For": "10.9.9.9", "Forwarded": 'for="[2001:db8::7]:4711";proto=https'}
    received, logged = whoami(forwarded_proxy, recorder, headers)
    assert received["x-source-ip"] == "2001:db8::7"
    assert received["x-forwarded-for"] == "2001:db8::7, 127.0.0.1"
    assert "forwarded" not in received
    assert logged["sourceIp"] == "2001:db8::7"


# === what loads, and what does not ===


def test_aws_iam_methods_load_quietly_and_refuse_unsigned_requests(gateway: Gateway) -> None:
    log = gateway.server.stderr_text(since_start=True)
    assert "apis.shop.resources./reports.DELETE.authorization" not in log, log
    status, body, _ = gateway.request("DELETE", "/prod/reports")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})


def test_a_jwt_authorizer_without_audiences_stops_the_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    definition = """
version: 1
apis:
  shop:
    authorizers:
      partners: {type: jwt, issuer: "https://accounts.google.com"}
    resources:
      /me:
        GET:
          authorizer: partners
          integration: {type: mock, status: 200}
stages:
  shop:
    prod: {}
"""
    refused = Gateway(backend, tmp_path_factory.mktemp("no-audience"), definition)
    try:
        with pytest.raises(ServerDied):
            refused.server.start()
        log = refused.server.stderr_text(since_start=True)
        assert "apis.shop.authorizers.partners.audiences" in log, log
        assert "needs `audiences`" in log
    finally:
        refused.server.close()
        if refused.database is not None:
            refused.database.drop()
