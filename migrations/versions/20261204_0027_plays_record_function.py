"""plays: `record_plays`, a listener's plays decided and recorded in one statement
(PostgreSQL); the overlap check by the plays' ends; tallies for the fold instead of `counted`

A play was BEGIN, the listener's lock, a read of the earlier `playId` and the overlapping
plays, a read of the track, the INSERT and COMMIT: six round trips, and most of the server's
CPU a play went on them. `record_plays` (plays/ddl.py) takes the same steps inside PostgreSQL,
called as one statement in its own transaction. SQLite keeps the steps in the application.

A play's overlap check read every play of the listener that started in the 24 hours before it
(the longest play there can be), to find none in the usual case: 1.2 ms for a listener who
plays all day. It now reads the plays that end after the new one starts, from a new index on
(user, end, start): for a play reported as it happens, none or one.

The fold marked each qualified play `counted`, writing every ledger row a second time (a new
version in each of its indexes). A qualified play now writes a tally beside it
(`play_tallies`), which the fold deletes as it counts it; the plays waiting are moved there,
and `counted` and its partial index go.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from empulse.plays import ddl

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INDEX = ("ix_plays_user_ended", "plays", ["user_id", "ended_at", "started_at"])


def upgrade() -> None:
    op.create_table(
        "play_tallies",
        sa.Column("play_id", sa.Uuid(), nullable=False),
        sa.Column("track_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("play_id", name=op.f("pk_play_tallies")),
    )
    op.execute(
        "INSERT INTO play_tallies (play_id, track_id) "
        "SELECT id, track_id FROM plays WHERE qualified AND NOT counted"
    )
    op.drop_index("ix_plays_uncounted", table_name="plays")
    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.drop_column("counted")
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(*INDEX)
        return
    # Built without holding the ledger against writes (plays keep arriving meanwhile); outside
    # the migration's transaction, as PostgreSQL requires for that.
    with op.get_context().autocommit_block():
        op.create_index(*INDEX, postgresql_concurrently=True)
    op.execute(ddl.RECORD_PLAYS_ONE_LISTENER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ddl.DROP_RECORD_PLAYS_ONE_LISTENER)
    op.drop_index("ix_plays_user_ended", table_name="plays")
    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("plays", schema=None) as batch_op:
        batch_op.alter_column("counted", existing_type=sa.Boolean(), server_default=None)
    op.execute("UPDATE plays SET counted = false WHERE id IN (SELECT play_id FROM play_tallies)")
    op.create_index(
        "ix_plays_uncounted",
        "plays",
        ["id"],
        postgresql_where=sa.text("NOT counted"),
        sqlite_where=sa.text("NOT counted"),
    )
    op.drop_table("play_tallies")
