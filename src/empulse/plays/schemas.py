from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from empulse.catalog.schemas import TrackOut
from empulse.core.schemas import OutSchema, TypedBody, with_examples
from empulse.models.play import LONGEST_PLAY_MS

SourceType = Literal["album", "playlist", "artist", "search", "library", "radio"]


class PlaySource(TypedBody):
    type: SourceType
    id: uuid.UUID | None = None


class PlayIn(TypedBody):
    """One play, as the player saw it."""

    model_config = with_examples(
        {
            "playId": "5b0e8a52-7c1f-4d8e-9a3b-2f6c1d0e9a77",
            "startedAt": "2026-12-04T08:15:00Z",
            "msPlayed": 184000,
            "source": {"type": "album", "id": "0b9c5a1e-3f2d-4c6b-8a7e-1d2f3c4b5a69"},
        }
    )

    play_id: uuid.UUID = Field(
        description="Made by the player; the same id again is the same play (counted once)."
    )
    started_at: datetime
    ms_played: int = Field(ge=0, le=LONGEST_PLAY_MS)
    source: PlaySource | None = None


class PlayOut(OutSchema):
    play_id: uuid.UUID
    track_id: uuid.UUID
    started_at: datetime
    ms_played: int
    qualified: bool = Field(
        description="Counted: at least 30 seconds (or the whole of a shorter track), and not "
        "overlapping another play of the same listener."
    )
    reason: Literal["too_short", "overlapping"] | None = Field(description="Why it is not counted.")


class HistoryEntryOut(PlayOut):
    track: TrackOut | None = Field(description="As the catalog shows it; null when unavailable.")


class RecentTrackOut(OutSchema):
    played_at: datetime
    track: TrackOut


class BatchPlayIn(PlayIn):
    track_id: uuid.UUID


class PlaysIn(TypedBody):
    """Plays a player kept while offline, in any order (they are decided oldest first)."""

    model_config = with_examples(
        {
            "plays": [
                {
                    "trackId": "0b9c5a1e-3f2d-4c6b-8a7e-1d2f3c4b5a69",
                    "playId": "5b0e8a52-7c1f-4d8e-9a3b-2f6c1d0e9a77",
                    "startedAt": "2026-12-04T08:15:00Z",
                    "msPlayed": 184000,
                }
            ]
        }
    )

    plays: list[BatchPlayIn] = Field(min_length=1, max_length=50)


class PlayErrorOut(OutSchema):
    code: str
    detail: str


class BatchResultOut(OutSchema):
    play_id: uuid.UUID
    status: int = Field(
        description="As the single form would answer it: 201 recorded, 200 reported before, "
        "404 no such track, 422 impossible."
    )
    play: PlayOut | None
    error: PlayErrorOut | None


class BatchOut(OutSchema):
    results: list[BatchResultOut] = Field(description="In the order sent.")


Interval = Literal["day", "week", "month"]


class StatOut(OutSchema):
    period: date = Field(description="The period's first day (weeks start on Monday), in UTC.")
    track_id: uuid.UUID
    title: str
    plays: int = Field(description="Qualified plays.")
    listeners: int = Field(
        description="Distinct listeners among them who still have an account and allow "
        "`analytics` (privacy preferences); their plays count either way."
    )


class StatsOut(OutSchema):
    start: date
    end: date
    interval: Interval
    items: list[StatOut] = Field(
        description="By period, then track; periods without plays are left out."
    )
