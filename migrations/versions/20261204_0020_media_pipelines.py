"""media pipelines

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_pipelines",
        sa.Column("media_object_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("loudness", sa.JSON(), nullable=True),
        sa.Column("quality", sa.JSON(), nullable=True),
        sa.Column("waveform", sa.JSON(), nullable=True),
        sa.Column("renditions", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_object_id"],
            ["media_objects.id"],
            name=op.f("fk_media_pipelines_media_object_id_media_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_object_id", name=op.f("pk_media_pipelines")),
    )
    with op.batch_alter_table("media_objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_media_objects_source_id"), ["source_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_media_objects_source_id_media_objects"),
            "media_objects",
            ["source_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # Renditions go with the pipeline that made them (their objects stay in storage, under
    # private/renditions/, until removed by hand); running the pipeline again makes them anew.
    op.execute("DELETE FROM media_objects WHERE role = 'rendition'")
    with op.batch_alter_table("media_objects", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_media_objects_source_id_media_objects"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_media_objects_source_id"))
        batch_op.drop_column("source_id")

    op.drop_table("media_pipelines")
