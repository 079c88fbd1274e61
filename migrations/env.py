"""Alembic environment: async engines, the URL from EmPulse settings, batch mode for SQLite."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import empulse.models  # noqa: F401  (registers every table on Base.metadata)
from empulse.config import load_settings
from empulse.core.db import Base, create_engine

config = context.config
target_metadata = Base.metadata


def _settings_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return url or load_settings().database_url


def _include_name(name: str | None, type_: str, _: object) -> bool:
    """The search index is the migrations' own (search/ddl.py), outside the models: SQLite's
    FTS5 tables (`fts_*` and their shadow tables), PostgreSQL's search columns, indexes and
    vocabulary."""
    if type_ == "table":
        return not (name or "").startswith("fts_") and name != "search_words"
    if type_ == "column":
        return name not in ("search_vector", "search_key")
    if type_ == "index":
        return not (name or "").endswith(("_search_vector", "_search_key"))
    return True


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=_include_name,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    settings = load_settings(DATABASE_URL=_settings_url())
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch mode rebuilds a table by dropping the old one, and with foreign keys
                # on that drop deletes every row referencing it (ON DELETE CASCADE). SQLite's
                # own procedure for rebuilding a table: keys off (outside a transaction),
                # rebuild, check the keys still hold, commit.
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.run_sync(_run_sync)
            if sqlite:
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"a migration broke foreign keys: {broken[:5]}")
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(
        url=_settings_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_settings_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


existing_connection = config.attributes.get("connection")
if context.is_offline_mode():
    run_offline()
elif existing_connection is not None:
    _run_sync(existing_connection)
else:
    asyncio.run(_run_async())
