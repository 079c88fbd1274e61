"""Authentication benchmarks, on PostgreSQL (and Redis when it answers).

    uv run python -m bench.auth [--duration 10] [--workers 1 2]

1. Login throughput as a ratio to the raw argon2id verify rate at the same parameters, on the
   same machine (threads = CPUs, as the server hashes in a thread pool). Target >= 0.9.
2. Authenticated `GET /api/v1/auth/me` as a ratio to a bare Starlette endpoint doing one
   primary-key select with asyncpg. Target >= 0.6. Measured with rate limits off, and again
   with them on (the production configuration: each request counted per address and per user).
   Also against the same bare endpoint behind the service's own middleware stack, which
   separates what the middleware costs from what FastAPI and authentication cost.
3. The floors, what no service could beat on this machine and stack: a bare Starlette endpoint
   that only checks the argon2id hash in a thread pool (the ceiling of any sign-in over HTTP,
   against the raw verify rate), the primary-key select as the leanest FastAPI route (the
   ceiling of any FastAPI route that reads a row, against the bare select), and both as FastAPI
   routes behind the service's middleware (the ceiling of any route of this service).
4. `GET /api/v1/auth/me` alone and beside a sign-in storm (64 concurrent logins): sign-ins
   queue for the hasher, and must not starve other requests of database connections.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from tests.support.services import free_port, redis_available, redis_url

from bench.run import (
    PYTHONPATH,
    Result,
    _serve,
    _stop,
    _wrk,
    bare_command,
    cli,
    measure,
    require_wrk_and_postgres,
)
from empulse.core.passwords import HASHER

PASSWORD = "bench-password-quartz-4417"  # noqa: S105 - a throwaway benchmark account
EMAIL = "bench@example.com"


def raw_argon2_rate(seconds: float, threads: int) -> float:
    stored = HASHER.hash(PASSWORD)
    deadline = time.perf_counter() + seconds

    def work() -> int:
        done = 0
        while time.perf_counter() < deadline:
            HASHER.verify(stored, PASSWORD)
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: work(), range(threads)))
    return total / (time.perf_counter() - started)


def create_verified_user(env: dict[str, str]) -> str:
    """A verified account, made with the CLI (an admin is verified from the start)."""
    cli(env, "create-admin", "--email", EMAIL, "--password-stdin", stdin=PASSWORD)
    return EMAIL


def sign_in(serve: list[str], env: dict[str, str]) -> tuple[str, str]:
    """Start a server, sign the benchmark user in, stop it: (access token, user id)."""
    port = free_port()
    process = _serve([*serve, "--port", str(port)], env, f"http://127.0.0.1:{port}/api/health")
    try:
        body = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"email": EMAIL, "password": PASSWORD},
            timeout=30,
        ).json()
    finally:
        _stop(process)
    return body["accessToken"], body["user"]["id"]


def measure_me(
    name: str,
    serve: list[str],
    env: dict[str, str],
    token: str,
    workers: int,
    args: argparse.Namespace,
    path: str = "/api/v1/auth/me",
) -> Result:
    """`GET path` (by default `/api/v1/auth/me`) with this token, on a fresh server
    (`args.duration`, `args.connections`)."""
    port = free_port()
    return measure(
        name,
        [*serve, "--port", str(port)],
        env,
        path,
        port,
        workers,
        args.duration,
        args.connections,
        ["-H", f"Authorization: Bearer {token}"],
    )


def me_beside_storm(
    serve: list[str], env: dict[str, str], login_lua: Path, duration: int
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(req/s, p50, p99) of `/auth/me` from two connections, alone and while another wrk keeps
    64 sign-ins in flight on the same server."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve([*serve, "--port", str(port)], env, f"{base}/api/health")
    try:
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
        ).json()["accessToken"]
        me = f"{base}/api/v1/auth/me"
        headers = ["-H", f"Authorization: Bearer {token}"]
        _wrk(me, 2, 2, headers)
        alone = _wrk(me, duration, 2, headers)[:3]
        storm_command = ["wrk", "-t1", "-c64", f"-d{duration + 6}s", "-s", str(login_lua)]
        storm = subprocess.Popen(
            [*storm_command, f"{base}/api/v1/auth/login"], stdout=subprocess.DEVNULL
        )
        try:
            time.sleep(3)  # the storm is under way: every hasher slot busy, a queue behind it
            during = _wrk(me, duration, 2, headers)[:3]
        finally:
            storm.wait()
    finally:
        _stop(process)
    return alone, during


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    database_url = require_wrk_and_postgres()

    data_dir = Path(tempfile.mkdtemp(prefix="empulse-bench-auth-"))
    env = {
        **os.environ,
        "EMPULSE_ENV": "development",
        "EMPULSE_DATA_DIR": str(data_dir),
        "PYTHONPATH": PYTHONPATH,
        "BENCH_LOG": str(data_dir / "server.log"),
        "DATABASE_URL": database_url,
        "RATE_LIMITS_ENABLED": "false",
        "BENCH_ASYNCPG_URL": database_url,
        "BENCH_PASSWORD": PASSWORD,
    }
    if redis_available():
        env.update({"REDIS_URL": redis_url(), "REDIS_KEY_PREFIX": f"bench-auth-{os.getpid()}"})
    create_verified_user(env)

    cpus = os.cpu_count() or 1
    raw = raw_argon2_rate(args.duration, cpus)
    print(f"raw argon2id verify rate ({cpus} threads): {raw:,.1f}/s", flush=True)

    login_lua = data_dir / "login.lua"
    login_lua.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = '{json.dumps({'email': EMAIL, 'password': PASSWORD})}'\n"
    )
    verify_lua = data_dir / "verify.lua"
    verify_lua.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = '{json.dumps({'password': PASSWORD})}'\n"
    )
    rows: list[tuple[str, Result, float]] = []
    for workers in args.workers:
        serve = [sys.executable, "-m", "empulse.cli", "serve", "--workers", str(workers)]
        port = free_port()
        login = measure(
            "POST /api/v1/auth/login",
            [*serve, "--port", str(port)],
            env,
            "/api/v1/auth/login",
            port,
            workers,
            args.duration,
            args.connections,
            ["-s", str(login_lua)],
        )
        rows.append(("raw argon2id verify", login, raw))
        for name, factory, port in (
            ("bare Starlette argon2id verify (floor)", "create_app", free_port()),
            (
                "argon2id verify as a FastAPI route behind the service's middleware (floor)",
                "create_fastapi_app_behind_the_service_middleware",
                free_port(),
            ),
        ):
            floor = measure(
                name,
                bare_command(port, workers, factory),
                env,
                "/verify",
                port,
                workers,
                args.duration,
                args.connections,
                ["-s", str(verify_lua)],
            )
            rows.append(("raw argon2id verify", floor, raw))

        token, user_id = sign_in(serve, env)
        me = measure_me("GET /api/v1/auth/me", serve, env, token, workers, args)
        bare, behind, fastapi_floor, stack_floor = (
            measure(
                name,
                bare_command(port, workers, factory),
                env,
                f"/pk/{user_id}",
                port,
                workers,
                args.duration,
                args.connections,
            )
            for name, factory, port in (
                ("bare asyncpg PK select", "create_app", free_port()),
                # The same select behind the service's middleware: what is left of the gap is
                # FastAPI's routing and dependency resolution, authentication and the read.
                (
                    "bare select behind the service's middleware",
                    "create_app_behind_the_service_middleware",
                    free_port(),
                ),
                (
                    "the select as a minimal FastAPI route (floor)",
                    "create_fastapi_app",
                    free_port(),
                ),
                (
                    "the select as a FastAPI route behind the service's middleware (floor)",
                    "create_fastapi_app_behind_the_service_middleware",
                    free_port(),
                ),
            )
        )
        # The production configuration: rate limits on (on Redis when it answers), so each
        # request is also counted per address and per user; the limit itself never refuses.
        limited = measure_me(
            "GET /api/v1/auth/me (rate-limited)",
            serve,
            {**env, "RATE_LIMITS_ENABLED": "true", "RATE_LIMITS": "default=1000000000/minute"},
            token,
            workers,
            args,
        )
        rows.append(("bare asyncpg PK select", me, bare.requests_per_second))
        rows.append(("bare asyncpg PK select", limited, bare.requests_per_second))
        rows.append(("", bare, bare.requests_per_second))
        rows.append(("bare asyncpg PK select", behind, bare.requests_per_second))
        rows.append(("bare asyncpg PK select", fastapi_floor, bare.requests_per_second))
        rows.append(("bare asyncpg PK select", stack_floor, bare.requests_per_second))
        rows.append(("bare select behind the service's middleware", me, behind.requests_per_second))

    storms = [
        (
            workers,
            *me_beside_storm(
                [sys.executable, "-m", "empulse.cli", "serve", "--workers", str(workers)],
                env,
                login_lua,
                args.duration,
            ),
        )
        for workers in args.workers
    ]

    print()
    print(
        "| measurement | workers | req/s | baseline | ratio | server CPU ms/request | p50 ms | "
        "p99 ms | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for baseline_name, result, baseline in rows:
        print(
            f"| {result.name} | {result.workers} | {result.requests_per_second:,.1f} | "
            f"{baseline_name or '—'} | {result.requests_per_second / baseline:.2f} | "
            f"{result.server_cpu_ms:.3f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} | "
            f"{result.peak_rss_mb:.0f} |"
        )
    print()
    print("| GET /api/v1/auth/me, 2 connections | workers | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for workers, alone, during in storms:
        for label, (rps, p50, p99) in (("alone", alone), ("beside 64 sign-ins", during)):
            print(f"| {label} | {workers} | {rps:,.1f} | {p50:.2f} | {p99:.2f} |")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
