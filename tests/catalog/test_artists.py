"""Listeners browse the artists who have published, and each one's releases and tracks."""

from __future__ import annotations

import uuid

from tests.catalog.helpers import FORBIDDEN_KEYS, all_pages, keys_in, published_ep
from tests.conftest import Harness
from tests.web.test_problems import assert_problem


async def test_artists_with_their_releases_and_tracks(media_harness: Harness) -> None:
    harness = media_harness
    admin, artist_user = await published_ep(harness, tracks=3)
    artists = await all_pages(harness.client, "/api/v1/artists")
    assert len(artists) == 1
    artist = artists[0]
    assert artist["genres"] == ["Electronic"]
    assert artist["albumCount"] == 1
    assert artist["trackCount"] == 3
    assert not keys_in(artist) & FORBIDDEN_KEYS
    for params in ({"genre": "Electronic"}, {"sort": "newest"}, {"sort": "name"}):
        assert [a["id"] for a in await all_pages(harness.client, "/api/v1/artists", **params)] == [
            artist["id"]
        ]
    assert await all_pages(harness.client, "/api/v1/artists", genre="Jazz") == []

    url = f"/api/v1/artists/{artist['id']}"
    assert (await harness.client.get(url)).json() == artist
    albums = await all_pages(harness.client, f"{url}/albums")
    assert [a["title"] for a in albums] == ["Lanterns EP"]
    tracks = await all_pages(harness.client, f"{url}/tracks", limit=2)
    assert sorted(t["title"] for t in tracks) == ["Song 1", "Song 2", "Song 3"]
    assert {t["artist"]["id"] for t in tracks} == {artist["id"]}

    nobody = f"/api/v1/artists/{uuid.uuid4()}"
    for path in (nobody, f"{nobody}/albums", f"{nobody}/tracks"):
        assert_problem(await harness.client.get(path), 404, "not_found")

    disabled = await harness.client.patch(
        f"/api/v1/admin/users/{artist_user}", json={"disabled": True}, headers=admin
    )
    assert disabled.status_code == 200
    harness.client.cookies.clear()
    assert await all_pages(harness.client, "/api/v1/artists") == []
    for path in (url, f"{url}/albums", f"{url}/tracks"):
        assert_problem(await harness.client.get(path), 404, "not_found")
