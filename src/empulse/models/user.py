from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from empulse.core.db import Base, TimestampedMixin


class UserRole(StrEnum):
    USER = "USER"
    ARTIST = "ARTIST"
    ADMIN = "ADMIN"


class User(TimestampedMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('USER', 'ARTIST', 'ADMIN')", name="role_valid"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Stored normalised (NFKC, case-folded); the unique index is what stops duplicates.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=UserRole.USER.value)
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN.value
