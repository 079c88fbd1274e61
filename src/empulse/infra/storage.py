"""Object storage behind one small interface: local disk (embedded) or any S3-compatible service.

Keys are made by the server (`new_key`), never from a user's filename. Keys under `public/` may
be served to anyone (an S3 bucket policy or CDN exposes that prefix; see docs/operations.md);
everything else is private and reached only through short-lived signed URLs.

Writes stream: `open_writer` returns a writer that takes chunks as they arrive and holds a
bounded buffer in memory (up to three 8 MiB S3 multipart parts, 1 MiB for local files), so memory
stays flat however large the object. Nothing is visible under the key until `commit()`; `abort()`
leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import re
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import anyio.to_thread
import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from empulse.config import Settings
from empulse.core.errors import ServiceUnavailable

# SECURITY.md "Files": private files are reachable through signed URLs living at most 15 min.
MAX_URL_SECONDS = 15 * 60
# Where the API serves `public/` objects (files/endpoints), unless the store has a public URL.
MEDIA_BASE = "/api/v1/media"
# Reads stream in chunks of this size: memory per reader stays flat whatever the range.
READ_CHUNK = 256 * 1024
_KEY = re.compile(r"^(public|private)/[a-z0-9-]+(/[a-z0-9-]+)*(\.[a-z0-9]{1,5})?$")


class StorageUnavailable(ServiceUnavailable):
    code = "storage_unavailable"
    title = "File storage unavailable"


def new_key(visibility: str, folder: str, extension: str = "") -> str:
    """A fresh server-generated key, e.g. `private/audio/3f2a….flac`."""
    if visibility not in ("public", "private"):
        raise ValueError(visibility)
    suffix = f".{extension.lower()}" if extension else ""
    return f"{visibility}/{folder}/{uuid.uuid4().hex}{suffix}"


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


def content_disposition(filename: str) -> str:
    """An attachment header that is safe whatever the name holds (RFC 6266, RFC 8187)."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:150] or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename[:150])}"


@dataclass(frozen=True, slots=True)
class DownloadSpec:
    """How a signed download answers: its type and the name it is saved under; `inline` for
    media a page plays (an `<audio>` element) rather than saves."""

    content_type: str
    filename: str
    inline: bool = False

    @property
    def disposition(self) -> str:
        return "inline" if self.inline else content_disposition(self.filename)


class ObjectWriter(Protocol):
    # A local file holding the bytes written so far, when the backend has one (local disk);
    # callers that must read the object back (to decode it) use it instead of a second copy.
    local_path: Path | None

    async def write(self, chunk: bytes) -> None: ...
    async def flush(self) -> None:
        """Make every byte written so far readable at `local_path` (when there is one)."""

    async def sync(self) -> None:
        """Make every byte written so far durable, so that `commit` only has to publish the
        object; it may run while the caller reads `local_path`. Calling it is optional."""

    async def commit(self) -> None: ...
    async def abort(self) -> None: ...


class Storage(Protocol):
    name: str

    async def check(self) -> None:
        """Raise when the storage cannot be written to."""

    async def open_writer(self, key: str, content_type: str) -> ObjectWriter: ...
    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...
    async def read_bytes(self, key: str) -> bytes: ...
    async def copy(self, source: str, target: str) -> None: ...
    async def delete(self, key: str) -> None:
        """Remove the object (and any unfinished upload under the key); missing is fine."""

    async def sweep_incomplete(self, started_before: float, limit: int) -> int:
        """Remove up to `limit` writes begun before `started_before` (a Unix time) that were
        never committed nor aborted (their process died); how many went."""

    async def exists(self, key: str) -> bool: ...
    async def size_of(self, key: str) -> int:
        """The object's size in bytes; `FileNotFoundError` when there is none."""

    async def open_range(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        """Bytes `start` to `end` (inclusive) of the object, in chunks of at most `READ_CHUNK`.
        The object is opened before this returns (a missing one raises `FileNotFoundError`
        here, not mid-body); close the iterator (`aclose`) when done with it."""

    def signed_url(self, key: str, download: DownloadSpec, expires_in: int) -> str: ...
    def public_url(self, key: str) -> str:
        """Where anyone reads a `public/` object: the store's public address when one is
        configured, the API's own media route otherwise."""


async def _in_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))
    except (BotoCoreError, OSError) as exc:
        raise StorageUnavailable("File storage is not answering; try again shortly.") from exc
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchUpload"):
            raise FileNotFoundError(str(exc)) from exc
        raise StorageUnavailable("File storage refused the request; try again shortly.") from exc


