"""Upload benchmark: a 50 MB track through `POST /api/v1/submissions`, against copying the same
bytes to the same storage without the service; and the server's peak memory at 5 MB and 50 MB.

    uv run python -m bench.upload [--storage local s3] [--runs 5]

`local` is the embedded default (SQLite, files on the local disk); its baseline is a chunked
copy of the file into the storage folder with the same fsync and rename the service does. `s3`
runs moto's S3 server in its own process (with PostgreSQL when it answers); its baseline is
boto3's `upload_file`, what an operator's own tool would do. Each upload is a valid WAV (the
service decodes it) and a cover, sent by one client as a browser sends a form (with a
`Content-Length`); throughput is the median over the runs.
Peak memory is `VmHWM` of a fresh server process per file size.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import httpx
import orjson
from PIL import Image
from tests.support.services import free_port, postgres_available

from bench.run import (
    PYTHONPATH,
    _peak_rss_mb,
    _prepare_postgres,
    _serve,
    _stop,
    bare_command,
    cli,
)
from empulse.submissions.schemas import WARRANTIES_GIVEN

MB = 1024 * 1024
PASSWORD = "bench-password-quartz-4417"  # noqa: S105 - throwaway benchmark accounts
ARTIST, REVIEWER = "artist@bench.example", "reviewer@bench.example"
BOUNDARY = "bench-upload-boundary"
RELEASE = {
    "releaseType": "single",
    "metadata": {"trackName": "Benchmark", "genre": "Electronic"},
    "artistMoodTags": {"mood": "calm"},
    "composers": ["Bench"],
    "legalWarranties": WARRANTIES_GIVEN,
}
APPLICATION = {
    "selectedMediums": ["Music"],
    "accountInfo": {"email": ARTIST, "artistName": "Bench Artist"},
    "documentsSigned": ["artist_agreement", "terms_of_service", "privacy_policy"],
    "w9Data": {
        "taxId": "12-3456789",
        "taxClassification": "llc",
        "businessName": "Bench LLC",
        "address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701"},
        "completed": True,
    },
    "digitalSignature": "Bench Artist",
}


def make_wav(path: Path, size: int) -> None:
    """A mono 16-bit 44.1 kHz sine, `size` bytes long including the header."""
    rate = 44_100
    second = b"".join(
        struct.pack("<h", int(12_000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(rate)
    )
    frames = (size - 44) // 2
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        written = 0
        while written < frames:
            chunk = second[: 2 * min(rate, frames - written)]
            out.writeframes(chunk)
            written += len(chunk) // 2


def make_cover() -> bytes:
    """A 1400x1400 JPEG, the usual size of release artwork."""
    image = Image.new("RGB", (1400, 1400), (40, 90, 160))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


COVER = make_cover()


def form_around(path: Path) -> tuple[bytes, bytes]:
    """The multipart body's bytes before and after the audio file's: the payload part, the
    audio part's headers; then the cover part and the closing boundary."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="payload"\r\n\r\n'
        f"{orjson.dumps(RELEASE).decode()}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="audioFile"; '
        f'filename="{path.name}"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()
    tail = (
        f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="coverArtFile"; '
        'filename="cover.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode() + COVER
    return head, tail + f"\r\n--{BOUNDARY}--\r\n".encode()


def login(base: str, email: str) -> dict[str, str]:
    body = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    ).json()
    return {"Authorization": f"Bearer {body['accessToken']}"}


def approved_artist(base: str) -> dict[str, str]:
    """The artist applies; another admin approves (nobody reviews their own application)."""
    artist = login(base, ARTIST)
    applied = httpx.post(
        f"{base}/api/v1/artist/applications", json=APPLICATION, headers=artist, timeout=30
    )
    applied.raise_for_status()
    reviewer = login(base, REVIEWER)
    httpx.post(
        f"{base}/api/v1/admin/applications/{applied.json()['id']}/approve",
        headers=reviewer,
        timeout=30,
    ).raise_for_status()
    return artist


def upload(
    base: str, headers: dict[str, str], path: Path, route: str = "/api/v1/submissions"
) -> float:
    """One upload as a browser sends a form with a file: a `Content-Length` body, the file read
    from disk in 1 MiB blocks. The client is the standard library's, which costs next to nothing
    on a machine it shares with the server (httpx would stream an unknown length as chunks)."""
    head, tail = form_around(path)

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as source:
            while chunk := source.read(MB):
                yield chunk
        yield tail

    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=300)
    started = time.perf_counter()
    try:
        connection.request(
            "POST",
            route,
            body=body(),
            headers={
                **headers,
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
            },
        )
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    elapsed = time.perf_counter() - started
    if response.status != 201:
        raise RuntimeError(f"upload failed: {response.status} {answer[:300]!r}")
    return elapsed


def copy_local(path: Path, root: Path) -> float:
    """The same bytes into the same folder, as the service stores them: chunked write, fsync,
    rename into place."""
    started = time.perf_counter()
    staging = root / ".staging" / uuid.uuid4().hex
    target = root / "private" / "bench-copy" / uuid.uuid4().hex
    staging.parent.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as source, staging.open("wb") as out:
        while chunk := source.read(MB):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    staging.rename(target)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


@dataclass
class S3:
    endpoint: str
    bucket: str = "empulse-bench"

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - moto accepts anything
        )

    def env(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_BUCKET": self.bucket,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": "bench",
            "S3_SECRET_ACCESS_KEY": "bench",
        }


