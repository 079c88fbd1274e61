"""Rate limiting: an exact moving window per key, on Redis when configured (global across
processes), in process otherwise.

A moving window is exact: a burst at a window boundary cannot double the limit, unlike fixed or
approximated sliding windows. Each key keeps the times of its last `limit` counted requests; a
request is refused while the oldest of them is younger than the window.

A request is usually counted under several keys at once (its address and its user, or its
address and the email it names). They are checked and counted together: a request refused by one
key counts under none, and on Redis one Lua script does it all in a single round trip, whatever
the number of keys (the script reads the clock of Redis, so processes with skewed clocks share
one window). Limits are written in the `limits` library's notation ("5/minute"), which parses
them.

Written here rather than taken from `limits`, whose algorithms the project used before: it
counts one key per call, each a Redis round trip of its own (~150 µs of CPU apiece), and cannot
count several keys as one decision or send concurrent checks together. The window is the same
algorithm as its moving window (a capped list of timestamps per key), in ~20 lines of Lua.

What this module adds to the algorithm is the behaviour when Redis fails: the check never
raises. Depending on the limit's policy, the request is let through (fail open, for general
routes) or counted by the in-process windows instead (for authentication throttles, SECURITY.md
"Faults"). Either way the failure is logged and counted, and Redis is not asked again for a
short back-off, so an outage does not add a timeout to every request.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from redis.exceptions import NoScriptError

from empulse.core import metrics
from empulse.core.coalesce import Coalescer
from empulse.core.logging import get_logger

log = get_logger("empulse.ratelimit")

_BACKOFF_SECONDS = 2.0
_PRUNE_EVERY_HITS = 10_000

# KEYS: the request's counters. ARGV: limit, window in seconds. Returns {0, 0} when counted, or
# {n, ms} when the n-th key (from 1) refused it and has room again in ms milliseconds.
_MOVING_WINDOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
for index, key in ipairs(KEYS) do
    local oldest = redis.call('LINDEX', key, limit - 1)
    if oldest and tonumber(oldest) > now - window then
        return {index, math.ceil((tonumber(oldest) + window - now) * 1000)}
    end
end
local stamp = string.format('%.6f', now)
for _, key in ipairs(KEYS) do
    redis.call('LPUSH', key, stamp)
    redis.call('LTRIM', key, 0, limit - 1)
    redis.call('EXPIRE', key, math.ceil(window))
end
return {0, 0}
"""


class OnBackendError(StrEnum):
    ALLOW = "allow"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    reset_after: int = 0  # seconds until the refusing key has room again (0 when allowed)
    refused_by: int | None = None  # which of the keys refused

    @property
    def retry_after(self) -> int:
        return max(1, self.reset_after)


# A refusal: the index of the refusing key, and the seconds until it has room again.
_Refusal = tuple[int, float]
# A call for Redis: its keys, and (limit, window).
_Call = tuple[list[str], tuple[int, float]]
# Checks a pipeline carries at most (a process's concurrent requests, and then some).
_MOST_A_PIPELINE = 256


