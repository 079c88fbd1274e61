"""The catalog's objects as listeners and player apps see them: nothing private (no address, no
W-9 fact, no storage key, no rights shares)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from empulse.core.schemas import OutSchema

TrackSort = Literal["newest", "title", "popular"]
ArtistSort = Literal["name", "newest"]
AlbumSort = Literal["newest", "title"]
ReleaseType = Literal["single", "ep", "lp"]


class ImageOut(OutSchema):
    size: int = Field(description="The fixed size: the longer side is at most this.")
    url: str = Field(
        description="Immutable (cached for a year); a path is relative to this API's origin."
    )
    width: int
    height: int


class ArtistRef(OutSchema):
    id: uuid.UUID
    name: str


class AlbumRef(OutSchema):
    id: uuid.UUID
    title: str


class CreditOut(OutSchema):
    name: str
    role: str | None = None


class CreditsOut(OutSchema):
    composers: list[CreditOut]
    lyricists: list[CreditOut]
    publishers: list[CreditOut]


class AudioFacts(OutSchema):
    """What decoding the uploaded file found."""

    format: str | None = Field(description="The container, as FFmpeg names it (wav, flac, ...).")
    codec: str | None
    bitrate: int | None = Field(description="Bits per second.")
    sample_rate: int | None
    channels: int | None


class RenditionOut(OutSchema):
    """A streaming rendition made at ingest (`GET /tracks/{id}/stream?format=&maxBitRate=`)."""

    name: str = Field(description="opus-160, opus-96, aac-256, mp3-320")
    format: Literal["opus", "aac", "mp3"]
    bitrate: int = Field(description="Nominal, bits per second.")
    content_type: str


class ReplayGainOut(OutSchema):
    """Gains that bring the track (or its release) to the reference loudness, measured at
    ingest (EBU R128); peaks are true peaks as fractions of full scale."""

    track_gain: float = Field(description="dB, to -18 LUFS (ReplayGain 2.0's reference).")
    track_peak: float
    album_gain: float | None = Field(description="dB, the release to -18 LUFS.")
    album_peak: float | None
    reference_lufs: float = -18.0
    track_gain_to_14_lufs: float = Field(description="dB, to -14 LUFS (streaming services).")
    album_gain_to_14_lufs: float | None


class TrackOut(OutSchema):
    id: uuid.UUID
    title: str
    artist: ArtistRef
    album: AlbumRef
    track_number: int
    duration_ms: int
    genre: str
    subgenre: str | None
    moods: list[str] = Field(description="The main mood first, then the secondary ones.")
    isrc: str | None
    credits: CreditsOut
    audio: AudioFacts
    images: list[ImageOut] = Field(description="The album's cover, largest first.")
    play_count: int = Field(description="Qualified plays.")
    published_at: datetime
    renditions: list[RenditionOut] = Field(
        default_factory=list, description="Empty until the media pipeline has made them."
    )
    replay_gain: ReplayGainOut | None = Field(
        default=None, description="Null until the media pipeline has measured the track."
    )
    liked: bool | None = Field(
        default=None, description="Whether the signed-in caller likes it; null anonymously."
    )


class AlbumOut(OutSchema):
    id: uuid.UUID
    title: str
    artist: ArtistRef
    release_type: ReleaseType
    genre: str
    subgenre: str | None
    track_count: int = Field(description="Its tracks a listener can play now.")
    duration_ms: int
    images: list[ImageOut] = Field(description="The cover, largest first.")
    published_at: datetime
    liked: bool | None = Field(
        default=None, description="Whether the signed-in caller likes it; null anonymously."
    )


class AlbumWithTracksOut(AlbumOut):
    tracks: list[TrackOut] = Field(description="In order.")


class LinkOut(OutSchema):
    url: str
    label: str | None


class ArtistOut(OutSchema):
    id: uuid.UUID
    name: str
    bio: str | None
    links: list[LinkOut]
    images: list[ImageOut] = Field(description="The artist's image, largest first.")
    genres: list[str] = Field(description="Of its releases, the most frequent first.")
    album_count: int
    track_count: int
    liked: bool | None = Field(
        default=None, description="Whether the signed-in caller likes it; null anonymously."
    )


class TagCount(OutSchema):
    """A genre or a mood."""

    name: str
    track_count: int = Field(description="Visible tracks that have it.")
