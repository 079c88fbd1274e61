"""The streaming multipart reader (web/multipart.py) on damaged bodies, split at any point:
it returns the fields or refuses the body with a 4xx error, never another exception (a 500),
and it never leaves a file part open: each one it opened ends closed or aborted, so the upload
can remove what it stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from empulse.core.errors import AppError
from empulse.web.multipart import FilePart, read_multipart
from tests.support.damage import Edit, damaged, edits

BOUNDARY = "hypothesis-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
BODY = (
    (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="payload"\r\n\r\n'
        '{"releaseType": "single"}\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="audioFile"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    + bytes(range(256)) * 4
    + f"\r\n--{BOUNDARY}--\r\n".encode()
)


@dataclass
class RecordingSink:
    part: FilePart
    state: str = "open"
    size: int = 0

    async def write(self, chunk: bytes) -> None:
        assert self.state == "open"
        self.size += len(chunk)

    async def close(self) -> None:
        assert self.state == "open"
        self.state = "closed"

    async def abort(self) -> None:
        assert self.state == "open"
        self.state = "aborted"


@dataclass
class Sinks:
    opened: list[RecordingSink] = field(default_factory=list)

    async def open(self, part: FilePart) -> RecordingSink:
        sink = RecordingSink(part)
        self.opened.append(sink)
        return sink


splits = st.lists(st.integers(min_value=0, max_value=2**16), max_size=5)
edits_of_a_body = edits(
    st.binary(min_size=1, max_size=24) | st.sampled_from([b"\r\n", b"--", BOUNDARY.encode()]),
    max_size=6,
)


async def _chunks(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(cut % (len(body) + 1) for cut in cuts):
        yield body[start:cut]
        start = cut
    yield body[start:]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    changes=edits_of_a_body, cuts=st.lists(st.integers(min_value=0, max_value=2**16), max_size=5)
)
def test_a_damaged_body_is_read_or_refused_and_no_file_part_stays_open(
    changes: list[Edit], cuts: list[int]
) -> None:
    body = damaged(BODY, changes)
    sinks = Sinks()
    read = read_multipart(
        CONTENT_TYPE, _chunks(body, cuts), sinks.open, max_parts=10, max_field_bytes=1024
    )
    refused: AppError | None = None
    try:
        asyncio.run(read)
    except AppError as exc:
        refused = exc
    if refused is not None:
        assert 400 <= refused.status < 500
        assert all(sink.state in {"closed", "aborted"} for sink in sinks.opened)
    else:
        assert all(sink.state == "closed" for sink in sinks.opened)


def test_an_intact_body_is_read_whole() -> None:
    sinks = Sinks()
    fields = asyncio.run(
        read_multipart(
            CONTENT_TYPE, _chunks(BODY, [7, 100]), sinks.open, max_parts=10, max_field_bytes=1024
        )
    )
    assert fields == {"payload": '{"releaseType": "single"}'}
    (sink,) = sinks.opened
    assert (sink.part.name, sink.part.filename, sink.part.content_type) == (
        "audioFile",
        "a.wav",
        "audio/wav",
    )
    assert (sink.state, sink.size) == ("closed", 1024)
