"""Queries for submissions and their files; what a caller may see is decided here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.pagination import Order, PageRequest, Rows, fetch_page
from empulse.models import Album, Artist, MediaObject, PendingUpload, Submission


async def owned_submission(
    session: AsyncSession, submission_id: uuid.UUID, user_id: uuid.UUID
) -> Submission | None:
    """The submission if `user_id` owns it; another user's is indistinguishable from none."""
    result = await session.scalars(
        select(Submission).where(Submission.id == submission_id, Submission.user_id == user_id)
    )
    return result.first()


async def submissions_of(session: AsyncSession, user_id: uuid.UUID) -> list[Submission]:
    """Every submission the user made, oldest first."""
    result = await session.scalars(
        select(Submission).where(Submission.user_id == user_id).order_by(Submission.created_at)
    )
    return list(result)


async def list_submissions(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    status: str | None,
    page: PageRequest,
) -> Rows[Submission]:
    statement = select(Submission)
    if user_id is not None:
        statement = statement.where(Submission.user_id == user_id)
    if status is not None:
        statement = statement.where(Submission.status == status)
    return await fetch_page(
        session, statement, Order.newest_first(Submission.created_at, Submission.id), page
    )


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


async def storage_keys_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """Every stored object that belongs to the user: their submissions' audio and covers, the
    public cover copies of their published albums, and their artist image."""
    keys = list(
        await session.scalars(
            select(MediaObject.key)
            .join(Submission, Submission.id == MediaObject.submission_id)
            .where(Submission.user_id == user_id)
        )
    )
    covers = await session.scalars(
        select(Album.images)
        .join(Artist, Artist.id == Album.artist_id)
        .where(Artist.user_id == user_id)
    )
    artist_images = await session.scalars(select(Artist.images).where(Artist.user_id == user_id))
    for images in [*covers, *artist_images]:
        keys.extend(image["key"] for image in images)
    return keys


async def end_pending(session: AsyncSession, keys: list[str]) -> None:
    """These objects are no longer the sweep's to delete: a committed row now references each
    one, or it was deleted already."""
    await session.execute(delete(PendingUpload).where(PendingUpload.key.in_(keys)))


async def pending_since(session: AsyncSession, cutoff: datetime, limit: int) -> list[str]:
    """Keys of uploads that started before `cutoff` and never committed."""
    result = await session.scalars(
        select(PendingUpload.key).where(PendingUpload.created_at <= cutoff).limit(limit)
    )
    return list(result)
