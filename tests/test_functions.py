"""Lambda functions behind the gateway, end to end: the OpenAPI files of
`examples/gateway/functions/` (a REST API as AWS SAM exports it, with a Lambda TOKEN authorizer
and an alias from a stage variable; an HTTP API's payload format 2.0 as Terraform writes it),
served by the real binary through functions registered with `--function`, a `[[functions]]`
table and the operator API, and answered by a function server of this module's own on
127.0.0.1 (the standard library's `http.server`).

The function server checks every call with the verification snippet of docs/functions.md —
executed from the document itself, so the documented code is the code under test — and records
each event, so the tests read the Lambda proxy event gatehouse sent:

- payload format 1.0 and 2.0 fields, multi-value headers and query strings, path parameters,
  stage variables in the URI, the authorizer's principal and context;
- binary bodies both ways (`isBase64Encoded`);
- a function answering garbage or a malformed response (502 `{"message": "Internal server
  error"}`, a log line saying why, never the answer), one that never answers (a time limit of
  its own from the config file), one that is down (tried again, then 502);
- a definition naming an unregistered function (the start refused, naming the ARN and
  `--function ARN=URL`), then registered through the operator API and served after the hot
  reload it causes;
- the operator API (register with a generated secret shown once, list, describe, delete; an
  unsigned call refused);
- `GATEHOUSE_FUNCTIONS` with the shared secret generated in the data folder, printed once;
- the Node snippet of docs/functions.md accepting a real call and refusing another secret.

Every server runs on SQLite and on PostgreSQL (the `backend` fixture).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from requests.structures import CaseInsensitiveDict
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gatehouse_harness import (
    OPERATOR_ACCESS_KEY_ID,
    OPERATOR_SECRET_ACCESS_KEY,
    REGION,
    REPO_ROOT,
    SUITE_CONFIG,
    GatehouseServer,
    PostgresDatabase,
    ServerDied,
    postgres_server_url,
    wait_until,
)

EXAMPLES = REPO_ROOT / "examples" / "gateway" / "functions"
DOCS = REPO_ROOT / "docs" / "functions.md"
SERVE_GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on (http://127\.0\.0\.1:\d+)\s*$")

ACCOUNT = "123456789012"


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


ORDERS = arn("orders-api")
EVENTS = arn("events-api")
AUTHORIZER = arn("token-authorizer")
GARBAGE = arn("garbage")
BROKEN = arn("broken")
SLOW = arn("slow")
DOWN = arn("down")
LATE = arn("late")

# The slow function has a secret and a short time limit of its own, from the config file.
SLOW_SECRET = "slow-function-secret-0123456789"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"

# A declarative file beside the examples: methods whose functions misbehave, and a REQUEST
# authorizer named by `function:` (the declarative format's Lambda authorizer).
FAULTS = """
version: 1
apis:
  faults:
    authorizers:
      byheader:
        type: request
        function: {authorizer}
        identity_source: X-Token
        result_ttl_seconds: 0
    resources:
      /garbage:
        GET: {{integration: {{type: aws_proxy, uri: "{garbage}"}}}}
      /broken:
        GET: {{integration: {{type: aws_proxy, uri: "{broken}"}}}}
      /slow:
        GET: {{integration: {{type: aws_proxy, uri: "{slow}"}}}}
      /down:
        GET: {{integration: {{type: aws_proxy, uri: "{down}"}}}}
      /guarded:
        GET:
          authorizer: byheader
          integration: {{type: aws_proxy, uri: "{orders}", payload_format_version: "2.0"}}
stages:
  faults:
    prod: {{}}
base_path_mappings:
  - {{base_path: faults, api: faults, stage: prod}}
