"""star and unstar (the library's likes), scrobble (plays, and "now playing")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.core.db import session_scope, utcnow
from empulse.core.errors import AppError
from empulse.library import service as library
from empulse.models import NowPlaying
from empulse.plays import service as plays
from empulse.plays.schemas import PlayIn
from empulse.subsonic.call import Call, method
from empulse.subsonic.envelope import Code, SubsonicError, missing, not_found
from empulse.subsonic.params import as_id

# The idempotency key of a scrobble: the same listener, track and `time` is the same play.
_SCROBBLES = uuid.UUID("8a0f6f0e-5d2b-4c8e-9d57-3a4e6b1c2f90")
# Subsonic (and Last.fm, whose rule clients follow) submit a play once half of the track, or
# four minutes of it, was heard: a submission is recorded as at least that much.
_SUBMITTED_MS = 240_000


async def _kind_of(session: AsyncSession, item_id: uuid.UUID) -> str | None:
    """Folder-based clients star albums and artists by `id` too."""
    if await catalog.listed_track(session, item_id) is not None:
        return "tracks"
    if await catalog.listed_album(session, item_id) is not None:
        return "albums"
    if await catalog.visible_artist(session, item_id) is not None:
        return "artists"
    return None


def _targets(call: Call) -> list[tuple[str | None, uuid.UUID]]:
    params = call.params
    targets: list[tuple[str | None, uuid.UUID]] = []
    for name, kind in (("id", None), ("albumId", "albums"), ("artistId", "artists")):
        targets.extend((kind, as_id(raw)) for raw in params.texts(name, limit=500))
    if not targets:
        raise missing("id")
    return targets


async def _star(call: Call, *, starred: bool) -> dict[str, Any]:
    user_id = call.caller.user_id
    async with session_scope(call.services.sessionmaker) as session:
        for kind, item_id in _targets(call):
            kind = kind or await _kind_of(session, item_id)
            if kind is None:
                if starred:
                    raise not_found("Item")
                continue
            if starred:
                await library.like(session, kind, user_id, item_id)
            else:
                await library.unlike(session, kind, user_id, item_id)
    return {}


@method("star")
async def star(call: Call) -> dict[str, Any]:
    return await _star(call, starred=True)


@method("unstar")
async def unstar(call: Call) -> dict[str, Any]:
    return await _star(call, starred=False)


def _moment(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return datetime.fromtimestamp(int(raw) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise SubsonicError(Code.GENERIC, "time must be milliseconds since 1970") from None


@method("scrobble")
async def scrobble(call: Call) -> dict[str, Any]:
    """`submission=true` (the default) posts a play to the ledger: its key is derived from the
    listener, the track and `time`, so a client that retries counts once. `submission=false`
    is "now playing" (getNowPlaying), which counts nothing."""
    params = call.params
    track_ids = [as_id(raw, "Song") for raw in params.texts("id", limit=50)]
    if not track_ids:
        raise missing("id")
    times = params.texts("time", limit=50)
    if times and len(times) != len(track_ids):
        raise SubsonicError(Code.GENERIC, "Give one time per id, or none")
    submission = params.boolean("submission", True)
    user_id = call.caller.user_id
    reported: list[tuple[uuid.UUID, PlayIn]] = []
    async with session_scope(call.services.sessionmaker) as session:
        for index, track_id in enumerate(track_ids):
            track = await catalog.listed_track(session, track_id)
            if track is None:
                raise not_found("Song")
            if not submission:
                await _now_playing(session, user_id, call.client, track_id)
                continue
            at = _moment(times[index] if times else None)
            duration_ms = round(track.duration_seconds * 1000)
            heard = min(duration_ms, max(plays.QUALIFYING_MS, min(duration_ms // 2, _SUBMITTED_MS)))
            key = (
                uuid.uuid5(_SCROBBLES, f"{user_id}:{track_id}:{times[index]}")
                if times
                else uuid.uuid4()
            )
            started = at or (utcnow() - timedelta(milliseconds=heard))
            reported.append((track_id, PlayIn(play_id=key, started_at=started, ms_played=heard)))
    # Every id is a track the caller can see: the plays are recorded together; a refused one
    # (a time more than 14 days back) is the call's error, the others are counted.
    outcomes = await plays.record_all(call.services, user_id, reported) if reported else []
    for outcome in outcomes:
        if isinstance(outcome, AppError):
            raise outcome
    return {}


async def _now_playing(
    session: AsyncSession, user_id: uuid.UUID, client: str, track_id: uuid.UUID
) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    statement = insert(NowPlaying).values(
        user_id=user_id, client=client, track_id=track_id, started_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[NowPlaying.user_id, NowPlaying.client],
            set_={"track_id": track_id, "started_at": now},
        )
    )
