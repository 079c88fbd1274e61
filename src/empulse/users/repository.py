"""Queries of the account's lifecycle: deletion, and the admin's user search."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.pagination import Order, PageRequest, Rows, fetch_page
from empulse.models import User


async def claim_for_deletion(
    session: AsyncSession, user_id: uuid.UUID, credentials_version: int
) -> bool:
    """Start deleting an account whose password was confirmed at `credentials_version`; False
    when it is already gone, or its password changed (or was reset) since it was confirmed.

    The row is locked `FOR UPDATE` until the commit: a second deletion waits and then finds
    nothing, and so does anything that would insert a row pointing at the user (those writes
    take a key-share lock on it first: `accounts.repository.lock_referenced`). On SQLite the
    first write takes the database's writer lock, with the same effect. The credentials die with
    it: a sign-in that hashed meanwhile fails its conditional write."""
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
    page: PageRequest,
) -> Rows[User]:
    """Users newest first; `query` matches part of the email or the name, any case."""
    statement = select(User)
    if query:
        needle = query.casefold()
        statement = statement.where(
            or_(
                User.email_key.contains(needle, autoescape=True),
                func.lower(User.name).contains(needle, autoescape=True),
            )
        )
    if role is not None:
        statement = statement.where(User.role == role)
    if disabled is not None:
        statement = statement.where(
            User.disabled_at.is_not(None) if disabled else User.disabled_at.is_(None)
        )
    return await fetch_page(session, statement, Order.newest_first(User.created_at, User.id), page)
