"""A large published catalog for the catalog and search benchmarks, written straight into
PostgreSQL with set-based SQL (not through the API): by default 20,000 artists, 100,000
albums and 1,000,000 tracks, with their accounts, submissions, audio rows and moods.

    uv run python -m bench.catalog_data --database-url postgresql://postgres@127.0.0.1/empulse_bench

The database must be migrated (`empulse migrate`) and hold no catalog yet. Ids are derived
from row numbers (`md5('t' || n)::uuid`), so a run is reproducible and a benchmark can name
rows without reading them. About 1 % of artists' accounts are disabled and 1 % of tracks taken
down, so the visibility rules have something to filter. Titles and names are two words of a
fixed list of 50, the first chosen by the row number and the second by its fiftieth part, so
that every pair occurs (2,500 titles) and search has words to find, frequent ones and their
combinations.
"""

# The SQL below is built from integers and this file's own constants, never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import insert

from empulse.config import load_settings
from empulse.core.db import create_engine
from empulse.models import Album, Artist, MediaObject, Submission, Track, TrackMood, User

GENRES = (
    "Electronic", "Jazz", "Folk", "Rock", "Pop", "Hip-Hop", "Classical", "Ambient", "Soul",
    "Reggae", "Metal", "Blues", "Country", "Latin", "Funk", "Punk", "R&B", "House", "Techno",
    "World",
)  # fmt: skip
MOODS = (
    "calm", "dreamy", "energetic", "happy", "melancholic", "romantic", "dark", "uplifting",
    "nostalgic", "late night", "mellow", "angry",
)  # fmt: skip
WORDS = (
    "night", "drive", "lantern", "harbour", "light", "river", "mountain", "echo", "valley",
    "dawn", "dusk", "ocean", "city", "dream", "fire", "shadow", "golden", "silver", "storm",
    "summer", "winter", "heart", "road", "home", "star", "moon", "sun", "rain", "wind", "glass",
    "paper", "stone", "velvet", "neon", "electric", "quiet", "wild", "blue", "red", "last",
    "first", "lost", "found", "song", "dance", "garden", "window", "bridge", "tide", "signal",
)  # fmt: skip


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _word(expression: str, salt: int) -> str:
    """A word of `WORDS` chosen by a row number expression, capitalised."""
    return f"initcap(({_array(WORDS)})[1 + (({expression}) * {salt} + {salt * 7}) % {len(WORDS)}])"


