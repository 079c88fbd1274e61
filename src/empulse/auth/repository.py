"""Queries for sessions, refresh tokens and single-use tokens. The updates that decide a race
(rotation, single use, failure counting) are single conditional statements, so the database,
not the application, decides who wins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from empulse.core.db import HotRead, HotWrite, utcnow
from empulse.models import (
    ActionToken,
    AuditEvent,
    AuthSession,
    RefreshToken,
    TokenPurpose,
    Transport,
    User,
)
from empulse.models.user import UserProfile


async def _add_session(
    session: AsyncSession,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    transport: Transport,
    user_agent: str | None,
    ip: str | None,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """A new sign-in session, by a Core insert: one statement, none of the unit of work's
    bookkeeping (a sign-in writes rows it never reads back)."""
    await session.execute(
        _INSERT_SESSION,
        {
            "id": session_id,
            "user_id": user_id,
            "transport": transport,
            "user_agent": user_agent,
            "ip": ip,
            "created_at": created_at,
            "last_used_at": created_at,
            "expires_at": expires_at,
        },
    )


async def add_refresh_token(session: AsyncSession, session_id: uuid.UUID, token_hash: str) -> None:
    await session.execute(
        _INSERT_REFRESH_TOKEN,
        {
            "id": uuid.uuid4(),
            "session_id": session_id,
            "token_hash": token_hash,
            "created_at": utcnow(),
        },
    )


# Built once; each call passes its values (ids made here) as parameters.
_INSERT_SESSION = insert(AuthSession)
_INSERT_REFRESH_TOKEN = insert(RefreshToken)


async def count_failed_login(session: AsyncSession, user_id: uuid.UUID) -> int | None:
    """Add one failure atomically and return the new count; None if the account is gone."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    )
    failures = result.scalar_one_or_none()
    return None if failures is None else int(failures)


@dataclass(frozen=True, slots=True)
class SignIn:
    """What a successful sign-in writes: the account's failure count cleared (and its password
    stored again when rehashed), a new session, the session's first refresh token (stored
    hashed) and the audit record."""

    user_id: uuid.UUID
    credentials_version: int
    password_hash: str | None
    session_id: uuid.UUID
    transport: Transport
    user_agent: str | None
    ip: str | None
    at: datetime
    expires_at: datetime
    refresh_token_hash: str
    audit: AuditEvent


async def record_sign_in(session: AsyncSession, engine: AsyncEngine, sign_in: SignIn) -> bool:
    """Write the sign-in unless the password changed or the account was disabled since it was
    read (or it was deleted); False then, and nothing is written.

    The account's row lock orders a sign-in against a password change, a reset or a
    disablement in flight: those update the user row before revoking sessions, so whichever
    commits second sees the other (the sign-in is refused, or its new session is revoked).

    On PostgreSQL the four writes are one statement (`_SIGN_IN`), committed on its own: one
    round trip instead of six (BEGIN, four statements, COMMIT), for the most frequent write
    there is. Elsewhere they go into `session`, the request's unit of work."""
    if HotWrite.applies(engine):
        opened = await _SIGN_IN.first(
            engine,
            user_id=sign_in.user_id,
            credentials_version=sign_in.credentials_version,
            password_hash=sign_in.password_hash,
            session_id=sign_in.session_id,
            transport=sign_in.transport,
            user_agent=sign_in.user_agent,
            ip=sign_in.ip,
            now=sign_in.at,
            expires_at=sign_in.expires_at,
            refresh_id=uuid.uuid4(),
            token_hash=sign_in.refresh_token_hash,
            audit_id=sign_in.audit.id,
            event=sign_in.audit.event,
            request_id=sign_in.audit.request_id,
            details=sign_in.audit.details,
        )
        return opened is not None
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
    if sign_in.password_hash is not None:
        values["password_hash"] = sign_in.password_hash
    if not await _update_if_unchanged(
        session, sign_in.user_id, sign_in.credentials_version, values, User.disabled_at.is_(None)
    ):
        return False
    await _add_session(
        session,
        user_id=sign_in.user_id,
        transport=sign_in.transport,
        user_agent=sign_in.user_agent,
        ip=sign_in.ip,
        created_at=sign_in.at,
        expires_at=sign_in.expires_at,
        session_id=sign_in.session_id,
    )
    await add_refresh_token(session, sign_in.session_id, sign_in.refresh_token_hash)
    session.add(sign_in.audit)
    return True