""".format(
    authorizer=AUTHORIZER, garbage=GARBAGE, broken=BROKEN, slow=SLOW, down=DOWN, orders=ORDERS
)


# === the documented verification snippets ===


def documented_snippet(name: str) -> str:
    """The code block that follows `<!-- snippet: NAME -->` in docs/functions.md."""
    text = DOCS.read_text()
    match = re.search(r"<!-- snippet: " + re.escape(name) + r" -->\n```\w+\n(.*?)```", text, re.S)
    assert match, f"docs/functions.md has no `{name}` snippet"
    return match.group(1)


def _load_python_verifier() -> Callable[..., bool]:
    namespace: dict[str, Any] = {}
    exec(compile(documented_snippet("verify.py"), str(DOCS), "exec"), namespace)  # noqa: S102
    return namespace["verify_gatehouse_signature"]


verify_gatehouse_signature = _load_python_verifier()


# === the function server ===


class Call:
    """One call as the function server received it."""

    def __init__(self, function: str, headers: dict[str, str], body: bytes, verified: bool) -> None:
        self.function = function
        self.headers = headers
        self.body = body
        self.verified = verified
        self.event: Any = json.loads(body) if body else None


class Functions:
    """Every function of this module on one listener, by path (`/orders-api`, `/slow`, …)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.secret = ""  # the shared secret, known once gatehouse printed it
        self.release = threading.Event()  # lets the slow function's handler go at the end
        functions = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                name = self.path.strip("/")
                secret = SLOW_SECRET if name == "slow" else functions.secret
                verified = verify_gatehouse_signature(secret, self.headers, body)
                call = Call(name, {k.lower(): v for k, v in self.headers.items()}, body, verified)
                functions.calls.append(call)
                if not verified:
                    return self.answer(401, {"errorType": "Unauthorized", "errorMessage": "bad signature"})
                status, answer = functions.handle(name, call.event)
                self.answer(status, answer)

            def answer(self, status: int, answer: Any) -> None:
                if answer is None:  # never answers: the gateway's time limit decides
                    functions.release.wait(timeout=60)
                    return
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, name: str, event: Any) -> tuple[int, Any]:
        if name in ("orders-api", "events-api", "late"):
            return 200, self.proxy_answer(event)
        if name == "token-authorizer":
            token = event.get("authorizationToken") or (event.get("headers") or {}).get("x-token")
            if token not in ("allow-me", "deny-me"):
                # How a Lambda authorizer asks for a 401.
                return 500, {"errorType": "Error", "errorMessage": "Unauthorized"}
            effect = "Allow" if token == "allow-me" else "Deny"
            return 200, {
                "principalId": "user-7",
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
                },
                "context": {"tenant": "acme", "tier": 3},
            }
        if name == "garbage":
            return 200, b"<html>not a lambda answer: s3cret-garbage</html>"
        if name == "broken":
            return 200, {"headers": {"x-leak": "s3cret-broken"}, "body": "no status"}
        if name == "slow":
            return 200, None
        raise AssertionError(f"no function {name}")

    @staticmethod
    def proxy_answer(event: dict[str, Any]) -> Any:
        path = event.get("rawPath") or event.get("path") or ""
        if path.endswith("/files"):
            # The request body back, as binary.
            body = event["body"]
            data = base64.b64decode(body) if event["isBase64Encoded"] else body.encode()
            return {
                "statusCode": 201,
                "headers": {"content-type": "image/png"},
                "isBase64Encoded": True,
                "body": base64.b64encode(data[::-1]).decode(),
            }
        if path.endswith("/plain"):
            return "just a string"
        if path.endswith("/cookies"):
            return {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": "with cookies"}
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "x-single": "one"},
            "multiValueHeaders": {"x-multi": ["first", "second"]},
            "body": json.dumps({"seen": path}),
        }

    def last(self, name: str) -> Call:
        found = [c for c in self.calls if c.function == name]
        assert found, f"no call to {name}; calls: {[c.function for c in self.calls]}"
        return found[-1]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def functions() -> Iterator[Functions]:
    server = Functions()
    try:
        yield server
    finally:
        server.close()


def config_with_functions(functions: Functions) -> str:
    """The suite's config and the `[[functions]]` table: the slow function with its own secret
    and time limit, and one whose endpoint is down."""
    return SUITE_CONFIG + f"""
[[functions]]
arn = "{SLOW}"
url = "{functions.url}/slow"
timeout_ms = 300
secret = "{SLOW_SECRET}"

[[functions]]
arn = "{DOWN}"
url = "http://127.0.0.1:{closed_port()}/down"
"""


def flags(functions: Functions, *names: str) -> list[str]:
    out: list[str] = []
    for name in names:
        out += ["--function", f"{arn(name)}={functions.url}/{name}"]
    return out


