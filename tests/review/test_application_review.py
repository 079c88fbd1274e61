"""Admins review artist applications: approve, reject, read the W-9 (always audited)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from empulse.core.db import session_scope
from empulse.models import Artist, AuditEvent
from empulse.services import Services
from tests.artists.helpers import admin_headers, applicant
from tests.auth.helpers import deliver, outbox, text_of
from tests.conftest import Backend, Harness


async def _events(harness: Harness, name: str) -> list[AuditEvent]:
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.event == name)))
    raise AssertionError


async def test_approval_makes_the_applicant_an_artist_and_emails_them(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(backend)
    admin = await admin_headers(harness)
    artist = await applicant(harness, "artist@example.com")
    pending = await harness.client.get("/api/v1/admin/applications?status=pending", headers=admin)
    assert pending.status_code == 200
    [item] = pending.json()["items"]
    assert item["taxId"] == "***-**-6789"
    assert pending.json()["nextCursor"] is None

    approved = await harness.client.post(
        f"/api/v1/admin/applications/{item['id']}/approve", headers=admin
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    mine = await harness.client.get("/api/v1/artist/applications/me", headers=artist)
    assert mine.json()["status"] == "approved"
    me = await harness.client.get("/api/v1/auth/me", headers=artist)
    assert me.json()["role"] == "ARTIST"

    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        profile = (await session.scalars(select(Artist))).one()
        assert profile.name == "The Lanterns"

    await deliver(harness)
    [email] = [m for m in outbox(harness) if "approved" in str(m["Subject"])]
    assert email["To"] == "artist@example.com"
    assert len(await _events(harness, "artist_application_approved")) == 1

    again = await harness.client.post(
        f"/api/v1/admin/applications/{item['id']}/reject",
        json={"reason": "changed my mind"},
        headers=admin,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_reviewed"


async def test_rejection_carries_the_reason_and_allows_a_new_application(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(backend)
    admin = await admin_headers(harness)
    artist = await applicant(harness, "artist@example.com")
    mine = await harness.client.get("/api/v1/artist/applications/me", headers=artist)
    rejected = await harness.client.post(
        f"/api/v1/admin/applications/{mine.json()['id']}/reject",
        json={"reason": "Please sign with your <b>legal</b> name."},
        headers=admin,
    )
    assert rejected.status_code == 200
    mine = await harness.client.get("/api/v1/artist/applications/me", headers=artist)
    assert mine.json()["status"] == "rejected"
    assert mine.json()["reviewReason"] == "Please sign with your <b>legal</b> name."

    await deliver(harness)
    [email] = [m for m in outbox(harness) if "not approved" in str(m["Subject"])]
    assert "legal" in text_of(email)
    html = email.get_body(preferencelist=("html",))
    assert html is not None
    assert "<b>legal</b>" not in html.get_content()

    from tests.artists.helpers import application

    again = await harness.client.post(
        "/api/v1/artist/applications", json=application(), headers=artist
    )
    assert again.status_code == 201


async def test_reading_the_w9_is_for_admins_and_always_audited(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 16.2.1 / 8.2.1: the decrypted W-9 is an admin-only call with an audit record."""
    harness: Harness = await make_client(backend)
    admin = await admin_headers(harness)
    artist = await applicant(harness, "artist@example.com")
    application_id = (
        await harness.client.get("/api/v1/artist/applications/me", headers=artist)
    ).json()["id"]

    refused = await harness.client.get(
        f"/api/v1/admin/applications/{application_id}/w9", headers=artist
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "admin_required"

    response = await harness.client.get(
        f"/api/v1/admin/applications/{application_id}/w9", headers=admin
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["taxId"] == "123456789"
    assert response.json()["address"]["state"] == "IL"
    [event] = await _events(harness, "w9_viewed")
    assert event.details["application_id"] == application_id


async def test_admins_cannot_review_their_own_application(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    await applicant(harness, "both@example.com")
    admin = await admin_headers(harness, "both@example.com")
    mine = await harness.client.get("/api/v1/artist/applications/me", headers=admin)
    response = await harness.client.post(
        f"/api/v1/admin/applications/{mine.json()['id']}/approve", headers=admin
    )
    assert response.status_code == 403
    assert response.json()["code"] == "own_review"


async def test_admin_lists_page_with_a_cursor(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    admin = await admin_headers(harness)
    for number in range(3):
        await applicant(harness, f"artist{number}@example.com")
    first = await harness.client.get("/api/v1/admin/applications?limit=2", headers=admin)
    assert len(first.json()["items"]) == 2
    cursor = first.json()["nextCursor"]
    second = await harness.client.get(
        "/api/v1/admin/applications", params={"limit": 2, "cursor": cursor}, headers=admin
    )
    assert len(second.json()["items"]) == 1
    assert second.json()["nextCursor"] is None
    seen = {i["id"] for i in first.json()["items"]} | {i["id"] for i in second.json()["items"]}
    assert len(seen) == 3
    bad = await harness.client.get("/api/v1/admin/applications?cursor=garbage", headers=admin)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_cursor"
