"""liked_tracks, liked_albums, liked_artists: a listener's library

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (("liked_tracks", "track_id", "tracks"), ("liked_albums", "album_id", "albums"),
         ("liked_artists", "artist_id", "artists"))  # fmt: skip


def upgrade() -> None:
    for table, column, target in KINDS:
        op.create_table(
            table,
            sa.Column("user_id", sa.Uuid(), nullable=False),
            sa.Column(column, sa.Uuid(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(
                [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("user_id", column, name=op.f(f"pk_{table}")),
        )  # fmt: skip
        op.create_index(
            f"ix_{table}_user_created", table, ["user_id", "created_at", column], unique=False
        )


def downgrade() -> None:
    for table, _, _ in reversed(KINDS):
        op.drop_index(f"ix_{table}_user_created", table_name=table)
        op.drop_table(table)
