"""Small valid media made on the spot (a second of sine wave, a plain image), and hostile ones."""

from __future__ import annotations

import io
import struct
import wave
import zlib
from fractions import Fraction
from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream
from PIL import Image

RATE = 44_100


def sine_wav(seconds: float = 1.0, frequency: float = 440.0) -> bytes:
    frames = int(RATE * seconds)
    samples = 12_000 * np.sin(2 * np.pi * frequency * np.arange(frames) / RATE)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def encoded(container: str, codec: str, seconds: float = 1.0, rate: int = RATE) -> bytes:
    """A sine wave encoded by FFmpeg (through PyAV) into `container` with `codec`."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = cast(AudioStream, out.add_stream(codec, rate=rate, layout="mono"))
        frame_size = stream.codec_context.frame_size or 1024
        sample_format = stream.codec_context.format.name
        total = int(rate * seconds)
        wave_ = 0.3 * np.sin(2 * np.pi * 440 * np.arange(total) / rate)
        if sample_format.startswith("s16"):
            values = (wave_ * 32767).astype(np.int16)
        elif sample_format.startswith("s32"):
            values = (wave_ * (2**31 - 1)).astype(np.int32)
        else:
            values = wave_.astype(np.float32)
        for start in range(0, total, frame_size):
            chunk = values[start : start + frame_size]
            frame = av.AudioFrame(format=sample_format, layout="mono", samples=chunk.size)
            frame.planes[0].update(chunk.tobytes())
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def m4a_without_sample_description() -> bytes:
    """A well-formed MP4 whose audio track lost its sample description box (`stsd`): FFmpeg
    opens it and finds an audio stream that names no codec."""
    return encoded("ipod", "aac").replace(b"stsd", b"free", 1)


def cover_png(width: int = 640, height: int = 640) -> bytes:
    image = Image.new("RGB", (width, height), (200, 40, 90))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def cover_webp(width: int = 640, height: int = 640) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 160)).save(buffer, "WEBP")
    return buffer.getvalue()


def cover_jpeg_with_exif(width: int = 640, height: int = 640, orientation: int = 1) -> bytes:
    image = Image.new("RGB", (width, height), (20, 140, 90))
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    exif[0x0112] = orientation  # 6: the camera was turned; show rotated 90 degrees clockwise
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def pixel_bomb_png(side: int = 50_000) -> bytes:
    """A PNG declaring side x side pixels in a few hundred bytes (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + side // 8) * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
