"""Background jobs on a database table (a transactional outbox with a worker loop).

Why not a queue library: a job must be written in the same transaction as the change that
causes it, so that a rolled-back request sends nothing and a committed one loses nothing, on
SQLite (the embedded default) and PostgreSQL alike. Redis-based queues (dramatiq, arq, taskiq)
cannot join the database transaction, and procrastinate, which can, runs on PostgreSQL only. The
table below gives both guarantees with one code path; claiming uses `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so any number of `empulse worker` processes share the queue.

Life of a job: `pending` -> claimed (`running`, with a lease) -> `done`, or back to `pending`
with exponential backoff after a failure, or `dead` after `max_attempts` (or at once, when the
handler says retrying cannot help: `PermanentJobError`). A worker that crashes mid-job leaves a
`running` row whose lease expires; the next claim picks it up again, and a job whose lease ran
out on its last attempt (its worker died every time) is marked dead instead of being run
forever. A worker claims a small batch but runs it one job at a time, so each job's
lease is renewed as it starts: a job that waited in the batch long enough for its lease to run
out, and was taken over meanwhile, is left to the worker that took it. Handlers must still be
safe to run twice (at-least-once delivery: a worker may die after the work, before recording it).

Periodic upkeep has one schedule for the whole cluster (the `schedules` table): the hourly
clean-up and each pass over a whole table are made by whichever runner first finds them due,
not by every runner on its own clock (a runner also cleans up as it starts, after a deploy or
a migration). A runner claims a run by moving its row's `due_at` on (an
UPDATE that only one of several concurrent ones gets to make), so with any number of runners
a pass runs once per interval; a runner that dies during a run leaves it to the next interval.
The upkeep every few seconds (the plays' fold) is not scheduled so: each runner takes its own
share of the work, which `SKIP LOCKED` divides.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, event, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from empulse.core.db import session_scope, utcnow
from empulse.core.logging import get_logger
from empulse.models import Job, JobStatus, Schedule

log = get_logger("empulse.jobs")
BATCH = 1000  # rows a housekeeper removes per transaction

Handler = Callable[[Any, dict[str, Any]], Awaitable[None]]
"""Runs one job: `async def run(context, payload)` (the context is the services)."""

Housekeeper = Callable[[Any, AsyncSession, datetime], Awaitable[int]]
"""A clean-up the runners run about once an hour, beside pruning finished jobs:
`async def clean(context, session, now) -> rows removed`, one batch per call, in a transaction
of its own (it is called again while it removes a full batch). It must be safe to run in
several processes at once."""

Step = Callable[[Any, AsyncSession, datetime, Any], Awaitable[tuple[int, Any]]]
"""One step of a `Pass`: `async def step(context, session, now, cursor) -> (rows handled,
cursor)`, in a transaction of its own. The first step of a pass is given None; each next step
the cursor the one before returned, until a step returns None."""


@dataclass(frozen=True, slots=True)
class Pass:
    """Upkeep that goes through a whole table, a step per transaction (so no lock is held
    for long, SQLite's writer lock included), every `every` seconds in the cluster (by one
    runner: the module's docstring). It must still be safe to run in several processes at
    once: a run that outlasts its interval may meet the next."""

    step: Step
    every: float


@dataclass(frozen=True, slots=True)
class JobKinds:
    """What the runners run: a handler per job kind, the hourly clean-ups, the upkeep run
    every few seconds (`frequent`, with a housekeeper's signature: it returns the rows it
    handled, is called again while that is a full batch, and must be safe to run in several
    processes at once) and the passes over whole tables (`passes`), listed in one place
    (`empulse/tasks.py`) and given to the runner, rather than registered as a side effect of
    importing a module."""

    handlers: Mapping[str, Handler]
    housekeepers: Mapping[str, Housekeeper]
    frequent: Mapping[str, Housekeeper] = field(default_factory=dict)
    passes: Mapping[str, Pass] = field(default_factory=dict)


async def delete_batch(session: AsyncSession, model: Any, *where: Any) -> int:
    """Delete up to `BATCH` rows of `model` matching `where`; how many went. The building block
    of a housekeeper."""
    batch = select(model.id).where(*where).limit(BATCH)
    result = await session.execute(
        delete(model)
        .where(model.id.in_(batch.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (a mail server refused the recipient):
    the job is dead at once, for an admin to look at, instead of failing again for hours."""


def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    max_attempts: int = 12,
    delay: timedelta | None = None,
) -> Job:
    """Add a job to the caller's unit of work; it exists only if that transaction commits."""
    job = Job(
        kind=kind,
        payload=payload,
        max_attempts=max_attempts,
        run_at=utcnow() + (delay or timedelta()),
    )
    session.add(job)
    mark_enqueued(session)
    return job


