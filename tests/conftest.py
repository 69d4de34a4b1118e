"""pytest fixtures for the end-to-end suite: one real `gatehouse serve` per test module and backend.

`server` is parametrized over `sqlite` and `postgres`: every test that uses it runs on both. The
postgres variants need `$GATEHOUSE_TEST_POSTGRES_URL` (./scripts/test sets it) and fail, never
skip, when it is missing. Tests create their own pools, so one server per module is enough.
After each test the server must still be running and must not have logged a panic.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gatehouse_harness import (  # noqa: E402
    GatehouseServer,
    PoolFixture,
    PostgresDatabase,
    ServerDied,
    postgres_server_url,
)

BACKENDS = ["sqlite", "postgres"]


class ServerFactory:
    """Starts extra servers for tests that need their own (restarts, generated credentials,
    several nodes) and stops them all at teardown."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.servers: list[GatehouseServer] = []
        self.databases: list[PostgresDatabase] = []

    def database_url(self) -> str | None:
        if self.backend == "sqlite":
            return None
        database = PostgresDatabase(postgres_server_url())
        self.databases.append(database)
        return database.url

    def new(self, *, start: bool = True, database_url: str | None = None, **kwargs) -> GatehouseServer:
        if database_url is None:
            database_url = self.database_url()
        server = GatehouseServer(database_url=database_url, name=f"gatehouse[{self.backend}]", **kwargs)
        self.servers.append(server)
        if start:
            server.start()
        return server

    def close(self) -> None:
        for server in reversed(self.servers):
            server.close()
        for database in self.databases:
            database.drop()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def server(backend: str) -> Iterator[GatehouseServer]:
    """The module's shared server on `backend`."""
    factory = ServerFactory(backend)
    try:
        yield factory.new()
    finally:
        factory.close()


@pytest.fixture
def servers(backend: str) -> Iterator[ServerFactory]:
    """For tests that start their own servers (on the current backend)."""
    factory = ServerFactory(backend)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def pool(server: GatehouseServer) -> PoolFixture:
    """A fresh pool (plain usernames, email attribute auto-verified) with a public client."""
    return PoolFixture.create(server)


@pytest.fixture
def email_pool(server: GatehouseServer) -> PoolFixture:
    """A fresh pool whose usernames are email addresses (UsernameAttributes email)."""
    return PoolFixture.create(server, email_username=True)


# CreateUserPool generates two RSA signing keys, which takes the debug build about half a
# second. Modules whose tests only touch users they created themselves (unique names, unique
# addresses) and never change the pool or its client share one pool per module instead; they
# opt in with `pool, email_pool = shared_pool_fixtures()`.


@pytest.fixture(scope="module")
def shared_pool(server: GatehouseServer) -> PoolFixture:
    return PoolFixture.create(server)


@pytest.fixture(scope="module")
def shared_email_pool(server: GatehouseServer) -> PoolFixture:
    return PoolFixture.create(server, email_username=True)


@pytest.fixture(autouse=True)
def _server_stays_healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test loudly (with the server's stderr) if the shared server died or panicked."""
    if "server" not in request.fixturenames:
        yield
        return
    server: GatehouseServer = request.getfixturevalue("server")
    server.check_alive()
    mark = server.stderr_size()
    yield
    try:
        server.check_alive()
    except ServerDied as died:
        pytest.fail(str(died), pytrace=False)
    new_logs = server.stderr_since(mark)
    if "panicked" in new_logs:
        pytest.fail(f"the server panicked during this test:\n{new_logs[-8000:]}", pytrace=False)
