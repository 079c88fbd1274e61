"""The ledger's rows and the counters beside them."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    Update,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from empulse.catalog import repository as catalog
from empulse.core.db import HotWrite, among, unplanned
from empulse.core.pagination import AnyRow, Order, PageRequest, Rows, SortKey, fetch_page
from empulse.models import DEFAULT_PRIVACY, Album, Artist, Play, PlayTally, Track, User
from empulse.models.play import LONGEST_PLAY_MS

HISTORY = Order(
    "plays:newest", (SortKey(Play.started_at, descending=True), SortKey(Play.id, descending=True))
)


# A play's statements, built once (a play runs each of them; building a statement costs about
# what running it does). They are Core statements, run on the session's connection: through
# the ORM session, each also paid for its ORM execution layer (16 % of a play's CPU).
_TOUCH_LISTENER = (
    update(User).where(User.id == bindparam("user_id")).values(updated_at=User.updated_at)
)


async def lock_listener(connection: AsyncConnection, user_id: uuid.UUID) -> bool:
    """Serialise one listener's plays (the overlap and idempotency checks read what the other
    wrote), for the application's path, which runs on SQLite (PostgreSQL decides plays in
    `record_plays`, which locks the row itself): SQLite has no row locks, so a write that
    changes nothing takes its writer lock first, before the transaction reads anything, and a
    second report waits and then reads what the first wrote. (On a database with row locks the
    same write locks the listener's row.) False when the account is gone."""
    touched = await connection.execute(_TOUCH_LISTENER, {"user_id": user_id})
    return bool(touched.rowcount)


# What a play's answer shows (plays/service.play_out).
_SHOWN = (Play.play_id, Play.track_id, Play.started_at, Play.ms_played, Play.qualified, Play.reason)


@functools.cache
def _durations() -> Select[uuid.UUID, float]:
    return (
        catalog.visible_tracks()
        .with_only_columns(Track.id, Track.duration_seconds)
        .where(Track.id.in_(bindparam("track_ids", expanding=True)))
    )


async def track_durations(
    connection: AsyncConnection, track_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, float]:
    """The duration in seconds of each of these tracks a listener can see (catalog/repository's
    rules)."""
    params = {"track_ids": list(track_ids)}
    return {row[0]: row[1] for row in await connection.execute(_durations(), params)}


_INSERT = sa_insert(Play)
_TALLY = sa_insert(PlayTally)


async def insert(connection: AsyncConnection, plays: Sequence[dict[str, Any]]) -> None:
    """New rows of the ledger (a Core INSERT, the ORM's unit of work skipped: nothing reads
    them back in this transaction), and a tally of each qualified one for the fold, which
    brings it into the counters a moment later (plays/tasks.py)."""
    if plays:
        await connection.execute(_INSERT, plays)
    tallies = [{"play_id": p["id"], "track_id": p["track_id"]} for p in plays if p["qualified"]]
    if tallies:
        await connection.execute(_TALLY, tallies)


async def heard(
    connection: AsyncConnection,
    user_id: uuid.UUID,
    play_ids: Collection[uuid.UUID],
    intervals: Sequence[tuple[datetime, datetime]],
) -> list[AnyRow]:
    """The listener's recorded plays that were reported under one of these playIds or that
    overlap one of these intervals, in one read: what a play's answer shows, and its end. The
    database returns only those (a playId one lookup in the listener's unique index; each
    interval a range of the index on (user, end, start): the plays ending after it starts and
    less than the longest play after it ends), never the listener's whole recent history."""
    params: dict[str, Any] = {"user_id": user_id, "play_ids": list(play_ids)}
    for n, (start, end) in enumerate(intervals):
        params[f"start{n}"], params[f"end{n}"] = start, end
        params[f"bound{n}"] = end + _LONGEST_PLAY
    return list(await connection.execute(_heard(len(intervals)), params))


_LONGEST_PLAY = timedelta(milliseconds=LONGEST_PLAY_MS)


@functools.lru_cache(maxsize=64)
def _heard(count: int) -> Select[*tuple[Any, ...]]:
    """The read of `heard` for `count` intervals (`start<n>`, `end<n>`, and `bound<n>`, the
    latest end a play overlapping it can have), built once per count."""
    moment = Play.started_at.type
    overlaps = [
        and_(
            Play.ended_at > bindparam(f"start{n}", type_=moment),
            Play.ended_at < bindparam(f"bound{n}", type_=moment),
            Play.started_at < bindparam(f"end{n}", type_=moment),
        )
        for n in range(count)
    ]
    return select(*_SHOWN, Play.ended_at).where(
        Play.user_id == bindparam("user_id"),
        or_(Play.play_id.in_(bindparam("play_ids", expanding=True)), *overlaps),
    )


class Decided(Protocol):
    """A row of `record_plays` (plays/ddl.py): one play's outcome."""

    n: int
    outcome: str
    track_id: uuid.UUID
    started_at: datetime
    ms_played: int
    qualified: bool | None
    reason: str | None
    duration_ms: int | None


@functools.cache
def _record_plays() -> HotWrite[Decided]:
    """`record_plays` with the durations of the visible tracks among `track_ids` (the
    catalog's rules, read in the same statement) as `{id: milliseconds}`."""
    uuids, moments = ARRAY(Uuid()), ARRAY(DateTime(timezone=True))
    milliseconds = cast(func.round(Track.duration_seconds * 1000), Integer)
    durations = (
        catalog.visible_tracks()
        .with_only_columns(func.jsonb_object_agg(Track.id, milliseconds))
        .where(Track.id == any_(cast(unplanned("track_ids", uuids), uuids)))
        .scalar_subquery()
    )
    decided = func.record_plays(
        bindparam("listeners", type_=uuids),
        bindparam("now", type_=DateTime(timezone=True)),
        bindparam("play_ids", type_=uuids),
        bindparam("track_ids", type_=uuids),
        bindparam("starts", type_=moments),
        bindparam("played", type_=ARRAY(Integer())),
        bindparam("acceptable", type_=ARRAY(Boolean())),
        bindparam("source_types", type_=ARRAY(String())),
        bindparam("source_ids", type_=uuids),
        durations,
        bindparam("qualifying_ms", type_=Integer()),
        bindparam("tolerance_ms", type_=Integer()),
    ).table_valued(
        column("n", Integer()),
        column("outcome", String()),
        column("track_id", Uuid()),
        column("started_at", DateTime(timezone=True)),
        column("ms_played", Integer()),
        column("qualified", Boolean()),
        column("reason", String()),
        column("duration_ms", Integer()),
    )
    return HotWrite(select(*decided.c))


def records_in_one_statement(engine: AsyncEngine) -> bool:
    """Whether `record_plays` applies: PostgreSQL on asyncpg."""
    return HotWrite.applies(engine)


async def record_plays(engine: AsyncEngine, **arguments: Any) -> list[Decided]:
    """The plays decided and recorded by `record_plays` (plays/ddl.py), in one statement that
    commits on its own; `arguments` as the function names them."""
    return await _record_plays().all(engine, **arguments)


async def uncounted(session: AsyncSession, most: int) -> list[uuid.UUID]:
    """The tracks of up to `most` qualified plays not yet in the counters (one entry per play),
    their tallies deleted in this transaction: the fold that commits them counts them, and a
    fold that fails leaves them for the next. On PostgreSQL the tallies are taken with `SKIP
    LOCKED`: another runner folding at the same time takes others. SQLite has no row locks: a
    write that changes nothing takes its writer lock first, so a second fold waits for the
    first and then reads what it left."""
    if session.get_bind().dialect.name == "sqlite":
        # Nothing to count (an idle service, every two seconds): no writer lock taken.
        if (await session.execute(select(PlayTally.play_id).limit(1))).first() is None:
            return []
        await session.execute(
            update(PlayTally)
            .where(false())
            .values(track_id=PlayTally.track_id)
            .execution_options(synchronize_session=False)
        )
    taken = (
        select(PlayTally.play_id)
        .order_by(PlayTally.play_id)
        .limit(most)
        .with_for_update(skip_locked=True)
    )
    deleted = await session.execute(
        delete(PlayTally)
        .where(PlayTally.play_id.in_(taken))
        .returning(PlayTally.track_id)
        .execution_options(synchronize_session=False)
    )
    return list(deleted.scalars())


async def count(session: AsyncSession, tracks: Sequence[uuid.UUID]) -> None:
    """Plays of these tracks (one entry per play) added to their tracks', albums' and artists'
    counters, in the transaction that took their tallies (exact; never a COUNT over the
    ledger): one UPDATE per table and increment, each row once. Rows are locked tracks, then
    albums, then artists, each table in id order (a `FOR NO KEY UPDATE` read first when there
    are several), so concurrent folds never deadlock. The catalog's version does not move for
    counters (catalog/ddl.py)."""
    await catalog.counters_only(session)
    statements = _counting(session.get_bind().dialect.name)
    per_track = Counter(tracks)
    owners = await session.execute(statements.owners, {"ids": list(per_track)})
    per_album: Counter[uuid.UUID] = Counter()
    per_artist: Counter[uuid.UUID] = Counter()
    for track_id, album_id, artist_id in owners:
        per_album[album_id] += per_track[track_id]
        per_artist[artist_id] += per_track[track_id]
    for (lock, add), increments in zip(
        statements.tables, (per_track, per_album, per_artist), strict=True
    ):
        by_increment: dict[int, list[uuid.UUID]] = {}
        for row_id, increment in sorted(increments.items()):
            by_increment.setdefault(increment, []).append(row_id)
        if len(increments) > 1:
            await session.execute(lock, {"ids": list(increments)})
        for increment, row_ids in sorted(by_increment.items()):
            await session.execute(add, {"ids": row_ids, "increment": increment})


@dataclass(frozen=True)
class _Counting:
    owners: Select[uuid.UUID, uuid.UUID, uuid.UUID]
    # For tracks, albums and artists: the lock of the rows in id order, and the increment.
    tables: tuple[tuple[Select[uuid.UUID], Update], ...]


@functools.cache
def _counting(dialect: str) -> _Counting:
    """The fold's statements, built once: the same text for any number of rows on PostgreSQL,
    where an IN list of a fold's thousands of ids cost more to render than to run."""

    def lock(model: type[Track | Album | Artist]) -> Select[uuid.UUID]:
        return (
            select(model.id)
            .where(among(model.id, dialect))
            .order_by(model.id)
            .with_for_update(key_share=True)
        )

    def add(model: type[Track | Album | Artist]) -> Update:
        return (
            update(model)
            .where(among(model.id, dialect))
            .values(play_count=model.play_count + bindparam("increment", type_=Integer()))
            .execution_options(synchronize_session=False)
        )

    return _Counting(
        owners=select(Track.id, Track.album_id, Track.artist_id).where(among(Track.id, dialect)),
        tables=tuple((lock(model), add(model)) for model in (Track, Album, Artist)),
    )


async def refresh_popularity(
    session: AsyncSession, model: type[Track | Album], after: uuid.UUID | None, size: int
) -> tuple[int, uuid.UUID | None]:
    """Copy the play count into `popularity` in the next `size` rows by id after `after`, for
    the rows where they differ; returns how many changed and the last id looked at (None at
    the table's end). The rows are taken `SKIP LOCKED`: a row a fold holds is left for the
    next pass, so this never waits for a fold, and a fold waits at most for this transaction.
    The catalog's version does not move (catalog/ddl.py)."""
    await catalog.counters_only(session)
    dialect = session.get_bind().dialect.name
    chunk = select(model.id).order_by(model.id).offset(size - 1).limit(1)
    if after is not None:
        chunk = chunk.where(model.id > after)
    last = await session.scalar(chunk)
    stale = select(model.id).where(model.popularity != model.play_count)
    if after is not None:
        stale = stale.where(model.id > after)
    if last is not None:
        stale = stale.where(model.id <= last)
    ids = list(
        await session.scalars(
            stale.order_by(model.id).with_for_update(key_share=True, skip_locked=True)
        )
    )
    if ids:
        await session.execute(
            update(model)
            .where(among(model.id, dialect))
            .values(popularity=model.play_count)
            .execution_options(synchronize_session=False),
            {"ids": ids},
        )
    return len(ids), last


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
    the database (never the ledger's rows in Python). Every qualified play is in the plays (as
    in the public counts, which royalties are paid on); a listener who turned `analytics` off
    is not among the listeners."""
    period = _period(session, interval).label("period")
    unset = true() if DEFAULT_PRIVACY["analytics"] else false()
    analysed = func.coalesce(User.privacy["analytics"].as_boolean(), unset)
    statement = (
        select(
            period,
            Play.track_id,
            Track.title,
            func.count().label("plays"),
            func.count(case((analysed, Play.user_id)).distinct()).label("listeners"),
        )
        .join(Track, Track.id == Play.track_id)
        .outerjoin(User, User.id == Play.user_id)
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
