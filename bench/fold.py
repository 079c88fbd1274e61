"""The counters' fold on PostgreSQL: what folding qualified plays into the counters costs, per
play, by how many plays a transaction takes.

    uv run python -m bench.fold [--tracks 100000] [--played 1000] [--plays 30000] [--rounds 3]

Fills a fresh `empulse_bench` database with bench/catalog_data.py (100,000 tracks by default),
then, each round: writes `--plays` tallies of qualified plays spread over `--played` of its
tracks (as a few seconds of plays leave them for the fold), and folds them with the service's
own fold (plays/tasks.count_plays) taking 1,000 tallies a transaction (the baseline: the size
before `FOLD_BATCH`) and then `FOLD_BATCH`; and, as the floor, adds the same plays' increments
to the same tracks, albums and artists with one bare asyncpg UPDATE per table and chunk (no
tallies, no locks). Prints the CPU of PostgreSQL and of this process per play folded; and
then what the popularity pass (plays/tasks.refresh_popularity) costs after each round, in
which the round's tracks and albums changed, and once more with nothing changed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import asyncpg

from bench.catalog_data import fill
from bench.run import _prepare_postgres, database_cpu_seconds
from empulse.config import load_settings
from empulse.core.db import create_engine, create_sessionmaker, session_scope
from empulse.core.migrations import upgrade_to_head
from empulse.plays import tasks

BASELINE = 1_000


async def _tallies(connection: asyncpg.Connection, tracks: list[uuid.UUID], plays: int) -> None:
    rows = [(uuid.uuid4(), random.choice(tracks)) for _ in range(plays)]
    await connection.copy_records_to_table(
        "play_tallies", records=rows, columns=["play_id", "track_id"]
    )
    await connection.execute("VACUUM ANALYZE play_tallies")
    await connection.execute("CHECKPOINT")


async def _measured(work: Callable[[], Awaitable[int]]) -> tuple[float, float]:
    """(PostgreSQL's CPU, this process's CPU) in µs per play that `work` folded."""
    database, here = database_cpu_seconds(), time.process_time()
    plays = await work()
    return (
        (database_cpu_seconds() - database) * 1e6 / plays,
        (time.process_time() - here) * 1e6 / plays,
    )


async def _timed(work: Callable[[], Awaitable[int]]) -> tuple[int, float, float]:
    """(rows `work` handled, PostgreSQL's CPU ms, this process's CPU ms)."""
    database, here = database_cpu_seconds(), time.process_time()
    rows = await work()
    return rows, (database_cpu_seconds() - database) * 1e3, (time.process_time() - here) * 1e3


async def main(args: argparse.Namespace, url: str) -> None:
    settings = load_settings(EMPULSE_ENV="test", DATABASE_URL=url, EMPULSE_DATA_DIR=args.data)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    connection = await asyncpg.connect(url)
    played = [
        row["id"]
        for row in await connection.fetch("SELECT id FROM tracks ORDER BY id LIMIT $1", args.played)
    ]

    async def fold(size: int) -> int:
        tasks.FOLD_BATCH = size
        folded = 0
        while True:
            async with session_scope(sessionmaker) as session:
                count = await tasks.count_plays(None, session, None)  # type: ignore[arg-type]
            folded += count
            if count < size:
                return folded

    async def floor(size: int) -> int:
        rows = await connection.fetch("SELECT track_id FROM play_tallies")
        await connection.execute("DELETE FROM play_tallies")  # not measured apart: a few ms
        tracks = [row["track_id"] for row in rows]
        for start in range(0, len(tracks), size):
            per_track = Counter(tracks[start : start + size])
            ids, counts = list(per_track), list(per_track.values())
            await connection.execute(
                "UPDATE tracks SET play_count = play_count + v.n "
                "FROM unnest($1::uuid[], $2::int[]) AS v(id, n) WHERE tracks.id = v.id",
                ids,
                counts,
            )
            for table, column in (("albums", "album_id"), ("artists", "artist_id")):
                await connection.execute(
                    f"UPDATE {table} SET play_count = play_count + v.n "  # noqa: S608
                    f"FROM (SELECT t.{column} AS id, sum(u.n)::int AS n "
                    "FROM unnest($1::uuid[], $2::int[]) AS u(id, n) "
                    f"JOIN tracks t ON t.id = u.id GROUP BY t.{column}) AS v "
                    f"WHERE {table}.id = v.id",
                    ids,
                    counts,
                )
        return len(tracks)

    async def popularity() -> int:
        changed, cursor = 0, None
        while True:
            async with session_scope(sessionmaker) as session:
                rows, cursor = await tasks.refresh_popularity(None, session, None, cursor)  # type: ignore[arg-type]
            changed += rows
            if cursor is None:
                return changed

    cases: list[tuple[str, Callable[[], Awaitable[int]]]] = [
        (f"fold, {BASELINE:,} a transaction (baseline)", lambda: fold(BASELINE)),
        (f"fold, {args.size:,} a transaction (FOLD_BATCH)", lambda: fold(args.size)),
        (f"floor: bare UPDATEs, {args.size:,} plays a chunk", lambda: floor(args.size)),
    ]
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in cases}
    passes: list[tuple[str, int, float, float]] = []
    for round_ in range(1, args.rounds + 1):
        for name, work in cases:
            await _tallies(connection, played, args.plays)
            figures[name].append(await _measured(work))
            database, here = figures[name][-1]
            print(
                f"round {round_}: {name}: PostgreSQL {database:.1f} µs a play, "
                f"this process {here:.1f} µs",
                flush=True,
            )
        for what in ("after the round", "nothing changed"):
            rows, database, here = await _timed(popularity)
            passes.append((what, rows, database, here))
            print(
                f"round {round_}: popularity pass, {what}: {rows:,} rows changed, "
                f"PostgreSQL {database:.0f} ms, this process {here:.0f} ms",
                flush=True,
            )
    await connection.close()
    await engine.dispose()

    baseline = statistics.median(d + h for d, h in figures[cases[0][0]])
    print(f"\n{args.plays:,} plays of {args.played:,} tracks, median of {args.rounds} rounds:")
    print("| | PostgreSQL µs a play | this process µs a play | total, as a ratio of the baseline |")
    print("|---|---|---|---|")
    for name, _ in cases:
        database = statistics.median(d for d, _ in figures[name])
        here = statistics.median(h for _, h in figures[name])
        total = statistics.median(d + h for d, h in figures[name])
        print(f"| {name} | {database:.1f} | {here:.1f} | {total / baseline:.2f} |")
    print("\n| popularity pass | rows changed | PostgreSQL ms | this process ms |")
    print("|---|---|---|---|")
    for what in ("after the round", "nothing changed"):
        mine = [figures for figures in passes if figures[0] == what]
        rows = int(statistics.median(r for _, r, _, _ in mine))
        database = statistics.median(d for _, _, d, _ in mine)
        here = statistics.median(h for _, _, _, h in mine)
        print(f"| {what} | {rows:,} | {database:.0f} | {here:.0f} |")


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=100_000, help="tracks in the catalog")
    parser.add_argument("--played", type=int, default=1_000, help="tracks the plays are of")
    parser.add_argument("--plays", type=int, default=30_000, help="tallies a round folds")
    parser.add_argument("--size", type=int, default=tasks.FOLD_BATCH, help="plays a fold takes")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = _prepare_postgres()
    if url is None:
        sys.exit("PostgreSQL is needed for this benchmark")
    with tempfile.TemporaryDirectory() as data:
        args.data = data
        settings = load_settings(EMPULSE_ENV="test", DATABASE_URL=url, EMPULSE_DATA_DIR=data)
        upgrade_to_head(settings)
        asyncio.run(fill(url, args.tracks // 50, args.tracks // 10, args.tracks))
        asyncio.run(main(args, url))


if __name__ == "__main__":
    run()
