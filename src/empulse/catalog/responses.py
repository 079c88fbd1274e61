"""Answers that show catalog objects: the same to every anonymous caller (public, cacheable);
to a signed-in caller with `liked` on each track, album and artist (private)."""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from empulse.auth.dependencies import optional_principal
from empulse.catalog import repository
from empulse.catalog.schemas import AlbumOut, ArtistOut, TrackOut
from empulse.library import repository as library_repository
from empulse.library import service as library
from empulse.services import get_services
from empulse.web.caching import private_bytes, private_json, public_bytes, public_json

Shown = TrackOut | AlbumOut | ArtistOut


async def shown_json(
    request: Request, session: AsyncSession, body: BaseModel, items: Iterable[Shown]
) -> Response:
    """`body`, whose catalog objects are `items`."""
    principal = await optional_principal(request)
    if principal is None or getattr(request.state, "render_public", False):
        return public_json(request, body)
    await library.mark_liked(session, principal.user_id, items)
    return private_json(request, body)


Endpoint = Callable[..., Awaitable[Response]]
# The kind of the catalog objects an answer shows at its top level (a page's items, or the one
# object): what `liked` is looked up among. None for answers without catalog objects.
ShowsKind = Literal["tracks", "albums", "artists"] | None


def cached_page(shows: ShowsKind) -> Callable[[Endpoint], Endpoint]:
    """An endpoint whose public answers are kept in the process's page cache
    (infra/page_cache.py), by path and parameters, for the catalog version they were read at. A
    signed-in caller gets the kept answer with `liked` set on its objects (`shows`, and the
    tracks of a release), looked up as the endpoint would (one query per kind), privately.
    The endpoint takes `request` and `session` by name."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def answer(*args: Any, **kwargs: Any) -> Response:
            request: Request = kwargs["request"]
            session: AsyncSession = kwargs["session"]
            cache = get_services(request).page_cache
            if not cache.max_bytes:
                return await endpoint(*args, **kwargs)
            principal = await optional_principal(request)
            # The version first: the data read after it is as new or newer.
            version = await repository.catalog_version(session)
            key = _key(request.url.path, kwargs)
            content = cache.get(key, version)
            if content is None:
                request.state.render_public = True
                response = await endpoint(*args, **kwargs)
                if response.status_code != 200 or "public" not in response.headers.get(
                    "cache-control", ""
                ):
                    return response
                content = bytes(response.body)
                cache.put(key, version, content)
            if principal is None or shows is None:
                return public_bytes(request, content)
            return private_bytes(
                request, await with_liked(session, principal.user_id, content, shows)
            )

        # FastAPI reads the parameters from this, resolved where the endpoint was written.
        answer.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
        return answer

    return decorate


def _key(path: str, arguments: dict[str, Any]) -> str:
    """The path and the endpoint's parameters as validated: the same page whatever the order
    of the query, a default left out or given, or a parameter the endpoint does not take (so
    made-up parameters cannot push real pages out)."""
    given = sorted(
        (name, str(value))
        for name, value in arguments.items()
        if name not in ("request", "session") and value is not None
    )
    return f"{path}?{urlencode(given)}"


async def with_liked(
    session: AsyncSession, user_id: uuid.UUID, content: bytes, shows: str
) -> bytes:
    """A public answer (JSON) with `liked` set for this listener on its catalog objects: a
    page's items or the one object, of kind `shows`, and a release's tracks."""
    body = orjson.loads(content)
    objects: dict[str, list[dict[str, Any]]] = {
        shows: body["items"] if isinstance(body.get("items"), list) else [body]
    }
    if isinstance(body.get("tracks"), list):
        objects.setdefault("tracks", []).extend(body["tracks"])
    for kind, shown in objects.items():
        if not shown:
            continue
        ids = [uuid.UUID(item["id"]) for item in shown]
        found = await library_repository.liked_among(
            session, library_repository.KINDS[kind], user_id, ids
        )
        for item, item_id in zip(shown, ids, strict=True):
            item["liked"] = item_id in found
    return orjson.dumps(body)
