"""Catalog reads at a million tracks: the service against its floor, on PostgreSQL.

    uv run python -m bench.catalog [--duration 10] [--connections 16] [--workers 1]
                                   [--tracks 1000000] [--keep] [--page-cache-mb N]
                                   [--version-every SECONDS] [--fold-every SECONDS]

Fills a fresh `empulse_bench` database with bench/catalog_data.py (1,000,000 tracks, 100,000
albums, 20,000 artists by default; `--keep` reuses one a previous run filled), then drives, with
wrk at 16 connections, each page a listener's app asks for most: tracks of a genre, the newest
releases, one release with its tracks (a random one of 1,000 per request), an artist's tracks
(a random one of 1,000), and a page 500,000 tracks deep by cursor. Each is measured on the
service (`empulse serve`) and on bench/catalog_floor.py (the same statements on asyncpg behind
bare Starlette routes, same server), in the same run; prints p50, p99 and throughput with the
ratio to the floor. Needs wrk and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg
from tests.support.services import postgres_admin_url

from bench.catalog_data import GENRES, fill, fill_sqlite, row_id
from bench.run import (
    against_floor,
    bench_env,
    cli,
    print_against_floor,
    require_wrk_and_postgres,
)
from empulse.catalog import ddl
from empulse.catalog.repository import TRACK_ORDERS

SAMPLE = 1_000


async def catalog_size(url: str) -> int:
    try:
        connection = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError):
        return 0
    try:
        return int(await connection.fetchval("SELECT count(*) FROM tracks") or 0)
    except asyncpg.PostgresError:
        return 0
    finally:
        await connection.close()


@dataclass(frozen=True)
class CatalogBench:
    """What every million-track bench starts from: its options, the filled database's URL, a
    data folder and the server's environment."""

    args: argparse.Namespace
    url: str
    data_dir: Path
    env: dict[str, str]


def catalog_bench(doc: str, *, sqlite: bool = False) -> CatalogBench:
    """Parse the common options (`--duration`, `--connections`, `--workers`, `--tracks`,
    `--keep`) and fill (or reuse) `empulse_bench`; with `sqlite`, also `--sqlite`: the
    embedded default instead, a fresh SQLite file of `--tracks` (100,000 unless given)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tracks", type=int)
    parser.add_argument("--keep", action="store_true", help="reuse a filled empulse_bench")
    parser.add_argument(
        "--version-every",
        type=float,
        help="move the catalog's version every this many seconds while measuring, as a "
        "change a listener could see does (a release published or taken down)",
    )
    parser.add_argument(
        "--fold-every",
        type=float,
        help="add plays to 200 random tracks' counters (and their albums' and artists') every "
        "this many seconds while measuring, in one transaction as the plays' fold does while "
        "plays arrive (every 2 s at most)",
    )
    parser.add_argument(
        "--page-cache-mb",
        type=int,
        help="the service's page cache (EMPULSE_PAGE_CACHE_MB); 0 reads every page afresh",
    )
    if sqlite:
        parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite instead")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="empulse-bench-"))
    if getattr(args, "sqlite", False):
        args.tracks = args.tracks or 100_000
        url = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
        env = bench_env(url, data_dir, args.connections)
        cli(env, "migrate")
        print(f"filling the catalog ({args.tracks:,} tracks, SQLite)", flush=True)
        asyncio.run(fill_sqlite(url, args.tracks // 50, args.tracks // 10, args.tracks))
        return CatalogBench(args, url, data_dir, _with_cache(env, args))
    args.tracks = args.tracks or 1_000_000
    bench_url = postgres_admin_url().rsplit("/", 1)[0] + "/empulse_bench"
    env = bench_env(bench_url, data_dir, args.connections)
    bench_url = ensure_catalog(bench_url, env, args.tracks, args.keep)
    env = bench_env(bench_url, data_dir, args.connections)
    return CatalogBench(args, bench_url, data_dir, _with_cache(env, args))


def _with_cache(env: dict[str, str], args: argparse.Namespace) -> dict[str, str]:
    if args.page_cache_mb is None:
        return env
    return {**env, "EMPULSE_PAGE_CACHE_MB": str(args.page_cache_mb)}


def ensure_catalog(bench_url: str, env: dict[str, str], tracks: int, keep: bool) -> str:
    """A migrated `empulse_bench` of `tracks` tracks (bench/catalog_data.py): the filled one
    a previous run left when `keep` and it is large enough, else a fresh one; its URL."""
    if not (keep and asyncio.run(catalog_size(bench_url)) >= tracks):
        bench_url = require_wrk_and_postgres()
        cli(env, "migrate")
        print(f"filling the catalog ({tracks:,} tracks, indexed by triggers)", flush=True)
        asyncio.run(fill(bench_url, tracks // 50, tracks // 10, tracks))
    else:
        cli(env, "migrate")
    return bench_url


async def _deep_cursor(url: str, depth: int) -> tuple[str, str]:
    """The service's cursor and the floor's `after` for the newest-tracks page `depth` deep."""
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT published_at, id FROM tracks WHERE status = 'published' "
            "ORDER BY published_at DESC, id DESC OFFSET $1 LIMIT 1",
            depth,
        )
    finally:
        await connection.close()
    if row is None:
        raise RuntimeError(f"the catalog has fewer than {depth} published tracks")

    moment, last_id = row["published_at"], row["id"]

    class Last:
        published_at = moment
        id = last_id

    return TRACK_ORDERS["newest"].encode(Last()), f"{moment.isoformat()},{last_id}"


async def _move_version(url: str, every: float) -> None:
    """What a write a listener could see does to the page cache, every `every` seconds."""
    connection = await asyncpg.connect(url)
    while True:
        await connection.execute("UPDATE catalog_version SET version = version + 1")
        await asyncio.sleep(every)


async def _fold_counters(url: str, every: float, tracks: int) -> None:
    """What the plays' fold writes, every `every` seconds: counters only (catalog/ddl.py)."""
    connection = await asyncpg.connect(url)
    chooser = random.Random(11)
    while True:
        ids = sorted({row_id("t", chooser.randint(1, tracks)) for _ in range(200)})
        async with connection.transaction():
            await connection.execute(ddl.POSTGRES_COUNTERS_ONLY)
            for table, owner in (
                ("tracks", "id"),
                ("albums", "album_id"),
                ("artists", "artist_id"),
            ):
                await connection.execute(
                    f"UPDATE {table} SET play_count = play_count + 1 WHERE id IN "  # noqa: S608 - fixed names
                    f"(SELECT {owner} FROM tracks WHERE id = ANY($1::uuid[]))",
                    ids,
                )
        await asyncio.sleep(every)


