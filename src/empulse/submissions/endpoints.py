"""HTTP for /submissions: approved artists send releases and follow them."""

from __future__ import annotations

import uuid

import orjson
from fastapi import APIRouter, Depends, Request, status

from empulse.audit.service import RequestMeta
from empulse.auth.dependencies import CurrentPrincipal, require_principal
from empulse.core.errors import NotFound
from empulse.core.pagination import Cursor, Limit, Page, PageRequest
from empulse.media import service as media
from empulse.services import AppServices, DbSession, ReadSession
from empulse.submissions import repository, service
from empulse.submissions.schemas import PAYLOAD_EXAMPLE, SubmissionOut, SubmissionPayload
from empulse.web.paths import API_PREFIX
from empulse.web.ratelimit import RateLimit

router = APIRouter(prefix=API_PREFIX, tags=["submissions"])

UPLOAD_PATHS = (f"{API_PREFIX}/submissions", f"{API_PREFIX}/tracks/submit")

_multipart_body = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["payload", "coverArtFile"],
                    "properties": {
                        "payload": {
                            "type": "string",
                            "description": (
                                "JSON: " + SubmissionPayload.__name__ + ". Files go in "
                                "`audioFile` (a single) or `track_0_file`, `track_1_file`, … "
                                "(an EP or LP, one per track, in order), and `coverArtFile`."
                            ),
                            "contentMediaType": "application/json",
                            "examples": [orjson.dumps(PAYLOAD_EXAMPLE).decode()],
                        },
                        "audioFile": {"type": "string", "format": "binary"},
                        "track_0_file": {"type": "string", "format": "binary"},
                        "track_1_file": {"type": "string", "format": "binary"},
                        "coverArtFile": {"type": "string", "format": "binary"},
                    },
                },
                "encoding": {"payload": {"contentType": "application/json"}},
            }
        },
    }
}
_submit_responses: dict[int | str, dict[str, str]] = {
    403: {"description": "Not an approved artist (not_an_artist)"},
    413: {"description": "A file or the body passed its limit (payload_too_large)"},
    415: {"description": "Not multipart/form-data (unsupported_media_type)"},
    422: {"description": "Invalid payload (validation_failed), a file refused "
          "(unsupported_file), missing (missing_file) or a checksum mismatch (checksum_mismatch)"},
    503: {"description": "Storage unavailable (storage_unavailable); retry"},
}  # fmt: skip


@router.post(
    "/submissions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmissionOut,
    summary="Submit a single, EP or LP",
    responses=_submit_responses,
    openapi_extra=_multipart_body,
    dependencies=[Depends(require_principal), Depends(RateLimit("submissions"))],
)
async def submit(
    principal: CurrentPrincipal, request: Request, session: DbSession, services: AppServices
) -> SubmissionOut:
    """Multipart: a JSON `payload` part (release type, metadata, track list, mood tags, credits,
    rights metadata, the five legal warranties, optional per-part SHA-256 `checksums`), the
    audio (`audioFile` for a single, `track_0_file`, `track_1_file`, … for an EP or LP; WAV,
    FLAC, MP3, M4A/AAC, OGG or Opus, each at most 50 MB) and `coverArtFile` (JPEG, PNG or
    WebP, at most 5 MB). Files are streamed to storage and verified by decoding."""
    # Read on a connection of its own, returned at once: an upload can take minutes, and the
    # request's session must not hold a pooled connection (and an open transaction) meanwhile.
    # It first touches the database when the files are in, to record them.
    async with services.read_sessionmaker() as read:
        artist = await service.artist_for(read, principal.user_id)
    submission = await service.submit(
        session,
        services,
        RequestMeta.of(request),
        artist,
        content_type=request.headers.get("content-type", ""),
        body=request.stream(),
    )
    files, pipelines = await media.files_and_pipelines(session, submission.id)
    return service.submission_out(services, submission, files, pipelines=pipelines)


# The seed web client's path for the same upload.
router.add_api_route(
    "/tracks/submit",
    submit,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=SubmissionOut,
    summary="Submit a release (the seed's path)",
    responses=_submit_responses,
    openapi_extra=_multipart_body,
    dependencies=[Depends(require_principal), Depends(RateLimit("submissions"))],
    deprecated=True,
)


@router.get("/submissions", response_model=Page[SubmissionOut], summary="My submissions")
async def my_submissions(
    principal: CurrentPrincipal,
    session: ReadSession,
    services: AppServices,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[SubmissionOut]:
    rows = await repository.list_submissions(
        session, user_id=principal.user_id, status=None, page=PageRequest(limit, cursor)
    )
    files = await repository.files_of(session, [row.id for row in rows.items])
    return rows.shaped(lambda row: service.submission_out(services, row, files.get(row.id, [])))


@router.get(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    summary="One of my submissions",
    responses={404: {"description": "No such submission of yours (not_found)"}},
)
async def my_submission(
    submission_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReadSession,
    services: AppServices,
) -> SubmissionOut:
    """With short-lived signed URLs to its files. Another artist's submission is a 404."""
    submission = await repository.owned_submission(session, submission_id, principal.user_id)
    if submission is None:
        raise NotFound("No such submission.")
    files, pipelines = await media.files_and_pipelines(session, submission.id)
    return service.submission_out(services, submission, files, signed=True, pipelines=pipelines)
