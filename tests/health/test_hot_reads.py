"""The hottest reads and writes under database faults. `GET /auth/me` reads its profile, a
sign-in reads the account and writes its session, and a play is decided and recorded, on the
driver's own connection (core/db.HotRead, HotWrite), past SQLAlchemy's error handling: they
must answer every fault as the other routes do (SECURITY.md "Faults"), write nothing half-way,
and recover without restarting the app."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text

from empulse.catalog import repository as catalog
from tests.auth.helpers import bearer, login, signed_in
from tests.catalog.helpers import all_pages, published_ep
from tests.conftest import Backend, Harness
from tests.health.conftest import BehindAProxy
from tests.support.transactions import until_settled
from tests.web.test_problems import assert_problem

Read = Callable[[], Awaitable[httpx.Response]]
# The app's connections to the test database (its engines name themselves "empulse").
POOL_BACKEND = (
    "SELECT pid FROM pg_stat_activity "
    "WHERE datname = current_database() AND application_name = 'empulse'"
)


async def _reading_own_profile(harness: Harness) -> tuple[Read, dict[str, Any]]:
    """Signs a user in: a function reading their GET /auth/me, and the profile it first read."""
    headers = bearer(await signed_in(harness, "reader@example.com"))

    async def read() -> httpx.Response:
        return await harness.client.get("/api/v1/auth/me", headers=headers)

    first = await read()
    assert first.status_code == 200, first.text
    profile: dict[str, Any] = first.json()
    return read, profile


async def _answers_again(read: Read, profile: dict[str, Any]) -> None:
    response = await read()
    assert response.status_code == 200, response.text
    assert response.json() == profile


@asynccontextmanager
async def _outsider(backend: Backend) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test database, outside the app's pool."""
    assert backend.postgres_url is not None
    connection = await asyncpg.connect(backend.postgres_url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_503_while_the_database_is_down_then_the_same_profile(
    behind_a_proxy: BehindAProxy,
) -> None:
    """A connection that died under the read is dropped: 503 while PostgreSQL is down, and the
    same profile once it is back."""
    harness, proxy = await behind_a_proxy()
    read, profile = await _reading_own_profile(harness)

    proxy.cut()
    assert_problem(await read(), 503, "database_unavailable")

    proxy.restore()
    await _answers_again(read, profile)


async def test_a_frozen_network_fails_at_a_timeout(behind_a_proxy: BehindAProxy) -> None:
    """A database that stops answering (a partition: nothing is closed) is a 503 at the
    driver's timeout, not a hang; the stalled connection is dropped, so the read answers at once
    when the partition heals."""
    harness, proxy = await behind_a_proxy(DATABASE_STATEMENT_TIMEOUT_MS="200")
    read, profile = await _reading_own_profile(harness)

    proxy.freeze()
    try:
        async with asyncio.timeout(10):
            response = await read()
    finally:
        proxy.freeze(False)
    assert_problem(response, 503, "database_unavailable")
    await _answers_again(read, profile)


async def test_a_connection_the_server_killed_is_replaced_unseen(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """The pooled connection is terminated by the server (as a failover or an idle-session
    reaper would): the read drops it and answers from a new one, with no error. The pool holds
    one connection, so the dead one must be given back first."""
    harness = await make_client(backend_services, DATABASE_POOL_SIZE="1", DATABASE_POOL_TIMEOUT="2")
    read, profile = await _reading_own_profile(harness)
    # The pool's one connection, by its server process (a connection of an earlier test's
    # app may still be closing, so the application name alone could name two).
    async with harness.app.state.services.engine.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))

    async with _outsider(backend_services) as outsider:
        killed = await outsider.fetchval("SELECT pg_terminate_backend($1)", pid)
    assert killed is True

    await _answers_again(read, profile)


