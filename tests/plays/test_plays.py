"""Players report plays; each counts once, only when qualified, and the counts are exact."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from empulse.core.db import session_scope
from empulse.infra.jobs import Pass
from empulse.models import Album, Artist, Play, User
from empulse.models.play import LONGEST_PLAY_MS
from empulse.plays import tasks as plays_tasks
from tests.artists.helpers import admin_headers, approved_artist
from tests.auth.helpers import PASSWORD, bearer, signed_in
from tests.catalog.helpers import all_pages, kept_pages_expire, published_ep
from tests.conftest import Backend, Harness
from tests.submissions.helpers import SINGLE, approve, ep_files, ep_payload, submit
from tests.support import media
from tests.support.transactions import until_waiting
from tests.web.test_problems import assert_problem


async def listener(harness: Harness, email: str = "listener@example.com") -> dict[str, str]:
    headers = bearer(await signed_in(harness, email))
    harness.client.cookies.clear()
    return headers


def play(
    ms: int, started: datetime | None = None, play_id: uuid.UUID | None = None
) -> dict[str, Any]:
    moment = started or datetime.now(UTC) - timedelta(minutes=30)
    return {
        "playId": str(play_id or uuid.uuid4()),
        "startedAt": moment.isoformat().replace("+00:00", "Z"),
        "msPlayed": ms,
    }


async def post(harness: Harness, track_id: str, body: dict[str, Any], me: dict[str, str]) -> Any:
    return await harness.client.post(f"/api/v1/tracks/{track_id}/plays", json=body, headers=me)


async def count_of(harness: Harness, track_id: str) -> int:
    """The track's count once the job runner has folded the plays recorded so far into the
    counters (it does every few seconds; here at once) and a kept page of the track expired."""
    await harness.app.state.services.job_runner.run_frequent()
    kept_pages_expire(harness)
    track = await harness.client.get(f"/api/v1/tracks/{track_id}")
    return int(track.json()["playCount"])


async def test_a_play_counts_once_and_only_when_qualified(media_harness: Harness) -> None:
    """The published EP's tracks last one second: a whole play of a short track counts."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks", sort="popular"))[-1]
    duration = track["durationMs"]
    me = await listener(harness)
    start = datetime.now(UTC) - timedelta(hours=2)

    whole = await post(harness, track["id"], play(duration, start), me)
    assert whole.status_code == 201, whole.text
    assert (whole.json()["qualified"], whole.json()["reason"]) == (True, None)
    again = await post(
        harness, track["id"], {**play(duration, start), "playId": whole.json()["playId"]}, me
    )
    assert again.status_code == 200
    assert again.json() == whole.json()

    short = await post(harness, track["id"], play(duration - 200, start + timedelta(minutes=5)), me)
    assert (short.status_code, short.json()["qualified"], short.json()["reason"]) == (
        201,
        False,
        "too_short",
    )
    overlapping = await post(
        harness, track["id"], play(duration, start + timedelta(milliseconds=10)), me
    )
    assert (overlapping.json()["qualified"], overlapping.json()["reason"]) == (False, "overlapping")
    assert await count_of(harness, track["id"]) == 1

    # Another listener's play counts too; the counts are per track.
    other = await listener(harness, "other@example.com")
    assert (await post(harness, track["id"], play(duration, start), other)).json()["qualified"]
    assert await count_of(harness, track["id"]) == 2

    # The popular order follows the counts at the next popularity pass (every minute; here at
    # once): until then the track is still the last.
    popular = await all_pages(harness.client, "/api/v1/tracks", sort="popular")
    assert popular[-1]["id"] == track["id"]
    assert await harness.app.state.services.job_runner.run_passes() == 2  # the track, its album
    kept_pages_expire(harness)
    popular = await all_pages(harness.client, "/api/v1/tracks", sort="popular")
    assert [popular[0]["id"], popular[0]["playCount"]] == [track["id"], 2]


