"""Lists: getAlbumList2 and getAlbumList (every type), getRandomSongs, getSongsByGenre,
getStarred2 and getStarred, getNowPlaying."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.db import utcnow
from empulse.models import User, privacy_allows
from empulse.subsonic import repository, shapes
from empulse.subsonic.call import Call, method
from empulse.subsonic.envelope import Code, SubsonicError, missing
from empulse.subsonic.methods import common
from empulse.subsonic.repository import ALBUM_LISTS, AlbumList

# Likes shown by getStarred: a player shows them as one list.
MAX_STARRED = 2000
# How long a "now playing" report stands without a newer one.
NOW_PLAYING_FOR = timedelta(minutes=15)


def _album_list(call: Call) -> AlbumList:
    kind = call.params.required("type", max_length=30)
    if kind not in ALBUM_LISTS:
        raise SubsonicError(Code.GENERIC, f"Unknown album list type: {kind}")
    params = call.params
    asked = AlbumList(
        kind=kind,
        size=common.size_of(call, "size", 10),
        offset=common.offset_of(call),
        user_id=call.caller.user_id,
        genre=params.text("genre", max_length=64),
        from_year=params.integer("fromYear", low=1, high=9999),
        to_year=params.integer("toYear", low=1, high=9999),
    )
    if kind == "byYear" and (asked.from_year is None or asked.to_year is None):
        raise missing("fromYear" if asked.from_year is None else "toYear")
    if kind == "byGenre" and asked.genre is None:
        raise missing("genre")
    return asked


# The lists that are the same to every caller but their stars (the others are random, or the
# caller's own plays or likes).
_SHARED_LISTS = frozenset(
    {"newest", "highest", "alphabeticalByName", "alphabeticalByArtist", "byYear", "byGenre"}
)


async def _albums(call: Call) -> list[dict[str, Any]]:
    asked = _album_list(call)
    if asked.kind not in _SHARED_LISTS:
        async with call.services.read_sessionmaker() as session:
            return await common.albums(session, call, await repository.album_list(session, asked))

    async def read(session: AsyncSession) -> common.Sections:
        rows = await repository.album_list(session, asked)
        return {"album": await common.albums(session, call, rows, stars=False)}

    key = (
        f"subsonic:albumList:{asked.kind}:{asked.size}:{asked.offset}:{asked.genre}:"
        f"{asked.from_year}:{asked.to_year}"
    )
    return (await common.kept(call, key, {"album": "album"}, read))["album"]


@method("getAlbumList2")
async def get_album_list2(call: Call) -> dict[str, Any]:
    return {"albumList2": {"album": await _albums(call)}}


@method("getAlbumList")
async def get_album_list(call: Call) -> dict[str, Any]:
    albums = await _albums(call)
    return {"albumList": {"album": [shapes.album_as_directory(album) for album in albums]}}


@method("getRandomSongs")
async def get_random_songs(call: Call) -> dict[str, Any]:
    params = call.params
    async with call.services.read_sessionmaker() as session:
        rows = await repository.random_songs(
            session,
            common.size_of(call, "size", 10),
            genre=params.text("genre", max_length=64),
            from_year=params.integer("fromYear", low=1, high=9999),
            to_year=params.integer("toYear", low=1, high=9999),
        )
        return {"randomSongs": {"song": await common.songs(session, call, rows)}}


@method("getSongsByGenre")
async def get_songs_by_genre(call: Call) -> dict[str, Any]:
    genre = call.params.required("genre", max_length=64)
    async with call.services.read_sessionmaker() as session:
        rows = await repository.songs_in_genre(
            session, genre, common.size_of(call, "count", 10), common.offset_of(call)
        )
        return {"songsByGenre": {"song": await common.songs(session, call, rows)}}


async def _starred(call: Call) -> tuple[list[Any], list[Any], list[Any]]:
    user_id = call.caller.user_id
    async with call.services.read_sessionmaker() as session:
        artist_ids = await repository.starred(session, "artist", user_id, MAX_STARRED)
        album_ids = await repository.starred(session, "album", user_id, MAX_STARRED)
        track_ids = await repository.starred(session, "track", user_id, MAX_STARRED)
        artist_rows = {row.id: row for row in await repository.artists(session, artist_ids)}
        album_rows = await repository.albums_by_id(session, album_ids)
        song_rows = await repository.songs_by_id(session, track_ids)
        # In the order they were liked; what is no longer visible is left out.
        artists = await common.artists(
            session, call, [artist_rows[i] for i in artist_ids if i in artist_rows]
        )
        albums = await common.albums(
            session, call, [album_rows[i] for i in album_ids if i in album_rows]
        )
        songs = await common.songs(
            session, call, [song_rows[i] for i in track_ids if i in song_rows]
        )
    return artists, albums, songs


@method("getStarred2")
async def get_starred2(call: Call) -> dict[str, Any]:
    artists, albums, songs = await _starred(call)
    return {"starred2": {"artist": artists, "album": albums, "song": songs}}


@method("getStarred")
async def get_starred(call: Call) -> dict[str, Any]:
    artists, albums, songs = await _starred(call)
    folders = [shapes.album_as_directory(album) for album in albums]
    return {"starred": {"artist": artists, "album": folders, "song": songs}}


def _shows_listening(user: User) -> bool:
    return privacy_allows(user.privacy, "showListeningActivity")


@method("getNowPlaying")
async def get_now_playing(call: Call) -> dict[str, Any]:
    """What listeners are playing now: the caller's own players, and others' who show their
    listening activity (privacy preferences), named by display name, never by address."""
    now = utcnow()
    async with call.services.read_sessionmaker() as session:
        reports = await repository.now_playing(session, now - NOW_PLAYING_FOR, 200)
        people = {
            user.id: user
            for user in await repository.users_by_id(session, {r.user_id for r in reports})
        }
        shown = [
            report
            for report in reports
            if (person := people.get(report.user_id)) is not None
            and person.disabled_at is None
            and (report.user_id == call.caller.user_id or _shows_listening(person))
        ]
        rows = await repository.songs_by_id(session, {report.track_id for report in shown})
        songs = {
            song["id"]: song for song in await common.songs(session, call, list(rows.values()))
        }
    entries = []
    for player_id, report in enumerate(shown, start=1):
        song = songs.get(str(report.track_id))
        if song is None:
            continue
        mine = report.user_id == call.caller.user_id
        entries.append(
            {
                **song,
                "username": call.caller.email if mine else people[report.user_id].name,
                "minutesAgo": int((now - report.started_at).total_seconds() // 60),
                "playerId": player_id,
                "playerName": report.client if mine else None,
            }
        )
    return {"nowPlaying": {"entry": entries}}
