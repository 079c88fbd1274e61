from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, TimestampedMixin, utcnow


class Playlist(TimestampedMixin, Base):
    """A listener's playlist. Its entries are shown at positions exactly 0..n-1 (their order
    by rank); every change of its details or its entries gets a new `snapshot_id`, the version
    a write may be conditioned on (`If-Match`)."""

    __tablename__ = "playlists"
    __table_args__ = (Index("ix_playlists_owner_created", "owner_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(300), default=None)
    public: Mapped[bool]
    collaborative: Mapped[bool]
    snapshot_id: Mapped[str] = mapped_column(String(32))
    # Kept in the transaction that changes them (the entries' writes, follows).
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    # Its own cover at each fixed size, largest first (catalog/images); empty without one.
    images: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class PlaylistEntry(Base):
    """One track in a playlist (a track may be in one more than once). Entries are ordered by
    `rank`, which leaves gaps (playlists/repository.py): an entry's position is its index in
    that order, never stored, so adding or moving entries rewrites only those entries. A
    taken-down track keeps its place; the entry shows it as unavailable."""

    __tablename__ = "playlist_entries"
    __table_args__ = (
        UniqueConstraint("playlist_id", "rank", name="uq_playlist_entries_rank"),
        Index("ix_playlist_entries_track_id", "track_id"),
        Index("ix_playlist_entries_added_by", "added_by"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    playlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(BigInteger)
    track_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    # Who added it; NULL once that account is deleted (the entry stays).
    added_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlaylistCollaborator(Base):
    """A listener who accepted an invite: may add, remove and reorder entries."""

    __tablename__ = "playlist_collaborators"
    __table_args__ = (Index("ix_playlist_collaborators_user_id", "user_id"),)

    playlist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlaylistInvite(Base):
    """A single-use invitation to collaborate; the database keeps only the token's hash."""

    __tablename__ = "playlist_invites"
    __table_args__ = (Index("ix_playlist_invites_playlist_id", "playlist_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    playlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
