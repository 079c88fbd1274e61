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

from empulse.plays import repository
from empulse.services import Services

# Tallies a fold takes in one transaction. What a fold costs is its counter rows, not its plays:
# a track's or an album's counter update writes a new entry into each of the row's indexes,
# the full-text one among them (about 0.1 ms of PostgreSQL's time a row), however many plays
# it adds. So the more plays a transaction folds, the more of them share a row: 30,000 plays
# of 1,000 tracks cost PostgreSQL 140-160 µs a play folded 1,000 at a time, 27-30 µs 10,000 at
# a time (docs/performance.md, "The counters' fold"). A fold holds its counter rows locked
# until it commits, a fraction of a second at this size.
FOLD_BATCH = 10_000


async def count_plays(services: Services, session: AsyncSession, now: datetime) -> int:
    plays = await repository.uncounted(session, FOLD_BATCH)
    if plays:
        await repository.count(session, plays)
    return len(plays)
