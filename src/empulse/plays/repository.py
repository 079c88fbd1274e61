"""The ledger's rows and the counters beside them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.pagination import AnyRow, Order, PageRequest, Rows, SortKey, fetch_page
from empulse.models import Album, Artist, Play, Track, User

HISTORY = Order(
    "plays:newest", (SortKey(Play.started_at, descending=True), SortKey(Play.id, descending=True))
)


async def lock_listener(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Serialise one listener's plays (the overlap and idempotency checks read what the other
    wrote): `FOR NO KEY UPDATE`, which other writes' foreign-key checks do not wait for. SQLite
    has no row locks: a write that changes nothing takes its writer lock first, before the
    transaction reads anything, so a second report waits and then reads what the first wrote.
    False when the account is gone."""
    if session.get_bind().dialect.name == "sqlite":
        touched = await session.execute(
            update(User).where(User.id == user_id).values(updated_at=User.updated_at)
        )
        return bool(getattr(touched, "rowcount", 0))
    locked = await session.execute(
        select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    )
    return locked.first() is not None


async def by_play_id(session: AsyncSession, user_id: uuid.UUID, play_id: uuid.UUID) -> Play | None:
    return (
        await session.scalars(select(Play).where(Play.user_id == user_id, Play.play_id == play_id))
    ).first()


async def overlaps(
    session: AsyncSession, user_id: uuid.UUID, started_at: datetime, ended_at: datetime
) -> bool:
    """Whether another play of the listener was going on at some moment of this one."""
    statement = select(Play.id).where(
        Play.user_id == user_id, Play.started_at < ended_at, Play.ended_at > started_at
    )
    return (await session.execute(statement.limit(1))).first() is not None


async def count(session: AsyncSession, track: Track) -> None:
    """One qualified play more on the track, its album and its artist, in the play's
    transaction (exact; never a COUNT over the ledger)."""
    await session.execute(
        update(Track).where(Track.id == track.id).values(play_count=Track.play_count + 1)
    )
    await session.execute(
        update(Album).where(Album.id == track.album_id).values(play_count=Album.play_count + 1)
    )
    await session.execute(
        update(Artist).where(Artist.id == track.artist_id).values(play_count=Artist.play_count + 1)
    )


async def history(session: AsyncSession, user_id: uuid.UUID, page: PageRequest) -> Rows[Play]:
    return await fetch_page(session, select(Play).where(Play.user_id == user_id), HISTORY, page)


async def recent_tracks(
    session: AsyncSession, user_id: uuid.UUID, limit: int
) -> list[tuple[uuid.UUID, datetime]]:
    """The listener's distinct tracks, by their latest play, newest first."""
    latest = func.max(Play.started_at).label("played_at")
    statement = (
        select(Play.track_id, latest)
        .where(Play.user_id == user_id)
        .group_by(Play.track_id)
        .order_by(latest.desc(), Play.track_id.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in await session.execute(statement)]


async def forget(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The listener's history goes; the rows (and the counts) stay, without the listener."""
    await session.execute(update(Play).where(Play.user_id == user_id).values(user_id=None))


async def all_of(session: AsyncSession, user_id: uuid.UUID) -> list[Play]:
    statement = select(Play).where(Play.user_id == user_id).order_by(*HISTORY.clauses())
    return list(await session.scalars(statement))


def _period(session: AsyncSession, interval: str) -> ColumnElement[Any]:
    """The first day of the play's period, as text `YYYY-MM-DD`, in UTC."""
    if session.get_bind().dialect.name == "postgresql":
        day = func.date_trunc(interval, func.timezone("UTC", Play.started_at))
        return func.to_char(cast(day, Date), "YYYY-MM-DD")
    if interval == "day":
        return func.strftime("%Y-%m-%d", Play.started_at)
    if interval == "month":
        return func.strftime("%Y-%m-01", Play.started_at)
    # The Monday on or before: SQLite's 'weekday 0' moves to the next Sunday (or stays).
    return func.date(Play.started_at, "weekday 0", "-6 days")


async def stats(
    session: AsyncSession,
    artist_id: uuid.UUID,
    start: datetime,
    end: datetime,
    interval: str,
) -> list[AnyRow]:
    """Per period and track of the artist: qualified plays and distinct listeners, grouped by
    the database (never the ledger's rows in Python)."""
    period = _period(session, interval).label("period")
    statement = (
        select(
            period,
            Play.track_id,
            Track.title,
            func.count().label("plays"),
            func.count(Play.user_id.distinct()).label("listeners"),
        )
        .join(Track, Track.id == Play.track_id)
        .where(
            Track.artist_id == artist_id,
            Play.qualified.is_(True),
            Play.started_at >= start,
            Play.started_at < end,
        )
        .group_by(period, Play.track_id, Track.title)
        .order_by(period, Track.title, Play.track_id)
    )
    return list((await session.execute(statement)).all())
