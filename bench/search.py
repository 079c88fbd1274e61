"""Search at a million tracks on PostgreSQL: the service against the naive way.

    uv run python -m bench.search [--duration 10] [--connections 16] [--workers 1]
                                  [--tracks 1000000] [--keep]

Fills a fresh `empulse_bench` database with bench/catalog_data.py (`--keep` reuses one a
previous run filled; the search index is filled by its triggers as the rows go in), then
drives with wrk at 16 connections, on the service (`GET /api/v1/search`) and on
bench/search_floor.py (`ILIKE '%word%'` over the joined tables), in the same run: a one-word
prefix, two words, a typo, an artist's name, and a query with no match. Prints p50 and p99 and
throughput of each, with the ratio to the naive reference. Needs wrk and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
from tests.support.services import postgres_admin_url

from bench.catalog import ensure_catalog
from bench.catalog_data import row_id
from bench.run import (
    Case,
    against_floor,
    bench_env,
    print_against_floor,
)


async def _artist_name(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(
            await connection.fetchval("SELECT name FROM artists WHERE id = $1", row_id("a", 777))
        )
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="reuse a filled empulse_bench")
    args = parser.parse_args()

    bench_url = postgres_admin_url().rsplit("/", 1)[0] + "/empulse_bench"
    data_dir = Path(tempfile.mkdtemp(prefix="empulse-bench-"))
    env = bench_env(bench_url, data_dir, args.connections)
    bench_url = ensure_catalog(bench_url, env, args.tracks, args.keep)
    artist = asyncio.run(_artist_name(bench_url))
    cases = [
        ("one-word prefix", "lant", "track"),
        ("two words", "night drive", "track"),
        ("a typo", "lantrens", "track"),
        ("an artist's name", artist, "artist"),
        ("no match", "zqxjv", "track"),
    ]
    print(
        f"PostgreSQL, {args.tracks:,} tracks; wrk -t1 -c{args.connections} -d{args.duration}s; "
        f"{args.workers} worker(s); {os.cpu_count()} CPUs",
        flush=True,
    )
    measured: list[Case] = []
    for name, query, kind in cases:
        params = urlencode({"q": query, "type": kind})
        measured.append(
            (f"{name}: {query!r}", f"/api/v1/search?{params}", [], f"/naive?{params}", [])
        )
    rows = against_floor(
        measured,
        "bench.search_floor:create_app",
        env,
        args.workers,
        args.duration,
        args.connections,
    )
    print_against_floor("query", rows)


if __name__ == "__main__":
    main()
