#!/usr/bin/env python3
"""Passwordless sign-in for a gatehouse user pool: the three custom-authentication triggers
(DefineAuthChallenge, CreateAuthChallenge, VerifyAuthChallengeResponse) as one small HTTP
server, standard library only.

The user asks to sign in with nothing but a username (`CUSTOM_AUTH`); the server emails a
one-time code to the user's address; the user answers the `CUSTOM_CHALLENGE` with it and gets
tokens. A client that signs in with SRP first (`CUSTOM_AUTH` with `CHALLENGE_NAME: SRP_A`, what
amazon-cognito-identity-js sends from `authenticateUser` with the flow type `CUSTOM_AUTH`) is
asked for the password, then for the emailed code: the same code doubles as a second factor.

    python3 server.py --listen 127.0.0.1:9200 --secret-file ../../../gatehouse-data/function-secret \
        --outbox ./outbox

Every call is checked against gatehouse's signature (`X-Gatehouse-Signature`, see
docs/functions.md) before anything else; a call that fails the check gets 401 and nothing is
sent. The email goes to the example's own outbox: one JSON file per message
(`{"to", "subject", "text"}`) in `--outbox`. Replace `send_email` with your mail provider's
API to send real mail. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CUSTOM_CHALLENGE = "CUSTOM_CHALLENGE"
# Wrong codes a sign-in may send before it fails (gatehouse also counts them against the
# user's lockout).
MAX_ATTEMPTS = 3
# How long an emailed code may be used.
CODE_LIFETIME_SECONDS = 10 * 60
CODE_DIGITS = 6
# What the challenge metadata of a code starts with (the define trigger looks for it).
METADATA_PREFIX = "MAGIC_CODE"
REPLAY_WINDOW_SECONDS = 300
MAX_EVENT_BYTES = 256 * 1024


# === gatehouse's signature ===


def verify_gatehouse_signature(secret: str, headers: Any, body: bytes, now: float | None = None) -> bool:
    """True when `body` was signed by gatehouse with `secret` less than five minutes ago."""
    timestamp = headers.get("X-Gatehouse-Timestamp") or ""
    signature = headers.get("X-Gatehouse-Signature") or ""
    if not re.fullmatch(r"-?[0-9]{1,20}", timestamp):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return False
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


# === the three triggers ===


class Passwordless:
    """The triggers' logic. `secret` keys the digests of codes: a code is never kept in clear,
    not even in the challenge's private parameters."""

    def __init__(self, secret: str, outbox: Path) -> None:
        self.code_key = hmac.new(secret.encode(), b"passwordless example code key", hashlib.sha256).digest()
        self.outbox = outbox

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        source = event.get("triggerSource")
        handlers = {
            "DefineAuthChallenge_Authentication": self.define,
            "CreateAuthChallenge_Authentication": self.create,
            "VerifyAuthChallengeResponse_Authentication": self.verify,
        }
        if source not in handlers:
            raise ValueError(f"this endpoint does not handle {source!r}")
        request = event.get("request") or {}
        event["response"] = handlers[source](request, event.get("response") or {})
        return event

    # DefineAuthChallenge: which challenge comes next, or the end of the sign-in.
    def define(self, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        session = request.get("session") or []
        names = [round_.get("challengeName") for round_ in session]
        if names[:1] == ["SRP_A"]:
            # Password first: SRP_A → PASSWORD_VERIFIER, then the emailed code.
            if len(session) == 1:
                return next_challenge(response, "PASSWORD_VERIFIER")
            if names[1] != "PASSWORD_VERIFIER" or session[1].get("challengeResult") is not True:
                return fail(response)
            session = session[2:]
        if any(round_.get("challengeName") != CUSTOM_CHALLENGE for round_ in session):
            return fail(response)
        if session and session[-1].get("challengeResult") is True:
            response.update(issueTokens=True, failAuthentication=False)
            return response
        if len(session) >= MAX_ATTEMPTS:
            return fail(response)
        if not (request.get("userAttributes") or {}).get("email") and not request.get("userNotFound"):
            return fail(response)
        return next_challenge(response, CUSTOM_CHALLENGE)

    # CreateAuthChallenge: a new code, emailed; or, after a wrong answer, the same code again.
    def create(self, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        if request.get("challengeName") != CUSTOM_CHALLENGE:
            raise ValueError(f"unexpected challenge {request.get('challengeName')!r}")
        email = (request.get("userAttributes") or {}).get("email", "")
        earlier = [
            round_.get("challengeMetadata") or ""
            for round_ in request.get("session") or []
            if round_.get("challengeName") == CUSTOM_CHALLENGE
        ]
        reused = next((m for m in reversed(earlier) if m.startswith(METADATA_PREFIX + ":")), None)
        if reused:
            _, issued_at, digest = reused.split(":", 2)
        else:
            code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
            issued_at, digest = str(int(time.time())), self.digest(code)
            # A name nobody holds (the client prevents user-existence errors) gets a challenge
            # like anyone else's, but no mail: nobody can answer it.
            if not request.get("userNotFound") and email:
                self.send_email(
                    email,
                    "Your sign-in code",
                    f"Your sign-in code is {code}. It expires in {CODE_LIFETIME_SECONDS // 60} minutes.",
                )
        response["publicChallengeParameters"] = {"email": mask(email) if email else ""}
        response["privateChallengeParameters"] = {"digest": digest, "issuedAt": issued_at}
        response["challengeMetadata"] = f"{METADATA_PREFIX}:{issued_at}:{digest}"
        return response

    # VerifyAuthChallengeResponse: whether the answer is the emailed code, still fresh.
    def verify(self, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        private = request.get("privateChallengeParameters") or {}
        answer = str(request.get("challengeAnswer") or "").strip()
        fresh = time.time() - int(private.get("issuedAt") or 0) <= CODE_LIFETIME_SECONDS
        matched = hmac.compare_digest(self.digest(answer), str(private.get("digest") or ""))
        response["answerCorrect"] = bool(fresh and matched and not request.get("userNotFound"))
        return response

    def digest(self, code: str) -> str:
        return hmac.new(self.code_key, code.encode(), hashlib.sha256).hexdigest()

    def send_email(self, to: str, subject: str, text: str) -> None:
        """Drops the message in the outbox (written whole, then renamed, so a reader never sees
        half a file). Put your mail provider's API call here."""
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.json"
        with tempfile.NamedTemporaryFile("w", dir=self.outbox, suffix=".tmp", delete=False) as f:
            json.dump({"to": to, "subject": subject, "text": text}, f)
        os.replace(f.name, self.outbox / name)


def next_challenge(response: dict[str, Any], name: str) -> dict[str, Any]:
    response.update(challengeName=name, issueTokens=False, failAuthentication=False)
    return response


def fail(response: dict[str, Any]) -> dict[str, Any]:
    response.update(issueTokens=False, failAuthentication=True)
    return response


def mask(email: str) -> str:
    """`a***@example.com`: enough for the user to recognise the address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


# === HTTP ===


def endpoint(triggers: Passwordless, secret: str) -> type[BaseHTTPRequestHandler]:
    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_EVENT_BYTES:
                return self.answer(413, {"errorType": "TooLarge", "errorMessage": "event too large"})
            body = self.rfile.read(length)
            if not verify_gatehouse_signature(secret, self.headers, body):
                return self.answer(401, {"errorType": "Unauthorized", "errorMessage": "bad signature"})
            try:
                event = json.loads(body)
                if not isinstance(event, dict):
                    raise ValueError("the event is not a JSON object")
                answer = triggers.handle(event)
            except Exception as error:  # a Lambda throwing: gatehouse passes the message on
                return self.answer(500, {"errorType": type(error).__name__, "errorMessage": str(error)})
            self.answer(200, answer)

        def answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # no request log: events carry users' attributes

    return Endpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9200", help="HOST:PORT (port 0: any free one)")
    parser.add_argument(
        "--secret-file",
        help="file holding gatehouse's signing secret of these functions "
        "(default: the PASSWORDLESS_SIGNING_SECRET environment variable)",
    )
    parser.add_argument("--outbox", default="outbox", help="folder the emails are written to")
    args = parser.parse_args(argv)
    if args.secret_file:
        secret = Path(args.secret_file).read_text().strip()
    else:
        secret = os.environ.get("PASSWORDLESS_SIGNING_SECRET", "").strip()
    if not secret:
        parser.error("give --secret-file or set PASSWORDLESS_SIGNING_SECRET")
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), endpoint(Passwordless(secret, Path(args.outbox)), secret))
    bound_host, bound_port = server.server_address[:2]
    print(f"passwordless triggers listening on http://{bound_host}:{bound_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
