"""Account rules: registration, verification, login, rotation, logout, reset, password change.

Services flush and never commit; the request's unit of work commits. Emails are enqueued as
jobs in that same transaction. Revoked sessions are announced to every process's session cache
once that transaction has committed (`announce_revoked`); refusals that must leave a record
(a failed sign-in, a replayed refresh token, a wrong password) keep their writes through
`core/db.keep_despite_refusal`.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import anyio.to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.auth import emails, repository
from empulse.auth.tokens import issue_access_token
from empulse.core.crypto import hash_token, new_token
from empulse.core.db import after_commit, keep_despite_refusal, utcnow
from empulse.core.emails import InvalidEmailError, email_key, typed_address
from empulse.core.errors import AppError, NotFound, Unauthorized, ValidationFailed
from empulse.core.passwords import (
    WeakPasswordError,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from empulse.infra.email import enqueue_email
from empulse.models import ActionToken, AuthSession, TokenPurpose, Transport, User
from empulse.models.user import UserCredentials
from empulse.services import Services
from empulse.subsonic import repository as subsonic_credentials

LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15
VERIFY_TTL = timedelta(hours=48)
RESET_TTL = timedelta(hours=1)
CHANGE_EMAIL_TTL = timedelta(hours=24)
VERIFY_PATH = "/verify-email"
RESET_PATH = "/reset-password"
CHANGE_EMAIL_PATH = "/confirm-email"

# Verified against when the email is unknown, so that every failed login costs one hash
# (Django's contrib.auth hashers: "run the default password hasher once to reduce the timing
# difference between an existing and a nonexistent user").
_DUMMY_HASH = hash_password("empulse-dummy-password-for-timing")


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    title = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("The email or password is incorrect.")


class EmailNotVerified(AppError):
    status = 403
    code = "email_not_verified"
    title = "Email address not verified"


class InvalidToken(AppError):
    status = 400
    code = "invalid_token"
    title = "Invalid or expired token"


class RefreshRejected(Unauthorized):
    code = "invalid_refresh_token"
    title = "Invalid refresh token"


@dataclass
class IssuedSession:
    user: UserCredentials
    session_id: uuid.UUID
    access_token: str
    expires_in: int
    refresh_token: str


def announce_revoked(
    session: AsyncSession, services: Services, session_ids: list[uuid.UUID]
) -> None:
    """Once this unit of work commits, every process drops these sessions from its cache (on
    Redis pub/sub when configured), so they stop working everywhere at once."""
    if session_ids:
        after_commit(session, partial(services.session_cache.revoked, session_ids))


def _refused(session: AsyncSession) -> InvalidCredentials:
    """A failed password check: its count, lockout and audit record stand."""
    keep_despite_refusal(session)
    return InvalidCredentials()


async def check_new_password(password: str, *, email: str, name: str | None) -> None:
    """The password policy (422 `weak_password`), off the event loop: the strength estimate
    costs up to ~15 ms of CPU (core/passwords.SCORED_LENGTH), which would otherwise stall every
    other request."""
    try:
        await anyio.to_thread.run_sync(
            partial(check_password_policy, password, user_inputs=[email, name or ""])
        )
    except WeakPasswordError as exc:
        raise ValidationFailed(
            str(exc),
            code="weak_password",
            extensions={
                "errors": [
                    {
                        "field": "password",
                        "in": "body",
                        "message": str(exc),
                        "type": "weak_password",
                    }
                ]
            },
        ) from exc


# argon2 is CPU-bound for tens of milliseconds and takes 19 MiB per hash: it runs off the event
# loop, at most one hash per CPU at a time. More threads would only add memory and contention.
_HASHING = anyio.CapacityLimiter(os.cpu_count() or 1)


async def _hash(password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password, password, limiter=_HASHING)


async def check_password(password_hash: str, password: str) -> bool:
    """Verify a password off the event loop (one hash per CPU at a time)."""
    return await anyio.to_thread.run_sync(
        verify_password, password_hash, password, limiter=_HASHING
    )


def _normalise_or_none(email: str) -> str | None:
    try:
        return email_key(email)
    except InvalidEmailError:
        return None


_LINKS = {
    TokenPurpose.VERIFY_EMAIL: (VERIFY_PATH, VERIFY_TTL),
    TokenPurpose.RESET_PASSWORD: (RESET_PATH, RESET_TTL),
    TokenPurpose.CHANGE_EMAIL: (CHANGE_EMAIL_PATH, CHANGE_EMAIL_TTL),
}


def _add_link(
    session: AsyncSession,
    services: Services,
    user: UserCredentials,
    purpose: TokenPurpose,
    *,
    new_email: str | None = None,
) -> str:
    """A new single-use token for the user, stored hashed; returns the link that carries it."""
    path, ttl = _LINKS[purpose]
    token = new_token()
    session.add(
        ActionToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            credentials_version=user.credentials_version,
            expires_at=utcnow() + ttl,
            new_email=new_email,
        )
    )
    return emails.link(services.settings.app_url, path, token)


async def link_for_account(
    session: AsyncSession,
    services: Services,
    user: User,
    purpose: TokenPurpose,
    *,
    new_email: str | None = None,
) -> str | None:
    """`_add_link` for an account read earlier, which may be being deleted: its row is locked
    first (`accounts.repository.lock_referenced`), so a deletion in flight is waited for. None
    when the account is gone."""
    if not await accounts.lock_referenced(session, user.id):
        return None
    return _add_link(session, services, user, purpose, new_email=new_email)


async def register(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    *,
    email: str,
    password: str,
    name: str,
) -> None:
    """Create an unverified account and send the verification email. For an address that
    already has an account, send that owner a notice instead; the caller sees no difference.
    The password has passed `check_new_password` (the caller throttles in between, counting
    only registrations that would send mail)."""
    normalised = email_key(email)
    password_hash = await _hash(password)  # paid whether or not the address is taken
    existing = await accounts.get_by_email(session, normalised)
    reset_url = (
        await link_for_account(session, services, existing, TokenPurpose.RESET_PASSWORD)
        if existing is not None
        else None
    )
    if existing is not None and reset_url is not None:
        enqueue_email(
            session,
            services.job_sealer,
            emails.already_registered(
                existing.email,
                existing.name,
                reset_url,
                confirmed=existing.email_verified_at is not None,
            ),
        )
        audit.record(session, "register_existing_email", meta, user_id=existing.id)
        return
    # No account has the address (or its account was deleted meanwhile): create one.
    user = User(email=typed_address(email), name=name, password_hash=password_hash)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # A concurrent registration of the same address won the unique index.
        await session.rollback()
        return
    url = _add_link(session, services, user, TokenPurpose.VERIFY_EMAIL)
    enqueue_email(session, services.job_sealer, emails.verify_address(user.email, url))
    audit.record(session, "registered", meta, user_id=user.id)


async def resend_verification(session: AsyncSession, services: Services, email: str) -> None:
    normalised = _normalise_or_none(email)
    user = await accounts.get_by_email(session, normalised) if normalised else None
    if user is None or user.email_verified_at is not None or user.disabled_at is not None:
        return
    url = await link_for_account(session, services, user, TokenPurpose.VERIFY_EMAIL)
    if url is None:
        return
    enqueue_email(session, services.job_sealer, emails.verify_address(user.email, url))


async def verify_email(session: AsyncSession, meta: RequestMeta, token: str) -> User:
    """Use the link once. Its account is locked first (`accounts.repository.lock_referenced`):
    used up first, the link would hold a row that an account deletion's cascade waits for,
    while this waited for the deletion's lock on the account."""
    token_hash = hash_token(token)
    found = await repository.find_action_token(session, token_hash, TokenPurpose.VERIFY_EMAIL)
    if found is None or not await accounts.lock_referenced(session, found[0]):
        raise InvalidToken("This verification link is invalid, used or expired.")
    consumed = await repository.consume_action_token(session, token_hash, TokenPurpose.VERIFY_EMAIL)
    user = await repository.get_user(session, consumed[0]) if consumed else None
    if consumed is None or user is None or user.credentials_version != consumed[1]:
        raise InvalidToken("This verification link is invalid, used or expired.")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record(session, "email_verified", meta, user_id=user.id)
    await session.flush()
    return user


