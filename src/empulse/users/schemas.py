from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, create_model, model_validator

from empulse.accounts.data import AccountData
from empulse.auth.schemas import UserOut
from empulse.core.schemas import EmailAddress, Schema, SingleLine, with_examples

Role = Literal["USER", "ARTIST", "ADMIN"]


class UpdateMeIn(Schema):
    """Only the display name changes here (unknown fields are rejected): the address changes
    through `POST /users/me/email`, confirmed from the new mailbox; role and verification are
    not the caller's to set."""

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


class ChangeEmailIn(Schema):
    """The new address, and the password again: a stolen session alone cannot move the account
    (and with it, every later reset link) to another mailbox."""

    model_config = with_examples(
        {"newEmail": "ada@new.example.com", "password": "violet-harbour-quartz-5521"}
    )

    new_email: EmailAddress
    password: str = Field(min_length=1, max_length=128)


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


class ExportedSession(Schema):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    ip: str | None
    user_agent: str | None


class ExportedEvent(Schema):
    event: str
    occurred_at: datetime
    ip: str | None
    user_agent: str | None


class Export(Schema):
    """Everything stored about the account. File links are valid for a few minutes, so the
    files can be fetched with the data; tax ids stay masked."""

    exported_at: datetime
    user: UserOut
    privacy_preferences: PrivacyPreferences
    sessions: list[ExportedSession] = Field(description="Every sign-in, live or ended.")
    security_events: list[ExportedEvent]


@lru_cache(maxsize=8)
def export_schema(parts: tuple[AccountData, ...]) -> type[Export]:
    """The export with a field for each domain's part of the account (`accounts/data`)."""
    fields: dict[str, Any] = {
        part.key: (part.schema, Field(description=part.description)) for part in parts
    }
    return create_model("Export", __base__=Export, __doc__=Export.__doc__, **fields)