def statements(artists: int, albums: int, tracks: int) -> list[tuple[str, str]]:
    per_album = tracks // albums
    genre_of_artist = f"({_array(GENRES)})[1 + (({{n}}) % {len(GENRES)})]"
    album_artist = f"(1 + (n - 1) % {artists})"
    track_album = f"(1 + (n - 1) / {per_album})"
    return [
        ("seed", "SELECT setseed(0.42)"),
        (
            "users",
            f"""
            INSERT INTO users (id, email, email_key, name, password_hash, role, created_at,
                updated_at, failed_logins, credentials_version, privacy, email_verified_at,
                disabled_at)
            SELECT md5('u' || n)::uuid, 'artist' || n || '@bench.example.com',
                'artist' || n || '@bench.example.com', 'Artist ' || n, 'x', 'ARTIST', now(),
                now(), 0, 1, '{{}}', now(),
                CASE WHEN n % 100 = 0 THEN now() END
            FROM generate_series(1, {artists}) AS n
            """,
        ),
        (
            "artists",
            f"""
            INSERT INTO artists (id, user_id, name, mediums, links, images, created_at,
                updated_at, play_count)
            SELECT md5('a' || n)::uuid, md5('u' || n)::uuid,
                {_word("n", 3)} || ' ' || {_word("n / 50", 11)} || ' ' || n,
                '["Music"]', '[]', '[]', now() - n * interval '1 minute', now(), 0
            FROM generate_series(1, {artists}) AS n
            """,
        ),
        (
            "submissions",
            f"""
            INSERT INTO submissions (id, public_id, user_id, artist_id, status, release_type,
                title, genre, payload, created_at, updated_at)
            SELECT md5('s' || n)::uuid, 'TRK-B' || lpad(n::text, 8, '0'),
                md5('u' || {album_artist})::uuid, md5('a' || {album_artist})::uuid, 'approved',
                'lp', 'Album ' || n, {genre_of_artist.format(n=album_artist)}, '{{}}', now(),
                now()
            FROM generate_series(1, {albums}) AS n
            """,
        ),
        (
            "albums",
            f"""
            INSERT INTO albums (id, artist_id, submission_id, title, release_type, genre,
                subgenre, images, status, published_at, created_at, updated_at, play_count)
            SELECT md5('al' || n)::uuid, md5('a' || {album_artist})::uuid,
                md5('s' || n)::uuid, {_word("n", 5)} || ' ' || {_word("n / 50", 13)},
                'lp', {genre_of_artist.format(n=album_artist)}, NULL, '[]', 'published',
                now() - random() * interval '1095 days', now(), now(), 0
            FROM generate_series(1, {albums}) AS n
            """,
        ),
        (
            "media_objects",
            f"""
            INSERT INTO media_objects (id, key, submission_id, role, track_index,
                content_type, size_bytes, sha256, details, created_at)
            SELECT md5('m' || n)::uuid, 'private/audio/' || md5('m' || n) || '.flac',
                md5('s' || {track_album})::uuid, 'audio', (n - 1) % {per_album},
                'audio/flac', 10000000, md5('m' || n) || md5('n' || n),
                '{{"container": "flac", "codec": "flac", "bitRate": 900000,
                   "sampleRate": 44100, "channels": 2, "durationSeconds": 200}}', now()
            FROM generate_series(1, {tracks}) AS n
            """,
        ),
        (
            "tracks",
            f"""
            INSERT INTO tracks (id, album_id, artist_id, audio_id, position, title, genre,
                subgenre, isrc, mood_tags, credits, duration_seconds, status, published_at,
                created_at, updated_at, play_count)
            SELECT md5('t' || n)::uuid, md5('al' || {track_album})::uuid, albums.artist_id,
                md5('m' || n)::uuid, 1 + (n - 1) % {per_album},
                {_word("n", 7)} || ' ' || {_word("n / 50", 17)}, albums.genre, NULL, NULL,
                json_build_object('mood', ({_array(MOODS)})[1 + n % {len(MOODS)}]),
                '{{}}', 120 + n % 240,
                CASE WHEN n % 100 = 0 THEN 'taken_down' ELSE 'published' END,
                albums.published_at, now(), now(), 0
            FROM generate_series(1, {tracks}) AS n
            JOIN albums ON albums.id = md5('al' || {track_album})::uuid
            """,
        ),
        (
            "track_moods",
            f"""
            INSERT INTO track_moods (track_id, mood)
            SELECT md5('t' || n)::uuid, ({_array(MOODS)})[1 + n % {len(MOODS)}]
            FROM generate_series(1, {tracks}) AS n
            """,
        ),
        ("analyze", "ANALYZE"),
    ]


def row_id(prefix: str, n: int) -> uuid.UUID:
    """The id the generator gave row `n` (1-based) of a table: `al` albums, `a` artists,
    `t` tracks, as `md5(prefix || n)::uuid` does."""
    return uuid.UUID(hashlib.md5(f"{prefix}{n}".encode(), usedforsecurity=False).hexdigest())


async def fill(database_url: str, artists: int, albums: int, tracks: int) -> None:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for name, sql in statements(artists, albums, tracks):
            started = time.perf_counter()
            await connection.execute(sql)
            print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await connection.close()


def _python_word(n: int, salt: int) -> str:
    """`_word` in Python: the same word for the same row number."""
    return WORDS[(n * salt + salt * 7) % len(WORDS)].capitalize()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