def _lua(paths: list[str], directory: Path, name: str) -> list[str]:
    """wrk arguments for a script that asks for a random one of `paths` per request."""
    script = directory / f"{name}.lua"
    listed = ",\n".join(f'  "{path}"' for path in paths)
    script.write_text(
        f"paths = {{\n{listed}\n}}\n"
        "request = function()\n"
        '  return wrk.format("GET", paths[math.random(#paths)])\n'
        "end\n"
    )
    return ["-s", str(script)]


def main() -> None:
    bench = catalog_bench(__doc__)
    args, bench_url, data_dir, env = bench.args, bench.url, bench.data_dir, bench.env
    albums, artists = args.tracks // 10, args.tracks // 50

    chooser = random.Random(7)
    album_paths = [
        f"/api/v1/albums/{row_id('al', chooser.randint(1, albums))}" for _ in range(SAMPLE)
    ]
    artist_paths = [
        f"/api/v1/artists/{row_id('a', chooser.randint(1, artists))}/tracks" for _ in range(SAMPLE)
    ]
    cursor, after = asyncio.run(_deep_cursor(bench_url, min(500_000, args.tracks // 2)))
    genre = GENRES[1]
    cases: list[tuple[str, str, list[str], str, list[str]]] = [
        # (name, service path, service wrk args, floor path, floor wrk args)
        (f"GET /tracks?genre={genre}", f"/api/v1/tracks?genre={genre}", [],
         f"/api/v1/tracks?genre={genre}", []),
        ("GET /albums?sort=newest", "/api/v1/albums?sort=newest", [], "/api/v1/albums", []),
        ("GET /albums/{id}", "/api/v1/albums", _lua(album_paths, data_dir, "albums"),
         "/api/v1/albums", _lua(album_paths, data_dir, "albums")),
        ("GET /artists/{id}/tracks", "/api/v1/artists", _lua(artist_paths, data_dir, "artists"),
         "/api/v1/artists", _lua(artist_paths, data_dir, "artists")),
        ("GET /tracks?cursor= (500,000 deep)", f"/api/v1/tracks?cursor={cursor}", [],
         f"/api/v1/tracks?after={quote(after)}", []),
    ]  # fmt: skip
    print(
        f"PostgreSQL, {args.tracks:,} tracks; wrk -t1 -c{args.connections} -d{args.duration}s; "
        f"{args.workers} worker(s); {os.cpu_count()} CPUs",
        flush=True,
    )
    if args.version_every:
        threading.Thread(
            target=asyncio.run, args=(_move_version(bench_url, args.version_every),), daemon=True
        ).start()
    if args.fold_every:
        threading.Thread(
            target=asyncio.run,
            args=(_fold_counters(bench_url, args.fold_every, args.tracks),),
            daemon=True,
        ).start()
    rows = against_floor(
        cases, "bench.catalog_floor:create_app", env, args.workers, args.duration, args.connections
    )

    print_against_floor("page", rows)


if __name__ == "__main__":
    main()
