"""Rate limiting on the `limits` library: Redis when configured (global across processes), in
process otherwise.

The algorithm is the library's moving window (exact: a burst at a window boundary cannot
double the limit, unlike fixed or approximated sliding windows). What this module adds is the
behaviour when Redis fails: the check never raises. Depending on the limit's policy, the
request is let through (fail open, for general routes) or counted by an in-process limiter
instead (for authentication throttles, SECURITY.md "Faults"). Either way the failure is logged
and counted, and Redis is not asked again for a short back-off, so an outage does not add a
timeout to every request.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import StrEnum

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from empulse.core import metrics
from empulse.core.logging import get_logger

log = get_logger("empulse.ratelimit")

_BACKOFF_SECONDS = 2.0


class OnBackendError(StrEnum):
    ALLOW = "allow"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    # Known only for refusals: reading the window back costs a second round trip to Redis,
    # which an allowed request does not pay.
    remaining: int | None
    reset_after: int  # seconds until the window has room again (0 when allowed)

    @property
    def retry_after(self) -> int:
        return max(1, self.reset_after)


class RateLimiter:
    def __init__(
        self,
        *,
        redis_url: str | None,
        key_prefix: str = "empulse",
        timeout: float = 0.5,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        self._shared_storage: Storage | None = None
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            self._shared_storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=f"{key_prefix}:rl",
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
            self._shared = MovingWindowRateLimiter(self._shared_storage)
        self._shared_down_until = 0.0

    @property
    def uses_redis(self) -> bool:
        return self._shared is not None

    @staticmethod
    def parse(limit: str) -> RateLimitItem:
        return parse(limit)

    async def hit(
        self,
        item: RateLimitItem,
        *identifiers: str,
        on_backend_error: OnBackendError = OnBackendError.ALLOW,
    ) -> Decision:
        """Count one request against `item` for `identifiers`; never raises for a store outage."""
        if not self.enabled:
            return Decision(True, item.amount, None, 0)
        strategy = self._local
        if self._shared is not None:
            if time.monotonic() >= self._shared_down_until:
                try:
                    return await self._hit(self._shared, item, identifiers)
                except Exception as exc:  # any store failure: connection, timeout, script error
                    self._shared_down_until = time.monotonic() + _BACKOFF_SECONDS
                    metrics.RATE_LIMIT_BACKEND_ERRORS.inc()
                    log.warning(
                        "rate_limit_store_unavailable",
                        error=type(exc).__name__,
                        policy=on_backend_error.value,
                    )
            else:
                metrics.RATE_LIMIT_BACKEND_ERRORS.inc()
            if on_backend_error is OnBackendError.ALLOW:
                return Decision(True, item.amount, None, 0)
            strategy = self._local
        return await self._hit(strategy, item, identifiers)

    @staticmethod
    async def _hit(
        strategy: MovingWindowRateLimiter,
        item: RateLimitItem,
        identifiers: tuple[str, ...],
    ) -> Decision:
        if await strategy.hit(item, *identifiers):
            return Decision(True, item.amount, None, 0)
        stats = await strategy.get_window_stats(item, *identifiers)
        reset_after = math.ceil(max(0.0, stats.reset_time - time.time()))
        return Decision(False, item.amount, max(0, stats.remaining), reset_after)

    async def ping(self) -> None:
        """Raise when the shared store does not answer (readiness)."""
        if self._shared_storage is None:
            return
        if not await self._shared_storage.check():
            raise ConnectionError("redis did not answer")
        self._shared_down_until = 0.0

    async def reset(self) -> None:
        """Forget every counter (tests and the CLI's maintenance commands)."""
        await self._local.storage.reset()
        if self._shared_storage is not None:
            await self._shared_storage.reset()
