"""The in-process moving windows: the embedded default, and the fallback while Redis is down."""

from __future__ import annotations

import time

from empulse.infra.ratelimit import RateLimiter


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
