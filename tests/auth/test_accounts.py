"""Registration, verification, login and the account emails, end to end over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from empulse.core.db import utcnow
from empulse.core.emails import email_key, typed_address
from empulse.models import ActionToken, User
from empulse.services import Services
from tests.auth.helpers import (
    NEW_PASSWORD,
    PASSWORD,
    bearer,
    deliver,
    hashes,
    login,
    outbox,
    register,
    registered_and_verified,
    signed_in,
    text_of,
    token_in,
)
from tests.conftest import Backend, Harness
from tests.web.test_problems import assert_problem


async def test_register_verify_login_me(backend: Backend, make_client: Callable[..., Any]) -> None:
    harness = await make_client(backend)
    response = await register(harness, "  Ada.Lovelace@Example.COM ", "Ada Lovelace")
    assert response.status_code == 202
    await deliver(harness)
    (message,) = outbox(harness)
    assert message["To"] == "ada.lovelace@example.com"
    # Links come from APP_URL, never from the request's Host.
    assert "https://app.empulse.test/verify-email?token=" in text_of(message)
    token = token_in(message, "/verify-email")

    unverified = await login(harness, "ada.lovelace@example.com")
    assert_problem(unverified, 403, "email_not_verified")

    verified = await harness.client.post("/api/v1/auth/verify", json={"token": token})
    assert verified.status_code == 200
    assert verified.json()["emailVerified"] is True

    body = (await login(harness, "ADA.lovelace@example.com")).json()
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == 900
    assert set(body["user"]) == {"id", "email", "name", "role", "emailVerified", "createdAt"}
    me = await harness.client.get("/api/v1/auth/me", headers=bearer(body))
    assert me.status_code == 200
    assert me.json()["email"] == "ada.lovelace@example.com"
    assert me.json()["role"] == "USER"
    assert me.headers["cache-control"] == "no-store"


async def test_register_does_not_reveal_taken_addresses(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.3.8: identical responses for new and taken addresses, and the same work
    (one password hash each), so the response time does not tell them apart either."""
    harness = await make_client(backend)
    before = await hashes(harness, "hash")
    first = await register(harness, "grace@example.com")
    assert await hashes(harness, "hash") == before + 1
    second = await register(harness, "grace@example.com")
    assert await hashes(harness, "hash") == before + 2
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    await deliver(harness)
    subjects = sorted(message["Subject"] for message in outbox(harness))
    assert subjects == [
        "Confirm your EmPulse email address",
        "Someone tried to create an EmPulse account with your address",
    ]
    (notice,) = [m for m in outbox(harness) if m["Subject"].startswith("Someone")]
    assert "already" in text_of(notice)
    assert notice["To"] == "grace@example.com"


async def test_parallel_registrations_of_one_address_make_one_account(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md: one account per normalised address, held by the unique index when the
    requests race (PostgreSQL runs them at once); every caller gets the same answer, and one
    verification email goes out."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    spellings = ["twin@example.com", "Twin@Example.com", " TWIN@example.com"] * 4
    responses = await asyncio.gather(*(register(harness, email) for email in spellings))
    assert {response.status_code for response in responses} == {202}
    assert len({response.content for response in responses}) == 1
    services: Services = harness.app.state.services
    async with services.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.email == "twin@example.com")
        )
    assert count == 1
    await deliver(harness)
    verify = [m for m in outbox(harness) if m["Subject"] == "Confirm your EmPulse email address"]
    assert [m["To"] for m in verify] == ["twin@example.com"]


