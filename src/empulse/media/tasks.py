"""The media pipeline's hourly clean-ups (`empulse/tasks.py`). A pipeline left `running` by a
worker that died, after the job queue had settled its job (a second delivery found the hold
still live and stood down), is queued again: a run whose job is still alive takes its file over
by itself once the hold lapses; this catches the rest. Working folders that no run can still be
using (a killed worker's) are removed from this machine's disk.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.infra import jobs
from empulse.media import repository, service
from empulse.services import Services

# Far past a hold (60 s) and the job queue's own retry of a dead worker's job.
STALLED_AFTER = timedelta(minutes=15)


async def requeue_stalled(services: Services, session: AsyncSession, now: datetime) -> int:
    stalled = await repository.stalled(session, now - STALLED_AFTER, jobs.BATCH - 1)
    return await service.queue(session, stalled)


async def sweep_work(services: Services, session: AsyncSession, now: datetime) -> int:
    # A run is refused at its deadline; past that and a hold, its folder is nobody's.
    unused_for = service.RUN_DEADLINE_SECONDS + 2 * service.HOLD.total_seconds()
    removed: int = await anyio.to_thread.run_sync(service.sweep_work, unused_for)
    return removed
