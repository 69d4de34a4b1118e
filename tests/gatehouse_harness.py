"""Starts the real `gatehouse serve` binary and talks to it with the clients people use.

`GatehouseServer` runs the binary on a free loopback port with a throw-away data folder, a config
file that lowers the argon2 cost (so the suite stays fast) and raises the per-address rate limit
(every test calls from 127.0.0.1), and fixed operator credentials. It
exposes boto3 clients (`admin`, signed with the operator credentials; `public`, unsigned), a raw
HTTP helper for what boto3 refuses to send (malformed JSON, bogus targets), the development
outbox and the served discovery documents. The process is stopped with SIGTERM (then SIGKILL);
if it dies early, every error carries the tail of its stderr.

The helpers below (`raises_cognito`, `secret_hash`, `TokenVerifier`, `PoolFixture`) encode AWS
behaviour the tests rely on, so the test modules read as a list of behaviours.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import types
import unittest.mock
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import jwt
import pytest
import requests
from botocore import UNSIGNED
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

# Fixed operator credentials for the servers the suite starts (never used anywhere real).
OPERATOR_ACCESS_KEY_ID = "AKIAGATEHOUSEE2ETEST"
OPERATOR_SECRET_ACCESS_KEY = "e2e/operator/secret/key/0123456789abcdefABCD"

# Low argon2 cost: the suite measures behaviour, not hashing strength.
FAST_ARGON2_CONFIG = "[argon2]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n"
# Every test talks to the server from 127.0.0.1, one client address for a whole module, so the
# suite's servers raise the per-address limit of the unauthenticated operations. Tests of the
# limits themselves (and of the lockout) start servers with `config=DEFAULT_LIMITS_CONFIG`.
RAISED_RATE_LIMIT = "[rate_limit]\nper_second = 1000000\nburst = 1000000\n"
SUITE_CONFIG = FAST_ARGON2_CONFIG + RAISED_RATE_LIMIT
DEFAULT_LIMITS_CONFIG = FAST_ARGON2_CONFIG

READY_LINE = re.compile(r"^gatehouse listening on (https?://127\.0\.0\.1:(\d+))\s*$")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0

# A password that satisfies every rule of the pools the suite creates.
PASSWORD = "Correct-Horse-9!"
OTHER_PASSWORD = "Battery-Staple-7?"

POOL_ID_RE = re.compile(r"^us-east-1_[0-9A-Za-z]{9}$")
CLIENT_ID_RE = re.compile(r"^[0-9a-z]{26}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The exception names the server documents for SigV4 failures (identity/src/sigv4/mod.rs).
MISSING_AUTH = "MissingAuthenticationTokenException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"


def gatehouse_bin() -> Path:
    """The binary under test: `$GATEHOUSE_BIN`, else `target/debug/gatehouse` of this checkout."""
    configured = os.environ.get("GATEHOUSE_BIN")
    path = Path(configured) if configured else REPO_ROOT / "target" / "debug" / "gatehouse"
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def unique(prefix: str) -> str:
    """A short name no other test uses (tests share one server per module)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def unique_email(prefix: str = "user") -> str:
    return f"{unique(prefix)}@example.com"


class ServerDied(AssertionError):
    """The server exited (or never became ready); the message carries its stderr."""


# === the server process ===


