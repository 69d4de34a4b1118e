"""Three functions of a multi-tenant application, on one HTTP server, as gatehouse calls them:

- ``/tenant-claims`` — a user pool's PreTokenGeneration trigger: looks up the user's tenant
  (tenants.json: by username, then by the domain of the user's email) and adds a ``tenant``
  claim to the ID token (every event version) and to the access token (``V2_0`` / ``V3_0``).
  A user without a tenant gets tokens without the claim.
- ``/tenant-authorizer`` — a Lambda TOKEN authorizer: verifies the bearer JWT against the JWKS
  of the user pools it trusts (``--issuer``) and allows the call only when the token carries a
  ``tenant`` claim, handing the tenant on in its context.
- ``/tenant-app`` — a Lambda proxy integration (payload format 1.0) answering with the tenant
  the authorizer found.

Code written for AWS Lambda keeps its shape: each handler takes the event and returns what the
Lambda would; this file only adds the HTTP server around them and checks gatehouse's signature
on every call (the algorithm of docs/functions.md, "Verifying a call").

Run it::

    pip install 'pyjwt[crypto]'
    GATEHOUSE_FUNCTION_SECRET=... python tenant_functions.py --port 9300 \\
        --issuer http://127.0.0.1:8000/us-east-1_AbCdEf123

then point gatehouse at it (see gateway.yaml) and set the pool's trigger::

    aws cognito-idp update-user-pool --user-pool-id us-east-1_AbCdEf123 --lambda-config \\
      'PreTokenGenerationConfig={LambdaVersion=V2_0,LambdaArn=arn:aws:lambda:us-east-1:123456789012:function:tenant-claims}'
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt

HERE = Path(__file__).resolve().parent
REPLAY_WINDOW_SECONDS = 300
MAX_EVENT_BYTES = 1024 * 1024


class Unauthorized(Exception):
    """How a Lambda authorizer asks API Gateway for a 401: it fails with `Unauthorized`."""


# === the handlers (what would be the Lambda functions) ===


class TenantDirectory:
    """tenants.json: tenants by username and by email domain."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self.users: dict[str, str] = data.get("users", {})
        self.domains: dict[str, str] = data.get("email_domains", {})

    def tenant_of(self, username: str, attributes: dict[str, str]) -> str | None:
        if username in self.users:
            return self.users[username]
        email = attributes.get("email", "")
        # Only a verified address says which organisation the user belongs to.
        if "@" in email and attributes.get("email_verified") == "true":
            return self.domains.get(email.rsplit("@", 1)[1].lower())
        return None


def pre_token_generation(event: dict[str, Any], directory: TenantDirectory) -> dict[str, Any]:
    """The PreTokenGeneration trigger: the event back, with the tenant claim in `response`."""
    request = event.get("request") or {}
    tenant = directory.tenant_of(event.get("userName", ""), request.get("userAttributes") or {})
    if tenant is None:
        event["response"] = {}
        return event
    claims = {"tenant": tenant}
    if event.get("version") == "1":
        event["response"] = {"claimsOverrideDetails": {"claimsToAddOrOverride": claims}}
    else:
        event["response"] = {
            "claimsAndScopeOverrideDetails": {
                "idTokenGeneration": {"claimsToAddOrOverride": claims},
                "accessTokenGeneration": {"claimsToAddOrOverride": claims},
            }
        }
    return event


