"""The signed-in user's own data: profile, privacy, export, deletion."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic.alias_generators import to_camel
from sqlalchemy import func, select

from empulse.account_data import ACCOUNT_DATA
from empulse.auth.service import InvalidCredentials, confirm_password
from empulse.models import AuditEvent, AuthSession, User
from empulse.services import Services
from empulse.users import service as accounts
from tests.auth.helpers import (
    NEW_PASSWORD,
    PASSWORD,
    bearer,
    deliver,
    login,
    outbox,
    signed_in,
)
from tests.conftest import Backend
from tests.web.test_problems import assert_problem


async def test_profile_and_privacy_preferences(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend)
    body = await signed_in(harness, "me@example.com")
    renamed = await harness.client.patch(
        "/api/v1/users/me", json={"name": "  Ada L. "}, headers=bearer(body)
    )
    assert renamed.json()["name"] == "Ada L."
    escalate = await harness.client.patch(
        "/api/v1/users/me", json={"name": "x", "role": "ADMIN"}, headers=bearer(body)
    )
    assert_problem(escalate, 422, "validation_failed")

    defaults = await harness.client.get(
        "/api/v1/users/me/privacy-preferences", headers=bearer(body)
    )
    assert defaults.json() == {
        "marketingEmails": False,
        "showListeningActivity": True,
        "publicProfile": True,
        "analytics": True,
    }
    wanted = {
        "marketingEmails": True,
        "showListeningActivity": False,
        "publicProfile": False,
        "analytics": False,
    }
    put = await harness.client.put(
        "/api/v1/users/me/privacy-preferences", json=wanted, headers=bearer(body)
    )
    assert put.json() == wanted
    again = await harness.client.get("/api/v1/users/me/privacy-preferences", headers=bearer(body))
    assert again.json() == wanted


async def test_export_is_a_json_download_of_my_data(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend)
    body = await signed_in(harness, "export@example.com")
    response = await harness.client.get("/api/v1/users/me/export", headers=bearer(body))
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="empulse-export.json"'
    document = json.loads(response.content)
    assert document["user"]["email"] == "export@example.com"
    assert len(document["sessions"]) == 1
    events = {event["event"] for event in document["securityEvents"]}
    assert {"registered", "email_verified", "login_succeeded"} <= events
    assert document["artistProfile"] is None
    assert document["artistApplications"] == document["submissions"] == []
    assert "passwordHash" not in response.text
    assert "password_hash" not in response.text


async def test_the_export_is_documented_with_every_domains_part(
    client: httpx.AsyncClient,
) -> None:
    """Each domain's part of an account (empulse/account_data.py) is a documented field of the
    export, so a part added there shows in the API document too."""
    document = (await client.get("/api/v1/openapi.json")).json()
    content = document["paths"]["/api/v1/users/me/export"]["get"]["responses"]["200"]["content"]
    name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = set(document["components"]["schemas"][name]["properties"])
    assert {"user", "sessions", "securityEvents"} <= fields
    assert {to_camel(part.key) for part in ACCOUNT_DATA} <= fields
    assert {"artistProfile", "artistApplications", "submissions"} <= fields


async def test_delete_account_needs_the_password_and_erases_personal_data(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend)
    body = await signed_in(harness, "leaving@example.com")
    wrong = await harness.client.request(
        "DELETE", "/api/v1/users/me", json={"password": "not-the-password"}, headers=bearer(body)
    )
    assert_problem(wrong, 401, "invalid_credentials")

    deleted = await harness.client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=bearer(body)
    )
    assert deleted.status_code == 204
    assert_problem(
        await harness.client.get("/api/v1/auth/me", headers=bearer(body)), 401, "session_ended"
    )
    assert (await login(harness, "leaving@example.com")).status_code == 401

    async with harness.app.state.services.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0
        assert await session.scalar(select(func.count()).select_from(AuthSession)) == 0
        events = (await session.scalars(select(AuditEvent))).all()
    # The audit trail remains, without anything that points at the person.
    assert any(event.event == "account_deleted" for event in events)
    assert all(event.user_id is None for event in events)
    assert all(event.ip is None for event in events if event.event != "login_failed")
    await deliver(harness)
    assert "deleted" in outbox(harness)[-1]["Subject"]


async def test_an_account_deleted_twice_at_once_is_deleted_once(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """A double-clicked deletion: one request deletes the account, the others find nothing.
    One goodbye email, one audit record. (Several accounts: the requests must overlap.)"""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    accounts = [await signed_in(harness, f"double-{n}@example.com") for n in range(3)]
    sent_before = len(outbox(harness))
    for body in accounts:
        responses = await asyncio.gather(
            *(
                harness.client.request(
                    "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=bearer(body)
                )
                for _ in range(5)
            )
        )
        # The others find no account: 404 when they were signed in before the deletion
        # committed, 401 when their session was already gone with it.
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(204) == 1, statuses
        assert all(status in (401, 404) for status in statuses if status != 204), statuses
    async with harness.app.state.services.sessionmaker() as session:
        deleted = select(func.count()).where(AuditEvent.event == "account_deleted")
        assert await session.scalar(deleted) == len(accounts)
    await deliver(harness)
    goodbyes = [m for m in outbox(harness)[sent_before:] if "deleted" in m["Subject"]]
    assert len(goodbyes) == len(accounts)


async def test_a_deletion_confirmed_before_a_password_change_deletes_nothing(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md "Passwords and login": deleting the account needs its current password. A
    deletion whose password was confirmed, but whose account had its password changed before
    the deletion began (from another device, while the confirmation hashed), deletes nothing
    and answers like a wrong password; the account signs in with the new one."""
    harness = await make_client(backend)
    body = await signed_in(harness, "changing@example.com")
    services: Services = harness.app.state.services
    user_id = uuid.UUID(
        (await harness.client.get("/api/v1/auth/me", headers=bearer(body))).json()["id"]
    )
    confirmed = await confirm_password(services, user_id, PASSWORD)
    assert confirmed is not None

    changed = await harness.client.post(
        "/api/v1/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=bearer(body),
    )
    assert changed.status_code == 204, changed.text

    async with services.sessionmaker() as session:
        with pytest.raises(InvalidCredentials):
            await accounts.delete_account(session, services, confirmed, None)
        await session.rollback()
    assert (await login(harness, "changing@example.com", NEW_PASSWORD)).status_code == 200
