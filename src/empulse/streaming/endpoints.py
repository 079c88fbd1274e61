"""GET and HEAD /tracks/{id}/stream (RFC 9110 ranges, from either storage) and the signed
stream URL."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from empulse.auth.dependencies import (
    CurrentPrincipal,
    OptionalPrincipal,
    require_principal,
    session_is_live,
)
from empulse.core.errors import AppError, NotFound, Unauthorized
from empulse.core.logging import get_logger
from empulse.infra.storage import MAX_URL_SECONDS, DownloadSpec, LocalStorage
from empulse.services import AppServices, ReadSession, Services
from empulse.streaming import service
from empulse.streaming.schemas import (
    FORMAT_DESCRIPTION,
    MAX_BIT_RATE_DESCRIPTION,
    Format,
    StreamQuery,
    StreamUrlOut,
)
from empulse.web.caching import etag_matches
from empulse.web.paths import API_PREFIX
from empulse.web.ranges import (
    ChunkedBody,
    Unsatisfiable,
    can_pathsend,
    http_date,
    if_range_holds,
    parse_range,
)
from empulse.web.ratelimit import RateLimit, enforce

router = APIRouter(prefix=f"{API_PREFIX}/tracks", tags=["streaming"])
log = get_logger("empulse.streaming")

# Bytes never change under an id (a new file is a new object), but who may read them does.
_CACHE_CONTROL = "private, max-age=3600"
_AUDIO: dict[str, Any] = {
    "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}
}


# The stream-url route's own choice of file, with the stream's rules (schemas.StreamQuery).
StreamFormat = Annotated[Format | None, Query(description=FORMAT_DESCRIPTION)]
MaxBitRate = Annotated[
    int | None, Query(alias="maxBitRate", ge=1, le=100_000, description=MAX_BIT_RATE_DESCRIPTION)
]


class RangeNotSatisfiable(AppError):
    status = 416
    code = "range_not_satisfiable"
    title = "Range not satisfiable"


_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file.", **_AUDIO},
    206: {"description": "The range asked (`Range: bytes=…`).", **_AUDIO},
    302: {"description": "To a presigned URL, when `STREAM_S3_REDIRECT` is on."},
    304: {"description": "Not modified (`If-None-Match` matched the `ETag`)."},
    401: {"description": "Not signed in, or a signed URL expired or altered"},
    404: {"description": "No visible track (not_found)"},
    416: {"description": "The range starts past the end (`Content-Range: bytes */size`)"},
    429: {"description": "Too many streams a minute (rate_limited)"},
}


async def stream(
    track_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    services: AppServices,
    principal: OptionalPrincipal,
) -> Response:
    """The audio (a streaming rendition once the media pipeline made them: Opus 160 kbit/s
    unless `format` and `maxBitRate` ask otherwise; the file as uploaded until then, or with
    `format=original`), for a signed-in listener (bearer token or session cookie) or a
    signed URL from `GET /tracks/{id}/stream-url`. One byte range per request (`bytes=a-b`,
    `bytes=a-`, `bytes=-n`), `If-Range`, a strong `ETag` (the file's SHA-256). A stream is
    not a play: plays are posted by the player."""
    query = StreamQuery.read(request.query_params)
    user, session_id = query.user, query.session
    if principal is not None:
        user_id = principal.user_id
    elif user is not None and session_id is not None and query.expires and query.signature:
        signed = service.SignedStream(user, session_id, query.expires, query.signature)
        if not service.signature_holds(
            services.stream_url_key, track_id, signed, time.time()
        ) or not await session_is_live(services, session_id, user):
            raise Unauthorized("This stream link has expired or is not valid.")
        user_id = user
    else:
        raise Unauthorized("Sign in, or use a link from GET /tracks/{id}/stream-url.")
    keys = [("ip", request.state.client_ip or "unknown"), ("user", str(user_id))]
    await enforce(request, "streams", keys)
    chosen = await service.chosen_audio(
        services, session, track_id, query.format, query.max_bit_rate
    )
    if chosen is None:
        raise NotFound("No such track.")
    return await send_audio(request, services, chosen)


for _method, _name, _summary in (
    ("GET", "stream", "Play a track"),
    ("HEAD", "stream_head", "A track's stream headers (size, type, ETag)"),
):
    router.add_api_route(
        "/{track_id}/stream",
        stream,
        methods=[_method],
        name=_name,
        summary=_summary,
        response_class=Response,
        responses=_STREAM_RESPONSES,
        openapi_extra={"parameters": StreamQuery.openapi_parameters()},
    )


async def send_audio(request: Request, services: Services, audio: service.AudioFile) -> Response:
    storage = services.storage
    local = isinstance(storage, LocalStorage)
    if not local and services.settings.stream_s3_redirect:
        spec = DownloadSpec(audio.content_type, audio.original_filename or "audio", inline=True)
        url = storage.signed_url(audio.key, spec, MAX_URL_SECONDS)
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    etag = f'"{audio.sha256}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(audio.created_at),
        "Cache-Control": _CACHE_CONTROL,
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    size = audio.size_bytes
    wanted = None
    if if_range_holds(request.headers.get("if-range"), etag, audio.created_at):
        try:
            wanted = parse_range(request.headers.get("range"), size)
        except Unsatisfiable:
            raise RangeNotSatisfiable(
                f"The file has {size} bytes.",
                headers={**headers, "Content-Range": f"bytes */{size}"},
            ) from None
    headers["Content-Type"] = audio.content_type
    if wanted is None:
        status, start, end = 200, 0, size - 1
    else:
        status, start, end = 206, wanted.start, wanted.end
        headers["Content-Range"] = wanted.content_range
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD" or size == 0:
        return ChunkedBody(None, status_code=status, headers=headers)
    if isinstance(storage, LocalStorage) and wanted is None and can_pathsend(request.scope):
        return ChunkedBody(
            None, status_code=status, headers=headers, path=storage.path_of(audio.key)
        )
    try:
        chunks = await storage.open_range(audio.key, start, end)
    except FileNotFoundError:
        log.error("stream_object_missing", media_object_id=str(audio.id))
        raise NotFound("The track's audio is missing; it has been reported.") from None
    return ChunkedBody(chunks, status_code=status, headers=headers)


@router.get(
    "/{track_id}/stream-url",
    response_model=StreamUrlOut,
    summary="A signed URL that plays a track",
    dependencies=[Depends(require_principal), Depends(RateLimit("streams"))],
    responses={
        401: {"description": "Not signed in (not_authenticated)"},
        404: {"description": "No visible track (not_found)"},
        429: {"description": "Too many streams a minute (rate_limited)"},
    },
)
async def get_stream_url(
    track_id: uuid.UUID,
    response: Response,
    session: ReadSession,
    services: AppServices,
    principal: CurrentPrincipal,
    format: StreamFormat = None,
    max_bit_rate: MaxBitRate = None,
) -> StreamUrlOut:
    """For players that cannot send an `Authorization` header: valid for at most 15 minutes,
    for this listener's session only (signing out ends it). `format` and `maxBitRate` choose
    the file as for the stream itself."""
    chosen = await service.chosen_audio(services, session, track_id, format, max_bit_rate)
    if chosen is None:
        raise NotFound("No such track.")
    url = service.stream_url(
        services.storage,
        services.stream_url_key,
        chosen,
        track_id=track_id,
        user_id=principal.user_id,
        session_id=principal.session_id,
        now=time.time(),
        choice={"format": format, "maxBitRate": max_bit_rate},
    )
    response.headers["Cache-Control"] = "no-store"
    return StreamUrlOut(url=url.url, expires_at=url.expires_at)
