"""The one list query: filters (the caller's `where`), an order with a keyset cursor, a limit,
and the page object, `?limit=&cursor=` -> `{"items": [...], "nextCursor": ...}`.

An `Order` is sort columns ending in a unique column (the id), each ascending or descending.
The cursor carries the order's name and the sort values of the last row shown, so a page is one
index range scan however deep it is, rows added meanwhile do not shift pages, and a cursor
made for another order (or forged) is a 400, never a 500. Sort columns must not be NULL.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import Field
from sqlalchemy import ColumnElement, Integer, Row, Select, and_, literal, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from empulse.core.errors import BadRequest
from empulse.core.schemas import Schema


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    title = "Invalid cursor"


T = TypeVar("T")
# A result row of any columns (an aggregate's).
AnyRow = Row[*tuple[Any, ...]]
M = TypeVar("M")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


Limit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=1000, description="From the previous page.")]


@dataclass(frozen=True, slots=True)
class SortKey:
    column: InstrumentedAttribute[Any]
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Order:
    """How a list is sorted; `name` tells its cursors apart from another order's."""

    name: str
    keys: tuple[SortKey, ...]

    @classmethod
    def newest_first(
        cls, created: InstrumentedAttribute[datetime], row_id: InstrumentedAttribute[uuid.UUID]
    ) -> Order:
        """Newest first, by creation time then id; named after the table, so that a cursor of
        one list is refused by another."""
        name = f"{created.class_.__tablename__}:newest"
        return cls(name, (SortKey(created, descending=True), SortKey(row_id, descending=True)))

    def clauses(self) -> list[ColumnElement[Any]]:
        return [key.column.desc() if key.descending else key.column.asc() for key in self.keys]

    def after(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows that come after one with these sort values. When every key sorts the same way,
        a row-value comparison, `(a, b) > (x, y)`, which an index on the keys answers with one
        range scan however deep the page (the expanded form below made PostgreSQL filter
        every row before it: 1.6 s for a page 500,000 tracks deep); otherwise
        (a > x) or (a = x and b > y) ..., each comparison in its column's direction."""
        directions = {key.descending for key in self.keys}
        if len(directions) == 1:
            columns = tuple_(*(key.column for key in self.keys))
            # Bound as their columns' types (a time as its column stores it on SQLite).
            bounds = tuple_(
                *(literal(v, key.column.type) for v, key in zip(values, self.keys, strict=True))
            )
            return columns < bounds if directions == {True} else columns > bounds
        alternatives = []
        for index, key in enumerate(self.keys):
            same = [self.keys[j].column == values[j] for j in range(index)]
            beyond = key.column < values[index] if key.descending else key.column > values[index]
            alternatives.append(and_(*same, beyond))
        return or_(*alternatives)

    def encode(self, row: Any) -> str:
        values = [_plain(getattr(row, key.column.key)) for key in self.keys]
        raw = orjson.dumps([self.name, *values])
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, cursor: str) -> list[Any]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            name, *values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
            if name != self.name or len(values) != len(self.keys):
                raise ValueError("a cursor of another list or order")
            return [_typed(key, value) for key, value in zip(self.keys, values, strict=True)]
        except (ValueError, TypeError, NotImplementedError, orjson.JSONDecodeError) as exc:
            raise InvalidCursor("The cursor is not one this API issued for this list.") from exc


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _typed(key: SortKey, value: Any) -> Any:
    """A cursor's value as its column's Python type; ValueError or TypeError when it is not."""
    column_type = key.column.type
    # A TypeDecorator (UTCDateTime) reports `object`; the type it decorates knows better.
    kind = getattr(column_type, "impl", column_type).python_type
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            # Issued cursors carry UTC; a naive time cannot be compared with stored ones.
            raise ValueError("a cursor's time has a zone")
        return moment
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}")
    return value


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Rows(Generic[M]):
    """One page of rows, before they are shaped into the response's items."""

    items: list[M]
    next_cursor: str | None

    def shaped(self, shape: Callable[[M], T]) -> Page[T]:
        return Page[T](items=[shape(row) for row in self.items], next_cursor=self.next_cursor)


async def fetch_page(
    session: AsyncSession, statement: Select[M], order: Order, page: PageRequest
) -> Rows[M]:
    """The page of `statement`'s rows (ORM entities carrying the order's columns) after the
    cursor, in `order`; one row more is read to tell whether a next page exists."""
    result = await session.execute(_paged(statement, order, page))
    return _page_of(list(result.scalars()), order, page)


async def fetch_row_page(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    order: Order,
    page: PageRequest,
) -> Rows[AnyRow]:
    """As `fetch_page`, for a statement of columns (an aggregate, say): result rows, each
    with the order's columns under their own names."""
    result = await session.execute(_paged(statement, order, page))
    return _page_of(list(result.all()), order, page)


def _paged(statement: Select[Any], order: Order, page: PageRequest) -> Select[Any]:
    if page.cursor is not None:
        statement = statement.where(order.after(order.decode(page.cursor)))
    # The limit written into the statement, not bound: PostgreSQL then plans for it in the
    # prepared statement's generic plan (a page's first rows down an index), which it keeps.
    # Bound, the generic plan had to serve any limit (a sort of every match), so every page
    # was planned again for its values, in more time than it took to read (1.6-3.6 ms).
    limit = literal(page.limit + 1, Integer(), literal_execute=True)
    return statement.order_by(*order.clauses()).limit(limit)


def _page_of(rows: list[Any], order: Order, page: PageRequest) -> Rows[Any]:
    shown = rows[: page.limit]
    next_cursor = order.encode(shown[-1]) if len(rows) > page.limit else None
    return Rows(shown, next_cursor)
