"""plays: new rows of the ledger get time-ordered keys (UUID version 7)

`record_plays` made each new row's key with `gen_random_uuid()`: every insert went to a random
page of the ledger's primary key (and of its tallies'), a page that, the first time it changed
after a checkpoint, was written whole to the WAL. Its keys are now UUIDs of version 7
(plays/ddl.py, `NEW_PLAY_ID`; the application's path makes the same, core/db.py): new keys
land at the right-hand end of the index. Rows already written keep their keys; a key is only
ever compared for equality and as the last tie-breaker of the history's order.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from empulse.plays import ddl

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ddl.RECORD_PLAYS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ddl.RECORD_PLAYS.replace(ddl.NEW_PLAY_ID, "gen_random_uuid()"))