async def test_concurrent_repeats_and_devices_count_once(media_harness: Harness) -> None:
    """Twenty concurrent repeats of one report count once; then ten devices of the account
    report plays of the same moments at the same time: one counts, every other is recorded as
    overlapping it, whichever order they arrive in."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    me = await listener(harness)
    body = play(track["durationMs"])
    answers = await asyncio.gather(*(post(harness, track["id"], body, me) for _ in range(20)))
    assert sorted(answer.status_code for answer in answers) == [200] * 19 + [201], [
        (a.status_code, a.text[:200]) for a in answers
    ]
    assert {answer.json()["qualified"] for answer in answers} == {True}
    assert await count_of(harness, track["id"]) == 1

    start = datetime.now(UTC) - timedelta(hours=1)
    bodies = [play(track["durationMs"], start + timedelta(milliseconds=n)) for n in range(10)]
    answers = await asyncio.gather(*(post(harness, track["id"], body, me) for body in bodies))
    assert [answer.status_code for answer in answers] == [201] * 10
    decided = sorted((a.json()["qualified"], a.json()["reason"] or "") for a in answers)
    assert decided == [(False, "overlapping")] * 9 + [(True, "")]
    assert await count_of(harness, track["id"]) == 2


async def test_devices_decided_together_still_count_once(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """PostgreSQL, three server processes on one database: the ledger is locked against writes
    while ten devices report plays of the same moments through them, so each process's first
    statement has read the listener's plays before any of them can write (the others wait in
    their process, and go together next): only the listener's lock, taken before those reads,
    makes the later ones see the first."""
    harness = await make_client(backend_services)
    processes = [harness] + [await make_client(backend_services) for _ in range(2)]
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    me = await listener(harness)
    start = datetime.now(UTC) - timedelta(hours=1)
    bodies = [play(track["durationMs"], start + timedelta(milliseconds=n)) for n in range(10)]
    engine = harness.app.state.services.engine
    async with engine.connect() as holder:
        await holder.execute(text("LOCK TABLE plays IN SHARE MODE"))
        posts = [
            asyncio.create_task(post(processes[n % 3], track["id"], body, me))
            for n, body in enumerate(bodies)
        ]
        await until_waiting(engine, 3)
        await holder.rollback()
    answers = await asyncio.gather(*posts)
    decided = sorted((a.json()["qualified"], a.json()["reason"] or "") for a in answers)
    assert decided == [(False, "overlapping")] * 9 + [(True, "")]


async def test_a_play_of_an_account_deleted_meanwhile_is_refused(media_harness: Harness) -> None:
    """The account is gone while its access token still passes (another process's session
    cache may hold it live for a few seconds): the play and a batch are a 401, and nothing is
    recorded."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    me = await listener(harness, "leaving@example.com")
    assert (await post(harness, track["id"], play(track["durationMs"]), me)).status_code == 201
    services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        # As another process deletes it: this one's session cache still holds the session.
        await session.execute(delete(User).where(User.email == "leaving@example.com"))

    late = play(track["durationMs"], datetime.now(UTC) - timedelta(minutes=5))
    assert_problem(await post(harness, track["id"], late, me), 401, "not_authenticated")
    batch = await harness.client.post(
        "/api/v1/users/me/plays", json={"plays": [{**late, "trackId": track["id"]}]}, headers=me
    )
    assert_problem(batch, 401, "not_authenticated")
    async with session_scope(services.sessionmaker) as session:
        recorded = await session.scalar(
            select(func.count()).select_from(Play).where(Play.play_id == uuid.UUID(late["playId"]))
        )
    assert recorded == 0


