"""track take-down

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken_down_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("takedown_reason", sa.String(length=2000), nullable=True))
        batch_op.create_index(
            "ix_tracks_status_created_at", ["status", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.drop_index("ix_tracks_status_created_at")
        batch_op.drop_column("takedown_reason")
        batch_op.drop_column("taken_down_at")
