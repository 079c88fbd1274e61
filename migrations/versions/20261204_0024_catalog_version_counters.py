"""catalog_version: the play counters no longer move it (kept pages expire after 15 s instead)

On PostgreSQL the plays' fold marks its transaction (catalog/ddl.POSTGRES_COUNTERS_ONLY) and the
triggers are unchanged. On SQLite the update triggers of tracks, albums and artists skip an
update that changes the counter.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("tracks", "albums", "artists")
_BUMP = (
    "INSERT INTO catalog_version (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = catalog_version.version + 1"
)


def _replace(when: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS catalog_changed_{table}_update")
        op.execute(
            f"CREATE TRIGGER catalog_changed_{table}_update AFTER UPDATE ON {table} "
            f"{when}BEGIN {_BUMP}; END"
        )


def upgrade() -> None:
    _replace("WHEN OLD.play_count IS NEW.play_count ")


def downgrade() -> None:
    _replace("")
