"""Submission rules: approved artists only; the payload and the files must agree; nothing is
kept unless everything is."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts
from empulse.artists import repository as artists
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.config import Settings
from empulse.core.crypto import public_id
from empulse.core.errors import Forbidden, InvalidFields, ValidationFailed
from empulse.infra.storage import DownloadSpec
from empulse.media import service as media
from empulse.models import Artist, MediaObject, MediaPipeline, Submission
from empulse.services import Services
from empulse.submissions import repository
from empulse.submissions.schemas import LP_TRACKS, FileOut, SubmissionOut, SubmissionPayload
from empulse.submissions.upload import COVER_PART, StoredFile, Upload
from empulse.web.multipart import read_multipart

MAX_PARTS = 40
SIGNED_URL_SECONDS = 10 * 60


def upload_body_limit(settings: Settings) -> int:
    """The largest whole submission: an LP's audio files, the cover and the payload."""
    return (
        LP_TRACKS[1] * settings.max_audio_bytes
        + settings.max_cover_bytes
        + settings.max_json_body_bytes
        + 64 * 1024 * MAX_PARTS  # part headers and boundaries
    )


class NotAnArtist(Forbidden):
    code = "not_an_artist"
    title = "Approved artists only"


class MissingFile(ValidationFailed):
    code = "missing_file"
    title = "A file is missing"


class ChecksumMismatch(ValidationFailed):
    code = "checksum_mismatch"
    title = "Checksum mismatch"


async def artist_for(session: AsyncSession, user_id: uuid.UUID) -> Artist:
    artist = await artists.active_artist_of_user(session, user_id)
    if artist is None:
        raise NotAnArtist("Only approved artists can submit releases; apply first.")
    return artist


def _parse_payload(fields: dict[str, str]) -> SubmissionPayload:
    raw = fields.get("payload")
    if raw is None:
        raise ValidationFailed("Send the release metadata as a JSON part named `payload`.",
                               code="missing_payload")  # fmt: skip
    try:
        return SubmissionPayload.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(
            "The `payload` part is not valid JSON.", code="invalid_payload"
        ) from exc
    except ValidationError as exc:
        raise InvalidFields(
            [{**error, "loc": ("payload", *error["loc"])} for error in exc.errors()]
        ) from exc


def _check_files(payload: SubmissionPayload, stored: list[StoredFile]) -> None:
    parts = {file.part for file in stored}
    expected = set(payload.audio_parts())
    missing = sorted(expected - parts) + ([] if COVER_PART in parts else [COVER_PART])
    if missing:
        raise MissingFile(f"Missing file part(s): {', '.join(missing)}.")
    extra = sorted(parts - expected - {COVER_PART})
    if extra:
        raise MissingFile(f"These parts do not match the track list: {', '.join(extra)}.",
                          code="unexpected_file")  # fmt: skip
    uploaded = {file.part: file.upload_sha256 for file in stored}
    for part, digest in payload.checksums.items():
        if part not in uploaded:
            raise ChecksumMismatch(f"A checksum names {part!r}, which was not sent.")
        if uploaded[part] != digest:
            raise ChecksumMismatch(f"{part}: the SHA-256 of the bytes received differs.")


async def submit(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    artist: Artist,
    *,
    content_type: str,
    body: AsyncIterator[bytes],
) -> Submission:
    """Stream a multipart release (`body`, of `content_type`) into storage, check it, and record
    it in the caller's transaction; a refusal leaves no file behind."""
    upload = Upload(services)
    try:
        fields = await read_multipart(
            content_type,
            body,
            upload.open_sink,
            max_parts=MAX_PARTS,
            max_field_bytes=services.settings.max_json_body_bytes,
        )
        await upload.settle()
        payload = _parse_payload(fields)
        _check_files(payload, upload.stored)
        return await record(session, artist, payload, upload.stored, upload.keys, meta)
    except BaseException:
        await upload.discard()
        raise