async def fill_sqlite(database_url: str, artists: int, albums: int, tracks: int) -> None:
    """The same catalog in a migrated SQLite database (the embedded default), row for row as
    `statements` writes it into PostgreSQL (publication dates drawn from a seeded generator
    instead), inserted through SQLAlchemy Core in batches; the search triggers index it as it
    goes in."""
    per_album = tracks // albums
    now = datetime.now(UTC)
    generator = random.Random(42)
    details = {
        "container": "flac", "codec": "flac", "bitRate": 900000, "sampleRate": 44100,
        "channels": 2, "durationSeconds": 200,
    }  # fmt: skip

    def album_artist(n: int) -> int:
        return 1 + (n - 1) % artists

    def track_album(n: int) -> int:
        return 1 + (n - 1) // per_album

    published = {n: now - timedelta(days=generator.random() * 1095) for n in range(1, albums + 1)}
    tables: list[tuple[str, Any, list[dict[str, Any]]]] = [
        ("users", User, [
            {"id": row_id("u", n), "email": f"artist{n}@bench.example.com",
             "email_key": f"artist{n}@bench.example.com", "name": f"Artist {n}",
             "password_hash": "x", "role": "ARTIST", "created_at": now, "updated_at": now,
             "failed_logins": 0, "credentials_version": 1, "privacy": {},
             "email_verified_at": now, "disabled_at": now if n % 100 == 0 else None}
            for n in range(1, artists + 1)
        ]),
        ("artists", Artist, [
            {"id": row_id("a", n), "user_id": row_id("u", n),
             "name": f"{_python_word(n, 3)} {_python_word(n // 50, 11)} {n}",
             "mediums": ["Music"], "links": [], "images": [],
             "created_at": now - timedelta(minutes=n), "updated_at": now, "play_count": 0}
            for n in range(1, artists + 1)
        ]),
        ("submissions", Submission, [
            {"id": row_id("s", n), "public_id": f"TRK-B{n:08d}",
             "user_id": row_id("u", album_artist(n)), "artist_id": row_id("a", album_artist(n)),
             "status": "approved", "release_type": "lp", "title": f"Album {n}",
             "genre": GENRES[album_artist(n) % len(GENRES)], "payload": {}, "created_at": now,
             "updated_at": now}
            for n in range(1, albums + 1)
        ]),
        ("albums", Album, [
            {"id": row_id("al", n), "artist_id": row_id("a", album_artist(n)),
             "submission_id": row_id("s", n),
             "title": f"{_python_word(n, 5)} {_python_word(n // 50, 13)}",
             "release_type": "lp", "genre": GENRES[album_artist(n) % len(GENRES)],
             "subgenre": None, "images": [], "status": "published",
             "published_at": published[n], "created_at": now, "updated_at": now,
             "play_count": 0}
            for n in range(1, albums + 1)
        ]),
        ("media_objects", MediaObject, [
            {"id": row_id("m", n), "key": f"private/audio/{_md5(f'm{n}')}.flac",
             "submission_id": row_id("s", track_album(n)), "role": "audio",
             "track_index": (n - 1) % per_album, "content_type": "audio/flac",
             "size_bytes": 10_000_000, "sha256": _md5(f"m{n}") + _md5(f"n{n}"),
             "details": details, "created_at": now}
            for n in range(1, tracks + 1)
        ]),
        ("tracks", Track, [
            {"id": row_id("t", n), "album_id": row_id("al", track_album(n)),
             "artist_id": row_id("a", album_artist(track_album(n))), "audio_id": row_id("m", n),
             "position": 1 + (n - 1) % per_album,
             "title": f"{_python_word(n, 7)} {_python_word(n // 50, 17)}",
             "genre": GENRES[album_artist(track_album(n)) % len(GENRES)], "subgenre": None,
             "isrc": None, "mood_tags": {"mood": MOODS[n % len(MOODS)]}, "credits": {},
             "duration_seconds": 120 + n % 240,
             "status": "taken_down" if n % 100 == 0 else "published",
             "published_at": published[track_album(n)], "created_at": now,
             "updated_at": now, "play_count": 0}
            for n in range(1, tracks + 1)
        ]),
        ("track_moods", TrackMood, [
            {"track_id": row_id("t", n), "mood": MOODS[n % len(MOODS)]}
            for n in range(1, tracks + 1)
        ]),
    ]  # fmt: skip
    engine = create_engine(load_settings().model_copy(update={"database_url_raw": database_url}))
    try:
        for name, model, rows in tables:
            started = time.perf_counter()
            async with engine.begin() as connection:
                for at in range(0, len(rows), 10_000):
                    await connection.execute(insert(model.__table__), rows[at : at + 10_000])
            print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--artists", type=int, default=20_000)
    parser.add_argument("--albums", type=int, default=100_000)
    parser.add_argument("--tracks", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(fill(args.database_url, args.artists, args.albums, args.tracks))
    print(f"catalog written in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
