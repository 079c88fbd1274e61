"""Browsing by tags (getArtists, getArtist, getAlbum, getSong, getGenres) and by folders
(getIndexes, getMusicDirectory: one folder, artist, album, song)."""

from __future__ import annotations

import time
from itertools import groupby
from typing import Any

from empulse.subsonic import repository, shapes
from empulse.subsonic.call import Call, method
from empulse.subsonic.envelope import not_found
from empulse.subsonic.methods import common


async def _indexes(call: Call) -> list[dict[str, Any]]:
    """Every visible artist under its letter (leading articles ignored)."""
    async with call.services.read_sessionmaker() as session:
        rows = await repository.artists(session)
        starred_ids = await repository.starred(session, "artist", call.caller.user_id, 100_000)
        starred = await repository.starred_at(session, "artist", call.caller.user_id, starred_ids)
    shown = [common.artist_shown(call, row, starred) for row in rows]
    shown.sort(key=lambda artist: (shapes.index_letter(artist["name"]), artist["sortName"].lower()))
    return [
        {"name": letter, "artist": list(artists)}
        for letter, artists in groupby(
            shown, key=lambda artist: shapes.index_letter(artist["name"])
        )
    ]


@method("getArtists")
async def get_artists(call: Call) -> dict[str, Any]:
    return {"artists": {"ignoredArticles": shapes.IGNORED_ARTICLES, "index": await _indexes(call)}}


@method("getIndexes")
async def get_indexes(call: Call) -> dict[str, Any]:
    """The catalog changes at any moment (publishing, take-downs): always "modified now"."""
    return {
        "indexes": {
            "ignoredArticles": shapes.IGNORED_ARTICLES,
            "lastModified": int(time.time() * 1000),
            "index": await _indexes(call),
        }
    }


@method("getArtist")
async def get_artist(call: Call) -> dict[str, Any]:
    artist_id = common.id_of(call)
    async with call.services.read_sessionmaker() as session:
        found = await repository.artists(session, [artist_id])
        if not found:
            raise not_found("Artist")
        [artist] = await common.artists(session, call, found)
        albums = await common.albums(
            session, call, await repository.albums_of_artist(session, artist_id)
        )
    return {"artist": {**artist, "album": albums}}


@method("getAlbum")
async def get_album(call: Call) -> dict[str, Any]:
    album_id = common.id_of(call)
    async with call.services.read_sessionmaker() as session:
        found = await repository.albums_by_id(session, [album_id])
        if not found:
            raise not_found("Album")
        [album] = await common.albums(session, call, list(found.values()))
        songs = await common.songs(
            session, call, await repository.songs_of_album(session, album_id)
        )
    return {"album": {**album, "song": songs}}


@method("getSong")
async def get_song(call: Call) -> dict[str, Any]:
    track_id = common.id_of(call)
    async with call.services.read_sessionmaker() as session:
        found = await repository.songs_by_id(session, [track_id])
        if not found:
            raise not_found("Song")
        [song] = await common.songs(session, call, list(found.values()))
    return {"song": song}


@method("getGenres")
async def get_genres(call: Call) -> dict[str, Any]:
    async with call.services.read_sessionmaker() as session:
        rows = await repository.genres(session)
    return {
        "genres": {
            "genre": [
                {"value": genre, "songCount": songs, "albumCount": albums}
                for genre, songs, albums in rows
            ]
        }
    }


@method("getMusicDirectory")
async def get_music_directory(call: Call) -> dict[str, Any]:
    """An album's directory holds its songs; an artist's, its albums (as directories)."""
    item_id = common.id_of(call)
    async with call.services.read_sessionmaker() as session:
        albums = await repository.albums_by_id(session, [item_id])
        if albums:
            [album] = await common.albums(session, call, list(albums.values()))
            songs = await common.songs(
                session, call, await repository.songs_of_album(session, item_id)
            )
            return {
                "directory": {
                    "id": album["id"],
                    "parent": album["artistId"],
                    "name": album["name"],
                    "starred": album["starred"],
                    "playCount": album["playCount"],
                    "child": songs,
                }
            }
        artists = await repository.artists(session, [item_id])
        if not artists:
            raise not_found("Directory")
        [artist] = await common.artists(session, call, artists)
        rows = await repository.albums_of_artist(session, item_id)
        albums_shown = await common.albums(session, call, rows)
    return {
        "directory": {
            "id": artist["id"],
            "parent": str(shapes.ROOT_FOLDER_ID),
            "name": artist["name"],
            "starred": artist["starred"],
            "child": [shapes.album_as_directory(album) for album in albums_shown],
        }
    }