class TokenChecker:
    """Verifies user-pool JWTs of the trusted issuers with their published keys."""

    def __init__(self, issuers: list[str]) -> None:
        self.issuers = list(issuers)
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def claims(self, token: str) -> dict[str, Any]:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as e:
            raise Unauthorized() from e
        # Keys are fetched only from an issuer on the list: a token cannot send us elsewhere.
        if issuer not in self.issuers:
            raise Unauthorized()
        with self._lock:
            client = self._clients.setdefault(issuer, jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json"))
        try:
            key = client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=issuer,
                options={"require": ["exp", "iat", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.PyJWTError as e:
            raise Unauthorized() from e
        if claims.get("token_use") not in ("id", "access"):
            raise Unauthorized()
        return claims


def tenant_authorizer(event: dict[str, Any], checker: TokenChecker) -> dict[str, Any]:
    """The TOKEN authorizer: Allow with the tenant for a valid token that has one, Deny for a
    valid token without one, `Unauthorized` for anything else."""
    token = event.get("authorizationToken") or ""
    if token.lower().startswith("bearer "):
        token = token[7:]
    claims = checker.claims(token)
    tenant = claims.get("tenant")
    allowed = isinstance(tenant, str) and tenant != ""
    answer: dict[str, Any] = {
        "principalId": claims["sub"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if allowed else "Deny",
                    "Resource": event.get("methodArn", "*"),
                }
            ],
        },
    }
    if allowed:
        answer["context"] = {"tenant": tenant}
    return answer


def tenant_app(event: dict[str, Any]) -> dict[str, Any]:
    """The API behind the authorizer (a Lambda proxy integration, payload format 1.0)."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"tenant": authorizer.get("tenant"), "user": authorizer.get("principalId")}),
    }


# === the HTTP server around them ===


def verify_gatehouse_signature(secret: str, headers: Any, body: bytes, now: float | None = None) -> bool:
    """True when `body` was signed by gatehouse with `secret` (docs/functions.md)."""
    timestamp = headers.get("X-Gatehouse-Timestamp", "")
    signature = headers.get("X-Gatehouse-Signature", "")
    if not timestamp.isdigit() or not signature.startswith("v1="):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + expected, signature)


class TenantFunctions:
    """The three functions on one listener (127.0.0.1), by path."""

    def __init__(
        self,
        secret: str,
        issuers: list[str],
        port: int = 0,
        tenants: Path = HERE / "tenants.json",
    ) -> None:
        self.secret = secret
        self.directory = TenantDirectory(tenants)
        self.checker = TokenChecker(issuers)
        self.events: list[tuple[str, dict[str, Any]]] = []
        functions = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are two writes: without TCP_NODELAY the body waits for the
            # caller's delayed ACK of the headers (40 ms on Linux) on every call.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                length = int(self.headers.get("Content-Length", "0"))
                if length > MAX_EVENT_BYTES:
                    return self.answer(413, {"errorType": "TooLarge", "errorMessage": "event too large"})
                body = self.rfile.read(length)
                if not verify_gatehouse_signature(functions.secret, self.headers, body):
                    return self.answer(401, {"errorType": "Unauthorized", "errorMessage": "bad signature"})
                name = self.path.strip("/")
                event = json.loads(body)
                functions.events.append((name, event))
                try:
                    if name == "tenant-claims":
                        result = pre_token_generation(event, functions.directory)
                    elif name == "tenant-authorizer":
                        result = tenant_authorizer(event, functions.checker)
                    elif name == "tenant-app":
                        result = tenant_app(event)
                    else:
                        return self.answer(404, {"errorType": "NotFound", "errorMessage": f"no function {name}"})
                except Unauthorized:
                    return self.answer(500, {"errorType": "Error", "errorMessage": "Unauthorized"})
                self.answer(200, result)

            def answer(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "TenantFunctions":
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--issuer", action="append", required=True, help="a trusted user pool's issuer URL")
    parser.add_argument("--tenants", type=Path, default=HERE / "tenants.json")
    args = parser.parse_args()
    secret = os.environ.get("GATEHOUSE_FUNCTION_SECRET", "")
    if not secret:
        parser.error("set GATEHOUSE_FUNCTION_SECRET to the secret gatehouse signs its calls with")
    functions = TenantFunctions(secret, args.issuer, args.port, args.tenants).start()
    print(f"tenant functions on {functions.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        functions.close()


if __name__ == "__main__":
    main()
