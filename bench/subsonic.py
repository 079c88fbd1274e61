"""The Subsonic API against the JSON API's equivalent routes, at a million tracks on PostgreSQL.

    uv run python -m bench.subsonic [--duration 10] [--connections 16] [--workers 1]
                                    [--tracks 1000000] [--keep]

Fills a fresh `empulse_bench` database with bench/catalog_data.py (`--keep` reuses one a
previous run filled), makes a listener (signed in through the API, with an app password) and
stores a 10 MB file for track 1, then drives `empulse serve` with wrk at 16 connections, the
Subsonic method and its JSON API equivalent in turn, in the same run:

- `getAlbumList2?type=newest&size=20` against `GET /api/v1/albums?sort=newest&limit=20`;
- `search3?query=lant&songCount=20` (no artists or albums asked) against
  `GET /api/v1/search?q=lant&type=track&limit=20` (a frequent prefix: the database's ranking
  dominates), and `search3` of an artist's name (`artistCount=20`) against
  `GET /api/v1/search?type=artist` (the layers dominate);
- `stream?id=…` against `GET /api/v1/tracks/{id}/stream`, both asking the first 256 KiB.

The JSON API calls are a signed-in listener's (bearer token), as a player's would be; the
Subsonic calls carry token authentication (`u`, `t`, `s`) in the query. Each side runs twice,
JSON-Subsonic-Subsonic-JSON, each on a fresh server (the first measured warms the database for
the next); prints the means of throughput, p50/p99 and the ratio (goal: the Subsonic method ≥
0.8 of the JSON API's). Needs wrk and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path
from urllib.parse import urlencode

import httpx
from tests.support.services import free_port

from bench.catalog import catalog_bench
from bench.catalog_data import row_id
from bench.run import (
    Result,
    _serve,
    _stop,
    cli,
    measure,
)
from bench.search import _artist_name

LISTENER = "listener@bench.example"
PASSWORD = "bench-password-1234"  # noqa: S105 - a throwaway benchmark account
SALT = "c0ffee"
FILE_BYTES = 10_000_000  # the size bench/catalog_data.py gives every track's file
RANGE = "bytes=0-262143"


def _store_track_file(data_dir: Path) -> None:
    """The bytes of track 1's file, where local storage looks for its key."""
    media = hashlib.md5(b"m1", usedforsecurity=False).hexdigest()
    path = data_dir / "files" / "private" / "audio" / f"{media}.flac"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(FILE_BYTES))


