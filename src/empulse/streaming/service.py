"""Who may stream, and the signed URLs that let an `<audio>` element (which cannot send an
`Authorization` header) play a track.

A signed stream URL names the track, the listener and the listener's session, and expires
within 15 minutes (SECURITY.md "Files"). It is checked like a bearer token: the signature, the
expiry, and that the session is still live, so signing out or a password reset stops it too.
On S3 the URL is the store's own presigned one instead (it serves the bytes directly).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.core.crypto import constant_time_equals
from empulse.infra.storage import MAX_URL_SECONDS, DownloadSpec, LocalStorage, Storage
from empulse.media import service as media
from empulse.models import MediaObject
from empulse.services import Services
from empulse.web.paths import API_PREFIX


@dataclass(frozen=True, slots=True)
class AudioFile:
    """What sending a track's audio reads of its stored file."""

    id: uuid.UUID
    key: str
    sha256: str
    size_bytes: int
    content_type: str
    created_at: datetime
    original_filename: str | None

    @classmethod
    def of(cls, stored: MediaObject) -> AudioFile:
        return cls(
            stored.id,
            stored.key,
            stored.sha256,
            stored.size_bytes,
            stored.content_type,
            stored.created_at,
            stored.original_filename,
        )


async def chosen_audio(
    services: Services,
    session: AsyncSession,
    track_id: uuid.UUID,
    fmt: str | None,
    max_kbps: int | None,
) -> AudioFile | None:
    """The file a stream of this visible track sends (media.service.stream_choice); None for
    a track a listener cannot see. Kept in the page cache for the catalog's version, which
    every change of the track's visibility or renditions moves (catalog/ddl.py): a player
    asks for a track's bytes range after range, and each range then costs one primary-key
    read instead of the track's visibility and its renditions."""
    cache = services.page_cache
    version = await catalog.catalog_version(session) if cache.max_bytes else 0
    key = f"stream:{track_id}:{fmt}:{max_kbps}"
    kept = cache.get(key, version) if cache.max_bytes else None
    if kept is not None:
        fields = orjson.loads(kept)
        return AudioFile(
            uuid.UUID(fields["id"]),
            fields["key"],
            fields["sha256"],
            fields["size_bytes"],
            fields["content_type"],
            datetime.fromisoformat(fields["created_at"]),
            fields["original_filename"],
        )
    original = await catalog.playable_audio(session, track_id)
    if original is None:
        return None
    chosen = AudioFile.of(await media.stream_choice(session, original, fmt, max_kbps))
    if cache.max_bytes:
        fields = {name: getattr(chosen, name) for name in AudioFile.__slots__}
        fields["id"] = str(chosen.id)  # the driver's own UUID type is not orjson's
        cache.put(key, version, orjson.dumps(fields))
    return chosen


@dataclass(frozen=True, slots=True)
class StreamUrl:
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SignedStream:
    """The query of a signed stream URL, as received."""

    user: uuid.UUID
    session: uuid.UUID
    expires: str
    signature: str


def stream_path(track_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/tracks/{track_id}/stream"


def _signature(
    key: bytes, track_id: uuid.UUID, user: uuid.UUID, session: uuid.UUID, expires: str
) -> str:
    message = f"stream\n{track_id}\n{user}\n{session}\n{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def stream_url(
    storage: Storage,
    key: bytes,
    audio: AudioFile,
    *,
    track_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    now: float,
    choice: dict[str, str | int | None] | None = None,
) -> StreamUrl:
    """`choice` (`format`, `maxBitRate`) rides along unsigned on a local URL: it chooses among
    files the listener may play anyway."""
    expires = int(now) + MAX_URL_SECONDS
    expires_at = datetime.fromtimestamp(expires, UTC)
    if not isinstance(storage, LocalStorage):
        spec = DownloadSpec(audio.content_type, audio.original_filename or "audio", inline=True)
        return StreamUrl(storage.signed_url(audio.key, spec, MAX_URL_SECONDS), expires_at)
    query = {"user": str(user_id), "session": str(session_id), "expires": str(expires)}
    query["signature"] = _signature(key, track_id, user_id, session_id, query["expires"])
    query.update({name: str(value) for name, value in (choice or {}).items() if value})
    return StreamUrl(f"{stream_path(track_id)}?{urlencode(query)}", expires_at)


def signature_holds(key: bytes, track_id: uuid.UUID, signed: SignedStream, now: float) -> bool:
    """The signature is ours for this track and listener, and has not expired. (The session's
    liveness is the caller's to check.)"""
    expires = signed.expires
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        return False
    expected = _signature(key, track_id, signed.user, signed.session, expires)
    return int(expires) >= now and constant_time_equals(expected, signed.signature)
