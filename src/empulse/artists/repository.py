"""Queries for artist applications and profiles."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.pagination import Order, PageRequest, Rows, fetch_page
from empulse.models import Artist, ArtistApplication, User, UserRole


async def latest_application(session: AsyncSession, user_id: uuid.UUID) -> ArtistApplication | None:
    result = await session.scalars(
        select(ArtistApplication)
        .where(ArtistApplication.user_id == user_id)
        .order_by(ArtistApplication.created_at.desc())
        .limit(1)
    )
    return result.first()


async def applications_of(session: AsyncSession, user_id: uuid.UUID) -> list[ArtistApplication]:
    """Every application the user made, oldest first."""
    result = await session.scalars(
        select(ArtistApplication)
        .where(ArtistApplication.user_id == user_id)
        .order_by(ArtistApplication.created_at)
    )
    return list(result)


async def has_open_application(session: AsyncSession, user_id: uuid.UUID) -> bool:
    result = await session.scalars(
        select(ArtistApplication.id).where(
            ArtistApplication.user_id == user_id, ArtistApplication.status == "pending"
        )
    )
    return result.first() is not None


async def artist_of_user(session: AsyncSession, user_id: uuid.UUID) -> Artist | None:
    result = await session.scalars(select(Artist).where(Artist.user_id == user_id))
    return result.first()


async def active_artist_of_user(session: AsyncSession, user_id: uuid.UUID) -> Artist | None:
    """The user's artist profile while they hold an artist (or admin) role and the account is
    enabled: an admin who sets the role back to USER, or disables the account, suspends the
    profile without deleting its catalog."""
    result = await session.scalars(
        select(Artist)
        .join(User, User.id == Artist.user_id)
        .where(
            Artist.user_id == user_id,
            User.role != UserRole.USER.value,
            User.disabled_at.is_(None),
        )
    )
    return result.first()


async def list_applications(
    session: AsyncSession, *, status: str | None, page: PageRequest
) -> Rows[ArtistApplication]:
    statement = select(ArtistApplication)
    if status is not None:
        statement = statement.where(ArtistApplication.status == status)
    newest = Order.newest_first(ArtistApplication.created_at, ArtistApplication.id)
    return await fetch_page(session, statement, newest, page)


async def applications_not_under_key(
    session: AsyncSession, key_id: str, *, after: uuid.UUID | None, limit: int
) -> list[ArtistApplication]:
    """The next batch, in id order after `after`, of applications whose W-9 is encrypted under
    another key than `key_id`. Rows another transaction holds are skipped (PostgreSQL)."""
    statement = select(ArtistApplication).where(ArtistApplication.w9_key_id != key_id)
    if after is not None:
        statement = statement.where(ArtistApplication.id > after)
    result = await session.scalars(
        statement.order_by(ArtistApplication.id).limit(limit).with_for_update(skip_locked=True)
    )
    return list(result)


async def w9_count_by_key(session: AsyncSession) -> dict[str, int]:
    result = await session.execute(
        select(ArtistApplication.w9_key_id, func.count()).group_by(ArtistApplication.w9_key_id)
    )
    return {key: int(count) for key, count in result}