async def test_plays_are_counted_once_however_many_runners_fold_them(
    media_harness: Harness,
) -> None:
    """The counters are kept by the job runner, not by the play's request: several runners
    folding at once (each process has one) count every qualified play exactly once, and the
    track's album and artist with it."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    listeners = [await listener(harness, f"listener{n}@example.com") for n in range(2)]
    for me in listeners:
        for minutes in (30, 20, 10):
            started = datetime.now(UTC) - timedelta(minutes=minutes)
            body = play(track["durationMs"], started)
            assert (await post(harness, track["id"], body, me)).status_code == 201
    short = play(1)  # not qualified: never counted
    assert (await post(harness, track["id"], short, listeners[0])).status_code == 201
    runner = harness.app.state.services.job_runner
    await asyncio.gather(*(runner.run_frequent() for _ in range(4)))
    assert await count_of(harness, track["id"]) == 6
    services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        album = await session.get(Album, uuid.UUID(track["album"]["id"]))
        artist = await session.get(Artist, uuid.UUID(track["artist"]["id"]))
        assert album is not None
        assert artist is not None
        assert (album.play_count, artist.play_count) == (6, 6)
    assert await runner.run_frequent() == 0  # nothing left to count


async def test_the_popularity_pass_goes_in_steps_and_never_waits_for_a_fold(
    media_harness: Harness, media_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass copies the counts a step (a transaction) at a time, tracks then albums, only
    the rows whose count moved. On PostgreSQL a row that a fold holds locked is left for the
    next pass: the pass does not wait for it."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    tracks = await all_pages(harness.client, "/api/v1/tracks")
    me = await listener(harness)
    for minutes, track in zip((30, 20), tracks, strict=True):
        started = datetime.now(UTC) - timedelta(minutes=minutes)
        assert (await post(harness, track["id"], play(1000, started), me)).status_code == 201
    services = harness.app.state.services
    runner = services.job_runner
    await runner.run_frequent()
    monkeypatch.setattr(plays_tasks, "POPULARITY_STEP", 1)
    steps: list[Any] = []
    step = runner.passes["popularity"].step

    async def counted_step(*arguments: Any) -> tuple[int, Any]:
        steps.append(arguments[-1])
        result: tuple[int, Any] = await step(*arguments)
        return result

    monkeypatch.setitem(runner.passes, "popularity", Pass(counted_step, every=60.0))
    assert await runner.run_passes() == 3  # two tracks and their album
    assert [cursor[0] if cursor else None for cursor in steps] == [
        None,
        "tracks",
        "tracks",
        "albums",
        "albums",
    ]
    assert await runner.run_passes() == 0  # nothing moved since
    assert await runner.run_passes(due_only=True) == 0  # and not due for a minute

    if media_backend.postgres_url is None:
        return
    started = datetime.now(UTC) - timedelta(minutes=10)
    assert (await post(harness, tracks[0]["id"], play(1000, started), me)).status_code == 201
    await runner.run_frequent()
    async with services.engine.connect() as fold:
        await fold.execute(
            text("SELECT id FROM tracks WHERE id = :id FOR NO KEY UPDATE"),
            {"id": uuid.UUID(tracks[0]["id"])},
        )
        assert await asyncio.wait_for(runner.run_passes(), timeout=30) == 1  # the album only
        await fold.rollback()
    assert await runner.run_passes() == 1  # the track, at the next pass
    kept_pages_expire(harness)
    popular = await all_pages(harness.client, "/api/v1/tracks", sort="popular")
    assert [track["id"] for track in popular] == [tracks[0]["id"], tracks[1]["id"]]


async def test_impossible_plays_are_refused(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    me = await listener(harness)
    now = datetime.now(UTC)
    for body in (
        play(track["durationMs"] + 60_000),
        play(1000, now + timedelta(hours=1)),
        play(1000, now - timedelta(days=15)),
        {**play(1000), "startedAt": "2026-12-01T10:00:00"},
        # The ends of the calendar (date arithmetic on them overflows).
        {**play(1000), "startedAt": "0001-01-01T00:00:00Z"},
        {**play(86_400_000), "startedAt": "9999-12-31T23:59:59Z"},
        {**play(1000), "msPlayed": -1},
        {**play(1000), "playId": "not-a-uuid"},
    ):
        assert_problem(await post(harness, track["id"], body, me), 422, "validation_failed")
    assert_problem(await post(harness, str(uuid.uuid4()), play(1000), me), 404, "not_found")
    assert_problem(
        await harness.client.post(f"/api/v1/tracks/{track['id']}/plays", json=play(1000)),
        401,
        "not_authenticated",
    )
    assert await count_of(harness, track["id"]) == 0


async def test_history_recent_tracks_clearing_and_export(
    backend: Backend, make_client: Any
) -> None:
    harness: Harness = await make_client(backend)
    await published_ep(harness, tracks=2)
    tracks = await all_pages(harness.client, "/api/v1/tracks")
    me = await listener(harness)
    start = datetime.now(UTC) - timedelta(hours=3)
    for minutes, track in ((0, tracks[0]), (10, tracks[1]), (20, tracks[0])):
        answer = await post(
            harness, track["id"], play(track["durationMs"], start + timedelta(minutes=minutes)), me
        )
        assert answer.status_code == 201

    history = await harness.client.get("/api/v1/users/me/plays", params={"limit": 2}, headers=me)
    first = history.json()
    assert [entry["track"]["id"] for entry in first["items"]] == [tracks[0]["id"], tracks[1]["id"]]
    rest = await harness.client.get(
        "/api/v1/users/me/plays", params={"cursor": first["nextCursor"]}, headers=me
    )
    assert len(rest.json()["items"]) == 1
    recent = await harness.client.get("/api/v1/users/me/recently-played", headers=me)
    assert [entry["track"]["id"] for entry in recent.json()] == [tracks[0]["id"], tracks[1]["id"]]

    exported = await harness.client.get("/api/v1/users/me/export", headers=me)
    assert len(exported.json()["plays"]) == 3

    cleared = await harness.client.delete("/api/v1/users/me/plays", headers=me)
    assert cleared.status_code == 204
    assert (await harness.client.get("/api/v1/users/me/plays", headers=me)).json()["items"] == []
    assert (await harness.client.get("/api/v1/users/me/recently-played", headers=me)).json() == []
    # The artists' counts stay.
    assert await count_of(harness, tracks[0]["id"]) == 2
    assert await count_of(harness, tracks[1]["id"]) == 1

    deleted = await harness.client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=me
    )
    assert deleted.status_code == 204
    assert await count_of(harness, tracks[0]["id"]) == 2


async def test_thirty_seconds_is_the_edge_of_a_counted_play(
    backend: Backend, make_client: Any
) -> None:
    """The royalty rule at its edge, on a 31-second track: 29.9 s does not count, 30 s does."""
    harness: Harness = await make_client(backend)
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    files = [
        ("audioFile", ("long.flac", media.encoded("flac", "flac", seconds=31.0), "audio/flac")),
        ("coverArtFile", ("cover.png", media.cover_png(), "image/png")),
    ]
    created = await submit(harness, artist, SINGLE, files)
    assert created.status_code == 201, created.text
    approved = await approve(harness, created.json()["id"], admin)
    assert approved.status_code == 200, approved.text
    harness.client.cookies.clear()
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    me = await listener(harness)
    start = datetime.now(UTC) - timedelta(hours=5)

    short = await post(harness, track_id, play(29_900, start), me)
    assert (short.json()["qualified"], short.json()["reason"]) == (False, "too_short")
    enough = await post(harness, track_id, play(30_000, start + timedelta(minutes=10)), me)
    assert (enough.json()["qualified"], enough.json()["reason"]) == (True, None)
    assert await count_of(harness, track_id) == 1


async def test_an_offline_player_reports_a_batch(media_harness: Harness) -> None:
    harness = media_harness
    await published_ep(harness, tracks=2)
    tracks = await all_pages(harness.client, "/api/v1/tracks")
    me = await listener(harness)
    start = datetime.now(UTC) - timedelta(days=2)
    first = {
        **play(tracks[0]["durationMs"], start + timedelta(minutes=5)),
        "trackId": tracks[0]["id"],
    }
    earlier = {**play(tracks[1]["durationMs"], start), "trackId": tracks[1]["id"]}
    overlapping = {
        **play(tracks[1]["durationMs"], start + timedelta(minutes=5)),
        "trackId": tracks[1]["id"],
    }
    unknown = {**play(1000, start + timedelta(hours=1)), "trackId": str(uuid.uuid4())}
    impossible = {**play(10_000_000, start + timedelta(hours=2)), "trackId": tracks[0]["id"]}
    body = {"plays": [first, earlier, overlapping, unknown, impossible, first]}
    answer = await harness.client.post("/api/v1/users/me/plays", json=body, headers=me)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["playId"] for r in results] == [p["playId"] for p in body["plays"]]
    assert [r["status"] for r in results] == [201, 201, 201, 404, 422, 200]
    assert results[0]["play"]["qualified"]
    assert results[1]["play"]["qualified"]
    assert results[2]["play"]["reason"] == "overlapping"  # judged after the one it overlaps
    assert results[4]["error"]["code"] == "validation_failed"
    assert await count_of(harness, tracks[0]["id"]) == 1
    assert await count_of(harness, tracks[1]["id"]) == 1

    # Repeating the batch changes nothing.
    again = await harness.client.post("/api/v1/users/me/plays", json=body, headers=me)
    assert [r["status"] for r in again.json()["results"]] == [200, 200, 200, 404, 422, 200]
    assert await count_of(harness, tracks[0]["id"]) == 1
    too_many = {"plays": [first] * 51}
    assert_problem(
        await harness.client.post("/api/v1/users/me/plays", json=too_many, headers=me),
        422,
        "validation_failed",
    )


BATCH_PLAY = (
    '{"trackId": "3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c", '
    '"playId": "5b0e8a52-7c1f-4d8e-9a3b-2f6c1d0e9a77", '
    '"startedAt": "2026-12-04T08:15:00Z", "msPlayed": 1000'
)


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        ('{"plays": [' + BATCH_PLAY.replace('"3f1c', '"x3f1c') + "}]}", "plays.0.trackId", "uuid"),
        ('{"plays": [' + BATCH_PLAY + ', "msPlayed": -1}]}', "plays.0.msPlayed", "greater"),
        ('{"plays": [' + BATCH_PLAY + "}]", "", "json_invalid"),
        ("", "", "json_invalid"),
        ('{"plays": ' + "[" * 5000 + "]" * 5000 + "}", "", "json_invalid"),
        ('{"plays": [' + BATCH_PLAY + '}], "x\\u0000": 1}', "x\u0000", "extra"),
        ('{"plays": [' + BATCH_PLAY + ', "source": {"type": "radio\\u0000"}}]}', "", "literal"),
        ('{"plays": [' + BATCH_PLAY + ', "playId": "a\u0000b"}]}', "", "json_invalid"),
    ],
)
async def test_a_batch_that_cannot_be_read_is_a_422_naming_the_field(
    backend: Backend, make_client: Callable[..., Any], body: str, field: str, kind: str
) -> None:
    """The batch's body is validated from its bytes (web/json_body.py): a malformed one, one
    nested past the parser's depth, or one carrying a NUL is the same 422 problem as any other
    body's, on every backend, never a 500."""
    harness = await make_client(backend)
    me = await listener(harness)
    headers = {**me, "content-type": "application/json"}
    response = await harness.client.post("/api/v1/users/me/plays", content=body, headers=headers)
    problem = assert_problem(response, 422, "validation_failed")
    [error] = problem["errors"]
    assert error["in"] == "body"
    assert kind in error["type"]
    if field:
        assert error["field"] == field
    assert "\x00" not in response.text


