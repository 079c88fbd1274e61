"""Review rules: only pending items are decided, never by their own author; every decision is
emailed to the artist and written to the audit log in the same unit of work."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts
from empulse.artists import repository as artists
from empulse.artists.service import decrypt_w9
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.catalog.images import public_image
from empulse.catalog.service import mood_names
from empulse.core.crypto import DecryptionError, FieldCipher, Sealer
from empulse.core.db import utcnow
from empulse.core.errors import AppError, Conflict, Forbidden, NotFound
from empulse.infra.email import enqueue_email
from empulse.media import service as media
from empulse.models import (
    Album,
    Artist,
    ArtistApplication,
    MediaObject,
    Submission,
    Track,
    TrackMood,
    User,
    UserRole,
)
from empulse.review import emails, repository
from empulse.services import Services
from empulse.submissions import repository as submissions
from empulse.submissions.upload import Upload


class AlreadyReviewed(Conflict):
    code = "already_reviewed"
    title = "Already reviewed"


class MediaNotReady(Conflict):
    code = "media_not_ready"
    title = "Audio not processed yet"


class OwnReview(Forbidden):
    code = "own_review"
    title = "Cannot review your own"


class W9Unreadable(AppError):
    """No configured key opens the W-9: its key was removed from ENCRYPTION_KEYS_PREVIOUS
    before `empulse keys rotate` re-encrypted it, or the stored bytes were altered."""

    status = 500
    code = "w9_unreadable"
    title = "The W-9 cannot be decrypted"


async def get_application(session: AsyncSession, application_id: uuid.UUID) -> ArtistApplication:
    application = await session.get(ArtistApplication, application_id)
    if application is None:
        raise NotFound("No such application.")
    return application


async def _lock_applicant(session: AsyncSession, user_id: uuid.UUID, gone: str) -> None:
    """Lock the applicant's row before deciding (accounts/repository.lock_referenced): a deletion of
    their account in flight is waited for, and then the decision finds nothing; one that starts
    meanwhile waits for the decision, and so lists the cover copies it publishes. Locked in the
    other order, the two deadlock."""
    if not await accounts.lock_referenced(session, user_id):
        raise NotFound(gone)


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
    claimed = await repository.transition(
        session,
        ArtistApplication,
        application.id,
        from_status="pending",
        status=status,
        reviewer_id=reviewer_id,
        reviewed_at=utcnow(),
        review_reason=reason,
    )
    if not claimed:
        await session.refresh(application)  # the decision that won
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
    await _lock_applicant(session, application.user_id, "No such application.")
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
    try:
        document = decrypt_w9(cipher, application)
    except DecryptionError as exc:
        key = FieldCipher.key_id_of(application.w9_ciphertext)
        raise W9Unreadable(f"No configured key opens this W-9 (key {key}).") from exc
    audit.record(
        session, "w9_viewed", meta, user_id=reviewer_id, application_id=str(application.id)
    )
    return application, document


async def get_submission(session: AsyncSession, submission_id: uuid.UUID) -> Submission:
    submission = await session.get(Submission, submission_id)
    if submission is None:
        raise NotFound("No such submission.")
    return submission


async def _public_covers(
    services: Services, submission: Submission, files: list[MediaObject], album_id: uuid.UUID
) -> tuple[list[dict[str, Any]], list[str]]:
    """Copy the cover sizes to public, content-addressed keys under the album (immutable: a key's
    bytes never change), registered as pending first (and done before this unit of work writes
    anything), so a failed commit leaves only what the sweep removes."""
    covers = sorted((f for f in files if f.role == "cover"), key=lambda f: -f.details["size"])
    images = [public_image("covers", album_id, cover.sha256, cover.details) for cover in covers]
    upload = Upload(services)
    await upload.remember_keys([image["key"] for image in images])
    for cover, image in zip(covers, images, strict=True):
        await services.storage.copy(cover.key, image["key"])
    return images, upload.keys


async def _publish(
    session: AsyncSession,
    submission: Submission,
    files: list[MediaObject],
    album_id: uuid.UUID,
    images: list[dict[str, Any]],
    pending: list[str],
) -> Album:
    """The album and its tracks into the catalog, pointing at the submission's files."""
    await submissions.end_pending(session, pending)
    payload = submission.payload
    now = utcnow()
    album = Album(
        id=album_id,
        artist_id=submission.artist_id,
        submission_id=submission.id,
        title=submission.title,
        release_type=submission.release_type,
        genre=submission.genre,
        subgenre=payload["metadata"].get("subgenre"),
        images=images,
        published_at=now,
    )
    session.add(album)
    await session.flush()
    tracks = payload["tracks"] or [
        {"title": payload["metadata"]["trackName"], "isrc": payload["metadata"].get("isrc")}
    ]
    audio = sorted((f for f in files if f.role == "audio"), key=lambda f: f.track_index or 0)
    mood_tags = payload.get("artistMoodTags") or {}
    for position, (track, media_object) in enumerate(zip(tracks, audio, strict=True), start=1):
        track_id = uuid.uuid4()
        session.add(
            Track(
                id=track_id,
                album_id=album.id,
                artist_id=submission.artist_id,
                audio_id=media_object.id,
                position=position,
                title=track["title"],
                genre=submission.genre,
                subgenre=album.subgenre,
                isrc=track.get("isrc"),
                mood_tags=mood_tags,
                credits={
                    "composers": track.get("composers") or payload.get("composers", []),
                    "lyricists": track.get("lyricists") or payload.get("lyricists", []),
                    "publishers": payload.get("publishers", []),
                },
                duration_seconds=float(media_object.details.get("durationSeconds") or 0),
                published_at=now,
            )
        )
        session.add_all(TrackMood(track_id=track_id, mood=name) for name in mood_names(mood_tags))
    return album


