"""A player streams (with ranges), downloads and shows covers; scrobbles count once, whatever
the retries; "now playing" shows what privacy preferences allow."""

from __future__ import annotations

import time

from tests.auth.helpers import deliver
from tests.catalog.helpers import kept_pages_expire
from tests.conftest import Harness
from tests.streaming.test_stream import AUDIO, SIZE, published_single
from tests.subsonic.helpers import call, error_code, ok, player


async def test_a_player_streams_downloads_and_scrobbles(media_harness: Harness) -> None:
    harness = media_harness
    _, track_id = await published_single(harness)
    await deliver(harness, media=True)  # the renditions a format asks for
    me = await player(harness)

    # A stream, whole and by a range; a stream is not a play.
    whole = await harness.client.get("/rest/stream.view", params={**me.auth(), "id": track_id})
    assert whole.status_code == 200
    assert whole.content == AUDIO
    part = await harness.client.get(
        "/rest/stream", params={**me.auth(), "id": track_id}, headers={"Range": "bytes=100-199"}
    )
    assert part.status_code == 206
    assert part.content == AUDIO[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{SIZE}"
    # Asked for a format (or a bitrate), the pipeline's rendition: MP3, or Opus within 96.
    for asked, content_type in (
        ({"format": "mp3"}, "audio/mpeg"),
        ({"maxBitRate": "96"}, "audio/ogg"),
    ):
        chosen = await harness.client.get(
            "/rest/stream", params={**me.auth(), "id": track_id, **asked}
        )
        assert chosen.headers["content-type"] == content_type, asked
    download = await harness.client.get("/rest/download", params={**me.auth(), "id": track_id})
    assert download.content == AUDIO
    assert download.headers["content-disposition"].startswith("attachment")
    missing = {**me.auth(), "id": "00000000-0000-0000-0000-000000000000"}
    assert error_code(await call(harness, "stream", missing)) == 70
    assert (await harness.client.get(f"/api/v1/tracks/{track_id}")).json()["playCount"] == 0

    # The cover at the stored size nearest the one asked, by its immutable URL.
    song = (await ok(harness, "getSong", me, id=track_id))["song"]
    assert song["contentType"] == "audio/wav"
    assert song["suffix"] == "wav"
    assert song["size"] == SIZE
    cover = await harness.client.get(
        "/rest/getCoverArt", params={**me.auth(), "id": song["coverArt"], "size": "100"}
    )
    assert cover.status_code == 302
    image = await harness.client.get(cover.headers["location"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert error_code(await call(harness, "getCoverArt", {**me.auth(), "id": "al-nothing"})) == 70

    # A scrobble retried (same time) is one play; its count shows once the job runner has
    # folded it into the counters (every few seconds; here at once). Of a queue of two, one
    # from 1970 is the call's error, and the other is recorded all the same.
    at = str(int(time.time() * 1000) - 60_000)
    queued = [("id", track_id), ("time", "1"), ("id", track_id), ("time", at)]
    assert error_code(await call(harness, "scrobble", [*me.auth().items(), *queued])) == 0
    history = await harness.client.get("/api/v1/users/me/plays", headers=me.headers)
    year = time.strftime("%Y", time.gmtime(int(at) / 1000))
    assert [play["startedAt"][:4] for play in history.json()["items"]] == [year]
    for _ in range(3):
        await ok(harness, "scrobble", me, id=track_id, time=at)
    await harness.app.state.services.job_runner.run_frequent()
    kept_pages_expire(harness)
    assert (await harness.client.get(f"/api/v1/tracks/{track_id}")).json()["playCount"] == 1
    history = await harness.client.get("/api/v1/users/me/plays", headers=me.headers)
    [play] = history.json()["items"]
    assert play["qualified"] is True

    # "Now playing": the caller's own by username; another listener sees a display name only,
    # and nothing once they hide their listening activity.
    await ok(harness, "scrobble", me, id=track_id, submission="false")
    [mine] = (await ok(harness, "getNowPlaying", me))["nowPlaying"]["entry"]
    assert mine["username"] == me.email
    assert mine["id"] == track_id
    other = await player(harness, "other@example.com", "Bea")
    [seen] = (await ok(harness, "getNowPlaying", other))["nowPlaying"]["entry"]
    assert seen["username"] == "Ada"
    assert me.email not in str(seen)
    hidden = await harness.client.put(
        "/api/v1/users/me/privacy-preferences",
        json={
            "marketingEmails": False,
            "showListeningActivity": False,
            "publicProfile": True,
            "analytics": False,
        },
        headers=me.headers,
    )
    assert hidden.status_code == 200, hidden.text
    assert (await ok(harness, "getNowPlaying", other))["nowPlaying"]["entry"] == []
    assert (await harness.client.get(f"/api/v1/tracks/{track_id}")).json()["playCount"] == 1
