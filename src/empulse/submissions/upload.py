"""Streaming a submission's files into storage, verified on the way, leaving nothing behind.

Each file part gets a server-generated key. Before its first byte is stored, the key is written
to `pending_uploads` in a transaction of its own (with a delayed sweep job), so a process that
dies mid-request leaves only keys that the sweep will delete. Audio streams straight into the
storage writer (hashing and counting as it goes: 413 the moment a file passes its limit) and is
decoded before the object is committed; cover art is spooled to a temporary file (≤ 5 MB),
decoded and re-encoded into fixed sizes. On any failure every object of the request is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import tempfile
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.db import session_scope, utcnow
from empulse.core.errors import PayloadTooLarge
from empulse.core.logging import get_logger
from empulse.infra import jobs
from empulse.infra.storage import ObjectWriter, new_key
from empulse.models import PendingUpload
from empulse.services import Services
from empulse.submissions import media, repository
from empulse.submissions.media import UnsupportedFile
from empulse.web.multipart import FilePart, FileSink

log = get_logger("empulse.uploads")

SWEEP_UPLOADS = "sweep_uploads"
DELETE_OBJECTS = "delete_objects"
_SWEEP_BATCH = 500
_AUDIO_PART = re.compile(r"^(audioFile|track_(\d{1,2})_file)$")
COVER_PART = "coverArtFile"
_SNIFF_BYTES = 512
# Audio is hashed and written in batches of this size, with at most this many waiting.
_BATCH_BYTES = 1024 * 1024
_QUEUED_BATCHES = 2


class _Aborted(Exception):
    """Tells the consumer of a refused upload to drop what is still queued."""


@dataclass
class StoredFile:
    part: str
    key: str
    role: str
    track_index: int | None
    content_type: str
    size_bytes: int
    sha256: str
    filename: str
    details: dict[str, Any]
    upload_sha256: str


def track_index_of(part: str) -> int | None:
    match = _AUDIO_PART.match(part)
    if match is None:
        return None
    return int(match.group(2)) if match.group(2) is not None else 0


class _CountingHasher:
    def __init__(self, part: FilePart, limit: int, what: str) -> None:
        self.part = part
        self.limit = limit
        self.what = what
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.head = b""

    def update(self, chunk: bytes) -> None:
        self.count(chunk)
        self.sha256.update(chunk)

    def count(self, chunk: bytes) -> None:
        """The checks that refuse a file at once: its size so far, and how it starts."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"{self.part.name}: the {self.what} is larger than the limit of {self.limit} bytes."
            )
        if len(self.head) < _SNIFF_BYTES:
            self.head += chunk[: _SNIFF_BYTES - len(self.head)]
            if len(self.head) >= _SNIFF_BYTES:
                self.refuse_markup()

    def refuse_markup(self) -> None:
        if media.looks_like_markup(self.head):
            raise UnsupportedFile(f"{self.part.name}: HTML, XML and SVG files are not accepted.")