@pytest.fixture(scope="module")
def api_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples (unchanged) and the faults file, in one folder."""
    folder = tmp_path_factory.mktemp("functions")
    for path in EXAMPLES.iterdir():
        shutil.copy(path, folder / path.name)
    (folder / "faults.yaml").write_text(FAULTS)
    return folder


@pytest.fixture(scope="module")
def server(backend: str, functions: Functions, api_dir: Path) -> Iterator[GatehouseServer]:
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    server = GatehouseServer(
        database_url=database.url if database else None,
        config=config_with_functions(functions),
        extra_args=["--api", str(api_dir / "gateway.yaml"), "--api", str(api_dir / "faults.yaml")]
        + flags(functions, "orders-api", "events-api", "token-authorizer", "garbage", "broken"),
        name=f"gatehouse[{backend}]",
    )
    try:
        server.start()
        functions.secret = generated_secret(server)
        yield server
    finally:
        server.close()
        if database is not None:
            database.drop()


GENERATED = re.compile(r"generated the signing secret of the configured functions \(stored in (.+?)\):\n  (\S+)")


def generated_secret(server: GatehouseServer) -> str:
    found = GENERATED.findall(server.stderr_text(since_start=True))
    assert len(found) == 1, f"the secret is printed once:\n{server.diagnostics()}"
    path, secret = found[0]
    assert Path(path).read_text().strip() == secret
    return secret


def gateway(server: GatehouseServer) -> str:
    found = [m for m in (SERVE_GATEWAY_LINE.match(line.strip()) for line in server._stdout_lines) if m]
    assert found, f"no gateway listener line:\n{server.diagnostics()}"
    return found[-1].group(1)


def call(server: GatehouseServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", 30)
    return requests.request(method, gateway(server) + path, **kwargs)


def raw_call(
    server: GatehouseServer, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request with repeated headers (which `requests` would merge); the answer's headers
    as a list, repeated ones kept."""
    host, port = gateway(server).removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, [(k.lower(), v) for k, v in response.getheaders()], response.read()
    finally:
        connection.close()


def values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k == name]


@contextlib.contextmanager
def own_functions() -> Iterator[Functions]:
    """A function server for a test's own gatehouse (its own shared secret)."""
    functions = Functions()
    try:
        yield functions
    finally:
        functions.close()


# === payload format 1.0 (REST APIs) ===


def test_a_rest_api_method_sends_the_1_0_event(server: GatehouseServer, functions: Functions) -> None:
    status, headers, body = raw_call(
        server,
        "POST",
        "/orders/orders/a%20b?tag=x&tag=y&one=1",
        [("X-Twice", "a"), ("X-Twice", "b"), ("Content-Type", "application/json"), ("User-Agent", "e2e/1")],
        b'{"qty": 2}',
    )
    assert status == 200, body
    # The answer's headers, multi-value ones one field each.
    assert values(headers, "x-single") == ["one"]
    assert values(headers, "x-multi") == ["first", "second"]
    # REST APIs hand over the path as requested (encoded) and the parameters decoded.
    assert json.loads(body) == {"seen": "/orders/a%20b"}
    received = functions.last("orders-api")
    assert received.verified, "signed with the shared secret"
    assert received.headers["x-gatehouse-function"] == ORDERS
    event = received.event
    assert event["resource"] == "/orders/{id}"
    assert event["path"] == "/orders/a%20b"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["queryStringParameters"] == {"tag": "y", "one": "1"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["x", "y"], "one": ["1"]}
    assert event["headers"]["x-twice"] == "b"
    assert event["multiValueHeaders"]["x-twice"] == ["a", "b"]
    assert event["stageVariables"] == {"ordersAlias": "live"}
    assert event["body"] == '{"qty": 2}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "e2e/1"
    assert context["resourcePath"] == "/orders/{id}"
    assert context["httpMethod"] == "POST"
    assert context["stage"] == "prod"
    assert context["apiId"] == "orders"
    assert context["path"] == "/orders/orders/a%20b"
    assert re.fullmatch(r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])
    assert context["requestId"] == dict(headers)["x-amzn-requestid"]
    assert "authorizer" not in context


def test_a_stage_variable_in_the_uri_calls_the_alias(server: GatehouseServer, functions: Functions) -> None:
    response = call(server, "DELETE", "/orders/aliased/deep/path")
    assert response.status_code == 200, response.text
    received = functions.last("orders-api")
    # `…:orders-api:${stageVariables.ordersAlias}` with `ordersAlias: live`, served by the
    # unqualified registration, as Lambda serves an alias.
    assert received.headers["x-gatehouse-function"] == f"{ORDERS}:live"
    assert received.event["pathParameters"] == {"proxy": "deep/path"}
    assert received.event["httpMethod"] == "DELETE"


