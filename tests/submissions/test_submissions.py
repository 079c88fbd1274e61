"""Track submissions: streamed, verified by decoding, stored with checksums, owner-only."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
import pytest
from sqlalchemy import func, select

from empulse.core.db import session_scope
from empulse.infra.storage import DownloadSpec, LocalStorage
from empulse.models import MediaObject, Submission
from empulse.services import Services
from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import bearer, signed_in
from tests.conftest import Backend, Harness
from tests.submissions.helpers import (
    SINGLE,
    Files,
    ep_files,
    ep_payload,
    object_counts,
    single_files,
    submit,
)
from tests.support import media
from tests.web.test_problems import assert_problem


async def _artist(harness: Harness) -> dict[str, str]:
    admin = await admin_headers(harness)
    return await approved_artist(harness, "artist@example.com", admin)


async def _stored_keys(harness: Harness) -> set[str]:
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        return set(await session.scalars(select(MediaObject.key)))
    raise AssertionError


async def test_an_approved_artist_submits_a_single(media_harness: Harness) -> None:
    harness = media_harness
    headers = await _artist(harness)
    audio = media.sine_wav()
    response = await submit(harness, headers, files=single_files(audio))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["submissionId"].startswith("TRK-")
    assert body["status"] == "pending"
    assert body["tracks"] == ["Night Drive"]
    [audio_file] = [f for f in body["files"] if f["role"] == "audio"]
    assert audio_file["sha256"] == hashlib.sha256(audio).hexdigest()
    assert audio_file["sizeBytes"] == len(audio)
    assert audio_file["details"]["sampleRate"] == 44100
    assert audio_file["details"]["channels"] == 1
    assert audio_file["details"]["durationSeconds"] == pytest.approx(1.0, abs=0.01)
    assert audio_file["filename"] == "night drive.wav"
    covers = sorted(f["details"]["size"] for f in body["files"] if f["role"] == "cover")
    assert covers == [300, 600, 1200]
    assert await object_counts(harness) == (0, 4)

    one = await harness.client.get(f"/api/v1/submissions/{body['id']}", headers=headers)
    assert one.status_code == 200
    [signed] = [f["url"] for f in one.json()["files"] if f["role"] == "audio"]
    download = await _download(harness, signed)
    assert download.content == audio
    if signed.startswith("/"):  # served by the API; S3 answers presigned URLs itself
        assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment")

    mine = await harness.client.get("/api/v1/submissions", headers=headers)
    assert [item["id"] for item in mine.json()["items"]] == [body["id"]]


async def test_download_links_are_short_lived_and_cannot_be_altered(
    media_harness: Harness,
) -> None:
    """SECURITY.md "Files": private files only through signed URLs that live at most 15
    minutes; a link whose key, type, name or signature was changed, or that has expired, is
    refused (local disk: by the API; S3 signs and checks its own)."""
    harness = media_harness
    headers = await _artist(harness)
    created = await submit(harness, headers, files=single_files())
    submission_id = created.json()["id"]
    listed = await harness.client.get(f"/api/v1/submissions/{submission_id}", headers=headers)
    [url] = [f["url"] for f in listed.json()["files"] if f["role"] == "audio"]
    query = parse_qs(urlsplit(url).query)
    now = time.time()
    if not url.startswith("/"):
        assert 0 < int(query["X-Amz-Expires"][0]) <= 15 * 60
        return
    assert now < int(query["exp"][0]) <= now + 15 * 60 + 1
    assert (await harness.client.get(url)).status_code == 200
    storage: LocalStorage = harness.app.state.services.storage
    other_key = next(iter(await _stored_keys(harness) - {query["key"][0]}))
    for name, value in (
        ("key", other_key),
        ("type", "text/html"),
        ("name", "evil.html"),
        ("sig", query["sig"][0][:-2] + "AA"),
        ("exp", str(int(query["exp"][0]) + 3600)),
        ("exp", "²"),  # a digit to str.isdigit(), not to int()
        ("sig", "é" * 43),
    ):
        altered = {**{k: v[0] for k, v in query.items()}, name: value}
        response = await harness.client.get(f"/api/v1/files?{urlencode(altered)}")
        assert_problem(response, 404, "not_found")
    expired = storage.signed_url(
        query["key"][0], DownloadSpec("audio/wav", "late.wav"), expires_in=-1
    )
    assert_problem(await harness.client.get(expired), 404, "not_found")


async def _download(harness: Harness, url: str) -> Any:
    if url.startswith("/"):
        return await harness.client.get(url)
    import httpx

    async with httpx.AsyncClient() as client:
        return await client.get(url)


async def test_an_ep_with_flac_tracks_and_a_jpeg_cover_loses_its_metadata(
    media_harness: Harness,
) -> None:
    harness = media_harness
    headers = await _artist(harness)
    response = await submit(harness, headers, ep_payload(2), ep_files(2))
    assert response.status_code == 201, response.text
    assert response.json()["tracks"] == ["Song 1", "Song 2"]
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        covers = list(await session.scalars(select(MediaObject).where(MediaObject.role == "cover")))
    for cover in covers:
        data = await services.storage.read_bytes(cover.key)
        assert data.startswith(b"\xff\xd8")
        assert b"SecretCameraMaker" not in data


async def test_a_large_turned_jpeg_cover_is_stored_upright_in_each_size(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """A 3000x2000 photo taken with the camera turned (EXIF orientation 6) is portrait."""
    harness: Harness = await make_client(embedded)
    headers = await _artist(harness)
    files = single_files()
    files[-1] = (
        "coverArtFile",
        ("cover.jpg", media.cover_jpeg_with_exif(3000, 2000, orientation=6), "image/jpeg"),
    )
    response = await submit(harness, headers, files=files)
    assert response.status_code == 201, response.text
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        covers = list(await session.scalars(select(MediaObject).where(MediaObject.role == "cover")))
    sizes = sorted((c.details["width"], c.details["height"]) for c in covers)
    assert sizes == [(200, 300), (400, 600), (800, 1200)]


@pytest.mark.parametrize(
    ("extension", "data", "content_type"),
    [
        ("mp3", lambda: media.encoded("mp3", "libmp3lame"), "audio/mpeg"),
        ("m4a", lambda: media.encoded("ipod", "aac"), "audio/mp4"),
        ("ogg", lambda: media.encoded("ogg", "flac"), "audio/ogg"),
        ("opus", lambda: media.encoded("ogg", "libopus", rate=48000), "audio/opus"),
        ("aac", lambda: media.encoded("adts", "aac"), "audio/aac"),
    ],
)
async def test_every_accepted_audio_format_is_verified_and_kept(
    embedded: Backend,
    make_client: Callable[..., Any],
    extension: str,
    data: Callable[[], bytes],
    content_type: str,
) -> None:
    harness: Harness = await make_client(embedded)
    headers = await _artist(harness)
    files = [
        ("audioFile", (f"track.{extension}", data(), content_type)),
        ("coverArtFile", ("cover.png", media.cover_png(), "image/png")),
    ]
    response = await submit(harness, headers, files=files)
    assert response.status_code == 201, response.text


async def test_only_approved_artists_may_submit(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    listener = bearer(await signed_in(harness, "listener@example.com"))
    response = await submit(harness, listener)
    assert response.status_code == 403
    assert response.json()["code"] == "not_an_artist"
    assert await object_counts(harness) == (0, 0)


async def test_the_seed_path_takes_the_same_upload(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    headers = await _artist(harness)
    response = await submit(harness, headers, path="/api/v1/tracks/submit")
    assert response.status_code == 201, response.text


async def test_another_artists_submission_is_not_found(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 8.2.2: objects of another user answer 404, not 403."""
    harness: Harness = await make_client(embedded)
    admin = await admin_headers(harness)
    first = await approved_artist(harness, "first@example.com", admin)
    second = await approved_artist(harness, "second@example.com", admin)
    created = await submit(harness, first)
    response = await harness.client.get(
        f"/api/v1/submissions/{created.json()['id']}", headers=second
    )
    assert response.status_code == 404
    listed = await harness.client.get("/api/v1/submissions", headers=second)
    assert listed.json()["items"] == []


