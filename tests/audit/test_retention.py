"""Security events are kept for as long as the operator says (`AUDIT_KEEP_DAYS`), and for ever
when they say nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from empulse.core.db import utcnow
from empulse.models import AuditEvent
from tests.conftest import Backend, Harness


async def _events_of_age(harness: Harness) -> list[str]:
    services = harness.app.state.services
    async with services.sessionmaker() as session:
        session.add_all(
            AuditEvent(event=f"aged_{days}", occurred_at=utcnow() - timedelta(days=days))
            for days in (400, 31, 29, 0)
        )
        await session.commit()
    await services.job_runner.prune()
    async with services.sessionmaker() as session:
        events = await session.scalars(
            select(AuditEvent.event).where(AuditEvent.event.startswith("aged_"))
        )
        return sorted(events)


@pytest.mark.parametrize(
    ("keep_days", "kept"),
    [
        (None, ["aged_0", "aged_29", "aged_31", "aged_400"]),
        ("30", ["aged_0", "aged_29"]),
    ],
    ids=["unset", "30 days"],
)
async def test_events_older_than_the_retention_are_removed(
    keep_days: str | None,
    kept: list[str],
    backend: Backend,
    make_client: Callable[..., Any],
) -> None:
    settings = {"AUDIT_KEEP_DAYS": keep_days} if keep_days else {}
    harness: Harness = await make_client(backend, **settings)
    assert await _events_of_age(harness) == kept
