"""users.email_key: accounts compared by a key, the address kept as typed

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Until now `users.email` held the case-folded NFKC form, which is also where mail went: for
`straße@` that is `strasse@`, someone else's mailbox. The key moves to its own unique column;
`email` keeps the address to send to. Existing rows only have the folded form, so both columns
start with it (their owners typed an address whose key it is, and the key is what sign-in
compares); a change of address stores the typed form from then on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_key", sa.String(length=320), nullable=True))
    op.execute("UPDATE users SET email_key = email")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("email_key", existing_type=sa.String(length=320), nullable=False)
        batch_op.create_unique_constraint("uq_users_email_key", ["email_key"])
        batch_op.drop_constraint("uq_users_email", type_="unique")


def downgrade() -> None:
    # Back to one column holding the key: the typed address is lost.
    op.execute("UPDATE users SET email = email_key")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_users_email", ["email"])
        batch_op.drop_constraint("uq_users_email_key", type_="unique")
        batch_op.drop_column("email_key")
