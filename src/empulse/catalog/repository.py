"""What listeners may see, and the queries that read it.

An album is visible when it is published and its artist's account is enabled (a deleted
account's rows are gone with it); a track, when it is published and its album visible. Every
catalog read goes through `visible_albums` or `visible_tracks`, so a take-down or a disablement
hides a release from every list, count and URL at once.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import ddl
from empulse.core.db import HotRead, among
from empulse.core.pagination import (
    AnyRow,
    Order,
    PageRequest,
    Rows,
    SortKey,
    fetch_page,
    fetch_row_page,
)
from empulse.models import (
    Album,
    Artist,
    CatalogVersion,
    MediaObject,
    MediaPipeline,
    Track,
    TrackMood,
    User,
)

# What every visibility rule compares a status with, written into the statement rather than
# bound as a parameter: PostgreSQL then knows it when it makes a prepared statement's generic
# plan (a bound value is estimated as any status, half the rows), and keeps that plan rather
# than planning the statement again on every execution.
PUBLISHED: ColumnElement[str] = literal_column("'published'", String())

TRACK_ORDERS = {
    "newest": Order(
        "tracks:newest",
        (SortKey(Track.published_at, descending=True), SortKey(Track.id, descending=True)),
    ),
    "title": Order("tracks:title", (SortKey(Track.title), SortKey(Track.id))),
    # By qualified plays as the popularity pass last copied them (at most a minute behind the
    # counts), newest first among equals.
    "popular": Order(
        "tracks:popular",
        (
            SortKey(Track.popularity, descending=True),
            SortKey(Track.published_at, descending=True),
            SortKey(Track.id, descending=True),
        ),
    ),
}


ARTIST_ORDERS = {
    "name": Order("artists:name", (SortKey(Artist.name), SortKey(Artist.id))),
    "newest": Order(
        "artists:newest",
        (SortKey(Artist.created_at, descending=True), SortKey(Artist.id, descending=True)),
    ),
}

_VERSION = select(CatalogVersion.version).where(CatalogVersion.id == 1)


async def catalog_version(session: AsyncSession) -> int:
    """What cached public pages are valid for (catalog/ddl.py); 0 before the first change."""
    return await session.scalar(_VERSION) or 0


async def counters_only(session: AsyncSession) -> None:
    """Declare that the rest of this transaction writes play counters only, which do not move
    the catalog's version (catalog/ddl.py; SQLite's triggers tell counters apart themselves)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(ddl.POSTGRES_COUNTERS_ONLY))


@functools.cache  # a statement is immutable: built once, refined per request
def visible_artists() -> Select[Artist]:
    """Artists whose account is enabled and who have a published release."""
    has_release = (
        select(Album.id).where(Album.artist_id == Artist.id, Album.status == PUBLISHED).exists()
    )
    return (
        select(Artist)
        .join(User, User.id == Artist.user_id)
        .where(User.disabled_at.is_(None), has_release)
    )


async def list_artists(
    session: AsyncSession, *, genre: str | None, sort: str, page: PageRequest
) -> Rows[Artist]:
    statement = visible_artists()
    if genre is not None:
        in_genre = (
            select(Album.id)
            .where(Album.artist_id == Artist.id, Album.status == PUBLISHED, Album.genre == genre)
            .exists()
        )
        statement = statement.where(in_genre)
    return await fetch_page(session, statement, ARTIST_ORDERS[sort], page)


async def visible_artist(session: AsyncSession, artist_id: uuid.UUID) -> Artist | None:
    return (await session.scalars(visible_artists().where(Artist.id == artist_id))).first()


# What an artist shows of its own row.
ARTIST_COLUMNS = (Artist.id, Artist.name, Artist.bio, Artist.links, Artist.images)


@dataclass(frozen=True, slots=True)
class _ArtistReads:
    artists: HotRead[AnyRow]
    genres: HotRead[AnyRow]
    tracks: HotRead[AnyRow]


@functools.cache
def _artist_reads(dialect: str) -> _ArtistReads:
    return _ArtistReads(
        artists=HotRead(
            visible_artists().with_only_columns(*ARTIST_COLUMNS).where(among(Artist.id, dialect))
        ),
        genres=HotRead(
            select(Album.artist_id, Album.genre, func.count().label("albums"))
            .where(among(Album.artist_id, dialect), Album.status == PUBLISHED)
            .group_by(Album.artist_id, Album.genre)
        ),
        tracks=HotRead(
            visible_tracks()
            .with_only_columns(Track.artist_id, func.count().label("tracks"))
            .where(among(Track.artist_id, dialect))
            .group_by(Track.artist_id)
        ),
    )


async def visible_artists_by_id(
    session: AsyncSession, artist_ids: Collection[uuid.UUID]
) -> tuple[Sequence[AnyRow], ArtistContext]:
    """The visible ones of these artists (`ARTIST_COLUMNS`) with their context, in three
    statements built once and run on the session's connection as `HotRead`s."""
    connection = await session.connection()
    artists = await _artist_reads(connection.dialect.name).artists.rows(
        connection, ids=list(artist_ids)
    )
    return artists, await artist_context_of(session, artists)


