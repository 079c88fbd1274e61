from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from empulse.catalog.schemas import ImageOut, LinkOut
from empulse.core.schemas import ONE_LINE, Schema, with_examples

MAX_LINKS = 5
# Multi-line text, but no control characters besides line breaks and tabs, no NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _web_address(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    return value


def _text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=8, max_length=500),
    ONE_LINE,
    AfterValidator(_web_address),
]


class LinkIn(Schema):
    url: Url
    label: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=60), ONE_LINE] | None
    ) = None


class ProfileIn(Schema):
    """Only the fields sent change; `bio: null` clears the bio."""

    model_config = with_examples(
        {
            "bio": "Three friends from Leeds. Night drives, mostly.",
            "links": [{"url": "https://lanterns.example.com", "label": "Website"}],
        },
        {"name": "The Lanterns"},
    )

    name: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), ONE_LINE
        ]
        | None
    ) = None
    bio: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_text)] | None = None
    links: list[LinkIn] | None = Field(default=None, max_length=MAX_LINKS)


class ProfileOut(Schema):
    """As listeners see it in the catalog (`GET /artists/{id}`) once a release is published."""

    id: str
    name: str
    bio: str | None
    links: list[LinkOut]
    images: list[ImageOut] = Field(description="Largest first; empty until one is uploaded.")
