from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, utcnow


class JobStatus(StrEnum):
    """pending -> running (claimed, with a lease) -> done, or back to pending after a failure,
    or dead once retrying cannot help (infra/jobs)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class Job(Base):
    """A unit of background work, written in the same transaction as the change that caused
    it (transactional outbox): a rolled-back request leaves no job, a committed one survives
    any crash until a worker finishes it or gives up (status "dead")."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_run_at", "status", "run_at"),
        # The admin view: newest first, by status.
        Index("ix_jobs_status_created_at", "status", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=12)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A running job whose lease passed belongs to a crashed worker and is picked up again.
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Schedule(Base):
    """When the runners' periodic upkeep (the hourly clean-up, the passes over whole tables) is
    next due, shared by every runner of the cluster: a runner whose claim moves `due_at` on
    makes the run, the others wait for the next (infra/jobs). A row appears at the first claim
    of its name; `started_at`, `finished_at` and `handled` (the rows the last run handled) are
    for an operator to read."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    due_at: Mapped[datetime]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    handled: Mapped[int | None] = mapped_column(Integer, default=None)
