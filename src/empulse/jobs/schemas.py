"""Background jobs as admins see them (never their payload: it may hold sealed secrets)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from empulse.core.schemas import Schema

JobStatus = Literal["pending", "running", "done", "dead"]


class JobOut(Schema):
    id: uuid.UUID
    kind: str
    status: JobStatus
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    finished_at: datetime | None
    last_error: str | None
