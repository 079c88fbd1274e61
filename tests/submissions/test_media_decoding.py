"""Damaged uploads (submissions/media): whatever the bytes, audio is described or refused, and a
cover is re-encoded or refused (`UnsupportedFile`, a 422); never another exception (a 500).
Each example takes a valid file of one accepted format and damages it: bytes overwritten, cut
out, inserted, or the file truncated."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from empulse.submissions.media import (
    COVER_SIZES,
    MIN_AUDIO_SECONDS,
    UnsupportedFile,
    decode_cover,
    probe_audio,
    render_covers,
)
from tests.support import media
from tests.support.damage import Edit, damaged, edits

FORMATS: dict[str, Callable[[], bytes]] = {
    "wav": lambda: media.sine_wav(1.5),
    "flac": lambda: media.encoded("flac", "flac", 1.5),
    "mp3": lambda: media.encoded("mp3", "libmp3lame", 1.5),
    "m4a": lambda: media.encoded("ipod", "aac", 1.5),
    "aac": lambda: media.encoded("adts", "aac", 1.5),
    "ogg": lambda: media.encoded("ogg", "flac", 1.5),
    "opus": lambda: media.encoded("ogg", "libopus", 1.5, rate=48_000),
}

COVERS: dict[str, Callable[[], bytes]] = {
    "png": lambda: media.cover_png(400, 400),
    "jpg": lambda: media.cover_jpeg_with_exif(400, 400, orientation=6),
    "webp": lambda: media.cover_webp(400, 400),
}


@functools.cache
def _valid(extension: str) -> bytes:
    return {**FORMATS, **COVERS}[extension]()


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(extension=st.sampled_from(sorted(FORMATS)), changes=edits())
def test_damaged_audio_is_described_or_refused(extension: str, changes: list[Edit]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"upload.{extension}"
        path.write_bytes(damaged(_valid(extension), changes))
        try:
            description = probe_audio(path, extension)
        except UnsupportedFile:
            return
    assert description["durationSeconds"] >= MIN_AUDIO_SECONDS


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(extension=st.sampled_from(sorted(COVERS)), changes=edits())
# Pillow warns that the damaged EXIF block it was given is damaged, as it should.
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
def test_a_damaged_cover_is_re_encoded_or_refused(extension: str, changes: list[Edit]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"cover.{extension}"
        path.write_bytes(damaged(_valid(extension), changes))
        try:
            image = decode_cover(path, extension)
        except UnsupportedFile:
            return
    (smallest,) = render_covers(image, COVER_SIZES[-1:])
    assert smallest.jpeg.startswith(b"\xff\xd8")
