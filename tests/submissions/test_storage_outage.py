"""Object storage failing in the middle of an upload: 503, no rows, and nothing left behind
once the sweep has run (SECURITY.md "Fault tolerance")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import orjson
import pytest
from sqlalchemy import func, select, update

from empulse.core.db import session_scope, utcnow
from empulse.models import Job, MediaObject, PendingUpload, Submission
from empulse.services import Services
from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import deliver
from tests.conftest import Backend, Harness
from tests.submissions.helpers import SINGLE
from tests.support.fixtures import S3Server
from tests.support.proxy import TcpProxy, proxy_to
from tests.web.test_problems import assert_problem

MIB = 1024 * 1024


@pytest.fixture
def s3_proxy(s3_server: S3Server) -> Iterator[TcpProxy]:
    target = urlsplit(s3_server.endpoint_url)
    assert target.hostname is not None
    assert target.port is not None
    with proxy_to(target.hostname, target.port) as proxy:
        yield proxy


async def _rows(harness: Harness) -> tuple[int, int, int]:
    """(submissions, media objects, pending uploads)."""
    services: Services = harness.app.state.services
    counts = []
    async with session_scope(services.sessionmaker) as session:
        for model in (Submission, MediaObject, PendingUpload):
            counts.append(await session.scalar(select(func.count()).select_from(model)) or 0)
    return counts[0], counts[1], counts[2]


async def test_storage_dying_mid_upload_is_a_503_and_leaves_nothing_after_the_sweep(
    backend_services: Backend,
    s3_server: S3Server,
    s3_proxy: TcpProxy,
    make_client: Callable[..., Any],
) -> None:
    settings = {
        **backend_services.settings,
        **s3_server.settings(),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_proxy.port}",
    }
    harness: Harness = await make_client(
        Backend("services+s3-via-proxy", settings, backend_services.postgres_url)
    )
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)

    boundary = "outage-b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="payload"\r\n\r\n'
        f"{orjson.dumps(SINGLE).decode()}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="audioFile"; '
        'filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()
    s3 = s3_server.client()
    sent = 0

    def parts_in_s3() -> int:
        uploads = s3.list_multipart_uploads(Bucket=s3_server.bucket).get("Uploads", [])
        return sum(
            len(
                s3.list_parts(
                    Bucket=s3_server.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                ).get("Parts", [])
            )
            for upload in uploads
        )

    async def first_part_stored() -> None:
        """Until S3 (asked directly, not through the proxy) holds a part of the upload."""
        for _ in range(200):
            if await anyio.to_thread.run_sync(parts_in_s3):
                return
            await asyncio.sleep(0.05)  # the service is uploading the part meanwhile
        raise AssertionError("no part reached S3")

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        for chunk in range(24):
            if chunk == 12:
                # The storage goes away with the upload half done.
                await first_part_stored()
                s3_proxy.cut()
            sent += MIB
            yield bytes(MIB)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await harness.client.post(
        "/api/v1/submissions",
        content=body(),
        headers={**artist, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_problem(response, 503, "storage_unavailable")
    assert sent > 8 * MIB
    # Nothing was recorded; the key stays pending because storage could not be cleaned now.
    assert await _rows(harness) == (0, 0, 1)
    assert s3.list_multipart_uploads(Bucket=s3_server.bucket).get("Uploads"), (
        "the half-finished upload should be in S3 until the sweep"
    )

    # Storage comes back; once due, the sweep aborts the unfinished upload.
    s3_proxy.restore()
    services: Services = harness.app.state.services
    services.settings.upload_sweep_after_seconds = 0
    async with session_scope(services.sessionmaker) as session:
        await session.execute(update(Job).values(run_at=utcnow()))
    await deliver(harness)
    assert await _rows(harness) == (0, 0, 0)
    assert not s3.list_multipart_uploads(Bucket=s3_server.bucket).get("Uploads")
    assert s3.list_objects_v2(Bucket=s3_server.bucket).get("KeyCount", 0) == 0