async def decide_submission(
    session: AsyncSession,
    services: Services,
    submission_id: uuid.UUID,
    reviewer_id: uuid.UUID,
    meta: RequestMeta,
    *,
    approve: bool,
    reason: str | None = None,
) -> Submission:
    submission = await get_submission(session, submission_id)
    await _lock_applicant(session, submission.user_id, "No such submission.")
    if submission.user_id == reviewer_id:
        raise OwnReview("A submission is reviewed by another administrator.")
    if submission.status != "pending":
        raise AlreadyReviewed(f"This submission is already {submission.status}.")
    if approve:
        files = (await submissions.files_of(session, [submission.id]))[submission.id]
        if (unready := await media.not_publishable(session, files)) is not None:
            raise MediaNotReady(unready)
        album_id = uuid.uuid4()
        images, pending = await _public_covers(services, submission, files, album_id)
    claimed = await repository.transition(
        session,
        Submission,
        submission.id,
        from_status="pending",
        status="approved" if approve else "rejected",
        reviewer_id=reviewer_id,
        reviewed_at=utcnow(),
        review_reason=reason,
    )
    if not claimed:
        await session.refresh(submission)  # the decision that won
        raise AlreadyReviewed(f"This submission is already {submission.status}.")
    await session.refresh(submission)
    if approve:
        await _publish(session, submission, files, album_id, images, pending)
    await session.flush()
    user = await session.get(User, submission.user_id)
    assert user is not None
    enqueue_email(
        session,
        services.job_sealer,
        emails.submission_decided(
            user.email, user.name, submission.public_id, submission.title, approve, reason
        ),
    )
    audit.record(
        session,
        "submission_approved" if approve else "submission_rejected",
        meta,
        user_id=reviewer_id,
        submission_id=str(submission.id),
        artist_user_id=str(user.id),
    )
    return submission


class AlreadyTakenDown(Conflict):
    code = "already_taken_down"
    title = "Already taken down"


class NotTakenDown(Conflict):
    code = "not_taken_down"
    title = "Not taken down"


async def get_track(session: AsyncSession, track_id: uuid.UUID) -> Track:
    track = await session.get(Track, track_id)
    if track is None:
        raise NotFound("No such track.")
    return track


async def _artist_user(session: AsyncSession, artist_id: uuid.UUID) -> User:
    artist = await session.get(Artist, artist_id)
    user = await session.get(User, artist.user_id) if artist else None
    assert user is not None  # the track cascades with its artist, the artist with its user
    return user


async def take_down_track(
    session: AsyncSession,
    sealer: Sealer,
    track_id: uuid.UUID,
    admin_id: uuid.UUID,
    meta: RequestMeta,
    reason: str,
) -> Track:
    """Hide a published track from listeners (PRODUCT.md section 4); the files stay, so it can
    be restored. The artist is told why."""
    track = await get_track(session, track_id)
    taken = await repository.transition(
        session,
        Track,
        track.id,
        from_status="published",
        status="taken_down",
        taken_down_at=utcnow(),
        takedown_reason=reason,
    )
    if not taken:
        raise AlreadyTakenDown("This track is already taken down.")
    await session.refresh(track)
    user = await _artist_user(session, track.artist_id)
    enqueue_email(
        session, sealer, emails.track_taken_down(user.email, user.name, track.title, reason)
    )
    audit.record(
        session, "track_taken_down", meta, user_id=admin_id, track_id=str(track.id), reason=reason
    )
    return track


async def restore_track(
    session: AsyncSession,
    sealer: Sealer,
    track_id: uuid.UUID,
    admin_id: uuid.UUID,
    meta: RequestMeta,
) -> Track:
    track = await get_track(session, track_id)
    restored = await repository.transition(
        session, Track, track.id, from_status="taken_down", status="published"
    )
    if not restored:
        raise NotTakenDown("This track is published; there is nothing to restore.")
    await session.refresh(track)
    user = await _artist_user(session, track.artist_id)
    enqueue_email(session, sealer, emails.track_restored(user.email, user.name, track.title))
    audit.record(session, "track_restored", meta, user_id=admin_id, track_id=str(track.id))
    return track
