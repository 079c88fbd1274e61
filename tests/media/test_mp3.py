"""The MP3 rendition is gapless: its LAME tag makes a decoder play exactly the samples encoded,
at both rates and in mono and stereo, and says what the stream holds."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from empulse.media.mp3 import Mp3Writer


@pytest.mark.parametrize(
    ("rate", "channels", "samples"),
    [(44_100, 2, 44_100 * 3 + 123), (48_000, 1, 48_000 * 2 + 7), (44_100, 1, 1152 * 40)],
)
def test_a_decoder_plays_exactly_the_samples_encoded(
    tmp_path: Path, rate: int, channels: int, samples: int
) -> None:
    tone = (np.sin(2 * np.pi * 440 * np.arange(samples) / rate) * 12_000).astype(np.int16)
    interleaved = np.repeat(tone, channels)
    path = tmp_path / "out.mp3"
    writer = Mp3Writer(path, rate=rate, channels=channels, kbps=320)
    for start in range(0, interleaved.size, 4096 * channels):
        writer.write(interleaved[start : start + 4096 * channels])
    writer.close()

    with av.open(str(path), mode="r") as container:
        stream = container.streams.audio[0]
        # Planar floats: the first channel's samples.
        decoded = np.concatenate([f.to_ndarray()[0] for f in container.decode(stream)])
        assert stream.codec_context.name in {"mp3", "mp3float"}
        assert (stream.rate, stream.channels) == (rate, channels)
        assert stream.bit_rate == 320_000
    assert decoded.size == samples  # not a sample of delay or padding more
    # And they are the samples given (to MP3's precision): the tone, in phase.
    first = decoded[: rate // 10] * 32768
    assert np.corrcoef(first, tone[: rate // 10])[0, 1] > 0.99


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no MPEG-1 Layer III"):
        Mp3Writer(tmp_path / "out.mp3", rate=22_050, channels=2, kbps=320)
