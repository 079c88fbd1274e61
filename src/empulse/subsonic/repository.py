"""Queries of the Subsonic API: its own tables (credentials, bookmarks, play queues, now
playing), and the catalog read the way Subsonic lists it, through the catalog's visibility
rules (`catalog.repository`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.models import (
    Album,
    ApiKey,
    AppPassword,
    Artist,
    Bookmark,
    LikedAlbum,
    LikedArtist,
    LikedTrack,
    MediaObject,
    NowPlaying,
    Play,
    Playlist,
    PlaylistEntry,
    PlayQueue,
    Track,
    User,
)


async def app_passwords_of(session: AsyncSession, user_id: uuid.UUID) -> list[AppPassword]:
    statement = (
        select(AppPassword)
        .where(AppPassword.user_id == user_id)
        .order_by(AppPassword.created_at, AppPassword.id)
    )
    return list(await session.scalars(statement))


async def api_keys_of(session: AsyncSession, user_id: uuid.UUID) -> list[ApiKey]:
    statement = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
    return list(await session.scalars(statement))


async def count_credentials(
    session: AsyncSession, model: type[AppPassword] | type[ApiKey], user_id: uuid.UUID
) -> int:
    statement = select(func.count()).select_from(model).where(model.user_id == user_id)
    return int(await session.scalar(statement) or 0)


async def delete_credential(
    session: AsyncSession,
    model: type[AppPassword] | type[ApiKey],
    user_id: uuid.UUID,
    credential_id: uuid.UUID,
) -> bool:
    removed = await session.execute(
        delete(model).where(model.user_id == user_id, model.id == credential_id)
    )
    return bool(getattr(removed, "rowcount", 0))


async def delete_all_credentials(session: AsyncSession, user_id: uuid.UUID) -> int:
    removed = 0
    for model in (AppPassword, ApiKey):
        result = await session.execute(delete(model).where(model.user_id == user_id))
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


async def api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return (await session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash))).first()


async def mark_used(
    session: AsyncSession,
    model: type[AppPassword] | type[ApiKey],
    credential_id: uuid.UUID,
    moment: datetime,
) -> None:
    await session.execute(
        update(model).where(model.id == credential_id).values(last_used_at=moment)
    )


async def app_passwords_not_under_key(
    session: AsyncSession, key_id: str, *, after: uuid.UUID | None, limit: int
) -> list[AppPassword]:
    """App passwords under another key than `key_id`, in id order after `after`, locked for
    the update (key rotation)."""
    statement = (
        select(AppPassword)
        .where(AppPassword.key_id != key_id)
        .order_by(AppPassword.id)
        .limit(limit)
        .with_for_update()
    )
    if after is not None:
        statement = statement.where(AppPassword.id > after)
    return list(await session.scalars(statement))


async def app_password_count_by_key(session: AsyncSession) -> dict[str, int]:
    result = await session.execute(
        select(AppPassword.key_id, func.count()).group_by(AppPassword.key_id)
    )
    return {key: int(count) for key, count in result}


async def bookmarks_of(session: AsyncSession, user_id: uuid.UUID) -> list[Bookmark]:
    statement = (
        select(Bookmark).where(Bookmark.user_id == user_id).order_by(Bookmark.changed_at.desc())
    )
    return list(await session.scalars(statement))


async def play_queue_of(session: AsyncSession, user_id: uuid.UUID) -> PlayQueue | None:
    return await session.get(PlayQueue, user_id)


async def now_playing(session: AsyncSession, since: datetime, limit: int) -> Sequence[NowPlaying]:
    statement = (
        select(NowPlaying)
        .where(NowPlaying.started_at >= since)
        .order_by(NowPlaying.started_at.desc())
        .limit(limit)
    )
    return list(await session.scalars(statement))


# --- the catalog as Subsonic reads it (visibility: catalog.repository) ---------------------


@functools.cache  # a statement is immutable: built once, refined per request
def songs() -> Select[Any]:
    """`catalog.repository.listed_tracks` and the file's size and type (Subsonic shows both)."""
    return catalog.listed_tracks().add_columns(
        MediaObject.size_bytes.label("size_bytes"), MediaObject.content_type.label("content_type")
    )


