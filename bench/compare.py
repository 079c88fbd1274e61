"""A/B: an authenticated GET (by default `/api/v1/auth/me`) on an earlier commit and on the
working tree, alternating, on PostgreSQL (and Redis when it answers).

    uv run python -m bench.compare REF [--rounds 2] [--duration 8] [--rate-limits] [--path P]

Numbers taken minutes apart on a shared machine drift more than most changes move them; pairs
taken in turn, with the same harness, do not. The earlier commit is checked out into a
temporary git worktree and put first on the server's `PYTHONPATH`; everything else (the
virtual environment, the database, wrk) is shared. With `--rate-limits`, limits are on (a
limit too high to refuse anything), so each request is also counted by the rate limiter.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.services import redis_available, redis_url

from bench.auth import create_verified_user, measure_me, sign_in
from bench.run import ROOT, require_wrk_and_postgres


def _me_cpu(source: Path, database_url: str, args: argparse.Namespace) -> tuple[float, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="empulse-bench-compare-"))
    env = {
        **os.environ,
        "EMPULSE_ENV": "development",
        "EMPULSE_DATA_DIR": str(data_dir),
        "PYTHONPATH": f"{source}:{ROOT}",
        "BENCH_LOG": str(data_dir / "server.log"),
        "DATABASE_URL": database_url,
        "RATE_LIMITS_ENABLED": "true" if args.rate_limits else "false",
        "RATE_LIMITS": "default=1000000000/minute",
    }
    if redis_available():
        env.update({"REDIS_URL": redis_url(), "REDIS_KEY_PREFIX": f"bench-compare-{os.getpid()}"})
    try:
        create_verified_user(env)
        serve = [sys.executable, "-m", "empulse.cli", "serve", "--workers", "1"]
        token, _ = sign_in(serve, env)
        result = measure_me(f"GET {args.path}", serve, env, token, 1, args, args.path)
        return result.requests_per_second, result.server_cpu_ms
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the earlier commit (any git revision)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate-limits", action="store_true")
    parser.add_argument("--path", default="/api/v1/auth/me", help="the route to request")
    args = parser.parse_args()
    database_url = require_wrk_and_postgres()
    worktree = Path(tempfile.mkdtemp(prefix="empulse-compare-")) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), args.ref], cwd=ROOT, check=True
    )
    try:
        print("| round | code | req/s | server CPU ms/request |")
        print("|---|---|---|---|")
        for round_number in range(1, args.rounds + 1):
            for label, source in ((args.ref, worktree / "src"), ("working tree", ROOT / "src")):
                rate, cpu = _me_cpu(source, database_url, args)
                print(f"| {round_number} | {label} | {rate:,.0f} | {cpu:.3f} |", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT)


if __name__ == "__main__":
    main()