async def test_a_batch_judges_each_play_against_those_that_started_before_it(
    media_harness: Harness,
) -> None:
    """Sent in any order, a batch's plays are decided by their starts: each against the plays
    recorded before the batch and against the batch's own, counted or not. A play that starts
    the moment another ends does not overlap it."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    me = await listener(harness)
    length = track["durationMs"]
    half = timedelta(milliseconds=length // 2)
    whole = timedelta(milliseconds=length)
    before = datetime.now(UTC) - timedelta(days=1)
    assert (await post(harness, track["id"], play(length, before), me)).status_code == 201
    later = before + timedelta(minutes=10)
    first = play(length, later)
    during_first = play(length, later + half)  # overlaps `first`
    after_both = play(length, later + half + whole)  # starts as `during_first` ends
    during_earlier = play(length, before + half)  # overlaps the play posted before
    sent = [after_both, during_earlier, during_first, first]
    answer = await harness.client.post(
        "/api/v1/users/me/plays",
        json={"plays": [{**body, "trackId": track["id"]} for body in sent]},
        headers=me,
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201] * 4
    decided = [(r["play"]["qualified"], r["play"]["reason"]) for r in results]
    assert decided == [(True, None), (False, "overlapping"), (False, "overlapping"), (True, None)]
    assert await count_of(harness, track["id"]) == 3


async def test_a_play_inside_the_longest_play_there_can_be_overlaps_it(
    media_harness: Harness,
) -> None:
    """The overlap check reads only the plays that end less than the longest play (24 hours)
    after the new one ends: a play of almost that length, which ended an hour ago and started
    the day before, still overlaps a play reported from its middle, in a batch or alone."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    me = await listener(harness)
    services = harness.app.state.services
    now = datetime.now(UTC)
    async with session_scope(services.sessionmaker) as session:
        user_id = await session.scalar(select(User.id).where(User.email == "listener@example.com"))
        # As a long-form track's play, recorded earlier (the test's tracks last seconds).
        session.add(
            Play(
                user_id=user_id,
                play_id=uuid.uuid4(),
                track_id=uuid.UUID(track["id"]),
                started_at=now - timedelta(hours=23, minutes=59),
                ended_at=now - timedelta(hours=1),
                ms_played=(23 * 60 - 1) * 60_000,
                qualified=True,
            )
        )
    inside = play(track["durationMs"], now - timedelta(hours=22))
    answer = await post(harness, track["id"], inside, me)
    assert (answer.status_code, answer.json()["reason"]) == (201, "overlapping"), answer.text
    batch = await harness.client.post(
        "/api/v1/users/me/plays",
        json={
            "plays": [
                {**play(track["durationMs"], now - timedelta(hours=20)), "trackId": track["id"]}
            ]
        },
        headers=me,
    )
    assert batch.json()["results"][0]["play"]["reason"] == "overlapping", batch.text


