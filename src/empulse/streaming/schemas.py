from __future__ import annotations

from datetime import datetime

from pydantic import Field

from empulse.core.schemas import Schema


class StreamUrlOut(Schema):
    url: str = Field(
        description=(
            "Plays the track, ranges included, without an Authorization header (an `<audio>` "
            "element's `src`). A path is relative to this API's origin; on S3 storage it is "
            "the store's own presigned URL."
        )
    )
    expires_at: datetime = Field(description="At most 15 minutes away.")