async def record(
    session: AsyncSession,
    artist: Artist,
    payload: SubmissionPayload,
    stored: list[StoredFile],
    pending_keys: list[str],
    meta: RequestMeta,
) -> Submission:
    """Write the submission, its files and the end of the "pending" state of every key the
    upload stored under, in the caller's transaction.

    The right to submit was checked when the upload began, and is checked again here: the
    files can take minutes to arrive. Refused (`NotAnArtist`) when meanwhile the account was
    deleted, disabled, or set back to USER. The owner's row is locked first
    (`accounts.repository.lock_referenced`), so a deletion in flight is waited for, and then there
    is nothing to point at."""
    if not await accounts.lock_referenced(session, artist.user_id):
        raise NotAnArtist("This artist profile no longer exists.")
    if await artists.active_artist_of_user(session, artist.user_id) is None:
        raise NotAnArtist("This account can no longer submit releases.")
    submission = Submission(
        id=uuid.uuid4(),
        public_id=public_id("TRK"),
        user_id=artist.user_id,
        artist_id=artist.id,
        release_type=payload.release_type,
        title=payload.title,
        genre=payload.metadata.genre,
        payload=payload.model_dump(mode="json", by_alias=True, exclude={"checksums"}),
    )
    session.add(submission)
    await session.flush()  # no ORM relationship orders the inserts: the parent goes first
    audio: list[uuid.UUID] = []
    for file in stored:
        media_object_id = uuid.uuid4()
        if file.role == "audio":
            audio.append(media_object_id)
        session.add(
            MediaObject(
                id=media_object_id,
                key=file.key,
                submission_id=submission.id,
                role=file.role,
                track_index=file.track_index,
                content_type=file.content_type,
                size_bytes=file.size_bytes,
                sha256=file.sha256,
                original_filename=file.filename,
                details=file.details,
            )
        )
    # The rows and the end of "pending" commit together.
    await repository.end_pending(session, pending_keys)
    await session.flush()
    # Renditions, loudness and waveform, computed by the job queue once this commits.
    await media.queue(session, audio)
    audit.record(
        session,
        "submission_created",
        meta,
        user_id=artist.user_id,
        submission_id=str(submission.id),
    )
    await session.flush()
    return submission


def file_out(
    services: Services,
    media_object: MediaObject,
    *,
    signed: bool,
    pipeline: MediaPipeline | None = None,
) -> FileOut:
    part = (
        COVER_PART
        if media_object.role == "cover"
        else media.RENDITION_PART
        if media_object.role == "rendition"
        else (
            "audioFile"
            if media_object.track_index is None
            else f"track_{media_object.track_index}_file"
        )
    )
    url = None
    if signed:
        url = services.storage.signed_url(
            media_object.key,
            DownloadSpec(media_object.content_type, media_object.original_filename or "download"),
            SIGNED_URL_SECONDS,
        )
    return FileOut(
        part=part,
        role=media_object.role,
        track_index=media_object.track_index,
        content_type=media_object.content_type,
        size_bytes=media_object.size_bytes,
        sha256=media_object.sha256,
        filename=media_object.original_filename,
        details=media_object.details,
        url=url,
        pipeline=media.pipeline_out(pipeline),
    )


def submission_out(
    services: Services,
    submission: Submission,
    files: list[MediaObject],
    *,
    signed: bool = False,
    pipelines: Mapping[uuid.UUID, MediaPipeline] | None = None,
) -> SubmissionOut:
    payload = submission.payload
    if submission.release_type == "single":
        tracks = [payload["metadata"]["trackName"]]
    else:
        tracks = [track["title"] for track in payload["tracks"]]
    return SubmissionOut(
        id=submission.id,
        submission_id=submission.public_id,
        status=submission.status,
        release_type=submission.release_type,
        title=submission.title,
        genre=submission.genre,
        tracks=tracks,
        files=[
            file_out(services, f, signed=signed, pipeline=(pipelines or {}).get(f.id))
            for f in files
        ],
        created_at=submission.created_at,
        reviewed_at=submission.reviewed_at,
        review_reason=submission.review_reason,
    )