async def songs_by_id(
    session: AsyncSession, track_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    if not track_ids:
        return {}
    found = await session.execute(songs().where(Track.id.in_(track_ids)))
    return {row.id: row for row in found}


async def songs_of_album(session: AsyncSession, album_id: uuid.UUID) -> list[Any]:
    statement = songs().where(Track.album_id == album_id).order_by(Track.position, Track.id)
    return list(await session.execute(statement))


def _years(
    statement: Select[Any], column: Any, from_year: int | None, to_year: int | None
) -> Select[Any]:
    if from_year is not None:
        statement = statement.where(
            column >= datetime(min(from_year, to_year or from_year), 1, 1, tzinfo=UTC)
        )
    if to_year is not None:
        last = max(to_year, from_year if from_year is not None else to_year)
        statement = statement.where(column < datetime(last + 1, 1, 1, tzinfo=UTC))
    return statement


async def random_songs(
    session: AsyncSession,
    size: int,
    *,
    genre: str | None,
    from_year: int | None,
    to_year: int | None,
) -> list[Any]:
    statement = _years(songs(), Track.published_at, from_year, to_year)
    if genre is not None:
        statement = statement.where(Track.genre == genre)
    return list(await session.execute(statement.order_by(func.random()).limit(size)))


async def songs_in_genre(session: AsyncSession, genre: str, size: int, offset: int) -> list[Any]:
    statement = (
        songs()
        .where(Track.genre == genre)
        .order_by(Track.published_at.desc(), Track.id.desc())
        .limit(size)
        .offset(offset)
    )
    return list(await session.execute(statement))


async def all_songs(session: AsyncSession, size: int, offset: int) -> list[Any]:
    """Every song, a page at a time in a stable order (an empty search: clients sync so)."""
    statement = songs().order_by(Track.id).limit(size).offset(offset)
    return list(await session.execute(statement))


def _user_plays(user_id: uuid.UUID) -> Any:
    """Per album, the listener's qualified plays and the last of them."""
    return (
        select(
            Track.album_id.label("album_id"),
            func.count().label("plays"),
            func.max(Play.started_at).label("last_played"),
        )
        .join(Play, Play.track_id == Track.id)
        .where(Play.user_id == user_id, Play.qualified.is_(True))
        .group_by(Track.album_id)
        .subquery()
    )


ALBUM_LISTS = (
    "random",
    "newest",
    "highest",
    "frequent",
    "recent",
    "alphabeticalByName",
    "alphabeticalByArtist",
    "starred",
    "byYear",
    "byGenre",
)


@dataclass(frozen=True, slots=True)
class AlbumList:
    kind: str
    size: int
    offset: int
    user_id: uuid.UUID
    genre: str | None = None
    from_year: int | None = None
    to_year: int | None = None


async def album_list(session: AsyncSession, asked: AlbumList) -> list[Any]:
    """A page of `catalog.repository.listed_albums` rows (with `play_count`) in the list's
    order. "highest" is the most played by everyone (there are no ratings); "frequent" and
    "recent" are the caller's own plays; "starred" the caller's likes, newest first."""
    statement = catalog.listed_albums().add_columns(Album.play_count)
    kind = asked.kind
    if kind == "newest":
        statement = statement.order_by(Album.published_at.desc(), Album.id.desc())
    elif kind == "highest":
        statement = statement.order_by(Album.popularity.desc(), Album.published_at.desc(), Album.id)
    elif kind == "alphabeticalByName":
        statement = statement.order_by(Album.title, Album.id)
    elif kind == "alphabeticalByArtist":
        statement = statement.order_by(Artist.name, Album.title, Album.id)
    elif kind == "random":
        statement = statement.order_by(func.random())
    elif kind in ("frequent", "recent"):
        plays = _user_plays(asked.user_id)
        statement = statement.join(plays, plays.c.album_id == Album.id)
        first = plays.c.plays.desc() if kind == "frequent" else plays.c.last_played.desc()
        statement = statement.order_by(first, Album.id)
    elif kind == "starred":
        statement = statement.join(
            LikedAlbum, (LikedAlbum.album_id == Album.id) & (LikedAlbum.user_id == asked.user_id)
        ).order_by(LikedAlbum.created_at.desc(), Album.id)
    elif kind == "byYear":
        statement = _years(statement, Album.published_at, asked.from_year, asked.to_year)
        descending = (asked.from_year or 0) > (asked.to_year or 0)
        published = Album.published_at.desc() if descending else Album.published_at
        statement = statement.order_by(published, Album.id)
    elif kind == "byGenre":
        statement = statement.where(Album.genre == asked.genre).order_by(Album.title, Album.id)
    statement = statement.limit(asked.size).offset(asked.offset)
    return list(await session.execute(statement))


async def albums_by_id(
    session: AsyncSession, album_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    if not album_ids:
        return {}
    statement = catalog.listed_albums().add_columns(Album.play_count).where(Album.id.in_(album_ids))
    return {row.id: row for row in await session.execute(statement)}


async def albums_of_artist(session: AsyncSession, artist_id: uuid.UUID) -> list[Any]:
    statement = (
        catalog.listed_albums()
        .add_columns(Album.play_count)
        .where(Album.artist_id == artist_id)
        .order_by(Album.published_at, Album.id)
    )
    return list(await session.execute(statement))


async def all_albums(session: AsyncSession, size: int, offset: int) -> list[Any]:
    statement = (
        catalog.listed_albums()
        .add_columns(Album.play_count)
        .order_by(Album.id)
        .limit(size)
        .offset(offset)
    )
    return list(await session.execute(statement))


async def artists(
    session: AsyncSession,
    artist_ids: Collection[uuid.UUID] | None = None,
    *,
    size: int | None = None,
    offset: int = 0,
) -> list[Any]:
    """Visible artists (all, or these) with their visible albums' number: (id, name, images,
    album_count), by name. The albums are counted for the artists asked only."""
    if artist_ids is not None and not artist_ids:
        return []
    albums = catalog.visible_albums().with_only_columns(
        Album.artist_id, func.count().label("album_count")
    )
    if artist_ids is not None:
        albums = albums.where(Album.artist_id.in_(artist_ids))
    counted = albums.group_by(Album.artist_id).subquery()
    statement = (
        select(Artist.id, Artist.name, Artist.images, counted.c.album_count)
        .join(counted, counted.c.artist_id == Artist.id)
        .order_by(Artist.name, Artist.id)
    )
    if size is not None:
        statement = statement.limit(size).offset(offset)
    return list(await session.execute(statement))


async def genres(session: AsyncSession) -> list[Any]:
    """Each genre with its visible songs and albums: (genre, songs, albums), by name."""
    statement = (
        catalog.visible_tracks()
        .with_only_columns(
            Track.genre,
            func.count().label("songs"),
            func.count(func.distinct(Track.album_id)).label("albums"),
        )
        .group_by(Track.genre)
        .order_by(Track.genre)
    )
    return list(await session.execute(statement))


STAR_TABLES: dict[str, Any] = {"track": LikedTrack, "album": LikedAlbum, "artist": LikedArtist}


def _star_column(kind: str) -> Any:
    model = STAR_TABLES[kind]
    return getattr(model, f"{kind}_id")


async def starred_at(
    session: AsyncSession, kind: str, user_id: uuid.UUID, item_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When the caller liked each of these items (those liked)."""
    if not item_ids:
        return {}
    params = {"user_id": user_id, "item_ids": list(item_ids)}
    return {row[0]: row[1] for row in await session.execute(_starred_at(kind), params)}


@functools.cache  # built once per kind: every kept answer asks it (methods/common.kept)
def _starred_at(kind: str) -> Select[uuid.UUID, datetime]:
    model, column = STAR_TABLES[kind], _star_column(kind)
    return select(column, model.created_at).where(
        model.user_id == bindparam("user_id"), column.in_(bindparam("item_ids", expanding=True))
    )


async def starred(
    session: AsyncSession, kind: str, user_id: uuid.UUID, limit: int
) -> list[uuid.UUID]:
    """The caller's likes of this kind, newest first."""
    model, column = STAR_TABLES[kind], _star_column(kind)
    statement = (
        select(column)
        .where(model.user_id == user_id)
        .order_by(model.created_at.desc(), column)
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def cover_images(
    session: AsyncSession, kind: str, item_id: uuid.UUID
) -> list[dict[str, Any]] | None:
    """The stored sizes of a visible album's, artist's or playlist's image; None when there
    is no such visible thing (a playlist is checked by the caller)."""
    if kind == "al":
        statement = (
            catalog.visible_albums().with_only_columns(Album.images).where(Album.id == item_id)
        )
    elif kind == "ar":
        statement = (
            catalog.visible_artists().with_only_columns(Artist.images).where(Artist.id == item_id)
        )
    else:
        statement = select(Playlist.images).where(Playlist.id == item_id)
    found = (await session.execute(statement)).first()
    return None if found is None else list(found[0] or [])


async def playlist_track_ids(
    session: AsyncSession, playlist_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(entry id, track id) of every entry, in order."""
    statement = (
        select(PlaylistEntry.id, PlaylistEntry.track_id)
        .where(PlaylistEntry.playlist_id == playlist_id)
        .order_by(PlaylistEntry.rank)
    )
    return [(entry_id, track_id) for entry_id, track_id in await session.execute(statement)]


async def users_by_id(session: AsyncSession, user_ids: Collection[uuid.UUID]) -> list[User]:
    if not user_ids:
        return []
    return list(await session.scalars(select(User).where(User.id.in_(user_ids))))


async def playlist_durations(
    session: AsyncSession, playlist_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, float]:
    """Per playlist, the seconds of its playable entries."""
    if not playlist_ids:
        return {}
    playable = (
        catalog.visible_tracks().with_only_columns(Track.id, Track.duration_seconds).subquery()
    )
    statement = (
        select(PlaylistEntry.playlist_id, func.sum(playable.c.duration_seconds))
        .join(playable, playable.c.id == PlaylistEntry.track_id)
        .where(PlaylistEntry.playlist_id.in_(playlist_ids))
        .group_by(PlaylistEntry.playlist_id)
    )
    return {row[0]: float(row[1] or 0) for row in await session.execute(statement)}