def test_binary_bodies_go_both_ways_as_base64(server: GatehouseServer, functions: Functions) -> None:
    response = call(server, "POST", "/orders/files", headers={"Content-Type": "image/png"}, data=PNG)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content == PNG[::-1]
    event = functions.last("orders-api").event
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == PNG
    # Text of a type that is not binary goes as text.
    call(server, "POST", "/orders/files", headers={"Content-Type": "text/plain"}, data=b"plain")
    event = functions.last("orders-api").event
    assert (event["isBase64Encoded"], event["body"]) == (False, "plain")


def test_the_lambda_token_authorizer_decides_and_its_context_reaches_the_function(
    server: GatehouseServer, functions: Functions
) -> None:
    ok = call(server, "GET", "/orders/orders/9", headers={"Authorization": "allow-me"})
    assert ok.status_code == 200, ok.text
    assert functions.last("token-authorizer").event["type"] == "TOKEN"
    assert functions.last("token-authorizer").verified
    authorizer = functions.last("orders-api").event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-7"
    assert authorizer["tenant"] == "acme" and authorizer["tier"] == "3"
    denied = call(server, "GET", "/orders/orders/9", headers={"Authorization": "deny-me"})
    assert denied.status_code == 403, denied.text
    assert denied.json() == {"message": "User is not authorized to access this resource with an explicit deny"}
    unknown = call(server, "GET", "/orders/orders/9", headers={"Authorization": "who-knows"})
    assert unknown.status_code == 401, unknown.text
    assert unknown.json() == {"message": "Unauthorized"}


# === payload format 2.0 (HTTP APIs) ===


def test_an_http_api_route_sends_the_2_0_event(server: GatehouseServer, functions: Functions) -> None:
    status, _, body = raw_call(
        server,
        "PUT",
        "/events/events/created?x=1&x=2",
        [("Cookie", "c1=v1; c2=v2"), ("X-Twice", "a"), ("X-Twice", "b"), ("Content-Type", "application/json")],
        b'{"a": 1}',
    )
    assert status == 200, body
    event = functions.last("events-api").event
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /events/{kind}"
    assert event["rawPath"] == "/events/events/created"
    assert event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-twice"] == "a,b"
    assert event["pathParameters"] == {"kind": "created"}
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    assert "stageVariables" not in event
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == ("PUT", "/events/events/created", "127.0.0.1")
    assert event["requestContext"]["routeKey"] == "ANY /events/{kind}"


def test_2_0_answers_without_a_status_code_and_with_cookies(server: GatehouseServer) -> None:
    plain = call(server, "GET", "/events/plain")
    assert plain.status_code == 200, plain.text
    assert plain.headers["content-type"] == "application/json"
    assert plain.json() == "just a string"
    status, headers, body = raw_call(server, "GET", "/events/events/cookies", [])
    assert status == 200, body
    assert values(headers, "set-cookie") == ["a=1; Path=/", "b=2"]
    assert body == b"with cookies"


def test_a_request_authorizer_named_by_function_in_the_declarative_format(
    server: GatehouseServer, functions: Functions
) -> None:
    ok = call(server, "GET", "/faults/guarded", headers={"X-Token": "allow-me"})
    assert ok.status_code == 200, ok.text
    assert functions.last("token-authorizer").event["type"] == "REQUEST"
    assert functions.last("orders-api").event["requestContext"]["authorizer"] == {
        "lambda": {"tenant": "acme", "tier": "3"}
    }
    assert call(server, "GET", "/faults/guarded").status_code == 401


# === functions that misbehave ===


def test_garbage_and_malformed_answers_are_502(server: GatehouseServer) -> None:
    for path, secret, why in [
        ("/faults/garbage", "s3cret-garbage", "it is not JSON"),
        ("/faults/broken", "s3cret-broken", "`statusCode` is missing"),
    ]:
        before = server.stderr_size()
        response = call(server, "GET", path)
        assert response.status_code == 502, response.text
        assert response.json() == {"message": "Internal server error"}
        assert secret not in response.text
        assert wait_until(lambda: why in server.stderr_since(before)), server.stderr_since(before)
        assert secret not in server.stderr_since(before), "the log never holds the answer"


