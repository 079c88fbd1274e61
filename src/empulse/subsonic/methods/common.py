"""What several methods do: shape a page of rows with the caller's stars, in a fixed number of
queries whatever the page's length."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.subsonic import repository, shapes
from empulse.subsonic.call import Call
from empulse.subsonic.envelope import Code, SubsonicError

# The most items a list method answers at once (getAlbumList2's own maximum).
MAX_SIZE = 500


async def songs(
    session: AsyncSession, call: Call, rows: Sequence[Any], *, stars: bool = True
) -> list[dict[str, Any]]:
    """`stars`: with the caller's (else as anyone sees them, for `kept`)."""
    starred = await _starred(session, call, "track", rows) if stars else {}
    return [shapes.song(row, starred) for row in rows]


async def albums(
    session: AsyncSession, call: Call, rows: Sequence[Any], *, stars: bool = True
) -> list[dict[str, Any]]:
    totals = await catalog.album_totals(session, rows)
    starred = await _starred(session, call, "album", rows) if stars else {}
    return [shapes.album(row, totals, starred) for row in rows]


async def artists(
    session: AsyncSession, call: Call, rows: Sequence[Any], *, stars: bool = True
) -> list[dict[str, Any]]:
    starred = await _starred(session, call, "artist", rows) if stars else {}
    return [artist_shown(call, row, starred) for row in rows]


async def _starred(
    session: AsyncSession, call: Call, kind: str, rows: Sequence[Any]
) -> dict[uuid.UUID, datetime]:
    return await repository.starred_at(session, kind, call.caller.user_id, {r.id for r in rows})


# A kept answer's lists (as `read` names them), each with the kind its items are starred as.
Sections = dict[str, list[dict[str, Any]]]
StarKinds = dict[str, Literal["artist", "album", "track"]]


async def kept(
    call: Call,
    key: str,
    kinds: StarKinds,
    read: Callable[[AsyncSession], Awaitable[Sections]],
) -> Sections:
    """A method's lists from the page cache (infra/page_cache.py) when it holds them for the
    catalog's version under `key` (made of the method's validated parameters, so a player's
    cache-busting or unknown parameters name the same answer), else `read` (as anyone sees
    them: no stars) and kept; then the caller's stars set on them (one query per kind). For
    answers that are the same to every caller but their stars, as the JSON API's catalog
    pages are (catalog/responses.cached_page)."""
    async with call.services.read_sessionmaker() as session:
        cache = call.services.page_cache
        if not cache.max_bytes:
            sections = await read(session)
        else:
            version = await catalog.catalog_version(session)
            content = cache.get(key, version)
            if content is None:
                sections = await read(session)
                cache.put(key, version, orjson.dumps(sections))
            else:
                sections = orjson.loads(content)
        for section, kind in kinds.items():
            items = sections[section]
            ids = [uuid.UUID(item["id"]) for item in items]
            starred = await repository.starred_at(session, kind, call.caller.user_id, set(ids))
            for item, item_id in zip(items, ids, strict=True):
                item["starred"] = shapes.when(starred.get(item_id))
        return sections


def artist_shown(call: Call, row: Any, starred: dict[uuid.UUID, Any]) -> dict[str, Any]:
    images = sorted(row.images or [], key=lambda image: -image["size"])
    image_url = call.url(images[0]["key"]) if images else None
    return shapes.artist(row.id, row.name, row.album_count, starred, image_url)


def size_of(call: Call, name: str, default: int) -> int:
    return call.params.number(name, default, low=0, high=MAX_SIZE)


def offset_of(call: Call, name: str = "offset") -> int:
    return call.params.number(name, 0)


def id_of(call: Call, name: str = "id") -> uuid.UUID:
    raw = call.params.required(name, max_length=100)
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise SubsonicError(Code.NOT_FOUND, "Not found") from None
