"""Search at a million tracks on PostgreSQL: the service against the naive way.

    uv run python -m bench.search [--duration 10] [--connections 16] [--workers 1]
                                  [--tracks 1000000] [--keep] [--sqlite]

Fills a fresh `empulse_bench` database with bench/catalog_data.py (`--keep` reuses one a
previous run filled; the search index is filled by its triggers as the rows go in), then
drives with wrk at 16 connections, on the service (`GET /api/v1/search`) and on
bench/search_floor.py (`ILIKE '%word%'` over the joined tables), in the same run: a one-word
prefix, two words, a typo, an artist's name, and a query with no match. Prints p50 and p99 and
throughput of each, with the ratio to the naive reference. Needs wrk and PostgreSQL.
`--sqlite`: the embedded default instead, a fresh SQLite file of 100,000 tracks (the same rows,
bench/catalog_data.fill_sqlite), and the naive reference on SQLite's `LIKE`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from urllib.parse import urlencode

import asyncpg

from bench.catalog import catalog_bench
from bench.catalog_data import row_id
from bench.run import (
    Case,
    against_floor,
    print_against_floor,
)


async def _artist_name(url: str, artists: int) -> str:
    """The name of one of the generated artists (the 777th, or the last of a smaller catalog)."""
    n = min(777, artists)
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as local:
            row = local.execute(
                "SELECT name FROM artists WHERE id = ?", (row_id("a", n).hex,)
            ).fetchone()
        name = row[0] if row else None
    else:
        connection = await asyncpg.connect(url)
        try:
            name = await connection.fetchval(
                "SELECT name FROM artists WHERE id = $1", row_id("a", n)
            )
        finally:
            await connection.close()
    if name is None:
        raise RuntimeError("the bench catalog has no generated artists")
    return str(name)


def main() -> None:
    bench = catalog_bench(__doc__, sqlite=True)
    args, bench_url, env = bench.args, bench.url, bench.env
    database = "SQLite" if args.sqlite else "PostgreSQL"
    artist = asyncio.run(_artist_name(bench_url, args.tracks // 50))
    cases = [
        ("one-word prefix", "lant", "track"),
        ("two words", "night drive", "track"),
        ("a typo", "lantrens", "track"),
        ("an artist's name", artist, "artist"),
        ("no match", "zqxjv", "track"),
    ]
    print(
        f"{database}, {args.tracks:,} tracks; wrk -t1 -c{args.connections} -d{args.duration}s; "
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
