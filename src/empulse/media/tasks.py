"""The media pipeline's hourly clean-up (`empulse/tasks.py`): a pipeline left `running` by a
worker that died, after the job queue had settled its job (a second delivery found the hold
still live and stood down), is queued again. A run whose job is still alive takes its file over
by itself once the hold lapses; this catches the rest."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.infra import jobs
from empulse.media import repository, service
from empulse.services import Services

# Far past a hold (60 s) and the job queue's own retry of a dead worker's job.
STALLED_AFTER = timedelta(minutes=15)


async def requeue_stalled(services: Services, session: AsyncSession, now: datetime) -> int:
    stalled = await repository.stalled(session, now - STALLED_AFTER, jobs.BATCH - 1)
    return await service.queue(session, stalled)
