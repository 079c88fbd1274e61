"""A signed-in listener plays a track: whole, by byte ranges (RFC 9110), through a signed URL,
from local disk and from S3; and hostile or stale requests get what the RFC allows, never a
500."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from empulse.infra.storage import LocalStorage
from empulse.services import Services
from empulse.streaming import service
from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import bearer, signed_in
from tests.conftest import Backend, Harness
from tests.submissions.helpers import SINGLE, approve, submit
from tests.support import media
from tests.support.statements import statements_run
from tests.web.test_problems import assert_problem

# Longer than one storage read (256 KiB), so ranges and whole reads cross chunk boundaries.
AUDIO = media.sine_wav(seconds=4.0)
SIZE = len(AUDIO)


async def published_single(harness: Harness) -> tuple[dict[str, str], str]:
    """An artist's single of `AUDIO`, published; (admin headers, track id)."""
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    files = [
        ("audioFile", ("night drive.wav", AUDIO, "audio/wav")),
        ("coverArtFile", ("cover.png", media.cover_png(), "image/png")),
    ]
    created = await submit(harness, artist, SINGLE, files)
    assert created.status_code == 201, created.text
    approved = await approve(harness, created.json()["id"], admin)
    assert approved.status_code == 200, approved.text
    harness.client.cookies.clear()
    track = (await harness.client.get("/api/v1/tracks")).json()["items"][0]
    return admin, track["id"]


async def listener(harness: Harness) -> dict[str, str]:
    headers = bearer(await signed_in(harness, "listener@example.com"))
    harness.client.cookies.clear()
    return headers