def _hostile_cases() -> list[Any]:
    wav = media.sine_wav()
    png = media.cover_png()

    def files(audio: tuple[str, bytes, str], cover: tuple[str, bytes, str] | None) -> Any:
        parts = [("audioFile", audio)]
        return [*parts, ("coverArtFile", cover)] if cover else parts

    good_audio = ("x.wav", wav, "audio/wav")
    good_cover = ("c.png", png, "image/png")
    refused = (422, "unsupported_file")
    return [
        pytest.param(files(("x.mp3", media.HTML, "audio/mpeg"), good_cover), *refused,
                     id="html-as-mp3"),
        pytest.param(files(("x.mp3", wav, "audio/mpeg"), good_cover), *refused,
                     id="wav-named-mp3"),
        pytest.param(files(("x.wav", media.sine_wav(0.1), "audio/wav"), good_cover), *refused,
                     id="too-short-to-be-a-track"),
        pytest.param(files(("x.m4a", media.m4a_without_sample_description(), "audio/mp4"),
                           good_cover), *refused, id="m4a-without-codec"),
        pytest.param(files(("x.mp3", b"\xff\xfb\x90\x00" + bytes(4000), "audio/mpeg"),
                           good_cover), *refused, id="magic-bytes-only"),
        pytest.param(files(good_audio, ("c.svg", media.SVG, "image/svg+xml")), *refused,
                     id="svg-cover"),
        pytest.param(files(good_audio, ("c.png", media.SVG, "image/png")), *refused,
                     id="svg-named-png"),
        pytest.param(files(good_audio, ("c.png", media.pixel_bomb_png(), "image/png")), *refused,
                     id="pixel-bomb"),
        pytest.param(files(good_audio, ("c.png", png, "image/jpeg")), *refused,
                     id="declared-type-contradicts-name"),
        pytest.param([*files(good_audio, good_cover),
                      ("evilFile", ("../../etc/passwd", b"root", "text/plain"))], *refused,
                     id="unexpected-part"),
        pytest.param(files(good_audio, None), 422, "missing_file", id="no-cover"),
    ]  # fmt: skip


