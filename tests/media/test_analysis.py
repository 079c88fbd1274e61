"""One pass over a track: renditions that play as long as the original, loudness within half a
LU of a signal of known level, a waveform, a quality report; and refusals within bounds."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from empulse.media.analysis import (
    RENDITIONS,
    WAVEFORM_POINTS,
    Analysis,
    AudioRefused,
    analyse,
    replay_gain,
)
from tests.support import media

RATE = 44_100


def stereo_wav(signal: np.ndarray) -> bytes:
    """16-bit stereo WAV of `signal` (floats in [-1, 1]) on both channels."""
    pcm = np.clip(np.round(signal * 32767), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.repeat(pcm, 2).tobytes())
    return buffer.getvalue()


def sine(seconds: float, dbfs: float, frequency: float = 997.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


def run(tmp_path: Path, data: bytes, name: str = "in.wav", **bounds: float) -> Analysis:
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    return analyse(
        source,
        out,
        max_seconds=bounds.get("max_seconds", 3600),
        deadline_seconds=bounds.get("deadline_seconds", 120),
    )


def test_a_sine_of_known_level_measures_within_half_a_lu(tmp_path: Path) -> None:
    # A 997 Hz sine at -20 dBFS on both channels is -20 LUFS (BS.1770's calibration).
    signal = np.concatenate([np.zeros(RATE, dtype=np.float32), sine(6.0, -20.0)])
    result = run(tmp_path, stereo_wav(signal))
    loudness = result.loudness
    assert abs(loudness.integrated_lufs - (-20.0)) <= 0.5
    assert abs(loudness.true_peak_dbtp - (-20.0)) <= 0.5
    assert loudness.range_lu < 2.0  # the windows that straddle the silence
    gain, peak = replay_gain(loudness)
    assert abs(gain - 2.0) <= 0.5  # to -18 LUFS
    assert abs(peak - 0.1) <= 0.01
    assert abs(replay_gain(loudness, -14.0)[0] - 6.0) <= 0.5

    quality = result.quality
    assert (quality.sample_rate, quality.channels, quality.bit_depth) == (RATE, 2, 16)
    assert quality.clipped_samples == 0
    assert abs(quality.leading_silence_seconds - 1.0) < 0.01
    assert quality.trailing_silence_seconds < 0.01
    assert abs(quality.duration_seconds - 7.0) < 0.001

    waveform = result.waveform
    assert 0 < len(waveform) <= WAVEFORM_POINTS
    assert max(high for _, high in waveform) == pytest.approx(0.1, abs=0.005)
    assert min(low for low, _ in waveform) == pytest.approx(-0.1, abs=0.005)
    assert waveform[0] == (0.0, 0.0)  # the leading second of silence


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("in.wav", media.sine_wav(seconds=3.0)),
        ("in-48k.wav", media.encoded("wav", "pcm_s16le", seconds=3.0, rate=48_000)),
        ("in.flac", media.encoded("flac", "flac", seconds=3.0)),
        ("in.mp3", media.encoded("mp3", "libmp3lame", seconds=3.0)),
        ("in.m4a", media.encoded("ipod", "aac", seconds=3.0)),
        ("in.ogg", media.encoded("ogg", "flac", seconds=3.0)),  # no Vorbis encoder in PyAV
        ("in.opus", media.encoded("ogg", "libopus", seconds=3.0, rate=48_000)),
    ],
)
def test_every_input_format_makes_every_rendition(tmp_path: Path, name: str, data: bytes) -> None:
    result = run(tmp_path, data, name)
    original = decoded_seconds(tmp_path / name)
    renditions = result.renditions
    assert [r.spec.name for r in renditions] == [spec.name for spec in RENDITIONS]
    for rendition in renditions:
        assert abs(decoded_seconds(rendition.path) - original) <= 0.05, rendition.spec.name
        assert rendition.size_bytes == rendition.path.stat().st_size
        assert len(rendition.sha256) == 64
        with av.open(str(rendition.path)) as written:
            codec = written.streams.audio[0].codec_context.name
        assert codec in {"opus", "aac", "mp3", "mp3float"}


def test_clipping_is_counted(tmp_path: Path) -> None:
    loud = np.clip(sine(2.0, 6.0), -1.0, 1.0)  # a sine driven 6 dB past full scale
    result = run(tmp_path, stereo_wav(loud))
    assert result.quality.clipped_samples > RATE


def test_silent_unreadable_too_long_and_endless_audio_is_refused(tmp_path: Path) -> None:
    cases: dict[str, tuple[bytes, dict[str, float]]] = {
        "silent": (stereo_wav(np.zeros(RATE * 3, dtype=np.float32)), {}),
        "garbage": (b"RIFF" + bytes(range(256)) * 40, {}),
        "a playlist": (b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n", {}),
        "not an accepted format": (media.encoded("aiff", "pcm_s16be", seconds=2.0), {}),
        "too long": (stereo_wav(sine(3.0, -20.0)), {"max_seconds": 2.0}),
        "out of time": (stereo_wav(sine(3.0, -20.0)), {"deadline_seconds": 0.0}),
    }
    flac = media.encoded("flac", "flac", seconds=3.0)
    flac_cases = {"truncated": flac[: len(flac) // 2], "a header alone": flac[:200]}
    for label, (data, bounds) in cases.items():
        folder = tmp_path / label.replace(" ", "-")
        folder.mkdir()
        with pytest.raises(AudioRefused):
            run(folder, data, "in.wav", **bounds)
    for label, data in flac_cases.items():
        folder = tmp_path / label.replace(" ", "-")
        folder.mkdir()
        with pytest.raises(AudioRefused, match="unreadable"):
            run(folder, data, "in.flac")


def test_a_declared_length_is_not_believed(tmp_path: Path) -> None:
    """A WAV header claiming 4 GB of samples: what is there is processed, no more."""
    wav = bytearray(stereo_wav(sine(3.0, -20.0)))
    wav[4:8] = struct.pack("<I", 0xFFFFFFF8)
    wav[40:44] = struct.pack("<I", 0xFFFFFFF0)
    result = run(tmp_path, bytes(wav))
    assert abs(result.quality.duration_seconds - 3.0) < 0.01


def flac_bomb(minutes: float, declared_seconds: float, rate: int = 8_000) -> bytes:
    """Two seconds of tone, then digital silence for `minutes` (FLAC stores it in a few bytes
    per block), with a STREAMINFO that declares `declared_seconds` in all."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        tone = (np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate) * 8000).astype(np.int16)
        total, block = int(minutes * 60 * rate), 4096
        for start in range(0, total, block):
            samples = np.zeros(block, dtype=np.int16)
            if start < tone.size:
                samples[: min(block, tone.size - start)] = tone[start : start + block]
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = bytearray(buffer.getvalue())
    info = 8  # "fLaC", then the STREAMINFO block's 4-byte header
    declared = int(declared_seconds * rate)  # 36 bits from the low nibble of byte 13
    data[info + 13] = (data[info + 13] & 0xF0) | (declared >> 32)
    data[info + 14 : info + 18] = (declared & 0xFFFFFFFF).to_bytes(4, "big")
    return bytes(data)


def test_a_flac_bomb_is_refused_at_the_length_bound(tmp_path: Path) -> None:
    """Ten minutes of audio in a hundred kilobytes, declared as three seconds: decoding stops
    at the bound on what a track may last, whatever the header says or the size suggests."""
    bomb = flac_bomb(minutes=10, declared_seconds=3)
    assert len(bomb) < 150_000  # 9.6 MB of samples
    with av.open(io.BytesIO(bomb), mode="r") as container:
        assert container.duration == 3_000_000  # the header's claim, in microseconds
    with pytest.raises(AudioRefused, match="longer than a track may be"):
        run(tmp_path, bomb, "in.flac", max_seconds=60)
