"""Queries on the users table."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from empulse.core.db import HotRead
from empulse.core.pagination import paginate
from empulse.models import User
from empulse.models.user import UserCredentials


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(_BY_EMAIL, {"email": email})
    return result.scalar_one_or_none()


_BY_EMAIL = select(User).where(User.email == bindparam("email"))


async def credentials_by_email(engine: AsyncEngine, email: str) -> UserCredentials | None:
    """The account a sign-in checks, read on its own (no transaction: the sign-in's writes
    re-check what they depend on). A `HotRead`: every sign-in runs it."""
    row: UserCredentials | None = await _CREDENTIALS.first(engine, email=email)
    return row


_CREDENTIALS = HotRead(
    select(
        User.id,
        User.email,
        User.name,
        User.role,
        User.password_hash,
        User.credentials_version,
        User.email_verified_at,
        User.disabled_at,
        User.locked_until,
        User.created_at,
    ).where(User.email == bindparam("email"))
)


async def claim_for_deletion(
    session: AsyncSession, user_id: uuid.UUID, credentials_version: int
) -> bool:
    """Start deleting an account whose password was confirmed at `credentials_version`; False
    when it is already gone, or its password changed (or was reset) since it was confirmed.

    The row is locked `FOR UPDATE` until the commit: a second deletion waits and then finds
    nothing, and so does anything that would insert a row pointing at the user (those writes
    take a key-share lock on it first: `lock_referenced`). On SQLite the first write takes the
    database's writer lock, with the same effect. The credentials die with it: a sign-in that
    hashed meanwhile fails its conditional write."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.credentials_version == credentials_version)
        .values(credentials_version=User.credentials_version + 1)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    # The update decides, not the select: SQLite takes no row lock for it.
    return result.first() is not None


async def lock_referenced(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Before a write that points at the user, take the key-share lock its foreign-key checks
    would, first; False when the account is gone.

    An account deletion holds the row `FOR UPDATE` (`claim_for_deletion`), so this waits for it
    and then finds no row, instead of the write failing on a foreign key. Left to the write, the
    locks come in the order its statements and triggers take them (the artist's row, or the
    reviewed row, before the user's), which can deadlock with the deletion's cascade. On
    SQLite, a plain read: its writer lock orders the two."""
    locked = await session.execute(
        select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    )
    return locked.first() is not None


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The account's row; the database deletes what hangs off it (ON DELETE CASCADE)."""
    await session.execute(
        delete(User).where(User.id == user_id).execution_options(synchronize_session=False)
    )


def add(session: AsyncSession, user: User) -> User:
    session.add(user)
    return user


async def search(
    session: AsyncSession,
    *,
    query: str | None,
    role: str | None,
    disabled: bool | None,
    cursor: str | None,
    limit: int,
) -> list[User]:
    """Users newest first; `query` matches part of the email or the name, any case."""
    statement = select(User)
    if query:
        needle = query.casefold()
        statement = statement.where(
            or_(
                User.email.contains(needle, autoescape=True),
                func.lower(User.name).contains(needle, autoescape=True),
            )
        )
    if role is not None:
        statement = statement.where(User.role == role)
    if disabled is not None:
        statement = statement.where(
            User.disabled_at.is_not(None) if disabled else User.disabled_at.is_(None)
        )
    statement = paginate(statement, User.created_at, User.id, cursor=cursor, limit=limit)
    return list(await session.scalars(statement))
