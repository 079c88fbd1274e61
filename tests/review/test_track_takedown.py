"""Admins take published tracks down and restore them; the artist is told each time."""

from __future__ import annotations

from sqlalchemy import select

from empulse.core.db import session_scope
from empulse.models import AuditEvent
from empulse.services import Services
from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import deliver, outbox, text_of
from tests.conftest import Harness
from tests.submissions.helpers import approve, submit
from tests.web.test_problems import assert_problem


async def test_take_down_and_restore_a_published_track(media_harness: Harness) -> None:
    harness = media_harness
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    created = await submit(harness, artist)
    assert created.status_code == 201, created.text
    approved = await approve(harness, created.json()["id"], admin)
    assert approved.status_code == 200, approved.text

    listing = await harness.client.get("/api/v1/admin/tracks", headers=admin)
    [track] = listing.json()["items"]
    assert track["status"] == "published"
    assert track["takenDownAt"] is None
    url = f"/api/v1/admin/tracks/{track['id']}"

    assert_problem(
        await harness.client.post(
            f"{url}/take-down", json={"reason": "Rights claim"}, headers=artist
        ),
        403,
        "admin_required",
    )
    assert_problem(
        await harness.client.post(f"{url}/take-down", json={"reason": ""}, headers=admin),
        422,
        "validation_failed",
    )

    down = await harness.client.post(
        f"{url}/take-down", json={"reason": "Rights claim by <Label & Co>"}, headers=admin
    )
    assert down.status_code == 200, down.text
    assert down.json()["status"] == "taken_down"
    assert down.json()["takedownReason"] == "Rights claim by <Label & Co>"
    assert down.json()["takenDownAt"] is not None
    assert_problem(
        await harness.client.post(f"{url}/take-down", json={"reason": "again"}, headers=admin),
        409,
        "already_taken_down",
    )
    hidden = await harness.client.get(
        "/api/v1/admin/tracks", params={"status": "taken_down"}, headers=admin
    )
    assert [t["id"] for t in hidden.json()["items"]] == [track["id"]]
    published = await harness.client.get(
        "/api/v1/admin/tracks",
        params={"status": "published", "artistId": track["artistId"]},
        headers=admin,
    )
    assert published.json()["items"] == []

    restored = await harness.client.post(f"{url}/restore", headers=admin)
    assert restored.status_code == 200, restored.text
    assert restored.json()["status"] == "published"
    assert_problem(
        await harness.client.post(f"{url}/restore", headers=admin), 409, "not_taken_down"
    )
    assert_problem(
        await harness.client.post(
            "/api/v1/admin/tracks/00000000-0000-4000-8000-000000000000/restore", headers=admin
        ),
        404,
        "not_found",
    )

    await deliver(harness)
    texts = {str(m["Subject"]): m for m in outbox(harness) if m["To"] == "artist@example.com"}
    notice = texts["“Night Drive” was taken down"]
    assert "Rights claim by <Label & Co>" in text_of(notice)
    html = notice.get_body(preferencelist=("html",))
    assert html is not None
    assert "&lt;Label &amp; Co&gt;" in html.get_content()
    assert "“Night Drive” is available again" in texts

    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        events = list(
            await session.scalars(select(AuditEvent.event).where(AuditEvent.event.like("track_%")))
        )
    assert sorted(events) == ["track_restored", "track_taken_down"]
