"""Run and inspect Alembic migrations from code (the CLI and the start-up check), and check the
database's own upkeep at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from empulse.config import Settings
from empulse.core.logging import get_logger

log = get_logger("empulse.migrations")


def _migrations_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_migrations_dir()))
    config.attributes["database_url"] = settings.database_url
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Apply pending migrations. Blocking: call from a thread when a loop is running."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), "head")


def head_revisions(settings: Settings) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())


def _current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def pending(settings: Settings, engine: AsyncEngine) -> bool:
    """True when the database is not at the newest revision."""
    return await current_revisions(engine) != head_revisions(settings)


async def autovacuum_off(engine: AsyncEngine) -> bool:
    """Whether the database is PostgreSQL running without autovacuum. The fold deletes every
    tally it counts, the ledger grows by every play, and the popularity pass rewrites rows:
    without autovacuum their dead rows pile up and the planner keeps the statistics of tables
    that have since grown (a batch of plays was measured 100 times slower on them)."""
    if engine.dialect.name != "postgresql":
        return False
    async with engine.connect() as connection:
        return bool(await connection.scalar(text("SHOW autovacuum")) == "off")


async def warn_if_unmaintained(engine: AsyncEngine) -> None:
    """Log `autovacuum_off` at start-up (of a server process or a worker) when it is."""
    if await autovacuum_off(engine):
        log.warning(
            "autovacuum_off",
            detail="PostgreSQL runs without autovacuum: plays slow down as dead rows and "
            "outdated statistics pile up; turn it on (docs/operations.md)",
        )
