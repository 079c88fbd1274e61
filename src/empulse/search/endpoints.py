"""HTTP for /search: readable without signing in."""

from __future__ import annotations

from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.auth.dependencies import OptionalPrincipal, Principal
from empulse.catalog import repository as catalog_repository
from empulse.catalog.responses import Shown, shown_json, with_liked
from empulse.core.errors import ValidationFailed
from empulse.core.pagination import Cursor, Limit
from empulse.search import service
from empulse.search.schemas import SEARCH_TYPES, SearchOut, SearchType
from empulse.search.text import MAX_QUERY_CHARS, MAX_QUERY_WORDS
from empulse.services import ReadSession, get_services
from empulse.web.caching import private_bytes, public_bytes
from empulse.web.paths import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/search", tags=["search"])


def _types(value: str | None) -> list[SearchType]:
    if value is None:
        return list(SEARCH_TYPES)
    asked = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [part for part in asked if part not in SEARCH_TYPES]
    if not asked or unknown:
        raise ValidationFailed(f"`type` is a comma-separated list of {', '.join(SEARCH_TYPES)}.")
    return [cast(SearchType, kind) for kind in dict.fromkeys(asked)]


@router.get(
    "",
    response_model=SearchOut,
    summary="Search tracks, artists, albums and playlists",
    responses={
        304: {"description": "Not modified (`If-None-Match` matched the `ETag`)."},
        400: {
            "description": "An empty or too long query, or a cursor of another search "
            "(invalid_query, invalid_cursor)"
        },
        422: {"description": "An unknown `type`"},
    },
)
async def search(
    request: Request,
    principal: OptionalPrincipal,
    session: ReadSession,
    q: Annotated[
        str,
        Query(
            description=f"What the listener typed: up to {MAX_QUERY_CHARS} characters and "
            f"{MAX_QUERY_WORDS} words. Case and accents do not matter; every word must match "
            "(the last ones as prefixes), in the title, the artist or the album.",
        ),
    ],
    type: Annotated[
        str | None,
        Query(max_length=100, description="Comma-separated: track, artist, album, playlist."),
    ] = None,
    limit: Limit = 20,
    cursor: Annotated[
        Cursor,
        Query(description="From a type's `nextCursor`: that type's next page, alone."),
    ] = None,
) -> Response:
    """Ranked: a name equal to the query first, then the best matches (title over artist over
    album), then the most played. Only what a listener may see: published releases of enabled
    artists, public playlists (and the caller's own)."""
    services = get_services(request)
    url = services.storage.public_url
    search = service.asked(q, _types(type), cursor)
    if services.page_cache.max_bytes:
        return await _from_cache(request, session, search, limit, principal)
    found = await service.search(
        session, search, principal.user_id if principal else None, limit, url
    )
    items: list[Any] = []
    for page in (found.tracks, found.albums, found.artists):
        if page is not None:
            items.extend(page.items)
    shown: list[Shown] = items
    return await shown_json(request, session, found, shown)


async def _from_cache(
    request: Request,
    session: AsyncSession,
    search: service.Asked,
    limit: int,
    principal: Principal | None,
) -> Response:
    """Each catalog type's page from the page cache when it holds one for the catalog's
    version (read and kept otherwise), with `liked` set for a signed-in caller; playlists,
    which change without moving that version, read afresh. The body is `SearchOut`'s, put
    together from the pages."""
    services = get_services(request)
    cache = services.page_cache
    viewer = principal.user_id if principal else None
    version = await catalog_repository.catalog_version(session)
    pages: dict[str, orjson.Fragment] = {}
    for kind in search.types:
        key = f"search:{kind}:{search.offset}:{limit}:{' '.join(search.words)}"
        content = cache.get(key, version) if kind != "playlist" else None
        if content is None:
            reader = viewer if kind == "playlist" else None
            page = await service.section(
                session, kind, search, reader, limit, services.storage.public_url
            )
            content = page.model_dump_json(by_alias=True).encode()
            if kind != "playlist":
                cache.put(key, version, content)
        if viewer is not None and kind != "playlist":
            content = await with_liked(session, viewer, content, f"{kind}s")
        pages[f"{kind}s"] = orjson.Fragment(content)
    body = orjson.dumps({name: pages.get(name) for name in SearchOut.model_fields})
    return public_bytes(request, body) if viewer is None else private_bytes(request, body)
