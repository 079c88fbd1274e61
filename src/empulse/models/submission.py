from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, TimestampedMixin, utcnow


class Submission(TimestampedMixin, Base):
    """A single, EP or LP sent for review. `payload` keeps the validated metadata as sent."""

    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status_valid"),
        CheckConstraint("release_type IN ('single', 'ep', 'lp')", name="release_type_valid"),
        Index("ix_submissions_status_created_at", "status", "created_at", "id"),
        Index("ix_submissions_user_id_created_at", "user_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    artist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    release_type: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    genre: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    review_reason: Mapped[str | None] = mapped_column(Text, default=None)


class MediaObject(Base):
    """A stored file: where it is, what it is (as decoding found it), and whose it is."""

    __tablename__ = "media_objects"
    __table_args__ = (Index("ix_media_objects_submission_id", "submission_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    submission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), default=None
    )
    # "audio" (with track_index), or "cover" (with width = height bound, e.g. 600)
    role: Mapped[str] = mapped_column(String(16))
    track_index: Mapped[int | None] = mapped_column(Integer, default=None)
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # The user's filename, sanitised; metadata only, never part of a key or a path.
    original_filename: Mapped[str | None] = mapped_column(String(200), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A rendition's original (media/): the renditions go with it.
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("media_objects.id", ondelete="CASCADE"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PendingUpload(Base):
    """An object written to storage whose row has not committed yet. Written (and committed)
    before the first byte is stored, deleted in the transaction that commits the row; any left
    behind by a crash or an outage are removed by the `sweep_uploads` job."""

    __tablename__ = "pending_uploads"
    __table_args__ = (Index("ix_pending_uploads_created_at", "created_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
