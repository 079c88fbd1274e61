"""The reference for the search benchmark: the same searches done the naive way, `ILIKE
'%word%'` over the joined tables (every word in the title, the artist or the album), with the
catalog's visibility joins, on asyncpg behind a bare Starlette route, served by the same server
as the service from `BENCH_DATABASE_URL` (or on a SQLite file, with `LIKE`).

    GET /naive?q=night+drive&type=track|artist
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TRACKS = """
    SELECT tracks.id, tracks.title FROM tracks
    JOIN albums ON albums.id = tracks.album_id
    JOIN artists ON artists.id = tracks.artist_id
    JOIN users ON users.id = artists.user_id
    WHERE tracks.status = 'published' AND albums.status = 'published'
      AND users.disabled_at IS NULL AND {words}
    ORDER BY tracks.play_count DESC, tracks.id LIMIT 21
"""
ARTISTS = """
    SELECT artists.id, artists.name FROM artists
    JOIN users ON users.id = artists.user_id
    WHERE users.disabled_at IS NULL AND {words}
      AND EXISTS (SELECT 1 FROM albums WHERE albums.artist_id = artists.id
                  AND albums.status = 'published')
    ORDER BY artists.play_count DESC, artists.id LIMIT 21
"""


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body, default=str), media_type="application/json")


async def naive(request: Request) -> Response:
    words = request.query_params["q"].split()[:10]
    patterns = [f"%{word}%" for word in words]
    if request.query_params.get("type") == "artist":
        condition = " AND ".join(f"artists.name ILIKE ${n}" for n in range(1, len(words) + 1))
        sql = ARTISTS.format(words=condition)
    else:
        condition = " AND ".join(
            f"(tracks.title ILIKE ${n} OR artists.name ILIKE ${n} OR albums.title ILIKE ${n})"
            for n in range(1, len(words) + 1)
        )
        sql = TRACKS.format(words=condition)
    if isinstance(request.app.state.pool, SqliteReader):
        # SQLite's LIKE ignores ASCII case, as ILIKE does; `?1` is its `$1`.
        sql = re.sub(r"\$(\d+)", r"?\1", sql.replace("ILIKE", "LIKE"))
        return _json({"items": await request.app.state.pool.fetch(sql, patterns)})
    rows = await request.app.state.pool.fetch(sql, *patterns)
    return _json({"items": [dict(row) for row in rows]})


class SqliteReader:
    """Statements on a SQLite file in worker threads, a connection per thread (the floor of
    the embedded default, as `aiosqlite` runs the service's)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()

    def _fetch(self, sql: str, parameters: list[str]) -> list[dict[str, Any]]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
        return [dict(row) for row in connection.execute(sql, parameters)]

    async def fetch(self, sql: str, parameters: list[str]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._fetch, sql, parameters)


async def health(_: Request) -> Response:
    return _json({"status": "ok"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    url = os.environ["BENCH_DATABASE_URL"]
    if url.startswith("sqlite"):
        app.state.pool = SqliteReader(url.split("///", 1)[1])
        yield
        return
    size = int(os.environ.get("DATABASE_POOL_SIZE", "16"))
    app.state.pool = await asyncpg.create_pool(url, min_size=size, max_size=size)
    try:
        yield
    finally:
        await app.state.pool.close()


def create_app() -> Starlette:
    return Starlette(
        routes=[Route("/api/health", health), Route("/naive", naive)], lifespan=lifespan
    )
