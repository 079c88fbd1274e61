"""What sign-in leaves behind is removed once it can no longer matter: sessions a week past
their absolute expiry (with their refresh tokens), and links a day past theirs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from empulse.core.db import utcnow
from empulse.models import ActionToken, AuthSession, RefreshToken, User
from tests.auth.helpers import bearer, register, signed_in
from tests.conftest import Backend, Harness


async def _left(harness: Harness, model: Any, *where: Any) -> int:
    async with harness.app.state.services.sessionmaker() as session:
        statement = select(func.count()).select_from(model).where(*where)
        return int(await session.scalar(statement) or 0)


async def _expire(harness: Harness, email: str, model: Any, ago: timedelta) -> None:
    async with harness.app.state.services.sessionmaker() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email))
        await session.execute(
            update(model).where(model.user_id == user_id).values(expires_at=utcnow() - ago)
        )
        await session.commit()


async def test_ended_sessions_and_spent_links_are_removed_and_the_rest_kept(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    await signed_in(harness, "long-gone@example.com")
    await signed_in(harness, "lately@example.com")
    live = await signed_in(harness, "live@example.com")
    for email in ("stale-link@example.com", "fresh-link@example.com"):
        assert (await register(harness, email)).status_code == 202
    await _expire(harness, "long-gone@example.com", AuthSession, timedelta(days=8))
    await _expire(harness, "lately@example.com", AuthSession, timedelta(days=1))
    await _expire(harness, "stale-link@example.com", ActionToken, timedelta(days=2))
    refresh_tokens, links = await _left(harness, RefreshToken), await _left(harness, ActionToken)

    removed = await harness.app.state.services.job_runner.prune()

    assert removed == 2  # the long-gone session (its refresh token goes with it), one link
    assert await _left(harness, AuthSession) == 2
    assert await _left(harness, RefreshToken) == refresh_tokens - 1
    assert await _left(harness, ActionToken) == links - 1  # only the stale one
    assert (await harness.client.get("/api/v1/auth/me", headers=bearer(live))).status_code == 200
