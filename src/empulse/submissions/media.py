"""What an uploaded file is, found by decoding it, never by its name or declared type.

Audio is opened with PyAV (FFmpeg): the container FFmpeg detects by probing and the codec of
its audio stream must both match the file's extension, and frames must decode. Cover art is
decoded by Pillow within a pixel bound, then re-encoded as JPEG in fixed sizes, so no byte of
the upload (metadata, appended payloads) is ever served. SECURITY.md "Files".
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageOps

from empulse.core.errors import ValidationFailed


class UnsupportedFile(ValidationFailed):
    code = "unsupported_file"
    title = "File refused"


@dataclass(frozen=True, slots=True)
class AudioFormat:
    containers: frozenset[str]
    codecs: frozenset[str]
    content_types: frozenset[str]
    stored_type: str


_PCM = frozenset({"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8", "pcm_s16be"})
_MP4 = frozenset({"mov", "mp4", "m4a"})
AUDIO_FORMATS: dict[str, AudioFormat] = {
    "wav": AudioFormat(
        frozenset({"wav"}), _PCM, frozenset({"audio/wav", "audio/x-wav", "audio/wave"}), "audio/wav"
    ),
    "flac": AudioFormat(
        frozenset({"flac"}), frozenset({"flac"}), frozenset({"audio/flac", "audio/x-flac"}),
        "audio/flac",
    ),
    "mp3": AudioFormat(
        frozenset({"mp3"}), frozenset({"mp3", "mp3float"}), frozenset({"audio/mpeg", "audio/mp3"}),
        "audio/mpeg",
    ),
    "m4a": AudioFormat(
        _MP4, frozenset({"aac", "alac"}), frozenset({"audio/mp4", "audio/x-m4a", "audio/m4a"}),
        "audio/mp4",
    ),
    "aac": AudioFormat(
        frozenset({"aac"}), frozenset({"aac"}), frozenset({"audio/aac", "audio/x-aac"}),
        "audio/aac",
    ),
    "ogg": AudioFormat(
        frozenset({"ogg"}), frozenset({"vorbis", "libvorbis", "opus", "libopus", "flac"}),
        frozenset({"audio/ogg", "application/ogg", "audio/vorbis"}), "audio/ogg",
    ),
    "opus": AudioFormat(
        frozenset({"ogg"}), frozenset({"opus", "libopus"}),
        frozenset({"audio/opus", "audio/ogg"}), "audio/ogg",
    ),
}  # fmt: skip
IMAGE_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
IMAGE_TYPES = {"JPEG": {"image/jpeg", "image/jpg"}, "PNG": {"image/png"}, "WEBP": {"image/webp"}}
COVER_SIZES = (1200, 600, 300)
MIN_COVER_SIDE = 300
MAX_COVER_PIXELS = 36_000_000  # 6000 x 6000
# A track lasts at least this long: a file of a few samples decodes, but is no recording.
MIN_AUDIO_SECONDS = 1.0
# Decoding more than this proves the stream is audio; the rest is demuxed, not decoded.
_DECODE_SECONDS = 30.0

# The starts of HTML, XML and SVG documents, as browsers sniff them (WHATWG MIME Sniffing,
# "rules for identifying an unknown MIME type"); a file starting like this is refused whatever
# else it also is (a polyglot).
_MARKUP = re.compile(
    rb"^\s*(<!doctype\s+html|<html|<head|<script|<iframe|<h1|<div|<font|<table|<a[\s>]|<style"
    rb"|<title|<b[\s>]|<body|<br|<p[\s>]|<!--|<\?xml|<svg)",
    re.IGNORECASE,
)


def looks_like_markup(head: bytes) -> bool:
    return bool(_MARKUP.match(head.lstrip(b"\xef\xbb\xbf")))


def extension_of(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sanitise_filename(filename: str) -> str:
    """The user's filename as metadata only: no directories, no control or odd characters."""
    name = unicodedata.normalize("NFKC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    name = name.strip(" .")
    return name[:200] or "upload"


def check_declared(declared: str, allowed: frozenset[str] | set[str], what: str) -> None:
    if declared not in ("", "application/octet-stream") and declared not in allowed:
        raise UnsupportedFile(
            f"The {what} is declared as {declared!r}, which its name contradicts."
        )


def probe_audio(path: Path, extension: str) -> dict[str, Any]:
    """Decode enough of the file to know it is the audio its extension says; describe it."""
    expected = AUDIO_FORMATS[extension]
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            detected = set(container.format.name.split(","))
            if not detected & expected.containers:
                raise UnsupportedFile(
                    f"The file is not {extension.upper()} audio (found {container.format.name})."
                )
            if not container.streams.audio:
                raise UnsupportedFile("The file holds no audio stream.")
            stream = container.streams.audio[0]
            context = stream.codec_context
            if context is None:  # no sample description (an MP4 without `stsd`, say)
                raise UnsupportedFile("The audio stream does not say how it is encoded.")
            codec = context.name
            if codec not in expected.codecs:
                raise UnsupportedFile(f"{extension.upper()} files may not carry {codec} audio.")
            decoded = 0.0
            end_pts = 0  # in the stream's time base: integer work per packet, tens of thousands
            for packet in container.demux(stream):
                pts, length = packet.pts, packet.duration
                if pts is not None and length is not None and pts + length > end_pts:
                    end_pts = pts + length
                if decoded < _DECODE_SECONDS:
                    for frame in packet.decode():
                        decoded += frame.samples / (frame.sample_rate or 1)
            if decoded <= 0:
                raise UnsupportedFile("No audio could be decoded from the file.")
            last_end = float(end_pts * stream.time_base) if stream.time_base else 0.0
            duration = (
                container.duration / 1_000_000 if container.duration else max(last_end, decoded)
            )
            if duration < MIN_AUDIO_SECONDS:
                raise UnsupportedFile(
                    f"The audio lasts {duration:.3f} s; a track lasts at least "
                    f"{MIN_AUDIO_SECONDS:g} s."
                )
            return {
                "container": container.format.name,
                "codec": codec,
                "durationSeconds": round(duration, 3),
                "bitRate": container.bit_rate or stream.bit_rate,
                "sampleRate": context.sample_rate,
                "channels": context.channels,
            }
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise UnsupportedFile(f"The file does not decode as {extension.upper()} audio.") from exc


@dataclass(frozen=True, slots=True)
class Cover:
    size: int
    width: int
    height: int
    jpeg: bytes


def decode_cover(path: Path, extension: str) -> Image.Image:
    """Decode within the pixel bound: the upright RGB pixels, all that is kept of the upload."""
    expected_format = IMAGE_FORMATS[extension]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=[expected_format]) as image:
                width, height = image.size
                if width * height > MAX_COVER_PIXELS:
                    raise UnsupportedFile(
                        f"The cover is {width}x{height}; at most {MAX_COVER_PIXELS} pixels."
                    )
                if min(width, height) < MIN_COVER_SIDE:
                    raise UnsupportedFile(f"The cover must be at least {MIN_COVER_SIDE} px a side.")
                if image.format == "JPEG":
                    # Let the decoder scale down by 1/2, 1/4 or 1/8 while it decodes, as far
                    # as the largest size allows (a 3000 px cover decodes at 1500 px).
                    image.draft("RGB", (COVER_SIZES[0], COVER_SIZES[0]))
                image.load()
                return ImageOps.exif_transpose(image).convert("RGB")
    except UnsupportedFile:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsupportedFile(f"The cover has more than {MAX_COVER_PIXELS} pixels.") from exc
    except (OSError, SyntaxError, ValueError, Warning) as exc:
        raise UnsupportedFile(f"The cover does not decode as {expected_format}.") from exc


def render_covers(image: Image.Image, sizes: tuple[int, ...]) -> list[Cover]:
    """Re-encode `image` as a JPEG at each size, largest first, each resized from the one before
    (never upscaled). Only reads `image`: several calls may share it from different threads."""
    covers = []
    source = image
    for size in sizes:
        scale = size / max(source.size)
        if scale < 1:
            target = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
            # reducing_gap: a fast box reduction to within 3x of the target, then Lanczos; the
            # result is indistinguishable and several times cheaper than Lanczos from full size.
            source = source.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        buffer = io.BytesIO()
        source.save(buffer, "JPEG", quality=88, optimize=True)  # no EXIF or other metadata
        covers.append(Cover(size, source.width, source.height, buffer.getvalue()))
    return covers
