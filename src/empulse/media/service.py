"""The media pipeline as a job: one per uploaded track, queued with the submission, so that
reviewers hear the renditions before they decide.

A run takes the track's pipeline row (`repository.claim`): one worker at a time, held while
the worker reports progress, taken over when a worker dies (its hold runs out and the job
queue retries the job). The original is read from storage into a temporary folder, processed
in a thread (media/analysis.py, CPU-bound), and the renditions stored under keys named after
the original, so a second run writes the same keys; their rows and the results are written
together, only by the run that still holds the pipeline. A refused file (silent, unreadable,
too long, out of time) ends `failed` with its reason.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import uuid
from collections.abc import Collection
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.db import session_scope, utcnow
from empulse.core.logging import get_logger
from empulse.infra import jobs
from empulse.media import repository
from empulse.media.analysis import REFERENCE_LUFS, Analysis, AudioRefused, analyse
from empulse.models import MediaObject, MediaPipeline
from empulse.services import Services

log = get_logger("empulse.media")

MEDIA_PIPELINE = "media.pipeline"
# How a submission's files name a rendition (`FileOut.part`).
RENDITION_PART = "rendition"
# The longest track accepted, and the time a run may take (an endless stream is refused).
MAX_TRACK_SECONDS = 3 * 3600
RUN_DEADLINE_SECONDS = 1800
# A run holds its pipeline this long past each progress report (every `_REPORT_SECONDS`).
_HOLD = timedelta(seconds=60)
_REPORT_SECONDS = 2.0
_READ_CHUNK = 1 << 20


async def queue(session: AsyncSession, media_object_ids: Collection[uuid.UUID]) -> int:
    """Process these uploaded files once the caller's transaction commits (those a worker is
    processing now go on as they are); how many were queued."""
    queued = await repository.queue(session, media_object_ids, utcnow())
    for media_object_id in queued:
        jobs.enqueue(session, MEDIA_PIPELINE, {"mediaObjectId": str(media_object_id)})
    return len(queued)


def rendition_key(source: MediaObject, name: str, extension: str) -> str:
    return f"private/renditions/{source.id.hex}/{name}.{extension}"


async def run(services: Services, payload: dict[str, Any]) -> None:
    """The job: process one uploaded file (nothing when it is done or held elsewhere)."""
    source_id = uuid.UUID(payload["mediaObjectId"])
    now = utcnow()
    async with session_scope(services.sessionmaker) as session:
        run_number = await repository.claim(session, source_id, now, now + _HOLD)
        source = await session.get(MediaObject, source_id) if run_number else None
    if run_number is None or source is None:
        return
    progress = _Progress()
    reporter = asyncio.create_task(_report(services, source_id, run_number, progress))
    try:
        with tempfile.TemporaryDirectory(prefix="empulse-media-") as folder:
            work = Path(folder)
            original = work / f"original.{_extension(source)}"
            await _download(services, source, original)
            out = work / "out"
            out.mkdir()
            try:
                result = await anyio.to_thread.run_sync(
                    lambda: analyse(
                        original,
                        out,
                        max_seconds=MAX_TRACK_SECONDS,
                        deadline_seconds=RUN_DEADLINE_SECONDS,
                        progress=progress.set,
                    )
                )
            except AudioRefused as refused:
                async with session_scope(services.sessionmaker) as session:
                    await repository.fail(session, source_id, run_number, str(refused))
                log.info(
                    "media_pipeline_refused", media_object_id=str(source_id), reason=str(refused)
                )
                return
            progress.step = "storing"
            renditions = await _store(services, source, result)
    finally:
        reporter.cancel()
    async with session_scope(services.sessionmaker) as session:
        kept = await repository.finish(session, source_id, run_number, renditions, _results(result))
        if kept and source.submission_id is not None:
            await _album_loudness(session, source.submission_id)
    log.info("media_pipeline_done", media_object_id=str(source_id), kept=kept)


class _Progress:
    def __init__(self) -> None:
        self.step = "encoding"
        self.fraction = 0.0

    def set(self, fraction: float) -> None:  # called from the worker thread
        self.fraction = fraction


async def _report(services: Services, source_id: uuid.UUID, run: int, progress: _Progress) -> None:
    while True:
        await asyncio.sleep(_REPORT_SECONDS)
        async with session_scope(services.sessionmaker) as session:
            await repository.report(
                session,
                source_id,
                run,
                step=progress.step,
                progress=round(progress.fraction, 3),
                until=utcnow() + _HOLD,
            )


def _extension(source: MediaObject) -> str:
    name = source.original_filename or ""
    return name.rsplit(".", 1)[-1].lower() if "." in name else "audio"


async def _download(services: Services, source: MediaObject, path: Path) -> None:
    with path.open("wb") as file:
        chunks = await services.storage.open_range(source.key, 0, source.size_bytes - 1)
        try:
            async for chunk in chunks:
                await anyio.to_thread.run_sync(file.write, chunk)
        finally:
            await chunks.aclose()


async def _store(services: Services, source: MediaObject, result: Analysis) -> list[MediaObject]:
    stored = []
    for rendition in result.renditions:
        spec = rendition.spec
        key = rendition_key(source, spec.name, spec.extension)
        writer = await services.storage.open_writer(key, spec.content_type)
        try:
            with rendition.path.open("rb") as file:
                while chunk := await anyio.to_thread.run_sync(file.read, _READ_CHUNK):
                    await writer.write(chunk)
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        stored.append(
            MediaObject(
                key=key,
                submission_id=source.submission_id,
                role=repository.RENDITION,
                track_index=source.track_index,
                content_type=spec.content_type,
                size_bytes=rendition.size_bytes,
                sha256=rendition.sha256,
                original_filename=f"{spec.name}.{spec.extension}",
                source_id=source.id,
                details={
                    "rendition": spec.name,
                    "codec": spec.codec.removeprefix("lib"),
                    "bitRate": rendition.bitrate,
                    "nominalBitRate": spec.bitrate,
                    "durationSeconds": rendition.duration_seconds,
                },
            )
        )
    return stored


def _results(result: Analysis) -> dict[str, Any]:
    loudness, quality = result.loudness, result.quality
    return {
        "loudness": {
            "integratedLufs": loudness.integrated_lufs,
            "rangeLu": loudness.range_lu,
            "truePeakDbtp": loudness.true_peak_dbtp,
            "referenceLufs": REFERENCE_LUFS,
        },
        "quality": {
            "durationSeconds": quality.duration_seconds,
            "sampleRate": quality.sample_rate,
            "channels": quality.channels,
            "bitDepth": quality.bit_depth,
            "clippedSamples": quality.clipped_samples,
            "leadingSilenceSeconds": quality.leading_silence_seconds,
            "trailingSilenceSeconds": quality.trailing_silence_seconds,
        },
        "waveform": [[low, high] for low, high in result.waveform],
        "renditions": [
            {
                "name": r.spec.name,
                "format": r.spec.name.split("-", 1)[0],
                "bitrate": r.spec.bitrate,
                "contentType": r.spec.content_type,
            }
            for r in result.renditions
        ],
    }


async def _album_loudness(session: AsyncSession, submission_id: uuid.UUID) -> None:
    """Once every track of the release is measured: the album's loudness, the tracks' energy
    averaged over their durations (as ReplayGain's album gain approximates the whole), and its
    peak, the loudest track's; kept on each track's pipeline."""
    rows = await repository.release_pipelines(session, submission_id)
    if not rows or any(row.status != "done" or not row.loudness for row in rows):
        return
    weights = [float((row.quality or {}).get("durationSeconds") or 0.0) for row in rows]
    energies = [10 ** (float(row.loudness["integratedLufs"]) / 10) for row in rows]  # type: ignore[index]
    total = sum(weights) or 1.0
    album = 10 * math.log10(
        max(sum(w * e for w, e in zip(weights, energies, strict=True)) / total, 1e-12)
    )
    peak = max(float(row.loudness["truePeakDbtp"]) for row in rows)  # type: ignore[index]
    for row in rows:
        row.loudness = {
            **(row.loudness or {}),
            "albumIntegratedLufs": round(album, 2),
            "albumTruePeakDbtp": peak,
        }


def pipeline_out(pipeline: MediaPipeline | None) -> dict[str, Any] | None:
    """What reviewers and the artist see of a file's pipeline."""
    if pipeline is None:
        return None
    return {
        "status": pipeline.status,
        "step": pipeline.step,
        "progress": pipeline.progress,
        "reason": pipeline.reason,
        "loudness": pipeline.loudness,
        "quality": pipeline.quality,
    }


# What `format` names, and the renditions of it (`analysis.RENDITIONS`).
STREAM_FORMATS = ("opus", "aac", "mp3", "original")


async def stream_choice(
    session: AsyncSession, original: MediaObject, fmt: str | None, max_kbps: int | None
) -> MediaObject:
    """The file to stream: `original` when asked, or while there are no renditions (the
    pipeline has not run); otherwise the best rendition of the format asked (Opus by default)
    within `max_kbps`, or that format's smallest when none is within."""
    if fmt == "original":
        return original
    renditions = await repository.renditions_of(session, original.id)
    wanted = f"{fmt or 'opus'}-"
    candidates = [r for r in renditions if str(r.details.get("rendition", "")).startswith(wanted)]
    if not candidates:
        return original

    def nominal(rendition: MediaObject) -> int:
        return int(rendition.details.get("nominalBitRate") or 0)

    within = [r for r in candidates if not max_kbps or nominal(r) <= max_kbps * 1000]
    return max(within, key=nominal) if within else min(candidates, key=nominal)


async def pipelines_of(
    session: AsyncSession, files: Collection[MediaObject]
) -> dict[uuid.UUID, MediaPipeline]:
    """The pipelines of these files (those that have one: uploaded audio)."""
    return await repository.pipelines(session, [f.id for f in files if f.role == "audio"])


def downsampled(waveform: list[Any], points: int) -> list[tuple[float, float]]:
    """`waveform` ((min, max) pairs) in `points` groups, normalised to the loudest peak."""
    pairs = [(float(low), float(high)) for low, high in waveform]
    if not pairs:
        return []
    count = min(points, len(pairs))
    groups = [pairs[i * len(pairs) // count : (i + 1) * len(pairs) // count] for i in range(count)]
    reduced = [(min(low for low, _ in g), max(high for _, high in g)) for g in groups]
    loudest = max(max(abs(low), abs(high)) for low, high in reduced) or 1.0
    return [(round(low / loudest, 4), round(high / loudest, 4)) for low, high in reduced]
