"""Listeners browse published tracks without signing in: what is visible, how lists page, what
the objects carry and never carry, and how they are cached."""

from __future__ import annotations

from typing import Any

from tests.artists.helpers import admin_headers, approved_artist
from tests.catalog.helpers import FORBIDDEN_KEYS, all_pages, keys_in, published_ep
from tests.conftest import Harness
from tests.submissions.helpers import SINGLE, approve, ep_files, ep_payload, single_files, submit
from tests.support.statements import statements_run
from tests.web.test_problems import assert_problem


async def test_a_listener_browses_published_tracks_without_signing_in(
    media_harness: Harness,
) -> None:
    harness = media_harness
    await published_ep(harness)
    listed = await harness.client.get("/api/v1/tracks")
    assert listed.status_code == 200, listed.text
    tracks = listed.json()["items"]
    assert [t["trackNumber"] for t in sorted(tracks, key=lambda t: t["trackNumber"])] == [1, 2, 3]
    track = next(t for t in tracks if t["trackNumber"] == 1)
    assert track["title"] == "Song 1"
    assert track["album"]["title"] == "Lanterns EP"
    assert track["artist"]["name"]
    assert track["genre"] == "Electronic"
    assert track["subgenre"] == "Ambient"
    assert track["moods"][0] == "dreamy"
    assert track["durationMs"] > 0
    assert track["audio"]["format"] == "flac"
    assert track["audio"]["sampleRate"] > 0
    assert track["audio"]["channels"] >= 1
    assert track["credits"]["composers"] == [{"name": "Ada Lovelace", "role": None}]
    assert track["credits"]["lyricists"] == [{"name": "Ada Lovelace", "role": None}]
    assert track["playCount"] == 0
    assert not keys_in(listed.json()) & FORBIDDEN_KEYS

    one = await harness.client.get(f"/api/v1/tracks/{track['id']}")
    assert one.status_code == 200
    assert one.json() == track
    assert not keys_in(one.json()) & FORBIDDEN_KEYS


async def test_lists_filter_sort_and_page_to_the_end(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=3)
    newest = await all_pages(harness.client, "/api/v1/tracks", limit=1)
    assert len(newest) == 3
    assert len({t["id"] for t in newest}) == 3
    by_title = await all_pages(harness.client, "/api/v1/tracks", sort="title", limit=2)
    assert [t["title"] for t in by_title] == ["Song 1", "Song 2", "Song 3"]

    album_id = newest[0]["album"]["id"]
    artist_id = newest[0]["artist"]["id"]
    for params in ({"genre": "Electronic"}, {"albumId": album_id}, {"artistId": artist_id}):
        assert len(await all_pages(harness.client, "/api/v1/tracks", **params)) == 3
    assert await all_pages(harness.client, "/api/v1/tracks", genre="Jazz") == []
    seed_route = await all_pages(harness.client, "/api/v1/tracks/genre/Electronic", limit=2)
    assert {t["id"] for t in seed_route} == {t["id"] for t in newest}

    # A cursor of one order is refused by another.
    first = await harness.client.get("/api/v1/tracks", params={"limit": 1})
    refused = await harness.client.get(
        "/api/v1/tracks", params={"sort": "title", "cursor": first.json()["nextCursor"]}
    )
    assert_problem(refused, 400, "invalid_cursor")