@dataclass(frozen=True, slots=True)
class ArtistContext:
    # Per artist: genres of its releases with their counts, its visible tracks.
    genres: dict[uuid.UUID, list[tuple[str, int]]]
    tracks: dict[uuid.UUID, int]


async def artist_context_of(
    session: AsyncSession, artists: Iterable[Artist | AnyRow]
) -> ArtistContext:
    """The genres and visible tracks of these artists (ORM objects or rows with an `id`), in
    two statements built once (`_artist_reads`)."""
    artist_ids = list({artist.id for artist in artists})
    if not artist_ids:
        return ArtistContext({}, {})
    connection = await session.connection()
    reads = _artist_reads(connection.dialect.name)
    genres: dict[uuid.UUID, list[tuple[str, int]]] = {}
    for artist_id, genre, count in await reads.genres.rows(connection, ids=artist_ids):
        genres.setdefault(artist_id, []).append((genre, int(count)))
    tracks = await reads.tracks.rows(connection, ids=artist_ids)
    return ArtistContext(genres, {artist_id: int(n) for artist_id, n in tracks})


ALBUM_ORDERS = {
    "newest": Order(
        "albums:newest",
        (SortKey(Album.published_at, descending=True), SortKey(Album.id, descending=True)),
    ),
    "title": Order("albums:title", (SortKey(Album.title), SortKey(Album.id))),
}


@functools.cache  # a statement is immutable: built once, refined per request
def visible_albums() -> Select[Album]:
    return (
        select(Album)
        .join(Artist, Artist.id == Album.artist_id)
        .join(User, User.id == Artist.user_id)
        .where(Album.status == PUBLISHED, User.disabled_at.is_(None))
    )


# What a release shows, with the visibility joins: its own columns and its artist's name.
ALBUM_COLUMNS = (
    Album.id,
    Album.artist_id,
    Album.title,
    Album.release_type,
    Album.genre,
    Album.subgenre,
    Album.images,
    Album.published_at,
    Artist.name.label("artist_name"),
)


@functools.cache  # a statement is immutable: built once, refined per request
def listed_albums() -> Select[*tuple[Any, ...]]:
    """`visible_albums`, as the columns a listener sees (`ALBUM_COLUMNS`)."""
    return visible_albums().with_only_columns(*ALBUM_COLUMNS)


async def list_albums(
    session: AsyncSession,
    *,
    sort: str,
    page: PageRequest,
    genre: str | None = None,
    release_type: str | None = None,
    artist_id: uuid.UUID | None = None,
    published_after: datetime | None = None,
) -> Rows[AnyRow]:
    statement = listed_albums()
    if genre is not None:
        statement = statement.where(Album.genre == genre)
    if release_type is not None:
        statement = statement.where(Album.release_type == release_type)
    if artist_id is not None:
        statement = statement.where(Album.artist_id == artist_id)
    if published_after is not None:
        statement = statement.where(Album.published_at > published_after)
    return await fetch_row_page(session, statement, ALBUM_ORDERS[sort], page)


async def listed_album(session: AsyncSession, album_id: uuid.UUID) -> AnyRow | None:
    return (await session.execute(listed_albums().where(Album.id == album_id))).first()


async def tracks_of_album(session: AsyncSession, album_id: uuid.UUID) -> list[AnyRow]:
    """The album's visible tracks, in order."""
    statement = listed_tracks().where(Track.album_id == album_id).order_by(Track.position)
    return list((await session.execute(statement)).all())


async def album_totals(
    session: AsyncSession, albums: Iterable[AnyRow]
) -> dict[uuid.UUID, tuple[int, float]]:
    """Per album: its visible tracks and their duration in seconds, in one query. `albums` are
    rows of `listed_albums` (published, their artist's account enabled), and an album's tracks
    are its artist's, so the tracks' own status is all that is left to check: joining the
    artists and their accounts again led PostgreSQL to hash every artist for a page of twenty
    albums (6 ms a page at a million tracks, growing with the catalog)."""
    album_ids = {album.id for album in albums}
    if not album_ids:
        return {}
    totals = await session.execute(
        select(Track.album_id, func.count(), func.sum(Track.duration_seconds))
        .where(Track.album_id.in_(album_ids), Track.status == PUBLISHED)
        .group_by(Track.album_id)
    )
    return {album_id: (int(count), float(seconds or 0)) for album_id, count, seconds in totals}


@functools.cache  # a statement is immutable: built once, refined per request
def visible_tracks() -> Select[Track]:
    return (
        select(Track)
        .join(Album, Album.id == Track.album_id)
        .join(Artist, Artist.id == Track.artist_id)
        .join(User, User.id == Artist.user_id)
        .where(
            Track.status == PUBLISHED,
            Album.status == PUBLISHED,
            User.disabled_at.is_(None),
        )
    )