async def _start_session(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    user: UserCredentials,
    transport: Transport,
    password_hash: str | None,
) -> IssuedSession | None:
    """Write the sign-in (`repository.record_sign_in`: failures cleared, the rehashed password
    when there is one, the session, its first refresh token, the audit record), then issue the
    access token. None, with nothing written, if the account changed while the hash ran."""
    now = utcnow()
    session_id = uuid.uuid4()
    refresh = new_token()
    event = audit.new_event("login_succeeded", meta, user_id=user.id, session_id=str(session_id))
    written = await repository.record_sign_in(
        session,
        services.engine,
        repository.SignIn(
            user_id=user.id,
            credentials_version=user.credentials_version,
            password_hash=password_hash,
            session_id=session_id,
            transport=transport,
            user_agent=meta.user_agent,
            ip=meta.ip,
            at=now,
            expires_at=now + timedelta(days=services.settings.refresh_token_days),
            refresh_token_hash=hash_token(refresh),
            audit=event,
        ),
    )
    if not written:
        return None
    audit.counted(event.event)
    access, expires_in = _access_token(services, user, session_id)
    return IssuedSession(user, session_id, access, expires_in, refresh)


async def _issue_tokens(
    session: AsyncSession, services: Services, user: User, session_id: uuid.UUID
) -> IssuedSession:
    """A new refresh token in the session's family, and an access token naming the session."""
    refresh = new_token()
    await repository.add_refresh_token(session, session_id, hash_token(refresh))
    access, expires_in = _access_token(services, user, session_id)
    return IssuedSession(user, session_id, access, expires_in, refresh)


