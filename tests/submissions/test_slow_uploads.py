"""Slow uploads hold no database connection while their bytes arrive: an upload can take
minutes, and a pool held by a few of them would stop every other request of the process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import PASSWORD
from tests.conftest import Backend
from tests.submissions.helpers import SINGLE, object_counts, single_files
from tests.web.test_problems import assert_problem

BOUNDARY = "slow-b0undary"


async def test_uploads_waiting_for_their_bytes_hold_no_database_connection(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """PostgreSQL, a pool of two connections, two uploads stalled half-way (slow clients):
    another request still gets a connection, and the uploads finish once their bytes come."""
    harness = await make_client(
        backend_services,
        DATABASE_POOL_SIZE="2",
        DATABASE_POOL_TIMEOUT="2",
        RATE_LIMITS_ENABLED="false",
    )
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "slow@example.com", admin)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="payload"\r\n\r\n'
        f"{orjson.dumps(SINGLE).decode()}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="audioFile"; '
        'filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()
    stalled = [asyncio.Event() for _ in range(2)]
    more_bytes = asyncio.Event()

    async def slow_body(n: int) -> AsyncIterator[bytes]:
        yield head + bytes(64 * 1024)
        stalled[n].set()
        await more_bytes.wait()
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    uploads = [
        asyncio.create_task(
            harness.client.post(
                "/api/v1/submissions",
                content=slow_body(n),
                headers={**artist, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            )
        )
        for n in range(2)
    ]
    try:
        async with asyncio.timeout(20):
            for event in stalled:
                await event.wait()
        other = await harness.client.get("/api/v1/_test/users/count")
    finally:
        more_bytes.set()  # whatever happened, let the uploads end
    responses = await asyncio.gather(*uploads)
    assert other.status_code == 200, other.text
    # Zeros are not audio: each upload is refused by what it is, not by a lack of connections.
    for response in responses:
        assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize("change", ["account deleted", "set back to USER", "account disabled"])
async def test_an_upload_whose_artist_loses_the_right_meanwhile_keeps_nothing(
    change: str, backend: Backend, make_client: Callable[..., Any]
) -> None:
    """While an upload is still arriving, the artist deletes their account, or an admin sets
    them back to USER or disables them: the upload ends with 403 `not_an_artist`, not a 500
    and not a submission, and nothing of it is kept, rows or files. The right to submit is
    checked again when the upload is recorded, not only when it began (it can last minutes)."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "leaving-artist@example.com", admin)
    user_id = (await harness.client.get("/api/v1/auth/me", headers=artist)).json()["id"]
    (audio_part, (audio_name, audio, audio_type)), (cover_part, cover) = single_files()
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="payload"\r\n\r\n'
        f"{orjson.dumps(SINGLE).decode()}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{audio_part}"; '
        f'filename="{audio_name}"\r\nContent-Type: {audio_type}\r\n\r\n'
    ).encode()
    tail = (
        (
            f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="{cover_part}"; '
            f'filename="{cover[0]}"\r\nContent-Type: {cover[2]}\r\n\r\n'
        ).encode()
        + cover[1]
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    halfway, rest = asyncio.Event(), asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield head + audio
        halfway.set()
        await rest.wait()
        yield tail

    upload = asyncio.create_task(
        harness.client.post(
            "/api/v1/submissions",
            content=body(),
            headers={**artist, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    )
    try:
        async with asyncio.timeout(20):
            await halfway.wait()
        if change == "account deleted":
            changed = await harness.client.request(
                "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=artist
            )
        else:
            changed = await harness.client.patch(
                f"/api/v1/admin/users/{user_id}",
                json={"role": "USER"} if change == "set back to USER" else {"disabled": True},
                headers=admin,
            )
    finally:
        rest.set()
    response = await upload
    assert changed.status_code in (200, 204), changed.text
    assert_problem(response, 403, "not_an_artist")
    assert await object_counts(harness) == (0, 0)
