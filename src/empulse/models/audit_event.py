from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, utcnow


class AuditEvent(Base):
    """A security event. Never holds secrets; after an account is deleted its rows keep the
    event and time but lose the user id (the record outlives the personal data)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_user_id_occurred_at", "user_id", "occurred_at"),
        # Listing one kind of event, newest first (GET /admin/audit-events?event=).
        Index("ix_audit_events_event_occurred_at", "event", "occurred_at"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(48))
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(400), default=None)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
