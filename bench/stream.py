"""Streaming: listeners reading a 10 MiB track in 1 MiB ranges through
`GET /api/v1/tracks/{id}/stream`, from local disk and from S3 (moto's server), against the
floor of each storage measured in the same run.

    uv run python -m bench.stream [--duration 10] [--clients 16 64] [--storage local s3]

The track is published through the API (a valid 10 MiB WAV), then wrk drives each client
count: every request asks for the next 1 MiB range of the original (`format=original`: the
file as uploaded, not a rendition), with a listener's bearer
token. The floors serve the same bytes with nothing of the service around them
(bench/bare_app.py): Starlette's `FileResponse` from the stored file (local), and a bare
GetObject passthrough with the same range (S3). Prints throughput in MiB/s with the ratio to
the floor, p50/p99 latency, and the server's peak memory per client count (`VmHWM`), which
should not grow with the number of clients. Needs wrk.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.services import free_port

from bench.run import PYTHONPATH, Result, _serve, _stop, bare_command, cli, measure
from bench.upload import (
    ARTIST,
    PASSWORD,
    REVIEWER,
    approved_artist,
    login,
    make_wav,
    moto_server,
    upload,
)

MIB = 1024 * 1024
SIZE = 10 * MIB


def _ranges_script(directory: Path, token: str) -> list[str]:
    """wrk arguments: each request asks for the next 1 MiB of the file, with the token."""
    script = directory / "ranges.lua"
    script.write_text(
        "counter = 0\n"
        "request = function()\n"
        f"  local start = (counter % {SIZE // MIB}) * {MIB}\n"
        "  counter = counter + 1\n"
        '  return wrk.format("GET", nil, {["Range"] = "bytes=" .. start .. "-" .. '
        f'(start + {MIB - 1}), ["Authorization"] = "{token}"}})\n'
        "end\n"
    )
    return ["-s", str(script)]


def _publish(env: dict[str, str], audio: Path) -> tuple[str, str]:
    """The track published; (its id, a listener's `Authorization` value)."""
    for email in (ARTIST, REVIEWER):
        cli(env, "create-admin", "--email", email, "--password-stdin", stdin=PASSWORD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(
        [sys.executable, "-m", "empulse.cli", "serve", "--port", str(port)],
        env,
        f"{base}/api/health",
    )
    try:
        artist = approved_artist(base)
        upload(base, artist, audio)
        reviewer = login(base, REVIEWER)
        pending = httpx.get(
            f"{base}/api/v1/admin/submissions?status=pending", headers=reviewer, timeout=30
        ).json()["items"]
        _processed(base, reviewer, pending[0]["id"])
        httpx.post(
            f"{base}/api/v1/admin/submissions/{pending[0]['id']}/approve",
            headers=reviewer,
            timeout=30,
        ).raise_for_status()
        track = httpx.get(f"{base}/api/v1/tracks", timeout=30).json()["items"][0]
    finally:
        _stop(process)
    return track["id"], reviewer["Authorization"]


def _processed(base: str, reviewer: dict[str, str], submission_id: str) -> None:
    """Wait for the server's job runner to make the track's renditions (a release is
    publishable once they exist)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        files = httpx.get(
            f"{base}/api/v1/admin/submissions/{submission_id}", headers=reviewer, timeout=30
        ).json()["files"]
        statuses = {f["pipeline"]["status"] for f in files if f["role"] == "audio"}
        if statuses == {"done"}:
            return
        if "failed" in statuses:
            raise RuntimeError(f"the media pipeline failed: {files}")
        time.sleep(0.2)
    raise RuntimeError("the media pipeline did not finish in 5 minutes")


def run(
    storage: str, clients: list[int], duration: int, workdir: Path
) -> list[tuple[int, Result, Result]]:
    data_dir = workdir / storage
    data_dir.mkdir()
    env = {
        **os.environ,
        "EMPULSE_ENV": "development",
        "EMPULSE_DATA_DIR": str(data_dir),
        "PYTHONPATH": PYTHONPATH,
        "BENCH_LOG": str(data_dir / "server.log"),
        "RATE_LIMITS": "default=1000000000/minute,streams=1000000000/minute",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": "",
    }
    audio = workdir / "track.wav"
    if not audio.exists():
        make_wav(audio, SIZE)
    rows = []
    with contextlib.ExitStack() as stack:
        if storage == "s3":
            s3 = stack.enter_context(moto_server(data_dir / "moto.log"))
            env.update(s3.env())
        track_id, token = _publish(env, audio)
        # The one audio object stored, for the floor to serve.
        if storage == "s3":
            listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix="private/audio/")  # type: ignore[attr-defined]
            env["BENCH_S3_KEY"] = listed["Contents"][0]["Key"]
            floor_path = "/s3-object"
        else:
            [stored] = (data_dir / "files" / "private" / "audio").iterdir()
            env["BENCH_FILE"] = str(stored)
            floor_path = "/file"
        script = _ranges_script(data_dir, token)
        for count in clients:
            port = free_port()
            floor = measure(
                f"{storage} floor", bare_command(port, 1), env, floor_path, port, 1,
                duration, count, script,
            )  # fmt: skip
            port = free_port()
            serve = [sys.executable, "-m", "empulse.cli", "serve", "--port", str(port)]
            original = f"/api/v1/tracks/{track_id}/stream?format=original"
            service = measure(
                f"{storage} service", serve, env, original, port, 1,
                duration, count, script,
            )  # fmt: skip
            rows.append((count, service, floor))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--storage", nargs="+", choices=["local", "s3"], default=["local", "s3"])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="empulse-bench-stream-"))
    try:
        rows = [
            (storage, *row)
            for storage in args.storage
            for row in run(storage, args.clients, args.duration, workdir)
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"1 worker; 1 MiB ranges of a 10 MiB file; wrk -t1 -d{args.duration}s; "
        f"{os.cpu_count()} CPUs"
    )
    print()
    print(
        "| storage | clients | service MiB/s | floor MiB/s | ratio | service p50 / p99 ms | "
        "floor p50 / p99 ms | service peak RSS MB | floor peak RSS MB | non-2xx |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for storage, count, service, floor in rows:
        ratio = service.requests_per_second / floor.requests_per_second
        print(
            f"| {storage} | {count} | {service.requests_per_second:,.0f} | "
            f"{floor.requests_per_second:,.0f} | {ratio:.2f} | {service.p50_ms:.1f} / "
            f"{service.p99_ms:.1f} | {floor.p50_ms:.1f} / {floor.p99_ms:.1f} | "
            f"{service.peak_rss_mb:.0f} | {floor.peak_rss_mb:.0f} | "
            f"{service.non_2xx + floor.non_2xx} |"
        )


if __name__ == "__main__":
    main()
