"""Sessions and tokens: rotation, reuse detection, revocation, cookies with CSRF, JWT abuse."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts_repository
from empulse.audit.service import RequestMeta, new_event
from empulse.auth import repository as auth_repository
from empulse.auth import service as auth
from empulse.auth.service import IssuedSession
from empulse.auth.tokens import InvalidTokenError, decode_access_token, issue_access_token
from empulse.core.db import utcnow
from empulse.models import AuditEvent, AuthSession, Transport, User
from empulse.services import Services
from empulse.users import service as accounts
from tests.auth.helpers import (
    NEW_PASSWORD,
    PASSWORD,
    bearer,
    deliver,
    login,
    outbox,
    registered_and_verified,
    signed_in,
    token_in,
)
from tests.conftest import Backend, Harness
from tests.support.transactions import stepping, until_paused, until_settled
from tests.web.test_problems import assert_problem

ME = "/api/v1/auth/me"


async def _refresh(harness: Harness, token: str) -> Any:
    return await harness.client.post("/api/v1/auth/refresh", json={"refreshToken": token})


async def test_refresh_rotates_and_reuse_revokes_the_family(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V7.2.4 / SECURITY.md: each use returns a new token; replaying a used one
    revokes the whole session."""
    harness = await make_client(backend)
    first = await signed_in(harness, "rotate@example.com")
    rotated = await _refresh(harness, first["refreshToken"])
    assert rotated.status_code == 200
    pair = rotated.json()
    assert pair["refreshToken"] != first["refreshToken"]
    assert (await harness.client.get(ME, headers=bearer(pair))).status_code == 200

    replay = await _refresh(harness, first["refreshToken"])
    assert_problem(replay, 401, "invalid_refresh_token")
    # The thief's replay ended the session: the legitimate holder's tokens die with it.
    assert_problem(await harness.client.get(ME, headers=bearer(pair)), 401, "session_ended")
    assert_problem(await _refresh(harness, pair["refreshToken"]), 401, "invalid_refresh_token")


async def test_parallel_refreshes_leave_at_most_one_live_session(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md: 20 concurrent refreshes with one token leave at most one live family."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    body = await signed_in(harness, "parallel@example.com")
    responses = await asyncio.gather(*(_refresh(harness, body["refreshToken"]) for _ in range(20)))
    assert sum(r.status_code == 200 for r in responses) <= 1
    assert all(r.status_code in (200, 401) for r in responses)
    async with harness.app.state.services.sessionmaker() as session:
        live = await session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.revoked_at.is_(None))
        )
    assert live is not None
    assert live <= 1