def _sign_in_statement() -> Select[tuple[uuid.UUID]]:
    """`record_sign_in` as one statement, PostgreSQL's data-modifying CTEs: the account row
    updated (and locked) if unchanged; from its RETURNING, the session; from the session's, the
    refresh token and the audit record. No account row, no other row; the statement answers
    the new session's id, or nothing."""

    def param(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)

    now = bindparam("now", type_=AuthSession.created_at.type)
    signed_in = (
        update(User)
        .where(
            User.id == bindparam("user_id"),
            User.credentials_version == bindparam("credentials_version"),
            User.disabled_at.is_(None),
        )
        .values(
            failed_logins=0,
            locked_until=None,
            password_hash=func.coalesce(
                param("password_hash", User.password_hash), User.password_hash
            ),
            updated_at=now,
        )
        .returning(User.id)
        .cte("signed_in")
    )
    opened = (
        insert(AuthSession)
        .from_select(
            [
                AuthSession.id,
                AuthSession.user_id,
                AuthSession.transport,
                AuthSession.user_agent,
                AuthSession.ip,
                AuthSession.created_at,
                AuthSession.last_used_at,
                AuthSession.expires_at,
            ],
            select(
                param("session_id", AuthSession.id),
                signed_in.c.id,
                param("transport", AuthSession.transport),
                param("user_agent", AuthSession.user_agent),
                param("ip", AuthSession.ip),
                now,
                now,
                param("expires_at", AuthSession.expires_at),
            ),
        )
        .returning(AuthSession.id, AuthSession.user_id)
        .cte("opened")
    )
    first_token = (
        insert(RefreshToken)
        .from_select(
            [
                RefreshToken.id,
                RefreshToken.session_id,
                RefreshToken.token_hash,
                RefreshToken.created_at,
            ],
            select(
                param("refresh_id", RefreshToken.id),
                opened.c.id,
                param("token_hash", RefreshToken.token_hash),
                now,
            ),
        )
        .cte("first_token")
    )
    audited = (
        insert(AuditEvent)
        .from_select(
            [
                AuditEvent.id,
                AuditEvent.occurred_at,
                AuditEvent.event,
                AuditEvent.user_id,
                AuditEvent.ip,
                AuditEvent.user_agent,
                AuditEvent.request_id,
                AuditEvent.details,
            ],
            select(
                param("audit_id", AuditEvent.id),
                now,
                param("event", AuditEvent.event),
                opened.c.user_id,
                param("ip", AuditEvent.ip),
                param("user_agent", AuditEvent.user_agent),
                param("request_id", AuditEvent.request_id),
                param("details", AuditEvent.details),
            ),
        )
        .cte("audited")
    )
    return select(opened.c.id).add_cte(first_token, audited)


_SIGN_IN = HotWrite[tuple[uuid.UUID]](_sign_in_statement())


async def set_password(
    session: AsyncSession,
    user_id: uuid.UUID,
    credentials_version: int,
    password_hash: str,
    *,
    address_confirmed: bool = False,
) -> bool:
    """Store a new password unless the password changed since it was read; False then.

    Outstanding reset and verification tokens die with the old credentials version, and a
    lockout ends. `address_confirmed` (a reset link, which only the mailbox's owner received)
    also marks an unverified address verified. The password is hashed before this, holding no
    connection (see `login`); the condition makes the later of two concurrent changes fail
    instead of silently winning."""
    values: dict[str, object] = {
        "password_hash": password_hash,
        "credentials_version": User.credentials_version + 1,
        "failed_logins": 0,
        "locked_until": None,
    }
    if address_confirmed:
        now = bindparam(None, utcnow(), type_=User.email_verified_at.type)
        values["email_verified_at"] = func.coalesce(User.email_verified_at, now)
    return await _update_if_unchanged(session, user_id, credentials_version, values)


async def _update_if_unchanged(
    session: AsyncSession,
    user_id: uuid.UUID,
    credentials_version: int,
    values: dict[str, object],
    *conditions: ColumnElement[bool],
) -> bool:
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.credentials_version == credentials_version, *conditions)
        .values(values)
        .returning(User.id)
        # The user was read elsewhere, not into this session: nothing to synchronise.
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def lock_if_unlocked(session: AsyncSession, user_id: uuid.UUID, until: datetime) -> bool:
    """Lock the account unless a lock is already running; True when this call locked it."""
    now = utcnow()
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .where((User.locked_until.is_(None)) | (User.locked_until <= now))
        .values(locked_until=until)
        .returning(User.id)
    )
    return result.first() is not None


async def lock_token_owner(session: AsyncSession, token_hash: str) -> None:
    """Before a refresh token is used, take the key-share lock on its account, as every write
    that points at an account does first (`accounts.repository.lock_referenced`).

    An account deletion locks the user, then its cascade deletes the sessions and their tokens.
    A rotation that locked its token first, and its session after, could meet the deletion in
    between, each waiting for the other. This way a deletion in flight is waited for (and the
    token is gone after it), and one that starts later waits for the rotation. No row for an
    unknown token; a plain read on SQLite, whose writer lock orders the two."""
    await session.execute(
        select(User.id)
        .join(AuthSession, AuthSession.user_id == User.id)
        .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
        .where(RefreshToken.token_hash == token_hash)
        .with_for_update(of=User, key_share=True)
    )


