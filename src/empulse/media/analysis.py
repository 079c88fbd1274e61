"""One pass over a track's audio: decode the original once and, from the same frames, encode
the streaming renditions, measure loudness (EBU R128 / ITU-R BS.1770, FFmpeg's `ebur128`
filter), draw the waveform and write the quality report.

PyAV (its wheels carry FFmpeg and the encoders) decodes, resamples, measures and encodes Opus
and AAC; MP3 is LAME's own build (media/mp3.py: PyAV's costs three times the CPU). No system
FFmpeg. Work is
bounded: audio longer than `max_seconds` and a pass that outlasts `deadline_seconds` (a stream
that decodes forever) are refused, and memory stays flat in the track's length but for the
waveform's blocks (two floats per 1,024 samples).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
from av.audio.stream import AudioStream
from av.filter import Graph

from empulse.media.mp3 import Mp3Writer
from empulse.submissions.media import AUDIO_FORMATS

# Samples at or above this magnitude are at full scale (a 16-bit source's top is 32767/32768).
_FULL_SCALE = 0.9999
# Quieter than -60 dBFS is silence, for the leading and trailing silence.
_SILENCE = 10 ** (-60 / 20)
# EBU R128's absolute gate: a track whose integrated loudness is at or below it is silent.
_SILENT_LUFS = -70.0
_BLOCK = 1024
WAVEFORM_POINTS = 1000
REFERENCE_LUFS = -18.0  # ReplayGain 2.0's reference level
STREAMING_LUFS = -14.0  # what most streaming services normalise to


class AudioRefused(Exception):
    """The audio cannot be published: silent, unreadable past its header, too long, or its
    processing ran out of time. The message is for the artist."""


@dataclass(frozen=True, slots=True)
class RenditionSpec:
    name: str
    container: str
    codec: str
    bitrate: int
    extension: str
    content_type: str
    # The rates the encoder takes; the source's when it is one of them, else the first.
    rates: tuple[int, ...]


RENDITIONS = (
    RenditionSpec("opus-160", "ogg", "libopus", 160_000, "opus", "audio/ogg", (48_000,)),
    RenditionSpec("opus-96", "ogg", "libopus", 96_000, "opus", "audio/ogg", (48_000,)),
    RenditionSpec("aac-256", "ipod", "aac", 256_000, "m4a", "audio/mp4", (48_000, 44_100)),
    RenditionSpec("mp3-320", "mp3", "libmp3lame", 320_000, "mp3", "audio/mpeg", (44_100, 48_000)),
)


@dataclass(frozen=True, slots=True)
class Rendition:
    spec: RenditionSpec
    path: Path
    size_bytes: int
    sha256: str
    duration_seconds: float
    bitrate: int


@dataclass(frozen=True, slots=True)
class Loudness:
    integrated_lufs: float
    range_lu: float
    true_peak_dbtp: float


@dataclass(frozen=True, slots=True)
class Quality:
    duration_seconds: float
    sample_rate: int
    channels: int
    bit_depth: int | None  # of a lossless source; None for a lossy one
    clipped_samples: int
    leading_silence_seconds: float
    trailing_silence_seconds: float


@dataclass(frozen=True, slots=True)
class Analysis:
    renditions: list[Rendition]
    loudness: Loudness
    quality: Quality
    # Min and max per point, in [-1, 1] of full scale, WAVEFORM_POINTS points (fewer for a
    # track shorter than that many blocks).
    waveform: list[tuple[float, float]]


# The containers uploads are accepted in (a file is probed again here: FFmpeg also opens
# playlists and other formats that reach for other files, which no upload may be).
_CONTAINERS = frozenset().union(*(f.containers for f in AUDIO_FORMATS.values()))
_LOSSLESS_BITS = {"s16": 16, "s16p": 16, "s32": 24, "s32p": 24, "u8": 8, "u8p": 8}
_LOSSLESS_CODECS = ("pcm_", "flac", "alac")


_Target = tuple[str, str, int]  # sample format, layout, rate


class _Converter:
    """Frames in a rendition's sample format, layout and rate. Frames whose samples are already
    in them are handed on without PyAV's resampler, which, asked only to relabel the layout (a
    WAV's "1 channels" as "mono"), leaves the decoded frame unusable by the next consumer; they
    are copied under the layout's name when only the name differs."""

    def __init__(self, format: str, layout: str, rate: int) -> None:
        self.format, self.layout, self.rate = format, layout, rate
        self.resampler: av.AudioResampler | None = None
        self.passthrough: bool | None = None

    def convert(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        if frame is not None and self.passthrough is None:
            self.passthrough = (
                frame.format.name == self.format
                and frame.layout.nb_channels == av.AudioLayout(self.layout).nb_channels
                and frame.sample_rate == self.rate
            )
            if not self.passthrough:
                self.resampler = av.AudioResampler(
                    format=self.format, layout=self.layout, rate=self.rate
                )
        if not self.passthrough:
            return self.resampler.resample(frame) if self.resampler is not None else []
        if frame is None or frame.layout.name == self.layout:
            return [frame] if frame is not None else []
        copy = av.AudioFrame.from_ndarray(
            frame.to_ndarray(), format=self.format, layout=self.layout
        )
        copy.sample_rate, copy.pts, copy.time_base = frame.sample_rate, frame.pts, frame.time_base
        return [copy]


@dataclass(slots=True)
class _Encoder:
    """A rendition encoded by FFmpeg's encoder into FFmpeg's muxer."""

    spec: RenditionSpec
    path: Path
    rate: int
    target: _Target
    container: Any
    stream: Any
    samples: int = 0

    def encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            self.samples += frame.samples
            for packet in self.stream.encode(frame):
                self.container.mux(packet)

    def finish(self, frames: list[av.AudioFrame]) -> None:
        self.encode(frames)
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()

    def close(self) -> None:
        self.container.close()


@dataclass(slots=True)
class _LameEncoder:
    """The MP3 rendition: LAME's own build (media/mp3.py), fed 16-bit interleaved samples."""

    spec: RenditionSpec
    path: Path
    rate: int
    target: _Target
    writer: Mp3Writer

    @property
    def samples(self) -> int:
        return self.writer.samples

    def encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            self.writer.write(frame.to_ndarray())

    def finish(self, frames: list[av.AudioFrame]) -> None:
        self.encode(frames)
        self.writer.close()

    def close(self) -> None:
        self.writer.abandon()


def _encoder(spec: RenditionSpec, out_dir: Path, rate: int, layout: str) -> _Encoder | _LameEncoder:
    path = out_dir / f"{spec.name}.{spec.extension}"
    chosen = rate if rate in spec.rates else spec.rates[0]
    if spec.codec == "libmp3lame":
        channels = 1 if layout == "mono" else 2
        writer = Mp3Writer(path, rate=chosen, channels=channels, kbps=spec.bitrate // 1000)
        return _LameEncoder(spec, path, chosen, ("s16", layout, chosen), writer)
    container = av.open(str(path), "w", format=spec.container)
    stream = cast(AudioStream, container.add_stream(spec.codec, rate=chosen, layout=layout))
    stream.bit_rate = spec.bitrate
    target = (stream.codec_context.format.name, layout, chosen)
    return _Encoder(spec, path, chosen, target, container, stream)


@dataclass(slots=True)
class _Measures:
    """What the frames tell as they pass: waveform blocks, clipping, where sound is."""

    rate: int
    samples: int = 0
    clipped: int = 0
    first_sound: int | None = None
    last_sound: int = 0
    lows: list[np.ndarray] = field(default_factory=list)
    highs: list[np.ndarray] = field(default_factory=list)
    carry: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    def add(self, planes: np.ndarray) -> None:
        magnitude = np.abs(planes)
        self.clipped += int(np.count_nonzero(magnitude >= _FULL_SCALE))
        loud = np.flatnonzero(magnitude.max(axis=0) > _SILENCE)
        if loud.size:
            if self.first_sound is None:
                self.first_sound = self.samples + int(loud[0])
            self.last_sound = self.samples + int(loud[-1]) + 1
        self.samples += planes.shape[1]
        mono = np.concatenate([self.carry, planes.mean(axis=0)])
        whole = (mono.size // _BLOCK) * _BLOCK
        if whole:
            blocks = mono[:whole].reshape(-1, _BLOCK)
            self.lows.append(blocks.min(axis=1))
            self.highs.append(blocks.max(axis=1))
        self.carry = mono[whole:]

    def waveform(self) -> list[tuple[float, float]]:
        lows, highs = list(self.lows), list(self.highs)
        if self.carry.size:  # the last, partial block
            lows.append(self.carry.min(keepdims=True))
            highs.append(self.carry.max(keepdims=True))
        if not lows:
            return []
        low, high = np.concatenate(lows), np.concatenate(highs)
        groups = np.array_split(np.arange(low.size), min(WAVEFORM_POINTS, low.size))
        return [(round(float(low[g].min()), 4), round(float(high[g].max()), 4)) for g in groups]


class _Meter:
    """FFmpeg's `ebur128` filter: integrated loudness, loudness range, true peak."""

    def __init__(self, rate: int, layout: str) -> None:
        self.graph = Graph()
        source = self.graph.add_abuffer(
            format="fltp", sample_rate=rate, layout=layout, time_base=Fraction(1, rate)
        )
        meter = self.graph.add("ebur128", "peak=true:metadata=1")
        sink = self.graph.add("abuffersink")
        source.link_to(meter)
        meter.link_to(sink)
        self.graph.configure()
        self.last: dict[str, str] = {}

    def push(self, frame: av.AudioFrame | None) -> None:
        self.graph.push(frame)
        while True:
            try:
                out = self.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            measured = dict(out.metadata)
            if "lavfi.r128.I" in measured:  # the flush's last frames may carry none
                self.last = measured

    def result(self) -> Loudness:
        self.push(None)

        def value(key: str, default: float) -> float:
            try:
                return float(self.last[key])
            except (KeyError, ValueError):
                return default

        peak = value("lavfi.r128.true_peak", 0.0)
        return Loudness(
            integrated_lufs=value("lavfi.r128.I", _SILENT_LUFS),
            range_lu=value("lavfi.r128.LRA", 0.0),
            true_peak_dbtp=20 * math.log10(peak) if peak > 0 else -math.inf,
        )


def _frames(container: Any, deadline: float, max_samples: int) -> Iterator[av.AudioFrame]:
    stream = container.streams.audio[0]
    decoded = 0
    try:
        for frame in container.decode(stream):
            decoded += frame.samples
            if decoded > max_samples:
                raise AudioRefused("The audio is longer than a track may be.")
            if time.monotonic() > deadline:
                raise AudioRefused("The audio took too long to process.")
            yield frame
    except av.error.FFmpegError as exc:
        seconds = decoded / (stream.rate or 1)
        raise AudioRefused(f"The audio is unreadable after {seconds:.1f} s.") from exc


def analyse(
    source: Path,
    out_dir: Path,
    *,
    max_seconds: float,
    deadline_seconds: float,
    progress: Callable[[float], None] | None = None,
) -> Analysis:
    """Decode `source` once; write every rendition into `out_dir`. Raises AudioRefused, or
    what `progress` raises to stop the pass."""
    deadline = time.monotonic() + deadline_seconds
    try:
        container = av.open(str(source))
    except av.error.FFmpegError as exc:
        raise AudioRefused("The audio is unreadable.") from exc
    with container:
        if not set(container.format.name.split(",")) & _CONTAINERS:
            raise AudioRefused("The file is not in an accepted audio format.")
        if not container.streams.audio:
            raise AudioRefused("The file holds no audio.")
        stream = container.streams.audio[0]
        rate = stream.rate or 44_100
        channels = stream.channels or 2
        layout = "mono" if channels == 1 else "stereo"
        expected = (
            float(stream.duration * stream.time_base)
            if stream.duration and stream.time_base
            else None
        )
        codec = stream.codec_context.name
        lossless = codec.startswith(_LOSSLESS_CODECS)
        bit_depth = _LOSSLESS_BITS.get(stream.codec_context.format.name) if lossless else None
        encoders = [_encoder(spec, out_dir, rate, layout) for spec in RENDITIONS]
        # Each distinct format, layout and rate is made once per frame, whoever wants it (the
        # two Opus renditions share their 48 kHz; the analysis and AAC their planar floats).
        analysis: _Target = ("fltp", layout, rate)
        converters = {
            target: _Converter(*target) for target in [analysis] + [e.target for e in encoders]
        }
        meter = _Meter(rate, layout)
        measures = _Measures(rate)
        try:
            for frame in _frames(container, deadline, int(max_seconds * rate)):
                converted = {target: c.convert(frame) for target, c in converters.items()}
                for encoder in encoders:
                    encoder.encode(converted[encoder.target])
                for planar in converted[analysis]:
                    measures.add(planar.to_ndarray())
                    meter.push(planar)
                if progress is not None:  # per frame: it may stop the pass by raising
                    progress(min(measures.samples / rate / expected, 1.0) if expected else 0.0)
            flushed = {target: c.convert(None) for target, c in converters.items()}
            for planar in flushed[analysis]:
                measures.add(planar.to_ndarray())
                meter.push(planar)
        except BaseException:
            _close(encoders)
            raise
    loudness = meter.result()
    if measures.samples == 0 or measures.first_sound is None or loudness.integrated_lufs <= -70:
        _close(encoders)
        raise AudioRefused("The audio is silent.")
    for encoder in encoders:
        encoder.finish(flushed[encoder.target])
    duration = measures.samples / rate
    return Analysis(
        renditions=[_described(encoder) for encoder in encoders],
        loudness=loudness,
        quality=Quality(
            duration_seconds=round(duration, 3),
            sample_rate=rate,
            channels=channels,
            bit_depth=bit_depth,
            clipped_samples=measures.clipped,
            leading_silence_seconds=round(measures.first_sound / rate, 3),
            trailing_silence_seconds=round((measures.samples - measures.last_sound) / rate, 3),
        ),
        waveform=measures.waveform(),
    )


def _close(encoders: list[_Encoder | _LameEncoder]) -> None:
    """Close unfinished renditions (their files are the caller's to remove)."""
    for encoder in encoders:
        encoder.close()


def _described(encoder: _Encoder | _LameEncoder) -> Rendition:
    digest = hashlib.sha256()
    with encoder.path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    # What was encoded (the tests decode the files and find the same, within 50 ms).
    duration = encoder.samples / encoder.rate
    size = encoder.path.stat().st_size
    return Rendition(
        spec=encoder.spec,
        path=encoder.path,
        size_bytes=size,
        sha256=digest.hexdigest(),
        duration_seconds=round(duration, 3),
        bitrate=round(size * 8 / duration) if duration else encoder.spec.bitrate,
    )


def replay_gain(loudness: Loudness, reference: float = REFERENCE_LUFS) -> tuple[float, float]:
    """(gain in dB to reach `reference`, peak as a linear fraction of full scale)."""
    peak = 10 ** (loudness.true_peak_dbtp / 20) if math.isfinite(loudness.true_peak_dbtp) else 0.0
    return round(reference - loudness.integrated_lufs, 2), round(peak, 6)
