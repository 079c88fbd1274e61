"""The baselines: bare Starlette endpoints served by the same server stack (granian).

`/api/health` answers a constant; `/pk/{id}` reads one row by primary key with asyncpg (no ORM,
no middleware), the floor for an authenticated read; `POST /verify` checks one argon2id hash at
the service's parameters in a thread pool of one thread per CPU (no database, no tokens), the
floor for a sign-in through HTTP; `POST /sink` streams the request body into a file under
`BENCH_SINK_DIR` (write, fsync, rename: what local storage does), the floor for an upload through
HTTP; `POST /sink-s3` streams it into an S3 multipart upload at `S3_ENDPOINT_URL` (as the
service's S3 storage does), the floor for an upload to S3 through HTTP; `GET /file` and
`GET /s3-object` serve one file, ranges included, from disk (Starlette's `FileResponse`) and
from S3 (GetObject passed through), the floors of a stream. `create_fastapi_app`
serves the same select and verify as minimal FastAPI routes: the floor for any route of the
service's framework; behind the service's middleware, the floor for any route of the service.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import asyncpg
from botocore.config import Config as BotoConfig
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route


async def health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": "0.0.0"})


async def by_primary_key(request: Request) -> JSONResponse:
    pool: asyncpg.Pool = request.app.state.pool
    row = await pool.fetchrow(
        "SELECT id, email, name, role FROM users WHERE id = $1", request.path_params["user_id"]
    )
    if row is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return JSONResponse({"id": str(row["id"]), "email": row["email"], "name": row["name"]})


_HASHING = anyio.CapacityLimiter(os.cpu_count() or 1)


async def verify(request: Request) -> JSONResponse:
    """`{"password": ...}` checked against the hash of `BENCH_PASSWORD` made at start-up."""
    password = (await request.json())["password"]
    stored: str = request.app.state.stored_hash
    matches = await anyio.to_thread.run_sync(_matches, stored, password, limiter=_HASHING)
    return JSONResponse({"ok": matches}, status_code=200 if matches else 401)


def _matches(stored: str, password: str) -> bool:
    from argon2.exceptions import VerifyMismatchError

    from empulse.core.passwords import HASHER

    try:
        return HASHER.verify(stored, password)
    except VerifyMismatchError:
        return False


async def sink(request: Request) -> JSONResponse:
    folder = Path(os.environ["BENCH_SINK_DIR"])
    staging = folder / f".{uuid.uuid4().hex}"
    size = 0
    with staging.open("wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    target = folder / uuid.uuid4().hex
    staging.rename(target)
    target.unlink()
    return JSONResponse({"size": size}, status_code=201)


S3_PART_BYTES = 8 * 1024 * 1024
S3_PARTS_IN_FLIGHT = 2


async def sink_s3(request: Request) -> JSONResponse:
    """The body in 8 MiB parts of a multipart upload, up to two parts uploading while the next
    fills (the service's S3 storage does the same); the object is deleted afterwards."""
    import boto3

    client = request.app.state.__dict__.get("s3") or boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT_URL"],
        region_name=os.environ.get("S3_REGION", "us-east-1"),
        aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
    )
    request.app.state.s3 = client
    bucket, key = os.environ["S3_BUCKET"], f"bare-sink/{uuid.uuid4().hex}"
    created = await anyio.to_thread.run_sync(
        lambda: client.create_multipart_upload(Bucket=bucket, Key=key)
    )
    upload_id = created["UploadId"]
    etags: dict[int, str] = {}
    slots = anyio.Semaphore(S3_PARTS_IN_FLIGHT)

    async def send(number: int, data: bytes) -> None:
        try:
            answer = await anyio.to_thread.run_sync(
                lambda: client.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
                )
            )
            etags[number] = answer["ETag"]
        finally:
            slots.release()

    size = number = 0
    async with anyio.create_task_group() as parts:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            size += len(chunk)
            if len(buffer) >= S3_PART_BYTES:
                await slots.acquire()
                number += 1
                parts.start_soon(send, number, bytes(buffer))
                buffer.clear()
        await slots.acquire()
        number += 1
        parts.start_soon(send, number, bytes(buffer))
    listed: Any = [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
    await anyio.to_thread.run_sync(
        lambda: client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
        )
    )
    await anyio.to_thread.run_sync(lambda: client.delete_object(Bucket=bucket, Key=key))
    return JSONResponse({"size": size}, status_code=201)


