"""Administrators read the security event log over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.artists.helpers import TEST_SSN, admin_headers, applicant
from tests.auth.helpers import bearer, login, signed_in
from tests.conftest import Backend, Harness
from tests.web.test_problems import assert_problem


async def test_admins_read_the_audit_log_newest_first_by_kind_and_account(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md "Sensitive data": reading a decrypted W-9 is always audit-logged, and here
    is where an administrator finds who read which; failures of sign-in are there too. No event
    shows a secret."""
    harness: Harness = await make_client(backend)
    admin = await admin_headers(harness)
    artist = await applicant(harness, "applicant@example.com")
    mine = await harness.client.get("/api/v1/artist/applications/me", headers=artist)
    application_id = mine.json()["id"]
    for _ in range(3):
        read = await harness.client.get(
            f"/api/v1/admin/applications/{application_id}/w9", headers=admin
        )
        assert read.status_code == 200
    assert (await login(harness, "applicant@example.com", "not-the-password")).status_code == 401

    first = await harness.client.get(
        "/api/v1/admin/audit-events", params={"event": "w9_viewed", "limit": 2}, headers=admin
    )
    assert first.status_code == 200, first.text
    second = await harness.client.get(
        "/api/v1/admin/audit-events",
        params={"event": "w9_viewed", "limit": 2, "cursor": first.json()["nextCursor"]},
        headers=admin,
    )
    events = first.json()["items"] + second.json()["items"]
    assert second.json()["nextCursor"] is None
    assert [event["event"] for event in events] == ["w9_viewed"] * 3
    times = [event["occurredAt"] for event in events]
    assert times == sorted(times, reverse=True)
    me = (await harness.client.get("/api/v1/auth/me", headers=admin)).json()
    assert {event["userId"] for event in events} == {me["id"]}
    assert {event["details"]["application_id"] for event in events} == {application_id}
    assert all(event["requestId"] for event in events)

    applicant_id = (await harness.client.get("/api/v1/auth/me", headers=artist)).json()["id"]
    about = await harness.client.get(
        "/api/v1/admin/audit-events", params={"userId": applicant_id}, headers=admin
    )
    kinds = [event["event"] for event in about.json()["items"]]
    assert kinds[0] == "login_failed"  # the newest
    assert {"registered", "email_verified", "artist_application_submitted"} <= set(kinds)
    for page in (first, second, about):
        assert TEST_SSN not in page.text
        assert TEST_SSN.replace("-", "") not in page.text
        assert "not-the-password" not in page.text


async def test_the_audit_log_is_for_admins_only(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V8.2.1: admin routes answer 403 to everyone else, 401 to no one signed in."""
    harness: Harness = await make_client(embedded)
    user = bearer(await signed_in(harness, "curious@example.com"))
    refused = await harness.client.get("/api/v1/admin/audit-events", headers=user)
    assert_problem(refused, 403, "admin_required")
    anonymous = await harness.client.get("/api/v1/admin/audit-events")
    assert_problem(anonymous, 401, "not_authenticated")