async def consume_refresh_token(session: AsyncSession, token_hash: str) -> uuid.UUID | None:
    """Mark the token used if it was unused; returns its session id only for the one winner."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .returning(RefreshToken.session_id)
    )
    row = result.first()
    return row[0] if row else None


async def session_of_refresh_token(session: AsyncSession, token_hash: str) -> uuid.UUID | None:
    """The session of a refresh token, used or not."""
    result = await session.execute(
        select(RefreshToken.session_id).where(RefreshToken.token_hash == token_hash)
    )
    return result.scalar_one_or_none()


async def live_session(session: AsyncSession, session_id: uuid.UUID) -> AuthSession | None:
    """The session if it is live, locked until the commit (`FOR NO KEY UPDATE`, the lock its
    update takes anyway): a logout, password change or disablement that revokes it meanwhile
    waits, and then revokes what the rotation issued, instead of the rotation handing out
    tokens for a session that has just ended."""
    now = utcnow()
    result = await session.execute(
        select(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .with_for_update(key_share=True)
    )
    return result.scalar_one_or_none()


async def is_session_live(engine: AsyncEngine, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """The per-request check behind the session cache: session live, user enabled. Asked on
    every authenticated request the cache cannot answer (always, while Redis is unreachable),
    so it is a `HotRead` like the profile."""
    found = await _SESSION_LIVE.first(engine, session_id=session_id, user_id=user_id, now=utcnow())
    return found is not None


_SESSION_LIVE = HotRead[tuple[uuid.UUID]](
    select(AuthSession.id)
    .join(User, User.id == AuthSession.user_id)
    .where(
        AuthSession.id == bindparam("session_id"),
        AuthSession.user_id == bindparam("user_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
        User.disabled_at.is_(None),
    )
)


async def sessions_of(session: AsyncSession, user_id: uuid.UUID) -> list[AuthSession]:
    """Every session of the user, live or not, oldest first."""
    result = await session.scalars(
        select(AuthSession).where(AuthSession.user_id == user_id).order_by(AuthSession.created_at)
    )
    return list(result)


async def session_ids_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Every session of the user, live or not."""
    result = await session.scalars(select(AuthSession.id).where(AuthSession.user_id == user_id))
    return list(result)


async def revoke_sessions(
    session: AsyncSession,
    user_id: uuid.UUID,
    reason: str,
    *,
    only: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Revoke the user's live sessions (or just `only`, or all but `keep`); returns their ids."""
    statement = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .returning(AuthSession.id)
    )
    if only is not None:
        statement = statement.where(AuthSession.id == only)
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    result = await session.execute(statement)
    return [row[0] for row in result.all()]


async def list_live_sessions(session: AsyncSession, user_id: uuid.UUID) -> list[AuthSession]:
    now = utcnow()
    result = await session.execute(
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .order_by(AuthSession.last_used_at.desc())
    )
    return list(result.scalars())


def _usable_action_token(
    token_hash: str, purpose: TokenPurpose, now: datetime
) -> list[ColumnElement[bool]]:
    return [
        ActionToken.token_hash == token_hash,
        ActionToken.purpose == purpose,
        ActionToken.used_at.is_(None),
        ActionToken.expires_at > now,
    ]


async def find_action_token(
    session: AsyncSession, token_hash: str, purpose: TokenPurpose
) -> tuple[uuid.UUID, int] | None:
    """The user and credentials version of a token that is still usable, without using it."""
    result = await session.execute(
        select(ActionToken.user_id, ActionToken.credentials_version).where(
            *_usable_action_token(token_hash, purpose, utcnow())
        )
    )
    row = result.first()
    return (row.user_id, row.credentials_version) if row else None


class UsedToken(NamedTuple):
    user_id: uuid.UUID
    credentials_version: int
    new_email: str | None


async def consume_action_token(
    session: AsyncSession, token_hash: str, purpose: TokenPurpose
) -> UsedToken | None:
    """Use a single-use token once: 20 parallel uses give exactly one winner."""
    now = utcnow()
    result = await session.execute(
        update(ActionToken)
        .where(*_usable_action_token(token_hash, purpose, now))
        .values(used_at=now)
        .returning(ActionToken.user_id, ActionToken.credentials_version, ActionToken.new_email)
    )
    row = result.first()
    return UsedToken(row.user_id, row.credentials_version, row.new_email) if row else None


async def profile(engine: AsyncEngine, user_id: uuid.UUID) -> UserProfile | None:
    """The public fields of a user (no password hash or JSON columns loaded): what GET
    /auth/me, the most frequent authenticated read, needs. A `HotRead`: the select is built
    and compiled once, and run on the driver's connection."""
    return await _PROFILE.first(engine, user_id=user_id)


_PROFILE = HotRead[UserProfile](
    select(
        User.id, User.email, User.name, User.role, User.email_verified_at, User.created_at
    ).where(User.id == bindparam("user_id"))
)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)