def test_a_function_that_never_answers_is_given_up(server: GatehouseServer, functions: Functions) -> None:
    before = server.stderr_size()
    response = call(server, "GET", "/faults/slow")
    assert response.status_code == 502, response.text
    assert response.json() == {"message": "Internal server error"}
    assert functions.last("slow").verified, "signed with its own secret"
    assert wait_until(lambda: "did not answer within 300 ms" in server.stderr_since(before))


def test_a_function_that_is_down_is_tried_again_then_502(server: GatehouseServer) -> None:
    before = server.stderr_size()
    response = call(server, "GET", "/faults/down")
    assert response.status_code == 502, response.text
    assert response.json() == {"message": "Internal server error"}
    assert wait_until(lambda: "could not be reached after 3 attempts" in server.stderr_since(before)), (
        server.stderr_since(before)
    )


# === the operator API ===


def operator(
    server: GatehouseServer, method: str, path: str, body: Any = None, *, sign: bool = True
) -> requests.Response:
    url = server.endpoint + path
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"}
    if sign:
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        credentials = Credentials(OPERATOR_ACCESS_KEY_ID, OPERATOR_SECRET_ACCESS_KEY)
        SigV4Auth(credentials, "gatehouse", REGION).add_auth(request)
        headers = dict(request.headers.items())
    return requests.request(method, url, data=data, headers=headers, timeout=30)


def test_the_operator_api_registers_lists_and_deletes(server: GatehouseServer) -> None:
    name = "arn:aws:lambda:us-east-1:123456789012:function:reports"
    made = operator(server, "POST", "/gatehouse/functions", {"functionArn": name, "url": "https://reports.internal/fn"})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["functionArn"] == name
    assert created["timeoutMillis"] == 5000
    assert created["source"] == "operator"
    assert re.fullmatch(r"[0-9a-f]{64}", created["secret"]), "generated, shown once"
    listed = operator(server, "GET", "/gatehouse/functions").json()["functions"]
    by_arn = {f["functionArn"]: f for f in listed}
    assert by_arn[name]["source"] == "operator"
    assert by_arn[ORDERS]["source"] == "configuration"
    assert by_arn[SLOW]["timeoutMillis"] == 300
    assert "secret" not in json.dumps(listed)
    one = operator(server, "GET", f"/gatehouse/functions/{name}")
    assert one.status_code == 200 and "secret" not in one.json()
    replaced = operator(
        server, "POST", "/gatehouse/functions",
        {"functionArn": name, "url": "https://reports.internal/v2", "timeoutMillis": 900, "secret": "a-secret-of-our-own-123"},
    )
    assert replaced.status_code == 200 and "secret" not in replaced.json()
    # The configuration wins: its functions are not the operator API's to change.
    clash = operator(server, "DELETE", f"/gatehouse/functions/{ORDERS}")
    assert clash.status_code == 409 and clash.headers["x-amzn-ErrorType"] == "ConflictException"
    bad = operator(server, "POST", "/gatehouse/functions", {"functionArn": "reports", "url": "https://r/"})
    assert bad.status_code == 400 and bad.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert operator(server, "DELETE", f"/gatehouse/functions/{name}").status_code == 204
    gone = operator(server, "GET", f"/gatehouse/functions/{name}")
    assert gone.status_code == 404 and gone.headers["x-amzn-ErrorType"] == "NotFoundException"
    for method, path, body in [
        ("GET", "/gatehouse/functions", None),
        ("POST", "/gatehouse/functions", {"functionArn": name, "url": "https://evil.example/"}),
        ("DELETE", f"/gatehouse/functions/{ORDERS}", None),
    ]:
        refused = operator(server, method, path, body, sign=False)
        assert refused.status_code == 403, refused.text
        assert refused.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert name not in json.dumps(operator(server, "GET", "/gatehouse/functions").json())


# === not registered, then registered: the hot reload ===


LATE_API = """
openapi: 3.0.1
info: {{title: late, version: "1"}}
paths:
  /hello:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{late}/invocations
""".format(late=LATE)


def test_an_unregistered_function_stops_the_start_with_the_way_out(servers: Any, tmp_path: Path) -> None:
    api = tmp_path / "late.yaml"
    api.write_text(LATE_API)
    server = servers.new(start=False, extra_args=["--api", str(api)])
    with pytest.raises(ServerDied):
        server.start()
    text = server.stderr_text(since_start=True)
    assert server.exit_code not in (None, 0)
    assert f"function `{LATE}` is not registered" in text, text
    assert f"--function {LATE}=URL" in text, text
    assert "paths./hello.get.x-amazon-apigateway-integration.uri" in text, text


