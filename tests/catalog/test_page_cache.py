"""The page cache: a catalog page is read from the database once, then served from the
process's cache until something a listener could see changes, which shows on the very next
request; a signed-in caller gets the kept page with their own `liked`, which nobody else sees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from tests.auth.helpers import bearer, signed_in
from tests.catalog.helpers import artist_with_a_single, kept_pages_expire, published_ep
from tests.conftest import Backend, Harness
from tests.playlists.helpers import new_playlist
from tests.search.helpers import search, write_catalog
from tests.support.metrics import sample
from tests.support.statements import statements_run

T = TypeVar("T")
HITS = 'empulse_page_cache_lookups_total{result="hit"}'


async def counted(harness: Harness, call: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """What `call` returned, and how many SQL statements it ran."""
    with statements_run(harness.app) as statements:
        result = await call()
    return result, len(statements)


async def get(harness: Harness, path: str, **params: Any) -> tuple[httpx.Response, int]:
    return await counted(harness, lambda: harness.client.get(path, params=params))


async def listener(harness: Harness, email: str = "listener@example.com") -> dict[str, str]:
    headers = bearer(await signed_in(harness, email))
    harness.client.cookies.clear()
    return headers


async def test_a_page_is_served_from_the_cache_until_the_catalog_changes(
    media_harness: Harness,
) -> None:
    harness = media_harness
    admin, artist_user = await published_ep(harness, tracks=2)
    first, _ = await get(harness, "/api/v1/tracks")
    down, kept = (track["id"] for track in first.json()["items"])

    hits = sample((await harness.client.get("/metrics")).text, HITS)
    again, statements = await get(harness, "/api/v1/tracks")
    assert statements == 1  # the catalog's version, nothing else
    assert sample((await harness.client.get("/metrics")).text, HITS) == hits + 1
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"].startswith("public")
    not_modified = await harness.client.get(
        "/api/v1/tracks", headers={"If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304
    # The same page however the query is written: a default given, an unknown parameter.
    for params in ({"limit": "20", "sort": "newest"}, {"utm_source": "x", "limit": "20"}):
        same, statements = await get(harness, "/api/v1/tracks", **params)
        assert (same.content, statements) == (first.content, 1), params

    # A take-down shows on the next request, on the list and on the track's own URL.
    await get(harness, f"/api/v1/tracks/{down}")
    taken = await harness.client.post(
        f"/api/v1/admin/tracks/{down}/take-down", json={"reason": "Rights claim"}, headers=admin
    )
    assert taken.status_code == 200, taken.text
    harness.client.cookies.clear()
    after, statements = await get(harness, "/api/v1/tracks")
    assert [track["id"] for track in after.json()["items"]] == [kept]
    assert statements > 1
    assert (await harness.client.get(f"/api/v1/tracks/{down}")).status_code == 404
    restored = await harness.client.post(f"/api/v1/admin/tracks/{down}/restore", headers=admin)
    assert restored.status_code == 200, restored.text
    harness.client.cookies.clear()
    assert (await harness.client.get(f"/api/v1/tracks/{down}")).status_code == 200

    # Counted plays show once the job runner has folded them into the counters, and a kept
    # page has expired: neither the fold nor the popularity pass moves the catalog's version,
    # so pages stay kept while listeners play (at most PUBLIC_MAX_AGE seconds, as shared
    # caches keep them).
    assert (await harness.client.get(f"/api/v1/tracks/{kept}")).json()["playCount"] == 0
    me = await listener(harness)
    duration = after.json()["items"][0]["durationMs"]
    started = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    played = await harness.client.post(
        f"/api/v1/tracks/{kept}/plays",
        json={
            "playId": "0b6f3c1e-7d0a-4a8e-9a55-0a4f5f1d2c3b",
            "startedAt": started,
            "msPlayed": duration,
        },
        headers=me,
    )
    assert played.status_code == 201, played.text
    runner = harness.app.state.services.job_runner
    await runner.run_frequent()
    assert await runner.run_passes() == 2  # the popularity of the track and its album
    still, statements = await get(harness, f"/api/v1/tracks/{kept}")
    assert (still.json()["playCount"], statements) == (0, 1)
    kept_pages_expire(harness)
    counted, statements = await get(harness, f"/api/v1/tracks/{kept}")
    assert counted.json()["playCount"] == 1
    assert statements > 1

    # A disabled account's releases leave every cached list at once.
    await get(harness, "/api/v1/albums")
    await get(harness, "/api/v1/genres")
    disabled = await harness.client.patch(
        f"/api/v1/admin/users/{artist_user}", json={"disabled": True}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    harness.client.cookies.clear()
    for path in ("/api/v1/tracks", "/api/v1/albums", "/api/v1/genres", "/api/v1/artists"):
        assert (await harness.client.get(path)).json()["items"] == [], path


async def test_an_artists_profile_edit_shows_at_once(media_harness: Harness) -> None:
    harness = media_harness
    artist, artist_id = await artist_with_a_single(harness)
    before = (await harness.client.get(f"/api/v1/artists/{artist_id}")).json()
    [track] = (await harness.client.get("/api/v1/tracks")).json()["items"]
    assert track["artist"]["name"] == before["name"] != "Night Owls"

    edited = await harness.client.patch(
        "/api/v1/artists/me", json={"name": "Night Owls"}, headers=artist
    )
    assert edited.status_code == 200, edited.text
    harness.client.cookies.clear()
    assert (await harness.client.get(f"/api/v1/artists/{artist_id}")).json()["name"] == (
        "Night Owls"
    )
    [track] = (await harness.client.get("/api/v1/tracks")).json()["items"]
    assert track["artist"]["name"] == "Night Owls"


async def test_a_signed_in_caller_gets_the_kept_page_with_their_own_likes(
    media_harness: Harness,
) -> None:
    harness = media_harness
    await published_ep(harness, tracks=2)
    anonymous = await harness.client.get("/api/v1/tracks")
    liked_track, other_track = (track["id"] for track in anonymous.json()["items"])
    album_id = anonymous.json()["items"][0]["album"]["id"]
    me = await listener(harness)
    liked = await harness.client.put(f"/api/v1/users/me/library/tracks/{liked_track}", headers=me)
    assert liked.status_code == 204

    mine, statements = await counted(
        harness, lambda: harness.client.get("/api/v1/tracks", headers=me)
    )
    marks = {track["id"]: track["liked"] for track in mine.json()["items"]}
    assert marks == {liked_track: True, other_track: False}
    assert mine.headers["cache-control"] == "private, no-cache"
    assert statements == 2  # the version and this listener's likes among the page's tracks
    # The public ETag is not this caller's answer.
    conditional = await harness.client.get(
        "/api/v1/tracks", headers={**me, "If-None-Match": anonymous.headers["etag"]}
    )
    assert conditional.status_code == 200
    assert conditional.json() == mine.json()

    # Nobody else sees them: not the anonymous caller, not another listener.
    again = await harness.client.get("/api/v1/tracks")
    assert again.content == anonymous.content
    assert {track["liked"] for track in again.json()["items"]} == {None}
    someone = await listener(harness, "someone@example.com")
    theirs = await harness.client.get("/api/v1/tracks", headers=someone)
    assert {track["liked"] for track in theirs.json()["items"]} == {False}

    # A release's page: the album and each of its tracks.
    release = (await harness.client.get(f"/api/v1/albums/{album_id}", headers=me)).json()
    assert release["liked"] is False
    assert {t["id"]: t["liked"] for t in release["tracks"]} == {
        liked_track: True,
        other_track: False,
    }
    unliked = await harness.client.delete(
        f"/api/v1/users/me/library/tracks/{liked_track}", headers=me
    )
    assert unliked.status_code == 204
    mine = await harness.client.get("/api/v1/tracks", headers=me)
    assert {track["liked"] for track in mine.json()["items"]} == {False}


async def test_the_cache_can_be_turned_off(embedded: Backend, make_client: Any) -> None:
    harness = await make_client(embedded, EMPULSE_PAGE_CACHE_MB="0")
    first, statements = await get(harness, "/api/v1/tracks")
    assert first.status_code == 200
    assert statements == 1  # the page, without the version
    _, statements = await get(harness, "/api/v1/tracks")
    assert statements == 1


async def test_search_keeps_the_catalogs_pages_and_reads_playlists_afresh(
    backend: Backend, make_client: Any
) -> None:
    harness = await make_client(backend)
    await write_catalog(harness)
    types = "track,artist,album"
    first, _ = await counted(harness, lambda: search(harness, "night", type=types))
    again, statements = await counted(harness, lambda: search(harness, "night", type=types))
    assert statements == 1
    assert again.content == first.content
    assert again.json() == first.json()
    assert again.json()["playlists"] is None

    # Playlists change without moving the catalog's version: they are read every time.
    assert (await search(harness, "night")).json()["playlists"]["items"] == []
    me = await listener(harness)
    await new_playlist(harness, me, name="Night Mix", public=True)
    harness.client.cookies.clear()
    found = (await search(harness, "night")).json()
    assert [p["name"] for p in found["playlists"]["items"]] == ["Night Mix"]
    assert found["tracks"] == first.json()["tracks"]

    # A signed-in listener: the kept pages with their likes, and their own private playlists.
    track_id = first.json()["tracks"]["items"][0]["id"]
    liked = await harness.client.put(f"/api/v1/users/me/library/tracks/{track_id}", headers=me)
    assert liked.status_code == 204
    await new_playlist(harness, me, name="Night Secrets", public=False)
    harness.client.cookies.clear()
    mine = await harness.client.get("/api/v1/search", params={"q": "night"}, headers=me)
    assert mine.headers["cache-control"] == "private, no-cache"
    marks = {t["id"]: t["liked"] for t in mine.json()["tracks"]["items"]}
    assert marks[track_id] is True
    assert set(marks.values()) == {True, False}
    assert {a["liked"] for a in mine.json()["artists"]["items"]} == {False}
    assert sorted(p["name"] for p in mine.json()["playlists"]["items"]) == [
        "Night Mix",
        "Night Secrets",
    ]
    assert (await search(harness, "night")).json()["tracks"] == first.json()["tracks"]
