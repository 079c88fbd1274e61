from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, time_ordered_id, utcnow

# The longest a play lasts: a report of more is refused (plays/schemas.py), and the ledger
# holds no row of more (its check constraint). A play's `ended_at` is its `started_at` plus
# `ms_played` (both writers compute it so), so it is at most this long after the start, and a
# play that could overlap one ending at a given moment ended less than this after it (the
# overlap check's bound).
LONGEST_PLAY_MS = 24 * 3600 * 1000


class Play(Base):
    """The plays ledger: one row per play a player posted, qualified or not. What royalties are
    computed from, so a row is never changed once written; clearing a listener's history, or
    deleting the account, removes the listener's identity (`user_id` NULL) and keeps the row."""

    __tablename__ = "plays"
    __table_args__ = (
        # The client's idempotency key, per listener.
        UniqueConstraint("user_id", "play_id", name="uq_plays_user_id_play_id"),
        Index("ix_plays_user_started", "user_id", "started_at", "id"),
        # What a new play could overlap: the listener's plays that end after it starts and
        # less than `LONGEST_PLAY_MS` after it ends (for a play reported as it happens, none or
        # one; for one reported days late, at most a day of plays), their starts read from the
        # index.
        Index("ix_plays_user_ended", "user_id", "ended_at", "started_at"),
        Index("ix_plays_track_id", "track_id"),
        CheckConstraint(f"ms_played BETWEEN 0 AND {LONGEST_PLAY_MS}", name="ms_played_bounded"),
    )

    # Time-ordered (core/db.time_ordered_id; `record_plays` makes the same): the ledger is
    # written in time order, and its key and its tallies' are appended at their indexes' ends.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=time_ordered_id)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    play_id: Mapped[uuid.UUID]
    track_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    ms_played: Mapped[int] = mapped_column(Integer)
    source_type: Mapped[str | None] = mapped_column(String(16), default=None)
    source_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    qualified: Mapped[bool]
    # Why a play does not count: "too_short", "overlapping".
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlayTally(Base):
    """A qualified play not yet in its track's, album's and artist's counters: written with the
    play, in its transaction, and deleted by the fold that adds it to them (plays/tasks.py), so
    each is counted exactly once and the ledger's rows are never written again. Few at any
    time. No foreign keys: a play is the only writer, and a tally whose track is gone adds to
    nothing."""

    __tablename__ = "play_tallies"

    play_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    track_id: Mapped[uuid.UUID]
