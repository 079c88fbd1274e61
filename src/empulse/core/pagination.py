"""Cursor (keyset) pagination: `?limit=&cursor=` -> `{"items": [...], "nextCursor": ...}`.

Lists are ordered newest first by `(created_at, id)`; the cursor names the last row seen, so a
page is one index range scan however deep it is, and rows added meanwhile do not shift pages.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import Field
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from empulse.core.errors import BadRequest
from empulse.core.schemas import Schema


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    title = "Invalid cursor"


T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", bound=Select[Any])


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


Limit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=200, description="From the previous page.")]


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = orjson.dumps([created_at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        created_at = datetime.fromisoformat(created)
        if created_at.tzinfo is None:
            # Issued cursors carry UTC; a naive time cannot be compared with stored ones.
            raise ValueError("a cursor's time has a zone")
        return created_at, uuid.UUID(row_id)
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc


def paginate(
    statement: S,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    *,
    cursor: str | None,
    limit: int,
) -> S:
    """Newest first, after the cursor; one row more than asked, to tell if a next page exists."""
    if cursor is not None:
        after_created, after_id = decode_cursor(cursor)
        statement = statement.where(
            or_(created_at < after_created, and_(created_at == after_created, row_id < after_id))
        )
    return statement.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)


def page_of(
    rows: list[R],
    limit: int,
    shape: Callable[[R], T],
    key: Callable[[R], tuple[datetime, uuid.UUID]],
) -> Page[T]:
    """Shape the first `limit` rows; the cursor points after the last one shown."""
    shown = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        created, row_id = key(shown[-1])
        next_cursor = encode_cursor(created, row_id)
    return Page[T](items=[shape(row) for row in shown], next_cursor=next_cursor)