def _access_token(
    services: Services, user: UserCredentials, session_id: uuid.UUID
) -> tuple[str, int]:
    return issue_access_token(
        services.jwt_secret,
        user_id=user.id,
        session_id=session_id,
        role=user.role,
        ttl=timedelta(minutes=services.settings.access_token_minutes),
    )


async def login(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    *,
    email: str,
    password: str,
    transport: Transport,
) -> IssuedSession:
    """Unknown email, wrong password, locked or disabled account: one identical failure, and
    exactly one password hash verified in every case (SECURITY.md "Passwords and login").

    The account is read on a connection of its own, returned before the hash runs: `session`
    opens its transaction only for the writes that follow, so sign-ins queueing for the hasher
    hold no database connection (a login storm would otherwise starve every other request of
    the pool)."""
    normalised = _normalise_or_none(email)
    user = (
        await accounts.credentials_by_email(services.read_engine, normalised)
        if normalised
        else None
    )
    if user is None:
        await check_password(_DUMMY_HASH, password)
        audit.record(session, "login_failed", meta, reason="unknown_email")
        raise _refused(session)
    now = utcnow()
    password_ok = await check_password(user.password_hash, password)
    locked = user.locked_until is not None and user.locked_until > now
    if user.disabled_at is not None:
        audit.record(session, "login_failed", meta, user_id=user.id, reason="disabled")
        raise _refused(session)
    if not password_ok or locked:
        failures = await repository.count_failed_login(session, user.id)
        if failures is None:  # the account was deleted while the hash ran
            audit.record(session, "login_failed", meta, reason="unknown_email")
            raise _refused(session)
        reason = "locked" if locked else "wrong_password"
        audit.record(session, "login_failed", meta, user_id=user.id, reason=reason)
        if failures % LOCKOUT_THRESHOLD == 0 and await repository.lock_if_unlocked(
            session, user.id, now + timedelta(minutes=LOCKOUT_MINUTES)
        ):
            audit.record(session, "account_locked", meta, user_id=user.id, failures=failures)
            enqueue_email(
                session,
                services.job_sealer,
                emails.account_locked(
                    user.email,
                    user.name,
                    LOCKOUT_MINUTES,
                    # The row is locked by the updates above: no deletion can be in between.
                    _add_link(session, services, user, TokenPurpose.RESET_PASSWORD),
                ),
            )
        raise _refused(session)
    if user.email_verified_at is None:
        raise EmailNotVerified(
            "Confirm your email address first: follow the link we sent, or ask for a new one."
        )
    rehashed = await _hash(password) if needs_rehash(user.password_hash) else None
    issued = await _start_session(session, services, meta, user, transport, rehashed)
    if issued is None:
        # The password changed, or the account was disabled or deleted, while the hash ran.
        audit.record(session, "login_failed", meta, user_id=user.id, reason="changed_meanwhile")
        raise _refused(session)
    return issued


