"""plays: the ledger refuses a play longer than the longest there can be (24 hours)

The overlap check reads only the plays that end less than the longest play after a new one
ends (models/play.py, `LONGEST_PLAY_MS`). Every report is validated against that bound before
it is written; the check constraint makes it the ledger's own rule, whatever writes it.

On PostgreSQL the constraint is added `NOT VALID` (a moment's lock) and then validated in a
transaction of its own, which reads the ledger without holding plays back. On SQLite the table
is rebuilt, as SQLite adds constraints.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from empulse.models.play import LONGEST_PLAY_MS

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_plays_ms_played_bounded"
CONDITION = f"ms_played BETWEEN 0 AND {LONGEST_PLAY_MS}"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("plays", schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(NAME), CONDITION)
        return
    op.execute(f"ALTER TABLE plays ADD CONSTRAINT {NAME} CHECK ({CONDITION}) NOT VALID")
    with op.get_context().autocommit_block():
        op.execute(f"ALTER TABLE plays VALIDATE CONSTRAINT {NAME}")


def downgrade() -> None:
    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
