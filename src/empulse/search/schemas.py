from __future__ import annotations

from typing import Literal

from pydantic import Field

from empulse.catalog.schemas import AlbumOut, ArtistOut, TrackOut
from empulse.core.pagination import Page
from empulse.core.schemas import OutSchema
from empulse.playlists.schemas import PlaylistOut

SearchType = Literal["track", "artist", "album", "playlist"]
SEARCH_TYPES: tuple[SearchType, ...] = ("track", "artist", "album", "playlist")


class SearchOut(OutSchema):
    """A ranked page per type asked; the types not asked are null."""

    tracks: Page[TrackOut] | None = Field(default=None)
    artists: Page[ArtistOut] | None = Field(default=None)
    albums: Page[AlbumOut] | None = Field(default=None)
    playlists: Page[PlaylistOut] | None = Field(default=None)
