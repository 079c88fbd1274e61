"""jobs: one schedule for the whole cluster's periodic upkeep

Each job runner (every API process, every `empulse worker`) made the hourly clean-up and the
popularity pass itself, on its own clock: with N runners, N passes a minute, each reading the
whole of `tracks` and `albums`, the second and later ones to find nothing to write. A row per
kind of upkeep now holds when it is next due; the runner whose claim moves it on makes the run
(infra/jobs.py).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_schedules")),
    )


def downgrade() -> None:
    op.drop_table("schedules")
