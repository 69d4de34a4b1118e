"""What the operations tests share: a sign-up storm that records every operation the server
acknowledged, the one-shot `gatehouse` commands (backup, restore, users export/import) run as
processes, and the checks that a set of users can still sign in."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gatehouse_harness import (
    OPERATOR_ACCESS_KEY_ID,
    OPERATOR_SECRET_ACCESS_KEY,
    PASSWORD,
    GatehouseServer,
    PoolFixture,
    TokenVerifier,
    attr_list,
    gatehouse_bin,
    unique,
)


@dataclass
class Acked:
    """A user whose sign-up and confirmation the server acknowledged."""

    username: str
    password: str
    sub: str
    # The ID token of a sign-in acknowledged right after the confirmation (storms with
    # `sign_in`), to check later that its key is still known.
    id_token: str | None = None


@dataclass
class Storm:
    """Sign-up → AdminConfirmSignUp in `threads` threads until stopped. `acked` grows in the order
    the confirmations were acknowledged; a call that failed (the server went away) is not."""

    pool: PoolFixture
    threads: int = 3
    sign_in: bool = False
    acked: list[Acked] = field(default_factory=list)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self, endpoint: Callable[[], GatehouseServer] | None = None) -> "Storm":
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(n, endpoint), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def _run(self, n: int, endpoint: Callable[[], GatehouseServer] | None) -> None:
        clients: dict[str, tuple[Any, Any]] = {}
        while not self._stop.is_set():
            server = endpoint() if endpoint else self.pool.server
            username = unique(f"storm{n}-")
            try:
                if server.endpoint not in clients:
                    clients[server.endpoint] = (server.client(unsigned=True), server.client())
                public, admin = clients[server.endpoint]
                sub = public.sign_up(
                    ClientId=self.pool.client_id,
                    Username=username,
                    Password=PASSWORD,
                    UserAttributes=attr_list({"email": f"{username}@example.com"}),
                )["UserSub"]
                admin.admin_confirm_sign_up(UserPoolId=self.pool.pool_id, Username=username)
            except Exception:  # noqa: BLE001 (any failure: the server was stopped or killed)
                with self._lock:
                    self.failures += 1
                self._stop.wait(0.05)
                continue
            user = Acked(username, PASSWORD, sub)
            with self._lock:
                self.acked.append(user)
            if self.sign_in:
                try:
                    user.id_token = public.initiate_auth(
                        ClientId=self.pool.client_id,
                        AuthFlow="USER_PASSWORD_AUTH",
                        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
                    )["AuthenticationResult"]["IdToken"]
                except Exception:  # noqa: BLE001 (as above)
                    with self._lock:
                        self.failures += 1

    def snapshot(self) -> list[Acked]:
        with self._lock:
            return list(self.acked)

    def stop(self) -> list[Acked]:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=120)
        return self.snapshot()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env["GATEHOUSE_OPERATOR_ACCESS_KEY_ID"] = OPERATOR_ACCESS_KEY_ID
    env["GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY"] = OPERATOR_SECRET_ACCESS_KEY
    env.update(extra)
    return env


def gatehouse(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs a one-shot `gatehouse` command to completion."""
    return subprocess.run(
        [str(gatehouse_bin()), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env if env is not None else clean_env(),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0, f"expected a failure, got status 0\n{done.stdout}\n{done.stderr}"
    assert len(lines) == 1 and lines[0].startswith("gatehouse: "), done.stderr
    return lines[0]


def master_key_of(server: GatehouseServer) -> str:
    return (server.data_dir / "master.key").read_text().strip()


def random_master_key() -> str:
    return "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()


def signs_in(server: GatehouseServer, pool: PoolFixture, users: list[Acked]) -> list[str]:
    """The usernames of `users` that cannot sign in with USER_PASSWORD_AUTH on `server`, or
    whose tokens do not verify against the server's JWKS."""
    public = server.client(unsigned=True)
    verifier = TokenVerifier(server, pool.pool_id)
    failed = []
    for user in users:
        try:
            result = public.initiate_auth(
                ClientId=pool.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": user.username, "PASSWORD": user.password},
            )["AuthenticationResult"]
            claims = verifier.id_token(result["IdToken"], pool.client_id)
            assert claims["sub"] == user.sub
        except Exception as exc:  # noqa: BLE001 (every failure is reported by name)
            failed.append(f"{user.username}: {exc}")
    return failed


def pool_on(server: GatehouseServer, pool: PoolFixture) -> PoolFixture:
    """The same pool and client seen through another server."""
    return PoolFixture(server=server, pool_id=pool.pool_id, client_id=pool.client_id)


def make_data_dir(base: Path, name: str) -> Path:
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path

