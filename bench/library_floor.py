"""The floor of the library benchmarks: bare Starlette routes on asyncpg (no ORM, no
validation, no middleware, no authentication), served by the same server as the service from
`BENCH_DATABASE_URL`.

- `POST /plays`: one play as JSON -> one INSERT into the ledger (with no tally: the service's
  job runner, folding its own plays into the counters during its run, has nothing to do with
  the floor's).
- `POST /plays/batch`: `{"plays": [...]}` -> the rows inserted in one `executemany`.
- `GET /library?user=`: a page of the listener's liked tracks (newest first) and those tracks
  with their artist and album names, in two statements.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

INSERT_PLAY = """
    INSERT INTO plays (id, user_id, play_id, track_id, started_at, ended_at, ms_played,
                       qualified, created_at)
    VALUES ($1, NULL, $2, $3, $4, $4, $5, true, $6)
"""
LIKED = """
    SELECT track_id, created_at FROM liked_tracks WHERE user_id = $1
    ORDER BY created_at DESC, track_id DESC LIMIT 21
"""
TRACKS = """
    SELECT tracks.id, tracks.title, tracks.duration_seconds, tracks.play_count,
           artists.name AS artist_name, albums.title AS album_title, albums.images
    FROM tracks
    JOIN albums ON albums.id = tracks.album_id
    JOIN artists ON artists.id = tracks.artist_id
    JOIN users ON users.id = artists.user_id
    WHERE tracks.id = ANY($1::uuid[]) AND tracks.status = 'published'
      AND albums.status = 'published' AND users.disabled_at IS NULL
"""


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body, default=str), status_code=status, media_type="application/json"
    )


def _row(play: dict[str, Any]) -> tuple[Any, ...]:
    started = datetime.fromisoformat(play["startedAt"].replace("Z", "+00:00"))
    return (
        uuid.uuid4(),
        uuid.UUID(play["playId"]),
        uuid.UUID(play["trackId"]),
        started,
        int(play["msPlayed"]),
        datetime.now(UTC),
    )


async def play(request: Request) -> Response:
    body = orjson.loads(await request.body())
    pool: asyncpg.Pool = request.app.state.pool
    await pool.execute(INSERT_PLAY, *_row(body))
    return _json({"playId": body["playId"]}, 201)


async def plays(request: Request) -> Response:
    body = orjson.loads(await request.body())
    pool: asyncpg.Pool = request.app.state.pool
    await pool.executemany(INSERT_PLAY, [_row(item) for item in body["plays"]])
    return _json({"results": [{"status": 201} for _ in body["plays"]]})


async def library(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    user_id = uuid.UUID(request.query_params["user"])
    async with pool.acquire() as connection:
        likes = await connection.fetch(LIKED, user_id)
        found = await connection.fetch(TRACKS, [like["track_id"] for like in likes])
    tracks = {row["id"]: dict(row) for row in found}
    items = [
        {
            "id": like["track_id"],
            "likedAt": like["created_at"],
            "track": tracks.get(like["track_id"]),
        }
        for like in likes[:20]
    ]
    return _json({"items": items, "nextCursor": None})


async def health(_: Request) -> Response:
    return _json({"status": "ok"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    size = int(os.environ.get("DATABASE_POOL_SIZE", "16"))
    url = os.environ["BENCH_DATABASE_URL"]
    app.state.pool = await asyncpg.create_pool(url, min_size=size, max_size=size)
    try:
        yield
    finally:
        await app.state.pool.close()


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/health", health),
            Route("/plays", play, methods=["POST"]),
            Route("/plays/batch", plays, methods=["POST"]),
            Route("/library", library),
        ],
        lifespan=lifespan,
    )
