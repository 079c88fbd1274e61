"""The base of every request and response body: camelCase on the wire, unknown fields refused;
response bodies can be read straight off an ORM row (`from_attributes`).

Text never carries U+0000: PostgreSQL cannot store it (SQLite can), so a NUL anywhere in a
request would otherwise reach the database as an error and answer 500. Bodies are checked here,
whatever their nesting; free-text query parameters use `WITHOUT_NUL` as their pattern.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

WITHOUT_NUL = r"^[^\x00]*$"


class Schema(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", from_attributes=True
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        where = _nul_in(data, ())
        if where is not None:
            raise PydanticCustomError(
                "nul_character",
                "Text may not contain the NUL character (at {where}).",
                {"where": ".".join(where) or "the top level"},
            )
        return data


def _nul_in(value: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """Where in a decoded JSON value a string holds U+0000, or None (ORM rows are skipped:
    what the database returns cannot hold one)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return (*path, "(a key)")
            found = _nul_in(item, (*path, str(key)))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in(item, (*path, str(index)))
            if found is not None:
                return found
    return None
