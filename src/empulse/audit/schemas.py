"""The audit log as administrators read it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from empulse.core.schemas import Schema


class AuditEventOut(Schema):
    id: uuid.UUID
    event: str = Field(description="What happened, e.g. `login_failed`, `w9_viewed`.")
    occurred_at: datetime
    user_id: uuid.UUID | None = Field(
        description="The account it concerns: the one signing in, or the administrator acting "
        "(whose target is in `details`). Null once that account is deleted."
    )
    ip: str | None
    user_agent: str | None
    request_id: str | None = Field(description="Finds the request's lines in the logs.")
    details: dict[str, Any] = Field(description="Ids and reasons; never secrets.")