def _credentials(env: dict[str, str], workers: int) -> tuple[str, str]:
    """(a bearer token, an app password) of the listener, made through the API."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "empulse.cli", "serve", "--workers", str(workers)]
    process = _serve([*serve, "--port", str(port)], env, f"{base}/api/health")
    try:
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"email": LISTENER, "password": PASSWORD},
            timeout=30,
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        passwords = f"{base}/api/v1/users/me/app-passwords"
        for old in httpx.get(passwords, headers=headers).json():  # a `--keep` run's
            httpx.delete(f"{passwords}/{old['id']}", headers=headers).raise_for_status()
        made = httpx.post(passwords, json={"name": "bench"}, headers=headers)
        made.raise_for_status()
        return login.json()["accessToken"], made.json()["password"]
    finally:
        _stop(process)


def _mean(name: str, results: list[Result]) -> Result:
    """The two runs of one side: mean throughput and latencies, summed failures."""
    count = len(results)
    return Result(
        name,
        results[0].workers,
        sum(r.requests_per_second for r in results) / count,
        sum(r.p50_ms for r in results) / count,
        sum(r.p99_ms for r in results) / count,
        max(r.peak_rss_mb for r in results),
        sum(r.non_2xx for r in results),
        sum(r.server_cpu_ms for r in results) / count,
    )


def main() -> None:
    bench = catalog_bench(__doc__)
    args, bench_url, data_dir, env = bench.args, bench.url, bench.data_dir, bench.env
    unlimited = "1000000000/minute"
    env["RATE_LIMITS"] = ",".join(
        f"{name}={unlimited}" for name in ("default", "login", "streams", "subsonic")
    )
    cli(env, "create-admin", "--email", LISTENER, "--password-stdin", stdin=PASSWORD)
    _store_track_file(data_dir)
    token, app_password = _credentials(env, args.workers)
    bearer = ["-H", f"Authorization: Bearer {token}"]
    subsonic = {
        "u": LISTENER,
        "t": hashlib.md5((app_password + SALT).encode(), usedforsecurity=False).hexdigest(),
        "s": SALT,
        "v": "1.16.1",
        "c": "bench",
        "f": "json",
    }
    track = row_id("t", 1)
    ranged = ["-H", f"Range: {RANGE}"]
    # A frequent prefix takes the database seconds at this size (docs/performance.md, "Search"):
    # wrk waits for it rather than count it as a timeout.
    patient = ["--timeout", "10s"]
    artist = asyncio.run(_artist_name(bench_url, args.tracks // 50))
    cases = [
        (
            "getAlbumList2 newest 20",
            "/rest/getAlbumList2?" + urlencode({**subsonic, "type": "newest", "size": 20}),
            [],
            "/api/v1/albums?sort=newest&limit=20",
            bearer,
        ),
        (
            "search3 'lant', 20 songs",
            "/rest/search3?"
            + urlencode(
                {**subsonic, "query": "lant", "songCount": 20, "artistCount": 0, "albumCount": 0}
            ),
            patient,
            "/api/v1/search?q=lant&type=track&limit=20",
            [*bearer, *patient],
        ),
        (
            f"search3 {artist!r}, 20 artists",
            "/rest/search3?"
            + urlencode(
                {**subsonic, "query": artist, "artistCount": 20, "songCount": 0, "albumCount": 0}
            ),
            [],
            "/api/v1/search?" + urlencode({"q": artist, "type": "artist", "limit": 20}),
            bearer,
        ),
        (
            "stream, 256 KiB range",
            "/rest/stream?" + urlencode({**subsonic, "id": str(track)}),
            ranged,
            f"/api/v1/tracks/{track}/stream",
            [*bearer, *ranged],
        ),
    ]
    print(
        f"PostgreSQL, {args.tracks:,} tracks; wrk -t1 -c{args.connections} -d{args.duration}s; "
        f"{args.workers} worker(s); {os.cpu_count()} CPUs",
        flush=True,
    )
    rows: list[tuple[Result, Result]] = []
    serve = [sys.executable, "-m", "empulse.cli", "serve", "--workers", str(args.workers)]
    for name, path, wrk_args, json_path, json_args in cases:
        # In the order JSON, Subsonic, Subsonic, JSON, each on a fresh server: whichever goes
        # first warms the database's caches for the other (the first runs showed it).
        order = [("JSON API", json_path, json_args), ("Subsonic", path, wrk_args)]
        measured: dict[str, list[Result]] = {"JSON API": [], "Subsonic": []}
        for side, target, extra in [*order, *reversed(order)]:
            port = free_port()
            measured[side].append(
                measure(
                    f"{name} ({side})",
                    [*serve, "--port", str(port)],
                    env,
                    target,
                    port,
                    args.workers,
                    args.duration,
                    args.connections,
                    extra,
                )
            )
        rows.append((_mean(name, measured["Subsonic"]), _mean(name, measured["JSON API"])))

    print()
    print("| call | Subsonic req/s | JSON API req/s | ratio | Subsonic p50 / p99 ms | "
          "JSON API p50 / p99 ms | CPU ms a request (Subsonic / JSON) | non-2xx |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for served, reference in rows:
        ratio = (
            f"{served.requests_per_second / reference.requests_per_second:.2f}"
            if reference.requests_per_second
            else "∞ (the JSON API answered nothing in time)"
        )
        print(
            f"| {served.name} | {served.requests_per_second:,.0f} | "
            f"{reference.requests_per_second:,.0f} | {ratio} | "
            f"{served.p50_ms:.1f} / {served.p99_ms:.1f} | "
            f"{reference.p50_ms:.1f} / {reference.p99_ms:.1f} | "
            f"{served.server_cpu_ms:.2f} / {reference.server_cpu_ms:.2f} | "
            f"{served.non_2xx + reference.non_2xx} |"
        )


if __name__ == "__main__":
    main()