async def test_taken_down_and_disabled_artists_tracks_are_invisible(
    media_harness: Harness,
) -> None:
    """Only published, visible things exist for listeners: a taken-down track, and every track
    of a disabled artist account, answer 404 and leave every list; a restore brings them back."""
    harness = media_harness
    admin, artist_user = await published_ep(harness, tracks=2)
    tracks = (await harness.client.get("/api/v1/tracks")).json()["items"]
    down, kept = tracks[0]["id"], tracks[1]["id"]

    taken = await harness.client.post(
        f"/api/v1/admin/tracks/{down}/take-down", json={"reason": "Rights claim"}, headers=admin
    )
    assert taken.status_code == 200, taken.text
    harness.client.cookies.clear()
    assert_problem(await harness.client.get(f"/api/v1/tracks/{down}"), 404, "not_found")
    assert [t["id"] for t in (await harness.client.get("/api/v1/tracks")).json()["items"]] == [kept]
    restored = await harness.client.post(f"/api/v1/admin/tracks/{down}/restore", headers=admin)
    assert restored.status_code == 200, restored.text
    assert (await harness.client.get(f"/api/v1/tracks/{down}")).status_code == 200

    disabled = await harness.client.patch(
        f"/api/v1/admin/users/{artist_user}", json={"disabled": True}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    harness.client.cookies.clear()
    assert (await harness.client.get("/api/v1/tracks")).json()["items"] == []
    assert_problem(await harness.client.get(f"/api/v1/tracks/{kept}"), 404, "not_found")
    by_genre = await harness.client.get("/api/v1/tracks/genre/Electronic")
    assert by_genre.json()["items"] == []


async def test_public_reads_are_cacheable_and_revalidate(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=2)
    listed = await harness.client.get("/api/v1/tracks")
    assert listed.headers["cache-control"].startswith("public, max-age=")
    etag = listed.headers["etag"]
    assert etag.startswith('"')
    again = await harness.client.get("/api/v1/tracks", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await harness.client.get("/api/v1/tracks", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200

    track_id = listed.json()["items"][0]["id"]
    one = await harness.client.get(f"/api/v1/tracks/{track_id}")
    weak = await harness.client.get(
        f"/api/v1/tracks/{track_id}", headers={"If-None-Match": f"W/{one.headers['etag']}"}
    )
    assert weak.status_code == 304


async def test_a_page_costs_the_same_statements_however_long(media_harness: Harness) -> None:
    """No N+1: a page of tracks, with their artists, albums and audio facts, is one statement
    after the catalog's version (what the page cache keys on); a release's page adds one for
    its artist and one for its track totals. The same page again is the version alone."""
    harness = media_harness
    await published_ep(harness, tracks=3)
    with statements_run(harness.app) as statements:
        await harness.client.get("/api/v1/tracks", params={"limit": 1})
        one = len(statements)
        statements.clear()
        first = await harness.client.get("/api/v1/tracks", params={"limit": 3})
        three = len(statements)
        statements.clear()
        again = await harness.client.get("/api/v1/tracks", params={"limit": 3})
        cached = len(statements)
    assert one == three == 2
    assert cached == 1
    assert again.content == first.content

    album_id = (await harness.client.get("/api/v1/albums")).json()["items"][0]["id"]
    with statements_run(harness.app) as statements:
        await harness.client.get(f"/api/v1/albums/{album_id}")
    assert len(statements) <= 5


async def test_genres_and_moods_count_visible_tracks_and_filter_them(
    media_harness: Harness,
) -> None:
    harness = media_harness
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    jazz = {
        **SINGLE,
        "metadata": {**SINGLE["metadata"], "genre": "Jazz", "subgenre": "Bebop"},
        "artistMoodTags": {"mood": "Calm", "secondaryMoods": ["Dreamy", "late night", "calm"]},
    }
    for payload, files in ((ep_payload(2), ep_files(2)), (jazz, single_files())):
        created = await submit(harness, artist, payload, files)
        assert created.status_code == 201, created.text
        approved = await approve(harness, created.json()["id"], admin)
        assert approved.status_code == 200, approved.text
    harness.client.cookies.clear()

    genres = await all_pages(harness.client, "/api/v1/genres", limit=1)
    assert genres == [{"name": "Electronic", "trackCount": 2}, {"name": "Jazz", "trackCount": 1}]
    moods = await all_pages(harness.client, "/api/v1/moods", limit=2)
    assert moods == [
        {"name": "calm", "trackCount": 1},
        {"name": "dreamy", "trackCount": 3},
        {"name": "late night", "trackCount": 1},
    ]
    jazz_track = (await harness.client.get("/api/v1/tracks", params={"genre": "Jazz"})).json()
    assert jazz_track["items"][0]["moods"] == ["calm", "dreamy", "late night"]

    async def count(path: str, **params: Any) -> int:
        return len(await all_pages(harness.client, path, limit=1, **params))

    assert await count("/api/v1/tracks", mood="DREAMY") == 3
    assert await count("/api/v1/tracks/mood/calm") == 1
    assert await count("/api/v1/tracks/mood/Late Night") == 1
    assert await count("/api/v1/tracks", subgenre="Ambient") == 2
    assert await count("/api/v1/tracks", genre="Jazz", mood="dreamy") == 1
    assert await count("/api/v1/tracks", genre="Jazz", mood="calm", subgenre="Ambient") == 0
    assert await count("/api/v1/tracks/mood/unheard") == 0

    # A take-down leaves the counts at once.
    taken = await harness.client.post(
        f"/api/v1/admin/tracks/{jazz_track['items'][0]['id']}/take-down",
        json={"reason": "Rights claim"},
        headers=admin,
    )
    assert taken.status_code == 200, taken.text
    harness.client.cookies.clear()
    assert await all_pages(harness.client, "/api/v1/genres") == [
        {"name": "Electronic", "trackCount": 2}
    ]
    assert await all_pages(harness.client, "/api/v1/moods") == [{"name": "dreamy", "trackCount": 2}]
    restored = await harness.client.post(
        f"/api/v1/admin/tracks/{jazz_track['items'][0]['id']}/restore", headers=admin
    )
    assert restored.status_code == 200, restored.text
    harness.client.cookies.clear()
    assert await all_pages(harness.client, "/api/v1/genres") == genres
    first = await harness.client.get("/api/v1/genres", params={"limit": 1})
    refused = await harness.client.get(
        "/api/v1/moods", params={"cursor": first.json()["nextCursor"]}
    )
    assert_problem(refused, 400, "invalid_cursor")
