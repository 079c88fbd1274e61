"""Recording a play exactly once and deciding whether it counts.

A play counts (is *qualified*) when the listener heard at least 30 seconds of it, or the whole
of a track shorter than that, and no other play of the same listener was going on at the same
time (one account cannot listen on two devices at once: the later report is kept, not counted,
with its reason). Impossible reports are refused: more played than the track lasts (beyond a
small tolerance for players' rounding), a start in the future or more than 14 days back.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.core.db import utcnow
from empulse.core.errors import AppError, InvalidFields, NotFound, Unauthorized
from empulse.models import Play, Track
from empulse.plays import repository
from empulse.plays.schemas import (
    BatchOut,
    BatchResultOut,
    PlayErrorOut,
    PlayIn,
    PlayOut,
    PlaysIn,
)

QUALIFYING_MS = 30_000
# Players round and report a little late; more than this past the track's end is impossible.
TOLERANCE_MS = 5_000
MAX_AGE = timedelta(days=14)
CLOCK_SKEW = timedelta(minutes=5)


def play_out(play: Play) -> PlayOut:
    return PlayOut(
        play_id=play.play_id,
        track_id=play.track_id,
        started_at=play.started_at,
        ms_played=play.ms_played,
        qualified=play.qualified,
        reason=play.reason,
    )


def _check(body: PlayIn, track: Track, now: datetime) -> None:
    problems = []
    duration_ms = round(track.duration_seconds * 1000)
    if body.started_at.tzinfo is None:
        problems.append(("startedAt", "needs a time zone (for example Z)"))
    elif body.started_at > now + CLOCK_SKEW:
        problems.append(("startedAt", "is in the future"))
    elif body.started_at < now - MAX_AGE:
        problems.append(("startedAt", "is more than 14 days ago"))
    if body.ms_played > duration_ms + TOLERANCE_MS:
        problems.append(("msPlayed", f"is longer than the track ({duration_ms} ms)"))
    if problems:
        raise _invalid(problems)


def _invalid(problems: list[tuple[str, str]]) -> InvalidFields:
    return InvalidFields(
        [
            {"loc": ("body", field), "msg": message, "type": "value_error"}
            for field, message in problems
        ]
    )


async def record(
    session: AsyncSession, user_id: uuid.UUID, track_id: uuid.UUID, body: PlayIn
) -> tuple[PlayOut, bool]:
    """(the play, whether this request recorded it). The same `playId` again answers what the
    first answered and counts nothing more, also when repeats arrive together."""
    if not await repository.lock_listener(session, user_id):
        raise Unauthorized("This account no longer exists.")
    earlier = await repository.by_play_id(session, user_id, body.play_id)
    if earlier is not None:
        if earlier.track_id != track_id:
            raise _invalid([("playId", "was used for another track")])
        return play_out(earlier), False
    track = await session.get(Track, track_id)
    if track is None or await catalog.listed_track(session, track_id) is None:
        raise NotFound("No such track.")
    now = utcnow()
    _check(body, track, now)
    started_at = body.started_at
    ended_at = started_at + timedelta(milliseconds=body.ms_played)
    duration_ms = round(track.duration_seconds * 1000)
    reason = None
    if body.ms_played < min(QUALIFYING_MS, duration_ms):
        reason = "too_short"
    elif await repository.overlaps(session, user_id, started_at, ended_at):
        reason = "overlapping"
    play = Play(
        user_id=user_id,
        play_id=body.play_id,
        track_id=track_id,
        started_at=started_at,
        ended_at=ended_at,
        ms_played=body.ms_played,
        source_type=body.source.type if body.source else None,
        source_id=body.source.id if body.source else None,
        qualified=reason is None,
        reason=reason,
    )
    session.add(play)
    if reason is None:
        await repository.count(session, track)
    await session.flush()
    return play_out(play), True


async def record_many(session: AsyncSession, user_id: uuid.UUID, body: PlaysIn) -> BatchOut:
    """Each play as `record` decides it, oldest first (so overlaps are judged as they
    happened), in one transaction; a refused play is reported in its place and the others
    are kept. Every check runs before a play writes anything, so a refusal leaves nothing."""
    results: dict[int, BatchResultOut] = {}
    order = sorted(range(len(body.plays)), key=lambda index: body.plays[index].started_at)
    for index in order:
        item = body.plays[index]
        try:
            play, recorded = await record(session, user_id, item.track_id, item)
        except (NotFound, InvalidFields) as refused:
            results[index] = BatchResultOut(
                play_id=item.play_id,
                status=refused.status,
                play=None,
                error=PlayErrorOut(code=refused.instance_code, detail=_detail(refused)),
            )
            continue
        results[index] = BatchResultOut(
            play_id=item.play_id, status=201 if recorded else 200, play=play, error=None
        )
    return BatchOut(results=[results[index] for index in range(len(body.plays))])


def _detail(error: AppError) -> str:
    if isinstance(error, InvalidFields):
        return "; ".join(f"{e['loc'][-1]} {e['msg']}" for e in error.errors)
    return error.detail
