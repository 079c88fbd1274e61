"""CPU per request in process: the ASGI app called directly, one request at a time, with no
network and no load generator sharing the cores.

    uv run python -m bench.in_process [--path /api/v1/auth/me] [--requests 4000] [--runs 3]
                                      [--profile packages|tottime|cumulative]
                                      [--login|--play|--batch]

Signs a fresh admin in on PostgreSQL (a fresh `empulse_bench_in_process` database; `--sqlite`:
a fresh SQLite file, the embedded default), then times
authenticated GETs of `--path` with the process's CPU clock and prints µs per request for each
run (on PostgreSQL, also the CPU its processes spent meanwhile, per request). Settings
come from the environment as for the server (for example `SESSION_CACHE_SECONDS=0`); the app's
own log lines are discarded. `PYTHONPATH=<another checkout>/src` measures other code with the
same harness. `--profile` adds a cProfile of one more run, on the CPU clock: `packages` sums the
time spent in each library's own functions. `--login` times sign-ins (`POST /api/v1/auth/login`)
instead, and also one argon2id verify at the same parameters in the same process, so the
difference is what a sign-in costs besides its hash. `--play` loads the demo data and times
qualified plays of one of its tracks instead (`POST /api/v1/tracks/{id}/plays`, one after the
other in time, each a fresh `playId`); `--batch` the same plays 50 at a time, as an offline
player catching up sends them (`POST /api/v1/users/me/plays`); `--stream` loads it and times
one track's stream, a 8 KiB range at a time in turn (`GET /api/v1/tracks/{id}/stream`), as a
player seeking does.
`--demo` loads the demo data for a `--path` of the catalog (a query string included; with
`EMPULSE_PAGE_CACHE_MB=0`, every page is read from the database); `--anonymous` sends it
without the token, as a listener who has not signed in. `--database-url` measures on a database
already filled instead of a fresh one (the million tracks `bench.search --keep` leaves in
`empulse_bench`; the admin is created there once).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from starlette.types import ASGIApp, Message, Scope

from bench.run import _prepare_postgres, cli, database_cpu_seconds, vacuum_without_autovacuum

EMAIL = "in-process@example.com"
PASSWORD = "bench-password-quartz-4417"  # noqa: S105 - a throwaway benchmark account
PACKAGES = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "asyncpg",
    "asyncio",
    "pydantic",
    "empulse",
    "structlog",
    "prometheus",
    "jwt",
)
BATCH = 50  # plays a batch (`--batch`)


async def call(
    app: ASGIApp, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> tuple[int, bytes]:
    path, _, query = path.partition("?")
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client stays connected
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


@contextmanager
def stdout_discarded() -> Iterator[None]:
    """The app writes its log lines to standard output; they still cost what they cost."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(null)
        os.close(saved)


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: Counter[str] = Counter()
    for (filename, _, _), (_, _, own_time, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        package = next((name for name in PACKAGES if name in filename), "other (built-ins, stdlib)")
        totals[package] += own_time
    whole = sum(totals.values())
    return [(package, seconds / whole) for package, seconds in totals.most_common()]


async def measure(args: argparse.Namespace) -> None:
    from empulse.app import create_app
    from empulse.config import load_settings
    from empulse.core.passwords import HASHER

    app = create_app(load_settings(), configure_logs=False)
    async with app.router.lifespan_context(app):
        status, body = await call(
            app,
            "POST",
            "/api/v1/auth/login",
            [(b"content-type", b"application/json")],
            json.dumps({"email": EMAIL, "password": PASSWORD}).encode(),
        )
        assert status == 200, body
        token = json.loads(body)["accessToken"]
        headers = [] if args.anonymous else [(b"authorization", f"Bearer {token}".encode())]
        next_request = await _requests(app, args, headers)
        for _ in range(50 if args.login else 500):  # warm: caches, the pool, the interpreter
            status, answer = await call(app, *next_request())
        assert status in (200, 201, 206), answer
        if not args.sqlite:
            # As autovacuum would have by now, on a cluster without it (bench/run.py).
            await asyncio.to_thread(vacuum_without_autovacuum, os.environ["DATABASE_URL"])
        if args.login:
            stored = HASHER.hash(PASSWORD)
            started = time.process_time()
            for _ in range(args.requests):
                HASHER.verify(stored, PASSWORD)
            cpu = (time.process_time() - started) / args.requests
            print(f"one argon2id verify alone: {cpu * 1e6:,.1f} µs of CPU", file=sys.stderr)
        on_postgres = not args.sqlite
        for run in range(1, args.runs + 1):
            requests = [next_request() for _ in range(args.requests)]  # built outside the clock
            database = database_cpu_seconds() if on_postgres else 0.0
            started, started_here = time.process_time(), time.thread_time()
            for request in requests:
                await call(app, *request)
            cpu = (time.process_time() - started) / args.requests
            here = (time.thread_time() - started_here) / args.requests
            database = (database_cpu_seconds() - database) / args.requests if on_postgres else 0
            print(
                f"run {run}: {cpu * 1e6:,.1f} µs of CPU per request, "
                f"{here * 1e6:,.1f} of them on the event loop's thread"
                + (f"; PostgreSQL {database * 1e6:,.1f} µs" if on_postgres else ""),
                file=sys.stderr,
            )
        if args.profile:
            requests = [next_request() for _ in range(args.requests)]
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
            for request in requests:
                await call(app, *request)
            profile.disable()
            stats = pstats.Stats(profile, stream=sys.stderr)
            if args.profile == "packages":
                for package, share in by_package(stats):
                    print(f"{package:28} {share:6.1%}", file=sys.stderr)
            else:
                stats.sort_stats(args.profile).print_stats(40)


Request = tuple[str, str, list[tuple[bytes, bytes]], bytes]


async def _requests(
    app: ASGIApp, args: argparse.Namespace, headers: list[tuple[bytes, bytes]]
) -> Callable[[], Request]:
    """What each measured call sends."""
    if args.login:
        login = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
        sign_in: Request = (
            "POST", "/api/v1/auth/login", [(b"content-type", b"application/json")], login
        )  # fmt: skip
        return lambda: sign_in
    if not (args.play or args.batch or args.stream):
        read: Request = ("GET", args.path, headers, b"")
        return lambda: read
    status, listed = await call(app, "GET", "/api/v1/tracks", headers)
    assert status == 200, listed
    track = json.loads(listed)["items"][0]
    if args.stream:
        return _ranges(app, f"/api/v1/tracks/{track['id']}/stream", headers)
    length = timedelta(milliseconds=track["durationMs"])
    # Back-to-back plays that end before now: every one qualifies, none overlaps another.
    per_request = BATCH if args.batch else 1
    plays = (args.requests * (args.runs + 2) + 500) * per_request
    first = datetime.now(UTC) - length * plays - timedelta(minutes=1)
    if first < datetime.now(UTC) - timedelta(days=13):
        raise SystemExit("too many plays to fit in the last 14 days: ask for fewer --requests")
    sent = 0
    post_headers = [*headers, (b"content-type", b"application/json")]

    def one() -> dict[str, str | int]:
        nonlocal sent
        started = first + length * sent
        sent += 1
        return {
            "playId": str(uuid.uuid4()),
            "startedAt": started.isoformat().replace("+00:00", "Z"),
            "msPlayed": track["durationMs"],
        }

    def play() -> Request:
        body = json.dumps(one()).encode()
        return "POST", f"/api/v1/tracks/{track['id']}/plays", post_headers, body

    def batch() -> Request:
        body = json.dumps({"plays": [{"trackId": track["id"], **one()} for _ in range(BATCH)]})
        return "POST", "/api/v1/users/me/plays", post_headers, body.encode()

    return batch if args.batch else play


def _ranges(app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]]) -> Callable[[], Request]:
    piece = 8 * 1024
    sent = 0

    def next_range() -> Request:
        nonlocal sent
        start = (sent % 4) * piece
        sent += 1
        return (
            "GET",
            path,
            [*headers, (b"range", f"bytes={start}-{start + piece - 1}".encode())],
            b"",
        )

    return next_range


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default="/api/v1/auth/me")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", choices=["packages", "tottime", "cumulative"])
    parser.add_argument("--login", action="store_true", help="time sign-ins instead of --path")
    parser.add_argument("--play", action="store_true", help="time plays instead of --path")
    parser.add_argument("--batch", action="store_true", help="time batches of 50 plays instead")
    parser.add_argument("--stream", action="store_true", help="time stream ranges instead")
    parser.add_argument("--sqlite", action="store_true", help="on SQLite, the embedded default")
    parser.add_argument("--demo", action="store_true", help="load the demo data first")
    parser.add_argument("--anonymous", action="store_true", help="send --path unauthenticated")
    parser.add_argument("--database-url", help="a filled database to measure on, kept as it is")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="empulse-bench-in-process-")
    database_url: str | None = f"sqlite+aiosqlite:///{data_dir}/empulse.db"
    if args.database_url:
        database_url = args.database_url
    elif not args.sqlite:
        database_url = _prepare_postgres("empulse_bench_in_process")
    if database_url is None:
        sys.exit("PostgreSQL is needed for this benchmark (or --sqlite)")
    os.environ.update(
        {
            "EMPULSE_ENV": "development",
            "EMPULSE_DATA_DIR": data_dir,
            "DATABASE_URL": database_url,
            "RATE_LIMITS_ENABLED": os.environ.get("RATE_LIMITS_ENABLED", "false"),
        }
    )
    cli(dict(os.environ), "migrate")
    try:
        cli(dict(os.environ), "create-admin", "--email", EMAIL, "--password-stdin", stdin=PASSWORD)
    except subprocess.CalledProcessError:
        if not args.database_url:  # a filled database may have it from an earlier run
            raise
    if args.play or args.batch or args.stream or args.demo:
        cli(dict(os.environ), "demo-data", "--password-stdin", stdin=PASSWORD)
    with stdout_discarded():
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