class _LocalWindows:
    """Moving windows in this process's memory (the embedded default, and the fallback for
    authentication limits while Redis is down). Checking and counting never yield to the event
    loop, so concurrent requests cannot both take the last place."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, deque[float]]] = {}
        self._hits = 0

    def hit(self, keys: Sequence[str], limit: int, window: float) -> _Refusal | None:
        now = time.monotonic()
        for index, key in enumerate(keys):
            found = self._windows.get(key)
            if found is not None:
                entries = found[1]
                if len(entries) == limit and entries[0] > now - window:
                    return index, entries[0] + window - now
        for key in keys:
            found = self._windows.get(key)
            if found is None:
                # The key names the limit, so one key always has one limit and one window.
                found = self._windows[key] = (window, deque(maxlen=limit))
            found[1].append(now)
        self._hits += 1
        if self._hits % _PRUNE_EVERY_HITS == 0:
            self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        """Forget keys whose last request has left their window (memory stays bounded by the
        keys active within their windows)."""
        windows = self._windows
        stale = [key for key, (window, entries) in windows.items() if entries[-1] <= now - window]
        for key in stale:
            del self._windows[key]


class _RedisWindows:
    """The moving-window script on Redis, with concurrent calls coalesced (core/coalesce.py):
    a call made while none is in flight is sent at once; calls made while one is in flight
    wait for it and then go together, as one pipeline. Under load a round trip then serves
    many requests (redis-py spends ~100 µs of CPU on each command it sends alone, ~30 µs on
    each of 16 pipelined), and at low load no call waits for another. When the connection
    fails or times out, the calls queued behind fail with the one in flight rather than wait
    for a timeout of their own."""

    def __init__(self, url: str, timeout: float, name: str) -> None:
        self._client = aioredis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, client_name=name
        )
        self._sha = hashlib.sha1(_MOVING_WINDOW.encode()).hexdigest()  # noqa: S324 - Redis's id
        self._calls = Coalescer(self._run, most=_MOST_A_PIPELINE, fail_queued=True)

    async def hit(self, keys: Sequence[str], limit: int, window: float) -> _Refusal | None:
        index, reset_ms = await self._calls((list(keys), (limit, window)))
        return None if index == 0 else (int(index) - 1, int(reset_ms) / 1000)

    async def _run(self, batch: list[_Call]) -> list[Any]:
        replies = await self._pipeline(batch)
        missing = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            # Redis restarted, failed over or flushed its scripts: load it, and send again the
            # calls it refused (only those: the others have been counted).
            await self._client.script_load(_MOVING_WINDOW)
            again = await self._pipeline([batch[n] for n in missing])
            for n, reply in zip(missing, again, strict=True):
                replies[n] = reply
        return replies

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, (limit, window) in batch:
                pipe.evalsha(self._sha, len(keys), *keys, limit, window)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    async def ping(self) -> None:
        await self._client.ping()

    async def aclose(self) -> None:
        await self._calls.aclose()
        await self._client.aclose()


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
        self._local = _LocalWindows()
        self._shared = (
            _RedisWindows(redis_url, timeout, f"{key_prefix}-ratelimit") if redis_url else None
        )
        self._prefix = f"{key_prefix}:rl:"
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
        name: str,
        keys: Sequence[tuple[str, str]],
        *,
        on_backend_error: OnBackendError = OnBackendError.ALLOW,
    ) -> Decision:
        """Count one request against the limit `name` (`item`) under every (kind, value) key,
        or under none if one of them is full; never raises for a store outage."""
        if not self.enabled or not keys:
            return Decision(True, item.amount)
        limit, window = item.amount, item.get_expiry()
        # The limit is part of the key: a changed limit starts afresh rather than misreading
        # a window kept for another.
        names = [f"{name}:{limit}/{window}:{kind}:{value}" for kind, value in keys]
        if self._shared is not None:
            if time.monotonic() >= self._shared_down_until:
                try:
                    shared_keys = [self._prefix + key for key in names]
                    refusal = await self._shared.hit(shared_keys, limit, window)
                    return _decision(limit, refusal)
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
                return Decision(True, limit)
        return _decision(limit, self._local.hit(names, limit, window))

    async def ping(self) -> None:
        """Raise when the shared store does not answer (readiness)."""
        if self._shared is None:
            return
        await self._shared.ping()
        self._shared_down_until = 0.0

    async def aclose(self) -> None:
        if self._shared is not None:
            await self._shared.aclose()


def _decision(limit: int, refusal: _Refusal | None) -> Decision:
    if refusal is None:
        return Decision(True, limit)
    index, seconds = refusal
    return Decision(False, limit, reset_after=math.ceil(max(0.0, seconds)), refused_by=index)
