"""The catalog's rows as Subsonic objects: `Child` (a song, or an album as a directory),
`AlbumID3`, `ArtistID3`, `Playlist`, with the OpenSubsonic fields players use.

Every song names its parent (the album), album, artist and cover (clients break without them);
nothing private is shown: another listener's playlist names its owner by display name only,
and only when their profile is public.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from empulse.catalog.service import mood_names, replay_gain_of
from empulse.core.pagination import AnyRow

ROOT_FOLDER_ID = 1
ROOT_FOLDER_NAME = "EmPulse"
# Leading articles that artist indexes skip ("The Lanterns" under L), as most servers do.
IGNORED_ARTICLES = "The El La Los Las Le Les Os As O A"
_ARTICLES = tuple(f"{word.lower()} " for word in IGNORED_ARTICLES.split())

SUFFIXES = {
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "aac",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
}


def when(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, as Subsonic's dates are written."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def album_cover(album_id: uuid.UUID) -> str:
    return f"al-{album_id}"


def artist_cover(artist_id: uuid.UUID) -> str:
    return f"ar-{artist_id}"


def playlist_cover(playlist_id: uuid.UUID) -> str:
    return f"pl-{playlist_id}"


def sort_name(name: str) -> str:
    """The name without a leading article ("Lanterns, The" sorts under L)."""
    lowered = name.lower()
    for article in _ARTICLES:
        if lowered.startswith(article) and len(name) > len(article):
            return name[len(article) :]
    return name


def index_letter(name: str) -> str:
    first = sort_name(name).strip()[:1].upper()
    return first if first.isalpha() else "#"


def song(row: AnyRow, starred: dict[uuid.UUID, datetime]) -> dict[str, Any]:
    """A row of `repository.songs()`."""
    details = row.audio or {}
    suffix = SUFFIXES.get(row.content_type) or details.get("container") or "audio"
    seconds = round(row.duration_seconds)
    bitrate = details.get("bitRate")
    return {
        "id": str(row.id),
        "parent": str(row.album_id),
        "isDir": False,
        "title": row.title,
        "album": row.album_title,
        "artist": row.artist_name,
        "track": row.position,
        "discNumber": 1,
        "year": row.published_at.year,
        "genre": row.genre,
        "coverArt": album_cover(row.album_id),
        "size": row.size_bytes,
        "contentType": row.content_type,
        "suffix": suffix,
        "duration": seconds,
        "bitRate": round(bitrate / 1000) if isinstance(bitrate, int | float) else None,
        "samplingRate": details.get("sampleRate"),
        "channelCount": details.get("channels"),
        "path": f"{row.artist_name}/{row.album_title}/{row.position:02d} - {row.title}.{suffix}",
        "playCount": row.play_count,
        "created": when(row.published_at),
        "starred": when(starred.get(row.id)),
        "albumId": str(row.album_id),
        "artistId": str(row.artist_id),
        "type": "music",
        "mediaType": "song",
        "isVideo": False,
        "isrc": [row.isrc] if row.isrc else [],
        "genres": [{"name": row.genre}],
        "moods": mood_names(row.mood_tags),
        "artists": [{"id": str(row.artist_id), "name": row.artist_name}],
        "displayArtist": row.artist_name,
        "albumArtists": [{"id": str(row.artist_id), "name": row.artist_name}],
        "displayAlbumArtist": row.artist_name,
        "replayGain": _replay_gain(row.loudness),
    }


def _replay_gain(loudness: Any) -> dict[str, Any] | None:
    """OpenSubsonic's `replayGain` (gains in dB to -18 LUFS, peaks as fractions)."""
    gain = replay_gain_of(loudness)
    if gain is None:
        return None
    return {
        "trackGain": gain.track_gain,
        "trackPeak": gain.track_peak,
        "albumGain": gain.album_gain,
        "albumPeak": gain.album_peak,
        "baseGain": 0,
    }


def album(
    row: AnyRow, totals: dict[uuid.UUID, tuple[int, float]], starred: dict[uuid.UUID, datetime]
) -> dict[str, Any]:
    """A row of `catalog.repository.listed_albums` as an `AlbumID3`."""
    count, seconds = totals.get(row.id, (0, 0.0))
    return {
        "id": str(row.id),
        "name": row.title,
        "artist": row.artist_name,
        "artistId": str(row.artist_id),
        "coverArt": album_cover(row.id),
        "songCount": count,
        "duration": round(seconds),
        "playCount": getattr(row, "play_count", None),
        "created": when(row.published_at),
        "starred": when(starred.get(row.id)),
        "year": row.published_at.year,
        "genre": row.genre,
        "genres": [{"name": row.genre}],
        "releaseTypes": [{"single": "Single", "ep": "EP", "lp": "Album"}[row.release_type]],
        "artists": [{"id": str(row.artist_id), "name": row.artist_name}],
        "displayArtist": row.artist_name,
        "sortName": sort_name(row.title),
        "isCompilation": False,
    }


def album_as_directory(album_id3: dict[str, Any]) -> dict[str, Any]:
    """An `AlbumID3` as the `Child` that folder-based methods (getAlbumList, getMusicDirectory,
    search2, getStarred) list."""
    return {
        "id": album_id3["id"],
        "parent": album_id3["artistId"],
        "isDir": True,
        "title": album_id3["name"],
        "name": album_id3["name"],
        "album": album_id3["name"],
        "artist": album_id3["artist"],
        "year": album_id3["year"],
        "genre": album_id3["genre"],
        "coverArt": album_id3["coverArt"],
        "duration": album_id3["duration"],
        "playCount": album_id3["playCount"],
        "created": album_id3["created"],
        "starred": album_id3["starred"],
        "albumId": album_id3["id"],
        "artistId": album_id3["artistId"],
        "songCount": album_id3["songCount"],
        "isVideo": False,
    }


def artist(
    artist_id: uuid.UUID,
    name: str,
    album_count: int,
    starred: dict[uuid.UUID, datetime],
    image_url: str | None = None,
) -> dict[str, Any]:
    return {
        "id": str(artist_id),
        "name": name,
        "coverArt": artist_cover(artist_id),
        "artistImageUrl": image_url,
        "albumCount": album_count,
        "starred": when(starred.get(artist_id)),
        "sortName": sort_name(name),
    }
