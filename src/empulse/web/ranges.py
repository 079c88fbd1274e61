"""Byte ranges (RFC 9110 section 14): which part of a representation a `Range` header asks for.

One range is served (206); a header the RFC lets a server ignore is ignored (the whole
representation, 200): another unit, a syntax error, a reversed range, several ranges (players
ask for one; answering many is a multipart body few clients read and a known amplification
vector), or an `If-Range` that no longer matches. A range that starts past the end answers 416.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# Longer headers are not a single byte range anyone sends; they are ignored unparsed.
MAX_RANGE_HEADER = 200
# Longer positions exceed any object (2^63 has 19 digits); such a header is ignored.
_MAX_DIGITS = 19


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `start` to `end` inclusive, within a representation of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class Unsatisfiable(Exception):
    """No byte of the asked range exists: 416 with `Content-Range: bytes */size`."""


def _position(text: str) -> int | None:
    text = text.strip(" \t")
    if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range `header` asks of `size` bytes; None to send the whole; raises `Unsatisfiable`."""
    if header is None or len(header) > MAX_RANGE_HEADER:
        return None
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip(" \t").lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.partition("-")
    if not dash:
        return None
    if first_text.strip(" \t") == "":
        # A suffix: the last n bytes.
        suffix = _position(last_text)
        if suffix is None:
            return None
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(size - suffix, 0), size - 1, size)
    first = _position(first_text)
    if first is None:
        return None
    last = None
    if last_text.strip(" \t"):
        last = _position(last_text)
        if last is None or last < first:
            return None
    if first >= size:
        raise Unsatisfiable
    return ByteRange(first, min(last if last is not None else size - 1, size - 1), size)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def if_range_holds(header: str | None, etag: str, last_modified: datetime) -> bool:
    """Whether a `Range` may be served under `If-Range` (section 13.1.5): the strong entity tag
    matches exactly, or the date is the representation's own `Last-Modified`."""
    if header is None:
        return True
    header = header.strip()
    if header.startswith(('"', "W/")):
        return header == etag  # a weak tag never matches
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    return http_date(moment) == http_date(last_modified)


class ChunkedBody(Response):
    """A response whose body comes from an async generator of chunks (or, for a whole local
    file, the server's own zero-copy `pathsend` where it offers it). The generator is closed
    however sending ends, so a client that goes away mid-stream releases its file or its
    storage connection at once. `Content-Length` is given by the caller."""

    def __init__(
        self,
        chunks: AsyncGenerator[bytes, None] | None,
        *,
        status_code: int,
        headers: Mapping[str, str],
        path: Path | None = None,
    ) -> None:
        super().__init__(b"", status_code=status_code, headers=headers)
        self.chunks = chunks
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if self.path is not None:
                await send({"type": "http.response.pathsend", "path": str(self.path)})
                return
            if self.chunks is not None:
                async for chunk in self.chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            return  # the client went away (ASGI 2.4: `send` raises once it has)
        finally:
            if self.chunks is not None:
                await self.chunks.aclose()


def can_pathsend(scope: Scope) -> bool:
    return "http.response.pathsend" in scope.get("extensions", {})