async def file(request: Request) -> Response:
    """`BENCH_FILE` as Starlette serves a file, byte ranges included: the floor of a stream
    from local disk."""
    return FileResponse(os.environ["BENCH_FILE"], media_type="audio/wav")


async def s3_object(request: Request) -> Response:
    """`BENCH_S3_KEY`, the request's range passed to GetObject and the body streamed through in
    256 KiB reads, each in a thread (boto3): the floor of a stream from S3."""
    import boto3

    client = request.app.state.__dict__.get("s3") or boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT_URL"],
        region_name=os.environ.get("S3_REGION", "us-east-1"),
        aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
        config=BotoConfig(max_pool_connections=128),
    )
    request.app.state.s3 = client
    asked = request.headers.get("range")
    bucket, key = os.environ["S3_BUCKET"], os.environ["BENCH_S3_KEY"]

    def fetch() -> Any:
        if asked:
            return client.get_object(Bucket=bucket, Key=key, Range=asked)
        return client.get_object(Bucket=bucket, Key=key)

    got = await anyio.to_thread.run_sync(fetch)
    body = got["Body"]

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await anyio.to_thread.run_sync(body.read, 256 * 1024):
                yield chunk
        finally:
            body.close()

    headers = {"Content-Length": str(got["ContentLength"])}
    if "ContentRange" in got:
        headers["Content-Range"] = got["ContentRange"]
    return StreamingResponse(
        chunks(), status_code=206 if asked else 200, headers=headers, media_type="audio/wav"
    )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    from empulse.core.passwords import HASHER

    app.state.stored_hash = HASHER.hash(os.environ.get("BENCH_PASSWORD", "unused"))
    url = os.environ.get("BENCH_ASYNCPG_URL")
    app.state.pool = await asyncpg.create_pool(url, min_size=2, max_size=10) if url else None
    yield
    if app.state.pool is not None:
        await app.state.pool.close()


def create_app_behind_the_service_middleware() -> Starlette:
    """The same endpoints behind the service's own middleware stack, in the service's order and
    with its settings (request id, client address, security headers, the JSON access line and
    the Prometheus samples; CORS; the body guard): what a route costs once it is outside
    FastAPI's routing and dependency resolution."""
    return _behind_the_service_middleware(create_app())


def create_fastapi_app_behind_the_service_middleware() -> Starlette:
    """The FastAPI routes of `create_fastapi_app` behind the service's middleware stack: the
    floor of any route of the service, which has both."""
    return _behind_the_service_middleware(create_fastapi_app())


def _behind_the_service_middleware(app: Starlette) -> Starlette:
    from empulse.app import install_middleware
    from empulse.config import load_settings
    from empulse.core.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    install_middleware(app, settings)
    return app


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/health", health),
            Route("/api/v1", health),
            Route("/pk/{user_id:uuid}", by_primary_key),
            Route("/verify", verify, methods=["POST"]),
            Route("/sink", sink, methods=["POST"]),
            Route("/sink-s3", sink_s3, methods=["POST"]),
            Route("/file", file),
            Route("/s3-object", s3_object),
        ],
        lifespan=lifespan,
    )


def create_fastapi_app() -> FastAPI:
    """The primary-key select and the argon2id verify as the leanest FastAPI routes: no
    middleware, no dependencies, no response model; a plain dict returned as FastAPI
    serialises it."""
    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.add_api_route("/verify", verify, methods=["POST"], response_model=None)

    @app.get("/api/health", response_model=None)
    async def fastapi_health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/pk/{user_id}", response_model=None)
    async def fastapi_by_primary_key(user_id: uuid.UUID, request: Request) -> dict[str, str]:
        pool: asyncpg.Pool = request.app.state.pool
        row = await pool.fetchrow("SELECT id, email, name, role FROM users WHERE id = $1", user_id)
        if row is None:
            return {"detail": "not found"}
        return {"id": str(row["id"]), "email": row["email"], "name": row["name"]}

    return app