@dataclass
class Upload:
    """The files of one request: what is stored, and how to take it all back."""

    services: Services
    stored: list[StoredFile] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    parts_seen: set[str] = field(default_factory=set)
    _sweep_enqueued: bool = False
    # Each file's verification (decoding) and commit runs while the rest of the body arrives.
    _finishing: list[asyncio.Task[None]] = field(default_factory=list)

    def defer(self, work: Coroutine[Any, Any, None]) -> None:
        self._finishing.append(asyncio.create_task(work))

    def raise_early(self) -> None:
        """A file already refused stops the request at once, not after the rest arrives."""
        for task in self._finishing:
            if task.done() and not task.cancelled():
                failure = task.exception()
                if failure is not None:
                    raise failure

    async def settle(self) -> None:
        """Every file verified and committed; the first failure is raised once all are done
        (so the clean-up that follows never races a commit still on its way)."""
        if not self._finishing:
            return
        tasks, self._finishing = self._finishing, []
        await asyncio.wait(tasks)
        failures = [task.exception() for task in tasks if not task.cancelled()]
        for failure in failures:
            if failure is not None:
                raise failure

    async def remember_keys(self, keys: list[str]) -> None:
        """Commit the keys as pending before anything is stored under them."""
        async with session_scope(self.services.sessionmaker) as session:
            for key in keys:
                session.add(PendingUpload(key=key))
            if not self._sweep_enqueued:
                delay = self.services.settings.upload_sweep_after_seconds + 60
                jobs.enqueue(session, SWEEP_UPLOADS, {}, delay=timedelta(seconds=delay))
        self._sweep_enqueued = True
        self.keys.extend(keys)

    async def open_sink(self, part: FilePart) -> FileSink:
        self.raise_early()
        if part.name in self.parts_seen:
            raise UnsupportedFile(f"{part.name}: sent twice.")
        self.parts_seen.add(part.name)
        extension = media.extension_of(part.filename)
        settings = self.services.settings
        if part.name == COVER_PART:
            if extension not in media.IMAGE_FORMATS:
                raise UnsupportedFile(
                    f"{part.name}: cover art must be JPEG, PNG or WebP (.jpg, .png, .webp)."
                )
            media.check_declared(
                part.content_type,
                media.IMAGE_TYPES[media.IMAGE_FORMATS[extension]],
                "cover art",
            )
            return _CoverSink(self, part, extension, settings.max_cover_bytes)
        index = track_index_of(part.name)
        if index is None:
            raise UnsupportedFile(
                f"{part.name}: unexpected file; send audioFile or track_N_file, and coverArtFile."
            )
        if extension not in media.AUDIO_FORMATS:
            raise UnsupportedFile(
                f"{part.name}: audio must be WAV, FLAC, MP3, M4A/AAC, OGG or Opus "
                f"(by extension: {', '.join(sorted(media.AUDIO_FORMATS))})."
            )
        audio_format = media.AUDIO_FORMATS[extension]
        media.check_declared(part.content_type, audio_format.content_types, "audio")
        key = new_key("private", "audio", extension)
        await self.remember_keys([key])
        writer = await self.services.storage.open_writer(key, audio_format.stored_type)
        return _AudioSink(self, part, key, index, extension, writer, settings.max_audio_bytes)

    async def discard(self) -> None:
        """Delete every object of this request and its pending rows (best effort: whatever
        fails here is left to the sweep)."""
        with contextlib.suppress(Exception):
            await self.settle()
        storage = self.services.storage
        removed = []
        for key in self.keys:
            try:
                await storage.delete(key)
                removed.append(key)
            except Exception:  # storage down: the sweep deletes it later
                log.warning("upload_discard_failed", key=key)
        if removed:
            async with session_scope(self.services.sessionmaker) as session:
                await repository.end_pending(session, removed)
        self.keys.clear()
        self.stored.clear()