class GatehouseServer:
    """One `gatehouse serve` process on `127.0.0.1:0`.

    `start()` may be called again after `stop()` (same data folder and database), which is how
    the restart tests check durability. `close()` stops the process and removes the data folder.
    """

    def __init__(
        self,
        *,
        database_url: str | None = None,
        data_dir: Path | None = None,
        public_url: str | None = None,
        operator_credentials: bool = True,
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        name: str = "gatehouse",
        config: str = SUITE_CONFIG,
        ca_bundle: str | None = None,
    ) -> None:
        self.name = name
        # The CA the clients verify the server's certificate with, when it serves TLS
        # (`--tls-cert`); None: the system's roots.
        self.ca_bundle = ca_bundle
        self.database_url = database_url
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="gatehouse-e2e-"))
        self.public_url = public_url
        self.operator_credentials = operator_credentials
        self.extra_env = dict(extra_env or {})
        self.extra_args = list(extra_args or [])
        self.config_path = self.data_dir.parent / f"{self.data_dir.name}.toml"
        self.config_path.write_text(config)
        self.process: subprocess.Popen[str] | None = None
        self.endpoint = ""
        self.exit_code: int | None = None
        self._stderr_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.log"
        self._stdout_lines: list[str] = []
        self._stdout_thread: threading.Thread | None = None
        self._clients: dict[str, Any] = {}
        self.starts = 0

    # --- lifecycle ---

    def command(self) -> list[str]:
        args = [
            str(gatehouse_bin()),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--gateway-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data-dir",
            str(self.data_dir),
            "--config",
            str(self.config_path),
        ]
        if self.database_url:
            args += ["--database-url", self.database_url]
        if self.public_url:
            args += ["--public-url", self.public_url]
        return args + self.extra_args

    def environment(self) -> dict[str, str]:
        # The server must see only what the test chooses: no GATEHOUSE_* from the caller's shell.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        env.setdefault("RUST_BACKTRACE", "1")
        if self.operator_credentials:
            env["GATEHOUSE_OPERATOR_ACCESS_KEY_ID"] = OPERATOR_ACCESS_KEY_ID
            env["GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY"] = OPERATOR_SECRET_ACCESS_KEY
        env.update(self.extra_env)
        return env

    def start(self) -> "GatehouseServer":
        binary = gatehouse_bin()
        if not binary.exists():
            raise ServerDied(
                f"gatehouse binary not found at {binary}: run `cargo build --bin gatehouse` "
                "or set GATEHOUSE_BIN (./scripts/test does both)"
            )
        self.starts += 1
        self._clients.clear()
        self.exit_code = None
        self._stdout_lines = []
        stderr_file = open(self._stderr_path, "a", encoding="utf-8")
        stderr_file.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n")
        stderr_file.flush()
        self._stderr_start = self._stderr_path.stat().st_size
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            env=self.environment(),
            text=True,
            cwd=self.data_dir,
        )
        stderr_file.close()
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream: Any) -> None:
            # Keep draining stdout for the whole life of the process so it never blocks on a
            # full pipe.
            for line in stream:
                self._stdout_lines.append(line)
                lines.put(line)
            lines.put(None)

        self._stdout_thread = threading.Thread(target=pump, args=(self.process.stdout,), daemon=True)
        self._stdout_thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise ServerDied(
                    f"{self.name} did not print `gatehouse listening on …` within {START_TIMEOUT_S:.0f} s\n"
                    + self.diagnostics()
                )
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.process.wait(timeout=5)
                self.exit_code = self.process.returncode
                raise ServerDied(
                    f"{self.name} exited with status {self.exit_code} before it was ready\n"
                    + self.diagnostics()
                )
            match = READY_LINE.match(line.strip())
            if match:
                self.endpoint = match.group(1)
                self.port = int(match.group(2))
                return self

    def stop(self) -> int | None:
        """SIGTERM, wait, then SIGKILL. Returns the exit status (None if it had to be killed)."""
        process = self.process
        if process is None:
            return self.exit_code
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill()
                self.process = None
                self.exit_code = None
                return None
        self.exit_code = process.returncode
        if self._stdout_thread is not None:
            self._stdout_thread.join(timeout=5)
        self.process = None
        return self.exit_code

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        if self._own_data_dir and not os.environ.get("GATEHOUSE_TEST_KEEP_DATA"):
            shutil.rmtree(self.data_dir, ignore_errors=True)
            for path in (self.config_path, self._stderr_path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    # --- health of the process ---

    def stderr_text(self, since_start: bool = False) -> str:
        try:
            data = self._stderr_path.read_bytes()
        except FileNotFoundError:
            return ""
        if since_start:
            data = data[getattr(self, "_stderr_start", 0):]
        return data.decode("utf-8", errors="replace")

    def stderr_size(self) -> int:
        try:
            return self._stderr_path.stat().st_size
        except FileNotFoundError:
            return 0

    def stderr_since(self, offset: int) -> str:
        try:
            with open(self._stderr_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def diagnostics(self, limit: int = 12000) -> str:
        text = self.stderr_text(since_start=True)
        if len(text) > limit:
            text = "…" + text[-limit:]
        stdout = "".join(self._stdout_lines)[-2000:]
        return f"--- {self.name} stdout ---\n{stdout}\n--- {self.name} stderr ---\n{text}"

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if self.process is None:
            raise ServerDied(f"{self.name} is not running")
        if self.process.poll() is not None:
            self.exit_code = self.process.returncode
            raise ServerDied(f"{self.name} died with exit status {self.exit_code}\n" + self.diagnostics())

    # --- clients ---

    def client(
        self,
        *,
        access_key_id: str | None = OPERATOR_ACCESS_KEY_ID,
        secret_access_key: str | None = OPERATOR_SECRET_ACCESS_KEY,
        session_token: str | None = None,
        region: str = REGION,
        unsigned: bool = False,
    ) -> Any:
        """A boto3 cognito-idp client for this server (no retries: every error is seen once)."""
        config = botocore.config.Config(
            retries={"total_max_attempts": 1},
            connect_timeout=5,
            read_timeout=30,
            **({"signature_version": UNSIGNED} if unsigned else {}),
        )
        session = boto3.session.Session(
            aws_access_key_id=None if unsigned else access_key_id,
            aws_secret_access_key=None if unsigned else secret_access_key,
            aws_session_token=None if unsigned else session_token,
            region_name=region,
        )
        client = session.client(
            "cognito-idp",
            endpoint_url=self.endpoint,
            config=config,
            **({"verify": self.ca_bundle} if self.ca_bundle else {}),
        )
        resend_when_an_idle_connection_closes(client)
        return client

    @property
    def admin(self) -> Any:
        """Signed with the operator credentials (operator operations)."""
        if "admin" not in self._clients:
            self._clients["admin"] = self.client()
        return self._clients["admin"]

    @property
    def public(self) -> Any:
        """Sends no signature at all (public operations, as an app in a browser would)."""
        if "public" not in self._clients:
            self._clients["public"] = self.client(unsigned=True)
        return self._clients["public"]

    # --- raw HTTP ---

    def raw(
        self,
        target: str | None,
        body: bytes | str | dict | list | None,
        *,
        sign: bool = False,
        headers: dict[str, str] | None = None,
        access_key_id: str = OPERATOR_ACCESS_KEY_ID,
        secret_access_key: str = OPERATOR_SECRET_ACCESS_KEY,
        session_token: str | None = None,
        region: str = REGION,
        signing_time: datetime.datetime | None = None,
    ) -> requests.Response:
        """POST / with the Cognito JSON protocol, bypassing boto3's client-side validation.

        `target` is the operation name (prefixed automatically unless it contains a dot) or None
        to omit `X-Amz-Target`. With `sign=True` botocore's own SigV4 signer signs the request,
        optionally as if the clock read `signing_time`.
        """
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        all_headers = {"Content-Type": JSON_CONTENT_TYPE}
        if target is not None:
            all_headers["X-Amz-Target"] = target if "." in target else TARGET_PREFIX + target
        all_headers.update(headers or {})
        url = self.endpoint + "/"
        if sign:
            all_headers = sigv4_headers(
                url,
                data,
                all_headers,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                session_token=session_token,
                region=region,
                signing_time=signing_time,
            )
        return requests.post(url, data=data, headers=all_headers, timeout=30, verify=self.verify)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.endpoint + path, timeout=30, verify=self.verify)

    @property
    def verify(self) -> str | bool:
        """What `requests` verifies the server with: the test CA when it serves TLS."""
        return self.ca_bundle or True

    # --- OIDC discovery ---

    def issuer(self, pool_id: str) -> str:
        return f"{self.public_url or self.endpoint}/{pool_id}"

    def discovery(self, pool_id: str) -> dict[str, Any]:
        response = self.get(f"/{pool_id}/.well-known/openid-configuration")
        assert response.status_code == 200, (
            f"GET /{pool_id}/.well-known/openid-configuration: {response.status_code} {response.text}"
        )
        return response.json()

    def jwks(self, pool_id: str) -> dict[str, Any]:
        """The JWKS, fetched the way a relying party does: discovery document → `jwks_uri`.

        With a `--public-url` that does not resolve (restart and multi-node tests) the path of
        `jwks_uri` is fetched from this server instead.
        """
        jwks_uri = self.discovery(pool_id)["jwks_uri"]
        parsed = urllib.parse.urlsplit(jwks_uri)
        url = jwks_uri if not self.public_url else self.endpoint + parsed.path
        response = requests.get(url, timeout=30)
        assert response.status_code == 200, f"GET {url}: {response.status_code} {response.text}"
        return response.json()

    # --- development outbox ---

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    def outbox(self) -> list[dict[str, Any]]:
        """Every delivered message, oldest first (file names start with unix millis)."""
        if not self.outbox_dir.is_dir():
            return []
        messages = []
        for path in sorted(self.outbox_dir.glob("*.json")):
            for _ in range(20):
                try:
                    message = json.loads(path.read_text())
                    break
                except (json.JSONDecodeError, FileNotFoundError):
                    # A file being written right now: read it again in a moment.
                    time.sleep(0.01)
            else:
                raise AssertionError(f"outbox file {path} is not valid JSON: {path.read_text()!r}")
            message["_file"] = path.name
            messages.append(message)
        return messages

    def messages(self, **match: Any) -> list[dict[str, Any]]:
        return [m for m in self.outbox() if all(m.get(k) == v for k, v in match.items())]

    def wait_for_message(self, timeout: float = 5.0, count: int = 1, **match: Any) -> dict[str, Any]:
        """The newest message with these fields once at least `count` of them exist."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(**match)
            if len(found) >= count:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no outbox message matching {match} (count {count}) after {timeout} s; "
                    f"outbox holds: {[{k: m.get(k) for k in ('pool_id', 'destination', 'purpose')} for m in self.outbox()]}"
                )
            time.sleep(0.05)


# === SigV4 with botocore's signer ===


def sigv4_headers(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
    region: str = REGION,
    service: str = "cognito-idp",
    signing_time: datetime.datetime | None = None,
) -> dict[str, str]:
    """Headers of a request signed by botocore (the reference client), at an optional fake time."""
    request = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    credentials = botocore.credentials.Credentials(access_key_id, secret_access_key, session_token)
    signer = botocore.auth.SigV4Auth(credentials, service, region)
    if signing_time is None:
        signer.add_auth(request)
    else:
        fixed = signing_time.astimezone(datetime.timezone.utc).replace(tzinfo=None)

        class FixedDatetime(datetime.datetime):
            @classmethod
            def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
                return fixed

        fake = types.SimpleNamespace(
            datetime=FixedDatetime, timedelta=datetime.timedelta, timezone=datetime.timezone
        )
        # botocore reads the clock through `get_current_datetime` (newer releases) or
        # `datetime.datetime.utcnow` (older ones): fix both.
        with contextlib.ExitStack() as stack:
            stack.enter_context(unittest.mock.patch.object(botocore.auth, "datetime", fake))
            if hasattr(botocore.auth, "get_current_datetime"):
                stack.enter_context(
                    unittest.mock.patch.object(
                        botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: fixed
                    )
                )
            signer.add_auth(request)
    return dict(request.headers.items())


# === errors ===


def error_of(exc: ClientError) -> tuple[str, str, int]:
    err = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return err.get("Code", ""), err.get("Message", ""), status


@contextlib.contextmanager
def raises_cognito(code: str | set[str], status: int = 400) -> Iterator[Any]:
    """Asserts that the block raises a Cognito error with this `__type` (or one of these) and
    HTTP status. Yields an object whose `.value` is the ClientError."""
    codes = {code} if isinstance(code, str) else set(code)
    holder = types.SimpleNamespace(value=None, code=None, message=None)
    try:
        yield holder
    except ClientError as exc:
        got_code, message, got_status = error_of(exc)
        holder.value, holder.code, holder.message = exc, got_code, message
        assert got_code in codes, (
            f"{exc.operation_name}: expected {' or '.join(sorted(codes))}, got {got_code} "
            f"(HTTP {got_status}): {message!r}"
        )
        assert got_status == status, (
            f"{exc.operation_name}: expected HTTP {status} for {got_code}, got {got_status}"
        )
    else:
        raise AssertionError(f"expected {' or '.join(sorted(codes))}, but the call succeeded")


def raw_error(response: requests.Response) -> tuple[str, str]:
    """`(__type without any namespace, message)` of a raw error response, after checking its shape."""
    assert response.status_code < 500, f"server error {response.status_code}: {response.text}"
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(
            f"error body is not JSON (HTTP {response.status_code}): {response.text!r}"
        ) from exc
    assert isinstance(body, dict) and "__type" in body, f"error body has no __type: {body!r}"
    error_type = str(body["__type"]).rsplit("#", 1)[-1]
    header = response.headers.get("x-amzn-ErrorType", "")
    assert header.split(":", 1)[0].rsplit("#", 1)[-1] == error_type, (
        f"x-amzn-ErrorType header {header!r} does not match __type {body['__type']!r}"
    )
    message = body.get("message", body.get("Message", ""))
    return error_type, message


# === Cognito helpers ===


def resend_when_an_idle_connection_closes(client: Any) -> Any:
    """Lets `client` (a boto3 client without retries) send a request once more when the
    kept-alive connection it reused was closed before any answer: the server closes a
    connection idle past its header timeout, and a request sent at that moment never reached
    it. Every other error is still seen once."""

    def resend(attempts: int, caught_exception: Exception | None = None, **_: Any) -> int | None:
        if attempts == 1 and isinstance(caught_exception, botocore.exceptions.ConnectionClosedError):
            return 0
        return None

    client.meta.events.register("needs-retry", resend)
    return client


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """SECRET_HASH = Base64(HMAC-SHA256(key=client secret, message=username + client id))."""
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def attrs(attributes: list[dict[str, str]] | None) -> dict[str, str]:
    """Cognito's `[{"Name": …, "Value": …}]` as a dict."""
    return {a["Name"]: a.get("Value", "") for a in attributes or []}


def attr_list(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in values.items()]


STRICT_PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}

