"""Where the suite finds PostgreSQL and Redis, and whether it must."""

from __future__ import annotations

import asyncio
import os
import socket
from functools import cache

import asyncpg
import redis

REQUIRE_SERVICES = os.environ.get("EMPULSE_REQUIRE_SERVICES", "").lower() in ("1", "true", "yes")


def postgres_admin_url() -> str:
    return os.environ.get(
        "EMPULSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def redis_url() -> str:
    return os.environ.get("EMPULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@cache
def postgres_available() -> bool:
    async def probe() -> None:
        connection = await asyncpg.connect(postgres_admin_url(), timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


@cache
def redis_available() -> bool:
    try:
        client = redis.Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
