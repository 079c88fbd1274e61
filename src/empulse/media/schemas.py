"""The media pipeline's results as listeners and admins see them."""

from __future__ import annotations

from pydantic import Field

from empulse.core.schemas import OutSchema


class WaveformOut(OutSchema):
    points: int = Field(description="How many (min, max) pairs follow.")
    duration_ms: int
    peaks: list[tuple[float, float]] = Field(
        description="Per point, the lowest and highest sample of the mono mix, normalised so "
        "that the loudest is ±1."
    )


class PipelineQueuedOut(OutSchema):
    queued: int = Field(
        description="How many of the submission's tracks were queued again (one a worker is "
        "processing now goes on as it is)."
    )