CUSTOM_SCHEMA = [
    {
        "Name": "tier",
        "AttributeDataType": "String",
        "Mutable": True,
        "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "32"},
    },
    {
        "Name": "age",
        "AttributeDataType": "Number",
        "Mutable": True,
        "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "200"},
    },
]

ALL_TEST_FLOWS = [
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
]


def create_pool(admin: Any, *, email_username: bool = False, **overrides: Any) -> dict[str, Any]:
    """A pool with the strict password policy, `custom:tier`/`custom:age` and email
    auto-verification; `email_username=True` makes email the username (UsernameAttributes)."""
    params: dict[str, Any] = {
        "PoolName": unique("e2e-pool-"),
        "Policies": {"PasswordPolicy": dict(STRICT_PASSWORD_POLICY)},
        "Schema": [dict(s) for s in CUSTOM_SCHEMA],
        "AutoVerifiedAttributes": ["email"],
    }
    if email_username:
        params["UsernameAttributes"] = ["email"]
    params.update(overrides)
    return admin.create_user_pool(**params)["UserPool"]


def create_client(admin: Any, pool_id: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "UserPoolId": pool_id,
        "ClientName": unique("e2e-client-"),
        "ExplicitAuthFlows": list(ALL_TEST_FLOWS),
    }
    params.update(overrides)
    return admin.create_user_pool_client(**params)["UserPoolClient"]


