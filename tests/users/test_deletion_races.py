"""An account deletion and an upload finishing at the same moment, on PostgreSQL: whichever
starts first, the other waits for it; the deletion's list of files to remove misses none of the
upload's, no submission outlives its account, and neither deadlocks (users/repository:
claim_for_deletion, lock_referenced)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.artists import repository as artists
from empulse.audit.service import RequestMeta
from empulse.models import Artist, Job, Submission, User
from empulse.services import Services
from empulse.submissions import service as submissions
from empulse.submissions.schemas import SubmissionPayload
from empulse.submissions.service import NotAnArtist
from empulse.submissions.upload import DELETE_OBJECTS, StoredFile
from empulse.users import repository, service
from tests.artists.helpers import admin_headers, approved_artist
from tests.conftest import Backend, Harness
from tests.submissions.helpers import SINGLE


async def _artist(harness: Harness) -> tuple[User, Artist]:
    headers = await approved_artist(harness, "racer@example.com", await admin_headers(harness))
    user_id = uuid.UUID((await harness.client.get("/api/v1/auth/me", headers=headers)).json()["id"])
    services: Services = harness.app.state.services
    async with services.sessionmaker() as session:
        user = await session.get(User, user_id)
        artist = await artists.active_artist_of_user(session, user_id)
    assert user is not None
    assert artist is not None
    return user, artist


async def _record_upload(session: AsyncSession, artist: Artist, key: str) -> None:
    """What a finishing upload writes once its files are stored (submissions/service.record)."""
    stored = StoredFile(
        part="audioFile",
        key=key,
        role="audio",
        track_index=None,
        content_type="audio/wav",
        size_bytes=1,
        sha256="0" * 64,
        filename="late.wav",
        details={},
        upload_sha256="0" * 64,
    )
    payload = SubmissionPayload.model_validate(SINGLE)
    await submissions.record(
        session, artist, payload, [stored], [key], RequestMeta(None, None, None)
    )


async def _until_a_transaction_waits_for_a_lock(services: Services) -> None:
    """Block until PostgreSQL reports a backend of this database waiting on a lock."""
    deadline = time.monotonic() + 10
    async with services.engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting:
                return
            await connection.rollback()  # a fresh snapshot of pg_stat_activity
            await asyncio.sleep(0.01)  # polls the server's state; no timing is assumed
    raise AssertionError("no transaction waited for the other")


async def _deleted_keys(services: Services) -> list[str]:
    async with services.sessionmaker() as session:
        payloads = await session.scalars(select(Job.payload).where(Job.kind == DELETE_OBJECTS))
        return [key for payload in payloads for key in payload["keys"]]


@pytest.fixture
async def harness(backend_services: Backend, make_client: Callable[..., Any]) -> Harness:
    started: Harness = await make_client(backend_services)
    return started


async def test_an_upload_finishing_after_the_deletion_began_waits_and_is_refused(
    harness: Harness,
) -> None:
    user, artist = await _artist(harness)
    services: Services = harness.app.state.services
    async with services.sessionmaker() as deleting, services.sessionmaker() as uploading:
        assert await repository.claim_for_deletion(deleting, user.id)
        upload = asyncio.create_task(_record_upload(uploading, artist, "private/late.wav"))
        try:
            await _until_a_transaction_waits_for_a_lock(services)
            assert not upload.done()
            await repository.delete_user(deleting, user.id)
            await deleting.commit()
            with pytest.raises(NotAnArtist):
                await upload
        finally:
            if not upload.done():
                await deleting.rollback()
                await upload
    async with services.sessionmaker() as session:
        assert (await session.scalars(select(Submission))).all() == []


async def test_a_deletion_that_began_during_an_upload_waits_and_removes_its_files(
    harness: Harness,
) -> None:
    user, artist = await _artist(harness)
    services: Services = harness.app.state.services
    async with services.sessionmaker() as uploading, services.sessionmaker() as deleting:
        await _record_upload(uploading, artist, "private/early.wav")
        deletion = asyncio.create_task(
            service.delete_account(deleting, services.job_sealer, user, request_id=None)
        )
        try:
            await _until_a_transaction_waits_for_a_lock(services)
            assert not deletion.done()
            await uploading.commit()
            await deletion
            await deleting.commit()
        finally:
            if not deletion.done():
                await uploading.rollback()
                await deletion
    assert "private/early.wav" in await _deleted_keys(services)
    async with services.sessionmaker() as session:
        assert (await session.scalars(select(Submission))).all() == []