def copy_s3(path: Path, s3: S3) -> float:
    client = s3.client()
    started = time.perf_counter()
    client.upload_file(str(path), s3.bucket, f"bench-copy/{uuid.uuid4().hex}")  # type: ignore[attr-defined]
    return time.perf_counter() - started


@contextlib.contextmanager
def moto_server(log: Path) -> Iterator[S3]:
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=output,
        )
    s3 = S3(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s3.client().create_bucket(Bucket=s3.bucket)  # type: ignore[attr-defined]
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield s3
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Row:
    storage: str
    size_mb: float
    service_mbps: float
    baseline_mbps: float
    peak_rss_mb: float
    idle_rss_mb: float
    bare_http_mbps: float | None


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def serving(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "empulse.cli", "serve", "--port", str(port)]
    return _serve(command, env, f"{base}/api/health"), base


def measure(
    storage: str,
    env: dict[str, str],
    artist: dict[str, str],
    audio: Path,
    runs: int,
    s3: S3 | None,
) -> Row:
    """A fresh server process for this file size: throughput, then its memory high-water mark."""
    process, base = serving(env)
    try:
        idle = _rss_mb(process.pid)
        upload(base, artist, audio)  # warm-up: imports, codecs, pools
        service = [upload(base, artist, audio) for _ in range(runs)]
        peak = _peak_rss_mb(process.pid)
    finally:
        _stop(process)
    bare_http = None
    if s3 is None:
        baseline = [copy_local(audio, Path(env["EMPULSE_DATA_DIR"]) / "files") for _ in range(runs)]
        bare_http = bare_upload(env, audio, runs)
    else:
        baseline = [copy_s3(audio, s3) for _ in range(runs)]
        bare_http = bare_upload(env, audio, runs, "/sink-s3")
    size = audio.stat().st_size / MB
    return Row(
        storage,
        size,
        size / statistics.median(service),
        size / statistics.median(baseline),
        peak,
        idle,
        size / statistics.median(bare_http) if bare_http else None,
    )


def bare_upload(env: dict[str, str], audio: Path, runs: int, path: str = "/sink") -> list[float]:
    """The same request into bench/bare_app.py's `/sink` (HTTP and a file write, nothing else)
    or `/sink-s3` (HTTP and a multipart upload to the same S3)."""
    sink = Path(env["EMPULSE_DATA_DIR"]) / "files" / "bare-sink"
    sink.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(
        bare_command(port, 1), {**env, "BENCH_SINK_DIR": str(sink)}, f"{base}/api/health"
    )
    try:
        upload(base, {}, audio, path)
        return [upload(base, {}, audio, path) for _ in range(runs)]
    finally:
        _stop(process)


def run(
    storage: str, runs: int, workdir: Path, audio: dict[int, Path], max_audio_bytes: int
) -> list[Row]:
    data_dir = workdir / storage
    data_dir.mkdir()
    env = {
        **os.environ,
        "EMPULSE_ENV": "development",
        "EMPULSE_DATA_DIR": str(data_dir),
        "PYTHONPATH": PYTHONPATH,
        "BENCH_LOG": str(data_dir / "server.log"),
        "RATE_LIMITS_ENABLED": "false",
        "MAX_AUDIO_BYTES": str(max_audio_bytes),
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": "",
    }
    with contextlib.ExitStack() as stack:
        s3 = None
        if storage == "s3":
            s3 = stack.enter_context(moto_server(data_dir / "moto.log"))
            env.update(s3.env())
            if postgres_available():
                env["DATABASE_URL"] = _prepare_postgres() or ""
        for email in (ARTIST, REVIEWER):
            cli(env, "create-admin", "--email", email, "--password-stdin", stdin=PASSWORD)
        process, base = serving(env)
        try:
            artist = approved_artist(base)
        finally:
            _stop(process)
        return [measure(storage, env, artist, audio[size], runs, s3) for size in sorted(audio)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", nargs="+", choices=["local", "s3"], default=["local", "s3"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[5, 20, 50],
        help="file sizes in MB (above 50 the per-file limit is raised to fit)",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="empulse-bench-upload-"))
    try:
        audio = {}
        for size in args.sizes:
            audio[size] = workdir / f"{size}mb.wav"
            # Just under the per-file limit (MAX_AUDIO_BYTES, 50 MiB by default).
            make_wav(audio[size], size * MB - 64 * 1024)
        limit = max(50, *args.sizes) * MB
        rows = [
            row
            for storage in args.storage
            for row in run(storage, args.runs, workdir, audio, limit)
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"{os.cpu_count()} CPUs; median of {args.runs} uploads after one warm-up")
    print()
    print(
        "| storage | file MB | service MB/s | copy without the service MB/s | ratio | "
        "bare HTTP sink MB/s | server idle RSS MB | server peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        bare = f"{row.bare_http_mbps:.1f}" if row.bare_http_mbps else "—"
        print(
            f"| {row.storage} | {row.size_mb:.1f} | {row.service_mbps:.1f} | "
            f"{row.baseline_mbps:.1f} | {row.service_mbps / row.baseline_mbps:.2f} | {bare} | "
            f"{row.idle_rss_mb:.0f} | {row.peak_rss_mb:.0f} |"
        )


if __name__ == "__main__":
    main()