async def test_weak_or_long_passwords_are_refused_with_a_reason(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.2.1, V6.2.4, V6.2.9: 8-128 characters, weak passwords refused; a password
    over the limit is refused before it is hashed (SECURITY.md)."""
    harness = await make_client(embedded)
    hashed, verified = await hashes(harness, "hash"), await hashes(harness, "verify")
    weak = await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "w@example.com", "password": "password1", "name": "W"},
    )
    body = assert_problem(weak, 422, "weak_password")
    assert body["errors"][0]["field"] == "password"
    too_long = await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "w@example.com", "password": "x" * 129, "name": "W"},
    )
    assert_problem(too_long, 422, "validation_failed")
    long_login = await harness.client.post(
        "/api/v1/auth/login", json={"email": "w@example.com", "password": "x" * 100_000}
    )
    assert_problem(long_login, 422, "validation_failed")
    assert await hashes(harness, "hash") == hashed
    assert await hashes(harness, "verify") == verified
    unicode_ok = await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "u@example.com", "password": "ñandú-пароль-音楽-2718", "name": "U"},
    )
    assert unicode_ok.status_code == 202


async def test_long_passphrases_are_judged_by_their_first_72_characters(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.2.1: any password up to 128 characters is taken. The strength estimator
    takes at most 72 (it raised on longer input: a 500 for passwords of 73-128 characters), so
    strong passphrases pass and weak ones get a reason."""
    harness = await make_client(embedded, RATE_LIMITS_ENABLED=False)
    passphrase = "quartz lantern velvet orchid harbour " * 4
    for length in (72, 73, 128):
        long_ok = await harness.client.post(
            "/api/v1/auth/register",
            json={
                "email": f"long{length}@example.com",
                "password": passphrase[:length],
                "name": "L",
            },
        )
        assert long_ok.status_code == 202, long_ok.text
    long_weak = await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "weak@example.com", "password": "a" * 128, "name": "A"},
    )
    assert_problem(long_weak, 422, "weak_password")


