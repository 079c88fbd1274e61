"""catalog: the popularity orders read `popularity`, a copy of the play count that a pass
refreshes every minute; the play count is in no index

The plays' fold adds to the play counts of tracks and albums every two seconds. The count was
in five indexes (the popularity orders' and the search's exact names'), so every such update
wrote a new entry into each of the row's indexes, the full-text index among them: about
0.1 ms of PostgreSQL's time a row, the largest cost of play ingestion. With the count in no
index, the fold's updates are HOT on PostgreSQL (the new row version on the same page, no
index entry written) and touch no index on SQLite. The indexes now hold `popularity`, which a
pass copies from the count every minute (plays/tasks.py), a row only when it changed.

The tables keep 15 % of each page free on PostgreSQL, so that a row's new version fits beside
it. PostgreSQL applies that to the pages it writes from now on (the copy below rewrites the
rows that have plays); `VACUUM FULL tracks, albums` in a quiet hour applies it to all.
SQLite's update triggers of the catalog's version skip the pass's updates, as they skip the
fold's (catalog/ddl.py).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("tracks", "albums")
_BUMP = (
    "INSERT INTO catalog_version (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = catalog_version.version + 1"
)


def _indexes(column: str) -> dict[str, tuple[str, list[str]]]:
    """The popularity orders' indexes on `column`: name -> (table, columns)."""
    return {
        f"ix_tracks_status_{column}": ("tracks", ["status", column, "published_at", "id"]),
        f"ix_tracks_artist_status_{column}": (
            "tracks",
            ["artist_id", "status", column, "published_at", "id"],
        ),
        f"ix_albums_status_{column}": ("albums", ["status", column, "published_at", "id"]),
    }


def _drop_indexes(column: str) -> None:
    for name, (table, _) in _indexes(column).items():
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP INDEX ix_{table}_search_key")


def _create_indexes(column: str) -> None:
    for name, (table, columns) in _indexes(column).items():
        op.create_index(name, table, columns)
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(
                f"CREATE INDEX ix_{table}_search_key "
                f"ON {table} (search_key, status, {column}, published_at, id)"
            )


def _sqlite_triggers(when: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS catalog_changed_{table}_update")
        op.execute(
            f"CREATE TRIGGER catalog_changed_{table}_update AFTER UPDATE ON {table} "
            f"{when}BEGIN {_BUMP}; END"
        )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        op.add_column(
            table, sa.Column("popularity", sa.Integer(), nullable=False, server_default="0")
        )
        if postgres:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 85)")
    _sqlite_triggers("WHEN OLD.play_count IS NEW.play_count AND OLD.popularity IS NEW.popularity ")
    # Copied between the old indexes and the new: each new one is built once, and no index
    # is kept row by row meanwhile.
    _drop_indexes("play_count")
    for table in TABLES:
        op.execute(f"UPDATE {table} SET popularity = play_count WHERE play_count <> 0")  # noqa: S608
    if postgres:
        # The catalog's version triggers are deferred: run now what the copy queued, since
        # PostgreSQL makes no index on a table with trigger events pending.
        op.execute("SET CONSTRAINTS catalog_changed IMMEDIATE")
        op.execute("SET CONSTRAINTS catalog_changed DEFERRED")
    _create_indexes("popularity")


def downgrade() -> None:
    _drop_indexes("popularity")
    _create_indexes("play_count")
    _sqlite_triggers("WHEN OLD.play_count IS NEW.play_count ")
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgres:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
        op.drop_column(table, "popularity")
