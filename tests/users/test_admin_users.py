"""Admin user management: list and search, change role, disable (which ends every session)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from empulse.core.db import session_scope
from empulse.models import AuditEvent, User
from empulse.services import Services
from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import bearer, login, signed_in
from tests.conftest import Backend, Harness
from tests.web.test_problems import assert_problem


async def _events(harness: Harness, name: str) -> list[AuditEvent]:
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.event == name)))
    raise AssertionError


async def _add_user(harness: Harness, email: str, name: str) -> None:
    """A row as registration makes it (without the registration rate limit in the way)."""
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        session.add(User(email=email, name=name, password_hash="unused"))


async def _user_id(harness: Harness, admin: dict[str, str], email: str) -> str:
    found = await harness.client.get("/api/v1/admin/users", params={"q": email}, headers=admin)
    [user] = [item for item in found.json()["items"] if item["email"] == email]
    user_id: str = user["id"]
    return user_id


async def test_disabling_a_user_ends_their_sessions_at_once(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """PRODUCT.md section 4: disable revokes sessions; the user's live access token, refresh
    token and password all stop working, and re-enabling lets them sign in again."""
    harness: Harness = await make_client(backend)
    admin = await admin_headers(harness)
    body = await signed_in(harness, "listener@example.com")
    user_id = await _user_id(harness, admin, "listener@example.com")

    response = await harness.client.patch(
        f"/api/v1/admin/users/{user_id}", json={"disabled": True}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is True
    assert response.json()["disabledAt"] is not None

    assert_problem(
        await harness.client.get("/api/v1/auth/me", headers=bearer(body)), 401, "session_ended"
    )
    refreshed = await harness.client.post(
        "/api/v1/auth/refresh", json={"refreshToken": body["refreshToken"]}
    )
    assert refreshed.status_code == 401
    wrong_password = await login(harness, "listener@example.com", "not-the-password-at-all")
    disabled_login = await login(harness, "listener@example.com")
    assert disabled_login.status_code == wrong_password.status_code == 401
    assert disabled_login.json()["code"] == wrong_password.json()["code"]

    [event] = await _events(harness, "user_updated")
    assert event.details["target_user_id"] == user_id
    assert event.details["disabled"] is True
    assert event.details["sessions_revoked"] == 1

    enabled = await harness.client.patch(
        f"/api/v1/admin/users/{user_id}", json={"disabled": False}, headers=admin
    )
    assert enabled.json()["disabled"] is False
    assert (await login(harness, "listener@example.com")).status_code == 200


async def test_list_search_filter_and_cursor(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(backend)
    admin = await admin_headers(harness)
    for email, name in [
        ("zed@example.com", "Zed"),
        ("amy@example.com", "Amy Zedd"),
        ("bob@example.com", "Bob"),
        ("percent%@example.com", "Per Cent"),
    ]:
        await _add_user(harness, email, name)

    everyone: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await harness.client.get("/api/v1/admin/users", params=params, headers=admin)
        assert page.status_code == 200, page.text
        everyone += page.json()["items"]
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert len(everyone) == 5
    assert len({user["id"] for user in everyone}) == 5
    stamps = [user["createdAt"] for user in everyone]
    assert stamps == sorted(stamps, reverse=True)
    assert set(everyone[0]) >= {"email", "name", "role", "emailVerified", "disabled"}

    async def emails(**params: Any) -> set[str]:
        response = await harness.client.get("/api/v1/admin/users", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return {user["email"] for user in response.json()["items"]}

    # Part of the email or of the name, any case; LIKE wildcards are matched literally.
    assert await emails(q="ZED") == {"zed@example.com", "amy@example.com"}
    assert await emails(q="%") == {"percent%@example.com"}
    assert await emails(role="ADMIN") == {"admin@example.com"}
    assert await emails(disabled=True) == set()
    assert_problem(
        await harness.client.get("/api/v1/admin/users", params={"role": "ROOT"}, headers=admin),
        422,
        "validation_failed",
    )


async def test_role_changes_take_effect_at_once(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    artist_id = await _user_id(harness, admin, "artist@example.com")
    listener = await signed_in(harness, "listener@example.com")
    listener_id = await _user_id(harness, admin, "listener@example.com")

    # ARTIST comes from an approved application, not from this switch.
    assert_problem(
        await harness.client.patch(
            f"/api/v1/admin/users/{listener_id}", json={"role": "ARTIST"}, headers=admin
        ),
        409,
        "no_artist_profile",
    )

    # Set back to USER, an artist can no longer submit; restored, they can again.
    demoted = await harness.client.patch(
        f"/api/v1/admin/users/{artist_id}", json={"role": "USER"}, headers=admin
    )
    assert demoted.json()["role"] == "USER"
    refused = await harness.client.post("/api/v1/submissions", headers=artist, files={})
    assert_problem(refused, 403, "not_an_artist")
    await harness.client.patch(
        f"/api/v1/admin/users/{artist_id}", json={"role": "ARTIST"}, headers=admin
    )
    past_the_role_check = await harness.client.post(
        "/api/v1/submissions", headers=artist, files={"x": ("x.txt", b"x")}
    )
    assert past_the_role_check.status_code == 422, past_the_role_check.text

    # A promotion to ADMIN works on the next request, with the same access token; so does the
    # demotion.
    assert (
        await harness.client.get("/api/v1/admin/users", headers=bearer(listener))
    ).status_code == 403
    await harness.client.patch(
        f"/api/v1/admin/users/{listener_id}", json={"role": "ADMIN"}, headers=admin
    )
    assert (
        await harness.client.get("/api/v1/admin/users", headers=bearer(listener))
    ).status_code == 200
    await harness.client.patch(
        f"/api/v1/admin/users/{listener_id}", json={"role": "USER"}, headers=admin
    )
    assert_problem(
        await harness.client.get("/api/v1/admin/users", headers=bearer(listener)),
        403,
        "admin_required",
    )
    changes = [event.details.get("role") for event in await _events(harness, "user_updated")]
    assert ["ARTIST", "USER"] in changes
    assert ["USER", "ADMIN"] in changes


async def test_guard_rails(embedded: Backend, make_client: Callable[..., Any]) -> None:
    harness: Harness = await make_client(embedded)
    admin = await admin_headers(harness)
    listener = await signed_in(harness, "listener@example.com")
    admin_id = await _user_id(harness, admin, "admin@example.com")
    listener_id = await _user_id(harness, admin, "listener@example.com")

    # An admin cannot disable or demote themselves (the last admin would lock everyone out).
    assert_problem(
        await harness.client.patch(
            f"/api/v1/admin/users/{admin_id}", json={"disabled": True}, headers=admin
        ),
        409,
        "own_account",
    )
    # Others cannot use the admin routes at all.
    assert_problem(
        await harness.client.patch(
            f"/api/v1/admin/users/{admin_id}", json={"role": "USER"}, headers=bearer(listener)
        ),
        403,
        "admin_required",
    )
    assert_problem(
        await harness.client.get(f"/api/v1/admin/users/{listener_id}", headers=bearer(listener)),
        403,
        "admin_required",
    )
    for body in ({}, {"role": "ROOT"}, {"disabled": True, "email": "x@example.com"}):
        assert_problem(
            await harness.client.patch(
                f"/api/v1/admin/users/{listener_id}", json=body, headers=admin
            ),
            422,
            "validation_failed",
        )
    assert_problem(
        await harness.client.patch(
            "/api/v1/admin/users/00000000-0000-4000-8000-000000000000",
            json={"disabled": True},
            headers=admin,
        ),
        404,
        "not_found",
    )
    one = await harness.client.get(f"/api/v1/admin/users/{listener_id}", headers=admin)
    assert one.json()["email"] == "listener@example.com"
    assert one.json()["role"] == "USER"
    assert await _events(harness, "user_updated") == []
