"""Queries for submissions and their files; what a caller may see is decided here."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.pagination import paginate
from empulse.models import MediaObject, Submission


async def owned_submission(
    session: AsyncSession, submission_id: uuid.UUID, user_id: uuid.UUID
) -> Submission | None:
    """The submission if `user_id` owns it; another user's is indistinguishable from none."""
    result = await session.scalars(
        select(Submission).where(Submission.id == submission_id, Submission.user_id == user_id)
    )
    return result.first()


async def list_submissions(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> list[Submission]:
    statement = select(Submission)
    if user_id is not None:
        statement = statement.where(Submission.user_id == user_id)
    if status is not None:
        statement = statement.where(Submission.status == status)
    statement = paginate(
        statement, Submission.created_at, Submission.id, cursor=cursor, limit=limit
    )
    return list(await session.scalars(statement))


async def files_of(
    session: AsyncSession, submission_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[MediaObject]]:
    files: dict[uuid.UUID, list[MediaObject]] = {sid: [] for sid in submission_ids}
    if not submission_ids:
        return files
    result = await session.scalars(
        select(MediaObject)
        .where(MediaObject.submission_id.in_(submission_ids))
        .order_by(MediaObject.role, MediaObject.track_index, MediaObject.key)
    )
    for media_object in result:
        assert media_object.submission_id is not None
        files[media_object.submission_id].append(media_object)
    return files
