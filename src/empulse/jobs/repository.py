"""Queries on the jobs table for the admin view and the queue metrics."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.db import utcnow
from empulse.core.pagination import Order, PageRequest, Rows, fetch_page
from empulse.infra.jobs import mark_enqueued
from empulse.models import Job, JobStatus, Schedule


async def list_jobs(
    session: AsyncSession, *, status: str | None, kind: str | None, page: PageRequest
) -> Rows[Job]:
    statement = select(Job)
    if status is not None:
        statement = statement.where(Job.status == status)
    if kind is not None:
        statement = statement.where(Job.kind == kind)
    return await fetch_page(session, statement, Order.newest_first(Job.created_at, Job.id), page)


async def revive(session: AsyncSession, job_id: uuid.UUID) -> bool:
    """A dead job back to pending with fresh attempts, due now; False if it is not dead."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.DEAD)
        .values(
            status=JobStatus.PENDING,
            attempts=0,
            run_at=utcnow(),
            finished_at=None,
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    revived = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if revived:
        mark_enqueued(session)
    return revived


async def count_by_status(session: AsyncSession, statuses: Iterable[str]) -> dict[str, int]:
    rows = await session.execute(
        select(Job.status, func.count()).where(Job.status.in_(statuses)).group_by(Job.status)
    )
    return {status: int(count) for status, count in rows}


async def schedules(session: AsyncSession) -> list[Schedule]:
    """The cluster's periodic upkeep (infra/jobs.py), by name."""
    return list(await session.scalars(select(Schedule).order_by(Schedule.name)))


async def oldest_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the longest-waiting pending job fell due; None when none is due."""
    oldest: datetime | None = await session.scalar(
        select(func.min(Job.run_at)).where(Job.status == JobStatus.PENDING, Job.run_at <= now)
    )
    return oldest