async def session_of_refresh_token(services: Services, refresh_token: str) -> uuid.UUID | None:
    """The session a refresh token belongs to (used or not), read on its own connection."""
    async with services.read_sessionmaker() as read:
        return await repository.session_of_refresh_token(read, hash_token(refresh_token))


async def refresh(
    session: AsyncSession, services: Services, meta: RequestMeta, refresh_token: str
) -> IssuedSession:
    """Rotate: the presented token dies and a new one is issued in the same session. A token
    presented a second time means it was copied: the whole session (family) is revoked, and the
    revocation stands although the answer is a refusal."""
    token_hash = hash_token(refresh_token)
    await repository.lock_token_owner(session, token_hash)
    session_id = await repository.consume_refresh_token(session, token_hash)
    if session_id is None:
        stolen_from = await repository.session_of_refresh_token(session, token_hash)
        if stolen_from is None:
            raise RefreshRejected("This refresh token is not valid.")
        owner = await session.get(AuthSession, stolen_from)
        revoked = (
            await repository.revoke_sessions(session, owner.user_id, "refresh_reuse", only=owner.id)
            if owner
            else []
        )
        audit.record(
            session,
            "refresh_reuse_detected",
            meta,
            user_id=owner.user_id if owner else None,
            session_id=str(stolen_from),
        )
        announce_revoked(session, services, revoked)
        keep_despite_refusal(session)
        raise RefreshRejected(
            "This refresh token was already used; the session has been ended for safety."
        )
    auth_session = await repository.live_session(session, session_id)
    user = await repository.get_user(session, auth_session.user_id) if auth_session else None
    if auth_session is None or user is None or user.disabled_at is not None:
        raise RefreshRejected("This session has ended. Sign in again.")
    auth_session.last_used_at = utcnow()
    if meta.ip:
        auth_session.ip = meta.ip
    return await _issue_tokens(session, services, user, auth_session.id)


async def logout(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    all_devices: bool,
) -> None:
    revoked = await repository.revoke_sessions(
        session,
        user_id,
        "logout_all" if all_devices else "logout",
        only=None if all_devices else session_id,
    )
    audit.record(
        session, "logout", meta, user_id=user_id, sessions=len(revoked), all_devices=all_devices
    )
    announce_revoked(session, services, revoked)


async def revoke_one(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
) -> None:
    revoked = await repository.revoke_sessions(session, user_id, "revoked", only=session_id)
    if not revoked:
        raise NotFound("No such session.")
    audit.record(session, "session_revoked", meta, user_id=user_id, session_id=str(session_id))
    announce_revoked(session, services, revoked)


async def forgot_password(session: AsyncSession, services: Services, email: str) -> None:
    normalised = _normalise_or_none(email)
    user = await accounts.get_by_email(session, normalised) if normalised else None
    if user is None or user.disabled_at is not None:
        return
    url = await link_for_account(session, services, user, TokenPurpose.RESET_PASSWORD)
    if url is None:
        return
    enqueue_email(session, services.job_sealer, emails.reset_password(user.email, user.name, url))


