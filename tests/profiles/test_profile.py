"""An artist edits their own public profile (name, bio, links, image), and the catalog shows it
at once; nobody else can, and bad input is refused with a clear error."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from tests.auth.helpers import bearer, deliver, signed_in
from tests.catalog.helpers import FORBIDDEN_KEYS, artist_with_a_single, keys_in
from tests.conftest import Backend, Harness
from tests.submissions.helpers import object_counts
from tests.support import media
from tests.web.test_problems import assert_problem


async def test_an_artist_edits_the_profile_listeners_see(media_harness: Harness) -> None:
    harness = media_harness
    artist, artist_id = await artist_with_a_single(harness)
    edited = await harness.client.patch(
        "/api/v1/artists/me",
        json={
            "name": "The Lanterns",
            "bio": "Three friends from Leeds.\nNight drives, mostly.",
            "links": [
                {"url": "https://lanterns.example.com", "label": "Website"},
                {"url": "https://bandcamp.example.com/lanterns"},
            ],
        },
        headers=artist,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["name"] == "The Lanterns"
    harness.client.cookies.clear()

    shown = (await harness.client.get(f"/api/v1/artists/{artist_id}")).json()
    assert shown["name"] == "The Lanterns"
    assert shown["bio"] == "Three friends from Leeds.\nNight drives, mostly."
    assert shown["links"] == [
        {"url": "https://lanterns.example.com", "label": "Website"},
        {"url": "https://bandcamp.example.com/lanterns", "label": None},
    ]
    track = (await harness.client.get("/api/v1/tracks")).json()["items"][0]
    assert track["artist"]["name"] == "The Lanterns"

    # Only what is sent changes; null clears the bio.
    cleared = await harness.client.patch("/api/v1/artists/me", json={"bio": None}, headers=artist)
    assert cleared.json()["bio"] is None
    assert cleared.json()["links"] == shown["links"]
    assert cleared.json()["name"] == "The Lanterns"

    image = await harness.client.put(
        "/api/v1/artists/me/image",
        content=media.cover_png(900, 600),
        headers={**artist, "Content-Type": "image/png"},
    )
    assert image.status_code == 200, image.text
    sizes = [(i["size"], i["width"], i["height"]) for i in image.json()["images"]]
    assert sizes == [(1200, 900, 600), (600, 600, 400), (300, 300, 200)]
    harness.client.cookies.clear()
    listed = (await harness.client.get(f"/api/v1/artists/{artist_id}")).json()
    assert listed["images"] == image.json()["images"]
    assert not keys_in(listed) & FORBIDDEN_KEYS
    got = await harness.client.get(listed["images"][1]["url"])
    assert got.status_code == 200
    assert Image.open(io.BytesIO(got.content)).size == (600, 400)

    # A new image replaces the old one; the old objects are deleted once it commits.
    _, before = await object_counts(harness)
    again = await harness.client.put(
        "/api/v1/artists/me/image",
        content=media.cover_jpeg_with_exif(700, 700),
        headers={**artist, "Content-Type": "image/jpeg"},
    )
    assert again.status_code == 200, again.text
    await deliver(harness)
    assert (await harness.client.get(listed["images"][1]["url"])).status_code == 404
    assert (await object_counts(harness))[1] == before


async def test_profile_input_is_checked(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    artist, _ = await artist_with_a_single(harness)
    refused = [
        {"links": [{"url": "javascript:alert(1)"}]},
        {"links": [{"url": "ftp://files.example.com/x"}]},
        {"links": [{"url": "https://user:pass@example.com/"}]},
        {"links": [{"url": f"https://example.com/{n}"} for n in range(6)]},
        {"name": ""},
        {"name": "Line\nbreak"},
        {"bio": "x" * 2001},
        {"bio": "bell\x07"},
        {"unknown": 1},
    ]
    for body in refused:
        answer = await harness.client.patch("/api/v1/artists/me", json=body, headers=artist)
        assert_problem(answer, 422, "validation_failed")

    for content, kind in (
        (b"not an image", "image/png"),
        (media.cover_png(), "image/jpeg"),  # a PNG declared as JPEG does not decode as one
        (media.cover_png(), "image/gif"),
        (media.cover_png(200, 200), "image/png"),  # smaller than the smallest size
        (media.pixel_bomb_png(), "image/png"),
    ):
        answer = await harness.client.put(
            "/api/v1/artists/me/image", content=content, headers={**artist, "Content-Type": kind}
        )
        assert_problem(answer, 422, "unsupported_file")
    assert (await object_counts(harness))[0] == 0  # nothing pending left behind

    too_big = await harness.client.put(
        "/api/v1/artists/me/image",
        content=b"\xff" * (harness.settings.max_cover_bytes + 1),
        headers={**artist, "Content-Type": "image/jpeg"},
    )
    assert too_big.status_code == 413


async def test_only_an_artist_has_a_profile_to_edit(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    listener = bearer(await signed_in(harness, "listener@example.com"))
    harness.client.cookies.clear()
    for method, path in (("GET", ""), ("PATCH", ""), ("PUT", "/image")):
        answer = await harness.client.request(
            method, f"/api/v1/artists/me{path}", json={} if method == "PATCH" else None,
            headers=listener,
        )  # fmt: skip
        assert_problem(answer, 403, "not_an_artist")
    assert_problem(
        await harness.client.patch("/api/v1/artists/me", json={}), 401, "not_authenticated"
    )
