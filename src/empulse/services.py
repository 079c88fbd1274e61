"""Process-wide resources built at start-up, and the FastAPI dependencies that hand them out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from empulse.config import Settings
from empulse.core.db import create_engine, create_sessionmaker, session_scope
from empulse.infra.ratelimit import RateLimiter
from empulse.infra.storage import Storage, create_storage


@dataclass(slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    rate_limiter: RateLimiter
    rate_limit_items: dict[str, RateLimitItem]
    storage: Storage
    # Set when SIGTERM arrives: readiness answers 503 while in-flight requests finish.
    draining: bool = field(default=False)

    async def aclose(self) -> None:
        await self.engine.dispose()


def build_services(settings: Settings) -> Services:
    engine = create_engine(settings)
    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        rate_limiter=RateLimiter(
            redis_url=settings.redis_url,
            key_prefix=settings.redis_key_prefix,
            timeout=settings.redis_timeout,
            enabled=settings.rate_limits_enabled,
        ),
        rate_limit_items={
            name: RateLimiter.parse(limit) for name, limit in settings.rate_limits.items()
        },
        storage=create_storage(settings),
    )


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(get_services(request).sessionmaker):
        yield session


# The commit runs when the endpoint function returns, before the response is sent (scope
# "function"), so a client never sees a success for a write that did not commit.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
AppServices = Annotated[Services, Depends(get_services)]
