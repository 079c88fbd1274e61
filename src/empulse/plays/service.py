"""Recording a play exactly once and deciding whether it counts.

A play counts (is *qualified*) when the listener heard at least 30 seconds of it, or the whole
of a track shorter than that, and no other play of the same listener was going on at the same
time (one account cannot listen on two devices at once: the later report is kept, not counted,
with its reason). Impossible reports are refused: more played than the track lasts (beyond a
small tolerance for players' rounding), a start in the future or more than 14 days back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from empulse.core.coalesce import Coalescer
from empulse.core.db import DatabaseUnavailable, session_scope, time_ordered_id, utcnow
from empulse.core.errors import AppError, InvalidFields, NotFound, Unauthorized
from empulse.core.pagination import AnyRow
from empulse.models import Play
from empulse.plays import repository
from empulse.plays.schemas import PlayIn, PlayOut, PlaysIn
from empulse.services import Services

QUALIFYING_MS = 30_000
# Players round and report a little late; more than this past the track's end is impossible.
TOLERANCE_MS = 5_000
MAX_AGE = timedelta(days=14)
CLOCK_SKEW = timedelta(minutes=5)


class Played(NamedTuple):
    """A play as its answer shows it (`PlayOut`'s fields), without the model: a batch answers
    50 of them as JSON directly (`record_many`)."""

    play_id: uuid.UUID
    track_id: uuid.UUID
    started_at: datetime
    ms_played: int
    qualified: bool
    reason: str | None


def play_out(play: Play | Played | AnyRow) -> PlayOut:
    return PlayOut(
        play_id=play.play_id,
        track_id=play.track_id,
        started_at=play.started_at,
        ms_played=play.ms_played,
        qualified=play.qualified,
        reason=play.reason,
    )


def _time_problems(body: PlayIn, now: datetime) -> list[tuple[str, str]]:
    if body.started_at.tzinfo is None:
        return [("startedAt", "needs a time zone (for example Z)")]
    if body.started_at > now + CLOCK_SKEW:
        return [("startedAt", "is in the future")]
    if body.started_at < now - MAX_AGE:
        return [("startedAt", "is more than 14 days ago")]
    return []


def _refusal(body: PlayIn, duration_ms: int, now: datetime) -> InvalidFields | None:
    """Why this report is impossible, if it is."""
    problems = _time_problems(body, now)
    if body.ms_played > duration_ms + TOLERANCE_MS:
        problems.append(("msPlayed", f"is longer than the track ({duration_ms} ms)"))
    return _invalid(problems) if problems else None


def _invalid(problems: list[tuple[str, str]]) -> InvalidFields:
    return InvalidFields(
        [
            {"loc": ("body", field), "msg": message, "type": "value_error"}
            for field, message in problems
        ]
    )


def _other_track() -> InvalidFields:
    return _invalid([("playId", "was used for another track")])


def _no_track() -> NotFound:
    return NotFound("No such track.")


async def record(
    services: Services, user_id: uuid.UUID, track_id: uuid.UUID, body: PlayIn
) -> tuple[PlayOut, bool]:
    """(the play, whether this request recorded it). The same `playId` again answers what the
    first answered and counts nothing more, also when repeats arrive together."""
    [outcome] = await record_all(services, user_id, [(track_id, body)])
    if isinstance(outcome, AppError):
        raise outcome
    played, recorded = outcome
    return play_out(played), recorded


async def record_many(services: Services, user_id: uuid.UUID, body: PlaysIn) -> dict[str, Any]:
    """Each play as `record` decides it, oldest first (so overlaps are judged as they
    happened), in one transaction; a refused play is reported in its place and the others
    are kept. Every check runs before a play writes anything, so a refusal leaves nothing.

    The answer is `BatchOut`'s JSON document, built as plain objects: validating 101 models
    that the service itself filled in cost as much CPU as the rest of the answer (the API's
    fuzzing test checks every answer against the document)."""
    outcomes = await record_all(services, user_id, [(item.track_id, item) for item in body.plays])
    results = []
    for item, outcome in zip(body.plays, outcomes, strict=True):
        if isinstance(outcome, AppError):
            error = {"code": outcome.instance_code, "detail": _detail(outcome)}
            results.append(
                {"playId": item.play_id, "status": outcome.status, "play": None, "error": error}
            )
        else:
            played, recorded = outcome
            results.append(
                {
                    "playId": item.play_id,
                    "status": 201 if recorded else 200,
                    "play": _document(played),
                    "error": None,
                }
            )
    return {"results": results}


def _document(play: Played) -> dict[str, Any]:
    """`PlayOut` as its JSON shows it."""
    return {
        "playId": play.play_id,
        "trackId": play.track_id,
        "startedAt": play.started_at,
        "msPlayed": play.ms_played,
        "qualified": play.qualified,
        "reason": play.reason,
    }


def _moment(value: datetime) -> datetime:
    """For ordering only: a time without a zone (refused later) read as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Outcome = tuple[Played, bool] | AppError


async def record_all(
    services: Services, user_id: uuid.UUID, items: Sequence[tuple[uuid.UUID, PlayIn]]
) -> list[Outcome]:
    """Decide and record these plays of one listener, in one transaction, in their places.
    On PostgreSQL `record_plays` (plays/ddl.py) does it in one statement, with the plays of
    the other requests that arrived while the previous statement was in flight (`_intake`);
    elsewhere `_decide` does the same here. The counters are not touched: the job runner folds
    qualified plays into them every few seconds (plays/tasks.py), so a popular track's counter
    row is no lock every play of it waits for."""
    now = utcnow()
    if repository.records_in_one_statement(services.engine):
        acceptable = [not _time_problems(body, now) for _, body in items]
        return await _intake(services)(_Report(user_id, items, acceptable, now))
    async with session_scope(services.sessionmaker) as session:
        return await _decide(session, user_id, items, now)


@dataclass(frozen=True, slots=True)
class _Report:
    """One request's plays, as `record_plays` takes them: `acceptable` says which starts the
    request found plausible at `now`."""

    user_id: uuid.UUID
    items: Sequence[tuple[uuid.UUID, PlayIn]]
    acceptable: list[bool]
    now: datetime


# At most this many requests' plays a statement (a request carries up to 50): a call of the
# most is about 1,600 plays, tens of milliseconds of PostgreSQL's time.
_REQUESTS_A_CALL = 32


def _intake(services: Services) -> Coalescer[_Report, list[Outcome]]:
    """This process's plays on their way to `record_plays`: the requests that arrive while a
    call is in flight go together in the next (core/coalesce.py). Under load one statement
    and one round trip then serve many requests (the listeners' locks, the read and the write
    are each one statement for all of them); one request alone goes at once. A process has one
    call in flight at a time, which amortises the most; each worker process has its own
    (docs/performance.md, "Plays recorded together")."""
    run = partial(_record_together, services.engine)
    return services.coalescer(_intake, lambda: Coalescer(run, most=_REQUESTS_A_CALL))


async def _record_together(
    engine: AsyncEngine, reports: list[_Report]
) -> list[list[Outcome] | BaseException]:
    """The plays of these requests, of any listeners, in one `record_plays` call, each
    request answered with its own plays' outcomes. If the statement fails for a reason other
    than the database's being out of reach, each request goes again on its own (nothing of the
    failed call was written), so that only the request that made it fail sees the error."""
    try:
        rows = await _record_plays(engine, reports)
    except DatabaseUnavailable:
        raise  # it may have been written: each request answers 503, and may be sent again
    except Exception:
        if len(reports) == 1:
            raise
    else:
        return _answers(reports, rows)
    answers: list[list[Outcome] | BaseException] = []
    for report in reports:
        try:
            rows = await _record_plays(engine, [report])
        except Exception as exc:
            answers.append(exc)
        else:
            answers += _answers([report], rows)
    return answers


async def _record_plays(engine: AsyncEngine, reports: list[_Report]) -> list[repository.Decided]:
    plays = [
        (report.user_id, track_id, body, acceptable)
        for report in reports
        for (track_id, body), acceptable in zip(report.items, report.acceptable, strict=True)
    ]
    return await repository.record_plays(
        engine,
        listeners=[user_id for user_id, _, _, _ in plays],
        now=utcnow(),
        play_ids=[body.play_id for _, _, body, _ in plays],
        track_ids=[track_id for _, track_id, _, _ in plays],
        starts=[_moment(body.started_at) for _, _, body, _ in plays],
        played=[body.ms_played for _, _, body, _ in plays],
        acceptable=[acceptable for _, _, _, acceptable in plays],
        source_types=[body.source.type if body.source else None for _, _, body, _ in plays],
        source_ids=[body.source.id if body.source else None for _, _, body, _ in plays],
        qualifying_ms=QUALIFYING_MS,
        tolerance_ms=TOLERANCE_MS,
    )


def _answers(
    reports: list[_Report], rows: list[repository.Decided]
) -> list[list[Outcome] | BaseException]:
    """Each request's outcomes, in the order of its plays, from the rows of one call."""
    places = [(r, index) for r, report in enumerate(reports) for index in range(len(report.items))]
    outcomes: list[list[Outcome | None]] = [[None] * len(report.items) for report in reports]
    gone = [False] * len(reports)
    for row in rows:
        r, index = places[row.n - 1]
        if row.outcome == "gone":
            gone[r] = True
            continue
        track_id, body = reports[r].items[index]
        outcomes[r][index] = _outcome_of(row, track_id, body, reports[r].now)
    return [
        Unauthorized("This account no longer exists.")
        if gone[r]
        else [outcome for outcome in outcomes[r] if outcome is not None]
        for r in range(len(reports))
    ]


def _outcome_of(
    row: repository.Decided, track_id: uuid.UUID, body: PlayIn, now: datetime
) -> Outcome:
    if row.outcome in ("recorded", "earlier"):
        assert row.qualified is not None
        recorded = row.outcome == "recorded"
        play = Played(
            body.play_id,
            track_id,
            # A play recorded now shows its start as it was sent, as a repeat shows it stored.
            body.started_at if recorded else row.started_at,
            row.ms_played,
            row.qualified,
            row.reason,
        )
        return play, recorded
    if row.outcome == "other_track":
        return _other_track()
    if row.outcome == "not_found":
        return _no_track()
    assert row.duration_ms is not None
    refusal = _refusal(body, row.duration_ms, now)
    if refusal is None:
        raise RuntimeError(f"record_plays refused a possible play: {row}")
    return refusal


async def _decide(
    session: AsyncSession,
    user_id: uuid.UUID,
    items: Sequence[tuple[uuid.UUID, PlayIn]],
    now: datetime,
) -> list[Outcome]:
    """`record_plays` (plays/ddl.py) in the application, in a fixed number of statements
    whatever the number of plays: the listener's row locked; what was recorded before under
    these playIds and the listener's plays that could overlap, in one read; the tracks; the
    new plays inserted together."""
    connection = await session.connection()  # Core statements only (plays/repository.py)
    if not await repository.lock_listener(connection, user_id):
        raise Unauthorized("This account no longer exists.")
    starts = [_moment(body.started_at) for _, body in items]
    # Only a start that `_refusal` can accept is looked at further (the others are refused):
    # date arithmetic on one at the ends of the calendar would overflow.
    plausible = [now - MAX_AGE - CLOCK_SKEW <= start <= now + CLOCK_SKEW for start in starts]
    ends = [
        start + timedelta(milliseconds=body.ms_played) if ok else start
        for start, ok, (_, body) in zip(starts, plausible, items, strict=True)
    ]
    intervals = [(start, end) for start, end, ok in zip(starts, ends, plausible, strict=True) if ok]
    reported = {body.play_id for _, body in items}
    rows = await repository.heard(connection, user_id, reported, intervals)
    earlier = {row.play_id: _played(row) for row in rows if row.play_id in reported}
    # Every play read is compared below, so one read for a playId that does not overlap
    # anything changes no decision.
    heard = [(row.started_at, row.ended_at) for row in rows]
    durations = await repository.track_durations(connection, {track_id for track_id, _ in items})
    outcomes: list[Outcome | None] = [None] * len(items)
    recorded: list[dict[str, Any]] = []
    for index in sorted(range(len(items)), key=lambda i: starts[i]):
        track_id, body = items[index]
        prior = earlier.get(body.play_id)
        if prior is not None:
            outcomes[index] = _other_track() if prior.track_id != track_id else (prior, False)
            continue
        seconds = durations.get(track_id)
        if seconds is None:
            outcomes[index] = _no_track()
            continue
        duration_ms = round(seconds * 1000)
        refusal = _refusal(body, duration_ms, now)
        if refusal is not None:
            outcomes[index] = refusal
            continue
        started_at, ended_at = body.started_at, ends[index]
        reason = None
        if body.ms_played < min(QUALIFYING_MS, duration_ms):
            reason = "too_short"
        elif any(start < ended_at and end > started_at for start, end in heard):
            reason = "overlapping"
        play = Played(body.play_id, track_id, started_at, body.ms_played, reason is None, reason)
        recorded.append(
            {
                "id": time_ordered_id(),
                "user_id": user_id,
                "play_id": body.play_id,
                "track_id": track_id,
                "started_at": started_at,
                "ended_at": ended_at,
                "ms_played": body.ms_played,
                "source_type": body.source.type if body.source else None,
                "source_id": body.source.id if body.source else None,
                "qualified": reason is None,
                "reason": reason,
                "created_at": now,
            }
        )
        heard.append((started_at, ended_at))
        earlier[body.play_id] = play  # the same playId twice in one batch counts once
        outcomes[index] = (play, True)
    await repository.insert(connection, recorded)
    return [outcome for outcome in outcomes if outcome is not None]


def _played(row: AnyRow) -> Played:
    return Played(
        row.play_id, row.track_id, row.started_at, row.ms_played, row.qualified, row.reason
    )


def _detail(error: AppError) -> str:
    if isinstance(error, InvalidFields):
        return "; ".join(f"{e['loc'][-1]} {e['msg']}" for e in error.errors)
    return error.detail
