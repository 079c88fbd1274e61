"""Building submission requests as the web client does (multipart: JSON payload + files)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import orjson
from sqlalchemy import func, select

from empulse.core.db import session_scope
from empulse.media.service import MEDIA_PIPELINE
from empulse.models import PendingUpload
from empulse.services import Services
from empulse.submissions.schemas import WARRANTIES_GIVEN
from tests.conftest import Harness
from tests.support import media

SINGLE: dict[str, Any] = {
    "releaseType": "single",
    "metadata": {"trackName": "Night Drive", "genre": "Electronic", "isrc": "US-S1Z-99-00001"},
    "artistMoodTags": {"mood": "dreamy", "energy": "medium"},
    "composers": ["Ada Lovelace"],
    "lyricists": [{"name": "Ada Lovelace", "share": 100}],
    "publishers": [],
    "rightsMetadata": {"copyrightOwner": "Ada Lovelace", "copyrightYear": "2026"},
    "legalWarranties": WARRANTIES_GIVEN,
}


def ep_payload(tracks: int = 2) -> dict[str, Any]:
    payload = copy.deepcopy(SINGLE)
    payload["releaseType"] = "ep"
    payload["metadata"] = {"albumName": "Lanterns EP", "genre": "Electronic", "subgenre": "Ambient"}
    payload["tracks"] = [{"title": f"Song {n + 1}"} for n in range(tracks)]
    return payload


Files = list[tuple[str, tuple[str, bytes, str]]]


def single_files(audio: bytes | None = None) -> Files:
    return [
        ("audioFile", ("night drive.wav", audio or media.sine_wav(), "audio/wav")),
        ("coverArtFile", ("cover.png", media.cover_png(), "image/png")),
    ]


def ep_files(tracks: int = 2) -> Files:
    files: Files = [
        (f"track_{n}_file", (f"song{n}.flac", media.encoded("flac", "flac"), "audio/flac"))
        for n in range(tracks)
    ]
    files.append(("coverArtFile", ("cover.jpg", media.cover_jpeg_with_exif(), "image/jpeg")))
    return files


async def submit(
    harness: Harness,
    headers: dict[str, str],
    payload: dict[str, Any] | None = None,
    files: Files | None = None,
    path: str = "/api/v1/submissions",
) -> httpx.Response:
    return await harness.client.post(
        path,
        data={"payload": orjson.dumps(payload or SINGLE).decode()},
        files=files if files is not None else single_files(),
        headers=headers,
    )


async def processed(harness: Harness) -> None:
    """Run the media pipeline's queued jobs now (the job queue would, in the background): a
    release is publishable once its tracks' renditions exist."""
    services: Services = harness.app.state.services
    while await services.job_runner.run_due([MEDIA_PIPELINE]):
        pass


async def approve(harness: Harness, submission_id: str, admin: dict[str, str]) -> httpx.Response:
    """An admin approves (publishes) the submission once the media pipeline has processed it,
    as a reviewer waits for it."""
    await processed(harness)
    return await harness.client.post(
        f"/api/v1/admin/submissions/{submission_id}/approve", headers=admin
    )


async def object_counts(harness: Harness) -> tuple[int, int]:
    """(rows in pending_uploads, objects in storage)."""
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        pending = await session.scalar(select(func.count()).select_from(PendingUpload))
    storage = services.storage
    if storage.name == "local":
        root: Path = storage.root  # type: ignore[attr-defined]
        found = await anyio.to_thread.run_sync(lambda: list(root.rglob("*")))
        objects = sum(1 for p in found if p.is_file() and ".staging" not in p.parts)
    else:
        listed = storage.client.list_objects_v2(Bucket=storage.bucket)  # type: ignore[attr-defined]
        objects = listed.get("KeyCount", 0)
    return int(pending or 0), objects
