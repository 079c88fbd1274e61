"""Clean-up of what sign-in leaves behind: ended sessions (with their refresh tokens) and spent
verification and reset links. Run by the job runners about once an hour (`empulse/tasks.py`).

A session row is kept for a week past its absolute expiry, so that a refresh token replayed
from an ended session is still recognised (and logged) as reuse for that long; its refresh
tokens go with it (ON DELETE CASCADE). Revoked sessions are kept until the same point: their
expiry bounds them (at most `REFRESH_TOKEN_DAYS`). Links are kept a day past their expiry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.infra import jobs
from empulse.models import ActionToken, AuthSession

KEEP_ENDED_SESSIONS = timedelta(days=7)
KEEP_SPENT_LINKS = timedelta(days=1)


async def remove_ended_sessions(_: object, session: AsyncSession, now: datetime) -> int:
    return await jobs.delete_batch(
        session, AuthSession, AuthSession.expires_at < now - KEEP_ENDED_SESSIONS
    )


async def remove_spent_links(_: object, session: AsyncSession, now: datetime) -> int:
    return await jobs.delete_batch(
        session, ActionToken, ActionToken.expires_at < now - KEEP_SPENT_LINKS
    )
