from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, utcnow


class Transport(StrEnum):
    """How a session's tokens travel: in the body for native apps, in cookies for browsers."""

    TOKEN = "token"  # noqa: S105 - the name of a transport, not a secret
    COOKIE = "cookie"


class TokenPurpose(StrEnum):
    """What an emailed link (an action token) may do; each purpose has its own tokens."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose, not a secret
    CHANGE_EMAIL = "change_email"


class AuthSession(Base):
    """One login on one device: the refresh-token family and the `sid` of its access tokens."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        Index("ix_auth_sessions_user_id", "user_id"),
        Index("ix_auth_sessions_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    transport: Mapped[str] = mapped_column(String(8))  # "token" or "cookie"
    user_agent: Mapped[str | None] = mapped_column(String(400), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # absolute: rotation never extends it
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), default=None)


class RefreshToken(Base):
    """A refresh token, stored only as its SHA-256. Used once; the next one replaces it."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class ActionToken(Base):
    """Single-use email verification and password reset tokens, stored only as a hash."""

    __tablename__ = "action_tokens"
    __table_args__ = (
        Index("ix_action_tokens_user_id_purpose", "user_id", "purpose"),
        Index("ix_action_tokens_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # a TokenPurpose
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    credentials_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    # For TokenPurpose.CHANGE_EMAIL: the address the link confirms (as typed).
    new_email: Mapped[str | None] = mapped_column(String(320), default=None)
