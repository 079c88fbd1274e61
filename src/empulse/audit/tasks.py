"""Removal of security events older than `AUDIT_KEEP_DAYS`, when the operator sets it. Run by
the job runners about once an hour (`empulse/tasks.py`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.infra import jobs
from empulse.models import AuditEvent
from empulse.services import Services


async def remove_old_events(services: Services, session: AsyncSession, now: datetime) -> int:
    days = services.settings.audit_keep_days
    if not days:
        return 0
    return await jobs.delete_batch(
        session, AuditEvent, AuditEvent.occurred_at < now - timedelta(days=days)
    )
