"""GET /files: the signed, short-lived download URLs of local-disk storage (S3 signs its own)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from empulse.core.crypto import constant_time_equals
from empulse.core.errors import NotFound
from empulse.infra.storage import LocalStorage, content_disposition
from empulse.services import AppServices
from empulse.web.paths import API_PREFIX

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