async def test_the_ledger_holds_no_play_longer_than_the_longest(media_harness: Harness) -> None:
    """The overlap check's bound is the ledger's own rule, not only the API's validation: a row
    longer than the longest play, however written, is refused by the database."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    await listener(harness)
    now = datetime.now(UTC)
    for ms in (LONGEST_PLAY_MS, LONGEST_PLAY_MS + 1, -1):
        row = Play(
            play_id=uuid.uuid4(),
            track_id=uuid.UUID(track["id"]),
            started_at=now - timedelta(days=2),
            ended_at=now - timedelta(days=2) + timedelta(milliseconds=ms),
            ms_played=ms,
            qualified=False,
        )
        if ms == LONGEST_PLAY_MS:
            async with session_scope(harness.app.state.services.sessionmaker) as session:
                session.add(row)
            continue
        with pytest.raises(IntegrityError):
            async with session_scope(harness.app.state.services.sessionmaker) as session:
                session.add(row)


async def test_the_ledger_keys_are_ordered_by_the_time_they_were_written(
    media_harness: Harness,
) -> None:
    """Each new row's key is a UUID of version 7 holding the moment it was written (in
    milliseconds), on both backends: the ledger's key grows with time, so new rows go to its
    index's end, and a later request's rows never sort before an earlier one's."""
    harness = media_harness
    await published_ep(harness, tracks=2)
    track = (await all_pages(harness.client, "/api/v1/tracks"))[0]
    me = await listener(harness)
    start = datetime.now(UTC) - timedelta(hours=2)
    before = datetime.now(UTC)
    first = await post(harness, track["id"], play(track["durationMs"], start), me)
    second = await harness.client.post(
        "/api/v1/users/me/plays",
        json={
            "plays": [
                {"trackId": track["id"], **play(track["durationMs"], start + timedelta(minutes=m))}
                for m in (1, 2)
            ]
        },
        headers=me,
    )
    after = datetime.now(UTC)
    statuses = [first.status_code] + [r["status"] for r in second.json()["results"]]
    assert statuses == [201, 201, 201], second.text
    async with session_scope(harness.app.state.services.sessionmaker) as session:
        rows = (await session.execute(select(Play.id).order_by(Play.started_at))).scalars().all()
    assert len(rows) == 3
    assert {key.version for key in rows} == {7}
    moments = [datetime.fromtimestamp((key.int >> 80) / 1000, UTC) for key in rows]
    floor = before.replace(microsecond=before.microsecond // 1000 * 1000)
    assert all(floor <= moment <= after for moment in moments), (moments, before, after)
    assert moments[0] <= min(moments[1:])  # the earlier request's row sorts first


async def test_an_artist_sees_plays_and_listeners_per_period(media_harness: Harness) -> None:
    harness = media_harness
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    created = await submit(harness, artist, ep_payload(2), ep_files(2))
    approved = await approve(harness, created.json()["id"], admin)
    assert approved.status_code == 200, approved.text
    harness.client.cookies.clear()
    tracks = sorted(await all_pages(harness.client, "/api/v1/tracks"), key=lambda t: t["title"])
    duration = tracks[0]["durationMs"]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() + 7)  # last week's: always in the past
    first, second = await listener(harness), await listener(harness, "other@example.com")
    for who, track, moment in (
        (first, tracks[0], monday + timedelta(hours=1)),
        (first, tracks[0], monday + timedelta(hours=2)),
        (second, tracks[0], monday + timedelta(hours=3)),
        (second, tracks[1], monday + timedelta(hours=4)),
    ):
        assert (await post(harness, track["id"], play(duration, moment), who)).status_code == 201
    # A play that does not count is not in the numbers.
    await post(harness, tracks[1]["id"], play(1, monday + timedelta(minutes=5)), first)

    weekly = await harness.client.get(
        "/api/v1/artists/me/stats",
        params={"from": (monday - timedelta(days=1)).date().isoformat(), "interval": "week"},
        headers=artist,
    )
    assert weekly.status_code == 200, weekly.text
    items = [(i["period"], i["title"], i["plays"], i["listeners"]) for i in weekly.json()["items"]]
    assert items == [
        (monday.date().isoformat(), tracks[0]["title"], 3, 2),
        (monday.date().isoformat(), tracks[1]["title"], 1, 1),
    ]
    # A listener who turns analytics off leaves the listeners; their plays still count.
    preferences = await harness.client.get("/api/v1/users/me/privacy-preferences", headers=second)
    private = {**preferences.json(), "analytics": False}
    turned_off = await harness.client.put(
        "/api/v1/users/me/privacy-preferences", json=private, headers=second
    )
    assert turned_off.status_code == 200, turned_off.text
    weekly = await harness.client.get(
        "/api/v1/artists/me/stats",
        params={"from": (monday - timedelta(days=1)).date().isoformat(), "interval": "week"},
        headers=artist,
    )
    assert [(i["plays"], i["listeners"]) for i in weekly.json()["items"]] == [(3, 1), (1, 0)]
    await harness.client.put(
        "/api/v1/users/me/privacy-preferences", json=preferences.json(), headers=second
    )
    for interval, period in (("day", monday.date()), ("month", monday.date().replace(day=1))):
        answer = await harness.client.get(
            "/api/v1/artists/me/stats",
            params={"from": (monday - timedelta(days=1)).date().isoformat(), "interval": interval},
            headers=artist,
        )
        shown = [(i["period"], i["plays"], i["listeners"]) for i in answer.json()["items"]]
        assert shown == [(period.isoformat(), 3, 2), (period.isoformat(), 1, 1)], interval
    assert_problem(
        await harness.client.get("/api/v1/artists/me/stats", headers=first), 403, "not_an_artist"
    )
    reversed_range = {"from": "2026-12-02", "to": "2026-12-01"}
    assert_problem(
        await harness.client.get("/api/v1/artists/me/stats", params=reversed_range, headers=artist),
        422,
        "validation_failed",
    )