async def test_parallel_uses_of_one_reset_token_succeed_once(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.4.1: 20 parallel uses of one reset token give exactly one success."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    await registered_and_verified(harness, "once@example.com")
    await harness.client.post("/api/v1/auth/forgot-password", json={"email": "once@example.com"})
    await deliver(harness)
    token = token_in(outbox(harness)[-1], "/reset-password")
    responses = await asyncio.gather(
        *(
            harness.client.post(
                "/api/v1/auth/reset-password",
                json={"token": token, "password": f"{NEW_PASSWORD}-{n}"},
            )
            for n in range(20)
        )
    )
    assert sorted(r.status_code for r in responses) == [204] + [400] * 19


async def test_parallel_wrong_passwords_are_all_counted(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md: lockout counts every failure atomically (100 in parallel count 100)."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    await registered_and_verified(harness, "hammer@example.com")
    responses = await asyncio.gather(
        *(login(harness, "hammer@example.com", f"wrong-guess-{n}") for n in range(100))
    )
    assert {r.status_code for r in responses} == {401}
    async with harness.app.state.services.sessionmaker() as session:
        user = (await session.scalars(select(User))).one()
    assert user.failed_logins == 100
    assert user.locked_until is not None


async def _sign_in(harness: Harness, body: dict[str, Any]) -> httpx.Response:
    return await login(harness, "storm@example.com")


async def _change_password(
    harness: Harness, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await harness.client.post(
        "/api/v1/auth/change-password",
        json={"currentPassword": "not-the-password", "newPassword": NEW_PASSWORD},
        headers={**bearer(body), **(headers or {})},
    )


async def _delete_account(
    harness: Harness, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await harness.client.request(
        "DELETE",
        "/api/v1/users/me",
        json={"password": "not-the-password"},
        headers={**bearer(body), **(headers or {})},
    )


@pytest.mark.parametrize(
    ("operation", "status"),
    [(_sign_in, 200), (_change_password, 401), (_delete_account, 401)],
    ids=["sign-in", "change-password", "delete-account"],
)
async def test_requests_waiting_for_the_hasher_hold_no_database_connection(
    backend_services: Backend,
    make_client: Callable[..., Any],
    operation: Callable[[Harness, dict[str, Any]], Coroutine[Any, Any, httpx.Response]],
    status: int,
) -> None:
    """A storm of password checks (sign-ins, or a signed-in user's password confirmations)
    queues for the password hasher (one hash per CPU at a time), not for the database: with a
    pool of two connections, another request gets one while most of them are still waiting,
    and they all get their answer."""
    harness = await make_client(
        backend_services, DATABASE_POOL_SIZE="2", RATE_LIMITS_ENABLED="false"
    )
    body = await signed_in(harness, "storm@example.com")
    # A dozen per hasher slot (one per CPU), so most must queue on any machine.
    count = 12 * (os.cpu_count() or 1)
    storm = [asyncio.create_task(operation(harness, body)) for _ in range(count)]
    await asyncio.wait(storm, return_when=asyncio.FIRST_COMPLETED)
    other = await harness.client.get("/api/v1/_test/users/count")
    still_waiting = sum(not task.done() for task in storm)
    assert other.status_code == 200
    assert still_waiting >= count // 2, f"only {still_waiting} of {count} were waiting"
    assert [r.status_code for r in await asyncio.gather(*storm)] == [status] * count


@pytest.mark.parametrize("operation", [_change_password, _delete_account])
async def test_password_confirmations_are_throttled_per_account_from_any_address(
    backend: Backend,
    make_client: Callable[..., Any],
    operation: Callable[..., Awaitable[httpx.Response]],
) -> None:
    """ASVS 5.0 V6.3.1: re-entering the password (change password, delete the account) is
    limited like a sign-in (5/min), per account as well as per address, so a stolen session
    cannot guess the password faster by spreading its tries over many addresses."""
    harness = await make_client(backend, client_ip="10.0.0.5", TRUSTED_PROXIES="10.0.0.0/8")
    body = await signed_in(harness, "guessed@example.com")
    for n in range(5):
        wrong = await operation(harness, body, {"X-Forwarded-For": f"203.0.113.{n + 1}"})
        assert_problem(wrong, 401, "invalid_credentials")
    refused = await operation(harness, body, {"X-Forwarded-For": "203.0.113.99"})
    assert_problem(refused, 429, "rate_limited")
    assert (await harness.client.get(ME, headers=bearer(body))).status_code == 200
    # The throttle is the account's: another account, from the same address, is not held back.
    other = await signed_in(harness, "other@example.com")
    wrong = await operation(harness, other, {"X-Forwarded-For": "203.0.113.99"})
    assert_problem(wrong, 401, "invalid_credentials")


async def test_logout_takes_effect_at_once(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend)
    body = await signed_in(harness, "bye@example.com")
    assert (await harness.client.get(ME, headers=bearer(body))).status_code == 200  # cached live
    assert (
        await harness.client.post("/api/v1/auth/logout", headers=bearer(body))
    ).status_code == 204
    assert_problem(await harness.client.get(ME, headers=bearer(body)), 401, "session_ended")
    assert_problem(await _refresh(harness, body["refreshToken"]), 401, "invalid_refresh_token")


@pytest.mark.parametrize("ending", ["logout", "password change", "admin disables"])
async def test_a_session_ended_during_its_refresh_is_not_handed_new_tokens(
    ending: str, backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V7.4.1 / SECURITY.md "Tokens and sessions": a session that ends takes effect at
    once. A logout (or a password change, or a disablement) that lands between a refresh's check
    of its session and the rotation waits for the rotation, and then ends the session with the
    new tokens in it: the refresh never answers with tokens for a session already ended."""
    harness = await make_client(backend_services)
    services: Services = harness.app.state.services
    body = await signed_in(harness, "ending@example.com")
    claims = decode_access_token(services.jwt_secret, body["accessToken"])
    meta = RequestMeta(None, None, None)

    async def end(session: AsyncSession) -> None:
        if ending == "logout":
            await auth.logout(
                session,
                services,
                meta,
                user_id=claims.user_id,
                session_id=claims.session_id,
                all_devices=False,
            )
        elif ending == "password change":  # made from another device: this session ends
            await auth.change_password(
                session,
                services,
                meta,
                user_id=claims.user_id,
                current_session_id=uuid.uuid4(),
                current_password=PASSWORD,
                new_password=NEW_PASSWORD,
            )
        else:
            await accounts.update_user(
                session,
                services,
                admin_id=uuid.uuid4(),
                user_id=claims.user_id,
                role=None,
                disabled=True,
                meta=meta,
            )
        await session.commit()

    async with (
        services.sessionmaker() as refreshing,
        services.sessionmaker() as ending_session,
        stepping(services.engine, refreshing, "FROM auth_sessions") as stepper,
    ):
        rotation = asyncio.create_task(
            auth.refresh(refreshing, services, meta, body["refreshToken"])
        )
        assert await until_paused(stepper, rotation)
        ended = asyncio.create_task(end(ending_session))
        await until_settled(services.engine, [ended])
        assert not ended.done(), "the session ended between the refresh's check and rotation"
        stepper.resume.set()
        issued = await rotation
        await refreshing.commit()
        await ended
    assert isinstance(issued, IssuedSession)
    refused = await _refresh(harness, issued.refresh_token)
    assert_problem(refused, 401, "invalid_refresh_token")


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        ("curl/8.5.0", "curl 8"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome 131 on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Mobile Safari 17 on iOS",
        ),
        ("EmPulseDesktop/2.1 (build 7)", "EmPulseDesktop"),
        ("okhttp/4.12.0", "Android app"),
        ("EmPulse/1.2 (iPhone; iOS 17.5) CFNetwork/1496.0.7 Darwin/23.5.0", "Apple app on iOS"),
    ],
)
async def test_sessions_name_the_device_that_signed_in(
    embedded: Backend, make_client: Callable[..., Any], user_agent: str, device: str
) -> None:
    """The list of sessions tells a person which device each one is, from its user agent."""
    harness = await make_client(embedded)
    await registered_and_verified(harness, "devices@example.com")
    signed = await harness.client.post(
        "/api/v1/auth/login",
        json={"email": "devices@example.com", "password": PASSWORD, "session": "token"},
        headers={"User-Agent": user_agent},
    )
    assert signed.status_code == 200
    listed = await harness.client.get("/api/v1/auth/sessions", headers=bearer(signed.json()))
    (session,) = listed.json()
    assert session["device"] == device
    assert session["userAgent"] == user_agent


async def test_logout_all_and_session_management(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend)
    phone = await signed_in(harness, "many@example.com")
    laptop = (await login(harness, "many@example.com")).json()
    listed = await harness.client.get("/api/v1/auth/sessions", headers=bearer(laptop))
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    assert sum(s["current"] for s in sessions) == 1
    assert {"device", "ip", "userAgent", "createdAt", "lastUsedAt"} <= set(sessions[0])
    phone_id = next(s["id"] for s in sessions if not s["current"])

    revoked = await harness.client.delete(
        f"/api/v1/auth/sessions/{phone_id}", headers=bearer(laptop)
    )
    assert revoked.status_code == 204
    assert_problem(await harness.client.get(ME, headers=bearer(phone)), 401, "session_ended")

    # Someone else's session id answers 404, not 403.
    other = await signed_in(harness, "other@example.com")
    (other_session,) = (
        await harness.client.get("/api/v1/auth/sessions", headers=bearer(other))
    ).json()
    assert_problem(
        await harness.client.delete(
            f"/api/v1/auth/sessions/{other_session['id']}", headers=bearer(laptop)
        ),
        404,
        "not_found",
    )
    assert (await harness.client.get(ME, headers=bearer(other))).status_code == 200

    assert (
        await harness.client.post("/api/v1/auth/logout-all", headers=bearer(laptop))
    ).status_code == 204
    assert_problem(await harness.client.get(ME, headers=bearer(laptop)), 401, "session_ended")


async def test_change_password_revokes_the_other_sessions(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.2.3: needs the current password; other sessions end, this one stays."""
    harness = await make_client(backend, RATE_LIMITS="login=100/minute")
    here = await signed_in(harness, "change@example.com")
    elsewhere = (await login(harness, "change@example.com")).json()
    wrong = await harness.client.post(
        "/api/v1/auth/change-password",
        json={"currentPassword": "not-it-at-all", "newPassword": NEW_PASSWORD},
        headers=bearer(here),
    )
    assert_problem(wrong, 401, "invalid_credentials")
    changed = await harness.client.post(
        "/api/v1/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=bearer(here),
    )
    assert changed.status_code == 204
    assert (await harness.client.get(ME, headers=bearer(here))).status_code == 200
    assert_problem(await harness.client.get(ME, headers=bearer(elsewhere)), 401, "session_ended")
    assert (await login(harness, "change@example.com", PASSWORD)).status_code == 401
    assert (await login(harness, "change@example.com", NEW_PASSWORD)).status_code == 200


async def test_a_sign_in_is_refused_when_its_account_changed_while_it_hashed(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """The contract of `auth/repository.record_sign_in`, whose two paths (one statement on
    PostgreSQL, the ORM on SQLite) run here on their own backends. Sign-in reads the account,
    hashes holding no connection, then writes: its first write
    holds only if the account is still the one it verified. A password change, or a
    disablement, committed in between makes it fail, so no session outlives the change."""
    harness = await make_client(backend)
    here = await signed_in(harness, "race@example.com")
    services = harness.app.state.services
    async with services.read_sessionmaker() as read:  # what a sign-in had read
        seen = await accounts_repository.get_by_email(read, "race@example.com")
    assert seen is not None
    changed = await harness.client.post(
        "/api/v1/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=bearer(here),
    )
    assert changed.status_code == 204

    async def sign_in(credentials_version: int) -> tuple[bool, int, int]:
        """Write a sign-in as `login` does, commit; (written, sessions, login audit records)."""
        sign_in = auth_repository.SignIn(
            user_id=seen.id,
            credentials_version=credentials_version,
            password_hash=None,
            session_id=uuid.uuid4(),
            transport=Transport.TOKEN,
            user_agent="race",
            ip="192.0.2.1",
            at=utcnow(),
            expires_at=utcnow() + timedelta(days=1),
            refresh_token_hash=uuid.uuid4().hex,
            audit=new_event("login_succeeded", RequestMeta(None, None, None), user_id=seen.id),
        )
        async with services.sessionmaker() as session:
            written = await auth_repository.record_sign_in(session, services.engine, sign_in)
            await session.commit()
        async with services.sessionmaker() as session:
            sessions = await session.scalar(
                select(func.count()).where(AuthSession.id == sign_in.session_id)
            )
            records = await session.scalar(
                select(func.count()).where(AuditEvent.id == sign_in.audit.id)
            )
        return written, sessions or 0, records or 0

    assert await sign_in(seen.credentials_version) == (False, 0, 0)
    assert await sign_in(seen.credentials_version + 1) == (True, 1, 1)
    async with services.sessionmaker() as session:
        await session.execute(update(User).where(User.id == seen.id).values(disabled_at=utcnow()))
        await session.commit()
    assert await sign_in(seen.credentials_version + 1) == (False, 0, 0)


async def test_cookie_session_needs_csrf_on_unsafe_requests(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V3.5.1 / SECURITY.md "Browser requests": HttpOnly Secure SameSite cookies; a
    signed double-submit token bound to the session on every unsafe cookie request."""
    harness = await make_client(backend)
    await registered_and_verified(harness, "browser@example.com")
    anonymous_token = (await harness.client.get("/api/v1/csrf-token")).json()["csrfToken"]
    response = await login(harness, "browser@example.com", mode="cookie")
    assert response.status_code == 200
    body = response.json()
    assert "accessToken" not in body
    assert "refreshToken" not in body
    cookies = response.headers.get_list("set-cookie")
    access = next(c for c in cookies if c.startswith("__Host-empulse_access="))
    assert "HttpOnly" in access
    assert "Secure" in access
    assert "SameSite=lax" in access
    assert "Path=/" in access

    assert (await harness.client.get(ME)).status_code == 200  # the cookie authenticates reads
    payload = {"name": "Renamed"}
    no_token = await harness.client.patch("/api/v1/users/me", json=payload)
    assert_problem(no_token, 403, "csrf_failed")
    stale = await harness.client.patch(
        "/api/v1/users/me", json=payload, headers={"X-CSRF-Token": anonymous_token}
    )
    assert_problem(stale, 403, "csrf_failed")  # issued before login: bound to no session
    ok = await harness.client.patch(
        "/api/v1/users/me", json=payload, headers={"X-CSRF-Token": body["csrfToken"]}
    )
    assert ok.status_code == 200
    assert ok.json()["name"] == "Renamed"

    # The same token from another session fails.
    await registered_and_verified(harness, "second@example.com")
    other = (await login(harness, "second@example.com", mode="cookie")).json()
    cross = await harness.client.patch(
        "/api/v1/users/me", json=payload, headers={"X-CSRF-Token": body["csrfToken"]}
    )
    assert_problem(cross, 403, "csrf_failed")
    assert other["csrfToken"] != body["csrfToken"]

    # Bearer requests carry no ambient credential and need no CSRF token.
    bearer_body = (await login(harness, "second@example.com")).json()
    harness.client.cookies.clear()
    plain = await harness.client.patch(
        "/api/v1/users/me", json={"name": "Bearer"}, headers=bearer(bearer_body)
    )
    assert plain.status_code == 200


async def test_cookie_refresh_rotates_the_cookies_and_needs_the_csrf_token(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md "Browser requests": the refresh cookie is an ambient credential, so a
    cookie refresh is an unsafe cookie request like any other: without the session's CSRF token
    it is refused (and the token is not used up); the token in the readable cookie works, as a
    page that reloaded would read it."""
    harness = await make_client(embedded)
    await registered_and_verified(harness, "cookie@example.com")
    await login(harness, "cookie@example.com", mode="cookie")
    old_refresh = harness.client.cookies.get("__Secure-empulse_refresh")

    forged = await harness.client.post("/api/v1/auth/refresh")
    assert_problem(forged, 403, "csrf_failed")
    assert harness.client.cookies.get("__Secure-empulse_refresh") == old_refresh

    csrf_cookie = harness.client.cookies.get("__Host-empulse_csrf")
    assert csrf_cookie
    refreshed = await harness.client.post(
        "/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf_cookie}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["csrfToken"]
    assert harness.client.cookies.get("__Secure-empulse_refresh") != old_refresh
    assert (await harness.client.get(ME)).status_code == 200


def _forge(payload: dict[str, Any], header: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


async def test_jwt_abuse_is_refused(backend: Backend, make_client: Callable[..., Any]) -> None:
    """ASVS 5.0 V9.1.1-V9.2.3: alg none, wrong key, expired, tampered, wrong audience and a
    refresh token used as an access token are all refused."""
    harness = await make_client(backend)
    body = await signed_in(harness, "jwt@example.com")
    good = body["accessToken"]
    claims = jwt.decode(good, options={"verify_signature": False})
    secret = harness.app.state.services.jwt_secret

    header, _payload, signature = good.split(".")
    tampered_claims = {**claims, "role": "ADMIN"}
    tampered = ".".join(
        [
            header,
            base64.urlsafe_b64encode(json.dumps(tampered_claims).encode()).rstrip(b"=").decode(),
            signature,
        ]
    )
    expired, _ = issue_access_token(
        secret,
        user_id=uuid.UUID(claims["sub"]),
        session_id=uuid.UUID(claims["sid"]),
        role="USER",
        ttl=timedelta(seconds=-60),
    )
    candidates = {
        "alg none": _forge(claims, {"alg": "none", "typ": "JWT"}),
        "wrong key": jwt.encode(claims, "another-key-of-sufficient-length-0123456789", "HS256"),
        "expired": expired,
        "tampered": tampered,
        "wrong audience": jwt.encode({**claims, "aud": "someone-else"}, secret, "HS256"),
        "jku header": jwt.encode(
            claims,
            "attacker-key-0123456789-0123456789-0123",
            "HS256",
            headers={"jku": "https://attacker.example/jwks.json", "kid": "x"},
        ),
        "refresh token": body["refreshToken"],
        "garbage": "not.a.token",
    }
    for name, token in candidates.items():
        response = await harness.client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["code"] in {"invalid_token", "session_ended"}, name
    assert (await harness.client.get(ME, headers=bearer(body))).status_code == 200
    assert claims["exp"] - claims["iat"] <= 15 * 60
    assert claims["exp"] > time.time()


async def test_a_session_ends_at_its_absolute_expiry(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V7.3.2: a refresh token has an absolute expiry that rotation never extends:
    past it, neither refreshing nor the access tokens of the session work."""
    harness = await make_client(backend)
    body = await signed_in(harness, "expiry@example.com")
    rotated = (await _refresh(harness, body["refreshToken"])).json()
    async with harness.app.state.services.sessionmaker() as session:
        auth_session = await session.scalar(select(AuthSession))
        assert auth_session is not None
        lifetime = auth_session.expires_at - auth_session.created_at
        assert lifetime <= timedelta(days=harness.app.state.services.settings.refresh_token_days)
        auth_session.expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    assert_problem(await _refresh(harness, rotated["refreshToken"]), 401, "invalid_refresh_token")
    assert_problem(await harness.client.get(ME, headers=bearer(rotated)), 401, "session_ended")


def test_a_remembered_token_still_expires_and_stays_bound_to_its_key() -> None:
    """ASVS 5.0 V9.2.1: a verified access token is remembered (so it is not verified again on
    every request), yet its expiry is checked on every use, and it is accepted only under the
    key it was verified with."""
    secret = "k" * 64
    ids = {"user_id": uuid.uuid4(), "session_id": uuid.uuid4()}
    token, _ = issue_access_token(secret, **ids, role="USER", ttl=timedelta(minutes=15))
    claims = decode_access_token(secret, token)
    assert decode_access_token(secret, token) == claims
    with pytest.raises(InvalidTokenError):
        decode_access_token(secret, token, now=claims.expires_at + timedelta(seconds=6))
    with pytest.raises(InvalidTokenError):
        decode_access_token("z" * 64, token)
