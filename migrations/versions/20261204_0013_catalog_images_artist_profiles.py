"""albums.images and artists' public profile (bio, links, images)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

An album's cover was a map of size to key; listeners' objects also need each size's width and
height, which only the submission's cover rows held. `images` keeps all of it in one list,
largest first; existing albums get theirs from both. Artists gain the profile they edit
themselves: a bio, links and an image at the same sizes as covers.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    with op.batch_alter_table("albums", schema=None) as batch_op:
        batch_op.add_column(sa.Column("images", sa.JSON(), nullable=True))
    albums = sa.table(
        "albums",
        sa.column("id", sa.Uuid()),
        sa.column("submission_id", sa.Uuid()),
        sa.column("cover_keys", sa.JSON()),
        sa.column("images", sa.JSON()),
    )
    media = sa.table(
        "media_objects",
        sa.column("submission_id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("details", sa.JSON()),
    )
    connection = op.get_bind()
    for album_id, submission_id, cover_keys in connection.execute(
        sa.select(albums.c.id, albums.c.submission_id, albums.c.cover_keys)
    ):
        sizes = {}
        for (details,) in connection.execute(
            sa.select(media.c.details).where(
                media.c.submission_id == submission_id, media.c.role == "cover"
            )
        ):
            details = _loaded(details) or {}
            sizes[str(details.get("size"))] = details
        images = [
            {
                "size": int(size),
                "key": key,
                "width": sizes.get(size, {}).get("width", int(size)),
                "height": sizes.get(size, {}).get("height", int(size)),
            }
            for size, key in sorted(
                (_loaded(cover_keys) or {}).items(), key=lambda item: -int(item[0])
            )
        ]
        connection.execute(albums.update().where(albums.c.id == album_id).values(images=images))
    with op.batch_alter_table("albums", schema=None) as batch_op:
        batch_op.alter_column("images", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("cover_keys")
    with op.batch_alter_table("artists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bio", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("links", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("images", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("artists", schema=None) as batch_op:
        batch_op.alter_column("links", existing_type=sa.JSON(), server_default=None)
        batch_op.alter_column("images", existing_type=sa.JSON(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("artists", schema=None) as batch_op:
        batch_op.drop_column("images")
        batch_op.drop_column("links")
        batch_op.drop_column("bio")
    with op.batch_alter_table("albums", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cover_keys", sa.JSON(), nullable=True))
    albums = sa.table(
        "albums",
        sa.column("id", sa.Uuid()),
        sa.column("cover_keys", sa.JSON()),
        sa.column("images", sa.JSON()),
    )
    connection = op.get_bind()
    for album_id, images in connection.execute(sa.select(albums.c.id, albums.c.images)):
        keys = {str(image["size"]): image["key"] for image in _loaded(images) or []}
        connection.execute(albums.update().where(albums.c.id == album_id).values(cover_keys=keys))
    with op.batch_alter_table("albums", schema=None) as batch_op:
        batch_op.alter_column("cover_keys", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("images")