# --- local disk -----------------------------------------------------------------------------


class _LocalWriter:
    _flush_at = 1024 * 1024

    def __init__(self, target: Path, staging: Path) -> None:
        self._target = target
        self.local_path: Path | None = staging
        self._handle = staging.open("wb")
        self._buffer = bytearray()
        self._synced = False

    async def write(self, chunk: bytes) -> None:
        self._synced = False
        if not self._buffer and len(chunk) >= self._flush_at:
            await _in_thread(self._handle.write, chunk)  # already a full batch: no copy
            return
        self._buffer += chunk
        if len(self._buffer) >= self._flush_at:
            await self._flush()

    async def _flush(self) -> None:
        if self._buffer:
            data, self._buffer = bytes(self._buffer), bytearray()
            await _in_thread(self._handle.write, data)

    async def flush(self) -> None:
        await self._flush()
        await _in_thread(self._handle.flush)

    async def sync(self) -> None:
        await self._flush()

        def durable() -> None:
            self._handle.flush()
            os.fsync(self._handle.fileno())

        await _in_thread(durable)
        self._synced = True

    async def commit(self) -> None:
        await self._flush()
        synced = self._synced  # by `sync`, with nothing written since

        def finish() -> None:
            if not synced:
                self._handle.flush()
                os.fsync(self._handle.fileno())
            self._handle.close()
            self._target.parent.mkdir(parents=True, exist_ok=True)
            assert self.local_path is not None
            os.replace(self.local_path, self._target)

        await _in_thread(finish)
        self.local_path = None

    async def abort(self) -> None:
        self._handle.close()
        if self.local_path is not None:
            self.local_path.unlink(missing_ok=True)
            self.local_path = None


