"""A listener keeps what they like: idempotent likes of tracks, albums and artists, a library
that shows them as the catalog does (or marked unavailable while taken down), and the data
export."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select

from empulse.core.db import session_scope
from empulse.models import LikedTrack
from empulse.services import Services
from tests.auth.helpers import PASSWORD, bearer, signed_in
from tests.catalog.helpers import all_pages, published_ep
from tests.conftest import Backend, Harness
from tests.support.statements import statements_run
from tests.web.test_problems import assert_problem

LIBRARY = "/api/v1/users/me/library"


async def listener(harness: Harness, email: str = "listener@example.com") -> dict[str, str]:
    headers = bearer(await signed_in(harness, email))
    harness.client.cookies.clear()
    return headers


async def pages(harness: Harness, path: str, headers: dict[str, str]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        answer = await harness.client.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        items.extend(answer.json()["items"])
        cursor = answer.json()["nextCursor"]
        if cursor is None:
            return items


async def test_a_listener_likes_tracks_albums_and_artists(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=2)
    tracks = await all_pages(harness.client, "/api/v1/tracks")
    album_id, artist_id = tracks[0]["album"]["id"], tracks[0]["artist"]["id"]
    me = await listener(harness)

    for kind, item_id in (
        ("tracks", tracks[0]["id"]),
        ("tracks", tracks[1]["id"]),
        ("albums", album_id),
        ("artists", artist_id),
    ):
        for _ in range(2):  # again: the same end state
            liked = await harness.client.put(f"{LIBRARY}/{kind}/{item_id}", headers=me)
            assert liked.status_code == 204, liked.text

    liked_tracks = await pages(harness, f"{LIBRARY}/tracks", me)
    assert [t["id"] for t in liked_tracks] == [tracks[1]["id"], tracks[0]["id"]]  # newest first
    assert all(t["available"] for t in liked_tracks)
    by_id = {t["id"]: t for t in tracks}
    assert liked_tracks[0]["track"] == by_id[tracks[1]["id"]]
    [album] = await pages(harness, f"{LIBRARY}/albums", me)
    assert album["album"]["title"] == "Lanterns EP"
    [artist] = await pages(harness, f"{LIBRARY}/artists", me)
    assert artist["artist"]["id"] == artist_id

    asked = ",".join([tracks[0]["id"], str(uuid.uuid4()), tracks[1]["id"]])
    contains = await harness.client.get(
        f"{LIBRARY}/tracks/contains", params={"ids": asked}, headers=me
    )
    assert contains.json() == [True, False, True]

    for _ in range(2):
        gone = await harness.client.delete(f"{LIBRARY}/tracks/{tracks[0]['id']}", headers=me)
        assert gone.status_code == 204
    assert [t["id"] for t in await pages(harness, f"{LIBRARY}/tracks", me)] == [tracks[1]["id"]]

    # Another listener's library is their own.
    other = await listener(harness, "other@example.com")
    assert await pages(harness, f"{LIBRARY}/tracks", other) == []


async def test_a_taken_down_track_stays_in_the_library_marked_unavailable(
    backend: Backend, make_client: Any
) -> None:
    harness: Harness = await make_client(backend)
    admin, _ = await published_ep(harness, tracks=2)
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    me = await listener(harness)
    assert (await harness.client.put(f"{LIBRARY}/tracks/{track_id}", headers=me)).status_code == 204

    taken = await harness.client.post(
        f"/api/v1/admin/tracks/{track_id}/take-down", json={"reason": "Claim"}, headers=admin
    )
    assert taken.status_code == 200, taken.text
    harness.client.cookies.clear()
    [shown] = await pages(harness, f"{LIBRARY}/tracks", me)
    assert (shown["id"], shown["available"], shown["track"]) == (track_id, False, None)
    # It cannot be liked anew while invisible, as its own URL answers 404.
    other = await listener(harness, "other@example.com")
    assert_problem(
        await harness.client.put(f"{LIBRARY}/tracks/{track_id}", headers=other), 404, "not_found"
    )

    restored = await harness.client.post(f"/api/v1/admin/tracks/{track_id}/restore", headers=admin)
    assert restored.status_code == 200
    harness.client.cookies.clear()
    [shown] = await pages(harness, f"{LIBRARY}/tracks", me)
    assert shown["available"] is True
    assert shown["track"]["id"] == track_id


async def test_likes_are_idempotent_under_concurrent_repeats(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=2)
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    me = await listener(harness)
    answers = await asyncio.gather(
        *(harness.client.put(f"{LIBRARY}/tracks/{track_id}", headers=me) for _ in range(20))
    )
    assert {answer.status_code for answer in answers} == {204}
    assert len(await pages(harness, f"{LIBRARY}/tracks", me)) == 1


async def test_bad_likes_and_questions_are_refused(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    me = await listener(harness)
    assert_problem(
        await harness.client.put(f"{LIBRARY}/tracks/{uuid.uuid4()}", headers=me), 404, "not_found"
    )
    assert_problem(
        await harness.client.put(f"{LIBRARY}/playlists-x/{uuid.uuid4()}", headers=me),
        422,
        "validation_failed",
    )
    for ids in ("", "not-a-uuid", ",".join(str(uuid.uuid4()) for _ in range(51))):
        answer = await harness.client.get(
            f"{LIBRARY}/tracks/contains", params={"ids": ids}, headers=me
        )
        assert_problem(answer, 422, "validation_failed")
    assert_problem(await harness.client.get(f"{LIBRARY}/tracks"), 401, "not_authenticated")


async def test_the_export_carries_the_library(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    await published_ep(harness, tracks=2)
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    me = await listener(harness)
    await harness.client.put(f"{LIBRARY}/tracks/{track_id}", headers=me)
    exported = await harness.client.get("/api/v1/users/me/export", headers=me)
    assert exported.status_code == 200, exported.text
    library = exported.json()["library"]
    assert [like["id"] for like in library["tracks"]] == [track_id]
    assert library["albums"] == library["artists"] == []


async def test_deleting_the_account_deletes_its_likes(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    await published_ep(harness, tracks=2)
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    me = await listener(harness)
    await harness.client.put(f"{LIBRARY}/tracks/{track_id}", headers=me)
    deleted = await harness.client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=me
    )
    assert deleted.status_code == 204, deleted.text
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(LikedTrack)) == 0


async def test_the_catalog_tells_a_signed_in_listener_what_they_like(
    media_harness: Harness,
) -> None:
    """`liked` on every track, album and artist of a page, read in one query per kind; the
    anonymous catalog stays public and cacheable, the personal one is private."""
    harness = media_harness
    await published_ep(harness, tracks=3)
    tracks = await all_pages(harness.client, "/api/v1/tracks")
    album_id, artist_id = tracks[0]["album"]["id"], tracks[0]["artist"]["id"]
    me = await listener(harness)
    for kind, item_id in (
        ("tracks", tracks[1]["id"]),
        ("albums", album_id),
        ("artists", artist_id),
    ):
        assert (
            await harness.client.put(f"{LIBRARY}/{kind}/{item_id}", headers=me)
        ).status_code == 204

    anonymous = await harness.client.get("/api/v1/tracks")
    assert {track["liked"] for track in anonymous.json()["items"]} == {None}
    assert anonymous.headers["cache-control"].startswith("public")
    assert "Authorization" in anonymous.headers["vary"]

    with statements_run(harness.app) as statements:
        mine = await harness.client.get("/api/v1/tracks", headers=me)
    assert mine.headers["cache-control"] == "private, no-cache"
    liked = {track["id"]: track["liked"] for track in mine.json()["items"]}
    assert liked == {track["id"]: track["id"] == tracks[1]["id"] for track in tracks}
    assert sum("liked_tracks" in statement for statement in statements) == 1

    album = (await harness.client.get(f"/api/v1/albums/{album_id}", headers=me)).json()
    assert album["liked"] is True
    assert [track["liked"] for track in album["tracks"]].count(True) == 1
    artist = (await harness.client.get(f"/api/v1/artists/{artist_id}", headers=me)).json()
    assert artist["liked"] is True
    other = await listener(harness, "other@example.com")
    assert (await harness.client.get(f"/api/v1/artists/{artist_id}", headers=other)).json()[
        "liked"
    ] is False