def mark_enqueued(session: AsyncSession) -> None:
    """This unit of work made a job due (`enqueue` says so itself): its commit wakes the runners
    of this process."""
    session.sync_session.info["jobs_enqueued"] = True


# The schedule of the hourly clean-up (finished jobs and every housekeeper).
_PRUNE = "prune"


async def _first_of(*events: asyncio.Event, at_most: float) -> None:
    """Wait until one of `events` is set, or `at_most` seconds."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    await asyncio.wait(waiters, timeout=at_most, return_when="FIRST_COMPLETED")
    for waiter in waiters:
        waiter.cancel()


def _on_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# The runners working in this process (embedded mode runs one beside the API; a worker, one).
_runners: weakref.WeakSet[JobRunner] = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _wake_runners_after_commit(session: Session) -> None:
    # Wired once, for every session of the process: a commit that enqueued jobs wakes the
    # runners here, so a job is started at once instead of at the next poll. Runners in other
    # processes find it at their next poll.
    if session.info.pop("jobs_enqueued", False):
        for runner in list(_runners):
            runner.wake()


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: Any
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class JobRunner:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        context: Any,
        kinds: JobKinds,
        *,
        batch_size: int = 10,
        poll_interval: float = 1.0,
        lease_seconds: float = 120.0,
        backoff_base: float = 2.0,
        backoff_max: float = 3600.0,
        keep_done: timedelta = timedelta(days=7),
        prune_every: float = 3600.0,
        frequent_every: float = 2.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.context = context
        self.handlers = dict(kinds.handlers)
        self.housekeepers = dict(kinds.housekeepers)
        self.frequent = dict(kinds.frequent)
        self.frequent_every = frequent_every
        self._next_frequent = 0.0
        self.passes = dict(kinds.passes)
        if _PRUNE in self.passes:
            raise ValueError(f"a pass may not be named {_PRUNE!r}: the clean-up's schedule is")
        # When this runner next looks at each schedule (monotonic): at start, then when the
        # schedule says it is next due.
        self._next_look = dict.fromkeys([_PRUNE, *self.passes], 0.0)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=lease_seconds)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.keep_done = keep_done
        self.prune_every = prune_every
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Run due jobs now instead of at the next poll (called after a commit that enqueued)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; the job in hand is finished first. The passes run on a
        task of their own, so a long one (seconds, when a minute's plays moved the counts of
        tens of thousands of rows) does not hold up the jobs; a pass under way when `stop`
        comes is abandoned (its step's transaction rolls back, and the next pass starts over)."""
        log.info("job_runner_started", poll_interval=self.poll_interval)
        _runners.add(self)
        passes = asyncio.create_task(self._passes_until(stop)) if self.passes else None
        starting = True
        try:
            while not stop.is_set():
                # Cleared before the round looks for jobs: one enqueued during the round (its
                # commit wakes this runner) is looked for at once, not at the next poll.
                self._wake.clear()
                try:
                    if await self._claim_run(_PRUNE, self.prune_every, force=starting):
                        await self._record_run(_PRUNE, await self.prune())
                    starting = False
                    if self.frequent and time.monotonic() >= self._next_frequent:
                        self._next_frequent = time.monotonic() + self.frequent_every
                        await self.run_frequent()
                    if await self.run_due():
                        continue
                except Exception as exc:  # the database may be down: keep the loop alive
                    log.warning("job_runner_error", error=type(exc).__name__)
                await _first_of(self._wake, stop, at_most=self.poll_interval)
        finally:
            if passes is not None:
                passes.cancel()
                await asyncio.gather(passes, return_exceptions=True)
            _runners.discard(self)
        log.info("job_runner_stopped")

    async def _passes_until(self, stop: asyncio.Event) -> None:
        """The passes, each when the cluster's schedule says it is due, until `stop`."""
        while not stop.is_set():
            try:
                await self.run_passes(due_only=True)
            except Exception as exc:  # the database may be down: try again at the next look
                log.warning("job_runner_error", error=type(exc).__name__)
            wait = min(self._next_look[name] for name in self.passes) - time.monotonic()
            await _first_of(stop, at_most=max(wait, self.poll_interval))

    async def prune(self) -> int:
        """Delete finished jobs older than `keep_done`, then run every housekeeper, a batch per
        transaction; returns how many rows went. Dead jobs are kept: they wait for an admin."""
        cutoff = utcnow() - self.keep_done

        async def finished_jobs(_: Any, session: AsyncSession, now: datetime) -> int:
            return await delete_batch(
                session, Job, Job.status == JobStatus.DONE, Job.finished_at < cutoff
            )

        removed = 0
        for name, clean in [("jobs", finished_jobs), *self.housekeepers.items()]:
            count = await self._clean(clean)
            if count:
                log.info("pruned", what=name, count=count)
            removed += count
        return removed

    async def run_frequent(self) -> int:
        """Run the upkeep listed as frequent (every `frequent_every` seconds in `run`); returns
        how many rows it handled."""
        handled = 0
        for name, upkeep in self.frequent.items():
            count = await self._clean(upkeep)
            if count:
                log.debug("upkept", what=name, count=count)
            handled += count
        return handled

    async def run_passes(self, *, due_only: bool = False) -> int:
        """Run the passes (with `due_only`, those this runner claims as due in the cluster's
        schedule; otherwise every one, each then not due again for its interval) from start to
        end; returns how many rows they handled. A pass that fails is tried again when it is
        next due."""
        handled = 0
        for name, upkeep in self.passes.items():
            if due_only:
                if not await self._claim_run(name, upkeep.every):
                    continue
            else:
                await self._claim_run(name, upkeep.every, force=True)
            count, cursor = 0, None
            while True:
                async with session_scope(self.sessionmaker) as session:
                    rows, cursor = await upkeep.step(self.context, session, utcnow(), cursor)
                count += rows
                if cursor is None:
                    break
            await self._record_run(name, count)
            if count:
                log.debug("upkept", what=name, count=count)
            handled += count
        return handled

    async def _claim_run(self, name: str, every: float, *, force: bool = False) -> bool:
        """Whether this runner makes the run of `name` due now: it moves the schedule's
        `due_at` on by `every` if it has come (if it has or not, with `force`), with an UPDATE
        that only one of several runners' can make (or, for the first run, the INSERT of the
        row). The database is asked at most when the schedule said it would next be due, as
        this runner last read it."""
        if not force and time.monotonic() < self._next_look[name]:
            return False
        now = utcnow()
        due_at = now + timedelta(seconds=every)
        async with session_scope(self.sessionmaker) as session:
            # The first run of `name` in this database writes its row; of several runners
            # doing so at once, one does (the others wait for it, then find the row).
            dialect = postgresql if _on_postgresql(session) else sqlite
            first = dialect.insert(Schedule).values(name=name, due_at=due_at, started_at=now)
            claimed = await session.execute(first.on_conflict_do_nothing())
            if not claimed.rowcount:  # type: ignore[attr-defined]
                claim = update(Schedule).where(Schedule.name == name)
                if not force:
                    claim = claim.where(Schedule.due_at <= now)
                claimed = await session.execute(
                    claim.values(due_at=due_at, started_at=now).execution_options(
                        synchronize_session=False
                    )
                )
            if claimed.rowcount:  # type: ignore[attr-defined]
                self._next_look[name] = time.monotonic() + every
                return True
            next_due = await session.scalar(select(Schedule.due_at).where(Schedule.name == name))
        wait = (next_due - now).total_seconds() if next_due is not None else every
        self._next_look[name] = time.monotonic() + min(max(wait, 0.0), every)
        return False

    async def _record_run(self, name: str, handled: int) -> None:
        async with session_scope(self.sessionmaker) as session:
            await session.execute(
                update(Schedule)
                .where(Schedule.name == name)
                .values(finished_at=utcnow(), handled=handled)
                .execution_options(synchronize_session=False)
            )

    async def _clean(self, clean: Housekeeper) -> int:
        removed = 0
        while True:
            async with session_scope(self.sessionmaker) as session:
                count = await clean(self.context, session, utcnow())
            removed += count
            if count < BATCH:
                return removed

    async def run_due(self, kinds: Collection[str] | None = None) -> int:
        """Claim the jobs that are due (of these kinds, when given) and run them; returns how
        many were claimed."""
        claimed = await self._claim(kinds)
        for position, job in enumerate(claimed):
            # The first job's lease was set a moment ago; the others waited for their turn.
            if position > 0 and not await self._renew_lease(job):
                log.info("job_taken_over", job_id=str(job.id), kind=job.kind)
                continue
            await self._execute(job)
        return len(claimed)

    async def _claim(self, kinds: Collection[str] | None = None) -> list[ClaimedJob]:
        now = utcnow()
        async with session_scope(self.sessionmaker) as session:
            due = (
                select(Job.id)
                .where(
                    or_(
                        and_(Job.status == JobStatus.PENDING, Job.run_at <= now),
                        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
                    )
                )
                .order_by(Job.run_at)
                .limit(self.batch_size)
            )
            if kinds is not None:
                due = due.where(Job.kind.in_(kinds))
            if _on_postgresql(session):
                due = due.with_for_update(skip_locked=True)
            result = await session.execute(
                update(Job)
                .where(Job.id.in_(due.scalar_subquery()))
                .values(
                    status=JobStatus.RUNNING,
                    attempts=Job.attempts + 1,
                    locked_until=now + self.lease,
                )
                .returning(
                    Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.run_at
                )
                .execution_options(synchronize_session=False)
            )
            # RETURNING does not keep the subquery's order; run oldest first. The claim commits
            # as the block ends.
            return [ClaimedJob(*row[:5]) for row in sorted(result.all(), key=lambda r: r[5])]

    async def _renew_lease(self, job: ClaimedJob) -> bool:
        """Restart the job's lease from now; False when another worker has taken it over."""
        async with session_scope(self.sessionmaker) as session:
            result = await session.execute(
                update(Job)
                .where(
                    Job.id == job.id, Job.status == JobStatus.RUNNING, Job.attempts == job.attempts
                )
                .values(locked_until=utcnow() + self.lease)
                .execution_options(synchronize_session=False)
            )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def _backoff(self, attempts: int) -> timedelta:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempts - 1))
        # Full jitter keeps many failed jobs from retrying in lockstep.
        return timedelta(seconds=random.uniform(delay / 2, delay))  # noqa: S311 - not security

    async def _finish(self, job: ClaimedJob, **values: Any) -> None:
        async with session_scope(self.sessionmaker) as session:
            # Guarded by the attempt number: a worker whose lease ran out must not overwrite
            # the outcome of the worker that took the job over.
            await session.execute(
                update(Job)
                .where(Job.id == job.id, Job.attempts == job.attempts)
                .values(locked_until=None, **values)
                .execution_options(synchronize_session=False)
            )

    async def _execute(self, job: ClaimedJob) -> None:
        if job.attempts > job.max_attempts:
            # Claimed again after its lease ran out on the last attempt: the worker running it
            # stopped each time (a crash, or a kill), which retrying would only repeat.
            log.error("job_dead", job_id=str(job.id), kind=job.kind, attempts=job.attempts - 1)
            await self._finish(
                job,
                status=JobStatus.DEAD,
                attempts=job.max_attempts,
                last_error="the worker running it stopped before it finished, on every attempt",
                finished_at=utcnow(),
            )
            return
        run = self.handlers.get(job.kind)
        try:
            if run is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            async with asyncio.timeout(self.lease.total_seconds() * 0.8):
                await run(self.context, job.payload)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            if isinstance(exc, PermanentJobError) or job.attempts >= job.max_attempts:
                log.error("job_dead", job_id=str(job.id), kind=job.kind, attempts=job.attempts)
                await self._finish(
                    job, status=JobStatus.DEAD, last_error=error, finished_at=utcnow()
                )
            else:
                delay = self._backoff(job.attempts)
                log.warning(
                    "job_failed",
                    job_id=str(job.id),
                    kind=job.kind,
                    attempts=job.attempts,
                    retry_in_s=round(delay.total_seconds(), 1),
                    error=type(exc).__name__,
                )
                await self._finish(
                    job, status=JobStatus.PENDING, last_error=error, run_at=utcnow() + delay
                )
            return
        # The payload may hold sealed secrets (a reset link); nothing is kept once done.
        await self._finish(
            job, status=JobStatus.DONE, payload={}, finished_at=utcnow(), last_error=None
        )
        log.info("job_done", job_id=str(job.id), kind=job.kind, attempts=job.attempts)
