"""Queries on the users table."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.pagination import paginate
from empulse.models import User


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(_BY_EMAIL, {"email": email})
    return result.scalar_one_or_none()


# Built once (every sign-in runs it): building a select costs more CPU than executing its cached
# compiled form.
_BY_EMAIL = select(User).where(User.email == bindparam("email"))


async def claim_for_deletion(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Start deleting an account: its credentials die (a sign-in that hashed meanwhile fails its
    conditional write) and its row is locked until the commit, so a second deletion waits and
    then finds nothing. False when the account is already gone."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(credentials_version=User.credentials_version + 1)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
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