async def test_caller_cannot_set_role_or_verification(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V15.3.3: unknown fields such as role are rejected, never bound."""
    harness = await make_client(embedded)
    response = await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "m@example.com", "password": PASSWORD, "name": "M", "role": "ADMIN"},
    )
    assert_problem(response, 422, "validation_failed")


async def test_header_injection_in_email_is_refused(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded)
    response = await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "a@example.com\r\nBcc: b@example.com", "password": PASSWORD, "name": "A"},
    )
    assert_problem(response, 422, "validation_failed")
    await deliver(harness)
    assert outbox(harness) == []


async def test_failed_logins_look_identical(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.3.8 / SECURITY.md: unknown email, wrong password, locked and disabled
    accounts answer with the same status, body and headers, and each runs the password hasher
    exactly once (against a dummy hash when there is no account), so they take the same time."""
    harness = await make_client(backend, RATE_LIMITS="login=1000/minute")
    await registered_and_verified(harness, "known@example.com")
    await registered_and_verified(harness, "disabled@example.com")
    from sqlalchemy import update

    from empulse.core.db import utcnow
    from empulse.models import User

    async with harness.app.state.services.sessionmaker() as session:
        await session.execute(
            update(User).where(User.email == "disabled@example.com").values(disabled_at=utcnow())
        )
        await session.commit()

    async def attempt(email: str, password: str = PASSWORD) -> Any:
        before = await hashes(harness, "verify")
        response = await login(harness, email, password)
        assert await hashes(harness, "verify") == before + 1, email
        return response

    responses = [
        await attempt("nobody@example.com"),
        await attempt("known@example.com", "wrong-password-123"),
        await attempt("disabled@example.com"),
    ]
    for _ in range(5):
        await attempt("known@example.com", "wrong-password-123")
    responses.append(await attempt("known@example.com"))  # locked, right password

    def shape(response: Any) -> tuple[int, dict[str, Any], list[str]]:
        body = response.json()
        body.pop("requestId")
        names = sorted(k for k in response.headers if k not in {"x-request-id", "content-length"})
        return response.status_code, body, names

    first = shape(responses[0])
    assert first[0] == 401
    assert first[1]["code"] == "invalid_credentials"
    for response in responses[1:]:
        assert shape(response) == first


async def test_a_hash_made_with_older_parameters_is_replaced_at_the_next_sign_in(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V11.4.2 / SECURITY.md "Passwords and login": argon2id at m=19456 KiB, t=2, p=1;
    a password stored under weaker parameters is hashed again at the next sign-in (in the same
    write as the session) and keeps working; a current hash is left as it is."""
    harness = await make_client(backend)
    email = "legacy@example.com"
    await registered_and_verified(harness, email)
    services: Services = harness.app.state.services
    older = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)

    async def stored() -> str:
        async with services.sessionmaker() as session:
            found = await session.scalar(select(User.password_hash).where(User.email == email))
        assert found is not None
        return found

    async with services.sessionmaker() as session:
        await session.execute(update(User).where(User.email == email).values(password_hash=older))
        await session.commit()

    assert (await login(harness, email)).status_code == 200
    rehashed = await stored()
    assert rehashed != older
    assert rehashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert (await login(harness, email)).status_code == 200
    assert await stored() == rehashed
    assert (await login(harness, email, "not-the-password-4471")).status_code == 401


async def test_lockout_after_five_failures_emails_owner_and_reset_unlocks(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md: 5 failures lock for 15 minutes, the owner is told, a reset still works."""
    harness = await make_client(backend, RATE_LIMITS="login=1000/minute")
    await registered_and_verified(harness, "lock@example.com")
    for _ in range(5):
        assert (await login(harness, "lock@example.com", "not-my-password-1")).status_code == 401
    assert_problem(await login(harness, "lock@example.com"), 401, "invalid_credentials")
    await deliver(harness)
    locked_mail = outbox(harness)[-1]
    assert "locked" in locked_mail["Subject"]

    forgot = await harness.client.post(
        "/api/v1/auth/forgot-password", json={"email": "lock@example.com"}
    )
    assert forgot.status_code == 202
    await deliver(harness)
    token = token_in(outbox(harness)[-1], "/reset-password")
    reset = await harness.client.post(
        "/api/v1/auth/reset-password", json={"token": token, "password": "new-" + PASSWORD}
    )
    assert reset.status_code == 204
    assert (await login(harness, "lock@example.com", "new-" + PASSWORD)).status_code == 200


async def test_forgot_password_is_identical_for_unknown_addresses(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded)
    await registered_and_verified(harness, "known@example.com")
    known = await harness.client.post(
        "/api/v1/auth/forgot-password", json={"email": "known@example.com"}
    )
    unknown = await harness.client.post(
        "/api/v1/auth/forgot-password", json={"email": "unknown@example.com"}
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()


async def test_resending_verification_is_identical_for_every_address(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.3.8: a new verification link is asked for with the same answer whether the
    address is waiting for verification, already verified or unknown; only the first gets mail,
    and its new link confirms the address."""
    harness = await make_client(backend)
    assert (await register(harness, "waiting@example.com")).status_code == 202
    await deliver(harness)
    await registered_and_verified(harness, "done@example.com")
    sent_before = {message["Message-ID"] for message in outbox(harness)}

    answers = [
        await harness.client.post("/api/v1/auth/verify/resend", json={"email": email})
        for email in ("Waiting@Example.com", "done@example.com", "nobody@example.com")
    ]
    assert {answer.status_code for answer in answers} == {202}
    assert answers[0].json() == answers[1].json() == answers[2].json()

    await deliver(harness)
    (message,) = [m for m in outbox(harness) if m["Message-ID"] not in sent_before]
    assert message["To"] == "waiting@example.com"
    assert message["Subject"] == "Confirm your EmPulse email address"
    token = token_in(message, "/verify-email")
    verified = await harness.client.post("/api/v1/auth/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["email"] == "waiting@example.com"
    assert verified.json()["emailVerified"] is True


async def test_throttles_are_keyed_on_the_email_too(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md: the forgot-password throttle counts per normalised email, from any address,
    and answers the same 429 whether or not the address has an account."""
    harness = await make_client(embedded, client_ip="198.51.100.1")
    other_address = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app, client=("198.51.100.2", 1)),
        base_url="https://testserver",
    )
    async with other_address:
        for n in range(5):
            client = harness.client if n % 2 else other_address
            response = await client.post(
                "/api/v1/auth/forgot-password", json={"email": "Someone@Example.com"}
            )
            assert response.status_code == 202
        refused = await other_address.post(
            "/api/v1/auth/forgot-password", json={"email": "someone@example.com"}
        )
    assert_problem(refused, 429, "rate_limited")


async def test_the_owner_of_an_address_takes_back_an_account_someone_else_registered(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """Account pre-hijacking: someone registers an address that is not theirs, with a password
    they know, and waits for its owner to confirm it. The owner, registering in turn, is sent
    a reset link; resetting confirms the address (the link reached its mailbox) and kills the
    other's password and the verification link sent for it (SECURITY.md "Tokens and
    sessions": tokens die when the password changes)."""
    harness = await make_client(backend)
    squatter = await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "owner@example.com", "password": NEW_PASSWORD, "name": "Not The Owner"},
    )
    assert squatter.status_code == 202
    await deliver(harness)
    (confirm,) = outbox(harness)
    assert "If you did not create an EmPulse account, ignore this email" in text_of(confirm)
    assert "Not The Owner" not in text_of(confirm)  # a name typed by a stranger stays out
    assert "Not The Owner" not in text_of(confirm, "html")
    squatters_link = token_in(confirm, "/verify-email")

    assert (await register(harness, "owner@example.com", "Owner")).status_code == 202
    await deliver(harness)
    notice = outbox(harness)[-1]
    assert notice["Subject"].startswith("Someone tried to create")
    assert "never confirmed" in text_of(notice)
    assert "Not The Owner" not in text_of(notice)  # the name is whoever registered first's
    reset = await harness.client.post(
        "/api/v1/auth/reset-password",
        json={"token": token_in(notice, "/reset-password"), "password": PASSWORD},
    )
    assert reset.status_code == 204, reset.text

    owner = await login(harness, "owner@example.com")
    assert owner.status_code == 200, owner.text
    assert owner.json()["user"]["emailVerified"] is True
    assert_problem(await login(harness, "owner@example.com", NEW_PASSWORD), 401,
                   "invalid_credentials")  # fmt: skip
    late = await harness.client.post("/api/v1/auth/verify", json={"token": squatters_link})
    assert_problem(late, 400, "invalid_token")


async def test_reset_password_revokes_sessions_and_kills_old_tokens(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.4: reset is single use, revokes every session, does not sign in."""
    harness = await make_client(backend, RATE_LIMITS="password_reset=100/hour")
    session = await signed_in(harness, "reset@example.com")
    for _ in range(2):
        await harness.client.post(
            "/api/v1/auth/forgot-password", json={"email": "reset@example.com"}
        )
    await deliver(harness)
    older, newer = (token_in(m, "/reset-password") for m in outbox(harness)[-2:])

    # A weak new password is refused and the link stays usable.
    weak = await harness.client.post(
        "/api/v1/auth/reset-password", json={"token": newer, "password": "password123"}
    )
    assert_problem(weak, 422, "weak_password")
    reset = await harness.client.post(
        "/api/v1/auth/reset-password", json={"token": newer, "password": "new-" + PASSWORD}
    )
    assert reset.status_code == 204
    assert reset.content == b""
    assert_problem(
        await harness.client.get("/api/v1/auth/me", headers=bearer(session)), 401, "session_ended"
    )
    again = await harness.client.post(
        "/api/v1/auth/reset-password", json={"token": newer, "password": "other-" + PASSWORD}
    )
    assert_problem(again, 400, "invalid_token")
    # The other link was issued before the password changed: it died with the change.
    stale = await harness.client.post(
        "/api/v1/auth/reset-password", json={"token": older, "password": "other-" + PASSWORD}
    )
    assert_problem(stale, 400, "invalid_token")
    await deliver(harness)
    assert "changed" in outbox(harness)[-1]["Subject"]


async def test_links_ignore_the_request_host(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md / ASVS 5.0 V6.4: reset and verification links are built from APP_URL, never
    from the request's `Host` or `X-Forwarded-Host` (a poisoned link would hand the token to
    whoever controls that host)."""
    harness = await make_client(backend)
    hostile = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "host@example.com", "password": PASSWORD, "name": "H"},
        headers=hostile,
    )
    await harness.client.post(
        "/api/v1/auth/forgot-password", json={"email": "host@example.com"}, headers=hostile
    )
    await deliver(harness)
    verify_mail, reset_mail = outbox(harness)[-2:]
    for message, path in ((verify_mail, "/verify-email"), (reset_mail, "/reset-password")):
        text = text_of(message)
        assert f"https://app.empulse.test{path}?token=" in text
        assert "evil.example" not in text
        assert "evil.example" not in text_of(message, "html")


