"""Queries on the audit log."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.pagination import Order, PageRequest, Rows, fetch_page
from empulse.models import AuditEvent


async def events_of(session: AsyncSession, user_id: uuid.UUID) -> list[AuditEvent]:
    """The security events recorded about the user, oldest first."""
    result = await session.scalars(
        select(AuditEvent).where(AuditEvent.user_id == user_id).order_by(AuditEvent.occurred_at)
    )
    return list(result)


async def unlink_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Keep the user's events without the link to the person: user id, IP and user agent."""
    await session.execute(
        update(AuditEvent)
        .where(AuditEvent.user_id == user_id)
        .values(user_id=None, ip=None, user_agent=None)
    )


async def list_events(
    session: AsyncSession,
    *,
    event: str | None,
    user_id: uuid.UUID | None,
    page: PageRequest,
) -> Rows[AuditEvent]:
    """Newest first, optionally of one kind or about one account (both indexed with the time)."""
    statement = select(AuditEvent)
    if event is not None:
        statement = statement.where(AuditEvent.event == event)
    if user_id is not None:
        statement = statement.where(AuditEvent.user_id == user_id)
    return await fetch_page(session, statement, NEWEST_EVENTS, page)


NEWEST_EVENTS = Order.newest_first(AuditEvent.occurred_at, AuditEvent.id)
