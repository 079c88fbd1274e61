"""search3 and search2: the catalog's own ranked search (search/), or, for an empty query
(also the literal `""` some clients send), everything, a page at a time: clients sync so."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.search import repository as search
from empulse.search.service import MAX_OFFSET
from empulse.search.text import query_words
from empulse.subsonic import repository, shapes
from empulse.subsonic.call import Call, method
from empulse.subsonic.methods import common

_EVERYTHING = ("", '""', "*", "''")


async def _ranked(
    session: AsyncSession, table: str, words: list[str], size: int, offset: int
) -> list[Any]:
    """The ids of one page of ranked matches (search ranks at most `MAX_OFFSET` deep), as
    anyone may see them (no playlists are searched here)."""
    if size == 0 or offset >= MAX_OFFSET:
        return []
    ids = await search.search(session, table, words, None, offset, size)
    return ids[:size]


async def _results(call: Call) -> tuple[list[Any], list[Any], list[Any]]:
    query = (call.params.text("query", max_length=1000) or "").strip()
    sizes = {
        kind: (common.size_of(call, f"{kind}Count", 20), common.offset_of(call, f"{kind}Offset"))
        for kind in ("artist", "album", "song")
    }
    words = None if query in _EVERYTHING else query_words(query)

    async def read(session: AsyncSession) -> common.Sections:
        if words is None:
            artist_rows = await repository.artists(
                session, size=sizes["artist"][0], offset=sizes["artist"][1]
            )
            album_rows = await repository.all_albums(session, *sizes["album"])
            song_rows = await repository.all_songs(session, *sizes["song"])
        else:
            artist_ids = await _ranked(session, "artists", words, *sizes["artist"])
            album_ids = await _ranked(session, "albums", words, *sizes["album"])
            track_ids = await _ranked(session, "tracks", words, *sizes["song"])
            by_artist = {row.id: row for row in await repository.artists(session, artist_ids)}
            by_album = await repository.albums_by_id(session, album_ids)
            by_song = await repository.songs_by_id(session, track_ids)
            artist_rows = [by_artist[i] for i in artist_ids if i in by_artist]
            album_rows = [by_album[i] for i in album_ids if i in by_album]
            song_rows = [by_song[i] for i in track_ids if i in by_song]
        return {
            "artist": await common.artists(session, call, artist_rows, stars=False),
            "album": await common.albums(session, call, album_rows, stars=False),
            "song": await common.songs(session, call, song_rows, stars=False),
        }

    kinds: common.StarKinds = {"artist": "artist", "album": "album", "song": "track"}
    asked = "*" if words is None else " ".join(words)
    found = await common.kept(call, f"subsonic:search:{sorted(sizes.items())}:{asked}", kinds, read)
    return found["artist"], found["album"], found["song"]


@method("search3")
async def search3(call: Call) -> dict[str, Any]:
    artists, albums, songs = await _results(call)
    return {"searchResult3": {"artist": artists, "album": albums, "song": songs}}


@method("search2")
async def search2(call: Call) -> dict[str, Any]:
    artists, albums, songs = await _results(call)
    folders = [shapes.album_as_directory(album) for album in albums]
    return {"searchResult2": {"artist": artists, "album": folders, "song": songs}}
