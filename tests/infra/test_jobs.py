"""The job queue: retries with backoff, dead letters, crash recovery, a separate worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from empulse.core.db import utcnow
from empulse.infra import jobs
from empulse.models import Job, Schedule
from empulse.services import Services
from tests.auth.helpers import register
from tests.conftest import Backend, Harness

ATTEMPTS: list[str] = []


async def _flaky(context: Any, payload: dict[str, Any]) -> None:
    ATTEMPTS.append(payload["name"])
    if ATTEMPTS.count(payload["name"]) < payload["succeed_on"]:
        raise ConnectionError("downstream unavailable")


GATES: dict[str, asyncio.Event] = {}
ENTERED: dict[str, asyncio.Event] = {}


async def _gated(context: Any, payload: dict[str, Any]) -> None:
    """Runs once the test opens its gate (jobs without a gate run at once)."""
    ATTEMPTS.append(payload["name"])
    name = payload["name"]
    if name in ENTERED:
        ENTERED[name].set()
    if name in GATES:
        await GATES[name].wait()


def _with_test_kinds(harness: Harness) -> jobs.JobRunner:
    """The app's runner, also running this module's kinds of job."""
    runner: jobs.JobRunner = harness.app.state.services.job_runner
    runner.handlers.update({"test_flaky": _flaky, "test_gated": _gated})
    return runner


async def _enqueue(harness: Harness, kind: str = "test_flaky", **payload: Any) -> Any:
    async with harness.app.state.services.sessionmaker() as session:
        job = jobs.enqueue(session, kind, payload, max_attempts=3)
        await session.commit()
        return job.id


async def _set(harness: Harness, job_id: Any, **values: Any) -> None:
    async with harness.app.state.services.sessionmaker() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(**values))
        await session.commit()


async def _job(harness: Harness, job_id: Any) -> Job:
    services: Services = harness.app.state.services
    async with services.sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def _make_due(harness: Harness, job_id: Any) -> None:
    async with harness.app.state.services.sessionmaker() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
        await session.commit()


async def test_failures_retry_with_backoff_then_succeed(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend)
    runner = _with_test_kinds(harness)
    job_id = await _enqueue(harness, name=f"retry-{backend.name}", succeed_on=2)
    assert await runner.run_due() == 1
    failed = await _job(harness, job_id)
    assert failed.status == "pending"
    assert failed.attempts == 1
    assert failed.last_error == "ConnectionError: downstream unavailable"
    assert failed.run_at > utcnow()  # backed off, not retried at once
    assert await runner.run_due() == 0

    await _make_due(harness, job_id)
    assert await runner.run_due() == 1
    done = await _job(harness, job_id)
    assert done.status == "done"
    assert done.payload == {}
    assert done.finished_at is not None


async def test_a_job_that_keeps_failing_is_marked_dead(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend)
    runner = _with_test_kinds(harness)
    job_id = await _enqueue(harness, name=f"dead-{backend.name}", succeed_on=99)
    for _ in range(3):
        await _make_due(harness, job_id)
        await runner.run_due()
    dead = await _job(harness, job_id)
    assert dead.status == "dead"
    assert dead.attempts == 3
    assert dead.last_error


async def test_a_job_left_running_by_a_crashed_worker_is_taken_over(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """A worker died mid-job: once its lease expires the job runs again."""
    harness = await make_client(backend)
    runner = _with_test_kinds(harness)
    job_id = await _enqueue(harness, name=f"crash-{backend.name}", succeed_on=1)
    async with harness.app.state.services.sessionmaker() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="running", attempts=1, locked_until=utcnow() + timedelta(minutes=5))
        )
        await session.commit()
    assert await runner.run_due() == 0  # the lease still holds
    async with harness.app.state.services.sessionmaker() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(locked_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    assert await runner.run_due() == 1
    assert (await _job(harness, job_id)).status == "done"


async def test_a_job_whose_worker_died_on_every_attempt_is_marked_dead(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """A job that kills its worker would otherwise be taken over, and kill the next, forever."""
    harness = await make_client(backend)
    runner = _with_test_kinds(harness)
    name = f"poison-{backend.name}"
    job_id = await _enqueue(harness, name=name, succeed_on=1)
    # Its third and last attempt was claimed, and that worker never came back.
    await _set(
        harness, job_id, status="running", attempts=3, locked_until=utcnow() - timedelta(seconds=1)
    )
    assert await runner.run_due() == 1
    dead = await _job(harness, job_id)
    assert dead.status == "dead"
    assert dead.attempts == 3
    assert "stopped" in (dead.last_error or "")
    assert name not in ATTEMPTS  # not run a fourth time


async def test_a_job_taken_over_while_it_waited_in_a_batch_runs_once(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """A worker claims a batch and runs it in turn. If a slow first job lets the second one's
    lease run out and another worker takes that one over, the first worker must skip it."""
    harness = await make_client(backend)
    runner = _with_test_kinds(harness)
    slow, waiting = f"slow-{backend.name}", f"waiting-{backend.name}"
    GATES[slow], ENTERED[slow] = asyncio.Event(), asyncio.Event()
    slow_id = await _enqueue(harness, "test_gated", name=slow)
    await _set(harness, slow_id, run_at=utcnow() - timedelta(seconds=1))  # claimed first
    waiting_id = await _enqueue(harness, "test_gated", name=waiting)

    first_worker = asyncio.create_task(runner.run_due())
    await ENTERED[slow].wait()
    # The slow job outlasts the batch's lease: the waiting job's lease runs out.
    await _set(harness, waiting_id, locked_until=utcnow() - timedelta(seconds=1))
    assert await runner.run_due() == 1  # a second worker takes the waiting job over
    assert ATTEMPTS.count(waiting) == 1

    GATES[slow].set()
    assert await first_worker == 2
    assert ATTEMPTS.count(waiting) == 1  # the first worker left it alone
    assert ATTEMPTS.count(slow) == 1
    taken_over = await _job(harness, waiting_id)
    assert (taken_over.status, taken_over.attempts) == ("done", 2)
    assert (await _job(harness, slow_id)).status == "done"


async def test_the_worker_process_sends_queued_email_and_stops_on_sigterm(
    tmp_path: Path, embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """`empulse worker` delivers what the API enqueued (jobs not run in the API process)."""
    harness = await make_client(embedded)
    assert (await register(harness, "worker@example.com")).status_code == 202
    env = {
        **os.environ,
        "EMPULSE_ENV": "test",
        "EMPULSE_DATA_DIR": str(tmp_path),
        "EMPULSE_JOBS_POLL_SECONDS": "0.1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "empulse.cli",
        "worker",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            while line := await process.stdout.readline():
                if b'"event":"job_done"' in line:
                    break
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    (message,) = list((tmp_path / "outbox").glob("*.eml"))
    assert b"worker@example.com" in message.read_bytes()


async def test_no_job_row_keeps_a_readable_link(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """A queued email may carry a reset link: the row holds it sealed, never in clear."""
    harness = await make_client(embedded)
    await register(harness, "sealed@example.com")
    async with harness.app.state.services.sessionmaker() as session:
        (job,) = (await session.scalars(select(Job))).all()
    assert set(job.payload) == {"sealed"}
    assert "sealed@example.com" not in str(job.payload)
    assert "token" not in str(job.payload)


async def test_finished_jobs_are_pruned_after_the_retention_dead_ones_kept(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend, EMPULSE_JOBS_KEEP_DONE_DAYS="7")
    runner = harness.app.state.services.job_runner
    long_ago, lately = utcnow() - timedelta(days=8), utcnow() - timedelta(days=1)
    async with harness.app.state.services.sessionmaker() as session:
        session.add_all(
            [
                Job(kind="old", payload={}, status="done", finished_at=long_ago),
                Job(kind="recent", payload={}, status="done", finished_at=lately),
                Job(kind="dead", payload={}, status="dead", finished_at=long_ago),
                Job(kind="waiting", payload={}, status="pending", run_at=utcnow() + timedelta(1)),
            ]
        )
        await session.commit()

    assert await runner.prune() == 1
    async with harness.app.state.services.sessionmaker() as session:
        kinds = sorted(await session.scalars(select(Job.kind)))
    assert kinds == ["dead", "recent", "waiting"]


async def test_periodic_upkeep_runs_once_in_the_cluster_whatever_the_runners(
    backend: Backend, make_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every runner loops over the same schedule: each pass is made by the runner that first
    finds it due, and by no other until it is due again. Each runner cleans up as it starts
    (after a deploy, a migration); then the clean-up is due again in an hour."""
    harness = await make_client(backend)
    services: Services = harness.app.state.services
    cleaned: list[str] = []
    passed: list[str] = []

    def kinds(name: str) -> jobs.JobKinds:
        async def clean(context: Any, session: Any, now: Any) -> int:
            cleaned.append(name)
            return 0

        async def step(context: Any, session: Any, now: Any, cursor: Any) -> tuple[int, Any]:
            passed.append(name)
            return 1, None

        return jobs.JobKinds(
            handlers={},
            housekeepers={"test": clean},
            passes={"test_pass": jobs.Pass(step, every=3600.0)},
        )

    first, second = (
        jobs.JobRunner(services.sessionmaker, services, kinds(name), poll_interval=60)
        for name in ("first", "second")
    )
    first_rounds = []
    for runner in (first, second):
        looked = asyncio.Event()
        first_rounds.append(looked)

        async def run_passes(
            *,
            due_only: bool = False,
            runner: jobs.JobRunner = runner,
            looked: asyncio.Event = looked,
        ) -> int:
            handled = await jobs.JobRunner.run_passes(runner, due_only=due_only)
            looked.set()  # the passes are the last schedule a round looks at
            return handled

        monkeypatch.setattr(runner, "run_passes", run_passes)
    stop = asyncio.Event()
    loops = [asyncio.create_task(runner.run(stop)) for runner in (first, second)]
    try:
        async with asyncio.timeout(30):
            for looked in first_rounds:
                await looked.wait()
    finally:
        stop.set()
        await asyncio.gather(*loops)
    assert sorted(cleaned) == ["first", "second"]
    assert len(passed) == 1
    async with services.sessionmaker() as session:
        for name in ("prune", "test_pass"):
            schedule = await session.get(Schedule, name)
            assert schedule is not None
            assert schedule.finished_at is not None
            assert schedule.due_at > utcnow() + timedelta(minutes=59)
            assert schedule.handled == (1 if name == "test_pass" else 0)

    # Not due: neither runner makes it, even when asked. Due again: one runner does.
    assert await first.run_passes(due_only=True) == 0
    assert await second.run_passes(due_only=True) == 0
    async with services.sessionmaker() as session:
        await session.execute(update(Schedule).values(due_at=utcnow()))
        await session.commit()
    first._next_look["test_pass"] = second._next_look["test_pass"] = 0.0  # as a while later
    made = [await runner.run_passes(due_only=True) for runner in (second, first)]
    assert made == [1, 0]
    assert passed[1:] == ["second"]


async def test_a_long_pass_does_not_hold_up_the_jobs(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """A pass runs on a task of its own: a job enqueued meanwhile runs at once, and the runner
    still stops when told, abandoning the pass (the next one starts over)."""
    harness = await make_client(backend)
    services: Services = harness.app.state.services
    in_pass, job_ran = asyncio.Event(), asyncio.Event()

    async def endless_step(context: Any, session: Any, now: Any, cursor: Any) -> tuple[int, Any]:
        in_pass.set()
        await asyncio.Event().wait()  # never set
        return 0, None

    async def job(context: Any, payload: dict[str, Any]) -> None:
        job_ran.set()

    kinds = jobs.JobKinds(
        handlers={"test_job": job},
        housekeepers={},
        passes={"test_endless": jobs.Pass(endless_step, every=3600.0)},
    )
    runner = jobs.JobRunner(services.sessionmaker, services, kinds, poll_interval=60)
    stop = asyncio.Event()
    loop = asyncio.create_task(runner.run(stop))
    async with asyncio.timeout(30):
        await in_pass.wait()
        async with services.sessionmaker() as session:
            jobs.enqueue(session, "test_job", {})
            await session.commit()  # wakes the runners of this process
        await job_ran.wait()
        stop.set()
        await loop
