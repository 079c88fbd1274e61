"""The search's hourly upkeep (`empulse/tasks.py`): SQLite's statistics.

SQLite keeps no statistics by itself, and without them its planner takes an equality on a
list's leading column (`status = 'published'`) for a selective one: a search's few matched ids
were then found by walking the popularity index past every published track (40 ms at 100,000
tracks) rather than looked up by key (1 ms). `ANALYZE`, sampling each index
(`analysis_limit`), takes about 20 ms at that size; it runs when the job runner starts and
hourly. PostgreSQL's autovacuum analyses its tables by itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.services import Services

# Rows ANALYZE reads from each index: enough for the planner's row estimates.
SAMPLED_ROWS = 1000


async def refresh_statistics(services: Services, session: AsyncSession, now: datetime) -> int:
    if session.get_bind().dialect.name != "sqlite":
        return 0
    await session.execute(text(f"PRAGMA analysis_limit = {SAMPLED_ROWS}"))
    await session.execute(text("ANALYZE"))
    return 0
