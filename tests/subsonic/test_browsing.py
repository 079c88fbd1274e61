"""A player browses the catalog as Subsonic lists it (artists by letter, albums, songs, genres,
folders, album lists, search, stars) and sees exactly what the JSON API lets a listener see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from empulse.core.db import session_scope, utcnow
from empulse.models import Track, User
from empulse.services import Services
from tests.catalog.helpers import all_pages
from tests.conftest import Backend, Harness
from tests.search.helpers import Catalog, write_catalog
from tests.subsonic.helpers import NS, call, error_code, ok, player
from tests.support.statements import statements_run

# What clients rely on in every song (some break without parent, albumId, artistId, coverArt).
SONG_FIELDS = {
    "id", "parent", "isDir", "title", "album", "artist", "track", "year", "genre", "coverArt",
    "size", "contentType", "suffix", "duration", "albumId", "artistId", "type", "created",
}  # fmt: skip


async def _setup(backend: Backend, make_client: Any) -> tuple[Harness, Catalog, Any]:
    harness: Harness = await make_client(backend)
    catalog = await write_catalog(harness)
    return harness, catalog, await player(harness)


async def test_artists_albums_and_songs_as_players_read_them(
    backend: Backend, make_client: Any
) -> None:
    harness, catalog, me = await _setup(backend, make_client)

    artists = (await ok(harness, "getArtists", me))["artists"]
    assert "The" in artists["ignoredArticles"].split()
    letters = {index["name"]: [a["name"] for a in index["artist"]] for index in artists["index"]}
    assert "The Lanterns" in letters["L"]  # the article is ignored
    assert "AC/DC" in letters["A"]
    assert "P!nk" in letters["P"]
    assert sum(len(names) for names in letters.values()) == len(catalog.artists)

    lanterns = str(catalog.artists["The Lanterns"])
    artist = (await ok(harness, "getArtist", me, id=lanterns))["artist"]
    assert artist["name"] == "The Lanterns"
    assert artist["albumCount"] == 1
    [album] = artist["album"]
    assert album["name"] == "Harbour Lights"
    assert album["songCount"] == 3
    assert album["duration"] == 600

    full = (await ok(harness, "getAlbum", me, id=album["id"]))["album"]
    titles = [song["title"] for song in full["song"]]
    assert titles == ["Night Drive", "Lanterns", "Lantern Song"]
    for song in full["song"]:
        assert set(song) >= SONG_FIELDS, SONG_FIELDS - set(song)
        assert song["parent"] == album["id"]
        assert song["albumId"] == album["id"]
        assert song["artistId"] == lanterns
        assert song["coverArt"] == f"al-{album['id']}"
        assert song["isDir"] is False
    song = (await ok(harness, "getSong", me, id=full["song"][0]["id"]))["song"]
    assert song["title"] == "Night Drive"
    assert song["playCount"] == 5

    # Folder browsing (DSub): one folder, artist -> albums -> songs.
    folders = (await ok(harness, "getMusicFolders", me))["musicFolders"]["musicFolder"]
    assert len(folders) == 1
    indexes = (await ok(harness, "getIndexes", me))["indexes"]
    assert indexes["lastModified"] > 0
    directory = (await ok(harness, "getMusicDirectory", me, id=lanterns))["directory"]
    assert [child["title"] for child in directory["child"]] == ["Harbour Lights"]
    assert directory["child"][0]["isDir"] is True
    songs = (await ok(harness, "getMusicDirectory", me, id=album["id"]))["directory"]["child"]
    assert [child["title"] for child in songs] == titles

    genres = (await ok(harness, "getGenres", me))["genres"]["genre"]
    assert genres == [{"value": "Pop", "songCount": 18, "albumCount": 13}]
    by_genre = (await ok(harness, "getSongsByGenre", me, genre="Pop", count=5))["songsByGenre"]
    assert len(by_genre["song"]) == 5
    random = (await ok(harness, "getRandomSongs", me, size=4))["randomSongs"]["song"]
    assert len(random) == 4

    # Unknown and malformed ids are "not found" (70), as is a folder that is not one.
    for method in ("getArtist", "getAlbum", "getSong", "getMusicDirectory"):
        for bad in ("00000000-0000-0000-0000-000000000000", "not-an-id"):
            assert error_code(await call(harness, method, {**me.auth(), "id": bad})) == 70

    # The same answers in XML: the namespace, attributes, songs as elements.
    xml = await call(harness, "getAlbum", {**me.auth(), "id": album["id"]}, fmt="xml")
    album_element = xml.find(f"{NS}album")
    assert album_element is not None
    assert album_element.get("name") == "Harbour Lights"
    assert [s.get("title") for s in album_element.findall(f"{NS}song")] == titles
    genre_xml = await call(harness, "getGenres", me.auth(), fmt="xml")
    genre = genre_xml.find(f"{NS}genres/{NS}genre")
    assert genre is not None
    assert genre.text == "Pop"
    assert genre.get("songCount") == "18"


async def test_album_lists_of_every_type(backend: Backend, make_client: Any) -> None:
    harness, catalog, me = await _setup(backend, make_client)

    async def names(kind: str, **params: Any) -> list[str]:
        body = await ok(harness, "getAlbumList2", me, type=kind, size=500, **params)
        return [album["name"] for album in body["albumList2"]["album"]]

    newest = await names("newest")
    assert newest[0] == "Harbour Lights"  # published first in the helper's order: newest
    assert len(newest) == len(catalog.albums)
    assert (await names("highest"))[0] == "Harbour Lights"  # 15 qualified plays
    # In the database's collation, as the JSON API sorts (both backends).
    by_title = await all_pages(harness.client, "/api/v1/albums", sort="title", limit=100)
    assert await names("alphabeticalByName") == [album["title"] for album in by_title]
    artists = await all_pages(harness.client, "/api/v1/artists", sort="name", limit=100)
    by_artist = await ok(harness, "getAlbumList2", me, type="alphabeticalByArtist", size=500)
    assert [a["artist"] for a in by_artist["albumList2"]["album"]] == [a["name"] for a in artists]
    assert len(await names("random")) == len(catalog.albums)
    assert await names("byGenre", genre="Pop") == sorted(await names("byGenre", genre="Pop"))
    year = utcnow().year
    assert len(await names("byYear", fromYear=year - 1, toYear=year)) == len(catalog.albums)
    assert await names("byYear", fromYear=1990, toYear=1999) == []
    assert await names("starred") == []
    assert await names("frequent") == []
    assert await names("recent") == []
    page = await ok(harness, "getAlbumList2", me, type="newest", size=2, offset=1)
    assert [a["name"] for a in page["albumList2"]["album"]] == newest[1:3]

    # getAlbumList answers the same albums as directories.
    folders = (await ok(harness, "getAlbumList", me, type="newest", size=500))["albumList"]
    assert [child["title"] for child in folders["album"]] == newest
    assert all(child["isDir"] is True for child in folders["album"])

    # Missing and unknown list parameters.
    assert error_code(await call(harness, "getAlbumList2", me.auth())) == 10
    assert error_code(await call(harness, "getAlbumList2", {**me.auth(), "type": "best"})) == 0
    by_year = {**me.auth(), "type": "byYear", "fromYear": "2020"}
    assert error_code(await call(harness, "getAlbumList2", by_year)) == 10
    assert error_code(await call(harness, "getAlbumList2", {**me.auth(), "type": "byGenre"})) == 10


async def test_search_stars_and_what_a_listener_may_see(backend: Backend, make_client: Any) -> None:
    harness, catalog, me = await _setup(backend, make_client)

    # The JSON API's search, ranked the same.
    found = (await ok(harness, "search3", me, query="lanterns night"))["searchResult3"]
    ranked = await harness.client.get("/api/v1/search", params={"q": "lanterns night"})
    assert [s["id"] for s in found["song"]] == [t["id"] for t in ranked.json()["tracks"]["items"]]
    assert "Night Drive" in [song["title"] for song in found["song"]]
    beyonce = (await ok(harness, "search3", me, query="beyonce"))["searchResult3"]
    assert [artist["name"] for artist in beyonce["artist"]] == ["Beyoncé"]
    old = (await ok(harness, "search2", me, query="renaissance"))["searchResult2"]
    assert [album["title"] for album in old["album"]] == ["Renaissance"]

    # An empty query (or the literal "" some clients send) lists everything, page by page.
    for empty in ("", '""'):
        seen: list[str] = []
        offset = 0
        while True:
            page = await ok(harness, "search3", me, query=empty, songCount=5, songOffset=offset,
                            artistCount=0, albumCount=0)  # fmt: skip
            songs = page["searchResult3"]["song"]
            seen.extend(song["id"] for song in songs)
            if len(songs) < 5:
                break
            offset += 5
        assert sorted(seen) == sorted(str(t) for t in catalog.tracks.values())

    # Stars are the library's likes, both ways.
    night = str(catalog.tracks["The Lanterns - Night Drive"])
    album = str(catalog.albums["Renaissance"])
    artist = str(catalog.artists["Sigur Rós"])
    await ok(harness, "star", me, id=night, albumId=album, artistId=artist)
    starred = (await ok(harness, "getStarred2", me))["starred2"]
    assert [song["id"] for song in starred["song"]] == [night]
    assert starred["song"][0]["starred"]
    assert [a["id"] for a in starred["album"]] == [album]
    assert [a["id"] for a in starred["artist"]] == [artist]
    liked = await harness.client.get("/api/v1/users/me/library/tracks", headers=me.headers)
    assert [item["track"]["id"] for item in liked.json()["items"]] == [night]
    assert [a["name"] for a in (await ok(harness, "getAlbumList2", me, type="starred"))
            ["albumList2"]["album"]] == ["Renaissance"]  # fmt: skip
    await ok(harness, "unstar", me, id=night)
    await ok(harness, "unstar", me, id=night)  # again: the same end state
    assert (await ok(harness, "getStarred", me))["starred"]["song"] == []
    unknown = {**me.auth(), "id": "00000000-0000-0000-0000-000000000000"}
    assert error_code(await call(harness, "star", unknown)) == 70

    # A take-down and a disabled artist: gone from every method at once.
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        await session.execute(
            update(Track).where(Track.id == catalog.tracks["The Lanterns - Night Drive"])
            .values(status="taken_down", taken_down_at=utcnow())
        )  # fmt: skip
        await session.execute(
            update(User).where(User.email == "artist1@example.com")
            .values(disabled_at=utcnow() - timedelta(seconds=1))
        )  # fmt: skip
    assert error_code(await call(harness, "getSong", {**me.auth(), "id": night})) == 70
    songs = await ok(harness, "getAlbum", me, id=str(catalog.albums["Harbour Lights"]))
    assert "Night Drive" not in [s["title"] for s in songs["album"]["song"]]
    after = (await ok(harness, "search3", me, query="night drive"))["searchResult3"]["song"]
    assert night not in [song["id"] for song in after]
    beyonce_id = str(catalog.artists["Beyoncé"])
    assert error_code(await call(harness, "getArtist", {**me.auth(), "id": beyonce_id})) == 70
    assert error_code(await call(harness, "getAlbum", {**me.auth(), "id": album})) == 70
    everyone = (await ok(harness, "getArtists", me))["artists"]["index"]
    assert "Beyoncé" not in [a["name"] for index in everyone for a in index["artist"]]


async def test_kept_lists_carry_each_players_own_stars(backend: Backend, make_client: Any) -> None:
    """Album lists and searches are kept for every player (the page cache); each answer has
    the stars of the player asking, in either format."""
    harness, catalog, ada = await _setup(backend, make_client)
    bo = await player(harness, "bo@example.com", "Bo")
    album = str(catalog.albums["Harbour Lights"])
    night = str(catalog.tracks["The Lanterns - Night Drive"])
    await ok(harness, "star", ada, albumId=album, id=night)

    def stars(items: list[dict[str, Any]]) -> dict[str, bool]:
        return {item["id"]: bool(item.get("starred")) for item in items}

    for _ in range(2):  # read, then kept
        mine = (await ok(harness, "getAlbumList2", ada, type="newest", size=500))["albumList2"]
        assert stars(mine["album"])[album] is True
        assert sum(stars(mine["album"]).values()) == 1
        theirs = (await ok(harness, "getAlbumList2", bo, type="newest", size=500))["albumList2"]
        assert not any(stars(theirs["album"]).values())
        found = (await ok(harness, "search3", ada, query="night", songCount=20))["searchResult3"]
        assert stars(found["song"])[night] is True
        found = (await ok(harness, "search3", bo, query="night", songCount=20))["searchResult3"]
        assert not any(stars(found["song"]).values())
    as_xml = await call(
        harness, "getAlbumList2", {**bo.auth(), "type": "newest", "size": 500}, fmt="xml"
    )
    assert not [a for a in as_xml.iter(f"{NS}album") if a.get("starred")]
    as_xml = await call(
        harness, "getAlbumList2", {**ada.auth(), "type": "newest", "size": 500}, fmt="xml"
    )
    assert [a.get("id") for a in as_xml.iter(f"{NS}album") if a.get("starred")] == [album]

    # A player's cache-busting parameter names the same kept answer: the catalog's version and
    # the player's stars are all that is read.
    with statements_run(harness.app) as statements:
        busted = await ok(harness, "getAlbumList2", ada, type="newest", size=500, _="1733300000")
    assert busted["albumList2"] == mine
    assert len(statements) == 2, statements

    await ok(harness, "unstar", ada, albumId=album)
    mine = (await ok(harness, "getAlbumList2", ada, type="newest", size=500))["albumList2"]
    assert not any(stars(mine["album"]).values())
