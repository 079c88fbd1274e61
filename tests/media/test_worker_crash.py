"""A worker killed mid-transcode: its hold lapses, the job queue delivers the job again, and
the next run takes the file over, removes what the dead run left and finishes it; the clean-ups
remove what no run will come back for."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from empulse.core.db import session_scope, utcnow
from empulse.media import repository
from empulse.media import service as media
from empulse.models import Job, MediaPipeline
from empulse.services import Services
from tests.auth.helpers import deliver
from tests.conftest import Backend, Harness
from tests.media.test_pipeline import decoded, submitted
from tests.support import media as samples
from tests.support.fixtures import S3Server

SECONDS = 12.0  # a second of encoding: long enough to be caught in the middle


async def _pipeline(services: Services) -> MediaPipeline:
    async with session_scope(services.sessionmaker) as session:
        [row] = (await session.scalars(select(MediaPipeline))).all()
        return row


def _written(folder: Path) -> list[Path]:
    return [p for p in folder.glob("out/*") if p.stat().st_size > 0]


async def _partial_rendition(folder: Path) -> Path:
    """The dead run's first rendition, once it has bytes in it (the worker is encoding)."""
    async with asyncio.timeout(60):
        while True:
            written = await asyncio.to_thread(_written, folder)
            if written:
                return written[0]
            await asyncio.sleep(0.02)


async def test_a_worker_killed_mid_transcode_is_taken_over_and_its_leftovers_swept(
    backend_services: Backend, s3_server: S3Server, make_client: Callable[..., Any]
) -> None:
    """On the production services (PostgreSQL, Redis, S3): the takeover itself is the same
    conditional update on SQLite, tested in process below."""
    settings = {**backend_services.settings, **s3_server.settings()}
    harness: Harness = await make_client(Backend("services+s3", settings))
    services: Services = harness.app.state.services
    admin, submission_id = await submitted(harness, samples.sine_wav(seconds=SECONDS))
    source_id = (await _pipeline(services)).media_object_id
    dead_folder = media.WORK_ROOT / f"{source_id.hex}-1"

    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "empulse.cli",
        "worker",
        env={
            **os.environ,
            "EMPULSE_ENV": "test",
            "EMPULSE_DATA_DIR": str(harness.settings.data_dir),
            "EMPULSE_JOBS_POLL_SECONDS": "0.1",
            **settings,
        },
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        partial = await _partial_rendition(dead_folder)
    finally:
        worker.kill()
        await worker.wait()
    held = await _pipeline(services)
    assert (held.status, held.runs) == ("running", 1)
    assert partial.exists()  # the dead run's half-written rendition

    # A minute later: the job's lease and the pipeline's hold have lapsed.
    async with session_scope(services.sessionmaker) as session:
        lapsed = utcnow() - timedelta(seconds=1)
        await session.execute(update(MediaPipeline).values(locked_until=lapsed))
        await session.execute(
            update(Job).where(Job.kind == media.MEDIA_PIPELINE).values(locked_until=lapsed)
        )
    await deliver(harness, media=True)

    done = await _pipeline(services)
    assert (done.status, done.runs) == ("done", 2)
    assert not list(media.WORK_ROOT.glob(f"{source_id.hex}-*"))  # the dead run's folder too
    async with session_scope(services.sessionmaker) as session:
        [job] = (await session.scalars(select(Job).where(Job.kind == media.MEDIA_PIPELINE))).all()
        assert (job.status, job.attempts) == ("done", 2)
    detail = f"/api/v1/admin/submissions/{submission_id}"
    files = (await harness.client.get(detail, headers=admin)).json()["files"]
    renditions = [f for f in files if f["role"] == "rendition"]
    assert len(renditions) == 4
    for rendition in renditions:
        url = rendition["url"]
        async with httpx.AsyncClient() as store:
            client = store if url.startswith("http") else harness.client  # S3's presigned URL
            body = (await client.get(url)).content
        assert abs(decoded(body)[1] - SECONDS) <= 0.05


async def test_the_hourly_clean_ups_remove_what_dead_processes_left(
    media_harness: Harness,
) -> None:
    """A killed worker's folder (on a machine that will not run that file again) and a write to
    storage that its process never finished, once no run could still be using them."""
    harness = media_harness
    services: Services = harness.app.state.services
    stale = media.WORK_ROOT / f"{os.urandom(16).hex()}-1"
    (stale / "out").mkdir(parents=True)
    (stale / "out" / "opus-160.opus").write_bytes(b"half")
    recent = media.WORK_ROOT / f"{os.urandom(16).hex()}-1"
    recent.mkdir(parents=True)
    long_ago = time.time() - media.RUN_DEADLINE_SECONDS - 600
    os.utime(stale, (long_ago, long_ago))

    writer = await services.storage.open_writer("private/renditions/x/opus-160.opus", "audio/ogg")
    await writer.write(os.urandom(9 * 1024 * 1024))  # past one part: S3 has a multipart upload
    # The process dies here; a day later the clean-up runs.
    assert await services.storage.sweep_incomplete(time.time() + 1, 10) == 1
    assert await services.storage.sweep_incomplete(time.time() + 1, 10) == 0
    with contextlib.suppress(Exception):  # what the dead process held
        await writer.abort()

    await services.job_runner.prune()
    assert not stale.exists()
    assert recent.exists()  # a run may be using it
    recent.rmdir()


async def test_a_run_that_lost_its_hold_stops_and_writes_nothing(
    embedded: Backend, make_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker took the file over (this one stalled past its hold): this run stops at
    its next report instead of encoding beside the new one, and stores nothing."""
    monkeypatch.setattr(media, "_REPORT_SECONDS", 0.05)
    harness: Harness = await make_client(embedded)
    services: Services = harness.app.state.services
    await submitted(harness, samples.sine_wav(seconds=SECONDS))
    source_id = (await _pipeline(services)).media_object_id
    run = asyncio.create_task(media.run(services, {"mediaObjectId": str(source_id)}))
    await _partial_rendition(media.WORK_ROOT / f"{source_id.hex}-1")
    async with session_scope(services.sessionmaker) as session:  # the other worker's claim
        await session.execute(update(MediaPipeline).values(runs=MediaPipeline.runs + 1))
    await run

    after = await _pipeline(services)
    assert (after.status, after.runs, after.loudness) == ("running", 2, None)
    assert not list(media.WORK_ROOT.glob(f"{source_id.hex}-1"))
    async with session_scope(services.sessionmaker) as session:
        assert not await repository.renditions_of(session, source_id)
    assert not list((harness.settings.storage_dir / "private" / "renditions").glob("*/*"))
