"""A streaming multipart/form-data reader: each file part's bytes go to a sink as they arrive.

Starlette's `request.form()` spools every file to a temporary file before the endpoint sees it;
uploads here must instead reach storage while they stream, with limits checked on the way, so
this drives python-multipart's push parser (the same one Starlette uses) directly. Field
(non-file) parts are collected, each bounded; the number of parts is bounded too (SECURITY.md
"Input and access control").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from empulse.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


class MalformedMultipart(BadRequest):
    code = "malformed_multipart"
    title = "Malformed multipart body"


class FileSink(Protocol):
    async def write(self, chunk: bytes) -> None: ...
    async def close(self) -> None:
        """The part ended: every byte has been written."""

    async def abort(self) -> None:
        """The body failed before the part ended (malformed, cut off, refused elsewhere):
        release what the part holds. Not called after `write` or `close` raised (a sink
        cleans up after its own failures)."""


@dataclass(frozen=True, slots=True)
class FilePart:
    name: str
    filename: str
    content_type: str


OpenSink = Callable[[FilePart], Awaitable[FileSink]]


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    sink: FileSink | None = None


def boundary_of(content_type: str) -> bytes:
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedMediaType("Send the upload as multipart/form-data.")
    boundary: bytes = options[b"boundary"]
    if len(boundary) > 200:
        raise MalformedMultipart("The multipart boundary is too long.")
    return boundary


async def read_multipart(
    content_type: str,
    stream: AsyncIterator[bytes],
    open_sink: OpenSink,
    *,
    max_parts: int,
    max_field_bytes: int,
    max_header_bytes: int = 4096,
) -> dict[str, str]:
    """Feed the body through the parser; returns the field parts, file parts go to sinks."""
    events: list[tuple[str, bytes]] = []
    header_field = bytearray()
    header_value = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        if len(header_field) + len(header_value) > max_header_bytes:
            raise MalformedMultipart("A part header is too long.")
        events.append(("header", bytes(header_field).lower() + b"\0" + bytes(header_value)))
        header_field.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        events.append(("data", data[start:end]))

    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_part_begin": lambda: events.append(("begin", b"")),
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": lambda: events.append(("headers_done", b"")),
            "on_part_data": on_part_data,
            "on_part_end": lambda: events.append(("end", b"")),
            "on_end": lambda: events.append(("finished", b"")),
        },
    )
    fields: dict[str, str] = {}
    parts = 0
    part = _Part()
    ended = finished = False
    # The file part in progress, released if the body fails before that part ends.
    open_file: FileSink | None = None
    try:
        async for chunk in stream:
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise MalformedMultipart("The multipart body could not be parsed.") from exc
            for kind, value in events:
                if kind == "begin":
                    parts += 1
                    if parts > max_parts:
                        raise MalformedMultipart(f"At most {max_parts} parts are accepted.")
                    part = _Part()
                elif kind == "header":
                    name, _, header = value.partition(b"\0")
                    part.headers[name] = header
                elif kind == "headers_done":
                    part = await _start_part(part, open_sink)
                    open_file = part.sink
                elif kind == "data":
                    if part.sink is not None:
                        open_file = None  # a sink whose write raises has cleaned up after itself
                        await part.sink.write(value)
                        open_file = part.sink
                    else:
                        part.data.extend(value)
                        if len(part.data) > max_field_bytes:
                            raise PayloadTooLarge(
                                f"The field {part.name!r} is larger than {max_field_bytes} bytes."
                            )
                elif kind == "end":
                    if part.sink is not None:
                        open_file = None
                        await part.sink.close()
                    elif part.name in fields:
                        raise MalformedMultipart(f"The field {part.name!r} is sent twice.")
                    else:
                        try:
                            fields[part.name] = part.data.decode("utf-8")
                        except UnicodeDecodeError as exc:
                            raise MalformedMultipart(
                                f"The field {part.name!r} is not UTF-8."
                            ) from exc
                    ended = True
                elif kind == "finished":
                    finished = True
            events.clear()
        try:
            parser.finalize()
        except MultipartParseError as exc:
            raise MalformedMultipart("The multipart body ended early.") from exc
        if not finished:  # no closing boundary: the client stopped or the body was cut
            raise MalformedMultipart("The multipart body ended early.")
        if not ended:
            raise MalformedMultipart("The multipart body has no complete part.")
    except BaseException:
        if open_file is not None:
            await open_file.abort()
        raise
    return fields


async def _start_part(part: _Part, open_sink: OpenSink) -> _Part:
    disposition = part.headers.get(b"content-disposition")
    if disposition is None:
        raise MalformedMultipart("A part has no Content-Disposition header.")
    kind, options = parse_options_header(disposition)
    if kind != b"form-data" or b"name" not in options:
        raise MalformedMultipart("A part is not a named form-data part.")
    try:
        part.name = options[b"name"].decode("utf-8")
        filename = options.get(b"filename")
        part.filename = filename.decode("utf-8") if filename is not None else None
    except UnicodeDecodeError as exc:
        raise MalformedMultipart("A part's name is not UTF-8.") from exc
    if part.filename is not None:
        content_type = part.headers.get(b"content-type", b"application/octet-stream")
        part.sink = await open_sink(
            FilePart(
                name=part.name,
                filename=part.filename,
                content_type=content_type.decode("latin-1").split(";")[0].strip().lower(),
            )
        )
    return part