@dataclass
class PoolFixture:
    """A pool and one app client on a server, with the user journeys the tests repeat."""

    server: GatehouseServer
    pool_id: str
    client_id: str
    client_secret: str | None = None
    email_username: bool = False
    pool: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        server: GatehouseServer,
        *,
        email_username: bool = False,
        pool_overrides: dict[str, Any] | None = None,
        **client_overrides: Any,
    ) -> "PoolFixture":
        pool = create_pool(server.admin, email_username=email_username, **(pool_overrides or {}))
        client = create_client(server.admin, pool["Id"], **client_overrides)
        return cls(
            server=server,
            pool_id=pool["Id"],
            client_id=client["ClientId"],
            client_secret=client.get("ClientSecret"),
            email_username=email_username,
            pool=pool,
        )

    @property
    def admin(self) -> Any:
        return self.server.admin

    @property
    def public(self) -> Any:
        return self.server.public

    def new_client(self, **overrides: Any) -> dict[str, Any]:
        return create_client(self.admin, self.pool_id, **overrides)

    def with_client(self, **overrides: Any) -> "PoolFixture":
        """The same pool seen through a new app client with these settings."""
        client = self.new_client(**overrides)
        return PoolFixture(
            server=self.server,
            pool_id=self.pool_id,
            client_id=client["ClientId"],
            client_secret=client.get("ClientSecret"),
            email_username=self.email_username,
            pool=self.pool,
        )

    def _secret(self, username: str, client_id: str | None, client_secret: str | None) -> dict[str, str]:
        secret = client_secret if client_secret is not None else (
            self.client_secret if client_id in (None, self.client_id) else None
        )
        if not secret:
            return {}
        return {"SecretHash": secret_hash(username, client_id or self.client_id, secret)}

    # --- sign-up journey ---

    def new_username(self, prefix: str = "user") -> tuple[str, str]:
        """(username to sign up with, email): the email itself when email is the username."""
        email = unique_email(prefix)
        return (email if self.email_username else unique(prefix + "-")), email

    def sign_up(
        self,
        username: str,
        email: str | None = None,
        password: str = PASSWORD,
        attributes: dict[str, str] | None = None,
        client_id: str | None = None,
    ) -> dict[str, Any]:
        user_attrs = dict(attributes or {})
        if email is not None:
            user_attrs.setdefault("email", email)
        return self.public.sign_up(
            ClientId=client_id or self.client_id,
            Username=username,
            Password=password,
            UserAttributes=attr_list(user_attrs),
            **self._secret(username, client_id, None),
        )

    def code_for(self, email: str, purpose: str = "SignUp", count: int = 1) -> str:
        message = self.server.wait_for_message(
            pool_id=self.pool_id, destination=email, purpose=purpose, count=count
        )
        code = message.get("code")
        assert isinstance(code, str) and code, f"outbox message has no code: {message}"
        return code

    def confirm(self, username: str, code: str, client_id: str | None = None) -> dict[str, Any]:
        return self.public.confirm_sign_up(
            ClientId=client_id or self.client_id,
            Username=username,
            ConfirmationCode=code,
            **self._secret(username, client_id, None),
        )

    def signed_up_user(
        self, prefix: str = "user", password: str = PASSWORD, attributes: dict[str, str] | None = None
    ) -> "User":
        """A confirmed user created through SignUp → outbox code → ConfirmSignUp."""
        username, email = self.new_username(prefix)
        response = self.sign_up(username, email, password, attributes)
        self.confirm(username, self.code_for(email))
        return User(username=username, email=email, password=password, sub=response["UserSub"])

    # --- login ---

    def login(
        self, username: str, password: str = PASSWORD, client_id: str | None = None,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        """InitiateAuth USER_PASSWORD_AUTH; returns the whole response."""
        params = {"USERNAME": username, "PASSWORD": password}
        secret = self._secret(username, client_id, client_secret)
        if secret:
            params["SECRET_HASH"] = secret["SecretHash"]
        return self.public.initiate_auth(
            ClientId=client_id or self.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params
        )

    def tokens(self, username: str, password: str = PASSWORD, client_id: str | None = None) -> dict[str, Any]:
        response = self.login(username, password, client_id)
        assert "AuthenticationResult" in response, f"expected tokens, got a challenge: {response}"
        return response["AuthenticationResult"]

    def refresh(self, refresh_token: str, client_id: str | None = None) -> dict[str, Any]:
        return self.public.initiate_auth(
            ClientId=client_id or self.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )

    def admin_login(self, username: str, password: str = PASSWORD, client_id: str | None = None) -> dict[str, Any]:
        return self.admin.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=client_id or self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )

    # --- operator shortcuts ---

    def admin_user(
        self,
        username: str | None = None,
        password: str = PASSWORD,
        attributes: dict[str, str] | None = None,
    ) -> "User":
        """A CONFIRMED user made by AdminCreateUser (SUPPRESS) + AdminSetUserPassword(Permanent)."""
        email = unique_email("admin")
        if username is None:
            username = email if self.email_username else unique("admin-")
        user_attrs = {"email": email, "email_verified": "true"}
        user_attrs.update(attributes or {})
        created = self.admin.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=attr_list(user_attrs),
            MessageAction="SUPPRESS",
        )["User"]
        self.admin.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True
        )
        return User(
            username=username,
            email=user_attrs["email"],
            password=password,
            sub=attrs(created.get("Attributes")).get("sub", ""),
        )

    def get_user(self, username: str) -> dict[str, Any]:
        return self.admin.admin_get_user(UserPoolId=self.pool_id, Username=username)


