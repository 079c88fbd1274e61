from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, TimestampedMixin


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ArtistApplication(TimestampedMixin, Base):
    """A request to become an artist. The W-9 is stored only encrypted (`w9_ciphertext`, under
    the key named by `w9_key_id`, bound to this row's id); `tax_id_last4` is what admins see."""

    __tablename__ = "artist_applications"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status_valid"),
        # One open application per user, enforced by the database (races included).
        Index(
            "uq_artist_applications_open_per_user",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_artist_applications_status_created_at", "status", "created_at", "id"),
        Index("ix_artist_applications_w9_key_id", "w9_key_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.PENDING.value)
    artist_name: Mapped[str] = mapped_column(String(100))
    contact_email: Mapped[str] = mapped_column(String(320))
    mediums: Mapped[list[str]] = mapped_column(JSON)
    documents_signed: Mapped[list[str]] = mapped_column(JSON)
    pro_registration: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    digital_signature: Mapped[str] = mapped_column(String(200))
    tax_classification: Mapped[str] = mapped_column(String(32))
    tax_id_last4: Mapped[str] = mapped_column(String(4))
    w9_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    w9_key_id: Mapped[str] = mapped_column(String(8))
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    review_reason: Mapped[str | None] = mapped_column(Text, default=None)


class Artist(TimestampedMixin, Base):
    """The public artist profile, created when an application is approved."""

    __tablename__ = "artists"
    __table_args__ = (
        Index("ix_artists_name", "name", "id"),
        Index("ix_artists_created_at", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    application_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("artist_applications.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    mediums: Mapped[list[str]] = mapped_column(JSON, default=list)
    bio: Mapped[str | None] = mapped_column(Text, default=None)
    # A few http(s) URLs: [{"url": ..., "label": ...}]
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The public image at each fixed size, largest first: [{"size", "key", "width", "height"}]
    images: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Qualified plays of its tracks, kept by the plays ledger in the play's own transaction.
    play_count: Mapped[int] = mapped_column(Integer, default=0)
