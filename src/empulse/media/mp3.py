"""The MP3 rendition, encoded by LAME through its own binding (`lameenc`), with the LAME info
tag that makes it gapless.

PyAV's wheels carry a LAME built without its optimised routines: it spends about three times
the CPU of the same encoder built as LAME ships it (docs/performance.md, "Media pipeline"), and
MP3 was most of a track's encoding time. `lameenc` is LAME as LAME builds it. It hands back MP3
frames only, so the file's first frame is written here: a silent frame holding the Xing "Info"
tag (frame count, byte count, seek table) and LAME's extension to it (encoder delay and padding:
https://gabriel.mp3-tech.org/mp3infotag.html). Decoders that read it (FFmpeg, so browsers and
most players; Apple's and Android's) drop the encoder's delay and padding, so the rendition
plays exactly as long as the original.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import lameenc
import numpy as np

# LAME's own delay before the first input sample (ENCDELAY in LAME's source), with no
# resampling inside LAME (the rendition's rate is chosen before it).
ENCODER_DELAY = 576
SAMPLES_PER_FRAME = 1152  # MPEG-1 Layer III
_RATE_INDEX = {44_100: 0, 48_000: 1, 32_000: 2}
_BITRATE_INDEX = {128: 9, 160: 10, 192: 11, 224: 12, 256: 13, 320: 14}
_QUALITY = 3  # LAME's default (FFmpeg's too): the same encode as `ffmpeg -c:a libmp3lame`


def _crc16(data: bytes) -> int:
    """CRC-16 (polynomial 0x8005, reflected: 0xA001), as LAME checks its tag."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class Mp3Writer:
    """Interleaved 16-bit samples in, a gapless constant-bitrate MP3 file out."""

    def __init__(self, path: Path, *, rate: int, channels: int, kbps: int) -> None:
        if rate not in _RATE_INDEX or kbps not in _BITRATE_INDEX or channels not in (1, 2):
            raise ValueError(f"no MPEG-1 Layer III at {rate} Hz, {kbps} kbit/s, {channels} ch")
        self.rate, self.channels, self.kbps = rate, channels, kbps
        self.samples = 0
        self._lame = lameenc.Encoder()
        self._lame.set_bit_rate(kbps)
        self._lame.set_in_sample_rate(rate)
        self._lame.set_channels(channels)
        self._lame.set_quality(_QUALITY)
        self._file: BinaryIO = path.open("wb")
        self._file.write(bytes(self._frame_bytes))  # the tag's place, written at the end

    @property
    def _frame_bytes(self) -> int:
        return 144_000 * self.kbps // self.rate  # without the padding byte

    def write(self, interleaved: np.ndarray) -> None:
        """Samples as int16, interleaved by channel."""
        self.samples += interleaved.size // self.channels
        self._file.write(self._lame.encode(interleaved.tobytes()))

    def close(self) -> None:
        """Finish the stream and write the tag frame in front of it."""
        self._file.write(self._lame.flush())
        self._file.flush()
        size = self._file.tell()
        frames = self._count_frames(size)
        padding = frames * SAMPLES_PER_FRAME - ENCODER_DELAY - self.samples
        self._file.seek(0)
        self._file.write(self._tag(frames, size, max(padding, 0)))
        self._file.close()

    def abandon(self) -> None:
        self._file.close()

    def _count_frames(self, size: int) -> int:
        """Audio frames after the tag's, by walking their headers (a padded frame is a byte
        longer)."""
        frames, position = 0, self._frame_bytes
        with open(self._file.name, "rb") as reader:
            while position + 4 <= size:
                reader.seek(position)
                head = reader.read(4)
                if head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
                    raise ValueError(f"LAME wrote no frame header at byte {position}")
                position += self._frame_bytes + (head[2] >> 1 & 1)
                frames += 1
        return frames

    def _tag(self, frames: int, size: int, padding: int) -> bytes:
        mono = self.channels == 1
        header = bytes(
            [
                0xFF,
                0xFB,  # MPEG-1, Layer III, no CRC
                _BITRATE_INDEX[self.kbps] << 4 | _RATE_INDEX[self.rate] << 2,
                (0xC0 if mono else 0x40) | 0x04,  # mono or joint stereo; original
            ]
        )
        frame = bytearray(self._frame_bytes)
        frame[:4] = header
        at = 4 + (17 if mono else 32)  # after the (empty) side information
        toc = bytes(min(255, i * 256 // 100) for i in range(100))  # constant bitrate: linear
        xing = b"Info" + (0x0F).to_bytes(4, "big") + frames.to_bytes(4, "big")
        xing += size.to_bytes(4, "big") + toc + (0).to_bytes(4, "big")
        lame = bytearray(b"LAME3.100")
        lame += bytes([0x01, 0])  # tag revision 0, constant bitrate; lowpass not given
        lame += bytes(4 + 2 + 2 + 1)  # peak, radio and audiophile gains, flags: not given
        lame += bytes([min(self.kbps, 255)])
        lame += (ENCODER_DELAY << 12 | padding).to_bytes(3, "big")
        lame += bytes(1 + 1 + 2)  # misc, MP3 gain, preset: none
        lame += size.to_bytes(4, "big") + bytes(2)  # music length; its CRC not given
        frame[at : at + len(xing)] = xing
        end = at + len(xing) + len(lame)
        frame[at + len(xing) : end] = lame
        frame[end : end + 2] = _crc16(bytes(frame[:end])).to_bytes(2, "big")
        return bytes(frame)