async def test_stuck_behind_a_lock_it_fails_once_at_the_statement_timeout(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """Stuck behind a table lock, the read fails at the statement timeout with a 503: once, not
    again on a second connection, and the connection it used stays in the pool (the server
    cancelled the statement; the connection itself is fine)."""
    harness = await make_client(
        backend_services, DATABASE_POOL_SIZE="1", DATABASE_STATEMENT_TIMEOUT_MS="300"
    )
    read, profile = await _reading_own_profile(harness)
    await _fails_once_behind_a_lock(backend_services, "users", read, profile)


async def _fails_once_behind_a_lock(
    backend: Backend, table: str, read: Read, answer: dict[str, Any]
) -> None:
    """With `table` locked, `read` is a 503 at the statement timeout; once the lock is gone it
    answers `answer` again, on the same pooled connection (the server cancelled the statement;
    the connection itself is fine)."""
    async with _outsider(backend) as outsider:
        pool_backend = await outsider.fetchval(POOL_BACKEND)
        async with outsider.transaction():
            await outsider.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            assert_problem(await read(), 503, "database_unavailable")
        await _answers_again(read, answer)
        assert await outsider.fetchval(POOL_BACKEND) == pool_backend


SESSIONS_OF = (
    "SELECT count(*) FROM auth_sessions JOIN users ON users.id = auth_sessions.user_id "
    "WHERE users.email = $1"
)


async def test_a_sign_in_stuck_behind_a_lock_fails_once_and_writes_nothing(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """The sign-in's write waits behind a lock on the sessions table: a 503 at the statement
    timeout, not a retry on another connection; the statement is rolled back whole (no session,
    no refresh token, no audit record), the connection stays in the pool, and the next sign-in
    succeeds."""
    harness = await make_client(
        backend_services, DATABASE_POOL_SIZE="1", DATABASE_STATEMENT_TIMEOUT_MS="300"
    )
    email = "writer@example.com"
    await signed_in(harness, email)

    async with _outsider(backend_services) as outsider:
        pool_backend = await outsider.fetchval(POOL_BACKEND)
        sessions = await outsider.fetchval(SESSIONS_OF, email)
        audited = await outsider.fetchval(
            "SELECT count(*) FROM audit_events WHERE event = 'login_succeeded'"
        )
        async with outsider.transaction():
            await outsider.execute("LOCK TABLE auth_sessions IN ACCESS EXCLUSIVE MODE")
            assert_problem(await login(harness, email), 503, "database_unavailable")
        assert await outsider.fetchval(SESSIONS_OF, email) == sessions
        assert (
            await outsider.fetchval(
                "SELECT count(*) FROM audit_events WHERE event = 'login_succeeded'"
            )
            == audited
        )
        assert (await login(harness, email)).status_code == 200
        assert await outsider.fetchval(SESSIONS_OF, email) == sessions + 1
        assert await outsider.fetchval(POOL_BACKEND) == pool_backend


async def test_a_play_stuck_behind_a_lock_fails_once_and_records_nothing(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """A play's one statement (plays/ddl.py) waits behind a lock on the ledger: a 503 at the
    statement timeout, nothing recorded, the connection kept; the player's retry of the same
    report is then recorded, once."""
    publishing = await make_client(backend_services)
    await published_ep(publishing, tracks=2)
    track = (await all_pages(publishing.client, "/api/v1/tracks"))[0]
    harness = await make_client(
        backend_services, DATABASE_POOL_SIZE="1", DATABASE_STATEMENT_TIMEOUT_MS="300"
    )
    me = bearer(await signed_in(harness, "player@example.com"))
    moment = datetime.now(UTC) - timedelta(minutes=10)
    body = {
        "playId": str(uuid.uuid4()),
        "startedAt": moment.isoformat(),
        "msPlayed": track["durationMs"],
    }

    async def report() -> httpx.Response:
        path = f"/api/v1/tracks/{track['id']}/plays"
        response: httpx.Response = await harness.client.post(path, json=body, headers=me)
        return response

    plays = "SELECT count(*) FROM plays WHERE play_id = $1"
    async with _outsider(backend_services) as outsider:
        pool_backend = await outsider.fetchval(POOL_BACKEND)
        async with outsider.transaction():
            await outsider.execute("LOCK TABLE plays IN ACCESS EXCLUSIVE MODE")
            assert_problem(await report(), 503, "database_unavailable")
        assert await outsider.fetchval(plays, uuid.UUID(body["playId"])) == 0
        assert (await report()).status_code == 201
        assert (await report()).status_code == 200
        assert await outsider.fetchval(plays, uuid.UUID(body["playId"])) == 1
        assert await outsider.fetchval(POOL_BACKEND) == pool_backend


async def test_a_sign_in_whose_connection_the_server_ends_mid_write_is_a_503(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """The server ends the session while the sign-in's write waits (a failover, an operator's
    `pg_terminate_backend`): a 503 the client may retry, not a 500, and the next sign-in works
    on a new connection."""
    harness = await make_client(backend_services)
    email = "ended@example.com"
    await signed_in(harness, email)
    services = harness.app.state.services

    async with _outsider(backend_services) as outsider, outsider.transaction():
        await outsider.execute("LOCK TABLE auth_sessions IN ACCESS EXCLUSIVE MODE")
        signing_in = asyncio.create_task(login(harness, email))
        await until_settled(services.engine, [signing_in])
        assert not signing_in.done()
        ended = await outsider.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'empulse' "
            "AND wait_event_type = 'Lock'"
        )
        assert ended == 1
        assert_problem(await signing_in, 503, "database_unavailable")
    assert (await login(harness, email)).status_code == 200


async def _searching(harness: Harness) -> tuple[Read, dict[str, Any]]:
    """A function reading one search (its statements run on the session's driver connection,
    core/db.HotRead.rows), and the answer it first gave; the second search is the one the
    faults then meet first (the word statistics are read once a minute, the ordinary way)."""

    async def read() -> httpx.Response:
        return await harness.client.get("/api/v1/search", params={"q": "lant", "type": "track"})

    first = await read()
    assert first.status_code == 200, first.text
    await _answers_again(read, first.json())
    return read, first.json()


async def test_a_search_while_the_database_is_down_is_a_503_then_answers_again(
    behind_a_proxy: BehindAProxy,
) -> None:
    """The search's connection dies under its read: a 503, and the same answer once
    PostgreSQL is back (the dead connection was dropped, not given to the next request)."""
    harness, proxy = await behind_a_proxy(EMPULSE_PAGE_CACHE_MB="0")
    read, answer = await _searching(harness)

    proxy.cut()
    assert_problem(await read(), 503, "database_unavailable")

    proxy.restore()
    await _answers_again(read, answer)


async def test_a_search_stuck_behind_a_lock_fails_at_the_statement_timeout(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """Stuck behind a lock on the tracks, a search fails at the statement timeout with a 503,
    and its connection stays in the pool (the server cancelled the statement)."""
    harness = await make_client(
        backend_services,
        DATABASE_POOL_SIZE="1",
        DATABASE_STATEMENT_TIMEOUT_MS="300",
        EMPULSE_PAGE_CACHE_MB="0",
    )
    read, answer = await _searching(harness)
    await _fails_once_behind_a_lock(backend_services, "tracks", read, answer)


async def test_a_hot_read_that_opens_a_transaction_runs_inside_it(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """SQLAlchemy begins the driver's transaction at a session's first statement: a `HotRead`
    that is that first statement runs the ordinary way and so begins it (on the driver's own
    connection it would run outside, in a snapshot of its own), and a later one runs inside."""
    harness = await make_client(backend_services)
    services = harness.app.state.services
    async with services.sessionmaker() as session:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert not driver.is_in_transaction()
        assert await catalog.listed_tracks_by_id(session, [uuid.uuid4()]) == []
        assert driver.is_in_transaction()
        await session.rollback()
