"""`AWS_IAM` methods on the gateway, end to end: a user pool sign-in becomes temporary
credentials (`cognito-identity` GetId / GetCredentialsForIdentity), and `requests` signed by
botocore's own SigV4 signer (service `execute-api`) call a gateway in front of a recording
backend. The role's policy allows `execute-api:Invoke` on `GET /mine/*` and `POST /echo` only:

- allowed calls reach the backend, which sees the caller's Cognito identity id through a
  parameter mapping (`context.identity.cognitoIdentityId`) and the caller's ARN;
- a signed POST body is covered by the signature (a changed body is refused);
- another path is refused with API Gateway's `User: … is not authorized to perform:
  execute-api:Invoke on resource: …`, an unsigned request with `Missing Authentication Token`,
  a tampered session token with `The security token included in the request is invalid.`;
- the method ARN is the decoded path (`/mine/a%20b` is `…/GET/mine/a b`);
- the operator's credentials are the account's and may call anything.

Every server runs on SQLite and on PostgreSQL (the `backend` fixture).
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gatehouse_harness import (
    ACCOUNT_ID,
    OPERATOR_ACCESS_KEY_ID,
    OPERATOR_SECRET_ACCESS_KEY,
    REGION,
    GatehouseServer,
    PostgresDatabase,
    postgres_server_url,
)
from test_identity_pools import Setup

SERVE_GATEWAY_LINE = re.compile(r"^gatehouse gateway listening on (http://127\.0\.0\.1:\d+)\s*$")

DEFINITION = """
version: 1
apis:
  iamapi:
    resources:
      /mine/{proxy+}:
        GET:
          authorization: AWS_IAM
          integration:
            type: http_proxy
            uri: "http://BACKEND/mine/{proxy}"
            request_parameters:
              header.x-identity: context.identity.cognitoIdentityId
              header.x-identity-pool: context.identity.cognitoIdentityPoolId
              header.x-auth-type: context.identity.cognitoAuthenticationType
              header.x-user-arn: context.identity.userArn
      /echo:
        POST:
          authorization: AWS_IAM
          integration: {type: http_proxy, uri: "http://BACKEND/echo"}
      /other:
        GET:
          authorization: AWS_IAM
          integration: {type: http_proxy, uri: "http://BACKEND/other"}
stages:
  iamapi:
    prod: {}
"""


class Backend:
    """Records each request's path, headers and body; answers 200 with the path."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length) if length else b""
                backend.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                answer = json.dumps({"path": self.path}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Backend]:
    backend = Backend()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="module")
def server(backend: str, recorder: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatehouseServer]:
    """This module's server: the identity listener and a gateway serving DEFINITION."""
    database = None if backend == "sqlite" else PostgresDatabase(postgres_server_url())
    api_file = tmp_path_factory.mktemp("iam") / "api.yaml"
    api_file.write_text(DEFINITION.replace("BACKEND", recorder.address))
    server = GatehouseServer(
        database_url=database.url if database else None,
        extra_args=["--api", str(api_file)],
        name=f"gatehouse[{backend}]",
    )
    try:
        yield server.start()
    finally:
        server.close()
        if database is not None:
            database.drop()


def gateway_url(server: GatehouseServer) -> str:
    found = [m for m in (SERVE_GATEWAY_LINE.match(line.strip()) for line in server._stdout_lines) if m]
    assert found, f"no gateway listener line:\n{server.diagnostics()}"
    return found[0].group(1)


