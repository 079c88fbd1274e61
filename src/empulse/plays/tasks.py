"""The plays' upkeep (`empulse/tasks.py`): qualified plays folded into the counters.

A play's request writes its ledger row and, when it qualifies, a tally beside it. Every few
seconds the job runner takes a batch of tallies, deletes them and adds their plays to their
tracks', albums' and artists' `play_count`, in one transaction: every play is counted exactly
once, a few seconds after it was recorded, the ledger's rows are never written again, and no
play waits for a counter row that every other play of a popular track (or artist) also
writes. Several runners fold different plays at once (`SKIP LOCKED`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.infra import jobs
from empulse.plays import repository
from empulse.services import Services


async def count_plays(services: Services, session: AsyncSession, now: datetime) -> int:
    plays = await repository.uncounted(session, jobs.BATCH)
    if plays:
        await repository.count(session, plays)
    return len(plays)
