from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, TimestampedMixin


class Album(TimestampedMixin, Base):
    """A published release (a single is an album of one track)."""

    __tablename__ = "albums"
    __table_args__ = (
        CheckConstraint("status IN ('published', 'taken_down')", name="status_valid"),
        Index("ix_albums_artist_id", "artist_id"),
        # One per list and sort (catalog/repository): the equality columns, then the sort
        # key and the id, so a page is an ordered index range however large the catalog.
        Index("ix_albums_status_published_at", "status", "published_at", "id"),
        Index("ix_albums_status_title", "status", "title", "id"),
        Index("ix_albums_status_genre_published_at", "status", "genre", "published_at", "id"),
        Index("ix_albums_artist_status_published_at", "artist_id", "status", "published_at", "id"),
        Index("ix_albums_status_popularity", "status", "popularity", "published_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    artist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"))
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    title: Mapped[str] = mapped_column(String(200))
    release_type: Mapped[str] = mapped_column(String(8))
    genre: Mapped[str] = mapped_column(String(64))
    subgenre: Mapped[str | None] = mapped_column(String(64), default=None)
    # The public cover at each fixed size, largest first (see `Image`).
    images: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="published")
    published_at: Mapped[datetime]
    # Qualified plays of its tracks, and what they are ordered by: see `Track`.
    play_count: Mapped[int] = mapped_column(Integer, default=0)
    popularity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Track(TimestampedMixin, Base):
    __tablename__ = "tracks"
    __table_args__ = (
        CheckConstraint("status IN ('published', 'taken_down')", name="status_valid"),
        Index("ix_tracks_album_id_position", "album_id", "position"),
        Index("ix_tracks_artist_id", "artist_id"),
        Index("ix_tracks_status_created_at", "status", "created_at", "id"),
        # As for albums: one per list and sort.
        Index("ix_tracks_status_published_at", "status", "published_at", "id"),
        Index("ix_tracks_status_title", "status", "title", "id"),
        Index("ix_tracks_status_genre_published_at", "status", "genre", "published_at", "id"),
        Index("ix_tracks_artist_status_published_at", "artist_id", "status", "published_at", "id"),
        Index("ix_tracks_status_popularity", "status", "popularity", "published_at", "id"),
        Index(
            "ix_tracks_artist_status_popularity",
            "artist_id",
            "status",
            "popularity",
            "published_at",
            "id",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    album_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"))
    artist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"))
    audio_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("media_objects.id"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    genre: Mapped[str] = mapped_column(String(64))
    subgenre: Mapped[str | None] = mapped_column(String(64), default=None)
    isrc: Mapped[str | None] = mapped_column(String(12), default=None)
    mood_tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duration_seconds: Mapped[float] = mapped_column(Float)
    # Qualified plays, added by the plays' fold a few seconds after they are recorded
    # (plays/tasks.py); shown, and in no index, so that the fold's updates of it are HOT on
    # PostgreSQL (no index entry written). `popularity` is the count as a pass copies it every
    # minute, what the popularity orders and their indexes read (the search's exact names'
    # included): a listed order that lags the counts by up to a minute.
    play_count: Mapped[int] = mapped_column(Integer, default=0)
    popularity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="published")
    published_at: Mapped[datetime]
    # Set while an admin has taken the track down (invisible to listeners); kept on restore
    # as the last take-down, for the record.
    taken_down_at: Mapped[datetime | None] = mapped_column(default=None)
    takedown_reason: Mapped[str | None] = mapped_column(String(2000), default=None)


class TrackMood(Base):
    """A track's moods (its main one and the secondary ones, lower-cased), one row each: what
    `GET /tracks?mood=` filters on and `GET /moods` counts."""

    __tablename__ = "track_moods"
    __table_args__ = (
        PrimaryKeyConstraint("track_id", "mood"),
        Index("ix_track_moods_mood_track_id", "mood", "track_id"),
    )

    track_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    mood: Mapped[str] = mapped_column(String(60))


class CatalogVersion(Base):
    """One row: moved by triggers whenever anything a listener could see in the catalog
    changes (catalog/ddl.py); what cached public pages are keyed by."""

    __tablename__ = "catalog_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
