"""plays: the plays ledger; play counters on tracks, albums and artists

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plays",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("play_id", sa.Uuid(), nullable=False),
        sa.Column("track_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ms_played", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.String(length=16), nullable=True),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("qualified", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_plays_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_plays_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plays")),
        sa.UniqueConstraint("user_id", "play_id", name="uq_plays_user_id_play_id"),
    )
    op.create_index("ix_plays_user_started", "plays", ["user_id", "started_at", "id"])
    op.create_index("ix_plays_track_id", "plays", ["track_id"])
    for table in ("tracks", "albums", "artists"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("play_count", sa.Integer(), nullable=False, server_default="0")
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("play_count", existing_type=sa.Integer(), server_default=None)
    op.create_index(
        "ix_tracks_status_play_count", "tracks", ["status", "play_count", "published_at", "id"]
    )
    op.create_index(
        "ix_tracks_artist_status_play_count",
        "tracks",
        ["artist_id", "status", "play_count", "published_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_tracks_artist_status_play_count", table_name="tracks")
    op.drop_index("ix_tracks_status_play_count", table_name="tracks")
    for table in ("artists", "albums", "tracks"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("play_count")
    op.drop_index("ix_plays_track_id", table_name="plays")
    op.drop_index("ix_plays_user_started", table_name="plays")
    op.drop_table("plays")
