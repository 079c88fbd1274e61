"""What the Subsonic API keeps: the credentials player apps sign in with, and the per-user
state those apps save (bookmarks, the play queue, what is playing now)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, utcnow


class AppPassword(Base):
    """A generated password for one player app. Token authentication (`t = md5(password +
    salt)`) needs the password itself, so it is kept encrypted (field encryption, the row's id
    as associated data), never hashed; the account's own password is never used for this."""

    __tablename__ = "app_passwords"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # Which key encrypts it (`FieldCipher.key_id_of`), for `empulse keys status` and rotation.
    key_id: Mapped[str] = mapped_column(String(8), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    """A key for the `apiKeyAuthentication` extension: sent as is, so only its hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class Bookmark(Base):
    """Where a listener stopped in a track (`createBookmark`): one per listener and track."""

    __tablename__ = "bookmarks"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    track_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    position_ms: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlayQueue(Base):
    """The queue a listener's player saved (`savePlayQueue`), to resume on another device."""

    __tablename__ = "play_queues"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    track_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    current_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    position_ms: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(100))


class NowPlaying(Base):
    """What a listener's player said it started (`scrobble` with `submission=false`); one row
    per listener and player, shown by `getNowPlaying` for a while."""

    __tablename__ = "now_playing"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client: Mapped[str] = mapped_column(String(100), primary_key=True)
    track_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
