"""From registration to a published EP, through the API only, on both sets of backends."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from empulse.core.db import session_scope
from empulse.models import Album, Track
from empulse.services import Services
from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import deliver, outbox
from tests.conftest import Backend, Harness
from tests.submissions.helpers import approve, ep_files, ep_payload, submit
from tests.web.test_problems import assert_problem


async def test_an_admin_publishes_an_artists_ep_into_the_catalog(media_harness: Harness) -> None:
    harness = media_harness
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    created = await submit(harness, artist, ep_payload(2), ep_files(2))
    assert created.status_code == 201, created.text
    submission_id = created.json()["id"]

    pending = await harness.client.get("/api/v1/admin/submissions?status=pending", headers=admin)
    assert [item["id"] for item in pending.json()["items"]] == [submission_id]
    detail = await harness.client.get(f"/api/v1/admin/submissions/{submission_id}", headers=admin)
    assert all(f["url"] for f in detail.json()["files"])

    refused = await harness.client.post(
        f"/api/v1/admin/submissions/{submission_id}/approve", headers=artist
    )
    assert refused.status_code == 403
    # Not before its tracks' renditions exist: the media pipeline is still queued.
    early = await harness.client.post(
        f"/api/v1/admin/submissions/{submission_id}/approve", headers=admin
    )
    assert_problem(early, 409, "media_not_ready")
    assert "Track 1's audio is still being processed (queued, 0%)" in early.json()["detail"]

    approved = await approve(harness, submission_id, admin)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    mine = await harness.client.get(f"/api/v1/submissions/{submission_id}", headers=artist)
    assert mine.json()["status"] == "approved"

    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        album = (await session.scalars(select(Album))).one()
        tracks = list(await session.scalars(select(Track).order_by(Track.position)))
    assert album.title == "Lanterns EP"
    assert [image["size"] for image in album.images] == [1200, 600, 300]
    for image in album.images:
        # Content-addressed under the album: the key names the SHA-256 of its bytes.
        key = image["key"]
        assert key.startswith(f"public/covers/{album.id.hex}/")
        stored = await services.storage.read_bytes(key)
        assert stored.startswith(b"\xff\xd8")
        assert key.endswith(f"/{hashlib.sha256(stored).hexdigest()}.jpg")
    assert [t.title for t in tracks] == ["Song 1", "Song 2"]
    assert all(t.duration_seconds > 0.9 for t in tracks)

    again = await harness.client.post(
        f"/api/v1/admin/submissions/{submission_id}/reject",
        json={"reason": "too late"},
        headers=admin,
    )
    assert again.status_code == 409
    await deliver(harness)
    assert any("is published" in str(m["Subject"]) for m in outbox(harness))


async def test_a_rejected_submission_publishes_nothing(media_harness: Harness) -> None:
    harness = media_harness
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    created = await submit(harness, artist)
    rejected = await harness.client.post(
        f"/api/v1/admin/submissions/{created.json()['id']}/reject",
        json={"reason": "The mix clips at 0:42."},
        headers=admin,
    )
    assert rejected.status_code == 200
    mine = await harness.client.get(f"/api/v1/submissions/{created.json()['id']}", headers=artist)
    assert mine.json()["reviewReason"] == "The mix clips at 0:42."
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        assert (await session.scalars(select(Album))).first() is None


async def test_an_admin_cannot_review_their_own_submission(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md "Input and access control": an artist cannot approve their own submission,
    also when they are an administrator; another administrator can."""
    harness: Harness = await make_client(embedded)
    other_admin = await admin_headers(harness)
    artist = await approved_artist(harness, "both@example.com", other_admin)
    created = await submit(harness, artist)
    assert created.status_code == 201, created.text
    both = await admin_headers(harness, "both@example.com")
    base = f"/api/v1/admin/submissions/{created.json()['id']}"
    assert_problem(await harness.client.post(f"{base}/approve", headers=both), 403, "own_review")
    own_rejection = await harness.client.post(
        f"{base}/reject", json={"reason": "Second thoughts."}, headers=both
    )
    assert_problem(own_rejection, 403, "own_review")
    approved = await approve(harness, created.json()["id"], other_admin)
    assert approved.status_code == 200, approved.text


async def test_parallel_decisions_on_one_submission_take_effect_once(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """Two administrators deciding at the same moment: one decision wins, the others answer 409
    `already_reviewed`; the release is published at most once and the artist gets one email."""
    harness: Harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    created = await submit(harness, artist)
    assert created.status_code == 201, created.text
    base = f"/api/v1/admin/submissions/{created.json()['id']}"
    await deliver(harness, media=True)
    sent_before = len(outbox(harness))

    def decide(approve: bool) -> Awaitable[httpx.Response]:
        if approve:
            return harness.client.post(f"{base}/approve", headers=admin)
        return harness.client.post(f"{base}/reject", json={"reason": "Not now."}, headers=admin)

    responses = await asyncio.gather(*(decide(n % 2 == 0) for n in range(8)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [409] * 7, [r.text for r in responses]
    [winner] = [response.json() for response in responses if response.status_code == 200]
    for response in responses:
        if response.status_code == 409:  # told which decision won
            assert_problem(response, 409, "already_reviewed")
            assert response.json()["detail"] == f"This submission is already {winner['status']}."
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        albums = await session.scalar(select(func.count()).select_from(Album))
    assert albums == (1 if winner["status"] == "approved" else 0)
    await deliver(harness)
    assert len(outbox(harness)) == sent_before + 1