class LocalStorage:
    """Files under one directory; downloads go through the API's signed-URL route."""

    name = "local"

    def __init__(self, root: Path, *, url_base: str, media_base: str, signing_key: bytes) -> None:
        self.root = root
        self._staging = root / ".staging"
        self._url_base = url_base
        self._media_base = media_base
        self._signing_key = signing_key

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    async def check(self) -> None:
        await anyio.to_thread.run_sync(self._check_sync)

    def _check_sync(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # A real write: a read-only or full volume fails here, not on the first upload.
        fd, path = tempfile.mkstemp(prefix=".ready-", dir=self.root)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            os.unlink(path)

    async def open_writer(self, key: str, content_type: str) -> ObjectWriter:
        target = self.path_of(key)
        self._staging.mkdir(parents=True, exist_ok=True)
        return _LocalWriter(target, self._staging / f"{uuid.uuid4().hex}.part")

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        writer = await self.open_writer(key, content_type)
        try:
            await writer.write(data)
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise

    async def read_bytes(self, key: str) -> bytes:
        data: bytes = await _in_thread(self.path_of(key).read_bytes)
        return data

    async def copy(self, source: str, target: str) -> None:
        await self.put_bytes(target, await self.read_bytes(source), "application/octet-stream")

    async def delete(self, key: str) -> None:
        await _in_thread(self.path_of(key).unlink, missing_ok=True)

    async def sweep_incomplete(self, started_before: float, limit: int) -> int:
        def sweep() -> int:
            removed = 0
            for part in self._staging.glob("*.part") if self._staging.is_dir() else []:
                if removed == limit:
                    break
                with contextlib.suppress(FileNotFoundError):
                    if part.stat().st_mtime < started_before:
                        part.unlink()
                        removed += 1
            return removed

        removed: int = await _in_thread(sweep)
        return removed

    async def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    async def open_range(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        path = self.path_of(key)
        try:
            fd = await anyio.to_thread.run_sync(os.open, path, os.O_RDONLY)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageUnavailable("File storage is not answering; try again shortly.") from exc
        return _file_chunks(fd, start, end)

    def signed_url(self, key: str, download: DownloadSpec, expires_in: int) -> str:
        expires = int(time.time()) + min(expires_in, MAX_URL_SECONDS)
        query = {"key": key, "exp": str(expires), "type": download.content_type}
        query["name"] = download.filename
        query["sig"] = self.signature(query)
        return f"{self._url_base}?{urlencode(query)}"

    def public_url(self, key: str) -> str:
        return f"{self._media_base}/{key}"

    async def size_of(self, key: str) -> int:
        stat = await anyio.to_thread.run_sync(os.stat, self.path_of(key))
        return stat.st_size

    def signature(self, query: dict[str, str]) -> str:
        message = "\n".join(query[name] for name in ("key", "exp", "type", "name"))
        digest = hmac.new(self._signing_key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _file_chunks(fd: int, start: int, end: int) -> AsyncGenerator[bytes, None]:
    """Positioned reads (`pread`, no shared file offset), one thread hop per chunk."""
    try:
        position = start
        while position <= end:
            chunk = await _in_thread(os.pread, fd, min(READ_CHUNK, end - position + 1), position)
            if not chunk:
                raise StorageUnavailable("The stored file is shorter than recorded.")
            position += len(chunk)
            yield chunk
    finally:
        os.close(fd)


# --- S3-compatible --------------------------------------------------------------------------


class _S3Writer:
    # S3 multipart parts must be at least 5 MiB (but the last); 8 MiB parts, at most two of them
    # on their way while the next fills, keep memory flat (24 MiB per upload at most) and keep
    # the request reading while S3 receives.
    part_size = 8 * 1024 * 1024
    max_in_flight = 2
    local_path: Path | None = None

    def __init__(self, storage: S3Storage, key: str, content_type: str) -> None:
        self._storage = storage
        self._key = key
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._next_part = 1
        self._etags: dict[int, str] = {}
        self._in_flight: set[asyncio.Task[None]] = set()

    async def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) >= self.part_size:
            await self._send_part()

    async def flush(self) -> None:
        """Nothing to do: S3 objects are read back from the caller's own copy."""

    async def sync(self) -> None:
        """Nothing to do: an S3 object is durable once `commit` completes it."""

    async def _send_part(self) -> None:
        client, bucket = self._storage.client, self._storage.bucket
        if self._upload_id is None:
            created = await _in_thread(
                client.create_multipart_upload,
                Bucket=bucket,
                Key=self._key,
                ContentType=self._content_type,
            )
            self._upload_id = created["UploadId"]
        while len(self._in_flight) >= self.max_in_flight:
            await self._settle(asyncio.FIRST_COMPLETED)
        data, self._buffer = bytes(self._buffer), bytearray()
        number, self._next_part = self._next_part, self._next_part + 1
        self._in_flight.add(asyncio.create_task(self._upload_part(self._upload_id, number, data)))

    async def _upload_part(self, upload_id: str, number: int, data: bytes) -> None:
        sent = await _in_thread(
            self._storage.client.upload_part,
            Bucket=self._storage.bucket,
            Key=self._key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
        )
        self._etags[number] = sent["ETag"]

    async def _settle(self, return_when: str = asyncio.ALL_COMPLETED) -> None:
        """Wait for parts on their way (the first, or all); a failed part raises here."""
        if not self._in_flight:
            return
        done, self._in_flight = await asyncio.wait(self._in_flight, return_when=return_when)
        # Look at every finished part (an exception nobody retrieves is reported by asyncio as
        # an error of its own); raise the first failure.
        failures = [task.exception() for task in done if not task.cancelled()]
        for failure in failures:
            if failure is not None:
                raise failure

    async def commit(self) -> None:
        client, bucket = self._storage.client, self._storage.bucket
        if self._upload_id is None:
            await _in_thread(
                client.put_object,
                Bucket=bucket,
                Key=self._key,
                Body=bytes(self._buffer),
                ContentType=self._content_type,
            )
            return
        if self._buffer:
            await self._send_part()
        await self._settle()
        await _in_thread(
            client.complete_multipart_upload,
            Bucket=bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": number, "ETag": self._etags[number]}
                    for number in sorted(self._etags)
                ]
            },
        )

    async def abort(self) -> None:
        self._buffer = bytearray()
        # Parts still on their way would outlive the abort and be billed; let them land first.
        with contextlib.suppress(Exception):
            await self._settle()
        for task in self._in_flight:
            task.cancel()
        self._in_flight.clear()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            await _in_thread(
                self._storage.client.abort_multipart_upload,
                Bucket=self._storage.bucket,
                Key=self._key,
                UploadId=upload_id,
            )