def test_registering_a_function_makes_a_refused_definition_servable(servers: Any, tmp_path: Path) -> None:
    with own_functions() as functions:
        registered_later(servers, functions, tmp_path)


def registered_later(servers: Any, functions: Functions, tmp_path: Path) -> None:
    served = tmp_path / "served.yaml"
    served.write_text(LATE_API.replace(LATE, ORDERS))
    server = servers.new(extra_args=["--api", str(served)] + flags(functions, "orders-api"))
    functions.secret = generated_secret(server)
    assert call(server, "GET", "/prod/hello").status_code == 200
    # The file now names a function nobody registered: the reload is refused and the previous
    # definition keeps serving.
    before = server.stderr_size()
    served.write_text(LATE_API.replace("/hello", "/late"))
    assert wait_until(lambda: "is not registered" in server.stderr_since(before), timeout=10), (
        server.stderr_since(before)
    )
    assert call(server, "GET", "/prod/hello").status_code == 200
    assert call(server, "GET", "/prod/late").status_code == 403
    # Registered through the operator API: the registry's change reloads the files.
    made = operator(
        server, "POST", "/gatehouse/functions",
        {"functionArn": LATE, "url": f"{functions.url}/late", "secret": functions.secret},
    )
    assert made.status_code == 201, made.text
    assert wait_until(lambda: call(server, "GET", "/prod/late").status_code == 200, timeout=10)
    assert functions.last("late").verified


# === GATEHOUSE_FUNCTIONS and the shared secret ===


def test_the_environment_registers_functions_signed_with_a_secret_generated_once(
    servers: Any, tmp_path: Path
) -> None:
    with own_functions() as functions:
        from_the_environment(servers, functions, tmp_path)


def from_the_environment(servers: Any, functions: Functions, tmp_path: Path) -> None:
    served = tmp_path / "env.yaml"
    served.write_text(LATE_API.replace(LATE, EVENTS))
    server = servers.new(
        extra_args=["--api", str(served)],
        extra_env={"GATEHOUSE_FUNCTIONS": f"{EVENTS}={functions.url}/events-api,{AUTHORIZER}={functions.url}/token-authorizer"},
    )
    secret = generated_secret(server)
    path = server.data_dir / "function-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    functions.secret = secret
    assert call(server, "GET", "/prod/hello").status_code == 200
    assert functions.last("events-api").verified
    # Not printed again: the data folder keeps it.
    server.stop()
    server.start()
    assert "generated the signing secret" not in server.stderr_text(since_start=True)
    assert path.read_text().strip() == secret
    assert call(server, "GET", "/prod/hello").status_code == 200
    assert functions.last("events-api").verified


# === the Node snippet ===


def test_the_documented_node_snippet_verifies_a_real_call(
    server: GatehouseServer, functions: Functions, tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node, "node is needed (./scripts/test installs it)"
    call(server, "GET", "/events/plain")
    received = functions.last("events-api")
    module = tmp_path / "verify.js"
    module.write_text(documented_snippet("verify.js"))
    script = """
const { verifyGatehouseSignature } = require(process.argv[1]);
const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const body = Buffer.from(input.body, "base64");
const now = Number(input.headers["x-gatehouse-timestamp"]);
console.log(JSON.stringify([
  verifyGatehouseSignature(input.secret, input.headers, body),
  verifyGatehouseSignature("another secret entirely", input.headers, body),
  verifyGatehouseSignature(input.secret, input.headers, Buffer.concat([body, Buffer.from(" ")])),
  verifyGatehouseSignature(input.secret, input.headers, body, now + 360),
]));
"""
    payload = json.dumps({"secret": functions.secret, "headers": received.headers, "body": base64.b64encode(received.body).decode()})
    result = subprocess.run(
        [node, "-e", script, str(module)], input=payload, capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(result.stdout) == [True, False, False, False], result.stderr
    # And the Python snippet refuses the same replay.
    sent = int(received.headers["x-gatehouse-timestamp"])
    headers = CaseInsensitiveDict(received.headers)
    assert verify_gatehouse_signature(functions.secret, headers, received.body, now=sent + 240)
    assert not verify_gatehouse_signature(functions.secret, headers, received.body, now=sent + 360)
    assert not verify_gatehouse_signature("another secret entirely", headers, received.body, now=sent)
