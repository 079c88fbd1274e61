"""Listeners browse published releases: filters, new releases, one release with its tracks, and
counts that follow what is visible."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

from PIL import Image

from tests.catalog.helpers import FORBIDDEN_KEYS, all_pages, keys_in, published_ep
from tests.conftest import Harness
from tests.web.test_problems import assert_problem


async def test_releases_list_with_filters_and_new_releases(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=3)
    albums = await all_pages(harness.client, "/api/v1/albums")
    assert len(albums) == 1
    album = albums[0]
    assert album["title"] == "Lanterns EP"
    assert album["releaseType"] == "ep"
    assert album["genre"] == "Electronic"
    assert album["trackCount"] == 3
    assert album["durationMs"] > 0
    assert album["artist"]["name"]
    assert not keys_in(album) & FORBIDDEN_KEYS

    for params in (
        {"releaseType": "ep"},
        {"genre": "Electronic"},
        {"artistId": album["artist"]["id"]},
        {"sort": "title"},
    ):
        assert [a["id"] for a in await all_pages(harness.client, "/api/v1/albums", **params)] == [
            album["id"]
        ]
    assert await all_pages(harness.client, "/api/v1/albums", releaseType="single") == []

    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert len(await all_pages(harness.client, "/api/v1/albums", publishedAfter=an_hour_ago)) == 1
    assert await all_pages(harness.client, "/api/v1/albums", publishedAfter=in_an_hour) == []
    naive = await harness.client.get(
        "/api/v1/albums", params={"publishedAfter": "2026-01-01T00:00:00"}
    )
    assert_problem(naive, 422, "validation_failed")


async def test_a_release_shows_its_visible_tracks_in_order(media_harness: Harness) -> None:
    harness = media_harness
    admin, artist_user = await published_ep(harness, tracks=3)
    [album] = (await harness.client.get("/api/v1/albums")).json()["items"]
    detail = await harness.client.get(f"/api/v1/albums/{album['id']}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [t["trackNumber"] for t in body["tracks"]] == [1, 2, 3]
    assert [t["title"] for t in body["tracks"]] == ["Song 1", "Song 2", "Song 3"]
    assert body["trackCount"] == 3
    assert detail.headers["cache-control"].startswith("public")
    assert not keys_in(body) & FORBIDDEN_KEYS

    second = body["tracks"][1]["id"]
    taken = await harness.client.post(
        f"/api/v1/admin/tracks/{second}/take-down", json={"reason": "Rights claim"}, headers=admin
    )
    assert taken.status_code == 200
    harness.client.cookies.clear()
    after = (await harness.client.get(f"/api/v1/albums/{album['id']}")).json()
    assert [t["trackNumber"] for t in after["tracks"]] == [1, 3]
    assert after["trackCount"] == 2
    assert after["durationMs"] < body["durationMs"]
    [listed] = (await harness.client.get("/api/v1/albums")).json()["items"]
    assert listed["trackCount"] == 2

    disabled = await harness.client.patch(
        f"/api/v1/admin/users/{artist_user}", json={"disabled": True}, headers=admin
    )
    assert disabled.status_code == 200
    harness.client.cookies.clear()
    assert_problem(await harness.client.get(f"/api/v1/albums/{album['id']}"), 404, "not_found")
    assert (await harness.client.get("/api/v1/albums")).json()["items"] == []


async def test_covers_are_public_immutable_images_at_fixed_sizes(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=2)
    album = (await harness.client.get("/api/v1/albums")).json()["items"][0]
    images = album["images"]
    assert [(i["size"], i["width"], i["height"]) for i in images] == [
        (1200, 640, 640),  # never upscaled
        (600, 600, 600),
        (300, 300, 300),
    ]
    track = (await harness.client.get("/api/v1/tracks")).json()["items"][0]
    assert track["images"] == images

    for image in images:
        got = await harness.client.get(image["url"])
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert Image.open(io.BytesIO(got.content)).size == (image["width"], image["height"])
        # The URL names the SHA-256 of the bytes: they never change under it.
        assert hashlib.sha256(got.content).hexdigest() in image["url"]
        cached = await harness.client.get(
            image["url"], headers={"If-None-Match": got.headers["etag"]}
        )
        assert cached.status_code == 304

    # Only public objects, and only real keys.
    for path in (
        "/api/v1/media/private/audio/x.flac",
        "/api/v1/media/public/../private/x",
        "/api/v1/media/public/covers/nope.jpg",
    ):
        assert_problem(await harness.client.get(path), 404, "not_found")