class _AudioSink:
    """One audio part on its way to storage. The request's coroutine only counts and sniffs
    each chunk; batches of 1 MiB go to a consumer task that hashes them (and spools them, for
    S3) in a worker thread and hands them to the storage writer, so receiving and parsing the
    body overlaps with hashing and writing. At most `_QUEUED_BATCHES` batches wait."""

    def __init__(
        self,
        upload: Upload,
        part: FilePart,
        key: str,
        index: int,
        extension: str,
        writer: ObjectWriter,
        limit: int,
    ) -> None:
        self.upload = upload
        self.part = part
        self.key = key
        self.index = index
        self.extension = extension
        self.writer = writer
        self.hasher = _CountingHasher(part, limit, "audio file")
        # Backends without a local copy (S3) get one on disk for decoding; memory stays flat.
        self.spool = (
            tempfile.NamedTemporaryFile(prefix="empulse-audio-")  # noqa: SIM115 - closed in close()
            if writer.local_path is None
            else None
        )
        self._batch: list[bytes] = []
        self._batched = 0
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_QUEUED_BATCHES)
        self._consumer: asyncio.Task[None] | None = None
        self._error: Exception | None = None

    async def write(self, chunk: bytes) -> None:
        try:
            self.hasher.count(chunk)
            self._batch.append(chunk)
            self._batched += len(chunk)
            if self._batched >= _BATCH_BYTES:
                await self._hand_over()
        except BaseException:
            await self.abort()
            raise

    async def _hand_over(self) -> None:
        self.upload.raise_early()
        if self._error is not None:
            raise self._error
        if self._consumer is None:
            self._consumer = asyncio.create_task(self._consume())
        data = b"".join(self._batch)
        self._batch, self._batched = [], 0
        await self._queue.put(data)

    async def _consume(self) -> None:
        while (data := await self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so the producer never waits on a dead consumer
            try:
                await anyio.to_thread.run_sync(self._digest_and_spool, data)
                await self.writer.write(data)
            except Exception as exc:  # storage failed: reported by the producer's next call
                self._error = exc

    def _digest_and_spool(self, data: bytes) -> None:
        self.hasher.sha256.update(data)
        if self.spool is not None:
            self.spool.write(data)

    async def _drain(self) -> None:
        """Everything received is hashed and written (or the first failure is raised)."""
        if self._batch:
            await self._hand_over()
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await self._queue.put(None)
            await consumer
        if self._error is not None:
            raise self._error

    async def abort(self) -> None:
        self._batch, self._batched = [], 0
        if self._consumer is not None:
            self._error = self._error or _Aborted()
            with contextlib.suppress(Exception):
                await self._drain()
        await self.writer.abort()
        if self.spool is not None:
            self.spool.close()

    async def close(self) -> None:
        """Every byte is handed to storage now; decoding and the commit run on while the rest
        of the request arrives (`Upload.settle` waits for them)."""
        try:
            self.hasher.refuse_markup()
            await self._drain()
            await self.writer.flush()
        except BaseException:
            await self.abort()
            raise
        self.upload.defer(self._finish())

    async def _finish(self) -> None:
        try:
            if self.spool is None:
                # Local disk: decode the staged file while the kernel writes it to disk, then
                # publish it (a rename).
                assert self.writer.local_path is not None
                details = await self._probe_during(self.writer.local_path, self.writer.sync())
                await self.writer.commit()
            else:
                # S3: decode the local copy while the last parts upload; a refused file is
                # then deleted with the rest of the request's objects.
                await anyio.to_thread.run_sync(self.spool.flush)
                details = await self._probe_during(Path(self.spool.name), self.writer.commit())
        except BaseException:
            await self.abort()
            raise
        if self.spool is not None:
            self.spool.close()
        digest = self.hasher.sha256.hexdigest()
        self.upload.stored.append(
            StoredFile(
                part=self.part.name,
                key=self.key,
                role="audio",
                track_index=self.index,
                content_type=media.AUDIO_FORMATS[self.extension].stored_type,
                size_bytes=self.hasher.size,
                sha256=digest,
                filename=media.sanitise_filename(self.part.filename),
                details=details,
                upload_sha256=digest,
            )
        )

    async def _probe_during(self, path: Path, storing: Awaitable[None]) -> dict[str, Any]:
        """Decode the file at `path` while `storing` runs; a storage failure is the one
        reported."""
        probing = asyncio.ensure_future(
            anyio.to_thread.run_sync(media.probe_audio, path, self.extension)
        )
        try:
            await storing
        except BaseException:
            await asyncio.wait([probing])  # the thread reads the file; let it finish
            if not probing.cancelled():
                probing.exception()  # seen: the storage failure is the one to report
            raise
        return await probing


class _CoverSink:
    def __init__(self, upload: Upload, part: FilePart, extension: str, limit: int) -> None:
        self.upload = upload
        self.part = part
        self.extension = extension
        self.hasher = _CountingHasher(part, limit, "cover art")
        self.spool = tempfile.NamedTemporaryFile(prefix="empulse-cover-")  # noqa: SIM115

    async def write(self, chunk: bytes) -> None:
        try:
            self.hasher.update(chunk)
            self.spool.write(chunk)  # at most 5 MB in all, to the page cache
        except BaseException:
            self.spool.close()
            raise

    async def abort(self) -> None:
        self.spool.close()

    async def close(self) -> None:
        try:
            self.hasher.refuse_markup()
            self.spool.flush()
        except BaseException:
            self.spool.close()
            raise
        self.upload.defer(self._finish())

    async def _process(self, path: Path) -> list[media.Cover]:
        """Decode, then render the largest size on one thread and the smaller ones (each from
        the one before) on another: the two halves cost about the same."""
        image = await anyio.to_thread.run_sync(media.decode_cover, path, self.extension)
        largest, smaller = media.COVER_SIZES[:1], media.COVER_SIZES[1:]
        halves = await asyncio.gather(
            anyio.to_thread.run_sync(media.render_covers, image, largest),
            anyio.to_thread.run_sync(media.render_covers, image, smaller),
        )
        return [cover for half in halves for cover in half]

    async def _finish(self) -> None:
        try:
            # The keys are committed as pending while the image is decoded and resized.
            keys = [new_key("private", "covers", "jpg") for _ in media.COVER_SIZES]
            processing = asyncio.ensure_future(self._process(Path(self.spool.name)))
            try:
                await self.upload.remember_keys(keys)
            finally:
                covers = await processing
        finally:
            self.spool.close()
        storage = self.upload.services.storage
        # All three at once; every one has finished (stored or failed) before an error is
        # raised, so the clean-up that follows cannot race a write still on its way.
        results = await asyncio.gather(
            *(
                storage.put_bytes(key, cover.jpeg, "image/jpeg")
                for key, cover in zip(keys, covers, strict=True)
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        for key, cover in zip(keys, covers, strict=True):
            self.upload.stored.append(
                StoredFile(
                    part=self.part.name,
                    key=key,
                    role="cover",
                    track_index=None,
                    content_type="image/jpeg",
                    size_bytes=len(cover.jpeg),
                    sha256=hashlib.sha256(cover.jpeg).hexdigest(),
                    filename=media.sanitise_filename(self.part.filename),
                    details={"size": cover.size, "width": cover.width, "height": cover.height},
                    upload_sha256=self.hasher.sha256.hexdigest(),
                )
            )


async def sweep_uploads(services: Services, payload: dict[str, Any]) -> None:
    """Delete objects whose upload never committed, once they are older than the grace period."""
    cutoff = utcnow() - timedelta(seconds=services.settings.upload_sweep_after_seconds)
    swept = 0
    while True:
        async with services.sessionmaker() as session:
            keys = await repository.pending_since(session, cutoff, _SWEEP_BATCH)
        for key in keys:
            await services.storage.delete(key)
            async with session_scope(services.sessionmaker) as session:
                await repository.end_pending(session, [key])
        swept += len(keys)
        if len(keys) < _SWEEP_BATCH:
            break
    if swept:
        log.info("uploads_swept", count=swept)


# No write takes a day: one begun before that was cut off with its process.
INCOMPLETE_AFTER = timedelta(days=1)


async def sweep_incomplete_writes(services: Services, session: AsyncSession, now: datetime) -> int:
    """Hourly: writes to storage that a dead process left unfinished (a local staging file, an
    S3 multipart upload), removed; an upload's or a rendition's alike."""
    before = (now - INCOMPLETE_AFTER).timestamp()
    removed = await services.storage.sweep_incomplete(before, jobs.BATCH)
    if removed:
        log.info("incomplete_writes_swept", count=removed)
    return removed


def enqueue_object_deletion(session: AsyncSession, keys: list[str]) -> None:
    """Delete these objects once the caller's transaction commits (an account deletion), retried
    by the job queue while storage is down. Deleting is idempotent, so a retry is harmless."""
    for start in range(0, len(keys), _SWEEP_BATCH):
        jobs.enqueue(session, DELETE_OBJECTS, {"keys": keys[start : start + _SWEEP_BATCH]})


async def delete_objects(services: Services, payload: dict[str, Any]) -> None:
    for key in payload["keys"]:
        await services.storage.delete(key)
    log.info("objects_deleted", count=len(payload["keys"]))
