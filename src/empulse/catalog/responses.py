"""Answers that show catalog objects: the same to every anonymous caller (public, cacheable);
to a signed-in caller with `liked` on each track, album and artist (private)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from empulse.auth.dependencies import optional_principal
from empulse.catalog.schemas import AlbumOut, ArtistOut, TrackOut
from empulse.library import service as library
from empulse.web.caching import private_json, public_json

Shown = TrackOut | AlbumOut | ArtistOut


async def shown_json(
    request: Request, session: AsyncSession, body: BaseModel, items: Iterable[Shown]
) -> Response:
    """`body`, whose catalog objects are `items`."""
    principal = await optional_principal(request)
    if principal is None:
        return public_json(request, body)
    await library.mark_liked(session, principal.user_id, items)
    return private_json(request, body)
