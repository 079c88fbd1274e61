"""Cacheable JSON: a strong ETag over the body and 304 to a matching `If-None-Match` (RFC 9110
sections 8.8.3 and 13.1.2); `Cache-Control: public` for what is the same to everyone, `private,
no-cache` for what is shaped for the signed-in caller. Both vary on the credentials, so no
cache answers one caller with another's body."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

# Short: a shared cache may serve a track for this long after it was taken down; the service
# itself answers from the database at once.
PUBLIC_MAX_AGE = 15


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    # If-None-Match compares weakly: W/"x" matches "x".
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def public_json(request: Request, body: BaseModel, *, max_age: int = PUBLIC_MAX_AGE) -> Response:
    return _json(request, body, f"public, max-age={max_age}")


def private_json(request: Request, body: BaseModel) -> Response:
    return _json(request, body, "private, no-cache")


def public_bytes(request: Request, content: bytes, *, max_age: int = PUBLIC_MAX_AGE) -> Response:
    """As `public_json`, for a body already rendered."""
    return _answer(request, content, f"public, max-age={max_age}")


def private_bytes(request: Request, content: bytes) -> Response:
    """As `private_json`, for a body already rendered."""
    return _answer(request, content, "private, no-cache")


def _json(request: Request, body: BaseModel, cache_control: str) -> Response:
    return _answer(request, body.model_dump_json(by_alias=True).encode(), cache_control)


def _answer(request: Request, content: bytes, cache_control: str) -> Response:
    etag = f'"{hashlib.sha256(content).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization, Cookie"}
    # Rendered for the page cache (catalog/responses.cached_page), which answers the
    # conditional request itself, for the caller it has.
    rendering = getattr(request.state, "render_public", False)
    if not rendering and etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)
