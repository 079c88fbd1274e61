"""The plays' upkeep (`empulse/tasks.py`): qualified plays folded into the counters, and the
counters copied into the popularity that the catalog's orders read.

A play's request writes its ledger row and, when it qualifies, a tally beside it. Every few
seconds the job runner takes a batch of tallies, deletes them and adds their plays to their
tracks', albums' and artists' `play_count`, in one transaction: every play is counted exactly
once, a few seconds after it was recorded, the ledger's rows are never written again, and no
play waits for a counter row that every other play of a popular track (or artist) also
writes. Several runners fold different plays at once (`SKIP LOCKED`).

The counts are in no index, so the fold's updates write none (on PostgreSQL they are HOT). The
popularity orders, and the indexes that serve them, read `popularity` instead: every minute a
pass copies the count of each track and album whose count moved, so the orders lag the counts
by at most that (models/catalog.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.models import Album, Track
from empulse.plays import repository
from empulse.services import Services

# Tallies a fold takes in one transaction. What a fold costs is mostly its counter rows, not its
# plays, so the more plays a transaction folds, the more of them share a row (docs/
# performance.md, "The counters' fold"). A fold holds its counter rows locked until it
# commits, a fraction of a second at this size.
FOLD_BATCH = 10_000

# How often the counts are copied into `popularity` (seconds; one runner of the cluster makes
# each pass: infra/jobs.py), and how many rows a transaction of that pass looks at. A row
# whose count moved is written once a pass however many plays it had, with a new entry in each
# of its indexes.
POPULARITY_EVERY = 60.0
POPULARITY_STEP = 10_000
_POPULAR: dict[str, type[Track | Album]] = {"tracks": Track, "albums": Album}


async def count_plays(services: Services, session: AsyncSession, now: datetime) -> int:
    plays = await repository.uncounted(session, FOLD_BATCH)
    if plays:
        await repository.count(session, plays)
    return len(plays)


Cursor = tuple[str, uuid.UUID | None]  # the table, and the last id a step looked at


async def refresh_popularity(
    services: Services, session: AsyncSession, now: datetime, cursor: Cursor | None
) -> tuple[int, Cursor | None]:
    """A step of the popularity pass: the tracks, then the albums, `POPULARITY_STEP` rows by
    id a transaction."""
    table, after = cursor or ("tracks", None)
    changed, last = await repository.refresh_popularity(
        session, _POPULAR[table], after, POPULARITY_STEP
    )
    if last is not None:
        return changed, (table, last)
    tables = list(_POPULAR)
    following = tables.index(table) + 1
    return changed, (tables[following], None) if following < len(tables) else None
