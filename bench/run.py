"""HTTP benchmark: the full EmPulse stack against a bare Starlette endpoint on the same server.

    uv run python -m bench.run [--duration 10] [--connections 32] [--workers 1 2]
                               [--servers granian uvicorn]

Starts each server on loopback (EmPulse on PostgreSQL and Redis when they answer, embedded
otherwise), drives it with wrk for a bounded time, and prints throughput, p50/p99 latency and
peak memory (the sum of VmHWM over the server's processes), the server's CPU time per request,
with the ratio to the bare endpoint measured in the same run. Needs `wrk` (Debian: `apt-get
install wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from tests.support.services import (
    free_port,
    postgres_admin_url,
    postgres_available,
    redis_available,
    redis_url,
)

ROOT = Path(__file__).resolve().parents[1]
# The servers a benchmark starts import this checkout's code (its `src`, then `bench` and
# `tests` from its root), whichever checkout the virtual environment was installed from.
PYTHONPATH = os.pathsep.join([str(ROOT / "src"), str(ROOT)])


@dataclass
class Result:
    name: str
    workers: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    non_2xx: int
    # CPU time of the server's processes per request answered: steadier than req/s on a machine
    # the load generator and the database share.
    server_cpu_ms: float
    # The same of the local PostgreSQL's processes (0 when it is elsewhere, or SQLite's, whose
    # work is in the server's figure).
    database_cpu_ms: float = 0.0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = [int(child) for child in text.split()]
    return found + [grandchild for child in found for grandchild in _children(child)]


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far of a process and its children (the workers)."""
    ticks = 0
    for process in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> float:
    """User plus system CPU time so far of this machine's PostgreSQL processes (the server and
    its backends; those that exit in between are not counted, and a pool's stay)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, IndexError, ValueError):
            continue
        if name.startswith("postgres"):
            values = fields.split()
            ticks += int(values[11]) + int(values[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    total_kb = 0
    for process in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            total_kb += int(match.group(1))
    return total_kb / 1024


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def _parse_duration_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(
    url: str, duration: int, connections: int, extra: list[str] | None = None
) -> tuple[float, float, float, int]:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *(extra or []), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _parse_duration_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _parse_duration_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, p50, p99, int(non_2xx_match.group(1)) if non_2xx_match else 0


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    """Run an `empulse` command (create-admin, ...) with the benchmark's environment."""
    subprocess.run(
        [sys.executable, "-m", "empulse.cli", *args],
        input=stdin,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


SERVERS = ("granian", "uvicorn")


def server_command(server: str, target: str, port: int, workers: int) -> list[str]:
    """An ASGI app factory (`module:function`) on `server`, configured as `empulse serve` runs
    granian (asgi, uvloop, HTTP/1, no access log of the server's own), or on uvicorn as
    `empulse serve` ran it before (uvloop, httptools)."""
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--loop",
            "uvloop",
            "--http",
            "1",
            "--no-ws",
            "--no-log",
            "--port",
            str(port),
            "--workers",
            str(workers),
            target,
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--factory",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def bare_command(
    port: int, workers: int, factory: str = "create_app", server: str = "granian"
) -> list[str]:
    """The baseline server: bench/bare_app.py on the service's server stack."""
    return server_command(server, f"bench.bare_app:{factory}", port, workers)


