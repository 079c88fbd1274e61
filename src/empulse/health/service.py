"""Readiness: can this process serve requests that need the database, Redis and storage?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import text

from empulse.config import Severity, check_settings
from empulse.core import metrics
from empulse.core.db import utcnow
from empulse.core.logging import get_logger
from empulse.health.schemas import ConfigCheckOut, DependencyCheck, Readiness, StartupCheck
from empulse.jobs import repository as jobs
from empulse.services import Services

log = get_logger("empulse.health")

CHECK_TIMEOUT_SECONDS = 2.0


async def _timed(probe: Callable[[], Awaitable[object]]) -> DependencyCheck:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await probe()
    except Exception as exc:  # a probe reports any failure; it never raises
        error = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        return DependencyCheck(
            ok=False, latency_ms=round((time.perf_counter() - started) * 1000, 2), error=error
        )
    return DependencyCheck(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def check_readiness(services: Services) -> Readiness:
    async def database() -> None:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    probes: dict[str, Callable[[], Awaitable[object]]] = {
        "database": database,
        "storage": services.storage.check,
    }
    if services.rate_limiter.uses_redis:
        probes["redis"] = services.rate_limiter.ping
    results = await asyncio.gather(*(_timed(probe) for probe in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    if services.draining:
        status = "draining"
    elif all(check.ok for check in results):
        status = "ready"
    else:
        status = "not_ready"
    return Readiness(status=status, checks=checks)


def startup_check(services: Services) -> StartupCheck:
    checks = check_settings(services.settings)
    return StartupCheck(
        mode=services.settings.env.value,
        ok=all(check.severity is not Severity.ERROR for check in checks),
        checks=[
            ConfigCheckOut(name=check.name, status=check.severity.value, detail=check.detail)
            for check in checks
        ],
    )


async def job_queue(services: Services) -> metrics.JobQueue | None:
    """Jobs by status (not `done`), the wait of the oldest due pending job, and how late each
    periodic upkeep is and what its last run handled; None if the database does not answer
    (the rest of /metrics is still served)."""
    now = utcnow()
    try:
        async with services.read_sessionmaker() as session:
            counts = await jobs.count_by_status(session, metrics.JOB_STATUSES)
            oldest = await jobs.oldest_due(session, now)
            schedules = await jobs.schedules(session)
    except Exception as exc:  # a metrics scrape must not fail with the database
        log.warning("job_queue_metrics_failed", error=type(exc).__name__)
        return None
    waited = (now - oldest).total_seconds() if oldest is not None else 0.0
    return metrics.JobQueue(
        counts=counts,
        oldest_due_seconds=max(waited, 0.0),
        upkeep=[
            metrics.Upkeep(
                name=schedule.name,
                overdue_seconds=max((now - schedule.due_at).total_seconds(), 0.0),
                handled=schedule.handled,
            )
            for schedule in schedules
        ],
    )
