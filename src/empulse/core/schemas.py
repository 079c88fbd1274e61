"""The base of every request and response body: camelCase on the wire, unknown fields refused;
response bodies can be read straight off an ORM row (`from_attributes`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", from_attributes=True
    )
