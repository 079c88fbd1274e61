"""plays: counted by the job runner, not in the play's transaction

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every play recorded so far is in the counters already.
    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.alter_column("counted", existing_type=sa.Boolean(), server_default=None)
    op.create_index(
        "ix_plays_uncounted",
        "plays",
        ["id"],
        postgresql_where=sa.text("NOT counted"),
        sqlite_where=sa.text("NOT counted"),
    )


def downgrade() -> None:
    # Fold what is left first: the counters must hold every qualified play.
    for table, key in (("tracks", "id"), ("albums", "album_id"), ("artists", "artist_id")):
        op.execute(
            f"UPDATE {table} SET play_count = play_count + ("  # noqa: S608
            f"SELECT count(*) FROM plays JOIN tracks AS t ON t.id = plays.track_id "
            f"WHERE NOT plays.counted AND t.{key} = {table}.id)"
        )
    op.drop_index("ix_plays_uncounted", table_name="plays")
    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.drop_column("counted")
