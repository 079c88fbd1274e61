"""Players make and edit playlists with the playlists' own permissions, and keep bookmarks and
a play queue per account."""

from __future__ import annotations

from typing import Any

from tests.conftest import Backend, Harness
from tests.search.helpers import write_catalog
from tests.subsonic.helpers import NS, call, error_code, ok, player


async def test_playlists_made_and_edited_from_a_player(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    catalog = await write_catalog(harness)
    tracks = [str(track_id) for track_id in catalog.tracks.values()]
    me = await player(harness)

    made = (await ok(harness, "createPlaylist", me, name="Drive", songId=tracks[0]))["playlist"]
    assert made["name"] == "Drive"
    assert made["owner"] == me.email
    assert made["public"] is False
    assert [entry["id"] for entry in made["entry"]] == [tracks[0]]
    playlist_id = made["id"]

    await ok(harness, "updatePlaylist", me, playlistId=playlist_id, name="Night",
             comment="After midnight", public="true")  # fmt: skip
    # A rename and added songs in one call.
    params = [*me.auth().items(), ("playlistId", playlist_id), ("name", "Night drive")]
    params += [("songIdToAdd", track) for track in tracks[1:4]]
    assert (await call(harness, "updatePlaylist", params))["status"] == "ok"
    removed = [*me.auth().items(), ("playlistId", playlist_id), ("songIndexToRemove", "0")]
    removed.append(("songIndexToRemove", "2"))
    assert (await call(harness, "updatePlaylist", removed))["status"] == "ok"
    shown = (await ok(harness, "getPlaylist", me, id=playlist_id))["playlist"]
    assert [entry["id"] for entry in shown["entry"]] == [tracks[1], tracks[3]]
    assert shown["songCount"] == 2
    assert shown["duration"] == 400
    assert shown["comment"] == "After midnight"
    assert shown["public"] is True

    # The same playlist on the JSON API.
    json_api = await harness.client.get(
        f"/api/v1/playlists/{playlist_id}/tracks", headers=me.headers
    )
    assert [entry["track"]["id"] for entry in json_api.json()["items"]] == [tracks[1], tracks[3]]

    # createPlaylist with playlistId replaces the songs.
    replaced = [*me.auth().items(), ("playlistId", playlist_id), ("songId", tracks[5])]
    answer = await call(harness, "createPlaylist", replaced)
    assert [entry["id"] for entry in answer["playlist"]["entry"]] == [tracks[5]]

    listed = (await ok(harness, "getPlaylists", me))["playlists"]["playlist"]
    assert [playlist["name"] for playlist in listed] == ["Night drive"]
    xml = await call(harness, "getPlaylists", me.auth(), fmt="xml")
    assert [p.get("name") for p in xml.iter(f"{NS}playlist")] == ["Night drive"]

    # Another listener reads the public playlist (owner by display name), edits nothing, and
    # does not see a private one.
    other = await player(harness, "other@example.com", "Bea")
    theirs = (await ok(harness, "getPlaylist", other, id=playlist_id))["playlist"]
    assert theirs["owner"] == "Ada"
    assert theirs["readonly"] is True
    rename = {**other.auth(), "playlistId": playlist_id, "name": "Mine now"}
    assert error_code(await call(harness, "updatePlaylist", rename)) == 50
    assert (
        error_code(await call(harness, "deletePlaylist", {**other.auth(), "id": playlist_id})) == 50
    )
    await ok(harness, "updatePlaylist", me, playlistId=playlist_id, public="false")
    hidden = {**other.auth(), "id": playlist_id}
    assert error_code(await call(harness, "getPlaylist", hidden)) == 70
    not_theirs = {**other.auth(), "username": me.email}
    assert error_code(await call(harness, "getPlaylists", not_theirs)) == 50

    # A name the JSON API refuses is refused here too (not a 500).
    blank = {**me.auth(), "name": "   "}
    assert error_code(await call(harness, "createPlaylist", blank)) == 0
    json_blank = await harness.client.post(
        "/api/v1/playlists", json={"name": "   "}, headers=me.headers
    )
    assert json_blank.status_code == 422
    await ok(harness, "deletePlaylist", me, id=playlist_id)
    assert error_code(await call(harness, "getPlaylist", {**me.auth(), "id": playlist_id})) == 70


async def test_bookmarks_and_the_play_queue_follow_the_listener(
    backend: Backend, make_client: Any
) -> None:
    harness: Harness = await make_client(backend)
    catalog = await write_catalog(harness)
    tracks = [str(track_id) for track_id in catalog.tracks.values()]
    me = await player(harness)

    await ok(harness, "createBookmark", me, id=tracks[0], position=61_000, comment="chorus")
    await ok(harness, "createBookmark", me, id=tracks[0], position=62_000)
    [bookmark] = (await ok(harness, "getBookmarks", me))["bookmarks"]["bookmark"]
    assert bookmark["position"] == 62_000
    assert bookmark["entry"]["id"] == tracks[0]
    await ok(harness, "deleteBookmark", me, id=tracks[0])
    assert (await ok(harness, "getBookmarks", me))["bookmarks"]["bookmark"] == []
    no_position = {**me.auth(), "id": tracks[0]}
    assert error_code(await call(harness, "createBookmark", no_position)) == 10

    queue = [*me.auth().items(), *(("id", track) for track in tracks[:3])]
    queue += [("current", tracks[1]), ("position", "5000")]
    assert (await call(harness, "savePlayQueue", queue))["status"] == "ok"
    saved = (await ok(harness, "getPlayQueue", me))["playQueue"]
    assert [entry["id"] for entry in saved["entry"]] == tracks[:3]
    assert saved["current"] == tracks[1]
    assert saved["position"] == 5000
    assert saved["changedBy"] == "test-player"

    # The export has them (names of app passwords, never the passwords).
    export = await harness.client.get("/api/v1/users/me/export", headers=me.headers)
    part = export.json()["subsonic"]
    assert part["playQueue"]["trackIds"] == tracks[:3]
    assert [p["name"] for p in part["appPasswords"]] == ["phone"]
    assert me.password not in export.text

    await ok(harness, "savePlayQueue", me)
    assert "playQueue" not in await ok(harness, "getPlayQueue", me)
