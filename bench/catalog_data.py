"""A large published catalog for the catalog and search benchmarks, written straight into
PostgreSQL with set-based SQL (not through the API): by default 20,000 artists, 100,000
albums and 1,000,000 tracks, with their accounts, submissions, audio rows and moods.

    uv run python -m bench.catalog_data --database-url postgresql://postgres@127.0.0.1/empulse_bench

The database must be migrated (`empulse migrate`) and hold no catalog yet. Ids are derived
from row numbers (`md5('t' || n)::uuid`), so a run is reproducible and a benchmark can name
rows without reading them. About 1 % of artists' accounts are disabled and 1 % of tracks taken
down, so the visibility rules have something to filter. Titles are drawn from a fixed word
list, so that search has words to find.
"""

# The SQL below is built from integers and this file's own constants, never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid

import asyncpg

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
                {_word("n", 3)} || ' ' || {_word("n", 11)} || ' ' || n,
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
                md5('s' || n)::uuid, {_word("n", 5)} || ' ' || {_word("n", 13)},
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
                {_word("n", 7)} || ' ' || {_word("n", 17)}, albums.genre, NULL, NULL,
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
