"""Cognito Lambda triggers for the end-to-end tests: a trigger server of the tests' own (the
standard library's `http.server` on 127.0.0.1) and fixtures that start gatehouse with
`--function ARN=URL` pointing at it.

The server checks every call's `X-Gatehouse-Signature` with the verification snippet of
docs/functions.md (executed from the document itself) and refuses one that does not verify; it
records each event, and answers what the test scripted for the event's `triggerSource` (or for
the function, by name): a response, a Lambda-shaped error, raw bytes, a delay. Without a script
it answers the event back unchanged, as a Lambda that does nothing returns its event.

Usage in a test module:

    from trigger_support import Reply, function_arn, trigger_server, triggered  # noqa: F401

    def test_x(triggered):
        pool = triggered.pool(PreSignUp="pre-sign-up")          # names from FUNCTIONS
        triggered.triggers.on("PreSignUp_SignUp", Reply.respond_with(autoConfirmUser=True))
        ...
        event = triggered.triggers.last("PreSignUp_SignUp")

`triggered` is a `Triggered` on a gatehouse per module and backend; its trigger script and
recorded calls are cleared before each test.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

from gatehouse_harness import (
    REPO_ROOT,
    SUITE_CONFIG,
    GatehouseServer,
    PostgresDatabase,
    create_client,
    postgres_server_url,
    unique,
    wait_until,
)

DOCS = REPO_ROOT / "docs" / "functions.md"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# The shared signing secret of the functions registered with `--function` (given through
# GATEHOUSE_FUNCTION_SECRET, so the server knows it from the start).
SECRET = "trigger-test-secret-0123456789abcdef"
# The function whose endpoint answers late and whose time limit (from the config file) is short.
SLOW_TIMEOUT_MS = 500

# Every function the trigger server serves, by name: one per Cognito trigger, plus `slow`
# (its own time limit) and `down` (an endpoint nobody listens on).
FUNCTIONS = [
    "pre-sign-up",
    "custom-message",
    "post-confirmation",
    "pre-authentication",
    "post-authentication",
    "define-auth-challenge",
    "create-auth-challenge",
    "verify-auth-challenge",
    "pre-token-generation",
    "user-migration",
    "custom-email-sender",
    "custom-sms-sender",
    "slow",
]
DOWN = "down"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# === the documented verification snippet ===


def _documented_verifier() -> Callable[..., bool]:
    text = DOCS.read_text()
    match = re.search(r"<!-- snippet: verify.py -->\n```\w+\n(.*?)```", text, re.S)
    assert match, "docs/functions.md has no `verify.py` snippet"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)  # noqa: S102
    return namespace["verify_gatehouse_signature"]


verify_gatehouse_signature = _documented_verifier()


# === replies ===


@dataclass
class Reply:
    """What the trigger server answers: `status` and `body` (JSON-encoded unless bytes),
    after `delay` seconds. `respond` (when set) is merged into the event's `response` and
    the event sent back, as a Lambda handler does."""

    status: int = 200
    body: Any = None
    respond: dict[str, Any] | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def respond_with(**response: Any) -> "Reply":
        return Reply(respond=response)

    @staticmethod
    def error(message: str, error_type: str = "Error") -> "Reply":
        """A function that threw: Lambda's error body, marked as Lambda's invoke API does."""
        return Reply(
            status=200,
            body={"errorType": error_type, "errorMessage": message, "trace": []},
            headers={"X-Amz-Function-Error": "Unhandled"},
        )

    @staticmethod
    def failed_status(status: int, message: str) -> "Reply":
        """An endpoint answering a non-2xx status with a Lambda-shaped error body."""
        return Reply(status=status, body={"errorType": "Error", "errorMessage": message})

    @staticmethod
    def raw(data: bytes, status: int = 200) -> "Reply":
        return Reply(status=status, body=data)

    @staticmethod
    def late(seconds: float, then: "Reply | None" = None) -> "Reply":
        reply = then or Reply()
        return Reply(reply.status, reply.body, reply.respond, seconds, reply.headers)


class Call:
    """One call as the trigger server received it."""

    def __init__(self, function: str, headers: dict[str, str], body: bytes, verified: bool) -> None:
        self.function = function
        self.headers = headers
        self.body = body
        self.verified = verified
        try:
            self.event: Any = json.loads(body)
        except ValueError:
            self.event = None

    @property
    def source(self) -> str:
        return (self.event or {}).get("triggerSource", "")


class TriggerServer:
    """Every function of `FUNCTIONS` on one listener, by path (`/pre-sign-up`, …)."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.calls: list[Call] = []
        self.scripts: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.closing = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                verified = verify_gatehouse_signature(owner.secret, self.headers, body)
                name = self.path.strip("/")
                call = Call(name, {k.lower(): v for k, v in self.headers.items()}, body, verified)
                with owner.lock:
                    owner.calls.append(call)
                if not verified:
                    return self.answer(Reply.failed_status(401, "bad signature"), call)
                self.answer(owner.reply_for(call), call)

            def answer(self, reply: Reply, call: Call) -> None:
                if reply.delay and owner.closing.wait(timeout=reply.delay):
                    return
                if reply.respond is not None:
                    event = dict(call.event or {})
                    response = dict(event.get("response") or {})
                    response.update(reply.respond)
                    event["response"] = response
                    body: Any = event
                elif reply.body is None:
                    body = call.event
                else:
                    body = reply.body
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # gatehouse gave up waiting (its time limit)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # --- scripts ---

    def on(self, source_or_function: str, script: Any) -> None:
        """Answers calls whose `triggerSource` (or function name) is `source_or_function`
        with `script`: a `Reply`, or a function of the event returning one."""
        with self.lock:
            self.scripts[source_or_function] = script

    def reply_for(self, call: Call) -> Reply:
        with self.lock:
            script = self.scripts.get(call.source, self.scripts.get(call.function))
        if script is None:
            return Reply()
        return script(call.event) if callable(script) else script

    def reset(self) -> None:
        with self.lock:
            self.scripts.clear()
            self.calls.clear()

    # --- what was called ---

    def events(self, source: str | None = None, function: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            calls = list(self.calls)
        return [
            c.event
            for c in calls
            if (source is None or c.source == source) and (function is None or c.function == function)
        ]

    def last(self, source: str) -> dict[str, Any]:
        found = self.events(source)
        assert found, f"no {source} call; calls: {[c.source or c.function for c in self.calls]}"
        return found[-1]

    def wait_for(self, source: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        assert wait_until(lambda: len(self.events(source)) >= count, timeout=timeout), f"{count} {source} call(s)"
        return self.events(source)

    def all_verified(self) -> bool:
        with self.lock:
            return all(c.verified for c in self.calls)

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


# === gatehouse with the trigger functions ===


def trigger_config(server: TriggerServer) -> str:
    """The suite's config plus the slow function (its own short time limit) and a function
    whose endpoint is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    return SUITE_CONFIG + f"""
[[functions]]
arn = "{function_arn("slow")}"
url = "{server.url}/slow"
timeout_ms = {SLOW_TIMEOUT_MS}
secret = "{server.secret}"

[[functions]]
arn = "{function_arn(DOWN)}"
url = "http://127.0.0.1:{closed}/down"
secret = "{server.secret}"
"""


def function_flags(server: TriggerServer) -> list[str]:
    out: list[str] = []
    for name in FUNCTIONS:
        if name != "slow":
            out += ["--function", f"{function_arn(name)}={server.url}/{name}"]
    return out


class Triggered:
    """A gatehouse whose functions are the trigger server's."""

    def __init__(self, server: GatehouseServer, triggers: TriggerServer) -> None:
        self.server = server
        self.triggers = triggers

    @property
    def admin(self) -> Any:
        return self.server.admin

    @property
    def public(self) -> Any:
        return self.server.public

    def lambda_config(self, **triggers: Any) -> dict[str, Any]:
        """`LambdaConfig` from member → function name (or a ready value for the members that
        are objects, such as `CustomEmailSender`)."""
        return {k: function_arn(v) if isinstance(v, str) and not v.startswith("arn:") else v for k, v in triggers.items()}

    def pool(self, *, client: bool = True, pool_args: dict[str, Any] | None = None, **triggers: Any) -> dict[str, Any]:
        """A pool (email usernames, email auto-verified) with the given triggers, and an app
        client without a secret allowing passwords: `{"pool_id", "client_id"}`."""
        args: dict[str, Any] = {
            "PoolName": unique("trig"),
            "UsernameAttributes": ["email"],
            "AutoVerifiedAttributes": ["email"],
            "LambdaConfig": self.lambda_config(**triggers),
        }
        args.update(pool_args or {})
        pool_id = self.admin.create_user_pool(**args)["UserPool"]["Id"]
        out = {"pool_id": pool_id}
        if client:
            out["client_id"] = create_client(self.admin, pool_id)["ClientId"]
        return out


@pytest.fixture(scope="module")
def trigger_server() -> Iterator[TriggerServer]:
    server = TriggerServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def trigger_gatehouse(backend: str, trigger_server: TriggerServer) -> Iterator[GatehouseServer]:
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    server = GatehouseServer(
        database_url=database.url if database else None,
        config=trigger_config(trigger_server),
        extra_args=function_flags(trigger_server),
        extra_env={"GATEHOUSE_FUNCTION_SECRET": trigger_server.secret},
        name=f"gatehouse[{backend}]",
    )
    try:
        server.start()
        yield server
    finally:
        server.close()
        if database is not None:
            database.drop()


@pytest.fixture
def triggered(trigger_gatehouse: GatehouseServer, trigger_server: TriggerServer) -> Iterator[Triggered]:
    """The module's gatehouse and trigger server, the script and calls cleared; afterwards
    every call the server received must have carried a valid signature."""
    trigger_server.reset()
    yield Triggered(trigger_gatehouse, trigger_server)
    assert trigger_server.all_verified(), "a call did not carry a valid X-Gatehouse-Signature"