def _serve(command: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    log = open(env["BENCH_LOG"], "ab")  # noqa: SIM115 - closed with the process
    # In a process group of its own, so that stopping it reaches its workers too.
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )
    _wait_until_serving(url, process)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as an operator stops a server; then whatever of its process group is left is
    killed. A granian worker stopped while it still had responses in flight can outlive its
    main process, waiting for worker threads of requests that will never end; left running, it
    would hold its memory and take CPU from every later measurement."""
    process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def measure(
    name: str,
    command: list[str],
    env: dict[str, str],
    path: str,
    port: int,
    workers: int,
    duration: int,
    connections: int,
    wrk_args: list[str] | None = None,
    ready_path: str = "/api/health",
) -> Result:
    url = f"http://127.0.0.1:{port}{path}"
    process = _serve(command, env, f"http://127.0.0.1:{port}{ready_path}")
    try:
        _wrk(url, 2, connections, wrk_args)  # warm-up: imports, connection pools, caches
        cpu_before = _cpu_seconds(process.pid)
        postgres = env.get("DATABASE_URL", "").startswith("postgresql")
        database_before = database_cpu_seconds() if postgres else 0.0
        rps, p50, p99, non_2xx = _wrk(url, duration, connections, wrk_args)
        answered = max(rps * duration, 1)
        cpu_ms = (_cpu_seconds(process.pid) - cpu_before) * 1000 / answered
        database_ms = (
            (database_cpu_seconds() - database_before) * 1000 / answered if postgres else 0.0
        )
        rss = _peak_rss_mb(process.pid)
    finally:
        _stop(process)
    # Each figure as it comes (the tables are printed at the end of a long run).
    print(
        f"  {name}, {workers} worker(s): {rps:,.1f} req/s, {cpu_ms:.3f} ms of server CPU"
        + (f" and {database_ms:.3f} ms of PostgreSQL's" if postgres else "")
        + " a request",
        file=sys.stderr,
        flush=True,
    )
    return Result(name, workers, rps, p50, p99, rss, non_2xx, cpu_ms, database_ms)


def bench_env(database_url: str, data_dir: Path, connections: int) -> dict[str, str]:
    """The environment of a service and its floor against one PostgreSQL benchmark database:
    a pool per connection, no rate limit in the way, logs to `data_dir/server.log`."""
    return {
        **os.environ,
        "EMPULSE_ENV": "development",
        "EMPULSE_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "DATABASE_POOL_SIZE": str(connections),
        "BENCH_DATABASE_URL": database_url,
        "PYTHONPATH": PYTHONPATH,
        "BENCH_LOG": str(data_dir / "server.log"),
        "RATE_LIMITS": "default=1000000000/minute",
    }


# (name, service path, service wrk arguments, floor path, floor wrk arguments)
Case = tuple[str, str, list[str], str, list[str]]


def against_floor(
    cases: list[Case],
    floor_app: str,
    env: dict[str, str],
    workers: int,
    duration: int,
    connections: int,
) -> list[tuple[Result, Result]]:
    """Each case on the floor (`floor_app`, a `module:factory` on granian), then on the
    service (`empulse serve`), in the same run."""
    rows: list[tuple[Result, Result]] = []
    for name, path, wrk_args, floor_path, floor_args in cases:
        port = free_port()
        floor = measure(
            f"{name} (floor)", server_command("granian", floor_app, port, workers),
            env, floor_path, port, workers, duration, connections, floor_args,
        )  # fmt: skip
        _cancel_leftover_statements(env)
        vacuum_without_autovacuum(env.get("BENCH_DATABASE_URL", ""))
        port = free_port()
        serve = [sys.executable, "-m", "empulse.cli", "serve", "--port", str(port)]
        service = measure(
            name, [*serve, "--workers", str(workers)],
            env, path, port, workers, duration, connections, wrk_args,
        )  # fmt: skip
        rows.append((service, floor))
        vacuum_without_autovacuum(env.get("BENCH_DATABASE_URL", ""))
    return rows


def _cancel_leftover_statements(env: dict[str, str]) -> None:
    """Statements a floor left running on PostgreSQL (a naive query that outlasted wrk goes on
    after its client is gone) are cancelled, so they take no CPU from the next measurement."""
    url = env.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return

    async def cancel() -> None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await connection.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state = 'active'"
            )
        finally:
            await connection.close()

    asyncio.run(cancel())


def vacuum_without_autovacuum(url: str) -> None:
    """On a PostgreSQL that runs without autovacuum (some development machines' clusters), do
    what autovacuum would have done by now: `VACUUM ANALYZE` the database at `url`. Without
    it the planner keeps the statistics of the tables as they were filled (the ledger empty,
    while a run writes hundreds of thousands of plays): measured on this machine, a batch of
    50 plays cost PostgreSQL 180 ms on those plans and 2.1 ms after an ANALYZE. And the dead
    rows one measurement left (the fold deletes every tally it counts) are stepped over by
    the next, more each round."""
    if not url.startswith("postgresql"):
        return

    async def vacuum() -> None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            if await connection.fetchval("SHOW autovacuum") == "off":
                await connection.execute("VACUUM ANALYZE")
        finally:
            await connection.close()

    asyncio.run(vacuum())


def print_against_floor(label: str, rows: list[tuple[Result, Result]]) -> None:
    """A Markdown table of (service, floor) results measured in the same run."""
    print()
    print(
        f"| {label} | service req/s | floor req/s | ratio | service p50 / p99 ms | "
        "floor p50 / p99 ms | non-2xx |"
    )
    print("|---|---|---|---|---|---|---|")
    for service, floor in rows:
        ratio = (
            f"{service.requests_per_second / floor.requests_per_second:.2f}"
            if floor.requests_per_second
            else "∞ (the floor answered nothing in time)"
        )
        print(
            f"| {service.name} | {service.requests_per_second:,.0f} | "
            f"{floor.requests_per_second:,.0f} | {ratio} | "
            f"{service.p50_ms:.1f} / {service.p99_ms:.1f} | {floor.p50_ms:.1f} / "
            f"{floor.p99_ms:.1f} | {service.non_2xx + floor.non_2xx} |"
        )


def print_rounds(label: str, rounds: list[list[tuple[Result, Result]]]) -> None:
    """Each case's ratio to its floor in every round (a round measures each case's floor and
    then the service, back to back, so a round's ratio is taken in one phase of a shared
    machine), and their median: the figure to read against a target when the machine's speed
    drifts between runs."""
    print()
    numbers = " | ".join(f"round {n}" for n in range(1, len(rounds) + 1))
    print(f"| {label} | {numbers} | median ratio |")
    print("|---|" + "---|" * (len(rounds) + 1))
    for index, (service, _) in enumerate(rounds[0]):
        ratios = [
            row[index][0].requests_per_second / row[index][1].requests_per_second
            if row[index][1].requests_per_second
            else math.inf
            for row in rounds
        ]
        cells = " | ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"| {service.name} | {cells} | **{statistics.median(ratios):.2f}** |")


def require_wrk_and_postgres() -> str:
    """Exit with what is missing, or return the URL of a fresh benchmark database."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    database_url = _prepare_postgres()
    if database_url is None:
        sys.exit("PostgreSQL is needed for this benchmark")
    return database_url


