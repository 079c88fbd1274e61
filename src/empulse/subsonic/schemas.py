"""The JSON API's side of the Subsonic API: app passwords and API keys, and the export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from empulse.core.schemas import ONE_LINE, OutSchema, Schema, with_examples

CredentialName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), ONE_LINE
]


class CredentialIn(Schema):
    model_config = with_examples({"name": "Symfonium on my phone"})

    name: CredentialName = Field(description="Which app or device uses it, to recognise it later.")


class CredentialOut(OutSchema):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="The last time it signed a player in (to within a minute or so)."
    )


class NewAppPasswordOut(CredentialOut):
    password: str = Field(
        description="Shown this once. Type it into the player with your email as the username."
    )


class NewApiKeyOut(CredentialOut):
    api_key: str = Field(description="Shown this once. The player sends it as `apiKey`.")


class ExportedCredential(OutSchema):
    name: str
    created_at: datetime
    last_used_at: datetime | None


class ExportedBookmark(OutSchema):
    track_id: uuid.UUID
    position_ms: int
    comment: str | None
    changed_at: datetime


class ExportedPlayQueue(OutSchema):
    track_ids: list[str]
    current_id: uuid.UUID | None
    position_ms: int
    changed_at: datetime
    changed_by: str


class ExportedSubsonic(OutSchema):
    """What player apps keep here: the names of app passwords and keys (never the secrets),
    bookmarks and the saved play queue."""

    app_passwords: list[ExportedCredential]
    api_keys: list[ExportedCredential]
    bookmarks: list[ExportedBookmark]
    play_queue: ExportedPlayQueue | None
