"""HTTP for the media pipeline: a track's waveform (public, cacheable), and an admin's re-run
of a submission's pipeline."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from empulse.auth.dependencies import admin_router
from empulse.catalog.repository import playable_audio
from empulse.core.errors import NotFound
from empulse.media import repository, service
from empulse.media.schemas import PipelineQueuedOut, WaveformOut
from empulse.services import DbSession, ReadSession
from empulse.submissions import repository as submissions
from empulse.web.caching import PUBLIC_MAX_AGE, public_json
from empulse.web.paths import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/tracks", tags=["catalog"])
admin = admin_router("/submissions")


@router.get(
    "/{track_id}/waveform",
    response_model=WaveformOut,
    summary="A track's waveform",
    responses={
        304: {"description": "Not modified (`If-None-Match` matched the `ETag`)."},
        404: {"description": "No visible track, or its waveform is not computed yet (not_found)"},
    },
)
async def waveform(
    track_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    points: Annotated[int, Query(ge=10, le=1000, description="How many points.")] = 200,
) -> Response:
    """Computed once at ingest (1,000 points), reduced here to `points`; readable without
    signing in, cacheable like the catalog."""
    audio = await playable_audio(session, track_id)
    pipeline = (await repository.pipelines(session, [audio.id])).get(audio.id) if audio else None
    if pipeline is None or not pipeline.waveform:
        raise NotFound("No waveform for this track (yet).")
    quality = pipeline.quality or {}
    body = WaveformOut(
        points=0,
        duration_ms=round(float(quality.get("durationSeconds") or 0) * 1000),
        peaks=service.downsampled(pipeline.waveform, points),
    )
    body.points = len(body.peaks)
    return public_json(request, body, max_age=PUBLIC_MAX_AGE)


@admin.post(
    "/{submission_id}/media-pipeline",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PipelineQueuedOut,
    summary="Run a submission's media pipeline again",
    responses={404: {"description": "No such submission (not_found)"}},
)
async def rerun(submission_id: uuid.UUID, session: DbSession) -> PipelineQueuedOut:
    """Every uploaded track of the submission is processed again (after a failure whose
    cause is fixed, say); the renditions are replaced when the run finishes."""
    files = (await submissions.files_of(session, [submission_id])).get(submission_id)
    if files is None:
        raise NotFound("No such submission.")
    audio = [f.id for f in files if f.role == "audio"]
    if not audio:
        raise NotFound("No such submission.")
    return PipelineQueuedOut(queued=await service.queue(session, audio))