def _prepare_postgres(name: str = "empulse_bench") -> str | None:
    if not postgres_available():
        return None

    async def recreate() -> None:
        connection = await asyncpg.connect(postgres_admin_url())
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    return postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--servers",
        nargs="+",
        choices=SERVERS,
        default=["granian"],
        help="granian is what `empulse serve` runs; uvicorn is the server it replaced",
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="use SQLite and in-process limits even when PostgreSQL and Redis answer",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    data_dir = Path(tempfile.mkdtemp(prefix="empulse-bench-"))
    env = {
        **os.environ,
        "EMPULSE_ENV": "development",
        "EMPULSE_DATA_DIR": str(data_dir),
        "PYTHONPATH": PYTHONPATH,
        "BENCH_LOG": str(data_dir / "server.log"),
        # The rate-limited route must stay under its limit for the whole run; the limiter
        # still counts every request.
        "RATE_LIMITS": "default=1000000000/minute",
    }
    database_url = None if args.embedded else _prepare_postgres()
    backends = "embedded (SQLite, in-process limits)"
    if database_url and redis_available():
        env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url()})
        env["REDIS_KEY_PREFIX"] = f"bench-{os.getpid()}"
        backends = "PostgreSQL + Redis"
    print(
        f"backends: {backends}; wrk -t1 -c{args.connections} -d{args.duration}s; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )

    rows: list[tuple[Result, Result]] = []
    if "uvicorn" in args.servers:
        cli(env, "migrate")  # uvicorn's workers would each migrate, racing
    for server in args.servers:
        for workers in args.workers:
            port = free_port()
            bare = measure(
                f"bare Starlette ({server})",
                bare_command(port, workers, server=server),
                env,
                "/api/health",
                port,
                workers,
                args.duration,
                args.connections,
            )
            for name, path in (
                ("GET /api/health", "/api/health"),
                ("GET /api/v1 (rate-limited)", "/api/v1"),
            ):
                port = free_port()
                serve = [sys.executable, "-m", "empulse.cli", "serve", "--port", str(port)]
                command = (
                    [*serve, "--workers", str(workers)]
                    if server == "granian"
                    else server_command(server, "empulse.app:create_app", port, workers)
                )
                result = measure(
                    f"{name} ({server})",
                    command,
                    env,
                    path,
                    port,
                    workers,
                    args.duration,
                    args.connections,
                )
                rows.append((result, bare))
            rows.append((bare, bare))

    print()
    print(
        "| route | workers | req/s | ratio to bare | server CPU ms/request | p50 ms | p99 ms | "
        "peak RSS MB | non-2xx |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for result, bare in rows:
        ratio = result.requests_per_second / bare.requests_per_second
        print(
            f"| {result.name} | {result.workers} | {result.requests_per_second:,.0f} | "
            f"{ratio:.2f} | {result.server_cpu_ms:.3f} | {result.p50_ms:.2f} | "
            f"{result.p99_ms:.2f} | {result.peak_rss_mb:.0f} | {result.non_2xx} |"
        )
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