class S3Storage:
    name = "s3"

    def __init__(self, settings: Settings, *, media_base: str) -> None:
        if not settings.s3_bucket:
            raise ValueError("S3 storage needs S3_BUCKET")
        self.bucket = settings.s3_bucket
        public = settings.s3_public_url
        self._public_base = public.rstrip("/") if public else media_base
        secret = settings.s3_secret_access_key
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region or "us-east-1",
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=BotoConfig(
                connect_timeout=3,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                # A stream holds a connection while its body flows (10 by default).
                max_pool_connections=128,
                signature_version="s3v4",
            ),
        )

    async def check(self) -> None:
        await _in_thread(self.client.head_bucket, Bucket=self.bucket)

    async def open_writer(self, key: str, content_type: str) -> ObjectWriter:
        return _S3Writer(self, check_key(key), content_type)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await _in_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
        )

    async def read_bytes(self, key: str) -> bytes:
        response = await _in_thread(self.client.get_object, Bucket=self.bucket, Key=check_key(key))
        data: bytes = await _in_thread(response["Body"].read)
        return data

    async def copy(self, source: str, target: str) -> None:
        await _in_thread(
            self.client.copy_object,
            Bucket=self.bucket,
            Key=check_key(target),
            CopySource={"Bucket": self.bucket, "Key": check_key(source)},
        )

    async def sweep_incomplete(self, started_before: float, limit: int) -> int:
        removed = 0
        markers: dict[str, str] = {}
        while removed < limit:
            listed = await _in_thread(
                self.client.list_multipart_uploads, Bucket=self.bucket, **markers
            )
            for upload in listed.get("Uploads", []):
                if removed < limit and upload["Initiated"].timestamp() < started_before:
                    await _in_thread(
                        self.client.abort_multipart_upload,
                        Bucket=self.bucket,
                        Key=upload["Key"],
                        UploadId=upload["UploadId"],
                    )
                    removed += 1
            if not listed.get("IsTruncated"):
                break
            markers = {
                "KeyMarker": listed["NextKeyMarker"],
                "UploadIdMarker": listed["NextUploadIdMarker"],
            }
        return removed

    async def delete(self, key: str) -> None:
        key = check_key(key)
        await _in_thread(self.client.delete_object, Bucket=self.bucket, Key=key)
        # An upload cut off by a crash leaves a multipart upload that holds storage until
        # aborted (a bucket lifecycle rule is the backstop; see docs/operations.md).
        listed = await _in_thread(
            self.client.list_multipart_uploads, Bucket=self.bucket, Prefix=key
        )
        for upload in listed.get("Uploads", []):
            if upload["Key"] == key:
                await _in_thread(
                    self.client.abort_multipart_upload,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload["UploadId"],
                )

    async def exists(self, key: str) -> bool:
        try:
            await _in_thread(self.client.head_object, Bucket=self.bucket, Key=check_key(key))
        except FileNotFoundError:
            return False
        return True

    def public_url(self, key: str) -> str:
        return f"{self._public_base}/{key}"

    async def size_of(self, key: str) -> int:
        head = await _in_thread(self.client.head_object, Bucket=self.bucket, Key=check_key(key))
        return int(head["ContentLength"])

    async def open_range(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        response = await _in_thread(
            self.client.get_object,
            Bucket=self.bucket,
            Key=check_key(key),
            Range=f"bytes={start}-{end}",
        )
        return _s3_chunks(response["Body"])

    def signed_url(self, key: str, download: DownloadSpec, expires_in: int) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": check_key(key),
                "ResponseContentType": download.content_type,
                "ResponseContentDisposition": download.disposition,
            },
            ExpiresIn=min(expires_in, MAX_URL_SECONDS),
        )
        return url


async def _s3_chunks(body: Any) -> AsyncGenerator[bytes, None]:
    """The object's body as it arrives, a chunk per thread hop; closing returns (or, cut short,
    drops) the connection."""
    try:
        while chunk := await _in_thread(body.read, READ_CHUNK):
            yield chunk
    finally:
        body.close()


def create_storage(settings: Settings, *, signing_key: bytes) -> Storage:
    if settings.uses_s3:
        return S3Storage(settings, media_base=MEDIA_BASE)
    return LocalStorage(
        settings.storage_dir,
        url_base="/api/v1/files",
        media_base=MEDIA_BASE,
        signing_key=signing_key,
    )
