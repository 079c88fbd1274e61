"""search: full-text indexes kept by triggers (PostgreSQL tsvector + trigrams; SQLite FTS5)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

from empulse.search import ddl

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgres_extensions() -> None:
    for extension in ddl.POSTGRES_EXTENSIONS:
        try:
            op.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
        except DBAPIError as exc:
            raise RuntimeError(
                f"Search needs the PostgreSQL extension {extension!r}, which this database "
                f"user may not create. Ask an administrator to run `CREATE EXTENSION "
                f"{extension};` in this database (it ships with PostgreSQL), then migrate "
                f"again. ({exc.orig})"
            ) from exc


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_extensions()
        for table in ddl.SEARCHED_TABLES:
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_vector tsvector, ADD COLUMN search_key text"
            )
        for statement in (*ddl.POSTGRES_TABLES, *ddl.POSTGRES_FUNCTIONS, *ddl.POSTGRES_TRIGGERS):
            op.execute(statement)
        # Fill the new columns: an update of the texts fires the triggers.
        op.execute("UPDATE artists SET name = name")
        op.execute("UPDATE albums SET title = title")
        op.execute("UPDATE tracks SET title = title")
        op.execute("UPDATE playlists SET name = name")
        for table in ddl.SEARCHED_TABLES:
            op.execute(
                f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)"
            )
        return
    for statement in (*ddl.SQLITE_TABLES, *ddl.SQLITE_TRIGGERS, *ddl.SQLITE_BACKFILL):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ddl.SEARCHED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search ON {table}")
            op.execute(f"ALTER TABLE {table} DROP COLUMN search_vector, DROP COLUMN search_key")
        op.execute("DROP TRIGGER IF EXISTS artists_search_renamed ON artists")
        op.execute("DROP TRIGGER IF EXISTS albums_search_renamed ON albums")
        for function in (
            "albums_search_renamed()", "artists_search_renamed()", "playlists_search()",
            "artists_search()", "albums_search()", "tracks_search()",
            "search_remember(tsvector)", "search_vector(text, text, text)",
            "search_key(text)", "search_document(text)", "search_unaccent(text)",
        ):  # fmt: skip
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        op.execute("DROP TABLE IF EXISTS search_words")
        return
    for statement in ddl.SQLITE_DROP_TRIGGERS:
        op.execute(statement)
    for table in ddl.SEARCHED_TABLES:
        op.execute(f"DROP TABLE IF EXISTS fts_{table}")
