"""plays: `record_plays` takes the plays of many listeners in one call (PostgreSQL)

The service now sends the plays reported while its previous call was in flight together, of
whichever listeners (plays/service.py): `record_plays(listeners uuid[], ...)` names each
play's listener, locks the listeners' rows in the order of their ids and decides each
listener's plays as the one-listener function did (plays/ddl.py).

The one-listener function, `record_plays(listener uuid, ...)`, is left in place: the processes
of the release before this one call it until they are replaced.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from empulse.plays import ddl

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ddl.RECORD_PLAYS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ddl.DROP_RECORD_PLAYS)
