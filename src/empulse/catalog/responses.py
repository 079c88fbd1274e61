"""Answers that show catalog objects: the same to every anonymous caller (public, cacheable);
to a signed-in caller with `liked` on each track, album and artist (private)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from empulse.auth.dependencies import optional_principal
from empulse.catalog import repository
from empulse.catalog.schemas import AlbumOut, ArtistOut, TrackOut
from empulse.library import service as library
from empulse.services import get_services
from empulse.web.caching import private_json, public_bytes, public_json

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


Endpoint = Callable[..., Awaitable[Response]]


def cached_page(endpoint: Endpoint) -> Endpoint:
    """An endpoint whose answers to anonymous callers are kept in the process's page cache
    (infra/page_cache.py), by path and query, for the catalog version they were read at. The
    endpoint takes `request` and `session` by name; a signed-in caller's answer carries
    `liked` and is never kept."""

    @functools.wraps(endpoint)
    async def answer(*args: Any, **kwargs: Any) -> Response:
        request: Request = kwargs["request"]
        cache = get_services(request).page_cache
        if not cache.max_bytes or await optional_principal(request) is not None:
            return await endpoint(*args, **kwargs)
        # The version first: the data read after it is as new or newer.
        version = await repository.catalog_version(kwargs["session"])
        key = f"{request.url.path}?{request.url.query}"
        content = cache.get(key, version)
        if content is not None:
            return public_bytes(request, content)
        response = await endpoint(*args, **kwargs)
        if response.status_code == 200:
            cache.put(key, version, bytes(response.body))
        return response

    # FastAPI reads the parameters from this, resolved where the endpoint was written.
    answer.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
    return answer
