"""Queries on the audit log."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.models import AuditEvent


async def events_of(session: AsyncSession, user_id: uuid.UUID) -> list[AuditEvent]:
    """The security events recorded about the user, oldest first."""
    result = await session.scalars(
        select(AuditEvent).where(AuditEvent.user_id == user_id).order_by(AuditEvent.occurred_at)
    )
    return list(result)
