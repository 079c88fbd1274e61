"""The rate limiter's own CPU cost on Redis, per request counted under two keys (an address and
a user), in this process: the service's limiter (one script for both keys) against the `limits`
library's moving window called once per key.

    uv run python -m bench.ratelimit [--calls 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from tests.support.services import redis_available, redis_url

from empulse.infra.ratelimit import RateLimiter


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _per_call_us(calls: int, call: Callable[[], Awaitable[object]]) -> float:
    await call()  # connect, load the script
    started = _cpu_seconds()
    for _ in range(calls):
        await call()
    return (_cpu_seconds() - started) / calls * 1e6


async def _main(calls: int) -> None:
    prefix = f"bench-ratelimit-{os.getpid()}"
    item = RateLimiter.parse("1000000000/minute")
    ours = RateLimiter(redis_url=redis_url(), key_prefix=prefix)
    keys = [("ip", "192.0.2.1"), ("user", "0b5e4a8c")]
    library = MovingWindowRateLimiter(
        RedisStorage(
            "async+" + redis_url(), implementation="redispy", key_prefix=f"{prefix}:library"
        )
    )

    async def service_two_keys() -> None:
        await ours.hit(item, "default", keys)

    async def library_two_keys() -> None:
        for kind, value in keys:
            await library.hit(item, "default", kind, value)

    try:
        rows = [
            ("the service's limiter, both keys in one script", service_two_keys),
            ("`limits` moving window, once per key", library_two_keys),
        ]
        print("| per request (two keys) | client CPU µs |")
        print("|---|---|")
        for label, call in rows:
            print(f"| {label} | {await _per_call_us(calls, call):.0f} |", flush=True)
    finally:
        await ours.aclose()
        client = aioredis.from_url(redis_url())
        async for key in client.scan_iter(match=f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    if not redis_available():
        sys.exit("Redis is needed for this benchmark (REDIS_URL or 127.0.0.1:6379)")
    asyncio.run(_main(args.calls))


if __name__ == "__main__":
    main()
