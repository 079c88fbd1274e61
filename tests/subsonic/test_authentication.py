"""A listener connects a Subsonic player with an app password or an API key, never with the
account's own password; every refusal carries the spec's code, and revoking a credential, a
password change or reset, or disabling the account stops it at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, update

from empulse.core.db import session_scope
from empulse.models import AuditEvent, User
from empulse.services import Services
from tests.artists.helpers import admin_headers
from tests.auth.helpers import NEW_PASSWORD, PASSWORD
from tests.conftest import Backend, Harness
from tests.subsonic.helpers import call, error_code, ok, player
from tests.support import secrets

V = {"v": "1.16.1", "c": "test-player"}


async def test_a_player_signs_in_with_an_app_password_in_every_form(
    backend: Backend, make_client: Any
) -> None:
    harness: Harness = await make_client(backend)
    me = await player(harness)

    # Token (t = md5(password + salt)), plain and hex-encoded passwords; JSON and XML.
    body = await ok(harness, "ping", me)
    assert body["version"] == "1.16.1"
    assert body["openSubsonic"] is True
    assert body["type"] == "empulse"
    assert body["serverVersion"]
    xml = await call(harness, "ping.view", me.auth(), fmt="xml")
    assert xml.get("status") == "ok"
    assert xml.get("openSubsonic") == "true"
    plain = {"u": me.email, "p": me.password, **V}
    assert (await call(harness, "ping", plain))["status"] == "ok"
    hexed = {"u": me.email.upper(), "p": "enc:" + me.password.encode().hex(), **V}
    assert (await call(harness, "ping", hexed))["status"] == "ok"

    # The account's own password is never accepted, in any form.
    for refused in (
        {"u": me.email, "p": PASSWORD, **V},
        {"u": me.email, "p": "enc:" + PASSWORD.encode().hex(), **V},
        {**me.auth(), "t": "0" * 32},
        {"u": "nobody@example.com", "p": me.password, **V},
        {"u": me.email, "p": "enc:zz-not-hex", **V},
    ):
        assert error_code(await call(harness, "ping", refused)) == 40

    # Missing, conflicting and unknown.
    assert error_code(await call(harness, "ping", {"u": me.email, **V})) == 10
    assert error_code(await call(harness, "ping", {**me.auth(), "p": me.password})) == 43
    assert (
        error_code(await call(harness, "ping", {k: v for k, v in me.auth().items() if k != "v"}))
        == 10
    )
    assert error_code(await call(harness, "ping", {**me.auth(), "v": "2.0.0"})) == 30
    assert error_code(await call(harness, "noSuchMethod", me.auth(), fmt="xml")) == 0

    # The extension list answers without credentials; it names what is supported.
    extensions = await call(harness, "getOpenSubsonicExtensions", {})
    names = {item["name"] for item in extensions["openSubsonicExtensions"]}
    assert {"formPost", "apiKeyAuthentication"} <= names

    # Form POST (the formPost extension) carries the same parameters in the body.
    posted = await harness.client.post("/rest/ping.view", data={**me.auth(), "f": "json"})
    assert posted.json()["subsonic-response"]["status"] == "ok"

    # The list shows names and dates, never the password; failures are in the audit log.
    listed = await harness.client.get("/api/v1/users/me/app-passwords", headers=me.headers)
    assert [item["name"] for item in listed.json()] == ["phone"]
    assert me.password not in listed.text
    assert listed.json()[0]["lastUsedAt"] is not None
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        reasons = {
            event.details.get("reason")
            for event in await session.scalars(
                select(AuditEvent).where(AuditEvent.event == "subsonic_auth_failed")
            )
        }
    assert {"wrong_password", "unknown_user"} <= reasons


async def test_api_keys_sign_in_alone(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    me = await player(harness)
    made = await harness.client.post(
        "/api/v1/users/me/api-keys", json={"name": "desktop"}, headers=me.headers
    )
    assert made.status_code == 201, made.text
    key = made.json()["apiKey"]
    secrets.remember(key)

    assert (await call(harness, "ping", {"apiKey": key, **V}))["status"] == "ok"
    user = await call(harness, "getUser", {"apiKey": key, "username": me.email, **V})
    assert user["user"]["username"] == me.email
    assert user["user"]["streamRole"] is True
    assert error_code(await call(harness, "ping", {"apiKey": key, "u": me.email, **V})) == 43
    assert error_code(await call(harness, "ping", {"apiKey": key + "x", **V})) == 44

    revoked = await harness.client.delete(
        f"/api/v1/users/me/api-keys/{made.json()['id']}", headers=me.headers
    )
    assert revoked.status_code == 204
    assert error_code(await call(harness, "ping", {"apiKey": key, **V})) == 44


@pytest.mark.parametrize("how", ["revoke", "change_password", "disable"])
async def test_a_credential_stops_at_once_on_every_process(
    backend: Backend, make_client: Any, how: str
) -> None:
    """Two server processes share the database (and Redis, on the services backend): both have
    just accepted the app password and remember it; the process that made the change refuses
    it at once, the other as soon as Redis brings the news (within a second)."""
    first: Harness = await make_client(backend)
    second: Harness = await make_client(backend) if backend.name == "services" else first
    assert await until(lambda: second.app.state.services.session_cache._subscribed)
    me = await player(first)
    for harness in (first, second):
        await ok(harness, "ping", me)

    if how == "revoke":
        listed = await first.client.get("/api/v1/users/me/app-passwords", headers=me.headers)
        answer = await first.client.delete(
            f"/api/v1/users/me/app-passwords/{listed.json()[0]['id']}", headers=me.headers
        )
    elif how == "change_password":
        answer = await first.client.post(
            "/api/v1/auth/change-password",
            json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            headers=me.headers,
        )
    else:
        admin = await admin_headers(first)
        user_id = (await first.client.get("/api/v1/auth/me", headers=me.headers)).json()["id"]
        answer = await first.client.patch(
            f"/api/v1/admin/users/{user_id}", json={"disabled": True}, headers=admin
        )
    assert answer.status_code in (200, 204), answer.text
    assert error_code(await call(first, "ping", me.auth())) == 40
    codes: list[int] = []

    async def refused_by_second() -> bool:
        body = await call(second, "ping", me.auth())
        codes.append(0 if body["status"] == "ok" else error_code(body))
        return codes[-1] == 40

    assert await until_async(refused_by_second), codes


async def until(condition: Any, seconds: float = 3.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def until_async(condition: Any, seconds: float = 1.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_wrong_passwords_are_throttled_and_an_unconfirmed_address_is_refused(
    backend: Backend, make_client: Any
) -> None:
    """Credential checks that reach the database count per address and per account: past
    the limit even the right password waits (Retry-After), as a sign-in would."""
    harness: Harness = await make_client(backend, RATE_LIMITS="subsonic_auth=3/minute")
    me = await player(harness)
    them = await player(harness, "other@example.com", "Bea")

    # An account whose address is not confirmed (after a change of address, say): 50.
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        await session.execute(
            update(User).where(User.email == them.email).values(email_verified_at=None)
        )
    assert error_code(await call(harness, "ping", them.auth())) == 50  # 1st check

    wrong = {"u": me.email, "p": "not-the-app-password", **V}
    assert error_code(await call(harness, "ping", wrong)) == 40  # 2nd
    await ok(harness, "ping", me)  # the 3rd: allowed, and remembered
    await ok(harness, "ping", me)  # answered from memory: not counted
    throttled = await harness.client.get("/rest/ping", params={**wrong, "f": "json"})
    assert error_code(throttled.json()["subsonic-response"]) == 0
    assert int(throttled.headers["retry-after"]) > 0
