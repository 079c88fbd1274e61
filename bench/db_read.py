"""CPU per primary-key-shaped read through each layer of SQLAlchemy's async engine, on asyncpg.

    uv run python -m bench.db_read [--reads 5000] [--rounds 2]

One statement, `SELECT 1 WHERE $1::uuid IS NOT NULL`, read one at a time in process with the
process's CPU clock: through `engine.connect()` and `execute()` (the ordinary path), through the
raw driver connection inside `engine.connect()`, through asyncpg's own pool, and through
`engine.raw_connection()` (what `core/db.HotRead` does). Needs PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import greenlet_spawn
from tests.support.services import postgres_admin_url, postgres_available

SQL = "SELECT 1 WHERE $1::uuid IS NOT NULL"


async def main(reads: int, rounds: int) -> None:
    url = postgres_admin_url()
    engine = create_async_engine(
        url.replace("postgresql://", "postgresql+asyncpg://", 1),
        pool_size=4,
        max_overflow=0,
        isolation_level="AUTOCOMMIT",
    )
    pool = await asyncpg.create_pool(url, min_size=4, max_size=4)
    value = uuid.uuid4()
    ordinary = text("SELECT 1 WHERE CAST(:value AS uuid) IS NOT NULL")

    async def execute() -> None:
        async with engine.connect() as connection:
            await connection.execute(ordinary, {"value": value})

    async def driver_inside_connect() -> None:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.fetchrow(SQL, value)  # type: ignore[union-attr]

    async def asyncpg_pool() -> None:
        async with pool.acquire() as connection:
            await connection.fetchrow(SQL, value)

    async def raw_connection() -> None:
        raw = await engine.raw_connection()
        try:
            await raw.driver_connection.fetchrow(SQL, value)  # type: ignore[union-attr]
        finally:
            await greenlet_spawn(raw.close)

    paths: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("engine.connect() + execute() (the ordinary path)", execute),
        ("engine.connect() + get_raw_connection() + fetchrow", driver_inside_connect),
        ("asyncpg pool acquire() + fetchrow", asyncpg_pool),
        ("engine.raw_connection() + fetchrow (HotRead)", raw_connection),
    ]
    try:
        for _ in range(rounds):
            for name, read in paths:
                for _ in range(200):
                    await read()
                started = time.process_time()
                for _ in range(reads):
                    await read()
                cpu = (time.process_time() - started) / reads
                print(f"{name}: {cpu * 1e6:,.1f} µs of CPU per read")
    finally:
        await pool.close()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not postgres_available():
        raise SystemExit("PostgreSQL is needed for this benchmark")
    asyncio.run(main(args.reads, args.rounds))
