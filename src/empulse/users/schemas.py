from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from empulse.core.schemas import Schema, SingleLine, with_examples

Role = Literal["USER", "ARTIST", "ADMIN"]


class UpdateMeIn(Schema):
    """Only the display name changes here; role, email and verification are not the caller's
    to set (unknown fields are rejected)."""

    model_config = with_examples({"name": "Ada L."})

    name: SingleLine = Field(min_length=1, max_length=100)


class PrivacyPreferences(Schema):
    model_config = with_examples(
        {
            "marketingEmails": False,
            "showListeningActivity": True,
            "publicProfile": True,
            "analytics": False,
        }
    )

    marketing_emails: bool
    show_listening_activity: bool
    public_profile: bool
    analytics: bool


class DeleteMeIn(Schema):
    model_config = with_examples({"password": "violet-harbour-quartz-5521"})

    password: str = Field(min_length=1, max_length=128)


class AdminUserOut(Schema):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    email_verified: bool
    disabled: bool
    disabled_at: datetime | None
    locked_until: datetime | None
    created_at: datetime


class AdminUserPatch(Schema):
    """Change a user's role, or disable (and re-enable) the account. Disabling signs the user
    out everywhere at once; a disabled user cannot sign in, and is told nothing different."""

    model_config = with_examples({"disabled": True}, {"role": "ADMIN"})

    role: Role | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> AdminUserPatch:
        if self.role is None and self.disabled is None:
            raise ValueError("send `role`, `disabled`, or both")
        return self
