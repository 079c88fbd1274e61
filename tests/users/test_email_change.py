"""Changing the address an account signs in with: confirmed from the new mailbox, told to the
old one, never revealing which addresses have accounts."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from tests.artists.helpers import admin_headers
from tests.auth.helpers import (
    NEW_PASSWORD,
    PASSWORD,
    bearer,
    deliver,
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


async def _change(
    harness: Harness, headers: dict[str, str], new_email: str, password: str = PASSWORD
) -> Any:
    return await harness.client.post(
        "/api/v1/users/me/email",
        json={"newEmail": new_email, "password": password},
        headers=headers,
    )


async def _new_mail(harness: Harness, before: int) -> list[EmailMessage]:
    await deliver(harness)
    return outbox(harness)[before:]


async def test_the_address_changes_when_the_new_mailbox_confirms_it(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md "Tokens and sessions": reset and verification links die when the email
    changes. The change needs the password, is confirmed from the new address, and the old
    address is told at both steps."""
    harness: Harness = await make_client(backend, RATE_LIMITS="password_reset=100/hour")
    headers = bearer(await signed_in(harness, "old@example.com", "Ada"))
    await harness.client.post("/api/v1/auth/forgot-password", json={"email": "old@example.com"})
    await deliver(harness)
    old_reset = token_in(outbox(harness)[-1], "/reset-password")

    before = len(outbox(harness))
    asked = await _change(harness, headers, " New@Example.com ")
    assert asked.status_code == 202, asked.text
    mail = await _new_mail(harness, before)
    [confirm] = [m for m in mail if m["To"] == "new@example.com"]
    [notice] = [m for m in mail if m["To"] == "old@example.com"]
    assert confirm["Subject"] == "Confirm your new EmPulse email address"
    assert "n***@example.com" in text_of(notice)
    assert "new@example.com" not in text_of(notice)
    token = token_in(confirm, "/confirm-email")
    # Nothing changes before the link is followed.
    assert (await login(harness, "old@example.com")).status_code == 200

    before = len(outbox(harness))
    confirmed = await harness.client.post("/api/v1/auth/confirm-email", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["email"] == "new@example.com"
    assert confirmed.json()["emailVerified"] is True
    [changed] = await _new_mail(harness, before)
    assert changed["To"] == "old@example.com"
    assert changed["Subject"] == "Your EmPulse email address was changed"

    assert (await login(harness, "new@example.com")).status_code == 200
    assert_problem(await login(harness, "old@example.com"), 401, "invalid_credentials")
    me = await harness.client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["email"] == "new@example.com"  # the session goes on
    again = await harness.client.post("/api/v1/auth/confirm-email", json={"token": token})
    assert_problem(again, 400, "invalid_token")
    late_reset = await harness.client.post(
        "/api/v1/auth/reset-password", json={"token": old_reset, "password": PASSWORD + "-x"}
    )
    assert_problem(late_reset, 400, "invalid_token")


async def test_an_address_with_an_account_gets_a_notice_and_the_caller_the_same_answer(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V6.3.8: asking for another account's address answers as any other request; its
    owner is told, and no link is made."""
    harness: Harness = await make_client(backend)
    await registered_and_verified(harness, "taken@example.com", "Grace")
    headers = bearer(await signed_in(harness, "mover@example.com"))
    free = await _change(harness, headers, "free@example.com")
    before = len(outbox(harness)) + 2  # the free address's link and the notice
    taken = await _change(harness, headers, "Taken@example.com")
    assert free.status_code == taken.status_code == 202
    assert free.json() == taken.json()
    mail = await _new_mail(harness, before)
    assert sorted((m["To"], m["Subject"]) for m in mail) == [
        ("mover@example.com", "A new email address was requested for your EmPulse account"),
        ("taken@example.com", "Someone tried to move an EmPulse account to your address"),
    ]
    assert not any("/confirm-email?" in text_of(m) for m in mail)


async def test_a_change_needs_the_password_and_a_new_valid_address(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    headers = bearer(await signed_in(harness, "careful@example.com"))
    before = len(outbox(harness))
    wrong = await _change(harness, headers, "elsewhere@example.com", password="not-my-password")
    assert_problem(wrong, 401, "invalid_credentials")
    assert_problem(await _change(harness, headers, "Careful@Example.com"), 422, "same_email")
    invalid = await _change(harness, headers, "not an address")
    assert_problem(invalid, 422, "validation_failed")
    assert [e["field"] for e in invalid.json()["errors"]] == ["newEmail"]
    assert await _new_mail(harness, before) == []
    anonymous = await harness.client.post(
        "/api/v1/users/me/email", json={"newEmail": "x@example.com", "password": PASSWORD}
    )
    assert_problem(anonymous, 401, "not_authenticated")


async def test_an_address_taken_before_the_link_is_followed_is_not_moved_to(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """The unique index decides: someone registering the address after the link was sent keeps
    it, and the account keeps its old address."""
    harness: Harness = await make_client(backend)
    headers = bearer(await signed_in(harness, "slow@example.com"))
    before = len(outbox(harness))
    assert (await _change(harness, headers, "contested@example.com")).status_code == 202
    [confirm] = [m for m in await _new_mail(harness, before) if m["To"] == "contested@example.com"]
    assert (await register(harness, "contested@example.com")).status_code == 202
    refused = await harness.client.post(
        "/api/v1/auth/confirm-email", json={"token": token_in(confirm, "/confirm-email")}
    )
    assert_problem(refused, 409, "email_taken")
    assert (await login(harness, "slow@example.com")).status_code == 200


async def test_a_link_to_a_disabled_account_changes_nothing(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    admin = await admin_headers(harness)
    body = await signed_in(harness, "leaving@example.com")
    before = len(outbox(harness))
    assert (await _change(harness, bearer(body), "away@example.com")).status_code == 202
    [confirm] = [m for m in await _new_mail(harness, before) if m["To"] == "away@example.com"]
    disabled = await harness.client.patch(
        f"/api/v1/admin/users/{body['user']['id']}", json={"disabled": True}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    refused = await harness.client.post(
        "/api/v1/auth/confirm-email", json={"token": token_in(confirm, "/confirm-email")}
    )
    assert_problem(refused, 400, "invalid_token")
    user = await harness.client.get(f"/api/v1/admin/users/{body['user']['id']}", headers=admin)
    assert user.json()["email"] == "leaving@example.com"


async def test_asking_for_new_addresses_is_throttled_like_password_resets(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """Each request mails an address the caller chose: five an hour per account (and per client
    address, and per new address), as forgot-password allows. (The password check's own limit,
    five a minute, is raised here to leave this one to decide.)"""
    harness: Harness = await make_client(embedded, RATE_LIMITS="login=100/minute")
    headers = bearer(await signed_in(harness, "chatty@example.com"))
    for n in range(5):
        assert (await _change(harness, headers, f"n{n}@example.com")).status_code == 202
    refused = await _change(harness, headers, "n5@example.com")
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["retry-after"]


async def test_a_password_change_kills_a_pending_change_of_address(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """The link carries the credentials it was asked for with: whoever asked with a password
    that has since been changed (by the owner who noticed the notice) moves nothing."""
    harness: Harness = await make_client(embedded)
    headers = bearer(await signed_in(harness, "owner@example.com"))
    before = len(outbox(harness))
    assert (await _change(harness, headers, "thief@example.com")).status_code == 202
    [confirm] = [m for m in await _new_mail(harness, before) if m["To"] == "thief@example.com"]
    changed = await harness.client.post(
        "/api/v1/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text
    refused = await harness.client.post(
        "/api/v1/auth/confirm-email", json={"token": token_in(confirm, "/confirm-email")}
    )
    assert_problem(refused, 400, "invalid_token")
    assert (await login(harness, "owner@example.com", NEW_PASSWORD)).status_code == 200