async def test_expired_reset_and_verification_links_are_refused(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.4.1: a reset link lives at most an hour; an expired link (reset or
    verification) is refused like a used one."""
    harness = await make_client(backend)
    await register(harness, "late@example.com")
    await deliver(harness)
    verify_token = token_in(outbox(harness)[-1], "/verify-email")
    await harness.client.post("/api/v1/auth/forgot-password", json={"email": "late@example.com"})
    await deliver(harness)
    reset_token = token_in(outbox(harness)[-1], "/reset-password")

    async with harness.app.state.services.sessionmaker() as session:
        reset_row = await session.scalar(
            select(ActionToken).where(ActionToken.purpose == "reset_password")
        )
        assert reset_row is not None
        assert reset_row.expires_at - reset_row.created_at <= timedelta(hours=1)
        past = utcnow() - timedelta(seconds=1)
        await session.execute(update(ActionToken).values(expires_at=past))
        await session.commit()

    reset = await harness.client.post(
        "/api/v1/auth/reset-password", json={"token": reset_token, "password": "new-" + PASSWORD}
    )
    assert_problem(reset, 400, "invalid_token")
    verify = await harness.client.post("/api/v1/auth/verify", json={"token": verify_token})
    assert_problem(verify, 400, "invalid_token")
    assert (await login(harness, "late@example.com")).status_code == 403  # still unverified


async def _recipients(harness: Harness) -> list[str]:
    await deliver(harness)
    return [str(message["To"]) for message in outbox(harness)]


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Straße@Example.com", "strasse@example.com"),
        ("\u212aelvin@example.com", "kelvin@example.com"),
    ],
)
async def test_mail_goes_to_the_address_as_typed_never_to_its_key(
    backend: Backend, make_client: Callable[..., Any], typed: str, folded: str
) -> None:
    """SECURITY.md "Passwords and login": accounts are compared by a folded key, but the key can
    be someone else's mailbox (`straße@` folds to `strasse@`, the Kelvin sign to `k`). Mail goes
    only to the address as typed (ASCII letters aside), and an address whose key is taken makes
    no second account: the account's owner is told at their own address."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    kept = typed_address(typed)
    assert kept != folded
    assert email_key(kept) == folded

    assert (await register(harness, typed)).status_code == 202
    assert await _recipients(harness) == [kept]
    taken = await register(harness, folded)
    assert taken.status_code == 202
    assert await _recipients(harness) == [kept, kept]  # the notice, to the account's own address
    async with harness.app.state.services.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1
        stored = await session.scalar(select(User.email))
    assert stored == kept


async def test_the_folded_address_registered_first_keeps_the_look_alike_out(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """The other way round: `strasse@` has an account; `straße@` cannot make a second one, and
    nothing is mailed to `straße@`."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    await registered_and_verified(harness, "strasse@example.com")
    sent_before = len(outbox(harness))
    assert (await register(harness, "straße@example.com")).status_code == 202
    recipients = await _recipients(harness)
    assert recipients[sent_before:] == ["strasse@example.com"]
    assert "straße@example.com" not in recipients
