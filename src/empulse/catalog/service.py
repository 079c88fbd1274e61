"""Shaping the catalog's rows into what listeners see."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository
from empulse.catalog.images import images_out
from empulse.catalog.repository import ArtistContext
from empulse.catalog.schemas import (
    AlbumOut,
    AlbumRef,
    AlbumWithTracksOut,
    ArtistOut,
    ArtistRef,
    AudioFacts,
    CreditOut,
    CreditsOut,
    LinkOut,
    RenditionOut,
    ReplayGainOut,
    TrackOut,
)
from empulse.core.pagination import AnyRow
from empulse.media.analysis import REFERENCE_LUFS, STREAMING_LUFS
from empulse.models import Album, Artist


def _credits(entries: Any) -> list[CreditOut]:
    """Names and roles only: shares and IPI numbers are the rights holders' business."""
    credits = []
    for entry in entries or []:
        if isinstance(entry, str):
            credits.append(CreditOut(name=entry))
        elif isinstance(entry, dict) and entry.get("name"):
            credits.append(CreditOut(name=entry["name"], role=entry.get("role")))
    return credits


def mood_names(tags: Any) -> list[str]:
    """A track's moods from its mood tags: the main one first, lower-cased, each once. What a
    track shows and what `track_moods` holds for it."""
    if not isinstance(tags, dict):
        return []
    names: list[str] = []
    for name in [tags.get("mood"), *(tags.get("secondaryMoods") or [])]:
        if isinstance(name, str) and name.strip() and name.strip().lower() not in names:
            names.append(name.strip().lower()[:60])
    return names


# A public image's URL from its storage key (`Storage.public_url`).
PublicUrl = Callable[[str], str]


def track_out(track: AnyRow, url: PublicUrl) -> TrackOut:
    """A row of `repository.listed_tracks`."""
    details = track.audio or {}
    credits = track.credits or {}
    return TrackOut(
        id=track.id,
        title=track.title,
        artist=ArtistRef(id=track.artist_id, name=track.artist_name),
        album=AlbumRef(id=track.album_id, title=track.album_title),
        track_number=track.position,
        duration_ms=round(track.duration_seconds * 1000),
        genre=track.genre,
        subgenre=track.subgenre,
        moods=mood_names(track.mood_tags),
        isrc=track.isrc,
        credits=CreditsOut(
            composers=_credits(credits.get("composers")),
            lyricists=_credits(credits.get("lyricists")),
            publishers=_credits(credits.get("publishers")),
        ),
        audio=AudioFacts(
            format=details.get("container"),
            codec=details.get("codec"),
            bitrate=details.get("bitRate"),
            sample_rate=details.get("sampleRate"),
            channels=details.get("channels"),
        ),
        images=images_out(track.album_images, url),
        play_count=track.play_count,
        published_at=track.published_at,
        renditions=[RenditionOut.model_validate(r) for r in track.renditions or []],
        replay_gain=replay_gain_of(track.loudness),
    )


def _gain(reference: float, lufs: Any) -> float | None:
    return round(reference - float(lufs), 2) if isinstance(lufs, int | float) else None


def _peak(dbtp: Any) -> float | None:
    if not isinstance(dbtp, int | float) or not math.isfinite(dbtp):
        return None
    return round(10 ** (dbtp / 20), 6)


def replay_gain_of(loudness: Any) -> ReplayGainOut | None:
    """From the media pipeline's loudness (`media_pipelines.loudness`)."""
    if not isinstance(loudness, dict) or loudness.get("integratedLufs") is None:
        return None
    track = loudness["integratedLufs"]
    album = loudness.get("albumIntegratedLufs")
    return ReplayGainOut(
        track_gain=_gain(REFERENCE_LUFS, track) or 0.0,
        track_peak=_peak(loudness.get("truePeakDbtp")) or 0.0,
        album_gain=_gain(REFERENCE_LUFS, album),
        album_peak=_peak(loudness.get("albumTruePeakDbtp")),
        reference_lufs=REFERENCE_LUFS,
        track_gain_to_14_lufs=_gain(STREAMING_LUFS, track) or 0.0,
        album_gain_to_14_lufs=_gain(STREAMING_LUFS, album),
    )


# Per album: its visible tracks and their duration in seconds (`repository.album_totals`).
Totals = dict[uuid.UUID, tuple[int, float]]


def album_out(album: AnyRow, totals: Totals, url: PublicUrl) -> AlbumOut:
    """A row of `repository.listed_albums`."""
    count, seconds = totals.get(album.id, (0, 0.0))
    return AlbumOut(
        id=album.id,
        title=album.title,
        artist=ArtistRef(id=album.artist_id, name=album.artist_name),
        release_type=album.release_type,
        genre=album.genre,
        subgenre=album.subgenre,
        track_count=count,
        duration_ms=round(seconds * 1000),
        images=images_out(album.images, url),
        published_at=album.published_at,
    )


def album_with_tracks(
    album: AnyRow, totals: Totals, tracks: list[AnyRow], url: PublicUrl
) -> AlbumWithTracksOut:
    return AlbumWithTracksOut(
        **album_out(album, totals, url).model_dump(),
        tracks=[track_out(track, url) for track in tracks],
    )


def artist_out(artist: Artist | AnyRow, context: ArtistContext, url: PublicUrl) -> ArtistOut:
    """An artist as an ORM object or a row of `repository.ARTIST_COLUMNS`."""
    genres = sorted(context.genres.get(artist.id, []), key=lambda item: (-item[1], item[0]))
    return ArtistOut(
        id=artist.id,
        name=artist.name,
        bio=artist.bio,
        links=[LinkOut(url=link["url"], label=link.get("label")) for link in artist.links or []],
        images=images_out(artist.images, url),
        genres=[genre for genre, _ in genres],
        album_count=sum(count for _, count in genres),
        track_count=context.tracks.get(artist.id, 0),
    )


async def shown_tracks(
    session: AsyncSession, track_ids: Collection[uuid.UUID], url: PublicUrl
) -> dict[uuid.UUID, TrackOut]:
    """These tracks as the catalog shows them, by id, in one query; the invisible ones are
    absent (for lists that keep an item after its take-down: libraries, histories)."""
    if not track_ids:
        return {}
    found = await repository.listed_tracks_by_id(session, track_ids)
    return {track.id: track_out(track, url) for track in found}


async def shown_albums(
    session: AsyncSession, album_ids: Collection[uuid.UUID], url: PublicUrl
) -> dict[uuid.UUID, AlbumOut]:
    if not album_ids:
        return {}
    found = list(await session.execute(repository.listed_albums().where(Album.id.in_(album_ids))))
    totals = await repository.album_totals(session, found)
    return {album.id: album_out(album, totals, url) for album in found}


async def shown_artists(
    session: AsyncSession, artist_ids: Collection[uuid.UUID], url: PublicUrl
) -> dict[uuid.UUID, ArtistOut]:
    if not artist_ids:
        return {}
    found, context = await repository.visible_artists_by_id(session, artist_ids)
    return {artist.id: artist_out(artist, context, url) for artist in found}