@dataclass(frozen=True, slots=True)
class TrackFilter:
    genre: str | None = None
    subgenre: str | None = None
    mood: str | None = None
    artist_id: uuid.UUID | None = None
    album_id: uuid.UUID | None = None


# What a track shows, in one statement with the visibility joins: its own columns and its
# artist's name, its album's title and cover, the audio facts of its file. A page of tracks is
# one query, whatever its length, and no ORM entity is built for it.
TRACK_COLUMNS = (
    Track.id,
    Track.title,
    Track.artist_id,
    Track.album_id,
    Track.position,
    Track.genre,
    Track.subgenre,
    Track.isrc,
    Track.mood_tags,
    Track.credits,
    Track.duration_seconds,
    Track.play_count,
    Track.popularity,  # not shown: what a cursor of the popular order holds
    Track.published_at,
    Artist.name.label("artist_name"),
    Album.title.label("album_title"),
    Album.images.label("album_images"),
    MediaObject.details.label("audio"),
    # The media pipeline's loudness and renditions (none until it has run).
    MediaPipeline.loudness.label("loudness"),
    MediaPipeline.renditions.label("renditions"),
)


@functools.cache  # a statement is immutable: built once, refined per request
def listed_tracks() -> Select[*tuple[Any, ...]]:
    """`visible_tracks`, as the columns a listener sees (`TRACK_COLUMNS`)."""
    return (
        visible_tracks()
        .with_only_columns(*TRACK_COLUMNS)
        .join(MediaObject, MediaObject.id == Track.audio_id)
        .outerjoin(MediaPipeline, MediaPipeline.media_object_id == Track.audio_id)
    )


@functools.cache
def _listed_tracks_by_id(dialect: str) -> HotRead[AnyRow]:
    return HotRead(listed_tracks().where(among(Track.id, dialect)))


async def listed_tracks_by_id(
    session: AsyncSession, track_ids: Collection[uuid.UUID]
) -> Sequence[AnyRow]:
    """The visible ones of these tracks, as `listed_tracks`, in one statement built once (it
    cost about what running it did) and run on the session's connection as a `HotRead`."""
    connection = await session.connection()
    read = _listed_tracks_by_id(connection.dialect.name)
    return await read.rows(connection, ids=list(track_ids))


async def list_tracks(
    session: AsyncSession, *, where: TrackFilter, sort: str, page: PageRequest
) -> Rows[AnyRow]:
    statement = listed_tracks()
    if where.genre is not None:
        statement = statement.where(Track.genre == where.genre)
    if where.subgenre is not None:
        statement = statement.where(Track.subgenre == where.subgenre)
    if where.mood is not None:
        statement = statement.join(TrackMood, TrackMood.track_id == Track.id).where(
            TrackMood.mood == where.mood.strip().lower()
        )
    artist_id, album_id = where.artist_id, where.album_id
    if artist_id is not None:
        statement = statement.where(Track.artist_id == artist_id)
    if album_id is not None:
        statement = statement.where(Track.album_id == album_id)
    return await fetch_row_page(session, statement, TRACK_ORDERS[sort], page)


GENRE_ORDER = Order("genres:name", (SortKey(Track.genre),))
MOOD_ORDER = Order("moods:name", (SortKey(TrackMood.mood),))


async def genre_counts(session: AsyncSession, page: PageRequest) -> Rows[AnyRow]:
    """Each genre with its number of visible tracks (`genre`, `tracks`), by name."""
    statement = (
        visible_tracks()
        .with_only_columns(Track.genre, func.count().label("tracks"))
        .group_by(Track.genre)
    )
    return await fetch_row_page(session, statement, GENRE_ORDER, page)


async def mood_counts(session: AsyncSession, page: PageRequest) -> Rows[AnyRow]:
    """Each mood with its number of visible tracks (`mood`, `tracks`), by name."""
    statement = (
        visible_tracks()
        .with_only_columns(TrackMood.mood, func.count().label("tracks"))
        .join(TrackMood, TrackMood.track_id == Track.id)
        .group_by(TrackMood.mood)
    )
    return await fetch_row_page(session, statement, MOOD_ORDER, page)


async def listed_track(session: AsyncSession, track_id: uuid.UUID) -> AnyRow | None:
    return (await session.execute(listed_tracks().where(Track.id == track_id))).first()


async def playable_audio(session: AsyncSession, track_id: uuid.UUID) -> MediaObject | None:
    """The stored audio of a visible track, in one statement (what a stream reads)."""
    statement = (
        visible_tracks()
        .with_only_columns(MediaObject)
        .join(MediaObject, MediaObject.id == Track.audio_id)
        .where(Track.id == track_id)
    )
    return (await session.scalars(statement)).first()
