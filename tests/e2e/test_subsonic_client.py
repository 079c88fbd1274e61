"""A listener's whole session in a Subsonic player, played by an independently written client
library (py-opensonic, from PyPI) against a real `empulse serve` process: connect with an app
password, browse, search, star, play a stream by ranges, scrobble, make and edit a playlist.
On the embedded defaults and on the production services (PostgreSQL, Redis, S3)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from libopensonic import AsyncConnection
from libopensonic.errors import DataNotFoundError

from empulse.demo import LISTENER
from tests.auth.helpers import PASSWORD
from tests.conftest import truncate_all
from tests.support import secrets
from tests.support.fixtures import LiveServers, S3Server, ServerProcess


@pytest.fixture(params=["embedded", "services"])
def server(request: pytest.FixtureRequest, live_server: LiveServers) -> Iterator[ServerProcess]:
    env: dict[str, str] = {"EMPULSE_JOBS_IN_PROCESS": "true"}
    database: str | None = None
    if request.param == "services":
        database = request.getfixturevalue("live_server_postgres_url")
        s3: S3Server = request.getfixturevalue("s3_server")
        env |= {
            "DATABASE_URL": database,
            "REDIS_URL": request.getfixturevalue("redis_server_url"),
            "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            **s3.settings(),
        }
    try:
        process = live_server.start(env=env)
        live_server.cli("demo-data", "--password-stdin", env=env, stdin=PASSWORD)
        yield process
        output = process.output()
        assert "Traceback" not in output, output
        assert not secrets.leaked_into(output)
    finally:
        if database:
            asyncio.run(truncate_all(database))


def _app_password(server: ServerProcess) -> str:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        login = client.post("/api/v1/auth/login", json={"email": LISTENER, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["accessToken"]
        secrets.remember(token, login.json()["refreshToken"])
        made = client.post(
            "/api/v1/users/me/app-passwords",
            json={"name": "py-opensonic"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text
        password: str = made.json()["password"]
        secrets.remember(password)
        return password


def test_a_listener_uses_a_subsonic_player_for_a_whole_session(server: ServerProcess) -> None:
    password = _app_password(server)
    host, port = server.url.rsplit(":", 1)
    asyncio.run(_session(host, int(port), password))


async def _session(host: str, port: int, password: str) -> None:
    # Token authentication (a new salt each call), JSON, form POST to `<method>.view`.
    player = AsyncConnection(host, username=LISTENER, password=password, port=port)
    try:
        assert await player.ping()
        extensions = {e.name for e in await player.get_open_subsonic_extensions()}
        assert "formPost" in extensions
        # (Not get_music_folders: this library reads `musicFolders` as a list, where the spec
        # and every server nest it as `{"musicFolder": [...]}`; tests/subsonic checks ours.)

        # Browse: artists by letter, an artist's albums, an album's songs, a song.
        artists = await player.get_artists()
        names = {a.name: a for index in artists.index or [] for a in index.artist or []}
        assert {"The Demo Tones", "Harbour Lights Trio", "Echo Valley"} <= set(names)
        trio = await player.get_artist(names["Harbour Lights Trio"].id)
        [lp] = trio.album or []
        album = await player.get_album(lp.id)
        songs = album.song or []
        assert [s.title for s in songs][:2] == ["Pier", "Lantern"]
        assert all(s.parent == lp.id and s.album_id == lp.id and s.cover_art for s in songs)
        song = await player.get_song(songs[1].id)
        assert song.artist_id == trio.id
        newest = await player.get_album_list2("newest", size=50)
        assert lp.id in {a.id for a in newest}
        assert await player.get_genres()

        # Search, then star what was found.
        found = await player.search3("lantern")
        assert songs[1].id in {s.id for s in found.song or []}
        synced = await player.search3('""', song_count=500, artist_count=0, album_count=0)
        assert len(synced.song or []) >= len(songs)
        assert await player.star(sids=[songs[1].id], album_ids=[lp.id])
        starred = await player.get_starred2()
        assert [s.id for s in starred.song or []] == [songs[1].id]
        assert [a.id for a in starred.album or []] == [lp.id]

        # Play: the whole file, then a range as a player seeking; a cover; a scrobble.
        whole = await player.stream(songs[1].id)
        body = await whole.read()
        assert whole.status == 200
        assert len(body) == songs[1].size
        ranged = await player._do_request("stream", {"id": songs[1].id}, {"Range": "bytes=10-19"})
        assert ranged.status == 206
        assert await ranged.read() == body[10:20]
        cover = await player.get_cover_art(songs[1].cover_art, size=64)
        assert cover.status == 200
        assert cover.headers["Content-Type"].startswith("image/")
        for _ in range(2):  # a retry counts once
            assert await player.scrobble(songs[1].id, listen_time=int(time.time()) - 60)
        assert (await player.get_song(songs[1].id)).play_count == 1
        assert await player.scrobble(songs[2].id, submission=False)
        [playing] = await player.get_now_playing()
        assert playing.id == songs[2].id
        assert playing.username == LISTENER

        # A playlist: made, edited, read back, deleted.
        assert await player.create_playlist(name="Late night", song_ids=[songs[0].id])
        [made] = [p for p in await player.get_playlists() if p.name == "Late night"]
        assert made.song_count == 1
        assert await player.update_playlist(
            made.id, name="Later night", song_ids_to_add=[songs[2].id, songs[3].id],
            song_indices_to_remove=[0],
        )  # fmt: skip
        shown = await player.get_playlist(made.id)
        assert shown.name == "Later night"
        assert [e.id for e in shown.entry or []] == [songs[2].id, songs[3].id]
        assert await player.delete_playlist(made.id)
        with pytest.raises(DataNotFoundError):
            await player.get_playlist(made.id)
    finally:
        await player.cleanup()
