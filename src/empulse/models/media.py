"""The media pipeline's state per uploaded track: where it is, and what it found."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, utcnow


class MediaPipeline(Base):
    """One uploaded audio file's processing: `queued` -> `running` (held by one worker while
    `locked_until` lies ahead; the worker renews it as it reports progress) -> `done` or
    `failed` (with the reason). Its renditions are media objects of role `rendition`."""

    __tablename__ = "media_pipelines"

    media_object_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_objects.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="queued")
    step: Mapped[str | None] = mapped_column(String(32), default=None)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    loudness: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    waveform: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    # What the catalog shows of the renditions (name, codec, bitrate, type), beside the
    # loudness, so a page of tracks reads both in its one statement.
    renditions: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
