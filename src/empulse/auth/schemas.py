"""Request and response bodies of /auth, keeping the seed web client's JSON names."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Protocol

from pydantic import Field

from empulse.core.schemas import Schema, SingleLine

# Emails and passwords are bounded before any work is done on them (a 1 MB password would
# otherwise go to the hasher).
Email = Field(min_length=3, max_length=320)
Password = Field(min_length=1, max_length=128)


class RegisterIn(Schema):
    email: str = Email
    password: str = Password
    name: SingleLine = Field(min_length=1, max_length=100)


class AcceptedOut(Schema):
    message: str


class TokenIn(Schema):
    token: str = Field(min_length=16, max_length=256)


class EmailIn(Schema):
    email: str = Email


class LoginIn(Schema):
    email: str = Email
    password: str = Password
    session: Literal["token", "cookie"] = "token"


class UserFields(Protocol):
    """What `UserOut` reads: an ORM `User`, or a row selected with these columns."""

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


class UserOut(Schema):
    id: uuid.UUID
    email: str
    name: str
    role: str
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: UserFields) -> UserOut:
        """From the ORM user or a selected row carrying the same columns."""
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            email_verified=user.email_verified_at is not None,
            created_at=user.created_at,
        )


class TokenSessionOut(Schema):
    user: UserOut
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int


class CookieSessionOut(Schema):
    user: UserOut
    csrf_token: str
    expires_in: int


class RefreshIn(Schema):
    refresh_token: str | None = Field(default=None, min_length=16, max_length=256)


class TokenPairOut(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int


class LogoutIn(Schema):
    refresh_token: str | None = Field(default=None, max_length=256)
    all_devices: bool = False


class SessionOut(Schema):
    id: uuid.UUID
    device: str
    ip: str | None
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime
    current: bool


class ResetPasswordIn(Schema):
    token: str = Field(min_length=16, max_length=256)
    password: str = Password


class ChangePasswordIn(Schema):
    current_password: str = Password
    new_password: str = Password


class CsrfOut(Schema):
    csrf_token: str
