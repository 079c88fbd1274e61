"""The base of every request and response body: camelCase on the wire, unknown fields refused;
response bodies can be read straight off an ORM row (`from_attributes`).

Before any field is looked at, a body is walked once (iteratively: a deep body must not exhaust
the interpreter's stack, which would be a 500):
- nesting deeper than `MAX_DEPTH` is refused; no body of this API nests beyond a few levels;
- text never carries U+0000: PostgreSQL cannot store it (SQLite can), so a NUL anywhere would
  otherwise reach the database as an error. Free-text query parameters use `WITHOUT_NUL` as
  their pattern.

A body of typed values only (`TypedBody`: no text, no free-form JSON) needs neither check, and
is not walked.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from datetime import date, datetime
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ModelWrapValidatorHandler,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from empulse.core.emails import InvalidEmailError, typed_address

WITHOUT_NUL = r"^[^\x00]*$"
MAX_DEPTH = 32
# C0 and C1 controls (line breaks and tabs among them) and the Unicode line and paragraph
# separators.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): in a name
# they reorder what follows them wherever the name is shown (an admin list, an email's subject),
# so "Trojan Source"-style text can make one name read as another (CVE-2021-42574). The
# implicit marks (U+200E, U+200F, U+061C) are kept: right-to-left names need them, and they
# reorder nothing around the name.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _one_line(value: str) -> str:
    if _NOT_ONE_LINE.search(value):
        raise ValueError("must be a single line of text, without control characters")
    if _BIDI_CONTROLS.search(value):
        raise ValueError("must not contain bidirectional override or isolate characters")
    return value


# Names, titles, tags, address lines: text shown on one line, and some of it in an email's
# subject, where a line break would make the message unsendable.
SingleLine = Annotated[str, AfterValidator(_one_line)]
# The same check, for text that is also stripped and measured:
# `Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), ONE_LINE]`. (Put on
# `SingleLine` instead, the constraints measure the text before it is stripped, so "   "
# passes a minimum length of 1 and is stored empty.)
ONE_LINE = AfterValidator(_one_line)


def _address(value: str) -> str:
    try:
        return typed_address(value)
    except InvalidEmailError as exc:
        raise ValueError(str(exc)) from exc


# An address this API stores or sends to: validated, kept as typed (core/emails).
EmailAddress = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_address)]


JsonDict = dict[str, JsonValue]


def with_examples(*bodies: JsonDict) -> ConfigDict:
    """A model's config that shows these bodies, as they are on the wire (camelCase), in the
    API docs; the rest of the config is inherited from `Schema`."""
    return ConfigDict(json_schema_extra={"examples": list(bodies)})


class _Base(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", from_attributes=True
    )


# Set while a body's fields are validated, once the whole body has been walked: the models
# nested in it (the 50 plays of a batch) are not walked again, each its own part.
_WALKED: ContextVar[bool] = ContextVar("empulse_body_walked", default=False)


class Schema(_Base):
    """A request body (or any model read from a client): decoded JSON is checked for depth and
    U+0000 before the fields are, once for the whole body."""

    @model_validator(mode="wrap")
    @classmethod
    def _refuse_deep_or_nul(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if _WALKED.get():
            return handler(data)
        _check_decoded(data)
        walked = _WALKED.set(True)
        try:
            return handler(data)
        finally:
            _WALKED.reset(walked)


class TypedBody(_Base):
    """A request body of typed values only: ids, times, numbers, booleans, fixed choices, and
    models of the same kind (a batch of plays). No value of one can carry U+0000 (none is free
    text), and none can nest deeper than the model's own shape (a deeper value fails its
    field's type before it is looked into), so unlike `Schema` it is not walked first (for a
    batch of 50 plays, the walk and the validator that runs it on each play cost as much CPU as
    validating the plays). It can also be read
    straight from the request's bytes by pydantic's JSON parser (web/json_body.py), whose own
    depth limit refuses a deeper document. The fields are checked as the class is made: a
    field that could hold free text or free-form JSON is a `TypeError` at import."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, field in cls.model_fields.items():
            if not _typed(field.annotation):
                raise TypeError(
                    f"{cls.__name__}.{name}: a TypedBody holds typed values only, not "
                    f"{field.annotation!r} (use Schema for a body with text)"
                )


_TYPED_LEAVES = (uuid.UUID, datetime, date, bool, int, float, type(None), Enum)


def _typed(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _typed(get_args(annotation)[0])
    if origin is Literal:
        return all(type(choice) in (str, int, bool) for choice in get_args(annotation))
    if origin in (list, tuple, Union, UnionType):
        return all(_typed(arg) for arg in get_args(annotation) if arg is not Ellipsis)
    return isinstance(annotation, type) and (
        issubclass(annotation, TypedBody) or issubclass(annotation, _TYPED_LEAVES)
    )


class OutSchema(_Base):
    """A response body built from the service's own rows, never from a request: no input
    check, not even a validator that returns its input (a Python call per nested model: a
    sixth of the time spent shaping a page of tracks)."""


def _check_decoded(data: Any) -> None:
    """Refuse a decoded JSON value nested deeper than `MAX_DEPTH` or holding U+0000 in any
    string or key. ORM rows (response bodies) are not walked: nothing of theirs can be. The
    walk keeps no paths; a body it finds at fault is walked again by `_locate`, which names
    where. A container's strings and numbers are checked where they stand, and only its
    containers wait their turn (a batch of 50 plays holds 300 values, and 50 containers)."""
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            for key in value:
                if type(key) is str and "\x00" in key:
                    _locate(data)
            items: Any = value.values()
        elif isinstance(value, list):
            items = value
        else:
            if isinstance(value, str) and "\x00" in value:
                _locate(data)
            continue
        if depth >= MAX_DEPTH:
            _locate(data)
        for item in items:
            kind = type(item)
            if kind is str:
                if "\x00" in item:
                    _locate(data)
            elif kind is not int and kind is not float and kind is not bool and item is not None:
                pending.append((item, depth + 1))  # a container, or a subclass of str


def _locate(data: Any) -> None:
    """Raise the error for the first fault of `_check_decoded`'s, with its path."""
    pending: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                _refuse_nul(path)
            continue
        if not isinstance(value, dict | list):
            continue
        if len(path) >= MAX_DEPTH:
            raise PydanticCustomError(
                "too_deep", "Nested deeper than {limit} levels.", {"limit": MAX_DEPTH}
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    _refuse_nul((*path, "(a key)"))
                pending.append((item, (*path, str(key))))
        else:
            pending.extend((item, (*path, str(index))) for index, item in enumerate(value))


def _refuse_nul(path: tuple[str, ...]) -> None:
    raise PydanticCustomError(
        "nul_character",
        "Text may not contain the NUL character (at {where}).",
        {"where": ".".join(path) or "the top level"},
    )
