"""The audit log of security events: who, when, from where, under which request. Never secrets."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.audit import repository
from empulse.core import metrics
from empulse.core.db import utcnow
from empulse.models import AuditEvent


class _Request(Protocol):
    """What `RequestMeta.of` reads of an HTTP request (Starlette's, or any alike)."""

    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def state(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Where a request came from, as the audit log records it."""

    ip: str | None
    user_agent: str | None
    request_id: str | None

    @classmethod
    def of(cls, request: _Request) -> RequestMeta:
        """From an HTTP request: its client address and id (set by web/context) and agent."""
        agent = request.headers.get("user-agent")
        return cls(
            ip=getattr(request.state, "client_ip", None),
            user_agent=agent[:400] if agent else None,
            request_id=getattr(request.state, "request_id", None),
        )


def record(
    session: AsyncSession,
    event: str,
    meta: RequestMeta,
    *,
    user_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    """Add the event to the request's unit of work: it is kept if the request commits."""
    session.add(new_event(event, meta, user_id=user_id, **details))
    counted(event)


def new_event(
    event: str, meta: RequestMeta, *, user_id: uuid.UUID | None = None, **details: Any
) -> AuditEvent:
    """The record of an event, every column set, for a caller that writes it by itself (see
    `auth.repository.record_sign_in`); `counted` once it is written."""
    return AuditEvent(
        id=uuid.uuid4(),
        occurred_at=utcnow(),
        event=event,
        user_id=user_id,
        ip=meta.ip,
        user_agent=meta.user_agent,
        request_id=meta.request_id,
        details=details,
    )


def counted(event: str) -> None:
    metrics.SECURITY_EVENTS.labels(event).inc()


async def forget_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Keep a deleted user's security history without the link to the person."""
    await repository.unlink_user(session, user_id)
