"""Staging races between real PostgreSQL transactions: hold one open right after a chosen
statement, and wait until the others have finished or are blocked on its locks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util import await_


@dataclass(eq=False)
class Stepper:
    """Pauses one connection after its n-th statement, or after the first whose SQL contains
    the given text (one of the texts, when several), so that another transaction can run from
    exactly that point (a SQLAlchemy event). With no connection given, the first connection of
    the engine that runs such a statement is the one paused. `paused` is set once it holds;
    `resume` lets it go on."""

    connection: Connection | None
    after: int | str | tuple[str, ...]
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    count: int = 0

    def _matches(self, statement: str) -> bool:
        if isinstance(self.after, int):
            return self.count == self.after
        texts = (self.after,) if isinstance(self.after, str) else self.after
        return any(text in statement for text in texts)

    def __call__(self, conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if self.paused.is_set() or (self.connection is not None and conn is not self.connection):
            return
        self.count += 1
        if self._matches(statement):
            self.paused.set()
            # The listener runs inside the session's greenlet: awaiting here holds the
            # transaction open, with its locks, until the test lets it go on.
            await_(self.resume.wait())


@asynccontextmanager
async def _listening(engine: AsyncEngine, stepper: Stepper) -> AsyncIterator[Stepper]:
    """The stepper listens to the engine's statements; on exit the pause is released, so
    nothing is left waiting on it."""
    event.listen(engine.sync_engine, "after_cursor_execute", stepper)
    try:
        yield stepper
    finally:
        stepper.resume.set()
        event.remove(engine.sync_engine, "after_cursor_execute", stepper)


@asynccontextmanager
async def stepping(
    engine: AsyncEngine, session: AsyncSession, after: int | str
) -> AsyncIterator[Stepper]:
    """A `Stepper` on the connection `session` uses (its transaction begins here)."""
    connection = (await session.connection()).sync_connection
    assert connection is not None
    async with _listening(engine, Stepper(connection, after)) as stepper:
        yield stepper


@asynccontextmanager
async def first_of(engine: AsyncEngine, *texts: str) -> AsyncIterator[Stepper]:
    """A `Stepper` on whichever of the engine's connections first runs a statement containing
    one of these texts (a request's, say)."""
    async with _listening(engine, Stepper(None, texts)) as stepper:
        yield stepper


async def until_paused(stepper: Stepper, task: asyncio.Task[Any]) -> bool:
    """Block until the stepped transaction holds (True) or its task ended first (False)."""
    paused = asyncio.create_task(stepper.paused.wait())
    await asyncio.wait([task, paused], return_when=asyncio.FIRST_COMPLETED)
    paused.cancel()
    return stepper.paused.is_set()


async def until_settled(engine: AsyncEngine, running: list[asyncio.Task[Any]]) -> None:
    """Block until each task is done or waits on a lock (as PostgreSQL reports it)."""
    await _until(engine, lambda waiting: waiting >= len([t for t in running if not t.done()]))


async def until_waiting(engine: AsyncEngine, count: int) -> None:
    """Block until `count` transactions wait on a lock (as PostgreSQL reports it)."""
    await _until(engine, lambda waiting: waiting >= count)


async def _until(engine: AsyncEngine, settled: Callable[[int], bool]) -> None:
    deadline = time.monotonic() + 10
    async with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if settled(waiting):
                return
            await connection.rollback()  # a fresh snapshot of pg_stat_activity
            await asyncio.sleep(0.01)  # polls the server's state; no timing is assumed
    raise AssertionError("the transactions neither finished nor waited for a lock")
