"""A `TypedBody` skips the walk that other bodies get, which is safe only while none of its
values can hold text: a field that could is refused as the class is made."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any, Literal

import pytest
from pydantic import Field, JsonValue

from empulse.core.schemas import Schema, TypedBody


class Kind(Enum):
    ONE = "one"


class Inner(TypedBody):
    id: uuid.UUID
    at: datetime | None = None


def test_typed_values_and_typed_models_make_a_typed_body() -> None:
    class Body(TypedBody):
        items: list[Inner] = Field(max_length=3)
        count: int = Field(ge=0)
        ratio: float
        flag: bool
        choice: Literal["a", "b"]
        kind: Kind
        pair: tuple[int, uuid.UUID] | None = None

    body = Body.model_validate_json(
        '{"items": [{"id": "3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c"}], "count": 1, "ratio": 0.5,'
        ' "flag": true, "choice": "a", "kind": "one"}'
    )
    assert body.items[0].at is None


class Named(Schema):
    name: str


@pytest.mark.parametrize(
    "annotation", [str, str | None, list[str], dict[str, int], Any, JsonValue, Named, bytes]
)
def test_a_field_that_could_hold_text_is_refused_at_import(annotation: Any) -> None:
    with pytest.raises(TypeError, match="typed values only"):
        type("Body", (TypedBody,), {"__annotations__": {"field": annotation}})
