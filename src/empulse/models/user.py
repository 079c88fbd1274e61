from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from empulse.core.db import Base, TimestampedMixin
from empulse.core.emails import email_key


class UserRole(StrEnum):
    USER = "USER"
    ARTIST = "ARTIST"
    ADMIN = "ADMIN"


DEFAULT_PRIVACY: dict[str, bool] = {
    "marketingEmails": False,
    "showListeningActivity": True,
    "publicProfile": True,
    "analytics": True,
}


def privacy_allows(privacy: Mapping[str, Any] | None, preference: str) -> bool:
    """Whether an account's stored privacy preferences allow `preference` (a name of
    DEFAULT_PRIVACY): the stored choice, or the default for one never stored."""
    return bool({**DEFAULT_PRIVACY, **(privacy or {})}[preference])


class User(TimestampedMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('USER', 'ARTIST', 'ADMIN')", name="role_valid"),
        # The admin list: newest first, by role.
        Index("ix_users_created_at_id", "created_at", "id"),
        Index("ix_users_role_created_at", "role", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The address as the user typed it (ASCII letters lowercased): the one mail goes to.
    email: Mapped[str] = mapped_column(String(320))
    # What accounts are compared by (core/emails.email_key: NFKC, case-folded), kept in step
    # with `email` on every assignment; its unique index is what stops look-alike duplicates.
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=UserRole.USER.value)
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    # Lockout (SECURITY.md): failures are counted with an atomic UPDATE; 5 lock for 15 minutes.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    # Bumped whenever the password or email changes; reset and verification tokens carry the
    # value they were issued under, so a change kills them.
    credentials_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    privacy: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=lambda: dict(DEFAULT_PRIVACY), server_default=text("'{}'")
    )

    @validates("email")
    def _keep_key(self, _: str, address: str) -> str:
        self.email_key = email_key(address)
        return address

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN.value


class UserProfile(Protocol):
    """The public columns of a user: an ORM `User`, or a row selected with these columns."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def email_verified_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


class UserCredentials(UserProfile, Protocol):
    """And what a sign-in checks (`accounts.repository.credentials_by_email`)."""

    @property
    def password_hash(self) -> str: ...
    @property
    def credentials_version(self) -> int: ...
    @property
    def disabled_at(self) -> datetime | None: ...
    @property
    def locked_until(self) -> datetime | None: ...
