"""Object storage behind one small interface: local disk (embedded) or any S3-compatible service.

This module holds what the platform needs today (choosing the backend and checking that it is
reachable); object reads and writes are added by the features that store files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import boto3
from botocore.config import Config as BotoConfig

from empulse.config import Settings


class Storage(Protocol):
    name: str

    async def check(self) -> None:
        """Raise when the storage cannot be written to."""


class LocalStorage:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

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


class S3Storage:
    name = "s3"

    def __init__(self, settings: Settings) -> None:
        if not settings.s3_bucket:
            raise ValueError("S3 storage needs S3_BUCKET")
        self.bucket = settings.s3_bucket
        secret = settings.s3_secret_access_key
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region or "us-east-1",
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=BotoConfig(
                connect_timeout=3,
                read_timeout=10,
                retries={"max_attempts": 2, "mode": "standard"},
                signature_version="s3v4",
            ),
        )

    async def check(self) -> None:
        await anyio.to_thread.run_sync(lambda: self._client.head_bucket(Bucket=self.bucket))


def create_storage(settings: Settings) -> Storage:
    if settings.uses_s3:
        return S3Storage(settings)
    return LocalStorage(settings.storage_dir)
