"""The rate limiter's moving windows: in process (the embedded default, and the fallback while
Redis is down) and on Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import redis.asyncio as aioredis

from empulse.infra.ratelimit import RateLimiter
from tests.support.proxy import proxy_to


async def test_in_process_windows_forget_only_keys_whose_window_has_passed() -> None:
    """Memory stays bounded by the keys active within their windows, and pruning never lets a
    full key through early."""
    limiter = RateLimiter(redis_url=None)
    per_minute, per_day = RateLimiter.parse("5/minute"), RateLimiter.parse("10/day")
    for n in range(100):
        assert (await limiter.hit(per_minute, "login", [("ip", f"192.0.2.{n}")])).allowed
    for _ in range(10):
        assert (await limiter.hit(per_day, "submissions", [("user", "artist")])).allowed

    windows = limiter._local  # white box: what the process keeps
    windows._prune(time.monotonic() + 61)  # a minute later: the per-minute keys are history
    assert len(windows._windows) == 1
    refused = await limiter.hit(per_day, "submissions", [("user", "artist")])
    assert not refused.allowed
    assert 86_000 < refused.reset_after <= 86_400


async def test_concurrent_checks_on_redis_share_one_connection_and_stay_exact(
    redis_server_url: str,
) -> None:
    """Checks made while one is in flight go together, as one pipeline, so a process holds one
    limiter connection however many requests it serves; the window still counts each exactly:
    of 50 at once against 30 a minute, 30 pass."""
    prefix = f"test-{uuid.uuid4().hex}"
    limiter = RateLimiter(redis_url=redis_server_url, key_prefix=prefix)
    item = RateLimiter.parse("30/minute")
    admin = aioredis.from_url(redis_server_url)
    try:
        decisions = await asyncio.gather(
            *(
                limiter.hit(item, "burst", [("ip", "192.0.2.1"), ("user", str(n))])
                for n in range(50)
            )
        )
        clients = await admin.client_list()
        assert [c["name"] for c in clients].count(f"{prefix}-ratelimit") == 1
    finally:
        await limiter.aclose()
        await admin.aclose()
    assert sum(decision.allowed for decision in decisions) == 30
    refused = [decision for decision in decisions if not decision.allowed]
    assert {decision.refused_by for decision in refused} == {0}  # the shared address
    assert all(0 < decision.reset_after <= 60 for decision in refused)


async def test_the_script_is_loaded_again_after_redis_forgets_it(redis_server_url: str) -> None:
    """A Redis restart or failover loses loaded scripts; the next check loads it again."""
    limiter = RateLimiter(redis_url=redis_server_url, key_prefix=f"test-{uuid.uuid4().hex}")
    item = RateLimiter.parse("2/minute")
    admin = aioredis.from_url(redis_server_url)
    try:
        assert (await limiter.hit(item, "login", [("ip", "192.0.2.2")])).allowed
        await admin.script_flush()
        assert (await limiter.hit(item, "login", [("ip", "192.0.2.2")])).allowed
        assert not (await limiter.hit(item, "login", [("ip", "192.0.2.2")])).allowed
    finally:
        await limiter.aclose()
        await admin.aclose()


async def test_checks_queued_behind_a_stalled_one_fail_with_it(redis_server_url: str) -> None:
    """A silent Redis (a partition) costs each request at most one timeout: checks queued while
    the first waits for its answer fail with it instead of being sent after it, and the limiter
    lets them through (general limits fail open)."""
    host, port = redis_server_url.split("//", 1)[1].split("/", 1)[0].split(":")
    item = RateLimiter.parse("100/minute")
    with proxy_to(host, int(port)) as proxy:
        limiter = RateLimiter(
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            key_prefix=f"test-{uuid.uuid4().hex}",
            timeout=0.5,
        )
        try:
            assert (await limiter.hit(item, "default", [("ip", "192.0.2.3")])).allowed
            proxy.freeze()
            first = asyncio.create_task(limiter.hit(item, "default", [("ip", "192.0.2.3")]))
            # The first check is on the wire and unanswered before the second is made.
            assert await asyncio.to_thread(proxy.dropped.wait, 5)
            second = asyncio.create_task(limiter.hit(item, "default", [("ip", "192.0.2.4")]))
            assert [d.allowed for d in await asyncio.gather(first, second)] == [True, True]
            assert proxy.connections == 1  # the second was never sent on a new connection
        finally:
            proxy.freeze(False)
            await limiter.aclose()
