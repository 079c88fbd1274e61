"""What several methods do: shape a page of rows with the caller's stars, in a fixed number of
queries whatever the page's length."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.subsonic import repository, shapes
from empulse.subsonic.call import Call
from empulse.subsonic.envelope import Code, SubsonicError

# The most items a list method answers at once (getAlbumList2's own maximum).
MAX_SIZE = 500


async def songs(session: AsyncSession, call: Call, rows: Sequence[Any]) -> list[dict[str, Any]]:
    starred = await repository.starred_at(
        session, "track", call.caller.user_id, {row.id for row in rows}
    )
    return [shapes.song(row, starred) for row in rows]


async def albums(session: AsyncSession, call: Call, rows: Sequence[Any]) -> list[dict[str, Any]]:
    totals = await catalog.album_totals(session, rows)
    starred = await repository.starred_at(
        session, "album", call.caller.user_id, {row.id for row in rows}
    )
    return [shapes.album(row, totals, starred) for row in rows]


async def artists(session: AsyncSession, call: Call, rows: Sequence[Any]) -> list[dict[str, Any]]:
    starred = await repository.starred_at(
        session, "artist", call.caller.user_id, {row.id for row in rows}
    )
    return [artist_shown(call, row, starred) for row in rows]


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
