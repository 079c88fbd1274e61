"""An account deletion racing a write that points at the account, on PostgreSQL: an upload
finishing, an artist application, an admin's decision on the account's application or
submission, a refresh-token rotation, a sign-in (right or wrong password), following a
verification, reset or change-of-address link, and the requests that send such a link.
Whichever starts first, the other waits for it or does not need to, and they never deadlock,
whichever statement the first had reached: a write that comes second finds no account, and a
deletion that comes second lists every file the write stored (users/repository:
claim_for_deletion, lock_referenced)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts_repository
from empulse.artists import repository as artists
from empulse.artists import service as applications
from empulse.artists.schemas import ApplicationIn
from empulse.audit.service import RequestMeta
from empulse.auth import service as auth
from empulse.auth.service import InvalidCredentials, InvalidToken, RefreshRejected
from empulse.core.errors import NotFound
from empulse.models import Album, Job, Submission, Transport, User
from empulse.review import service as review
from empulse.services import Services
from empulse.submissions import service as submissions
from empulse.submissions.schemas import SubmissionPayload
from empulse.submissions.service import NotAnArtist
from empulse.submissions.upload import DELETE_OBJECTS, StoredFile
from empulse.users import service
from tests.artists.helpers import admin_headers, applicant, application, approved_artist
from tests.auth.helpers import (
    NEW_PASSWORD,
    PASSWORD,
    bearer,
    deliver,
    outbox,
    register,
    signed_in,
    text_of,
    token_in,
)
from tests.conftest import Backend, Harness
from tests.submissions.helpers import SINGLE, ep_files, ep_payload, processed, submit
from tests.support.transactions import stepping, until_paused, until_settled

META = RequestMeta(None, None, None)
EMAIL = "racer@example.com"


@dataclass
class Race:
    user: User
    # The write, on a session of its own; the test commits it.
    write: Callable[[AsyncSession], Coroutine[Any, Any, Any]]
    # What the write raises when the account was deleted first (None: it answers as usual).
    gone: type[Exception] | None
    # The objects the write stored, as its own transaction sees them.
    stored_keys: Callable[[AsyncSession], Awaitable[list[str]]]
    # The write changes the password: a deletion confirmed with the old one, coming second,
    # deletes nothing (users/service.delete_account).
    changes_password: bool = False
    # The write is one statement committed on its own, outside the session it is given (a
    # sign-in: auth/repository.record_sign_in): it holds nothing a deletion coming second
    # waits for, and has no statement to be paused after.
    commits_alone: bool = False


async def _user_id(harness: Harness, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await harness.client.get("/api/v1/auth/me", headers=headers)).json()["id"])


async def _nothing_stored(_: AsyncSession) -> list[str]:
    return []


async def _upload(harness: Harness, services: Services) -> Race:
    """An upload whose files are stored, writing its rows (submissions/service.record)."""
    user_id = await _user_id(
        harness, await approved_artist(harness, EMAIL, await admin_headers(harness))
    )
    async with services.sessionmaker() as session:
        artist = await artists.active_artist_of_user(session, user_id)
    assert artist is not None
    key = "private/audio/racing.wav"
    stored = StoredFile(
        part="audioFile",
        key=key,
        role="audio",
        track_index=None,
        content_type="audio/wav",
        size_bytes=1,
        sha256="0" * 64,
        filename="racing.wav",
        details={},
        upload_sha256="0" * 64,
    )
    payload = SubmissionPayload.model_validate(SINGLE)

    async def write(session: AsyncSession) -> Any:
        return await submissions.record(session, artist, payload, [stored], [key], META)

    async def stored_keys(_: AsyncSession) -> list[str]:
        return [key]

    return Race(await _user(services, user_id), write, NotAnArtist, stored_keys)


async def _application(harness: Harness, services: Services) -> Race:
    user_id = await _user_id(harness, bearer(await signed_in(harness, EMAIL)))
    body = ApplicationIn.model_validate(application())

    async def write(session: AsyncSession) -> Any:
        return await applications.apply(session, services.w9_cipher, user_id, body, META)

    return Race(await _user(services, user_id), write, NotFound, _nothing_stored)


async def _application_decision(harness: Harness, services: Services) -> Race:
    admin_id = await _user_id(harness, await admin_headers(harness))
    headers = await applicant(harness, EMAIL)
    mine = (await harness.client.get("/api/v1/artist/applications/me", headers=headers)).json()
    application_id = uuid.UUID(mine["id"])

    async def write(session: AsyncSession) -> Any:
        return await review.decide_application(
            session, services.job_sealer, application_id, admin_id, META, approve=True
        )

    user = await _user(services, await _user_id(harness, headers))
    return Race(user, write, NotFound, _nothing_stored)


async def _submission_decision(harness: Harness, services: Services) -> Race:
    admin = await admin_headers(harness)
    admin_id = await _user_id(harness, admin)
    headers = await approved_artist(harness, EMAIL, admin)
    created = await submit(harness, headers, ep_payload(2), ep_files(2))
    assert created.status_code == 201, created.text
    submission_id = uuid.UUID(created.json()["id"])
    await processed(harness)

    async def write(session: AsyncSession) -> Any:
        return await review.decide_submission(
            session, services, submission_id, admin_id, META, approve=True
        )

    async def public_covers(session: AsyncSession) -> list[str]:
        albums = await session.scalars(select(Album.images))
        keys = [image["key"] for images in albums for image in images]
        assert keys
        return keys

    user = await _user(services, await _user_id(harness, headers))
    return Race(user, write, NotFound, public_covers)


async def _refresh(harness: Harness, services: Services) -> Race:
    """A token session rotating its refresh token (auth/service.refresh)."""
    body = await signed_in(harness, EMAIL)

    async def write(session: AsyncSession) -> Any:
        return await auth.refresh(session, services, META, body["refreshToken"])

    user = await _user(services, await _user_id(harness, bearer(body)))
    return Race(user, write, RefreshRejected, _nothing_stored)


async def _verification(harness: Harness, services: Services) -> Race:
    """Following the verification link (auth/service.verify_email)."""
    assert (await register(harness, EMAIL)).status_code == 202
    token = await _token_sent(harness, "/verify-email")

    async def write(session: AsyncSession) -> Any:
        return await auth.verify_email(session, META, token)

    return Race(await _user_by_email(services), write, InvalidToken, _nothing_stored)


async def _password_reset(harness: Harness, services: Services) -> Race:
    """Setting a new password from a reset link (auth/service.reset_password)."""
    await signed_in(harness, EMAIL)
    forgot = await harness.client.post("/api/v1/auth/forgot-password", json={"email": EMAIL})
    assert forgot.status_code == 202
    token = await _token_sent(harness, "/reset-password")

    async def write(session: AsyncSession) -> Any:
        return await auth.reset_password(
            session, services, META, token=token, password=NEW_PASSWORD
        )

    user = await _user_by_email(services)
    return Race(user, write, InvalidToken, _nothing_stored, changes_password=True)


async def _sign_in(harness: Harness, services: Services, password: str) -> Race:
    """A sign-in that read the account before its deletion began (auth/service.login): with
    the right password it writes a session; with a wrong one it counts a failure (the refusal
    is its usual answer, and is committed), and refuses alike once the account is gone."""
    await signed_in(harness, EMAIL)
    right = password == PASSWORD

    async def write(session: AsyncSession) -> Any:
        try:
            return await auth.login(
                session, services, META, email=EMAIL, password=password, transport=Transport.TOKEN
            )
        except InvalidCredentials:
            if right:
                raise
            await session.flush()

    gone = InvalidCredentials if right else None
    return Race(await _user_by_email(services), write, gone, _nothing_stored, commits_alone=right)


async def _link_sent(harness: Harness, services: Services, send: str) -> Race:
    """A request that issues a link to the account: forgot-password, a second registration of
    its address, or a new verification link. When the account is gone, it sends nothing."""
    if send == "verification":
        assert (await register(harness, EMAIL)).status_code == 202
    else:
        await signed_in(harness, EMAIL)

    async def write(session: AsyncSession) -> None:
        if send == "reset":
            await auth.forgot_password(session, services, EMAIL)
        elif send == "verification":
            await auth.resend_verification(session, services, EMAIL)
        else:
            await auth.register(
                session, services, META, email=EMAIL, password=NEW_PASSWORD, name="Grace"
            )
        await session.flush()  # what the request's commit would write

    return Race(await _user_by_email(services), write, None, _nothing_stored)


async def _email_change(harness: Harness, services: Services) -> Race:
    """Asking to move the account to another address (users/service.request_email_change):
    it issues a link to the account; when the account is gone, it sends nothing."""
    await signed_in(harness, EMAIL)
    user = await _user_by_email(services)

    async def write(session: AsyncSession) -> Any:
        await service.request_email_change(session, services, META, user, "moved@example.com")
        await session.flush()

    return Race(user, write, NotFound, _nothing_stored)


async def _email_change_confirmed(harness: Harness, services: Services) -> Race:
    """Following the link sent to the new address (users/service.confirm_email_change). It
    changes the credentials version, as a password change does."""
    headers = bearer(await signed_in(harness, EMAIL))
    asked = await harness.client.post(
        "/api/v1/users/me/email",
        json={"newEmail": "moved@example.com", "password": PASSWORD},
        headers=headers,
    )
    assert asked.status_code == 202, asked.text
    token = await _token_sent(harness, "/confirm-email")
    user = await _user_by_email(services)

    async def write(session: AsyncSession) -> Any:
        return await service.confirm_email_change(session, services, META, token)

    return Race(user, write, InvalidToken, _nothing_stored, changes_password=True)


async def _token_sent(harness: Harness, path: str) -> str:
    await deliver(harness)
    return token_in(next(m for m in reversed(outbox(harness)) if f"{path}?" in text_of(m)), path)


async def _user_by_email(services: Services) -> User:
    async with services.sessionmaker() as session:
        user = await accounts_repository.get_by_email(session, EMAIL)
    assert user is not None
    return user


async def _user(services: Services, user_id: uuid.UUID) -> User:
    async with services.sessionmaker() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user


RACES: dict[str, Callable[[Harness, Services], Awaitable[Race]]] = {
    "upload": _upload,
    "application": _application,
    "application decision": _application_decision,
    "submission decision": _submission_decision,
    "token refresh": _refresh,
    "sign-in": partial(_sign_in, password=PASSWORD),
    "failed sign-in": partial(_sign_in, password=NEW_PASSWORD),
    "email verification": _verification,
    "password reset": _password_reset,
    "forgot password": partial(_link_sent, send="reset"),
    "verification resent": partial(_link_sent, send="verification"),
    "registration of a taken address": partial(_link_sent, send="registration"),
    "email change": _email_change,
    "email change confirmed": _email_change_confirmed,
}


async def _deleted_keys(services: Services) -> set[str]:
    async with services.sessionmaker() as session:
        payloads = await session.scalars(select(Job.payload).where(Job.kind == DELETE_OBJECTS))
        return {key for payload in payloads for key in payload["keys"]}


async def _nothing_left_of(services: Services, user: User) -> None:
    async with services.sessionmaker() as session:
        assert await session.get(User, user.id) is None
        assert (await session.scalars(select(Submission))).all() == []


@pytest.fixture(params=list(RACES))
async def race(
    request: pytest.FixtureRequest, backend_services: Backend, make_client: Callable[..., Any]
) -> tuple[Race, Services]:
    harness: Harness = await make_client(backend_services)
    services: Services = harness.app.state.services
    return await RACES[request.param](harness, services), services


async def test_a_write_after_the_deletion_began_waits_and_finds_no_account(
    race: tuple[Race, Services],
) -> None:
    case, services = race
    async with services.sessionmaker() as deleting, services.sessionmaker() as writing:
        await service.delete_account(deleting, services, case.user, request_id=None)
        write = asyncio.create_task(case.write(writing))
        try:
            await until_settled(services.engine, [write])
            assert not write.done()
            await deleting.commit()
            if case.gone is None:
                await write
            else:
                with pytest.raises(case.gone):
                    await write
        finally:
            if not write.done():
                await deleting.rollback()
                await asyncio.gather(write, return_exceptions=True)
    await _nothing_left_of(services, case.user)


async def test_a_deletion_after_a_write_began_waits_and_lists_its_files(
    race: tuple[Race, Services],
) -> None:
    case, services = race
    async with services.sessionmaker() as writing, services.sessionmaker() as deleting:
        await case.write(writing)
        stored = await case.stored_keys(writing)
        deletion = asyncio.create_task(
            service.delete_account(deleting, services, case.user, request_id=None)
        )
        try:
            if not case.commits_alone:
                await until_settled(services.engine, [deletion])
                assert not deletion.done()
                await writing.commit()
            if case.changes_password:
                with pytest.raises(InvalidCredentials):
                    await deletion
                async with services.sessionmaker() as session:
                    assert await session.get(User, case.user.id) is not None
                return
            await deletion
            await deleting.commit()
        finally:
            if not deletion.done():
                await writing.rollback()
                await asyncio.gather(deletion, return_exceptions=True)
    assert set(stored) <= await _deleted_keys(services)
    await _nothing_left_of(services, case.user)


@pytest.mark.parametrize("change", ["own profile", "admin disables"])
async def test_a_change_to_an_account_being_deleted_answers_conflict_not_500(
    change: str, backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """The change loads the account, then waits for the deletion's lock to write it; by then
    the row is gone. Nothing was written, and the same request sent again answers from there."""
    harness: Harness = await make_client(backend_services)
    services: Services = harness.app.state.services
    admin = await admin_headers(harness)
    headers = bearer(await signed_in(harness, EMAIL))
    user = await _user(services, await _user_id(harness, headers))
    if change == "own profile":
        request = harness.client.patch("/api/v1/users/me", json={"name": "New"}, headers=headers)
    else:
        request = harness.client.patch(
            f"/api/v1/admin/users/{user.id}", json={"disabled": True}, headers=admin
        )
    async with services.sessionmaker() as deleting:
        await service.delete_account(deleting, services, user, request_id=None)
        sent = asyncio.create_task(request)
        try:
            await until_settled(services.engine, [sent])
            assert not sent.done()
            await deleting.commit()
        finally:
            if not sent.done():
                await deleting.rollback()
        response = await sent
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "concurrent_change"
    assert response.headers["retry-after"] == "1"


async def _interleave(case: Race, services: Services, paused_one: str, after: int) -> bool:
    """Run the write and the deletion, one of them paused after its `after`-th statement while
    the other starts; then let both finish, rolling back whichever blocks the other. Both must
    succeed: neither is chosen as a deadlock victim. False once the paused one has fewer
    statements than `after`. Everything is rolled back, so the race can be run again."""
    async with services.sessionmaker() as writing, services.sessionmaker() as deleting:
        jobs: dict[str, tuple[AsyncSession, Callable[[], Coroutine[Any, Any, Any]]]] = {
            "write": (writing, lambda: case.write(writing)),
            "deletion": (
                deleting,
                lambda: service.delete_account(deleting, services, case.user, None),
            ),
        }
        first_session, first = jobs[paused_one]
        second_session, second = jobs["deletion" if paused_one == "write" else "write"]
        tasks: dict[AsyncSession, asyncio.Task[Any]] = {}
        try:
            async with stepping(services.engine, first_session, after) as stepper:
                tasks[first_session] = asyncio.create_task(first())
                if not await until_paused(stepper, tasks[first_session]):
                    tasks[first_session].result()
                    return False
                tasks[second_session] = asyncio.create_task(second())
                await until_settled(services.engine, [tasks[second_session]])
                stepper.resume.set()
                await until_settled(services.engine, list(tasks.values()))
                for session, task in tasks.items():
                    if task.done():
                        task.result()  # a deadlock victim raises here
                        await session.rollback()  # releases what the other waits for
                await asyncio.gather(*tasks.values())
                return True
        finally:
            for session, task in tasks.items():
                if task.done():
                    await session.rollback()
            await asyncio.gather(*tasks.values(), return_exceptions=True)


@pytest.mark.parametrize("paused_one", ["write", "deletion"])
async def test_a_deletion_and_a_write_meeting_at_any_statement_never_deadlock(
    race: tuple[Race, Services], paused_one: str
) -> None:
    """Whichever of the two starts first, the other may start after any of its statements:
    the one that comes second waits (or does not need to), and PostgreSQL never has to fail
    one of them to break a cycle."""
    case, services = race
    after = 1
    while await _interleave(case, services, paused_one, after):
        after += 1
    if case.commits_alone and paused_one == "write":
        assert after == 1, "the write ran statements in its session"
    else:
        assert after > 2, "the paused transaction ran fewer statements than expected"
