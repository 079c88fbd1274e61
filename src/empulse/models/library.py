from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, utcnow


class LikedTrack(Base):
    """A track in a listener's library. Liking again changes nothing (the key); the row goes
    with the account or the track (the cascade). A take-down keeps it: the library shows the
    track as unavailable until it is restored."""

    __tablename__ = "liked_tracks"
    __table_args__ = (Index("ix_liked_tracks_user_created", "user_id", "created_at", "track_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    track_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LikedAlbum(Base):
    __tablename__ = "liked_albums"
    __table_args__ = (Index("ix_liked_albums_user_created", "user_id", "created_at", "album_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    album_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LikedArtist(Base):
    __tablename__ = "liked_artists"
    __table_args__ = (Index("ix_liked_artists_user_created", "user_id", "created_at", "artist_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    artist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LikedPlaylist(Base):
    """A playlist the listener follows; `playlists.follower_count` counts these rows."""

    __tablename__ = "liked_playlists"
    __table_args__ = (
        Index("ix_liked_playlists_user_created", "user_id", "created_at", "playlist_id"),
        Index("ix_liked_playlists_playlist_id", "playlist_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    playlist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