async def test_a_listener_plays_a_track_whole_and_by_ranges(media_harness: Harness) -> None:
    harness = media_harness
    _, track_id = await published_single(harness)
    me = await listener(harness)
    url = f"/api/v1/tracks/{track_id}/stream?format=original"

    whole = await harness.client.get(url, headers=me)
    assert whole.status_code == 200, whole.text
    assert whole.content == AUDIO
    assert whole.headers["content-length"] == str(SIZE)
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["etag"] == f'"{hashlib.sha256(AUDIO).hexdigest()}"'
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["x-content-type-options"] == "nosniff"
    assert whole.headers["cache-control"].startswith("private")
    assert whole.headers["last-modified"].endswith("GMT")

    # Read back in ranges (as a player seeking through it), it reassembles to the upload.
    pieces = []
    for start in range(0, SIZE, 100_000):
        end = min(start + 99_999, SIZE - 1)
        part = await harness.client.get(url, headers={**me, "Range": f"bytes={start}-{end}"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
        assert part.headers["content-length"] == str(end - start + 1)
        pieces.append(part.content)
    assert hashlib.sha256(b"".join(pieces)).digest() == hashlib.sha256(AUDIO).digest()

    tail = await harness.client.get(url, headers={**me, "Range": "bytes=-1000"})
    assert (tail.status_code, tail.content) == (206, AUDIO[-1000:])
    assert tail.headers["content-range"] == f"bytes {SIZE - 1000}-{SIZE - 1}/{SIZE}"
    rest = await harness.client.get(url, headers={**me, "Range": f"bytes={SIZE - 10}-"})
    assert (rest.status_code, rest.content) == (206, AUDIO[-10:])

    head = await harness.client.head(url, headers={**me, "Range": "bytes=0-99"})
    assert head.status_code == 206
    assert head.headers["content-length"] == "100"
    assert head.content == b""


async def test_ranges_the_rfc_lets_a_server_ignore_answer_the_whole_file(
    media_harness: Harness,
) -> None:
    """Garbage, reversed, other units, several ranges, thousands of them, numbers past 2^63:
    ignored (200, the whole file); a start past the end: 416 with the size; never a 500."""
    harness = media_harness
    _, track_id = await published_single(harness)
    me = await listener(harness)
    url = f"/api/v1/tracks/{track_id}/stream?format=original"
    ignored: list[str | bytes] = [
        "bytes=abc",
        "bytes=5-1",
        "items=0-1",
        "bytes=0-1,4-5",
        "bytes=" + ",".join(f"{n}-{n}" for n in range(2000)),
        "bytes=99999999999999999999999-",
        "bytes=-99999999999999999999999",
        "bytes=\u0661-\u0662".encode(),  # Arabic-Indic digits: digits to isdigit, not the RFC
        "bytes=0x10-",
        "bytes",
        "bytes=-",
        "bytes=+1-2",
    ]
    for header in ignored:
        raw = header if isinstance(header, bytes) else header.encode()
        asked = [(k.encode(), v.encode()) for k, v in me.items()] + [(b"Range", raw)]
        response = await harness.client.get(url, headers=asked)
        assert response.status_code == 200, header
        assert response.headers["content-length"] == str(SIZE), header

    for header in (f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 10}", "bytes=-0"):
        refused = await harness.client.get(url, headers={**me, "Range": header})
        assert_problem(refused, 416, "range_not_satisfiable")
        assert refused.headers["content-range"] == f"bytes */{SIZE}"

    # A last position past the end means "to the end".
    clamped = await harness.client.get(url, headers={**me, "Range": "bytes=10-9223372036854775807"})
    assert (clamped.status_code, clamped.content) == (206, AUDIO[10:])
    spaced = await harness.client.get(url, headers={**me, "Range": "Bytes= 0 - 9"})
    assert (spaced.status_code, spaced.content) == (206, AUDIO[:10])


async def test_if_range_and_if_none_match(media_harness: Harness) -> None:
    harness = media_harness
    _, track_id = await published_single(harness)
    me = await listener(harness)
    url = f"/api/v1/tracks/{track_id}/stream?format=original"
    first = await harness.client.get(url, headers={**me, "Range": "bytes=0-9"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    same = {**me, "Range": "bytes=0-9"}
    assert (await harness.client.get(url, headers={**same, "If-Range": etag})).status_code == 206
    assert (
        await harness.client.get(url, headers={**same, "If-Range": modified})
    ).status_code == 206
    for stale in ('"0000"', f"W/{etag}", "Mon, 01 Jan 2001 00:00:00 GMT", "not a date"):
        changed = await harness.client.get(url, headers={**same, "If-Range": stale})
        assert changed.status_code == 200, stale
        assert changed.content == AUDIO

    cached = await harness.client.get(url, headers={**me, "If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""


async def test_only_a_signed_in_listener_streams_what_is_visible(
    backend: Backend, make_client: Any
) -> None:
    harness: Harness = await make_client(backend)
    admin, track_id = await published_single(harness)
    url = f"/api/v1/tracks/{track_id}/stream?format=original"
    assert_problem(await harness.client.get(url), 401, "not_authenticated")
    me = await listener(harness)
    assert_problem(
        await harness.client.get(f"/api/v1/tracks/{uuid.uuid4()}/stream", headers=me),
        404,
        "not_found",
    )
    # A player asks range after range: after the first, the file chosen is kept (the page
    # cache) and a range costs only the catalog's version; a take-down still shows at once.
    assert (await harness.client.get(url, headers={**me, "Range": "bytes=0-99"})).status_code == 206
    with statements_run(harness.app) as statements:
        ranged = await harness.client.get(url, headers={**me, "Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == AUDIO[100:200]
    assert len(statements) == 1, statements
    taken = await harness.client.post(
        f"/api/v1/admin/tracks/{track_id}/take-down", json={"reason": "Rights claim"}, headers=admin
    )
    assert taken.status_code == 200, taken.text
    harness.client.cookies.clear()
    assert_problem(await harness.client.get(url, headers=me), 404, "not_found")
    assert_problem(
        await harness.client.get(url.replace("/stream?format=original", "/stream-url"), headers=me),
        404,
        "not_found",
    )
    restored = await harness.client.post(f"/api/v1/admin/tracks/{track_id}/restore", headers=admin)
    assert restored.status_code == 200
    harness.client.cookies.clear()
    assert (await harness.client.get(url, headers=me)).status_code == 200


async def test_a_signed_url_plays_without_a_header_until_it_expires_or_the_session_ends(
    media_harness: Harness,
) -> None:
    harness = media_harness
    _, track_id = await published_single(harness)
    me = await listener(harness)
    answer = await harness.client.get(
        f"/api/v1/tracks/{track_id}/stream-url?format=original", headers=me
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    url = body["url"]
    services: Services = harness.app.state.services
    assert body["expiresAt"]

    if not isinstance(services.storage, LocalStorage):
        # The store's own presigned URL, playable inline by ranges.
        async with httpx.AsyncClient() as store:
            part = await store.get(url, headers={"Range": "bytes=0-99"})
            assert (part.status_code, part.content) == (206, AUDIO[:100])
            assert part.headers["content-type"] == "audio/wav"
            assert part.headers.get("content-disposition", "inline") == "inline"
        return

    part = await harness.client.get(url, headers={"Range": "bytes=100-199"})
    assert (part.status_code, part.content) == (206, AUDIO[100:200])

    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    path = urlsplit(url).path
    other_track = path.replace(track_id, str(uuid.uuid4()))
    for tampered_path, tampered in (
        (path, {**query, "signature": query["signature"][:-2] + "AA"}),
        (path, {**query, "expires": str(int(query["expires"]) + 60)}),
        (path, {**query, "user": str(uuid.uuid4())}),
        (other_track, query),
    ):
        refused = await harness.client.get(f"{tampered_path}?{urlencode(tampered)}")
        assert refused.status_code == 401, tampered

    # A genuine signature whose time has passed.
    expired = service.stream_url(
        services.storage,
        services.stream_url_key,
        _audio_stub(),
        track_id=uuid.UUID(track_id),
        user_id=uuid.UUID(query["user"]),
        session_id=uuid.UUID(query["session"]),
        now=time.time() - 16 * 60,
    )
    assert_problem(await harness.client.get(expired.url), 401, "not_authenticated")

    # Signing out ends the links of that session.
    assert (await harness.client.post("/api/v1/auth/logout", headers=me)).status_code == 204
    assert (await harness.client.get(url)).status_code == 401


def _audio_stub() -> Any:
    class Stub:
        content_type = "audio/wav"
        original_filename = "x.wav"
        key = "private/audio/x.wav"

    return Stub()


async def test_streams_have_their_own_limit_per_listener(
    backend: Backend, make_client: Any
) -> None:
    harness: Harness = await make_client(backend, RATE_LIMITS="streams=3/minute")
    _, track_id = await published_single(harness)
    me = await listener(harness)
    url = f"/api/v1/tracks/{track_id}/stream?format=original"
    for _ in range(3):
        assert (
            await harness.client.get(url, headers={**me, "Range": "bytes=0-0"})
        ).status_code == 206
    refused = await harness.client.get(url, headers={**me, "Range": "bytes=0-0"})
    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) > 0


@pytest.mark.parametrize("media_backend", ["services"], indirect=True)
async def test_an_operator_may_redirect_streams_to_presigned_urls(
    media_backend: Backend, make_client: Any
) -> None:
    harness: Harness = await make_client(media_backend, STREAM_S3_REDIRECT="true")
    _, track_id = await published_single(harness)
    me = await listener(harness)
    moved = await harness.client.get(
        f"/api/v1/tracks/{track_id}/stream?format=original", headers=me
    )
    assert moved.status_code == 302
    assert moved.headers["cache-control"] == "no-store"
    async with httpx.AsyncClient() as store:
        played = await store.get(moved.headers["location"], headers={"Range": "bytes=5-9"})
    assert (played.status_code, played.content) == (206, AUDIO[5:10])


async def test_a_malformed_stream_query_is_a_422_naming_the_parameter(
    media_harness: Harness,
) -> None:
    """The stream's query is read by hand (streaming/schemas.StreamQuery), with the rules and
    the answers FastAPI's parameters had."""
    harness = media_harness
    _, track_id = await published_single(harness)
    me = await listener(harness)
    url = f"/api/v1/tracks/{track_id}/stream"
    for query, field in (
        ("format=flac", "format"),
        ("maxBitRate=0", "maxBitRate"),
        ("maxBitRate=fast", "maxBitRate"),
        (f"user=someone&session={uuid.uuid4()}&expires=1&signature=x", "user"),
        (f"expires={'9' * 21}", "expires"),
    ):
        body = assert_problem(
            await harness.client.get(f"{url}?{query}", headers=me), 422, "validation_failed"
        )
        assert [(e["in"], e["field"]) for e in body["errors"]] == [("query", field)], query
    # Unknown parameters are ignored, and the last of a repeated one counts.
    played = await harness.client.get(
        f"{url}?utm=x&format=opus&format=original", headers={**me, "Range": "bytes=0-3"}
    )
    assert (played.status_code, played.content) == (206, AUDIO[:4])
