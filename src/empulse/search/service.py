"""A search: each type asked, a ranked page of what the caller may see, shown as the catalog
(and playlists) show it. The cursor of a type's next page carries the type, the query (as its
folded key) and the offset, so it is refused for another query or type."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import service as shapes
from empulse.catalog.schemas import AlbumOut, ArtistOut, TrackOut
from empulse.catalog.service import PublicUrl
from empulse.core.pagination import InvalidCursor, Page
from empulse.models import Playlist
from empulse.playlists import service as playlists
from empulse.playlists.schemas import PlaylistOut
from empulse.search import repository
from empulse.search.schemas import SearchOut, SearchType
from empulse.search.text import query_words

# Results further down than this are not worth a listener's scrolling (and stay cheap).
MAX_OFFSET = 500


def _cursor(kind: SearchType, words: Sequence[str], offset: int) -> str:
    raw = orjson.dumps(["search", kind, " ".join(words), offset])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_cursor(cursor: str, words: Sequence[str]) -> tuple[SearchType, int]:
    """(its type, its offset); 400 for a cursor of another query or not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, kind, query, offset = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        valid = (
            tag == "search"
            and kind in ("track", "artist", "album", "playlist")
            and query == " ".join(words)
            and isinstance(offset, int)
            and not isinstance(offset, bool)
            and 0 < offset <= MAX_OFFSET
        )
    except (ValueError, TypeError, orjson.JSONDecodeError):
        valid = False
    if not valid:
        raise InvalidCursor("The cursor is not one this search issued for this query.")
    return kind, offset


@dataclass(frozen=True, slots=True)
class Asked:
    """What a search reads: its words, the types, from which offset."""

    words: list[str]
    types: Sequence[SearchType]
    offset: int


def asked(query: str, types: Sequence[SearchType], cursor: str | None) -> Asked:
    """400 for an empty or too long query, or a cursor of another search; a cursor asks for
    its own type alone."""
    words = query_words(query)
    if cursor is None:
        return Asked(words, types, 0)
    kind, offset = read_cursor(cursor, words)
    return Asked(words, [kind], offset)


async def section(
    session: AsyncSession,
    kind: SearchType,
    search: Asked,
    viewer: uuid.UUID | None,
    limit: int,
    url: PublicUrl,
) -> Page[TrackOut] | Page[AlbumOut] | Page[ArtistOut] | Page[PlaylistOut]:
    """One type's ranked page."""
    words, offset = search.words, search.offset
    ids = await repository.search(session, f"{kind}s", words, viewer, offset, limit)
    more = len(ids) > limit and offset + limit < MAX_OFFSET
    ids = ids[:limit]
    next_cursor = _cursor(kind, words, offset + limit) if more else None
    if kind == "track":
        tracks = await shapes.shown_tracks(session, ids, url)
        return Page[TrackOut](
            items=[tracks[i] for i in ids if i in tracks], next_cursor=next_cursor
        )
    if kind == "album":
        albums = await shapes.shown_albums(session, ids, url)
        return Page[AlbumOut](
            items=[albums[i] for i in ids if i in albums], next_cursor=next_cursor
        )
    if kind == "artist":
        artists = await shapes.shown_artists(session, ids, url)
        return Page[ArtistOut](
            items=[artists[i] for i in ids if i in artists], next_cursor=next_cursor
        )
    rows = {playlist.id: playlist for playlist in await _playlists(session, ids)}
    ordered = [rows[i] for i in ids if i in rows]
    return Page[PlaylistOut](
        items=await playlists.shaped(session, ordered, viewer, url), next_cursor=next_cursor
    )


async def search(
    session: AsyncSession,
    search: Asked,
    viewer: uuid.UUID | None,
    limit: int,
    url: PublicUrl,
) -> SearchOut:
    found = SearchOut()
    for kind in search.types:
        setattr(found, f"{kind}s", await section(session, kind, search, viewer, limit, url))
    return found


async def _playlists(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Playlist]:
    if not ids:
        return []
    return list(await session.scalars(select(Playlist).where(Playlist.id.in_(ids))))
