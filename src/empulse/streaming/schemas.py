from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import QueryParams

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


Format = Literal["opus", "aac", "mp3", "original"]
FORMAT_DESCRIPTION = "Opus (the default), AAC, MP3, or the file as uploaded."
MAX_BIT_RATE_DESCRIPTION = "In kbit/s: the best rendition within."


class StreamQuery(BaseModel):
    """The stream's query, read by hand (`read`) instead of as six FastAPI parameters: FastAPI
    0.165 inspects each declared parameter's type again on every request, which was about a
    sixth of a range's CPU, and a player asks for a track range after range. The rules are the
    same; `openapi_parameters` documents them as FastAPI would."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user: uuid.UUID | None = Field(None, description="Of a signed URL.")
    session: uuid.UUID | None = Field(None, description="Of a signed URL.")
    expires: str | None = Field(None, max_length=20, description="Of a signed URL.")
    signature: str | None = Field(None, max_length=100, description="Of a signed URL.")
    format: Format | None = Field(None, description=FORMAT_DESCRIPTION)
    max_bit_rate: int | None = Field(
        None, alias="maxBitRate", ge=1, le=100_000, description=MAX_BIT_RATE_DESCRIPTION
    )

    @classmethod
    def read(cls, query: QueryParams) -> StreamQuery:
        """A repeated parameter counts by its last value, as FastAPI's would; a malformed one is
        the same 422 problem."""
        try:
            return cls.model_validate(dict(query))
        except ValidationError as exc:
            errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
            raise RequestValidationError(errors) from None

    @classmethod
    def openapi_parameters(cls) -> list[dict[str, Any]]:
        schema = cls.model_json_schema(by_alias=True)
        parameters = []
        for name, field in schema["properties"].items():
            described = dict(field)
            description = described.pop("description", None)
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": description,
                    "schema": described,
                }
            )
        return parameters
