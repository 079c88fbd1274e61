"""The floor of the catalog reads: the service's statements for each benchmarked page, written
out for asyncpg, answered by bare Starlette routes with orjson (no ORM, no validation, no
middleware). Served by the same server as the service (granian) from `BENCH_DATABASE_URL`.

Each route runs what the service runs for the same page: the visible rows in the list's order
(the joins that decide visibility included), then one query each for what the page shows
beside them (artists, albums, audio facts; an album's track totals).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

VISIBLE_TRACKS = """
    SELECT tracks.* FROM tracks
    JOIN albums ON albums.id = tracks.album_id
    JOIN artists ON artists.id = tracks.artist_id
    JOIN users ON users.id = artists.user_id
    WHERE tracks.status = 'published' AND albums.status = 'published'
      AND users.disabled_at IS NULL
"""
VISIBLE_ALBUMS = """
    SELECT albums.* FROM albums
    JOIN artists ON artists.id = albums.artist_id
    JOIN users ON users.id = artists.user_id
    WHERE albums.status = 'published' AND users.disabled_at IS NULL
"""
NEWEST_TRACKS = "ORDER BY tracks.published_at DESC, tracks.id DESC LIMIT 21"


async def _pairs(pool: asyncpg.Pool, sql: str, ids: list[uuid.UUID]) -> dict[Any, Any]:
    return {row[0]: row[1] for row in await pool.fetch(sql, ids)}


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body, default=str), media_type="application/json")


async def _track_page(pool: asyncpg.Pool, rows: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    artist_ids = list({row["artist_id"] for row in rows})
    album_ids = list({row["album_id"] for row in rows})
    audio_ids = list({row["audio_id"] for row in rows})
    artists = await _pairs(
        pool, "SELECT id, name FROM artists WHERE id = ANY($1::uuid[])", artist_ids
    )
    albums = {
        row["id"]: row
        for row in await pool.fetch(
            "SELECT id, title, images FROM albums WHERE id = ANY($1::uuid[])", album_ids
        )
    }
    audio = await _pairs(
        pool, "SELECT id, details FROM media_objects WHERE id = ANY($1::uuid[])", audio_ids
    )
    return [
        {
            "id": row["id"],
            "title": row["title"],
            "artist": {"id": row["artist_id"], "name": artists[row["artist_id"]]},
            "album": {"id": row["album_id"], "title": albums[row["album_id"]]["title"]},
            "trackNumber": row["position"],
            "durationMs": round(row["duration_seconds"] * 1000),
            "genre": row["genre"],
            "audio": orjson.loads(audio[row["audio_id"]]),
            "images": orjson.loads(albums[row["album_id"]]["images"]),
            "publishedAt": row["published_at"],
        }
        for row in rows[:20]
    ]


def _cursor(rows: Sequence[asyncpg.Record]) -> list[Any] | None:
    if len(rows) <= 20:
        return None
    last = rows[19]
    return [last["published_at"].isoformat(), str(last["id"])]


async def tracks(request: Request) -> Response:
    """`?genre=` or `?after=<published_at>,<id>` (a deep page of the newest tracks)."""
    pool: asyncpg.Pool = request.app.state.pool
    genre = request.query_params.get("genre")
    after = request.query_params.get("after")
    if genre is not None:
        rows = await pool.fetch(f"{VISIBLE_TRACKS} AND tracks.genre = $1 {NEWEST_TRACKS}", genre)
    elif after is not None:
        moment, row_id = after.split(",")
        rows = await pool.fetch(
            f"{VISIBLE_TRACKS} AND (tracks.published_at, tracks.id) < ($1, $2) {NEWEST_TRACKS}",
            datetime.fromisoformat(moment),
            uuid.UUID(row_id),
        )
    else:
        rows = await pool.fetch(f"{VISIBLE_TRACKS} {NEWEST_TRACKS}")
    return _json({"items": await _track_page(pool, rows), "nextCursor": _cursor(rows)})


async def _album_page(pool: asyncpg.Pool, rows: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    artist_ids = list({row["artist_id"] for row in rows})
    album_ids = [row["id"] for row in rows]
    artists = await _pairs(
        pool, "SELECT id, name FROM artists WHERE id = ANY($1::uuid[])", artist_ids
    )
    totals = {
        row["album_id"]: row
        for row in await pool.fetch(
            # The albums are visible already: their tracks' own status is what is left.
            "SELECT album_id, count(*), sum(duration_seconds) FROM tracks "
            "WHERE album_id = ANY($1::uuid[]) AND status = 'published' GROUP BY album_id",
            album_ids,
        )
    }
    return [
        {
            "id": row["id"],
            "title": row["title"],
            "artist": {"id": row["artist_id"], "name": artists[row["artist_id"]]},
            "releaseType": row["release_type"],
            "trackCount": totals[row["id"]]["count"] if row["id"] in totals else 0,
            "durationMs": round((totals[row["id"]]["sum"] or 0) * 1000)
            if row["id"] in totals
            else 0,
            "images": orjson.loads(row["images"]),
            "publishedAt": row["published_at"],
        }
        for row in rows[:20]
    ]


async def albums(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    rows = await pool.fetch(
        f"{VISIBLE_ALBUMS} ORDER BY albums.published_at DESC, albums.id DESC LIMIT 21"
    )
    return _json({"items": await _album_page(pool, rows), "nextCursor": None})


async def album(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    album_id = uuid.UUID(request.path_params["album_id"])
    rows = await pool.fetch(f"{VISIBLE_ALBUMS} AND albums.id = $1", album_id)
    if not rows:
        return _json({"detail": "not found"})
    [shown] = await _album_page(pool, rows)
    track_rows = await pool.fetch(
        f"{VISIBLE_TRACKS} AND tracks.album_id = $1 ORDER BY tracks.position", album_id
    )
    shown["tracks"] = await _track_page(pool, track_rows) if track_rows else []
    return _json(shown)


async def artist_tracks(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    artist_id = uuid.UUID(request.path_params["artist_id"])
    visible = await pool.fetchval(
        "SELECT artists.id FROM artists JOIN users ON users.id = artists.user_id "
        "WHERE artists.id = $1 AND users.disabled_at IS NULL AND EXISTS (SELECT albums.id "
        "FROM albums WHERE albums.artist_id = artists.id AND albums.status = 'published')",
        artist_id,
    )
    if visible is None:
        return _json({"detail": "not found"})
    rows = await pool.fetch(
        f"{VISIBLE_TRACKS} AND tracks.artist_id = $1 {NEWEST_TRACKS}", artist_id
    )
    return _json({"items": await _track_page(pool, rows), "nextCursor": _cursor(rows)})


async def health(_: Request) -> Response:
    return _json({"status": "ok"})


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    url = os.environ["BENCH_DATABASE_URL"]
    async with asyncpg.create_pool(url, min_size=4, max_size=16) as pool:
        app.state.pool = pool
        yield


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/health", health),
            Route("/api/v1/tracks", tracks),
            Route("/api/v1/albums", albums),
            Route("/api/v1/albums/{album_id}", album),
            Route("/api/v1/artists/{artist_id}/tracks", artist_tracks),
        ],
        lifespan=_lifespan,
    )