async def _account(services: Services, user_id: uuid.UUID) -> User:
    """The account, read on a connection of its own that is returned before any hash runs
    (see `login`); the writes that follow are conditional on what was read."""
    async with services.read_sessionmaker() as read:
        user = await repository.get_user(read, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def confirm_password(services: Services, user_id: uuid.UUID, password: str) -> User | None:
    """The account when `password` is its password, else None; the hash holds no connection."""
    user = await _account(services, user_id)
    return user if await check_password(user.password_hash, password) else None


async def reset_password(
    session: AsyncSession, services: Services, meta: RequestMeta, *, token: str, password: str
) -> None:
    """Set a new password from a reset link. Single use; revokes every session; does not log
    the user in. Also unlocks a locked account, and confirms an unconfirmed address: the link
    reached its mailbox. So the owner of an address that someone else registered first (with a
    password of theirs) takes the account over with one reset, and the other's verification
    link dies with their password.

    The link is looked at first (no hash for a dead one), the new password hashed holding no
    connection, and only then is the link used up, by a conditional update: of parallel uses,
    exactly one wins. A weak password leaves the link unused."""
    token_hash = hash_token(token)
    async with services.read_sessionmaker() as read:
        found = await repository.find_action_token(read, token_hash, TokenPurpose.RESET_PASSWORD)
        user = await repository.get_user(read, found[0]) if found else None
    if found is None or user is None or user.credentials_version != found[1]:
        raise InvalidToken("This reset link is invalid, used or expired.")
    await check_new_password(password, email=user.email, name=user.name)
    password_hash = await _hash(password)
    # The user row first (locked, then the link, the password and the sessions), as every
    # write that an account deletion could meet: see `verify_email`.
    if not await accounts.lock_referenced(session, user.id):
        raise InvalidToken("This reset link is invalid, used or expired.")
    consumed = await repository.consume_action_token(
        session, token_hash, TokenPurpose.RESET_PASSWORD
    )
    if consumed is None or not await repository.set_password(
        session, user.id, consumed[1], password_hash, address_confirmed=True
    ):
        # Used in parallel, or the password changed (which kills the link) meanwhile.
        raise InvalidToken("This reset link is invalid, used or expired.")
    revoked = await repository.revoke_sessions(session, user.id, "password_reset")
    app_passwords = await subsonic_credentials.delete_all_credentials(session, user.id)
    enqueue_email(session, services.job_sealer, emails.password_changed(user.email, user.name))
    audit.record(
        session,
        "password_reset",
        meta,
        user_id=user.id,
        sessions_revoked=len(revoked),
        app_passwords_revoked=app_passwords,
    )
    # The account's id too: what other processes remember of its app passwords goes with it.
    announce_revoked(session, services, [*revoked, user.id])
    await session.flush()


async def change_password(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    *,
    user_id: uuid.UUID,
    current_session_id: uuid.UUID,
    current_password: str,
    new_password: str,
) -> None:
    """Both hashes (the current password's check, the new one) run holding no connection; the
    change is then written only if the password did not change meanwhile."""
    user = await confirm_password(services, user_id, current_password)
    if user is None:
        audit.record(session, "password_change_failed", meta, user_id=user_id)
        raise _refused(session)
    await check_new_password(new_password, email=user.email, name=user.name)
    password_hash = await _hash(new_password)
    if not await repository.set_password(session, user.id, user.credentials_version, password_hash):
        audit.record(
            session, "password_change_failed", meta, user_id=user.id, reason="changed_meanwhile"
        )
        raise _refused(session)
    revoked = await repository.revoke_sessions(
        session, user.id, "password_changed", keep=current_session_id
    )
    app_passwords = await subsonic_credentials.delete_all_credentials(session, user.id)
    enqueue_email(session, services.job_sealer, emails.password_changed(user.email, user.name))
    audit.record(
        session,
        "password_changed",
        meta,
        user_id=user.id,
        sessions_revoked=len(revoked),
        app_passwords_revoked=app_passwords,
    )
    announce_revoked(session, services, [*revoked, user.id])
    await session.flush()
