"""Counting the SQL statements a piece of a test runs (no N+1, what a cache saves)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event


@contextmanager
def statements_run(app: FastAPI) -> Iterator[list[str]]:
    """The statements the app's engine runs inside the block, as they run."""
    engine = app.state.services.engine.sync_engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
