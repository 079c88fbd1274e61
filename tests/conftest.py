"""Test harness shared by every test module.

Backends: each app-level test runs on the embedded defaults (SQLite, in-process limits, local
files) and, when they answer, on the production services (PostgreSQL and Redis). Where the
services are missing the `services` half is skipped with a reason, unless
`EMPULSE_REQUIRE_SERVICES=1` (set by CI), which turns that skip into a failure.

Isolation: SQLite tests get a copy of a database migrated once per session; PostgreSQL tests
share one migrated database per xdist worker and every table is emptied after each test; Redis
keys get a prefix unique to the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import httpx
import pytest
import redis
from fastapi import FastAPI

from empulse.app import create_app
from empulse.config import Settings, load_settings
from empulse.core.logging import configure_logging
from empulse.core.migrations import upgrade_to_head
from tests.support import secrets
from tests.support.fixtures import S3Server
from tests.support.routes import add_test_routes
from tests.support.services import (
    REQUIRE_SERVICES,
    postgres_admin_url,
    postgres_available,
    redis_available,
    redis_url,
)

# Real S3 and SMTP servers, and the service as a real process.
pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


# --- logs ---------------------------------------------------------------------------------


class LogCapture:
    """Every JSON log line the suite's apps write, in memory, thread-safe."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return self._buffer.write(text)

    def flush(self) -> None:
        return None

    def text(self) -> str:
        with self._lock:
            return self._buffer.getvalue()

    def mark(self) -> int:
        return len(self.text())


_CAPTURE: list[LogCapture] = []


@pytest.fixture(scope="session")
def log_capture() -> LogCapture:
    capture = LogCapture()
    configure_logging("INFO", stream=capture)  # type: ignore[arg-type]
    _CAPTURE.append(capture)
    return capture


# What each xdist worker found, gathered by the controller (`pytest_testnodedown`).
_FROM_WORKERS: list[dict[str, Any]] = []


def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: a worker finished; keep its log check for the controller's verdict."""
    found = getattr(node, "workeroutput", {}).get("log_check")
    if found is not None:
        _FROM_WORKERS.append(found)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any secret a test handled appears in the logs the apps wrote. Each
    process checks its own logs; under xdist the workers hand their findings to the
    controller, which alone decides the exit status."""
    leaked = secrets.leaked_into(_CAPTURE[0].text()) if _CAPTURE else []
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["log_check"] = {"leaked": leaked, "seen": len(secrets.SEEN)}
        return
    seen = len(secrets.SEEN) + sum(found["seen"] for found in _FROM_WORKERS)
    leaked += [secret for found in _FROM_WORKERS for secret in found["leaked"]]
    if not _CAPTURE and not _FROM_WORKERS:
        return
    writer = session.config.get_terminal_writer()
    if leaked:
        writer.line(f"SECRETS IN LOGS: {len(leaked)} secret(s) used by the suite were logged:")
        for secret in leaked:
            writer.line(f"  {secret[:6]}... ({len(secret)} characters)")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        writer.line(f"log check: none of the {seen} secrets used appears in the logs")


@pytest.fixture
def logs(log_capture: LogCapture) -> Callable[[], str]:
    """The log output written since this test started."""
    start = log_capture.mark()
    return lambda: log_capture.text()[start:]


# --- databases ----------------------------------------------------------------------------


def _database_name() -> str:
    """Unique to this run and this xdist worker: two runs on one PostgreSQL (two checkouts, or
    CI beside a developer) never drop each other's database."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:12] or f"p{os.getpid()}"
    return f"empulse_test_{run}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once; each test works on a copy."""
    data_dir = tmp_path_factory.mktemp("sqlite-template")
    settings = load_settings(EMPULSE_ENV="test", EMPULSE_DATA_DIR=str(data_dir))
    upgrade_to_head(settings)
    return data_dir / "empulse.db"


def _service_missing(message: str) -> NoReturn:
    """Fail when the services are required (CI sets EMPULSE_REQUIRE_SERVICES=1); otherwise skip
    the PostgreSQL/Redis half of the suite with the reason, listed in pytest's summary."""
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(f"{message} (EMPULSE_REQUIRE_SERVICES=1 makes this a failure)")


