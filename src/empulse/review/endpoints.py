"""HTTP for /admin review: artist applications (and their W-9), track submissions, and
take-down / restore of published tracks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.artists import repository as artists
from empulse.artists.service import application_record_out
from empulse.audit.service import RequestMeta
from empulse.auth.dependencies import AdminPrincipal, admin_router
from empulse.core.db import utcnow
from empulse.core.pagination import Cursor, Limit, Page, PageRequest
from empulse.media import service as media
from empulse.models import ArtistApplication, MediaObject, MediaPipeline, Submission
from empulse.review import repository, service
from empulse.review.schemas import (
    AdminApplicationOut,
    AdminTrackOut,
    RejectIn,
    TakeDownIn,
    W9Out,
)
from empulse.services import AppServices, DbSession, ReadSession, Services
from empulse.submissions import repository as submissions
from empulse.submissions.schemas import SubmissionOut
from empulse.submissions.service import submission_out

router = admin_router("")

Status = Literal["pending", "approved", "rejected"]
_NO_APPLICATION: dict[int | str, dict[str, str]] = {
    404: {"description": "No such application (not_found)"}
}
_NO_SUBMISSION: dict[int | str, dict[str, str]] = {
    404: {"description": "No such submission (not_found)"}
}
_application_decision: dict[int | str, dict[str, str]] = {
    **_NO_APPLICATION,
    403: {"description": "Your own application (own_review) or not an admin"},
    409: {"description": "Already approved or rejected (already_reviewed)"},
}
_submission_decision: dict[int | str, dict[str, str]] = {
    **_NO_SUBMISSION,
    403: {"description": "Your own submission (own_review) or not an admin"},
    409: {"description": "Already approved or rejected (already_reviewed)"},
}


def _admin_application(application: ArtistApplication) -> AdminApplicationOut:
    return AdminApplicationOut(
        **application_record_out(application).model_dump(),
        user_id=application.user_id,
        reviewer_id=application.reviewer_id,
    )


@router.get("/applications", response_model=Page[AdminApplicationOut], summary="List applications")
async def list_applications(
    session: ReadSession,
    status: Status | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[AdminApplicationOut]:
    """Newest first; filter by status; tax ids masked."""
    rows = await artists.list_applications(session, status=status, page=PageRequest(limit, cursor))
    return rows.shaped(_admin_application)


@router.get(
    "/applications/{application_id}",
    response_model=AdminApplicationOut,
    summary="One application (W-9 masked)",
    responses=_NO_APPLICATION,
)
async def get_application(application_id: uuid.UUID, session: ReadSession) -> AdminApplicationOut:
    return _admin_application(await service.get_application(session, application_id))


@router.get(
    "/applications/{application_id}/w9",
    response_model=W9Out,
    summary="The decrypted W-9 (audit-logged)",
    responses={
        404: {"description": "No such application (not_found)"},
        500: {"description": "No configured key opens it (w9_unreadable)"},
    },
)
async def read_w9(
    application_id: uuid.UUID,
    admin: AdminPrincipal,
    request: Request,
    response: Response,
    session: DbSession,
    services: AppServices,
) -> W9Out:
    """Every call writes a `w9_viewed` audit record naming the administrator; the record is
    committed before the form is returned. The response is never cached."""
    application, document = await service.read_w9(
        session, services.w9_cipher, application_id, admin.user_id, RequestMeta.of(request)
    )
    response.headers["Cache-Control"] = "no-store"
    return W9Out.model_validate(
        {**document, "applicationId": application.public_id, "decryptedAt": utcnow()}
    )


@router.post(
    "/applications/{application_id}/approve",
    response_model=AdminApplicationOut,
    summary="Approve an application",
    responses=_application_decision,
)
async def approve_application(
    application_id: uuid.UUID,
    admin: AdminPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> AdminApplicationOut:
    """The applicant becomes an ARTIST with an artist profile, and is emailed."""
    application = await service.decide_application(
        session,
        services.job_sealer,
        application_id,
        admin.user_id,
        RequestMeta.of(request),
        approve=True,
    )
    return _admin_application(application)


@router.post(
    "/applications/{application_id}/reject",
    response_model=AdminApplicationOut,
    summary="Reject an application",
    responses=_application_decision,
)
async def reject_application(
    application_id: uuid.UUID,
    body: RejectIn,
    admin: AdminPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> AdminApplicationOut:
    """The applicant is emailed the reason and may apply again."""
    application = await service.decide_application(
        session,
        services.job_sealer,
        application_id,
        admin.user_id,
        RequestMeta.of(request),
        approve=False,
        reason=body.reason.strip(),
    )
    return _admin_application(application)


class AdminSubmissionOut(SubmissionOut):
    user_id: uuid.UUID
    artist_id: uuid.UUID
    payload: dict[str, Any]


def _admin_submission_of(
    services: Services,
    submission: Submission,
    files: list[MediaObject],
    *,
    signed: bool,
    pipelines: Mapping[uuid.UUID, MediaPipeline] | None = None,
) -> AdminSubmissionOut:
    shown = submission_out(services, submission, files, signed=signed, pipelines=pipelines)
    return AdminSubmissionOut(
        **shown.model_dump(),
        user_id=submission.user_id,
        artist_id=submission.artist_id,
        payload=submission.payload,
    )


async def _admin_submission(
    session: AsyncSession, services: Services, submission: Submission, *, signed: bool
) -> AdminSubmissionOut:
    files, pipelines = await media.files_and_pipelines(session, submission.id)
    return _admin_submission_of(services, submission, files, signed=signed, pipelines=pipelines)


@router.get("/submissions", response_model=Page[AdminSubmissionOut], summary="List submissions")
async def list_submissions(
    session: ReadSession,
    services: AppServices,
    status: Status | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[AdminSubmissionOut]:
    """Newest first; filter by status."""
    rows = await submissions.list_submissions(
        session, user_id=None, status=status, page=PageRequest(limit, cursor)
    )
    files = await submissions.files_of(session, [row.id for row in rows.items])
    return rows.shaped(lambda row: _admin_submission_of(services, row, files[row.id], signed=False))


@router.get(
    "/submissions/{submission_id}",
    response_model=AdminSubmissionOut,
    summary="One submission, with signed URLs to listen",
    responses=_NO_SUBMISSION,
)
async def get_submission(
    submission_id: uuid.UUID, session: ReadSession, services: AppServices
) -> AdminSubmissionOut:
    submission = await service.get_submission(session, submission_id)
    return await _admin_submission(session, services, submission, signed=True)


@router.post(
    "/submissions/{submission_id}/approve",
    response_model=AdminSubmissionOut,
    summary="Approve and publish a submission",
    responses={
        **_submission_decision,
        409: {
            "description": "Already approved or rejected (already_reviewed), or a track's "
            "audio is not processed yet or failed to (media_not_ready)"
        },
    },
)
async def approve_submission(
    submission_id: uuid.UUID,
    admin: AdminPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> AdminSubmissionOut:
    """Publishes its album and tracks into the catalog, with their audio and cover files."""
    submission = await service.decide_submission(
        session, services, submission_id, admin.user_id, RequestMeta.of(request), approve=True
    )
    return await _admin_submission(session, services, submission, signed=False)


@router.post(
    "/submissions/{submission_id}/reject",
    response_model=AdminSubmissionOut,
    summary="Reject a submission",
    responses=_submission_decision,
)
async def reject_submission(
    submission_id: uuid.UUID,
    body: RejectIn,
    admin: AdminPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> AdminSubmissionOut:
    submission = await service.decide_submission(
        session,
        services,
        submission_id,
        admin.user_id,
        RequestMeta.of(request),
        approve=False,
        reason=body.reason.strip(),
    )
    return await _admin_submission(session, services, submission, signed=False)


_track_responses: dict[int | str, dict[str, str]] = {
    404: {"description": "No such track (not_found)"},
    409: {"description": "Already in that state (already_taken_down, not_taken_down)"},
}


@router.get("/tracks", response_model=Page[AdminTrackOut], summary="Published tracks")
async def list_tracks(
    session: ReadSession,
    status: Literal["published", "taken_down"] | None = None,
    artist_id: Annotated[uuid.UUID | None, Query(alias="artistId")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AdminTrackOut]:
    """Newest first; filter by status and artist."""
    rows = await repository.list_tracks(
        session, status=status, artist_id=artist_id, page=PageRequest(limit, cursor)
    )
    return rows.shaped(AdminTrackOut.model_validate)


@router.post(
    "/tracks/{track_id}/take-down",
    response_model=AdminTrackOut,
    summary="Take a track down",
    responses=_track_responses,
)
async def take_down_track(
    track_id: uuid.UUID,
    body: TakeDownIn,
    admin: AdminPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> AdminTrackOut:
    """Listeners no longer see or stream it; its files stay so it can be restored. The artist
    is emailed the reason; the action is audit-logged."""
    track = await service.take_down_track(
        session,
        services.job_sealer,
        track_id,
        admin.user_id,
        RequestMeta.of(request),
        body.reason.strip(),
    )
    return AdminTrackOut.model_validate(track)


@router.post(
    "/tracks/{track_id}/restore",
    response_model=AdminTrackOut,
    summary="Restore a taken-down track",
    responses=_track_responses,
)
async def restore_track(
    track_id: uuid.UUID,
    admin: AdminPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> AdminTrackOut:
    """Published again; the artist is emailed; audit-logged."""
    track = await service.restore_track(
        session, services.job_sealer, track_id, admin.user_id, RequestMeta.of(request)
    )
    return AdminTrackOut.model_validate(track)
