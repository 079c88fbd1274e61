from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from empulse.catalog.schemas import AlbumOut, ArtistOut, TrackOut
from empulse.core.schemas import OutSchema, Schema
from empulse.playlists.schemas import PlaylistOut

LikeKind = Literal["tracks", "albums", "artists", "playlists"]


class _Liked(OutSchema):
    id: uuid.UUID
    liked_at: datetime
    available: bool = Field(
        description="False while it is taken down or its artist's account is disabled (a "
        "playlist: made private, or its owner's account disabled); it stays in the library "
        "and comes back when restored."
    )


class LikedTrackOut(_Liked):
    track: TrackOut | None = Field(description="As the catalog shows it; null when unavailable.")


class LikedAlbumOut(_Liked):
    album: AlbumOut | None = Field(description="As the catalog shows it; null when unavailable.")


class LikedArtistOut(_Liked):
    artist: ArtistOut | None = Field(description="As the catalog shows it; null when unavailable.")


class LikedPlaylistOut(_Liked):
    playlist: PlaylistOut | None = Field(
        description="As `GET /playlists/{id}` shows it; null when unavailable."
    )


class ExportedLike(Schema):
    id: uuid.UUID
    liked_at: datetime


class ExportedLibrary(Schema):
    tracks: list[ExportedLike]
    albums: list[ExportedLike]
    artists: list[ExportedLike]
    playlists: list[ExportedLike] = Field(description="The playlists the account follows.")
