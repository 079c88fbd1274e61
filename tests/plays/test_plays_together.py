"""PostgreSQL: the plays that arrive while a statement is in flight are recorded together, in
the next one, and each request is answered as if it had gone alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from empulse.core.db import session_scope
from empulse.models import Play, User
from empulse.plays import service as plays
from tests.catalog.helpers import all_pages, published_ep
from tests.conftest import Backend, Harness
from tests.plays.test_plays import count_of, listener, play, post
from tests.support.transactions import until_waiting
from tests.web.test_problems import assert_problem


@asynccontextmanager
async def held_in_flight(harness: Harness, blocker: Any) -> AsyncIterator[Callable[..., Any]]:
    """The ledger locked against writes while `blocker` (a request that records a play) is
    sent: its statement waits, and the requests started inside the block queue behind it.
    On leaving, once all of them are queued, the ledger is released: the blocker's statement
    ends, and the queued requests go together in the next, which the block waits for. Yields
    `send`, which starts one."""
    services = harness.app.state.services
    engine: AsyncEngine = services.engine
    intake = plays._intake(services)
    sent: list[asyncio.Task[Any]] = []

    def send(request: Any) -> asyncio.Task[Any]:
        sent.append(asyncio.create_task(request))
        return sent[-1]

    async with engine.connect() as holder:
        await holder.execute(text("LOCK TABLE plays IN SHARE MODE"))
        first = asyncio.create_task(blocker)
        await until_waiting(engine, 1)
        yield send
        # Each request's authentication (which may read the database), then its place in the
        # queue: polled, with a deadline for a request that never arrives.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if intake.queued == len(sent) or any(task.done() for task in sent):
                break
            await asyncio.sleep(0.001)
        assert intake.queued == len(sent), [task.result() for task in sent if task.done()]
        await holder.rollback()
    assert (await first).status_code == 201
    await asyncio.gather(*sent)


async def test_listeners_reporting_together_are_each_decided_alone(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """Plays of four listeners in one statement: one listener's overlapping pair is judged
    between themselves, another's repeat counts once, a playId another listener also used is
    that listener's own, a deleted account's play is refused and an unknown track is not
    found, without touching the others' answers."""
    # Six accounts signed up from one address: more than its sign-up limit allows.
    harness: Harness = await make_client(backend_services, RATE_LIMITS_ENABLED="false")
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    ms = track["durationMs"]
    ann, bob, cid, dee = [await listener(harness, f"{name}@example.com") for name in "abcd"]
    assert (await harness.client.get("/api/v1/auth/me", headers=dee)).status_code == 200
    async with session_scope(harness.app.state.services.sessionmaker) as session:
        # As another process deletes it: this one's session cache still holds the session.
        await session.execute(delete(User).where(User.email == "d@example.com"))
    start = datetime.now(UTC) - timedelta(hours=2)
    shared_id = uuid.uuid4()
    repeat = play(ms, start)

    async with held_in_flight(harness, post(harness, track["id"], play(ms), cid)) as send:
        first = send(post(harness, track["id"], play(ms, start), ann))
        second = send(
            post(harness, track["id"], play(ms, start + timedelta(milliseconds=ms // 2)), ann)
        )
        bob_once = send(post(harness, track["id"], repeat, bob))
        bob_again = send(post(harness, track["id"], repeat, bob))
        later = start + timedelta(hours=1)
        ann_shared = send(post(harness, track["id"], play(ms, later, shared_id), ann))
        cid_shared = send(post(harness, track["id"], play(ms, later, shared_id), cid))
        gone = send(post(harness, track["id"], play(ms, later), dee))
        unknown = send(post(harness, str(uuid.uuid4()), play(ms, later), cid))

    assert ((await first).json()["qualified"], (await first).json()["reason"]) == (True, None)
    assert (await second).json()["reason"] == "overlapping"
    assert sorted([(await bob_once).status_code, (await bob_again).status_code]) == [200, 201]
    assert (await bob_again).json() == (await bob_once).json()
    for shared in (ann_shared, cid_shared):
        assert ((await shared).status_code, (await shared).json()["qualified"]) == (201, True)
    assert_problem(await gone, 401, "not_authenticated")
    assert_problem(await unknown, 404, "not_found")
    # Counted: the blocker, ann's first and her play under the shared playId, bob's once, and
    # cid's under the shared playId.
    assert await count_of(harness, track["id"]) == 5


async def test_a_play_that_fails_the_statement_fails_only_its_own_request(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """When the statement that carries several requests' plays fails on one of them, the
    others are recorded (each goes again on its own) and only that request sees the error."""
    harness: Harness = await make_client(backend_services)
    await published_ep(harness, tracks=2)
    good, poisoned = await all_pages(harness.client, "/api/v1/tracks")
    ann, bob = [await listener(harness, f"{name}@example.com") for name in "ab"]
    engine: AsyncEngine = harness.app.state.services.engine
    async with engine.begin() as connection:
        # A write the database refuses for one track, as a broken row would be.
        await connection.execute(
            text(
                "CREATE FUNCTION refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF NEW.track_id = '{poisoned['id']}' THEN RAISE 'poisoned'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER poisoned BEFORE INSERT ON plays "
                "FOR EACH ROW EXECUTE FUNCTION refuse_poisoned()"
            )
        )
    try:
        async with held_in_flight(harness, post(harness, good["id"], play(1000), bob)) as send:
            refused = send(post(harness, poisoned["id"], play(1000), ann))
            kept = send(post(harness, good["id"], play(good["durationMs"]), bob))
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER poisoned ON plays"))
            await connection.execute(text("DROP FUNCTION refuse_poisoned()"))

    assert (await refused).status_code == 500
    assert (await kept).status_code == 201
    async with session_scope(harness.app.state.services.sessionmaker) as session:
        recorded = await session.scalar(select(func.count()).select_from(Play))
    assert recorded == 2  # the blocker and bob's
