"""Review rules: only pending items are decided, never by their own author; every decision is
emailed to the artist and written to the audit log in the same unit of work."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.artists import repository as artists
from empulse.artists.service import decrypt_w9
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.core.crypto import FieldCipher, Sealer
from empulse.core.db import utcnow
from empulse.core.errors import Conflict, Forbidden, NotFound
from empulse.infra.email import enqueue_email
from empulse.models import Artist, ArtistApplication, User, UserRole
from empulse.review import emails


class AlreadyReviewed(Conflict):
    code = "already_reviewed"
    title = "Already reviewed"


class OwnReview(Forbidden):
    code = "own_review"
    title = "Cannot review your own"


async def get_application(session: AsyncSession, application_id: uuid.UUID) -> ArtistApplication:
    application = await session.get(ArtistApplication, application_id)
    if application is None:
        raise NotFound("No such application.")
    return application


async def _claim(
    session: AsyncSession,
    application: ArtistApplication,
    reviewer_id: uuid.UUID,
    status: str,
    reason: str | None,
) -> None:
    """Move a pending application to `status`, atomically: of two admins deciding at once,
    one wins and the other gets 409."""
    if application.user_id == reviewer_id:
        raise OwnReview("An application is reviewed by another administrator.")
    result = await session.execute(
        update(ArtistApplication)
        .where(ArtistApplication.id == application.id, ArtistApplication.status == "pending")
        .values(status=status, reviewer_id=reviewer_id, reviewed_at=utcnow(), review_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyReviewed(f"This application is already {application.status}.")
    await session.refresh(application)


async def decide_application(
    session: AsyncSession,
    sealer: Sealer,
    application_id: uuid.UUID,
    reviewer_id: uuid.UUID,
    meta: RequestMeta,
    *,
    approve: bool,
    reason: str | None = None,
) -> ArtistApplication:
    application = await get_application(session, application_id)
    await _claim(session, application, reviewer_id, "approved" if approve else "rejected", reason)
    user = await session.get(User, application.user_id)
    assert user is not None  # the application cascades with its user
    if approve:
        if user.role == UserRole.USER.value:
            user.role = UserRole.ARTIST.value
        if await artists.artist_of_user(session, user.id) is None:
            session.add(
                Artist(
                    user_id=user.id,
                    application_id=application.id,
                    name=application.artist_name,
                    mediums=application.mediums,
                )
            )
    await session.flush()
    enqueue_email(
        session,
        sealer,
        emails.application_decided(user.email, user.name, application.public_id, approve, reason),
    )
    audit.record(
        session,
        "artist_application_approved" if approve else "artist_application_rejected",
        meta,
        user_id=reviewer_id,
        application_id=str(application.id),
        applicant_id=str(user.id),
    )
    return application


async def read_w9(
    session: AsyncSession,
    cipher: FieldCipher,
    application_id: uuid.UUID,
    reviewer_id: uuid.UUID,
    meta: RequestMeta,
) -> tuple[ArtistApplication, dict[str, object]]:
    application = await get_application(session, application_id)
    document = decrypt_w9(cipher, application)
    audit.record(
        session, "w9_viewed", meta, user_id=reviewer_id, application_id=str(application.id)
    )
    return application, document
