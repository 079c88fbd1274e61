"""The media pipeline as a job: one per uploaded track, queued with the submission, so that
reviewers hear the renditions before they decide.

A run takes the track's pipeline row (`repository.claim`): one worker at a time, held while
the worker reports progress, taken over when a worker dies (its hold runs out and the job
queue retries the job). The original is read from storage into a temporary folder, processed
in a thread (media/analysis.py, CPU-bound), and the renditions stored under keys named after
the original, so a second run writes the same keys; their rows and the results are written
together, only by the run that still holds the pipeline. A run that cannot renew its hold stops
before the hold lapses, so two workers never encode one file at once. Its working folder is
named after the file and run: the next run of that file removes what a killed worker left, and
the hourly clean-up the rest. A refused file (silent, unreadable, too long, out of time) ends
`failed` with its reason.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import tempfile
import time
import uuid
from collections.abc import Collection
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from empulse.core.db import session_scope, utcnow
from empulse.core.logging import get_logger
from empulse.infra import jobs
from empulse.media import repository
from empulse.media.analysis import REFERENCE_LUFS, Analysis, AudioRefused, analyse
from empulse.models import MediaObject, MediaPipeline
from empulse.services import Services
from empulse.submissions import repository as submissions

log = get_logger("empulse.media")

MEDIA_PIPELINE = "media.pipeline"
# How a submission's files name a rendition (`FileOut.part`).
RENDITION_PART = "rendition"
# The longest track accepted, and the time a run may take (an endless stream is refused).
MAX_TRACK_SECONDS = 3 * 3600
RUN_DEADLINE_SECONDS = 1800
# A run holds its pipeline this long past each progress report (every `_REPORT_SECONDS`).
HOLD = timedelta(seconds=60)
_REPORT_SECONDS = 2.0
_READ_CHUNK = 1 << 20
# Where runs work (a folder per file), on the worker's own disk.
WORK_ROOT = Path(tempfile.gettempdir()) / "empulse-media"


async def queue(session: AsyncSession, media_object_ids: Collection[uuid.UUID]) -> int:
    """Process these uploaded files once the caller's transaction commits (those a worker is
    processing now go on as they are); how many were queued."""
    queued = await repository.queue(session, media_object_ids, utcnow())
    for media_object_id in queued:
        jobs.enqueue(session, MEDIA_PIPELINE, {"mediaObjectId": str(media_object_id)})
    return len(queued)


async def queue_unprocessed(
    sessionmaker: async_sessionmaker[AsyncSession], *, batch_size: int = 500
) -> int:
    """Queue the pipeline of every uploaded track that has none (uploaded before the pipeline
    existed: no renditions, loudness or waveform yet), a batch per transaction; how many."""
    total = 0
    while True:
        async with session_scope(sessionmaker) as session:
            queued = await queue(session, await repository.unprocessed(session, batch_size))
        total += queued
        if queued < batch_size:
            return total


def rendition_key(source: MediaObject, name: str, extension: str) -> str:
    return f"private/renditions/{source.id.hex}/{name}.{extension}"


async def run(services: Services, payload: dict[str, Any]) -> None:
    """The job: process one uploaded file (nothing when it is done or held elsewhere)."""
    source_id = uuid.UUID(payload["mediaObjectId"])
    now = utcnow()
    async with session_scope(services.sessionmaker) as session:
        run_number = await repository.claim(session, source_id, now, now + HOLD)
        source = await session.get(MediaObject, source_id) if run_number else None
    if run_number is None or source is None:
        return
    progress = _Progress()
    reporter = asyncio.create_task(_report(services, source_id, run_number, progress))
    work = WORK_ROOT / f"{source_id.hex}-{run_number}"
    try:
        await anyio.to_thread.run_sync(_fresh_folder, work)
        try:
            original = work / f"original.{_extension(source)}"
            await _download(services, source, original)
            out = work / "out"
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
            renditions = await _store(services, source, result, progress)
        finally:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(work, ignore_errors=True))
    except RunAbandoned:
        log.warning("media_pipeline_abandoned", media_object_id=str(source_id), run=run_number)
        return
    finally:
        reporter.cancel()
    async with session_scope(services.sessionmaker) as session:
        kept = await repository.finish(session, source_id, run_number, renditions, _results(result))
        if kept and source.submission_id is not None:
            await _album_loudness(session, source.submission_id)
    log.info("media_pipeline_done", media_object_id=str(source_id), kept=kept)


class RunAbandoned(Exception):
    """The run could not keep its hold (taken over, or the database out of reach for most of a
    hold): it stops, writing nothing, so that it never works beside the run that takes over."""


class _Progress:
    def __init__(self) -> None:
        self.step = "encoding"
        self.fraction = 0.0
        self.lost = False

    def set(self, fraction: float) -> None:  # called from the worker thread, per frame
        if self.lost:
            raise RunAbandoned
        self.fraction = fraction


async def _report(services: Services, source_id: uuid.UUID, run: int, progress: _Progress) -> None:
    """Renew the hold every `_REPORT_SECONDS`, with the progress. A report that fails is tried
    again at the next; when the last renewal is about to lapse, or the run was taken over, the
    run is told to stop."""
    renewed = time.monotonic()
    give_up = HOLD.total_seconds() - 3 * _REPORT_SECONDS
    while True:
        await asyncio.sleep(_REPORT_SECONDS)
        try:
            async with session_scope(services.sessionmaker) as session:
                held = await repository.report(
                    session,
                    source_id,
                    run,
                    step=progress.step,
                    progress=round(progress.fraction, 3),
                    until=utcnow() + HOLD,
                )
        except Exception as exc:  # the database, for a moment: try again at the next report
            log.warning(
                "media_pipeline_report_failed", media_object_id=str(source_id), error=repr(exc)
            )
            if time.monotonic() - renewed < give_up:
                continue
            held = False
        if not held:
            progress.lost = True
            return
        renewed = time.monotonic()


def _fresh_folder(work: Path) -> None:
    """An empty working folder for this run of the file; what earlier runs of it left (a
    killed worker's) is removed."""
    source, _ = work.name.split("-")
    for earlier in work.parent.glob(f"{source}-*"):
        shutil.rmtree(earlier, ignore_errors=True)
    (work / "out").mkdir(parents=True)


def sweep_work(older_than_seconds: float) -> int:
    """Remove working folders no run can still be using (a run lasts at most its deadline);
    how many went."""
    removed = 0
    cutoff = time.time() - older_than_seconds
    for folder in WORK_ROOT.glob("*") if WORK_ROOT.is_dir() else []:
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


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


async def _store(
    services: Services, source: MediaObject, result: Analysis, progress: _Progress
) -> list[MediaObject]:
    stored = []
    for rendition in result.renditions:
        spec = rendition.spec
        key = rendition_key(source, spec.name, spec.extension)
        writer = await services.storage.open_writer(key, spec.content_type)
        try:
            with rendition.path.open("rb") as file:
                while chunk := await anyio.to_thread.run_sync(file.read, _READ_CHUNK):
                    if progress.lost:
                        raise RunAbandoned
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


async def not_publishable(session: AsyncSession, files: Collection[MediaObject]) -> str | None:
    """Why a release with these files cannot be published yet (a track's renditions are not
    all made), for the reviewer; None when every uploaded track's pipeline is done."""
    audio = sorted((f for f in files if f.role == "audio"), key=lambda f: f.track_index or 0)
    pipelines = await repository.pipelines(session, [f.id for f in audio])
    for file in audio:
        track = f"Track {(file.track_index or 0) + 1}"
        pipeline = pipelines.get(file.id)
        if pipeline is None:
            return f"{track}'s audio has not been processed: run its media pipeline first."
        if pipeline.status == "failed":
            return (
                f"{track}'s audio could not be processed ({pipeline.reason}): run its media "
                "pipeline again, or reject the submission."
            )
        if pipeline.status != "done":
            return (
                f"{track}'s audio is still being processed ({pipeline.status}, "
                f"{round((pipeline.progress or 0.0) * 100)}%): approve it once it is done."
            )
    return None


# The waveform's points in a submission's file: enough to see the track's shape in a review.
REVIEW_WAVEFORM_POINTS = 200


def pipeline_out(pipeline: MediaPipeline | None) -> dict[str, Any] | None:
    """What reviewers and the artist see of a file's pipeline (the waveform reduced)."""
    if pipeline is None:
        return None
    waveform = pipeline.waveform or []
    return {
        "status": pipeline.status,
        "step": pipeline.step,
        "progress": pipeline.progress,
        "reason": pipeline.reason,
        "loudness": pipeline.loudness,
        "quality": pipeline.quality,
        "waveform": downsampled(waveform, REVIEW_WAVEFORM_POINTS) if waveform else None,
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


async def files_and_pipelines(
    session: AsyncSession, submission_id: uuid.UUID
) -> tuple[list[MediaObject], dict[uuid.UUID, MediaPipeline]]:
    """A submission's files, and the pipelines of its uploaded tracks, read so that they agree.

    A read session's statements each see their own snapshot on PostgreSQL, and a run commits
    its renditions with its "done" (`repository.finish`). The pipelines are read first, so a
    pipeline seen done has its renditions among the files read after it; read the other way
    round, a run finishing between the two reads showed "done" with no renditions."""
    pipelines = await repository.submission_pipelines(session, submission_id)
    files = await submissions.files_of(session, [submission_id])
    return files[submission_id], pipelines


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
