"""A catalog written straight into the database (the search index is kept by triggers, so it
sees these rows as it sees published ones), with the names search must handle."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from empulse.core.db import session_scope, utcnow
from empulse.models import Album, Artist, MediaObject, Submission, Track, User
from empulse.services import Services
from tests.conftest import Harness


@dataclass
class Catalog:
    """Ids by name, to assert on."""

    artists: dict[str, uuid.UUID] = field(default_factory=dict)
    albums: dict[str, uuid.UUID] = field(default_factory=dict)
    tracks: dict[str, uuid.UUID] = field(default_factory=dict)


# artist -> album -> [(track title, qualified plays)]
RELEASES: dict[str, dict[str, list[tuple[str, int]]]] = {
    "The Lanterns": {"Harbour Lights": [("Night Drive", 5), ("Lanterns", 1), ("Lantern Song", 9)]},
    "Beyoncé": {"Renaissance": [("Cuff It", 0)]},
    "Sigur Rós": {"Ágætis byrjun": [("Svefn-g-englar", 0)]},
    "Røyksopp": {"Melody A.M.": [("Eple", 0)]},
    "Straßenbahn Łódź": {"Ærø": [("Øresund", 0)]},
    "AC/DC": {"Back in Black": [("Hells Bells", 0)]},
    "R.E.M.": {"Automatic for the People": [("Nightswimming", 0)]},
    "a-ha": {"Hunting High and Low": [("Take On Me", 0)]},
    "P!nk": {"Funhouse": [("So What", 0)]},
    "Guns N' Roses": {"Appetite": [("Paradise City", 0)]},
    "Hikari": {"夜の歌": [("夜のドライブ", 0), ("Ночной город", 0), ("Νυχτερινός δρόμος", 0)]},
    "Layla": {"ليلة": [("ليلة طويلة", 0)]},
    "Night Owls": {"After Hours": [("Drive", 2), ("Lanterns", 0)]},
}


async def write_catalog(
    harness: Harness, releases: dict[str, dict[str, list[tuple[str, int]]]] = RELEASES
) -> Catalog:
    services: Services = harness.app.state.services
    catalog = Catalog()
    now = utcnow()
    async with session_scope(services.sessionmaker) as session:
        for n, (artist_name, albums) in enumerate(releases.items()):
            user = User(
                email=f"artist{n}@example.com",
                name=artist_name,
                password_hash="x",
                role="ARTIST",
                email_verified_at=now,
            )
            session.add(user)
            await session.flush()
            artist = Artist(user_id=user.id, name=artist_name, mediums=["Music"])
            session.add(artist)
            await session.flush()
            catalog.artists[artist_name] = artist.id
            for m, (album_title, tracks) in enumerate(albums.items()):
                submission = Submission(
                    public_id=f"TRK-S{n:03d}{m:03d}",
                    user_id=user.id,
                    artist_id=artist.id,
                    status="approved",
                    release_type="lp",
                    title=album_title,
                    genre="Pop",
                    payload={},
                )
                session.add(submission)
                await session.flush()
                album = Album(
                    artist_id=artist.id,
                    submission_id=submission.id,
                    title=album_title,
                    release_type="lp",
                    genre="Pop",
                    published_at=now - timedelta(days=n),
                    play_count=sum(plays for _, plays in tracks),
                    popularity=sum(plays for _, plays in tracks),
                )
                session.add(album)
                await session.flush()
                catalog.albums[album_title] = album.id
                for position, (title, plays) in enumerate(tracks, start=1):
                    audio = MediaObject(
                        key=f"private/audio/{uuid.uuid4().hex}.flac",
                        submission_id=submission.id,
                        role="audio",
                        track_index=position - 1,
                        content_type="audio/flac",
                        size_bytes=1000,
                        sha256="0" * 64,
                        details={"format": "flac", "durationSeconds": 200.0},
                    )
                    session.add(audio)
                    await session.flush()
                    track = Track(
                        album_id=album.id,
                        artist_id=artist.id,
                        audio_id=audio.id,
                        position=position,
                        title=title,
                        genre="Pop",
                        duration_seconds=200.0,
                        play_count=plays,
                        popularity=plays,
                        published_at=now - timedelta(days=n),
                    )
                    session.add(track)
                    await session.flush()
                    catalog.tracks[f"{artist_name} - {title}"] = track.id
    return catalog


async def search(harness: Harness, q: str, **params: Any) -> Any:
    return await harness.client.get("/api/v1/search", params={"q": q, **params})


def names(page: dict[str, Any], kind: str) -> list[str]:
    key = "name" if kind in ("artists", "playlists") else "title"
    return [item[key] for item in page[kind]["items"]]
