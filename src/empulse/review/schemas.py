"""Bodies of /admin review routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from empulse.artists.schemas import ApplicationRecordOut
from empulse.core.schemas import Schema, with_examples


class RejectIn(Schema):
    model_config = with_examples(
        {"reason": "The second track clips from 1:20; please send a new master."}
    )

    reason: str = Field(min_length=3, max_length=2000, description="Sent to the artist.")


class AdminApplicationOut(ApplicationRecordOut):
    user_id: uuid.UUID
    reviewer_id: uuid.UUID | None


class W9Out(Schema):
    """The decrypted form; every read is audit-logged."""

    application_id: str
    tax_id: str
    tax_classification: str
    business_name: str | None
    address: dict[str, Any]
    completed: bool
    signature: str
    decrypted_at: datetime


class TakeDownIn(Schema):
    model_config = with_examples({"reason": "A rights claim from a label is under review."})

    reason: str = Field(min_length=3, max_length=2000, description="Sent to the artist.")


class AdminTrackOut(Schema):
    id: uuid.UUID
    album_id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    position: int
    genre: str
    subgenre: str | None
    isrc: str | None
    duration_seconds: float
    status: Literal["published", "taken_down"]
    published_at: datetime
    taken_down_at: datetime | None
    takedown_reason: str | None
