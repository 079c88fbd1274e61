"""A submission's tracks go through the media pipeline in the job queue: the reviewer sees its
status, loudness and quality report and can hear the renditions; listeners stream the
rendition they ask for (Opus 160 kbit/s by default), on either storage."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path

import av
import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import make_transient
from typer.testing import CliRunner

from empulse import cli
from empulse.core.db import session_scope, utcnow
from empulse.media import service as media
from empulse.models import Job, MediaObject, MediaPipeline
from empulse.services import Services
from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import deliver
from tests.conftest import Harness
from tests.streaming.test_stream import AUDIO, listener
from tests.submissions.helpers import SINGLE, submit
from tests.support import media as samples
from tests.support.transactions import first_of, until_paused


def decoded(data: bytes) -> tuple[str, float]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        samples_read = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, samples_read / stream.rate


async def submitted(harness: Harness, audio: bytes) -> tuple[dict[str, str], str]:
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    files = [
        ("audioFile", ("night drive.wav", audio, "audio/wav")),
        ("coverArtFile", ("cover.png", samples.cover_png(), "image/png")),
    ]
    created = await submit(harness, artist, SINGLE, files)
    assert created.status_code == 201, created.text
    return admin, created.json()["id"]


async def test_renditions_loudness_and_streams_of_the_chosen_format(
    media_harness: Harness,
) -> None:
    harness = media_harness
    admin, submission_id = await submitted(harness, AUDIO)
    detail = f"/api/v1/admin/submissions/{submission_id}"
    [queued] = [f for f in (await harness.client.get(detail, headers=admin)).json()["files"]
                if f["role"] == "audio"]  # fmt: skip
    assert queued["pipeline"]["status"] == "queued"

    await deliver(harness, media=True)  # the job queue runs the pipeline
    files = (await harness.client.get(detail, headers=admin)).json()["files"]
    [original] = [f for f in files if f["role"] == "audio"]
    pipeline = original["pipeline"]
    assert pipeline["status"] == "done"
    assert pipeline["progress"] == 1.0
    assert pipeline["quality"]["channels"] == 1
    assert pipeline["quality"]["clippedSamples"] == 0
    assert -30 < pipeline["loudness"]["integratedLufs"] < -5
    # Its shape, before anyone publishes it.
    assert 100 < len(pipeline["waveform"]) <= 200  # one point per 1,024 samples at most
    assert max(high for _, high in pipeline["waveform"]) == 1.0
    renditions = {f["details"]["rendition"]: f for f in files if f["role"] == "rendition"}
    assert set(renditions) == {"opus-160", "opus-96", "aac-256", "mp3-320"}
    # The reviewer hears the Opus rendition before deciding.
    url = renditions["opus-160"]["url"]
    if url.startswith("http"):  # S3's presigned URL
        async with httpx.AsyncClient() as store:
            heard = await store.get(url)
    else:
        heard = await harness.client.get(url)
    assert heard.status_code == 200
    assert decoded(heard.content)[0] == "opus"

    approved = await harness.client.post(f"{detail}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    harness.client.cookies.clear()
    track_id = (await harness.client.get("/api/v1/tracks")).json()["items"][0]["id"]
    me = await listener(harness)
    stream = f"/api/v1/tracks/{track_id}/stream"

    # The track lists its renditions and its ReplayGain (to -18 LUFS; -14 too).
    shown = (await harness.client.get(f"/api/v1/tracks/{track_id}")).json()
    assert {r["name"] for r in shown["renditions"]} == set(renditions)
    gain = shown["replayGain"]
    measured = pipeline["loudness"]["integratedLufs"]
    assert gain["trackGain"] == round(-18 - measured, 2)
    assert gain["trackGainTo14Lufs"] == round(-14 - measured, 2)
    assert gain["albumGain"] == gain["trackGain"]  # a single: the release is the track
    assert 0 < gain["trackPeak"] < 1

    expected = {
        "": ("audio/ogg", "opus"),
        "?format=opus&maxBitRate=100": ("audio/ogg", "opus"),
        "?format=aac": ("audio/mp4", "aac"),
        "?format=mp3&maxBitRate=96": ("audio/mpeg", "mp3float"),
    }
    sizes: dict[str, int] = {}
    for query, (content_type, codec) in expected.items():
        answer = await harness.client.get(stream + query, headers=me)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == content_type
        name, seconds = decoded(answer.content)
        assert name == codec
        assert abs(seconds - 4.0) <= 0.05
        sizes[query] = len(answer.content)
    assert sizes["?format=opus&maxBitRate=100"] < sizes[""]  # the 96 kbit/s one
    ranged = await harness.client.get(stream, headers={**me, "Range": "bytes=0-99"})
    assert ranged.status_code == 206
    original_bytes = await harness.client.get(stream + "?format=original", headers=me)
    assert original_bytes.content == AUDIO

    # The waveform, drawn at ingest, reduced on request; public and cacheable.
    harness.client.cookies.clear()
    drawn = await harness.client.get(f"/api/v1/tracks/{track_id}/waveform?points=50")
    assert drawn.status_code == 200, drawn.text
    assert drawn.json()["points"] == 50
    peaks = drawn.json()["peaks"]
    assert max(max(abs(low), abs(high)) for low, high in peaks) == 1.0
    assert all(low <= high for low, high in peaks)
    assert abs(drawn.json()["durationMs"] - 4000) <= 50
    assert drawn.headers["cache-control"].startswith("public")
    again = await harness.client.get(
        f"/api/v1/tracks/{track_id}/waveform?points=50",
        headers={"If-None-Match": drawn.headers["etag"]},
    )
    assert again.status_code == 304


async def test_a_track_shown_done_always_has_its_renditions_listed(
    media_harness: Harness,
) -> None:
    """A run commits its renditions with its "done". The detail reads the files and the
    pipelines in two statements, each in its own snapshot, so a run can commit between them:
    here it does, exactly there. The page may show the run as still running, but never as
    done with no renditions to hear."""
    harness = media_harness
    admin, submission_id = await submitted(harness, AUDIO)
    await deliver(harness, media=True)
    services: Services = harness.app.state.services
    # Back to the moment before the run's last transaction: running, no renditions yet.
    async with session_scope(services.sessionmaker) as session:
        renditions = list(
            await session.scalars(select(MediaObject).where(MediaObject.role == "rendition"))
        )
        assert len(renditions) == 4
        for rendition in renditions:
            session.expunge(rendition)
            make_transient(rendition)
        await session.execute(delete(MediaObject).where(MediaObject.role == "rendition"))
        await session.execute(update(MediaPipeline).values(status="running"))

    detail = f"/api/v1/admin/submissions/{submission_id}"
    # Both of the detail's reads select by submission (the job runner's own reads do not).
    async with first_of(services.engine, "media_objects.submission_id") as read:
        shown = asyncio.create_task(harness.client.get(detail, headers=admin))
        assert await until_paused(read, shown)  # the detail's first read of either is done
        async with session_scope(services.sessionmaker) as session:  # the run finishes
            session.add_all(renditions)
            await session.execute(update(MediaPipeline).values(status="done"))
        read.resume.set()
        files = (await shown).json()["files"]
    [audio] = [f for f in files if f["role"] == "audio"]
    listed = [f for f in files if f["role"] == "rendition"]
    assert audio["pipeline"]["status"] in ("running", "done")
    if audio["pipeline"]["status"] == "done":
        assert len(listed) == 4, files


async def test_silent_audio_fails_with_its_reason_and_a_second_run_is_a_no_op(
    media_harness: Harness,
) -> None:
    harness = media_harness
    silent = samples.sine_wav(seconds=2.0, frequency=0.0)
    admin, submission_id = await submitted(harness, silent)
    await deliver(harness, media=True)
    detail = f"/api/v1/admin/submissions/{submission_id}"
    files = (await harness.client.get(detail, headers=admin)).json()["files"]
    [original] = [f for f in files if f["role"] == "audio"]
    assert original["pipeline"]["status"] == "failed"
    assert "silent" in original["pipeline"]["reason"]
    assert not [f for f in files if f["role"] == "rendition"]

    # It cannot be published: the reviewer is told why.
    refused = await harness.client.post(f"{detail}/approve", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["code"] == "media_not_ready"
    assert "could not be processed (The audio is silent.)" in refused.json()["detail"]

    # An admin runs it again (its cause fixed, say): queued, then failed again, for the same
    # reason.
    rerun = await harness.client.post(f"{detail}/media-pipeline", headers=admin)
    assert rerun.status_code == 202, rerun.text
    assert rerun.json() == {"queued": 1}
    files = (await harness.client.get(detail, headers=admin)).json()["files"]
    assert [f["pipeline"]["status"] for f in files if f["role"] == "audio"] == ["queued"]
    await deliver(harness, media=True)

    # A job delivered twice (at-least-once) finds the pipeline finished and does nothing.
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        [row] = (await session.scalars(select(MediaPipeline))).all()
    await media.run(services, {"mediaObjectId": str(row.media_object_id)})
    async with session_scope(services.sessionmaker) as session:
        again = await session.get(MediaPipeline, row.media_object_id)
        assert again is not None
        assert (again.status, again.runs) == ("failed", 2)


async def test_a_pipeline_its_worker_left_running_is_queued_again(
    media_harness: Harness,
) -> None:
    """A worker died holding a file, and no job is left to retry it: the hourly clean-up
    queues it again, and the next run finishes it."""
    harness = media_harness
    admin, submission_id = await submitted(harness, AUDIO)
    services: Services = harness.app.state.services
    long_ago = utcnow() - timedelta(hours=1)
    async with session_scope(services.sessionmaker) as session:
        await session.execute(
            update(MediaPipeline).values(status="running", runs=1, locked_until=long_ago)
        )
        await session.execute(delete(Job).where(Job.kind == media.MEDIA_PIPELINE))
    await services.job_runner.prune()
    detail = f"/api/v1/admin/submissions/{submission_id}"
    files = (await harness.client.get(detail, headers=admin)).json()["files"]
    assert [f["pipeline"]["status"] for f in files if f["role"] == "audio"] == ["queued"]
    await deliver(harness, media=True)
    files = (await harness.client.get(detail, headers=admin)).json()["files"]
    assert [f["pipeline"]["status"] for f in files if f["role"] == "audio"] == ["done"]


async def test_tracks_uploaded_before_the_pipeline_existed_are_queued_by_the_backfill(
    media_harness: Harness,
) -> None:
    """Audio uploaded before the pipeline existed has no pipeline row: the backfill (`empulse
    media-backfill`) queues each once, in batches, and the job queue processes them."""
    harness = media_harness
    admin, submission_id = await submitted(harness, samples.sine_wav(seconds=1.0))
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:  # as migration 0020 found it
        await session.execute(delete(MediaPipeline))
        await session.execute(delete(Job).where(Job.kind == media.MEDIA_PIPELINE))
    detail = f"/api/v1/admin/submissions/{submission_id}"
    files = (await harness.client.get(detail, headers=admin)).json()["files"]
    assert [f["pipeline"] for f in files if f["role"] == "audio"] == [None]

    assert await media.queue_unprocessed(services.sessionmaker, batch_size=1) == 1
    assert await media.queue_unprocessed(services.sessionmaker) == 0  # queued once
    await deliver(harness, media=True)
    files = (await harness.client.get(detail, headers=admin)).json()["files"]
    assert [f["pipeline"]["status"] for f in files if f["role"] == "audio"] == ["done"]
    assert len([f for f in files if f["role"] == "rendition"]) == 4


def test_the_backfill_command_says_how_many_it_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMPULSE_ENV", "test")
    monkeypatch.setenv("EMPULSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli.app, ["media-backfill"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "queued 0 tracks"
