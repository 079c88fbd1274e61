"""Queries of the media pipeline: its state per track, and the renditions it stored."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.models import MediaObject, MediaPipeline

RENDITION = "rendition"


async def queue(
    session: AsyncSession, media_object_ids: Collection[uuid.UUID], now: datetime
) -> list[uuid.UUID]:
    """A pipeline row per file, queued (a re-run queues the row again, unless a worker holds
    it now: that run goes on); the files queued."""
    queued = []
    for media_object_id in media_object_ids:
        found = await session.get(MediaPipeline, media_object_id, with_for_update=True)
        if found is None:
            session.add(MediaPipeline(media_object_id=media_object_id, status="queued"))
        elif found.status == "running" and found.locked_until and found.locked_until > now:
            continue
        else:
            found.status, found.step, found.progress, found.reason = "queued", None, 0.0, None
            found.locked_until = None
        queued.append(media_object_id)
    await session.flush()
    return queued


async def claim(
    session: AsyncSession, media_object_id: uuid.UUID, now: datetime, until: datetime
) -> int | None:
    """Take the file's pipeline for this worker: its run number, or None when it is done,
    failed, or held by another worker whose hold has not run out."""
    claimed = await session.execute(
        update(MediaPipeline)
        .where(
            MediaPipeline.media_object_id == media_object_id,
            or_(
                MediaPipeline.status == "queued",
                (MediaPipeline.status == "running") & (MediaPipeline.locked_until < now),
            ),
        )
        .values(
            status="running",
            step="decoding",
            progress=0.0,
            reason=None,
            runs=MediaPipeline.runs + 1,
            locked_until=until,
        )
        .returning(MediaPipeline.runs)
    )
    return claimed.scalar_one_or_none()


def _held(media_object_id: uuid.UUID, run: int) -> Any:
    return (
        (MediaPipeline.media_object_id == media_object_id)
        & (MediaPipeline.runs == run)
        & (MediaPipeline.status == "running")
    )


async def report(
    session: AsyncSession,
    media_object_id: uuid.UUID,
    run: int,
    *,
    step: str,
    progress: float,
    until: datetime,
) -> bool:
    """Progress, and the hold renewed; False when the run was taken over."""
    updated = await session.execute(
        update(MediaPipeline)
        .where(_held(media_object_id, run))
        .values(step=step, progress=progress, locked_until=until)
    )
    return bool(getattr(updated, "rowcount", 0))


async def finish(
    session: AsyncSession,
    media_object_id: uuid.UUID,
    run: int,
    renditions: list[MediaObject],
    results: dict[str, Any],
) -> bool:
    """The run's renditions replace any earlier ones, and the pipeline is done; False (and
    nothing written) when the run was taken over."""
    held = await session.execute(
        select(MediaPipeline.media_object_id).where(_held(media_object_id, run)).with_for_update()
    )
    if held.first() is None:
        return False
    await session.execute(delete(MediaObject).where(MediaObject.source_id == media_object_id))
    session.add_all(renditions)
    await session.execute(
        update(MediaPipeline)
        .where(MediaPipeline.media_object_id == media_object_id)
        .values(status="done", step=None, progress=1.0, locked_until=None, **results)
    )
    return True


async def fail(session: AsyncSession, media_object_id: uuid.UUID, run: int, reason: str) -> None:
    await session.execute(
        update(MediaPipeline)
        .where(_held(media_object_id, run))
        .values(status="failed", step=None, reason=reason[:500], locked_until=None)
    )


async def pipelines(
    session: AsyncSession, media_object_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, MediaPipeline]:
    if not media_object_ids:
        return {}
    statement = select(MediaPipeline).where(MediaPipeline.media_object_id.in_(media_object_ids))
    return {row.media_object_id: row for row in await session.scalars(statement)}


async def renditions_of(session: AsyncSession, source_id: uuid.UUID) -> list[MediaObject]:
    statement = select(MediaObject).where(MediaObject.source_id == source_id)
    return list(await session.scalars(statement))


def _of_submission(submission_id: uuid.UUID) -> Select[MediaPipeline]:
    return (
        select(MediaPipeline)
        .join(MediaObject, MediaObject.id == MediaPipeline.media_object_id)
        .where(MediaObject.submission_id == submission_id, MediaObject.role == "audio")
        .order_by(MediaPipeline.media_object_id)
    )


async def submission_pipelines(
    session: AsyncSession, submission_id: uuid.UUID
) -> dict[uuid.UUID, MediaPipeline]:
    """The pipelines of a submission's uploaded tracks, by file."""
    rows = await session.scalars(_of_submission(submission_id))
    return {row.media_object_id: row for row in rows}


async def release_pipelines(session: AsyncSession, submission_id: uuid.UUID) -> list[MediaPipeline]:
    """The pipelines of a submission's uploaded tracks, locked (the album's loudness is
    written on each)."""
    return list(await session.scalars(_of_submission(submission_id).with_for_update()))


async def unprocessed(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    """Uploaded tracks that have no pipeline at all (uploaded before there was one)."""
    statement = (
        select(MediaObject.id)
        .outerjoin(MediaPipeline, MediaPipeline.media_object_id == MediaObject.id)
        .where(MediaObject.role == "audio", MediaPipeline.media_object_id.is_(None))
        .order_by(MediaObject.id)
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def stalled(session: AsyncSession, held_before: datetime, limit: int) -> list[uuid.UUID]:
    """Files whose pipeline is `running` with a hold that lapsed before `held_before`: its
    worker died, and no job is left to take it over."""
    statement = (
        select(MediaPipeline.media_object_id)
        .where(MediaPipeline.status == "running", MediaPipeline.locked_until < held_before)
        .limit(limit)
    )
    return list(await session.scalars(statement))
