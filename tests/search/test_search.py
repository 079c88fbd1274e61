"""Search as a listener types: accent- and case-blind, prefixes, every word in any field,
punctuation as typed, ranked, only what is visible and at once, hostile queries refused or
answered (never a 500). On both backends; typos on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select, text, update

from empulse.core.db import session_scope, utcnow
from empulse.models import Artist, Track, User
from empulse.search import frequency
from empulse.services import Services
from tests.conftest import Backend, Harness
from tests.playlists.helpers import listener, new_playlist
from tests.search.helpers import names, search, write_catalog
from tests.web.test_problems import assert_problem


@pytest.fixture
async def harness(backend: Backend, make_client: Any) -> Harness:
    started: Harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    return started


async def test_accents_case_prefixes_and_words_in_any_field(harness: Harness) -> None:
    await write_catalog(harness)
    for query, kind, expected in (
        # Accent- and case-blind, both ways, also for letters that are not accented forms.
        ("beyonce", "artists", ["Beyoncé"]),
        ("BEYONCÉ", "artists", ["Beyoncé"]),
        ("Sigur Ros", "artists", ["Sigur Rós"]),
        ("sigur rós", "artists", ["Sigur Rós"]),
        ("royksopp", "artists", ["Røyksopp"]),
        ("strassenbahn lodz", "artists", ["Straßenbahn Łódź"]),
        ("aero", "albums", ["Ærø"]),
        ("oresund", "tracks", ["Øresund"]),
        ("agaetis", "albums", ["Ágætis byrjun"]),
        # As you type.
        ("lant", "artists", ["The Lanterns"]),
        ("svefn", "tracks", ["Svefn-g-englar"]),
        # Punctuation as typed, and without it.
        ("AC/DC", "artists", ["AC/DC"]),
        ("acdc", "artists", ["AC/DC"]),
        ("R.E.M.", "artists", ["R.E.M."]),
        ("rem", "artists", ["R.E.M."]),
        ("a-ha", "artists", ["a-ha"]),
        ("P!nk", "artists", ["P!nk"]),
        ("Guns N' Roses", "artists", ["Guns N' Roses"]),
        ("guns n roses", "artists", ["Guns N' Roses"]),
        # Other scripts, by exact word.
        ("夜のドライブ", "tracks", ["夜のドライブ"]),
        ("ночной город", "tracks", ["Ночной город"]),
        ("Νυχτερινός", "tracks", ["Νυχτερινός δρόμος"]),
        ("ليلة طويلة", "tracks", ["ليلة طويلة"]),
    ):
        answer = await search(harness, query, type=kind.removesuffix("s"))
        assert answer.status_code == 200, (query, answer.text)
        assert names(answer.json(), kind) == expected, query

    # Every word has to match, each in any field: "Night Drive" by The Lanterns, "Lanterns"
    # by Night Owls.
    both = (await search(harness, "lanterns night", type="track")).json()
    found = {(t["title"], t["artist"]["name"]) for t in both["tracks"]["items"]}
    assert found == {("Night Drive", "The Lanterns"), ("Lanterns", "Night Owls")}
    assert names((await search(harness, "lanterns nowhere", type="track")).json(), "tracks") == []


async def test_ranking_exact_then_title_then_artist_then_popularity(harness: Harness) -> None:
    await write_catalog(harness)
    found = (await search(harness, "lanterns", type="track")).json()
    titles = [(t["title"], t["artist"]["name"]) for t in found["tracks"]["items"]]
    # Titles equal to the query first (the more played first), then the rest by how the
    # words match (a title beats an artist's name), then plays.
    assert titles[:2] == [("Lanterns", "The Lanterns"), ("Lanterns", "Night Owls")]
    assert set(titles[2:]) == {("Lantern Song", "The Lanterns"), ("Night Drive", "The Lanterns")}
    assert titles[2:] == [("Lantern Song", "The Lanterns"), ("Night Drive", "The Lanterns")]
    again = (await search(harness, "lanterns", type="track")).json()
    assert again == found  # deterministic

    # Paged by cursor, the pages continue the order; a cursor of another query is a 400.
    first = (await search(harness, "lanterns", type="track", limit=3)).json()
    cursor = first["tracks"]["nextCursor"]
    second = (await search(harness, "lanterns", limit=3, cursor=cursor)).json()
    assert [t["title"] for t in first["tracks"]["items"] + second["tracks"]["items"]] == [
        t for t, _ in titles
    ]
    assert second["artists"] is None
    assert second["tracks"]["nextCursor"] is None
    other = await search(harness, "night", cursor=cursor)
    assert_problem(other, 400, "invalid_cursor")
    assert_problem(await search(harness, "night", cursor="x" * 20), 400, "invalid_cursor")


async def test_a_whole_word_before_a_prefix_before_other_fields_whatever_the_plays(
    harness: Harness,
) -> None:
    catalog = await write_catalog(harness)
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        # The prefix match and the album-only match far more played than the whole word.
        for name, plays in (("R.E.M. - Nightswimming", 50), ("Night Owls - Lanterns", 90)):
            await session.execute(
                update(Track)
                .where(Track.id == catalog.tracks[name])
                .values(play_count=plays, popularity=plays)
            )
    tracks = (await search(harness, "night", type="track")).json()["tracks"]["items"]
    # "Night" a whole word of the title; then as a prefix of it; then in the artist's name
    # (the more played first).
    assert [(t["title"], t["artist"]["name"]) for t in tracks] == [
        ("Night Drive", "The Lanterns"),
        ("Nightswimming", "R.E.M."),
        ("Lanterns", "Night Owls"),
        ("Drive", "Night Owls"),
    ]
    # Words in the artist's name and the album's title: those tracks only, by plays.
    wider = (await search(harness, "lanterns harbour", type="track")).json()["tracks"]["items"]
    assert [t["title"] for t in wider] == ["Lantern Song", "Night Drive", "Lanterns"]


async def test_a_frequent_word_pages_in_order_however_it_is_read(
    harness: Harness, backend: Backend
) -> None:
    """On PostgreSQL a word in most titles is read by walking the tracks in popularity order
    (chosen by the planner's statistics), and its later pages from the full-text index when
    the walk runs out: the pages are the same as the rule says, and hide the same tracks."""
    await write_catalog(
        harness,
        {
            "Echo Chamber": {"Echoes": [(f"Echo {n}", n) for n in range(1, 61)]},
            "Quiet": {"Stone": [(f"Echo Valley {n}", 100 + n) for n in range(1, 61)]},
            "Gone": {"Away": [("Echo Gone", 1000)]},
        },
    )
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        gone = await session.scalar(select(Artist.user_id).where(Artist.name == "Gone"))
        await session.execute(update(User).where(User.id == gone).values(disabled_at=utcnow()))
        await session.execute(
            update(Track).where(Track.title == "Echo 7").values(status="taken_down")
        )
    if backend.name == "services":
        async with services.engine.connect() as connection:
            await connection.execute(text("ANALYZE tracks"))
            await connection.commit()
        frequency.forget()
    # What the database is sent, as its driver sends it (a search's statements run on the
    # driver's connection, past SQLAlchemy's execution events).
    statements: list[str] = []
    loggers: list[Any] = []

    def record(query: Any) -> None:
        statements.append(query.query)

    def log_queries(dbapi_connection: Any, *_: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and hasattr(driver, "add_query_logger"):
            driver.add_query_logger(record)
            loggers.append(driver)

    event.listen(services.engine.sync_engine, "checkout", log_queries)
    try:
        titles: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"type": "track", "limit": 50}
            if cursor:
                params["cursor"] = cursor
            page = (await search(harness, "echo", **params)).json()["tracks"]
            titles += [t["title"] for t in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
    finally:
        event.remove(services.engine.sync_engine, "checkout", log_queries)
        for driver in loggers:
            driver.remove_query_logger(record)
    expected = [f"Echo Valley {n}" for n in range(60, 0, -1)]
    expected += [f"Echo {n}" for n in range(60, 0, -1) if n != 7]
    assert titles == expected
    walked = any("coalesce(tracks.search_vector" in statement for statement in statements)
    assert walked == (backend.name == "services")


async def test_housekeeping_keeps_sqlite_statistics(embedded: Backend, make_client: Any) -> None:
    """SQLite's planner needs statistics to look a search's few matches up by key rather than
    walk an index past every row; the hourly housekeeping keeps them (search/tasks.py)."""
    harness: Harness = await make_client(embedded, RATE_LIMITS_ENABLED="false")
    await write_catalog(harness)
    services: Services = harness.app.state.services
    await services.job_runner.prune()
    async with services.engine.connect() as connection:
        analysed = await connection.scalar(
            text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'tracks'")
        )
    assert analysed


async def test_only_what_a_listener_may_see_and_changes_show_at_once(harness: Harness) -> None:
    catalog = await write_catalog(harness)
    services: Services = harness.app.state.services
    everything = (await search(harness, "night")).json()
    assert "Night Drive" in names(everything, "tracks")
    assert "Night Owls" in names(everything, "artists")

    night_drive = catalog.tracks["The Lanterns - Night Drive"]
    async with session_scope(services.sessionmaker) as session:
        await session.execute(
            update(Track).where(Track.id == night_drive).values(status="taken_down")
        )
    assert "Night Drive" not in names((await search(harness, "night")).json(), "tracks")
    async with session_scope(services.sessionmaker) as session:
        await session.execute(
            update(Track).where(Track.id == night_drive).values(status="published")
        )
        await session.execute(
            update(Track).where(Track.id == night_drive).values(title="Midnight Drive")
        )
    renamed = (await search(harness, "midnight", type="track")).json()
    assert names(renamed, "tracks") == ["Midnight Drive"]

    # An artist's rename re-indexes their releases; a disabled account hides them.
    owls = catalog.artists["Night Owls"]
    async with session_scope(services.sessionmaker) as session:
        await session.execute(update(Artist).where(Artist.id == owls).values(name="Day Larks"))
    larks = names((await search(harness, "larks", type="track")).json(), "tracks")
    assert sorted(larks) == ["Drive", "Lanterns"]
    assert "Night Owls" not in names((await search(harness, "night")).json(), "artists")
    async with session_scope(services.sessionmaker) as session:
        user_id = await session.scalar(select(Artist.user_id).where(Artist.id == owls))
        await session.execute(
            update(User).where(User.id == user_id).values(disabled_at=User.created_at)
        )
    assert names((await search(harness, "larks")).json(), "artists") == []
    assert names((await search(harness, "larks")).json(), "tracks") == []


HOSTILE = [
    '"',
    '"unbalanced',
    "lant*",
    "night NEAR drive",
    "night AND drive",
    "-night",
    "^night",
    "night OR (",
    "col:night",
    "a" * 200,
    "\x01night\x7f",
    "'; DROP TABLE tracks; --",
    "%_%",
    "\U00101437\x97",
    "\u2764\ufe0f",
    "\U0001f3b8 drive",
]


async def test_hostile_queries_get_results_or_a_400(harness: Harness) -> None:
    """Search syntax of either database, injection attempts, control characters, symbols
    alone: each is text, answered or refused, never a 500."""
    await write_catalog(harness)
    for query in HOSTILE:
        answer = await search(harness, query)
        assert answer.status_code in (200, 400), (query, answer.text)
        if answer.status_code == 400:
            assert_problem(answer, 400, "invalid_query")
    drive = (await search(harness, '"drive', type="track")).json()
    assert "Night Drive" in names(drive, "tracks")


async def test_queries_are_bounded_before_the_database(harness: Harness) -> None:
    for query in ("", "   ", "!!!", " ".join(["word"] * 1_000), "x" * 10_000):
        assert_problem(await search(harness, query), 400, "invalid_query")
    assert_problem(await search(harness, "night", type="song"), 422, "validation_failed")
    night = await search(harness, "night", type="track,album")
    assert night.status_code == 200
    assert night.json()["artists"] is None
    assert night.headers["cache-control"].startswith("public")


async def test_typos_are_forgiven_on_postgresql_only(harness: Harness, backend: Backend) -> None:
    """PostgreSQL (pg_trgm): when nothing matches as typed, words of four letters or more
    match the words they resemble. SQLite's FTS5 has no typo tolerance (README)."""
    await write_catalog(harness)
    artists = names((await search(harness, "lantrens", type="artist")).json(), "artists")
    tracks = names((await search(harness, "nigth drive", type="track")).json(), "tracks")
    if backend.name == "services":
        assert artists == ["The Lanterns"]
        assert "Night Drive" in tracks
        # A typo's results page on like any others.
        first = (await search(harness, "lantrens", type="track", limit=2)).json()["tracks"]
        rest = (
            await search(harness, "lantrens", type="track", limit=2, cursor=first["nextCursor"])
        ).json()["tracks"]
        everything = names((await search(harness, "lantrens", type="track")).json(), "tracks")
        assert [t["title"] for t in first["items"] + rest["items"]] == everything
        assert everything == ["Lantern Song", "Lanterns", "Lanterns", "Night Drive"]
        assert rest["nextCursor"] is None
    else:
        assert (artists, tracks) == ([], [])
    # Short words are never guessed at.
    assert names((await search(harness, "ngt", type="track")).json(), "tracks") == []


async def test_public_playlists_and_the_callers_own(harness: Harness) -> None:
    await write_catalog(harness)
    ada = await listener(harness, "ada@example.com", "Ada")
    bo = await listener(harness, "bo@example.com", "Bo")
    await new_playlist(harness, ada, name="Night Drives Forever")
    await new_playlist(harness, ada, name="Night Secrets", public=False)

    anonymous = (await search(harness, "night", type="playlist")).json()
    assert names(anonymous, "playlists") == ["Night Drives Forever"]
    mine = (await harness.client.get("/api/v1/search", params={"q": "night"}, headers=ada)).json()
    assert sorted(names(mine, "playlists")) == ["Night Drives Forever", "Night Secrets"]
    assert mine["tracks"]["items"][0]["liked"] is False  # signed in: the catalog's `liked`
    theirs = await harness.client.get("/api/v1/search", params={"q": "secrets"}, headers=bo)
    assert names(theirs.json(), "playlists") == []
    assert theirs.headers["cache-control"] == "private, no-cache"
