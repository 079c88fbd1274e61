"""Likes: one table per kind, keyed by (listener, item), so liking twice is one row and the
item's deletion takes its likes along."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from empulse.core.pagination import AnyRow, Order, PageRequest, Rows, SortKey, fetch_row_page
from empulse.models import LikedAlbum, LikedArtist, LikedPlaylist, LikedTrack


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of like: its table, its item column, and its list's order."""

    model: type[LikedTrack] | type[LikedAlbum] | type[LikedArtist] | type[LikedPlaylist]
    item: InstrumentedAttribute[uuid.UUID]

    @property
    def order(self) -> Order:
        name = f"{self.model.__tablename__}:newest"
        created = self.model.created_at
        return Order(name, (SortKey(created, descending=True), SortKey(self.item, descending=True)))


KINDS = {
    "tracks": Kind(LikedTrack, LikedTrack.track_id),
    "albums": Kind(LikedAlbum, LikedAlbum.album_id),
    "artists": Kind(LikedArtist, LikedArtist.artist_id),
    "playlists": Kind(LikedPlaylist, LikedPlaylist.playlist_id),
}


async def like(session: AsyncSession, kind: Kind, user_id: uuid.UUID, item_id: uuid.UUID) -> bool:
    """Add the like unless it is there (also when a concurrent request adds it first); whether
    this call added it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values: dict[str, Any] = {"user_id": user_id, kind.item.key: item_id}
    added = await session.execute(insert(kind.model).values(**values).on_conflict_do_nothing())
    return bool(getattr(added, "rowcount", 0))


async def unlike(session: AsyncSession, kind: Kind, user_id: uuid.UUID, item_id: uuid.UUID) -> bool:
    """Whether this call removed a like."""
    model = kind.model
    removed = await session.execute(
        delete(model).where(model.user_id == user_id, kind.item == item_id)
    )
    return bool(getattr(removed, "rowcount", 0))


async def liked(
    session: AsyncSession, kind: Kind, user_id: uuid.UUID, page: PageRequest
) -> Rows[AnyRow]:
    """A page of the listener's likes of this kind, newest first: (item id, created_at)."""
    statement = select(kind.item, kind.model.created_at).where(kind.model.user_id == user_id)
    return await fetch_row_page(session, statement, kind.order, page)


async def all_liked(session: AsyncSession, kind: Kind, user_id: uuid.UUID) -> list[AnyRow]:
    """Every like of this kind, newest first (the data export)."""
    statement = (
        select(kind.item, kind.model.created_at)
        .where(kind.model.user_id == user_id)
        .order_by(*kind.order.clauses())
    )
    return list((await session.execute(statement)).all())


async def liked_among(
    session: AsyncSession, kind: Kind, user_id: uuid.UUID, item_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these items the listener likes (every signed-in catalog answer asks this)."""
    params = {"user_id": user_id, "item_ids": item_ids}
    return set(await session.scalars(_liked_among(kind), params))


@functools.cache  # built once per kind: building costs about what running it does
def _liked_among(kind: Kind) -> Select[uuid.UUID]:
    return select(kind.item).where(
        kind.model.user_id == bindparam("user_id"),
        kind.item.in_(bindparam("item_ids", expanding=True)),
    )
