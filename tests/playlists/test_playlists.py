"""A listener builds a playlist: entries at positions 0..n-1, reordered as Spotify does, every
change a new snapshot, and a stale snapshot refused with nothing applied."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import insert, select, update

from empulse.core.db import session_scope
from empulse.models import Playlist, PlaylistEntry
from empulse.playlists.repository import ENTRY_ORDER
from empulse.services import Services
from tests.catalog.helpers import all_pages, published_ep
from tests.conftest import Harness
from tests.playlists.helpers import PLAYLISTS, add, entries, listener, new_playlist
from tests.support import media
from tests.web.test_problems import assert_problem


def tracks_of(shown: list[Any]) -> list[str]:
    return [entry["track"]["title"] for entry in shown]


async def test_a_listener_builds_edits_and_reorders_a_playlist(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=3)
    catalog = await all_pages(harness.client, "/api/v1/tracks", sort="title")
    ids = {track["title"]: track["id"] for track in catalog}
    a, b, c = sorted(ids)
    me = await listener(harness, "ada@example.com")

    created = await harness.client.post(
        PLAYLISTS, json={"name": " Night drives ", "public": False}, headers=me
    )
    assert created.status_code == 201, created.text
    playlist = created.json()
    url = f"{PLAYLISTS}/{playlist['id']}"
    assert created.headers["location"] == url
    assert created.headers["etag"] == f'"{playlist["snapshotId"]}"'
    assert (playlist["name"], playlist["public"], playlist["collaborative"]) == (
        "Night drives",
        False,
        False,
    )
    assert (playlist["trackCount"], playlist["canEdit"], playlist["owner"]["name"]) == (
        0,
        True,
        "Ada",
    )

    # Appended in the order sent, duplicates allowed; then inserted at the top.
    first = await add(harness, playlist["id"], me, [ids[a], ids[b], ids[a]])
    assert first.status_code == 201, first.text
    assert first.json()["snapshotId"] != playlist["snapshotId"]
    inserted = await add(harness, playlist["id"], me, [ids[c]], position=0)
    assert inserted.status_code == 201
    shown = await entries(harness, playlist["id"], me)
    assert tracks_of(shown) == [c, a, b, a]
    assert len({entry["entryId"] for entry in shown}) == 4
    assert shown[1]["addedBy"]["name"] == "Ada"
    assert shown[1]["available"] is True

    # Spotify's reorder: down the list, up the list, and a move onto itself (no change).
    snapshot = inserted.json()["snapshotId"]
    order = f"{url}/tracks/order"
    down = await harness.client.put(
        order, json={"rangeStart": 0, "rangeLength": 2, "insertBefore": 4}, headers=me
    )
    assert down.status_code == 200, down.text
    assert tracks_of(await entries(harness, playlist["id"], me)) == [b, a, c, a]
    up = await harness.client.put(order, json={"rangeStart": 3, "insertBefore": 1}, headers=me)
    assert tracks_of(await entries(harness, playlist["id"], me)) == [b, a, a, c]
    same = await harness.client.put(order, json={"rangeStart": 1, "insertBefore": 2}, headers=me)
    assert same.json()["snapshotId"] == up.json()["snapshotId"]

    # A write against an old snapshot changes nothing, by body or by If-Match.
    stale = await add(harness, playlist["id"], me, [ids[b]], snapshotId=snapshot)
    assert_problem(stale, 412, "playlist_changed")
    stale = await harness.client.put(
        order,
        json={"rangeStart": 0, "insertBefore": 4},
        headers={**me, "If-Match": f'"{snapshot}"'},
    )
    assert_problem(stale, 412, "playlist_changed")
    assert tracks_of(await entries(harness, playlist["id"], me)) == [b, a, a, c]
    current = up.json()["snapshotId"]
    fresh = await harness.client.put(
        order,
        json={"rangeStart": 3, "insertBefore": 0, "snapshotId": current},
        headers={**me, "If-Match": f'"{current}"'},
    )
    assert fresh.status_code == 200, fresh.text
    shown = await entries(harness, playlist["id"], me)
    assert tracks_of(shown) == [c, b, a, a]

    # One of two copies goes by its entry id; the rest close up. Again: nothing changes.
    removed = await harness.client.request(
        "DELETE", f"{url}/tracks", json={"entryIds": [shown[2]["entryId"]]}, headers=me
    )
    assert removed.status_code == 200, removed.text
    after = await entries(harness, playlist["id"], me)
    assert tracks_of(after) == [c, b, a]
    assert after[2]["entryId"] == shown[3]["entryId"]
    again = await harness.client.request(
        "DELETE", f"{url}/tracks", json={"entryIds": [shown[2]["entryId"]]}, headers=me
    )
    assert again.json()["snapshotId"] == removed.json()["snapshotId"]

    # What cannot be done says why.
    for body in (
        {"rangeStart": 3, "insertBefore": 0},
        {"rangeStart": 1, "rangeLength": 3, "insertBefore": 0},
        {"rangeStart": 0, "insertBefore": 4},
    ):
        assert_problem(
            await harness.client.put(order, json=body, headers=me), 422, "validation_failed"
        )
    unknown = await add(harness, playlist["id"], me, [ids[a], str(uuid.uuid4())])
    errors = assert_problem(unknown, 422, "validation_failed")["errors"]
    assert [(e["in"], e["field"]) for e in errors] == [("body", "trackIds.1")]
    assert_problem(
        await add(harness, playlist["id"], me, [ids[a]], position=4), 422, "validation_failed"
    )
    assert_problem(await add(harness, playlist["id"], me, []), 422, "validation_failed")
    assert len(await entries(harness, playlist["id"], me)) == 3

    # Details: only what is sent changes; a new snapshot, the ETag with it.
    edited = await harness.client.patch(
        url, json={"description": "After midnight", "public": True}, headers=me
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["description"]) == (
        "Night drives",
        "After midnight",
    )
    assert edited.headers["etag"] == f'"{edited.json()["snapshotId"]}"'
    assert edited.json()["snapshotId"] != removed.json()["snapshotId"]
    # Without a cover of its own, it shows its albums' covers (one album here).
    assert [image["width"] for image in edited.json()["trackCovers"]] == [300]
    assert edited.json()["images"] == []

    cover = await harness.client.put(
        f"{url}/cover", content=media.cover_png(), headers={**me, "Content-Type": "image/png"}
    )
    assert cover.status_code == 200, cover.text
    assert [image["size"] for image in cover.json()["images"]] == [1200, 600, 300]
    image = await harness.client.get(
        cover.json()["images"][0]["url"].removeprefix("https://testserver")
    )
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert_problem(
        await harness.client.put(
            f"{url}/cover", content=b"not an image", headers={**me, "Content-Type": "image/png"}
        ),
        422,
        "unsupported_file",
    )
    uncovered = await harness.client.delete(f"{url}/cover", headers=me)
    assert uncovered.json()["images"] == []

    deleted = await harness.client.delete(url, headers=me)
    assert deleted.status_code == 204
    assert_problem(await harness.client.get(url, headers=me), 404, "not_found")


async def test_concurrent_edits_lose_no_entry_and_one_reorder_wins(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=2)
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    me = await listener(harness, "ada@example.com")
    playlist = await new_playlist(harness, me)

    added = await asyncio.gather(*(add(harness, playlist["id"], me, [track_id]) for _ in range(20)))
    assert [answer.status_code for answer in added] == [201] * 20
    assert len({answer.json()["snapshotId"] for answer in added}) == 20
    shown = await entries(harness, playlist["id"], me)  # positions 0..19, checked there
    assert len(shown) == 20

    snapshot = (await harness.client.get(f"{PLAYLISTS}/{playlist['id']}", headers=me)).json()
    moves = await asyncio.gather(
        *(
            harness.client.put(
                f"{PLAYLISTS}/{playlist['id']}/tracks/order",
                json={
                    "rangeStart": start,
                    "insertBefore": 20,
                    "snapshotId": snapshot["snapshotId"],
                },
                headers=me,
            )
            for start in range(5)
        )
    )
    assert sorted(answer.status_code for answer in moves) == [200, 412, 412, 412, 412]
    [winner] = [start for start, answer in enumerate(moves) if answer.status_code == 200]
    after = await entries(harness, playlist["id"], me)
    expected = [e["entryId"] for i, e in enumerate(shown) if i != winner] + [
        shown[winner]["entryId"]
    ]
    assert [entry["entryId"] for entry in after] == expected


async def test_a_playlist_holds_at_most_ten_thousand_entries(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=2)
    track_id = uuid.UUID((await all_pages(harness.client, "/api/v1/tracks"))[0]["id"])
    me = await listener(harness, "ada@example.com")
    playlist = await new_playlist(harness, me)
    playlist_id = uuid.UUID(playlist["id"])
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        rows = [
            {"id": uuid.uuid4(), "playlist_id": playlist_id, "rank": n, "track_id": track_id}
            for n in range(1, 10_000)  # no gaps at all: a write renumbers first
        ]
        await session.execute(insert(PlaylistEntry), rows)
        await session.execute(
            update(Playlist).where(Playlist.id == playlist_id).values(entry_count=9_999)
        )
    full = await add(harness, playlist["id"], me, [str(track_id)] * 2)
    assert_problem(full, 422, "playlist_full")
    last = await add(harness, playlist["id"], me, [str(track_id)], position=0)
    assert last.status_code == 201, last.text
    moved = await harness.client.put(
        f"{PLAYLISTS}/{playlist['id']}/tracks/order",
        json={"rangeStart": 0, "rangeLength": 10, "insertBefore": 10_000},
        headers=me,
    )
    assert moved.status_code == 200, moved.text
    after = await _rank_at(services, playlist_id, 9_899)
    tail = await harness.client.get(
        f"{PLAYLISTS}/{playlist['id']}/tracks",
        params={"limit": 100, "cursor": ENTRY_ORDER.encode(after)},
        headers=me,
    )
    positions = [entry["position"] for entry in tail.json()["items"]]
    assert positions == list(range(9_900, 10_000))


async def _rank_at(services: Services, playlist_id: uuid.UUID, position: int) -> Any:
    """The entry at this position (a cursor after it starts the next page there)."""
    async with session_scope(services.sessionmaker) as session:
        statement = (
            select(PlaylistEntry)
            .where(PlaylistEntry.playlist_id == playlist_id)
            .order_by(PlaylistEntry.rank)
            .offset(position)
            .limit(1)
        )
        return (await session.scalars(statement)).one()


async def test_any_sequence_of_edits_leaves_the_order_a_list_would(media_harness: Harness) -> None:
    """Adds anywhere (twenty-five at one place, so the gap there runs out and the playlist is
    renumbered), removals, and reorders up and down, of short ranges and of long ones (where
    the entries jumped over are what moves): after each, the playlist reads as a plain list
    doing the same edits, at positions 0..n-1."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track_ids = [track["id"] for track in await all_pages(harness.client, "/api/v1/tracks")]
    me = await listener(harness, "ada@example.com")
    playlist_id = (await new_playlist(harness, me))["id"]
    url = f"{PLAYLISTS}/{playlist_id}/tracks"
    expected: list[str] = []  # entry ids, in order

    async def shown() -> list[str]:
        page = await harness.client.get(url, params={"limit": 100}, headers=me)
        items = page.json()["items"]
        assert [entry["position"] for entry in items] == list(range(len(items)))
        return [entry["entryId"] for entry in items]

    async def add_at(position: int | None, count: int) -> None:
        nonlocal expected
        added = await add(harness, playlist_id, me, track_ids[:1] * count, position=position)
        assert added.status_code == 201, added.text
        now = await shown()
        at = len(expected) if position is None else position
        assert now[:at] + now[at + count :] == expected
        expected = now

    async def reorder(start: int, length: int, before: int) -> None:
        body = {"rangeStart": start, "rangeLength": length, "insertBefore": before}
        moved = await harness.client.put(f"{url}/order", json=body, headers=me)
        assert moved.status_code == 200, moved.text
        block = expected[start : start + length]
        rest = expected[:start] + expected[start + length :]
        at = before if before <= start else before - length
        expected[:] = rest[:at] + block + rest[at:]
        assert await shown() == expected, body

    await add_at(None, 10)
    for _ in range(25):
        await add_at(1, 1)
    await add_at(0, 3)
    await add_at(20, 4)
    for start, length, before in [
        (0, 1, 42),  # the first to the end
        (41, 1, 0),  # the last to the top
        (2, 30, 40),  # a long range down: the 8 it jumps over move up instead
        (35, 6, 1),  # a range up
        (10, 25, 3),  # a long range up: the 7 it jumps over move down instead
        (5, 3, 9),  # a short range down
        (0, 42, 42),  # the whole playlist onto its own end: nothing changes
    ]:
        await reorder(start, length, before)
    removed = expected[::3]
    gone = await harness.client.request("DELETE", url, json={"entryIds": removed}, headers=me)
    assert gone.status_code == 200, gone.text
    expected = [entry for entry in expected if entry not in removed]
    assert await shown() == expected
    await add_at(5, 2)
    await reorder(0, 3, len(expected))
