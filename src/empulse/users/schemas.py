from __future__ import annotations

from pydantic import Field

from empulse.core.schemas import Schema


class UpdateMeIn(Schema):
    """Only the display name changes here; role, email and verification are not the caller's
    to set (unknown fields are rejected)."""

    name: str = Field(min_length=1, max_length=100)


class PrivacyPreferences(Schema):
    marketing_emails: bool
    show_listening_activity: bool
    public_profile: bool
    analytics: bool


class DeleteMeIn(Schema):
    password: str = Field(min_length=1, max_length=128)
