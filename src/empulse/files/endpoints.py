"""GET /files: the signed, short-lived download URLs of local-disk storage (S3 signs its own);
GET /media: public images, from either storage, when the store has no public address."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from empulse.core.crypto import constant_time_equals
from empulse.core.errors import NotFound
from empulse.infra.storage import LocalStorage, check_key, content_disposition
from empulse.services import AppServices
from empulse.web.caching import etag_matches
from empulse.web.paths import API_PREFIX
from empulse.web.ranges import ChunkedBody, can_pathsend

router = APIRouter(prefix=API_PREFIX, tags=["files"])


@router.get(
    "/files",
    summary="Download a file through a signed URL",
    response_class=FileResponse,
    responses={404: {"description": "Unknown, expired or tampered link (not_found)"}},
)
async def download(
    services: AppServices,
    key: Annotated[str, Query(max_length=200)],
    exp: Annotated[str, Query(max_length=20)],
    type: Annotated[str, Query(max_length=64)],
    name: Annotated[str, Query(max_length=200)],
    sig: Annotated[str, Query(max_length=100)],
) -> FileResponse:
    """Always an attachment, never rendered inline; `nosniff` comes with every response
    (SECURITY.md "Files")."""
    storage = services.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("Files are served by the object store.")
    query = {"key": key, "exp": exp, "type": type, "name": name}
    if (
        not (exp.isascii() and exp.isdigit())  # "²" is a digit to str.isdigit, not to int()
        or int(exp) < time.time()
        or not constant_time_equals(storage.signature(query), sig)
    ):
        raise NotFound("This link is unknown or has expired.")
    try:
        path = storage.path_of(key)
    except ValueError as exc:
        raise NotFound("This link is unknown or has expired.") from exc
    if not path.is_file():
        raise NotFound("The file no longer exists.")
    return FileResponse(
        path,
        media_type=type,
        headers={
            "Content-Disposition": content_disposition(name),
            "Cache-Control": "private, max-age=300",
        },
    )


IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {"jpg": "image/jpeg"}


@router.get(
    "/media/{key:path}",
    summary="A public image (cover, artist image)",
    response_class=Response,
    responses={
        200: {"description": "The image.", "content": {"image/jpeg": {}}},
        304: {"description": "Not modified (`If-None-Match` matched the `ETag`)."},
        404: {"description": "No such public object (not_found)"},
    },
)
async def public_media(key: str, request: Request, services: AppServices) -> Response:
    """The URLs of catalog images when the store has no public address of its own. A key's
    bytes never change (catalog/images), so the answer is cacheable for a year."""
    try:
        if not check_key(key).startswith("public/"):
            raise ValueError(key)  # private objects only through signed URLs
    except ValueError:
        raise NotFound("No such image.") from None
    storage = services.storage
    name = key.rsplit("/", 1)[-1]
    etag = f'"{name.split(".", 1)[0]}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    try:
        size = await storage.size_of(key)
        headers["Content-Length"] = str(size)
        headers["Content-Type"] = _TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
        if request.method == "HEAD" or size == 0:
            return ChunkedBody(None, status_code=200, headers=headers)
        if isinstance(storage, LocalStorage) and can_pathsend(request.scope):
            return ChunkedBody(None, status_code=200, headers=headers, path=storage.path_of(key))
        chunks = await storage.open_range(key, 0, size - 1)
    except FileNotFoundError:
        raise NotFound("No such image.") from None
    return ChunkedBody(chunks, status_code=200, headers=headers)
