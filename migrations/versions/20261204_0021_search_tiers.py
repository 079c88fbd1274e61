"""search: ranked by tiers; the folded names indexed, the albums' popularity indexed,
`search_query`, and finer statistics of the searched words (PostgreSQL)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from empulse.search import ddl

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A search walks the albums in popularity order, as the tracks already are.
    op.create_index(
        "ix_albums_status_play_count", "albums", ["status", "play_count", "published_at", "id"]
    )
    # SQLite folds the name as it compares, among the few rows its FTS5 table matched.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(ddl.POSTGRES_QUERY_FUNCTION)
    for table in ddl.SEARCHED_TABLES:
        op.execute(f"CREATE INDEX ix_{table}_search_key ON {table} (search_key)")
        # ANALYZE then lists about ten times as many common words, from a larger sample:
        # what a search's estimates are read from (search/frequency.py).
        op.execute(f"ALTER TABLE {table} ALTER COLUMN search_vector SET STATISTICS 1000")


def downgrade() -> None:
    op.drop_index("ix_albums_status_play_count", table_name="albums")
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ddl.SEARCHED_TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN search_vector SET STATISTICS -1")
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_key")
    op.execute("DROP FUNCTION IF EXISTS search_query(text[], text, boolean)")