@contextlib.contextmanager
def _fresh_database(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for the length of the block; its URL."""
    if not postgres_available():
        _service_missing(f"PostgreSQL is not reachable at {postgres_admin_url()}")
    admin_url = postgres_admin_url()

    async def run(*statements: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    asyncio.run(run(drop, f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(drop))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this xdist worker's own, migrated once per session."""
    with _fresh_database(_database_name()) as url:
        upgrade_to_head(load_settings(EMPULSE_ENV="test", DATABASE_URL=url))
        yield url


@pytest.fixture(scope="session")
def live_server_postgres_url() -> Iterator[str]:
    """A database of this worker's own for a server process that outlives single tests (the
    others' is emptied after each test); the server migrates it."""
    with _fresh_database(f"{_database_name()}_live") as url:
        yield url


# The public tables, each after every table whose foreign keys point at it, and the sequences
# (a database's schema is the same all session: it is migrated once).
_EMPTYING_ORDER = """
WITH RECURSIVE edges AS (
    SELECT conrelid AS child, confrelid AS parent FROM pg_constraint
    WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND conrelid <> confrelid
), depth AS (
    SELECT c.oid AS table_oid, 0 AS level FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
    UNION ALL
    SELECT e.child, d.level + 1 FROM edges e JOIN depth d ON e.parent = d.table_oid
    WHERE d.level < 50
)
SELECT quote_ident(relname) AS name FROM depth JOIN pg_class ON pg_class.oid = table_oid
WHERE relname <> 'alembic_version'
GROUP BY relname ORDER BY max(level) DESC, relname
"""
_orders: dict[str, tuple[list[str], list[str]]] = {}


async def empty_tables(url: str) -> None:
    """Empty every table of the database (the migrations' own record excepted), as a new one
    is. Only the tables that hold rows are emptied, by DELETE in an order that no foreign key
    refuses: TRUNCATE gives every table and index a new file (80 ms for the schema's 140 on an
    idle machine, several times that under a parallel run), where a test leaves rows in a
    handful of tables."""
    connection = await asyncpg.connect(url)
    try:
        if url not in _orders:
            tables = [row["name"] for row in await connection.fetch(_EMPTYING_ORDER)]
            sequences = [
                row["name"]
                for row in await connection.fetch(
                    "SELECT quote_ident(sequencename) AS name FROM pg_sequences "
                    "WHERE schemaname = 'public'"
                )
            ]
            _orders[url] = (tables, sequences)
        tables, sequences = _orders[url]
        if not tables:
            return
        # The names are the catalog's own, quoted by `quote_ident`.
        probe = " UNION ALL ".join(
            f"(SELECT {n} AS n FROM {table} LIMIT 1)"  # noqa: S608
            for n, table in enumerate(tables)
        )
        holding = {row["n"] for row in await connection.fetch(probe)}
        async with connection.transaction():
            for n, table in enumerate(tables):
                if n in holding:
                    await connection.execute(f"DELETE FROM {table}")  # noqa: S608
            for sequence in sequences:
                await connection.execute(f"ALTER SEQUENCE {sequence} RESTART")
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    if not redis_available():
        _service_missing(f"Redis is not reachable at {redis_url()}")
    return redis_url()


# --- the app ------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    settings: dict[str, Any]
    postgres_url: str | None = None


@pytest.fixture(params=["embedded", "services"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Backend:
    """The storage backends a test runs on: embedded defaults, or PostgreSQL + Redis."""
    if request.param == "embedded":
        shutil.copy(sqlite_template, tmp_path / "empulse.db")
        return Backend("embedded", {})
    return _services_backend(request)


def _services_backend(request: pytest.FixtureRequest) -> Backend:
    pg_url: str = request.getfixturevalue("postgres_url")
    redis_url_: str = request.getfixturevalue("redis_server_url")
    return Backend(
        "services",
        {
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url_,
            "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        },
        postgres_url=pg_url,
    )


@pytest.fixture
def backend_services(request: pytest.FixtureRequest) -> Backend:
    """PostgreSQL + Redis, for tests that add further services (S3) of their own."""
    return _services_backend(request)


@pytest.fixture
def embedded(tmp_path: Path, sqlite_template: Path) -> Backend:
    """For tests about behaviour that does not depend on the backend."""
    shutil.copy(sqlite_template, tmp_path / "empulse.db")
    return Backend("embedded", {})


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "EMPULSE_ENV": "test",
            "EMPULSE_DATA_DIR": str(tmp_path),
            "APP_URL": "https://app.empulse.test",
            # Tests run due jobs themselves (tests/auth/helpers.deliver), so that what a test
            # reads is never racing a background runner; the runner has tests of its own.
            "EMPULSE_JOBS_IN_PROCESS": "false",
        }
        values.update(overrides)
        settings = load_settings(**values)
        assert settings.jwt_secret is not None
        assert settings.encryption_key is not None
        secrets.remember(
            settings.jwt_secret.get_secret_value(), settings.encryption_key.get_secret_value()
        )
        return settings

    return make


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings


@pytest.fixture
async def make_client(
    make_settings: Callable[..., Settings], log_capture: LogCapture
) -> AsyncIterator[Callable[..., Any]]:
    """Start an app (lifespan included) with these settings; yields a client for it."""
    stack: list[tuple[Any, httpx.AsyncClient]] = []
    to_empty: list[str] = []

    async def start(
        backend: Backend, *, client_ip: str = "203.0.113.10", **overrides: Any
    ) -> Harness:
        settings = make_settings(**{**backend.settings, **overrides})
        app = add_test_routes(create_app(settings, configure_logs=False))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url="https://testserver")
        stack.append((lifespan, client))
        if backend.postgres_url and backend.postgres_url not in to_empty:
            to_empty.append(backend.postgres_url)
        return Harness(app, client, settings)

    yield start

    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
    for url in to_empty:
        await empty_tables(url)


@pytest.fixture
async def client(backend: Backend, make_client: Callable[..., Any]) -> httpx.AsyncClient:
    harness: Harness = await make_client(backend)
    return harness.client


@pytest.fixture
def redis_client(redis_server_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server_url)
    yield client
    client.close()


@pytest.fixture(params=["embedded", "services"])
def media_backend(request: pytest.FixtureRequest) -> Backend:
    """SQLite + local disk, or PostgreSQL + Redis + S3 (moto's server)."""
    if request.param == "embedded":
        embedded: Backend = request.getfixturevalue("embedded")
        return embedded
    services: Backend = request.getfixturevalue("backend_services")
    s3: S3Server = request.getfixturevalue("s3_server")
    return Backend("services+s3", {**services.settings, **s3.settings()}, services.postgres_url)


@pytest.fixture
async def media_harness(media_backend: Backend, make_client: Callable[..., Any]) -> Harness:
    harness: Harness = await make_client(media_backend)
    return harness
