"""Request and response bodies of /auth, keeping the seed web client's JSON names."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from empulse.core.schemas import JsonDict, Schema, SingleLine, with_examples
from empulse.models import Transport
from empulse.models.user import UserProfile

# Emails and passwords are bounded before any work is done on them (a 1 MB password would
# otherwise go to the hasher).
Email = Field(min_length=3, max_length=320)
Password = Field(min_length=1, max_length=128)


USER_EXAMPLE: JsonDict = {
    "id": "3f0c5b9e-8a41-4d2f-9c6e-1b7a2d4e8f10",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "role": "USER",
    "emailVerified": True,
    "createdAt": "2026-11-24T09:00:00Z",
}
# Examples for the API docs, shaped like real tokens (43 characters of URL-safe base64).
_TOKEN = "Qm2c9V0yJ8nF4kT1sX7aR3eL6wP5dZ0hU8iO2bN4vCx"  # noqa: S105
_REFRESH = "kF3mW8qZ1tR6yH0uJ5nB9vC2xL7aS4dG8eP1oI3sK6w"


class RegisterIn(Schema):
    model_config = with_examples(
        {
            "email": "ada@example.com",
            "password": "violet-harbour-quartz-5521",
            "name": "Ada Lovelace",
        }
    )

    email: str = Email
    password: str = Password
    name: SingleLine = Field(min_length=1, max_length=100)


class AcceptedOut(Schema):
    message: str


class TokenIn(Schema):
    model_config = with_examples({"token": _TOKEN})

    token: str = Field(min_length=16, max_length=256)


class EmailIn(Schema):
    model_config = with_examples({"email": "ada@example.com"})

    email: str = Email


class LoginIn(Schema):
    model_config = with_examples(
        {"email": "ada@example.com", "password": "violet-harbour-quartz-5521", "session": "token"},
        {"email": "ada@example.com", "password": "violet-harbour-quartz-5521", "session": "cookie"},
    )

    email: str = Email
    password: str = Password
    session: Transport = Transport.TOKEN


class UserOut(Schema):
    model_config = with_examples(USER_EXAMPLE)

    id: uuid.UUID
    email: str
    name: str
    role: str
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: UserProfile) -> UserOut:
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
    model_config = with_examples(
        {
            "user": USER_EXAMPLE,
            "accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIzZjBjIn0.c2ln",
            "refreshToken": _REFRESH,
            "tokenType": "Bearer",
            "expiresIn": 900,
        }
    )

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
    """Token sessions send their refresh token; cookie sessions send no body (the cookie)."""

    model_config = with_examples({"refreshToken": _REFRESH})

    refresh_token: str | None = Field(default=None, min_length=16, max_length=256)


class TokenPairOut(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int


class LogoutIn(Schema):
    model_config = with_examples(
        {"refreshToken": _REFRESH, "allDevices": False}, {"allDevices": True}
    )

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
    model_config = with_examples({"token": _TOKEN, "password": "amber-lighthouse-cobalt-8830"})

    token: str = Field(min_length=16, max_length=256)
    password: str = Password


class ChangePasswordIn(Schema):
    model_config = with_examples(
        {
            "currentPassword": "violet-harbour-quartz-5521",
            "newPassword": "amber-lighthouse-cobalt-8830",
        }
    )

    current_password: str = Password
    new_password: str = Password


class CsrfOut(Schema):
    csrf_token: str
