"""A listener's whole session in a Subsonic player, played by an independently written client
library (py-opensonic, from PyPI) against a real `empulse serve` process: connect with an app
password, browse, search, star, play a stream by ranges, scrobble, make and edit a playlist.
The journeys (test_journeys.py) run it on the EP they publish, on both sets of backends."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from libopensonic import AsyncConnection
from libopensonic.errors import DataNotFoundError

from tests.auth.helpers import PASSWORD
from tests.support import secrets
from tests.support.fixtures import ServerProcess


def _app_password(server: ServerProcess, email: str) -> str:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
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


def a_whole_session(server: ServerProcess, email: str, artist: str, album: str) -> None:
    """`email` (a listener with the suite's password) plays `album` by `artist` (two songs at
    least, published) in a Subsonic player."""
    password = _app_password(server, email)
    host, port = server.url.rsplit(":", 1)
    asyncio.run(_session(host, int(port), email, password, artist, album))


async def _session(
    host: str, port: int, email: str, password: str, artist_name: str, album_title: str
) -> None:
    # Token authentication (a new salt each call), JSON, form POST to `<method>.view`.
    player = AsyncConnection(host, username=email, password=password, port=port)
    try:
        assert await player.ping()
        extensions = {e.name for e in await player.get_open_subsonic_extensions()}
        assert "formPost" in extensions
        # (Not get_music_folders: this library reads `musicFolders` as a list, where the spec
        # and every server nest it as `{"musicFolder": [...]}`; tests/subsonic checks ours.)

        # Browse: artists by letter, an artist's albums, an album's songs, a song.
        artists = await player.get_artists()
        names = {a.name: a for index in artists.index or [] for a in index.artist or []}
        artist = await player.get_artist(names[artist_name].id)
        [release] = [a for a in artist.album or [] if a.name == album_title]
        album = await player.get_album(release.id)
        songs = album.song or []
        assert len(songs) >= 2
        assert all(s.parent == release.id and s.album_id == release.id for s in songs)
        assert all(s.cover_art and s.artist_id == artist.id for s in songs)
        assert (await player.get_song(songs[1].id)).title == songs[1].title
        newest = await player.get_album_list2("newest", size=50)
        assert release.id in {a.id for a in newest}
        assert await player.get_genres()

        # Search, then star what was found.
        found = await player.search3(songs[1].title)
        assert songs[1].id in {s.id for s in found.song or []}
        synced = await player.search3('""', song_count=500, artist_count=0, album_count=0)
        assert {s.id for s in songs} <= {s.id for s in synced.song or []}
        assert await player.star(sids=[songs[1].id], album_ids=[release.id])
        starred = await player.get_starred2()
        assert [s.id for s in starred.song or []] == [songs[1].id]
        assert [a.id for a in starred.album or []] == [release.id]

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
        listened = int(time.time()) - 60
        for _ in range(2):  # a retry counts once
            assert await player.scrobble(songs[1].id, listen_time=listened)
        # The server's job runner folds plays into the counters every 2 seconds.
        deadline = time.monotonic() + 10
        while (count := (await player.get_song(songs[1].id)).play_count) == 0:
            assert time.monotonic() < deadline, "the play was never counted"
            await asyncio.sleep(0.2)
        assert count == 1
        assert await player.scrobble(songs[0].id, submission=False)
        [playing] = await player.get_now_playing()
        assert playing.id == songs[0].id
        assert playing.username == email

        # A playlist: made, edited, read back, deleted.
        assert await player.create_playlist(name="Late night", song_ids=[songs[0].id])
        [made] = [p for p in await player.get_playlists() if p.name == "Late night"]
        assert made.song_count == 1
        assert await player.update_playlist(
            made.id, name="Later night", song_ids_to_add=[songs[1].id, songs[0].id],
            song_indices_to_remove=[0],
        )  # fmt: skip
        shown = await player.get_playlist(made.id)
        assert shown.name == "Later night"
        assert [e.id for e in shown.entry or []] == [songs[1].id, songs[0].id]
        assert await player.delete_playlist(made.id)
        with pytest.raises(DataNotFoundError):
            await player.get_playlist(made.id)
    finally:
        await player.cleanup()
