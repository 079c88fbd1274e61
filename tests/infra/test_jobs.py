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

from sqlalchemy import select, update

from empulse.core.db import utcnow
from empulse.infra import jobs
from empulse.models import Job
from empulse.services import Services
from tests.auth.helpers import register
from tests.conftest import Backend, Harness

ATTEMPTS: list[str] = []


@jobs.handler("test_flaky")
async def _flaky(context: Any, payload: dict[str, Any]) -> None:
    ATTEMPTS.append(payload["name"])
    if ATTEMPTS.count(payload["name"]) < payload["succeed_on"]:
        raise ConnectionError("downstream unavailable")


async def _enqueue(harness: Harness, **payload: Any) -> Any:
    async with harness.app.state.services.sessionmaker() as session:
        job = jobs.enqueue(session, "test_flaky", payload, max_attempts=3)
        await session.commit()
        return job.id


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
    runner = harness.app.state.services.job_runner
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
    runner = harness.app.state.services.job_runner
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
    runner = harness.app.state.services.job_runner
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