@dataclass
class User:
    username: str
    email: str
    password: str
    sub: str


def shared_pool_fixtures() -> tuple[Any, Any]:
    """`pool` and `email_pool` fixtures that hand out the module's shared pools (see
    conftest.py): for modules whose tests create their own users and leave the pool alone."""

    @pytest.fixture
    def pool(shared_pool: PoolFixture) -> PoolFixture:
        return shared_pool

    @pytest.fixture
    def email_pool(shared_email_pool: PoolFixture) -> PoolFixture:
        return shared_email_pool

    return pool, email_pool


# === tokens ===


class TokenVerifier:
    """Verifies gatehouse tokens as a relying party would: PyJWT, RS256 only, keys from the JWKS
    the pool's discovery document points at."""

    def __init__(self, server: GatehouseServer, pool_id: str) -> None:
        self.server = server
        self.pool_id = pool_id
        self.issuer = server.issuer(pool_id)
        self.jwks = server.jwks(pool_id)
        self.keys = {k.get("kid"): k for k in self.jwks.get("keys", [])}

    def key_for(self, token: str) -> Any:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        assert kid, f"token header has no kid: {header}"
        assert kid in self.keys, f"kid {kid!r} is not in the JWKS ({sorted(self.keys)})"
        return jwt.PyJWK(self.keys[kid], algorithm="RS256").key

    def id_token(self, token: str, client_id: str) -> dict[str, Any]:
        return jwt.decode(
            token,
            self.key_for(token),
            algorithms=["RS256"],
            audience=client_id,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "iss", "sub", "aud", "token_use"]},
        )

    def access_token(self, token: str) -> dict[str, Any]:
        # Cognito access tokens carry `client_id` instead of `aud`.
        return jwt.decode(
            token,
            self.key_for(token),
            algorithms=["RS256"],
            issuer=self.issuer,
            options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub", "token_use"]},
        )


def unverified_claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


# === PostgreSQL databases for the postgres backend ===


class PostgresDatabase:
    """A fresh database on the server named by `$GATEHOUSE_TEST_POSTGRES_URL`, dropped at close."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.name = "gh_" + secrets.token_hex(6)
        self._psql(f'CREATE DATABASE "{self.name}"')
        parts = urllib.parse.urlsplit(server_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + self.name))

    def _psql(self, sql: str) -> None:
        result = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.server_url, "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise AssertionError(f"psql {sql!r} failed ({result.returncode}): {result.stderr.strip()}")

    def drop(self) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


POSTGRES_ENV = "GATEHOUSE_TEST_POSTGRES_URL"


def postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.fail(
            f"{POSTGRES_ENV} is not set: the postgres variants need a PostgreSQL server URL. "
            "Run ./scripts/test (it starts a throw-away cluster and sets it), or "
            'eval "$(scripts/postgres start)" before pytest.',
            pytrace=False,
        )
    return url


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
