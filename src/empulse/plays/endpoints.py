"""HTTP for plays: a player posts what was heard; a listener reads and clears their history."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic_core import to_json

from empulse.auth.dependencies import CurrentPrincipal, require_principal
from empulse.catalog import service as shapes
from empulse.core.errors import ValidationFailed
from empulse.core.pagination import Cursor, Limit, Page, PageRequest
from empulse.plays import repository, service
from empulse.plays.schemas import (
    BatchOut,
    HistoryEntryOut,
    Interval,
    PlayIn,
    PlayOut,
    PlaysIn,
    RecentTrackOut,
    StatOut,
    StatsOut,
)
from empulse.profiles.service import own_artist
from empulse.services import AppServices, DbSession, ReadSession, get_services
from empulse.web.json_body import JsonBody
from empulse.web.paths import API_PREFIX

_SIGNED_IN = [Depends(require_principal)]
_401: dict[int | str, dict[str, Any]] = {401: {"description": "Not signed in (not_authenticated)"}}
router = APIRouter(prefix=API_PREFIX, tags=["plays"], dependencies=_SIGNED_IN, responses=_401)


@router.post(
    "/tracks/{track_id}/plays",
    response_model=PlayOut,
    status_code=status.HTTP_201_CREATED,
    summary="Report a play",
    responses={
        200: {"description": "This `playId` was reported before: the same answer, counted once"},
        404: {"description": "No visible track (not_found)"},
        422: {"description": "An impossible play (validation_failed), listed in `errors`"},
    },
)
async def post_play(
    track_id: uuid.UUID,
    body: PlayIn,
    principal: CurrentPrincipal,
    response: Response,
    services: AppServices,
) -> PlayOut:
    """What the listener heard of a track. Counted when at least 30 seconds (or all of a
    shorter track) were played and no other play of the listener overlaps it; recorded either
    way. A stream alone counts nothing."""
    play, recorded = await service.record(services, principal.user_id, track_id, body)
    if not recorded:
        response.status_code = status.HTTP_200_OK
    return play


@router.post(
    "/users/me/plays",
    response_model=BatchOut,
    summary="Report several plays (an offline player catching up)",
    responses={422: {"description": "No plays, more than 50, or a malformed one"}},
)
async def post_plays(
    body: Annotated[PlaysIn, Depends(JsonBody(PlaysIn))],
    principal: CurrentPrincipal,
    services: AppServices,
) -> Response:
    """Up to 50 plays of any tracks, each answered in its place as `POST /tracks/{id}/plays`
    would answer it (a refused one does not stop the others)."""
    document = await service.record_many(services, principal.user_id, body)
    return Response(to_json(document), media_type="application/json")


@router.get("/users/me/plays", response_model=Page[HistoryEntryOut], summary="My play history")
async def history(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[HistoryEntryOut]:
    """Every play reported, newest first, with the track as the catalog shows it (null when
    it is no longer available)."""
    rows = await repository.history(session, principal.user_id, PageRequest(limit, cursor))
    url = get_services(request).storage.public_url
    shown = await shapes.shown_tracks(session, {play.track_id for play in rows.items}, url)
    return rows.shaped(
        lambda play: HistoryEntryOut(
            **service.play_out(play).model_dump(), track=shown.get(play.track_id)
        )
    )


@router.get(
    "/users/me/recently-played",
    response_model=list[RecentTrackOut],
    summary="Tracks I played lately",
)
async def recently_played(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[RecentTrackOut]:
    """Distinct tracks, by their latest play, newest first; tracks no longer available are
    left out."""
    recent = await repository.recent_tracks(session, principal.user_id, limit)
    url = get_services(request).storage.public_url
    shown = await shapes.shown_tracks(session, [track_id for track_id, _ in recent], url)
    return [
        RecentTrackOut(played_at=played_at, track=shown[track_id])
        for track_id, played_at in recent
        if track_id in shown
    ]


@router.delete(
    "/users/me/plays", status_code=status.HTTP_204_NO_CONTENT, summary="Clear my history"
)
async def clear_history(principal: CurrentPrincipal, session: DbSession) -> Response:
    """The history is gone for the listener; the plays stay counted for the artists, no longer
    linked to the account."""
    await repository.forget(session, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


MAX_STATS_DAYS = 366


@router.get(
    "/artists/me/stats",
    response_model=StatsOut,
    summary="My tracks' plays and listeners",
    responses={
        403: {"description": "Not an approved artist (not_an_artist)"},
        422: {"description": "A reversed range, or longer than a year"},
    },
)
async def artist_stats(
    principal: CurrentPrincipal,
    session: ReadSession,
    start: Annotated[date | None, Query(alias="from", description="First day (UTC).")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day, included.")] = None,
    interval: Interval = "day",
) -> StatsOut:
    """Qualified plays and distinct listeners of each of the artist's tracks per day, week
    (from Monday) or month; the last 30 days by default."""
    artist = await own_artist(session, principal.user_id)
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=29)
    if start > end or (end - start).days >= MAX_STATS_DAYS:
        raise ValidationFailed(f"`from` must be on or before `to`, at most {MAX_STATS_DAYS} days.")
    rows = await repository.stats(
        session,
        artist.id,
        datetime.combine(start, time(), UTC),
        datetime.combine(end + timedelta(days=1), time(), UTC),
        interval,
    )
    return StatsOut(
        start=start,
        end=end,
        interval=interval,
        items=[
            StatOut(
                period=date.fromisoformat(str(row.period)[:10]),
                track_id=row.track_id,
                title=row.title,
                plays=row.plays,
                listeners=row.listeners,
            )
            for row in rows
        ],
    )