@pytest.fixture(scope="module")
def setup(server: GatehouseServer) -> Setup:
    setup = Setup(server)
    allow = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": [
                f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:iamapi/prod/GET/mine/*",
                f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:iamapi/prod/POST/echo",
            ],
        }],
    }
    setup.iam.put_role_policy(
        RoleName=setup.auth_role["RoleName"], PolicyName="invoke", PolicyDocument=json.dumps(allow)
    )
    return setup


def call(
    server: GatehouseServer,
    method: str,
    path: str,
    credentials: Credentials | None,
    body: bytes = b"",
    sent_body: bytes | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """`requests` to the gateway, signed by botocore's SigV4Auth when `credentials` are given."""
    url = gateway_url(server) + path
    headers = {"content-type": "application/json"} if body else {}
    if credentials is not None:
        signed = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials, "execute-api", REGION).add_auth(signed)
        headers = dict(signed.headers.items())
    response = requests.request(
        method, url, headers=headers, data=body if sent_body is None else sent_body, timeout=30
    )
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text
    return response.status_code, answer, {k.lower(): v for k, v in response.headers.items()}


def signed_in(setup: Setup) -> tuple[str, Credentials]:
    """A new user's identity id and temporary credentials."""
    _, id_token = setup.id_token()
    identity_id, raw = setup.credentials(id_token)
    return identity_id, Credentials(raw["AccessKeyId"], raw["SecretKey"], raw["SessionToken"])


def test_a_signed_in_identity_invokes_what_its_role_allows(setup: Setup, recorder: Backend) -> None:
    identity_id, creds = signed_in(setup)
    status, body, _ = call(setup.server, "GET", "/prod/mine/notes", creds)
    assert (status, body) == (200, {"path": "/mine/notes"})
    path, headers, _ = recorder.seen[-1]
    assert path == "/mine/notes"
    assert headers["x-identity"] == identity_id
    assert headers["x-identity-pool"] == setup.pool_id
    assert headers["x-auth-type"] == "authenticated"
    role = setup.auth_role["RoleName"]
    arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/CognitoIdentityCredentials"
    assert headers["x-user-arn"] == arn
    assert headers["x-gatehouse-cognito-identity-id"] == identity_id
    assert headers["x-gatehouse-principal-id"] == arn


def test_the_method_arn_is_the_decoded_path(setup: Setup, recorder: Backend) -> None:
    _, creds = signed_in(setup)
    status, _, _ = call(setup.server, "GET", "/prod/mine/a%20b", creds)
    assert status == 200
    assert recorder.seen[-1][0] == "/mine/a%20b"


def test_a_signed_body_reaches_the_backend_and_a_changed_one_is_refused(setup: Setup, recorder: Backend) -> None:
    _, creds = signed_in(setup)
    status, _, _ = call(setup.server, "POST", "/prod/echo", creds, body=b'{"n": 1}')
    assert status == 200
    assert recorder.seen[-1][2] == b'{"n": 1}'
    before = len(recorder.seen)
    status, body, headers = call(setup.server, "POST", "/prod/echo", creds, body=b'{"n": 1}', sent_body=b'{"n": 2}')
    assert status == 403
    assert body["message"].startswith("The request signature we calculated does not match"), body
    assert headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert len(recorder.seen) == before


def test_another_path_is_denied_by_the_role_policy(setup: Setup, recorder: Backend) -> None:
    _, creds = signed_in(setup)
    before = len(recorder.seen)
    status, body, headers = call(setup.server, "GET", "/prod/other", creds)
    role = setup.auth_role["RoleName"]
    assert (status, body) == (403, {
        "message": f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/CognitoIdentityCredentials "
        f"is not authorized to perform: execute-api:Invoke on resource: "
        f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:iamapi/prod/GET/other"
    })
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    assert len(recorder.seen) == before


def test_unsigned_and_tampered_requests_are_refused(setup: Setup, recorder: Backend) -> None:
    _, creds = signed_in(setup)
    before = len(recorder.seen)
    status, body, _ = call(setup.server, "GET", "/prod/mine/notes", None)
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    token = creds.token
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    status, body, _ = call(setup.server, "GET", "/prod/mine/notes", Credentials(creds.access_key, creds.secret_key, flipped))
    assert (status, body) == (403, {"message": "The security token included in the request is invalid."})
    status, body, _ = call(setup.server, "GET", "/prod/mine/notes", Credentials(creds.access_key, "wrong" * 8, token))
    assert status == 403 and body["message"].startswith("The request signature we calculated"), body
    assert len(recorder.seen) == before


def test_the_operator_may_invoke_anything(setup: Setup) -> None:
    operator = Credentials(OPERATOR_ACCESS_KEY_ID, OPERATOR_SECRET_ACCESS_KEY)
    status, body, _ = call(setup.server, "GET", "/prod/other", operator)
    assert (status, body) == (200, {"path": "/other"})
