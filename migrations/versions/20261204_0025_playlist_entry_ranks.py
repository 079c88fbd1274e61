"""playlist_entries: sparse ranks instead of dense positions

An entry's position (0..n-1) becomes its index in rank order, and ranks leave gaps, so adding
or moving entries rewrites only those entries, not every entry after them. Existing entries
keep their order: rank = 2^40 + (position + 1) * 2^20, as playlists/repository.py renumbers.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("playlist_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rank", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE playlist_entries SET rank = 1099511627776 + CAST(position + 1 AS BIGINT) * 1048576"
    )
    with op.batch_alter_table("playlist_entries", schema=None) as batch_op:
        batch_op.alter_column("rank", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_constraint("uq_playlist_entries_position", type_="unique")
        batch_op.drop_column("position")
        batch_op.create_unique_constraint("uq_playlist_entries_rank", ["playlist_id", "rank"])


def downgrade() -> None:
    with op.batch_alter_table("playlist_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE playlist_entries SET position = ordered.number - 1 FROM ("
        " SELECT id, row_number() OVER (PARTITION BY playlist_id ORDER BY rank) AS number"
        " FROM playlist_entries) AS ordered WHERE playlist_entries.id = ordered.id"
    )
    with op.batch_alter_table("playlist_entries", schema=None) as batch_op:
        batch_op.alter_column("position", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint("uq_playlist_entries_rank", type_="unique")
        batch_op.drop_column("rank")
        batch_op.create_unique_constraint(
            "uq_playlist_entries_position", ["playlist_id", "position"]
        )
