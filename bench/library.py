"""Plays, playlists and the library on PostgreSQL: the service against its floor.

    uv run python -m bench.library [--duration 10] [--connections 16] [--workers 1]
                                   [--tracks 100000] [--listeners 16] [--rounds 3]

Fills a fresh `empulse_bench` database with bench/catalog_data.py (100,000 tracks by default),
makes 16 listeners (`--listeners`; signed in through the API), gives the first one 50,000 liked
tracks and a
playlist of 9,700 entries (written with SQL), then measures with wrk at 16 connections:

- `POST /tracks/{id}/plays` (a random listener, track and start per request, a fresh playId),
  against bench/library_floor.py's `POST /plays`: one bare asyncpg INSERT;
- `POST /users/me/plays` with 50 plays, against `POST /plays/batch` (the 50 rows in one
  `executemany`);
- `GET /users/me/library/tracks` (the first page of 50,000 likes), against two bare statements;

and the single play's route doing the floor's INSERT instead of deciding the play
(bench/library_edge.py), which separates the service's HTTP edge from the
play's own work; and, one request at a time as a listener's device sends them, 300 adds at
the top of the playlist (9,700 -> 10,000 entries) and 300 reorders of a random entry to a
random place in the 10,000: p50 and p99. The three cases are measured `--rounds` times, each
round its floor and then the service, and the ratios of every round are printed with their
median. Needs wrk and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from tests.support.services import free_port

from bench.catalog_data import fill, row_id
from bench.run import (
    Result,
    _serve,
    _stop,
    against_floor,
    bench_env,
    cli,
    measure,
    print_against_floor,
    print_rounds,
    require_wrk_and_postgres,
    server_command,
)

PASSWORD = "bench-password-1234"  # noqa: S105 - a throwaway benchmark account
LIKES = 50_000
BATCH = 50
PLAYLIST_START = 9_700
PLAYLIST_OPS = 300
SAMPLE = 1_000


async def _prepare(url: str, admin_email: str, listeners: int) -> tuple[list[str], list[str]]:
    """(emails of the listeners, a sample of visible track ids). The listeners are copies of
    the admin the CLI made (same password hash, verified), inserted with SQL."""
    connection = await asyncpg.connect(url)
    try:
        emails = [admin_email] + [f"listener{n}@bench.example" for n in range(1, listeners)]
        for email in emails[1:]:
            await connection.execute(
                """INSERT INTO users (id, email, email_key, name, password_hash, role,
                       email_verified_at, failed_logins, credentials_version, privacy,
                       created_at, updated_at)
                   SELECT $1, $2, $2, 'Listener', password_hash, 'USER', now(), 0, 1, privacy,
                       now(), now()
                   FROM users WHERE email = $3""",
                uuid.uuid4(),
                email,
                admin_email,
            )
        tracks = await connection.fetch(
            """SELECT tracks.id FROM tracks
               JOIN albums ON albums.id = tracks.album_id
               JOIN artists ON artists.id = tracks.artist_id
               JOIN users ON users.id = artists.user_id
               WHERE tracks.status = 'published' AND albums.status = 'published'
                 AND users.disabled_at IS NULL
               ORDER BY tracks.id LIMIT $1""",
            SAMPLE,
        )
        return emails, [str(row["id"]) for row in tracks]
    finally:
        await connection.close()


async def _library_and_playlist(url: str, user_id: str, playlist_id: str) -> None:
    """50,000 likes (the newest first in the list) and 9,700 playlist entries, with SQL."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            """INSERT INTO liked_tracks (user_id, track_id, created_at)
               SELECT $1, id, now() - (row_number() OVER (ORDER BY id)) * interval '1 minute'
               FROM tracks WHERE status = 'published' ORDER BY id LIMIT $2""",
            uuid.UUID(user_id),
            LIKES,
        )
        await connection.execute(
            """INSERT INTO playlist_entries (id, playlist_id, rank, track_id, added_by,
                   added_at)
               SELECT gen_random_uuid(), $1, 1099511627776 + n::bigint * 1048576, $3::uuid, $2,
                      now()
               FROM generate_series(1, $4) AS n""",
            uuid.UUID(playlist_id),
            uuid.UUID(user_id),
            row_id("t", 1),
            PLAYLIST_START,
        )
        await connection.execute(
            "UPDATE playlists SET entry_count = $2 WHERE id = $1",
            uuid.UUID(playlist_id),
            PLAYLIST_START,
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _lua_list(name: str, values: list[str]) -> str:
    return f"{name} = {{\n" + ",\n".join(f'  "{value}"' for value in values) + "\n}\n"


# Seeded from /dev/urandom: wrk's Lua starts every run from the same seed, and a repeated
# playId would be answered as a repeat (cheaper) instead of recorded.
_LUA_RANDOM = """
local f = io.open("/dev/urandom", "rb")
local b = f:read(4)
f:close()
math.randomseed(b:byte(1) * 16777216 + b:byte(2) * 65536 + b:byte(3) * 256 + b:byte(4))
local function hex(n)
  local s = {}
  for i = 1, n do s[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(s)
end
function uuid()
  return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-a" .. hex(3) .. "-" .. hex(12)
end
local now = os.time()
function play(with_track)
  local track = ""
  if with_track then track = '"trackId":"' .. tracks[math.random(#tracks)] .. '",' end
  local started = os.date("!%Y-%m-%dT%H:%M:%SZ", now - math.random(600, 13 * 86400))
  return '{' .. track .. '"playId":"' .. uuid() .. '","startedAt":"' ..
    started .. '","msPlayed":60000}'
end
"""


def _plays_script(
    directory: Path, name: str, tokens: list[str], tracks: list[str], body: str, path: str
) -> list[str]:
    """wrk arguments for a script posting plays; `body` and `path` are Lua expressions. Each
    play starts at a moment of its own, to the second, in the last 13 days: a listener's plays
    overlap only as often as that many plays at random moments do."""
    script = directory / f"{name}.lua"
    script.write_text(
        _lua_list("tokens", tokens)
        + _lua_list("tracks", tracks)
        + _LUA_RANDOM
        + "request = function()\n"
        + f"  local body = {body}\n"
        + "  local headers = {}\n"
        + '  headers["Content-Type"] = "application/json"\n'
        + '  headers["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]\n'
        + f'  return wrk.format("POST", {path}, headers, body)\n'
        + "end\n"
    )
    return ["-s", str(script)]


def _get_script(directory: Path, name: str, token: str) -> list[str]:
    script = directory / f"{name}.lua"
    script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    return ["-s", str(script)]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def _playlist_ops(
    base: str, token: str, playlist_id: str, track_id: str
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(p50, p99) in ms of adds at the top, then of random reorders, one at a time."""
    headers = {"Authorization": f"Bearer {token}"}
    adds: list[float] = []
    reorders: list[float] = []
    chooser = random.Random(11)
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(PLAYLIST_OPS):
            started = time.perf_counter()
            answer = client.post(
                f"/api/v1/playlists/{playlist_id}/tracks",
                json={"trackIds": [track_id], "position": 0},
            )
            adds.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
        total = PLAYLIST_START + PLAYLIST_OPS
        for _ in range(PLAYLIST_OPS):
            body = {
                "rangeStart": chooser.randrange(total),
                "insertBefore": chooser.randrange(total + 1),
            }
            started = time.perf_counter()
            answer = client.put(f"/api/v1/playlists/{playlist_id}/tracks/order", json=body)
            reorders.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
    return _percentiles(adds), _percentiles(reorders)


def _print_edge(play: tuple[Result, Result], edge: Result) -> None:
    """Where a play's distance from its floor lies: the service's HTTP edge, or the play."""
    service, floor = play
    print()
    print(
        "| single play | req/s | ratio to the floor | server / PostgreSQL CPU a request | non-2xx |"
    )
    print("|---|---|---|---|---|")
    for name, result in (
        ("the floor: one bare asyncpg INSERT", floor),
        ("the edge: the play's route, doing the floor's INSERT", edge),
        ("the service: the play decided and recorded", service),
    ):
        print(
            f"| {name} | {result.requests_per_second:,.0f} | "
            f"{result.requests_per_second / floor.requests_per_second:.2f} | "
            f"{result.server_cpu_ms:.2f} / {result.database_cpu_ms:.2f} ms | {result.non_2xx} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument(
        "--listeners",
        type=int,
        default=16,
        help="the plays' listeners, each play names one at random: with as many as there are "
        "connections, most plays wait for another of the same listener (decided one at a time)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="each case's floor and service measured this many times, and the median ratio",
    )
    args = parser.parse_args()

    bench_url = require_wrk_and_postgres()
    data_dir = Path(tempfile.mkdtemp(prefix="empulse-bench-"))
    env = bench_env(bench_url, data_dir, args.connections)
    env["RATE_LIMITS"] = "default=1000000000/minute,login=1000000/minute"
    cli(env, "migrate")
    print(f"filling the catalog ({args.tracks:,} tracks)", flush=True)
    asyncio.run(fill(bench_url, args.tracks // 50, args.tracks // 10, args.tracks))
    admin = "listener0@bench.example"
    cli(env, "create-admin", "--email", admin, "--password-stdin", stdin=PASSWORD)
    emails, tracks = asyncio.run(_prepare(bench_url, admin, args.listeners))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "empulse.cli", "serve", "--workers", str(args.workers)]
    process = _serve([*serve, "--port", str(port)], env, f"{base}/api/health")
    try:
        tokens, user_ids = [], []
        for email in emails:
            body = httpx.post(
                f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
            ).json()
            tokens.append(body["accessToken"])
            user_ids.append(body["user"]["id"])
        created = httpx.post(
            f"{base}/api/v1/playlists",
            json={"name": "Bench", "public": False},
            headers={"Authorization": f"Bearer {tokens[0]}"},
        )
        created.raise_for_status()
        playlist_id = created.json()["id"]
        asyncio.run(_library_and_playlist(bench_url, user_ids[0], playlist_id))
        print("playlist: adds at the top, then reorders", flush=True)
        adds, reorders = _playlist_ops(base, tokens[0], playlist_id, tracks[0])
    finally:
        _stop(process)

    batch_body = "'{\"plays\":[' .. " + " .. ',' .. ".join(["play(true)"] * BATCH) + " .. ']}'"
    cases = [
        # (name, service path, service wrk args, floor path, floor wrk args)
        (
            "POST /tracks/{id}/plays",
            "/api/v1/tracks",
            _plays_script(data_dir, "play", tokens, tracks, "play(false)",
                          '"/api/v1/tracks/" .. tracks[math.random(#tracks)] .. "/plays"'),
            "/plays",
            _plays_script(data_dir, "play-floor", tokens, tracks, "play(true)", '"/plays"'),
        ),
        (
            f"POST /users/me/plays ({BATCH} plays)",
            "/api/v1/users/me/plays",
            _plays_script(
                data_dir, "batch", tokens, tracks, batch_body, '"/api/v1/users/me/plays"'
            ),
            "/plays/batch",
            _plays_script(data_dir, "batch-floor", tokens, tracks, batch_body, '"/plays/batch"'),
        ),
        (
            f"GET /users/me/library/tracks ({LIKES:,} likes)",
            "/api/v1/users/me/library/tracks",
            _get_script(data_dir, "library", tokens[0]),
            f"/library?user={user_ids[0]}",
            [],
        ),
    ]  # fmt: skip
    print(
        f"PostgreSQL, {args.tracks:,} tracks, {args.listeners} listeners; "
        f"wrk -t1 -c{args.connections} -d{args.duration}s; "
        f"{args.workers} worker(s); {os.cpu_count()} CPUs",
        flush=True,
    )
    rounds = [
        against_floor(
            cases, "bench.library_floor:create_app", env, args.workers, args.duration,
            args.connections,
        )
        for _ in range(args.rounds)
    ]  # fmt: skip
    rows = rounds[-1]
    port = free_port()
    edge = measure(
        "POST /bench/plays/{id} (the edge)",
        server_command("granian", "bench.library_edge:create_app", port, args.workers),
        env, "/api/v1/bench/plays", port, args.workers, args.duration, args.connections,
        _plays_script(data_dir, "edge", tokens, tracks, "play(false)",
                      '"/api/v1/bench/plays/" .. tracks[math.random(#tracks)]'),
    )  # fmt: skip

    for number, measured in enumerate(rounds, 1):
        print_against_floor(f"request (round {number})", measured)
    print_rounds("request", rounds)
    _print_edge(rows[0], edge)  # against the last round's floor, measured just before
    print()
    size = f"{PLAYLIST_START:,}-{PLAYLIST_START + PLAYLIST_OPS:,}"
    print(f"| playlist of {size} entries | p50 ms | p99 ms |")
    print("|---|---|---|")
    print(f"| add one track at the top | {adds[0]:.1f} | {adds[1]:.1f} |")
    print(f"| move one entry to a random place | {reorders[0]:.1f} | {reorders[1]:.1f} |")


if __name__ == "__main__":
    main()