@pytest.mark.parametrize(("files", "status", "code"), _hostile_cases())
async def test_hostile_files_are_refused_and_nothing_is_kept(
    media_harness: Harness, files: Any, status: int, code: str
) -> None:
    """ASVS 5.2.2 / 5.2.3: content checked by decoding; nothing stays after a refusal."""
    harness = media_harness
    headers = await _artist(harness)
    response = await submit(harness, headers, files=files)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert await object_counts(harness) == (0, 0)


async def test_path_traversal_filenames_are_kept_only_as_sanitised_metadata(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    headers = await _artist(harness)
    files = [
        ("audioFile", ("../../../etc/cron.d/x.wav", media.sine_wav(), "audio/wav")),
        ("coverArtFile", ("..\\..\\boot.png", media.cover_png(), "image/png")),
    ]
    response = await submit(harness, headers, files=files)
    assert response.status_code == 201, response.text
    names = {f["filename"] for f in response.json()["files"]}
    assert names == {"x.wav", "boot.png"}
    for key in await _stored_keys(harness):
        assert ".." not in key
        assert key.startswith("private/")


async def test_an_oversized_file_is_refused_while_streaming(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.2.1: the per-file limit is enforced on the bytes received, and nothing is kept."""
    harness: Harness = await make_client(embedded, MAX_AUDIO_BYTES="100000")
    headers = await _artist(harness)
    big = media.sine_wav(seconds=2.0)  # ~176 kB
    response = await submit(harness, headers, files=single_files(big))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert await object_counts(harness) == (0, 0)


def _part(name: str, value: bytes, *, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    kind = "Content-Type: audio/wav\r\n" if filename else ""
    return f"Content-Disposition: {disposition}\r\n{kind}\r\n".encode() + value


def _form(*parts: bytes, boundary: str = "b0undary") -> bytes:
    """A multipart body, the parts as given and the closing boundary."""
    body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts)
    return body + f"--{boundary}--\r\n".encode()


_PAYLOAD = _part("payload", orjson.dumps(SINGLE))
_AUDIO = _part("audioFile", media.sine_wav(), filename="a.wav")


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        # SECURITY.md: the number of parts is bounded (40), counted as they arrive.
        ("multipart/form-data; boundary=b0undary",
         _form(_PAYLOAD, _AUDIO, *(_part(f"note{n}", b"x") for n in range(39))),
         400, "malformed_multipart"),
        ("multipart/form-data; boundary=b0undary", _form(_PAYLOAD, _AUDIO, _PAYLOAD),
         400, "malformed_multipart"),  # a field sent twice
        ("multipart/form-data; boundary=b0undary",
         _form(_PAYLOAD, _part("audioFile", b"RIFF", filename="a" * 4056 + ".wav")),
         400, "malformed_multipart"),  # a part header over 4 KiB (the parser allows 4,224)
        (f"multipart/form-data; boundary={'b' * 201}", _form(_PAYLOAD, boundary="b" * 201),
         400, "malformed_multipart"),  # the boundary itself too long
        ("application/json", orjson.dumps(SINGLE), 415, "unsupported_media_type"),
        ("multipart/form-data", _form(_PAYLOAD), 415, "unsupported_media_type"),  # no boundary
    ],
)  # fmt: skip
async def test_a_hostile_multipart_body_is_refused_and_nothing_is_kept(
    embedded: Backend,
    make_client: Callable[..., Any],
    content_type: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    """SECURITY.md "Input and access control": multipart part count and sizes are bounded."""
    harness: Harness = await make_client(embedded)
    headers = await _artist(harness)
    response = await harness.client.post(
        "/api/v1/submissions", content=body, headers={**headers, "Content-Type": content_type}
    )
    assert_problem(response, status, code)
    assert await object_counts(harness) == (0, 0)


async def test_a_chunked_oversized_body_is_refused(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded, MAX_AUDIO_BYTES="100000")
    headers = await _artist(harness)
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{{}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="audioFile"; '
        'filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()

    async def body() -> Any:
        yield head + media.sine_wav()[:44]
        for _ in range(40):
            yield bytes(8192)

    response = await harness.client.post(
        "/api/v1/submissions",
        content=body(),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert await object_counts(harness) == (0, 0)


async def test_a_mismatched_checksum_is_refused_and_nothing_is_kept(
    media_harness: Harness,
) -> None:
    """SECURITY.md "Files": a client SHA-256 that does not match -> 422, object not kept."""
    harness = media_harness
    headers = await _artist(harness)
    audio = media.sine_wav()
    payload = {**SINGLE, "checksums": {"audioFile": hashlib.sha256(b"other").hexdigest()}}
    response = await submit(harness, headers, payload, single_files(audio))
    assert response.status_code == 422
    assert response.json()["code"] == "checksum_mismatch"
    assert await object_counts(harness) == (0, 0)

    payload["checksums"] = {"audioFile": hashlib.sha256(audio).hexdigest()}
    response = await submit(harness, headers, payload, single_files(audio))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"releaseType": "mixtape"}, "releaseType"),
        ({"metadata": {"trackName": "X", "genre": "Pop", "isrc": "NOT-AN-ISRC"}}, "metadata.isrc"),
        ({"legalWarranties": {**SINGLE["legalWarranties"], "samplesCleared": False}},
         "legalWarranties"),
        ({"status": "approved"}, "status"),
        # A title reaches the subject of the artist's emails: a line break would make them
        # unsendable.
        ({"metadata": {"trackName": "Hit\r\nBcc: x@example.com", "genre": "Pop"}},
         "metadata.trackName"),
        ({"composers": ["Ada\tLovelace"]}, "composers"),
        ({"checksums": {"audioFile": "not-a-digest"}}, "checksums"),
        # The release type decides the rest of the shape; each rule names its own field.
        ({"metadata": {"genre": "Pop"}}, "metadata"),
        ({"tracks": [{"title": "B-side"}]}, "tracks"),
        ({**ep_payload(2), "metadata": {"genre": "Pop"}}, "metadata"),
        (ep_payload(1), "tracks"),
        ({**ep_payload(2), "tracks": []}, "tracks"),
        ({key: value for key, value in ep_payload(2).items() if key != "tracks"}, "tracks"),
        ({**ep_payload(6), "releaseType": "lp"}, "tracks"),
    ],
)  # fmt: skip
async def test_an_invalid_payload_is_refused_field_by_field_and_nothing_is_kept(
    embedded: Backend, make_client: Callable[..., Any], change: dict[str, Any], field: str
) -> None:
    harness: Harness = await make_client(embedded)
    headers = await _artist(harness)
    response = await submit(harness, headers, {**SINGLE, **change})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["field"].startswith(field) and e["in"] == "payload" for e in errors), errors
    assert not any(e["message"].startswith("Value error") for e in errors), errors
    assert await object_counts(harness) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "files", "code"),
    [
        ({}, None, "missing_payload"),
        ({"payload": "{\"releaseType\": "}, None, "invalid_payload"),
        # A file part the track list does not name.
        (None, [*single_files(), ("track_1_file", ("b.wav", media.sine_wav(), "audio/wav"))],
         "unexpected_file"),
        # A checksum for a part that was not sent.
        ({"payload": orjson.dumps({**SINGLE, "checksums": {"track_5_file": "0" * 64}}).decode()},
         None, "checksum_mismatch"),
    ],
)  # fmt: skip
async def test_a_malformed_submission_is_refused_with_its_code_and_nothing_is_kept(
    embedded: Backend,
    make_client: Callable[..., Any],
    fields: dict[str, str] | None,
    files: Files | None,
    code: str,
) -> None:
    """PRODUCT.md "Bad input gets a clear error": a 422 whose code says what to fix."""
    harness: Harness = await make_client(embedded)
    headers = await _artist(harness)
    response = await harness.client.post(
        "/api/v1/submissions",
        data=fields if fields is not None else {"payload": orjson.dumps(SINGLE).decode()},
        files=files or single_files(),
        headers=headers,
    )
    assert_problem(response, 422, code)
    assert await object_counts(harness) == (0, 0)


async def test_an_ep_needs_a_file_for_every_track(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    headers = await _artist(harness)
    response = await submit(harness, headers, ep_payload(3), ep_files(2))
    assert response.status_code == 422
    assert response.json()["code"] == "missing_file"
    assert "track_2_file" in response.json()["detail"]
    assert await object_counts(harness) == (0, 0)


async def test_a_crash_before_commit_leaves_only_objects_the_sweep_removes(
    media_harness: Harness,
) -> None:
    """PRODUCT.md "Uploads": a crash between storing and committing leaves nothing dangling."""
    from empulse.submissions.upload import Upload
    from empulse.web.multipart import FilePart
    from tests.auth.helpers import deliver

    harness = media_harness
    services: Services = harness.app.state.services
    # What a request had done when its process died: a file streamed and committed to storage,
    # its key pending, no submission row.
    upload = Upload(services)
    sink = await upload.open_sink(FilePart("audioFile", "a.wav", "audio/wav"))
    await sink.write(media.sine_wav())
    await sink.close()
    await upload.settle()
    assert await object_counts(harness) == (1, 1)

    await deliver(harness)  # the sweep is not due yet: a live upload would still be going
    assert await object_counts(harness) == (1, 1)

    services.settings.upload_sweep_after_seconds = 0
    async with session_scope(services.sessionmaker) as session:
        from sqlalchemy import update

        from empulse.core.db import utcnow
        from empulse.models import Job

        await session.execute(update(Job).values(run_at=utcnow()))
    await deliver(harness)
    assert await object_counts(harness) == (0, 0)
    async with session_scope(services.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(Submission)) == 0


async def test_a_body_cut_off_inside_a_file_leaves_nothing(media_harness: Harness) -> None:
    """A client that stops mid-file (or sends a truncated body): 400, and neither the object,
    nor its staging file or unfinished S3 upload, nor its pending row is left."""
    harness = media_harness
    headers = await _artist(harness)
    boundary = "cut-b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{{}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="audioFile"; '
        'filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()
    response = await harness.client.post(
        "/api/v1/submissions",
        content=head + media.sine_wav() * 100,  # ~9 MB: past the first S3 part; no end
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_multipart"
    assert await object_counts(harness) == (0, 0)
    storage = harness.app.state.services.storage
    if storage.name == "local":
        staging = storage.root / ".staging"
        assert not staging.exists() or not any(staging.iterdir())
    else:
        listed = storage.client.list_multipart_uploads(Bucket=storage.bucket)
        assert not listed.get("Uploads")


async def test_a_refused_file_stops_the_upload_before_the_rest_arrives(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """Track 1 does not decode: the answer comes while track 2 is still streaming, not after
    the whole release has been sent."""
    harness: Harness = await make_client(embedded, MAX_AUDIO_BYTES=str(400 * 1024 * 1024))
    headers = await _artist(harness)
    boundary = "early-b0undary"
    mib = bytes(1024 * 1024)
    sent = 0

    def part(name: str, filename: str) -> bytes:
        return (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: audio/wav\r\n\r\n'
        ).encode()

    async def body() -> Any:
        nonlocal sent
        payload = orjson.dumps(ep_payload(2)).decode()
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{payload}\r\n'
        ).encode()
        yield part("track_0_file", "one.wav") + b"RIFF" + bytes(4000) + b"\r\n"
        yield part("track_1_file", "two.wav") + media.sine_wav()
        for _ in range(200):
            sent += 1
            yield mib
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await harness.client.post(
        "/api/v1/submissions",
        content=body(),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "unsupported_file"
    assert sent < 100, f"refused only after {sent} MiB of the next track"
    assert await object_counts(harness) == (0, 0)
