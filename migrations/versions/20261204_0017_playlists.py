"""playlists: playlists, entries, collaborators, invites, follows

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "playlists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("collaborative", sa.Boolean(), nullable=False),
        sa.Column("snapshot_id", sa.String(length=32), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("follower_count", sa.Integer(), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_playlists_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlists")),
    )
    with op.batch_alter_table("playlists", schema=None) as batch_op:
        batch_op.create_index(
            "ix_playlists_owner_created", ["owner_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "liked_playlists",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("playlist_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_liked_playlists_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_liked_playlists_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "playlist_id", name=op.f("pk_liked_playlists")),
    )
    with op.batch_alter_table("liked_playlists", schema=None) as batch_op:
        batch_op.create_index("ix_liked_playlists_playlist_id", ["playlist_id"], unique=False)
        batch_op.create_index(
            "ix_liked_playlists_user_created",
            ["user_id", "created_at", "playlist_id"],
            unique=False,
        )

    op.create_table(
        "playlist_collaborators",
        sa.Column("playlist_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_playlist_collaborators_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_playlist_collaborators_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("playlist_id", "user_id", name=op.f("pk_playlist_collaborators")),
    )
    with op.batch_alter_table("playlist_collaborators", schema=None) as batch_op:
        batch_op.create_index("ix_playlist_collaborators_user_id", ["user_id"], unique=False)

    op.create_table(
        "playlist_invites",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("playlist_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_by"],
            ["users.id"],
            name=op.f("fk_playlist_invites_accepted_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_playlist_invites_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_playlist_invites_token_hash")),
    )
    with op.batch_alter_table("playlist_invites", schema=None) as batch_op:
        batch_op.create_index("ix_playlist_invites_playlist_id", ["playlist_id"], unique=False)

    op.create_table(
        "playlist_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("playlist_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Uuid(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"],
            ["users.id"],
            name=op.f("fk_playlist_entries_added_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_playlist_entries_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_playlist_entries_track_id_tracks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist_entries")),
        sa.UniqueConstraint("playlist_id", "position", name="uq_playlist_entries_position"),
    )
    with op.batch_alter_table("playlist_entries", schema=None) as batch_op:
        batch_op.create_index("ix_playlist_entries_added_by", ["added_by"], unique=False)
        batch_op.create_index("ix_playlist_entries_track_id", ["track_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("playlist_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_playlist_entries_track_id")
        batch_op.drop_index("ix_playlist_entries_added_by")

    op.drop_table("playlist_entries")
    with op.batch_alter_table("playlist_invites", schema=None) as batch_op:
        batch_op.drop_index("ix_playlist_invites_playlist_id")

    op.drop_table("playlist_invites")
    with op.batch_alter_table("playlist_collaborators", schema=None) as batch_op:
        batch_op.drop_index("ix_playlist_collaborators_user_id")

    op.drop_table("playlist_collaborators")
    with op.batch_alter_table("liked_playlists", schema=None) as batch_op:
        batch_op.drop_index("ix_liked_playlists_user_created")
        batch_op.drop_index("ix_liked_playlists_playlist_id")

    op.drop_table("liked_playlists")
    with op.batch_alter_table("playlists", schema=None) as batch_op:
        batch_op.drop_index("ix_playlists_owner_created")

    op.drop_table("playlists")
